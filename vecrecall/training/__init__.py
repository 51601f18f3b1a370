"""Finetuning the bi-encoder: training pairs, negatives, losses, query mixing, synthetic queries and the trainer."""

import os

# Idle OpenMP threads sleep instead of spinning. libgomp reads this once, when torch loads, so it is set here, before
# any training module imports torch; trainer.configure_torch gives the measurement behind it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
