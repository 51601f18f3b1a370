"""The Pareto front of (recall, speed): a setting is on it when no other setting is at least as accurate and at
least as fast, and strictly better in one of the two."""

from __future__ import annotations

from typing import Any

import numpy as np


def pareto_mask(recall: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Boolean mask of non-dominated rows; higher recall and higher speed are better (pass −latency for latency).

    Rows with NaN in either value are never on the front. Exact duplicates are all kept.
    """
    r = np.asarray(recall, dtype=float)
    s = np.asarray(speed, dtype=float)
    ok = ~(np.isnan(r) | np.isnan(s))
    mask = np.zeros(len(r), dtype=bool)
    idx = np.flatnonzero(ok)
    # Sweep by speed descending (ties: recall descending); a row is kept if its recall beats every faster row's.
    order = idx[np.lexsort((-r[idx], -s[idx]))]
    best_r, best_s = -np.inf, np.inf
    for i in order:
        if r[i] > best_r:
            mask[i] = True
            best_r, best_s = r[i], s[i]
        elif r[i] == best_r and s[i] == best_s:
            mask[i] = True  # an exact duplicate of a front point
    return mask


SPEED_AXES = {"qps": "single-thread QPS", "batch": "batch QPS", "p50": "p50 latency"}


def speed_of(table: Any, by: str) -> np.ndarray:
    """The 'faster is higher' value the front uses: `qps` (single-thread QPS = 1 / mean latency, ann-benchmarks'
    axis), `batch` (batch QPS with all threads) or `p50` (−p50 latency)."""
    if by == "qps":
        return np.asarray(table["qps"], dtype=float)
    if by == "batch":
        return np.asarray(table["batch_qps"], dtype=float)
    if by == "p50":
        return -np.asarray(table["p50_ms"], dtype=float)
    raise ValueError(f"unknown speed axis {by!r}; one of {', '.join(SPEED_AXES)}")
