"""Index backends behind one interface (see base.py); the registry maps backend names to classes."""
