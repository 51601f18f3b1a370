"""Negative kinds and which losses take them.

* `in-batch`    the other rows' positives (popular items appear more often: the bias the logQ correction removes).
* `random`      `num_random` items drawn uniformly from the catalogue once per batch, shared by its rows (easy).
* `impressions` items shown in the same request (same user, timestamp and query) but not clicked — the log's rows
                with label 0, i.e. "retrieved but not clicked" (hard).
"""

from __future__ import annotations

from ..errors import UserError

KINDS = ("in-batch", "random", "impressions")
DEFAULTS = {"softmax": ("in-batch",), "sampled-softmax": ("random",), "pairwise": ("in-batch",)}


def parse_negatives(text: str | None, loss: str) -> tuple[str, ...]:
    """'in-batch,random' → ('in-batch', 'random'); None → the loss's default; unknown kinds are refused."""
    if text is None:
        if loss not in DEFAULTS:
            raise UserError(f"--loss {loss}: choose one of {', '.join(DEFAULTS)}")
        return DEFAULTS[loss]
    kinds = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if loss not in DEFAULTS:
        raise UserError(f"--loss {loss}: choose one of {', '.join(DEFAULTS)}")
    if unknown or not kinds:
        raise UserError(f"--negatives {text}: unknown kind {', '.join(unknown) or '(none)'}; use a comma list of {', '.join(KINDS)}")
    return kinds


def check_negatives(kinds: tuple[str, ...], logq: bool, num_random: int, has_impressions: bool) -> None:
    """Refuse combinations that cannot train what was asked."""
    if "random" in kinds and num_random < 1:
        raise UserError(f"--num-random {num_random}: random negatives need at least 1 per batch")
    if "impressions" in kinds and not has_impressions:
        raise UserError("--negatives impressions: the training split has no impressions (rows with label 0, shown but "
                        "not clicked); name the label column with --label-col, or drop 'impressions'")
    if logq and "in-batch" not in kinds:
        raise UserError("--logq-correction corrects the popularity bias of in-batch negatives; add in-batch to --negatives")
