"""Finetuning the bi-encoder: training pairs, negatives, losses, query mixing, synthetic queries and the trainer."""
