"""ADACUR (Yadav et al., 2024, "Adaptive Retrieval and Scalable Indexing for k-NN Search with Cross-Encoders"):
the test query's anchor items are chosen over several rounds instead of being fixed in advance.

Round 1 scores items picked without the query (the index's random anchor order); after each round the query's
latent vector is re-solved from every exact score so far, w = c_S · pinv(R_anc[:, S]), and the next round scores
the unscored items with the highest approximate score ŝ = w · R_anc. All B calls go to anchor items, and the
answer is the top-k of the B exactly scored items.
"""

from __future__ import annotations

import numpy as np

from .cur import RCOND, top_unscored
from .scorers import CallCounter


def round_sizes(budget: int, rounds: int) -> list[int]:
    """Split the budget over `rounds` rounds as evenly as possible (earlier rounds take the remainder)."""
    rounds = max(1, min(rounds, budget))
    return [len(a) for a in np.array_split(np.arange(budget), rounds)]


def adacur(r_anc: np.ndarray, first: np.ndarray, counter: CallCounter, budget: int, rounds: int,
           rcond: float = RCOND) -> None:
    """Spend exactly `budget` calls of `counter`: `first` items in round 1, then rounds chosen by the re-solved ŝ."""
    sizes = round_sizes(min(budget, r_anc.shape[1]), rounds)
    scored = np.asarray(first[: sizes[0]], dtype=np.int64)
    values = counter.score(scored)
    for size in sizes[1:]:
        w = values @ np.linalg.pinv(r_anc[:, scored], rcond=rcond)  # k_q-dim query vector in the anchor-query space
        nxt = top_unscored(w @ r_anc, scored, size)
        if len(nxt) == 0:
            break
        values = np.concatenate([values, counter.score(nxt)])
        scored = np.concatenate([scored, nxt])
