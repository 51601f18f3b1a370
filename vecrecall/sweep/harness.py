"""Timing harness.

Latency: one query per `search` call, one thread, after a warm-up pass, over several passes; p50/p95/p99 are taken
over every (query, pass) sample. QPS: all queries in one batch `search` call with `threads` threads (repeated within a pass until
it lasts 0.1 s), the best of the passes (the least disturbed by other processes). Each call goes through the same `Index.search` as
`vecrecall query`; queries are prepared (normalised, contiguous float32 rows) before the clock starts.

Threads are limited generically: threadpoolctl caps every OpenMP/BLAS pool loaded in the process (faiss uses
OpenMP), and a native index object that has `set_num_threads` (hnswlib) is set too; backends that search in
Python (annoy) are single-threaded anyway.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..indexes.base import Index


@contextlib.contextmanager
def threads(index: Index, n: int) -> Iterator[None]:
    """Limit the threads a search on `index` may use to `n` for the duration of the block."""
    from threadpoolctl import threadpool_limits

    native = getattr(index, "index", None)
    set_native = getattr(native, "set_num_threads", None)
    previous = getattr(native, "num_threads", -1) if set_native else None
    with threadpool_limits(limits=n):
        if set_native:
            set_native(n)
        try:
            yield
        finally:
            if set_native:
                set_native(previous if previous is not None else -1)


@dataclass
class Latency:
    samples_ms: np.ndarray

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q))


def single_query_latency(index: Index, queries: np.ndarray, k: int, params: dict[str, Any], passes: int = 3,
                         warmup: int = 100) -> Latency:
    """Per-query wall time (ms) of `index.search(q, k, **params)` with one thread, `passes` passes."""
    rows = [np.ascontiguousarray(queries[i : i + 1]) for i in range(len(queries))]
    search = index.search
    samples = np.empty(len(rows) * passes, dtype=np.float64)
    clock = time.perf_counter
    with threads(index, 1):
        for q in rows[:warmup]:
            search(q, k, **params)
        j = 0
        for _ in range(passes):
            for q in rows:
                t0 = clock()
                search(q, k, **params)
                samples[j] = clock() - t0
                j += 1
    return Latency(samples * 1000.0)


def batch_search(index: Index, queries: np.ndarray, k: int, params: dict[str, Any], n_threads: int,
                 passes: int = 3, min_pass_s: float = 0.1) -> tuple[float, np.ndarray, np.ndarray]:
    """(QPS of the best pass, scores, positions) with all queries in one call and `n_threads` threads.

    A pass repeats the batch call until it has run for `min_pass_s`, so tiny query sets are not timed on one
    sub-millisecond call.
    """
    q = np.ascontiguousarray(queries)
    best = 0.0
    clock = time.perf_counter
    with threads(index, n_threads):
        scores, positions = index.search(q, k, **params)  # warm-up; these results are the ones reported
        for _ in range(max(1, passes)):
            calls, t0 = 0, clock()
            while True:
                index.search(q, k, **params)
                calls += 1
                elapsed = clock() - t0
                if elapsed >= min_pass_s:
                    break
            best = max(best, calls * len(q) / elapsed if elapsed > 0 else float("inf"))
    return best, scores, positions
