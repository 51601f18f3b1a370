"""vecrecall: build, sweep and evaluate vector retrieval from the shell."""

__version__ = "0.1.0"
