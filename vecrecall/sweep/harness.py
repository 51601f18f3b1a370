"""Timing harness.

Latency: one query per `search` call, one thread, after a warm-up pass, over several passes; p50/p95/p99 are taken
over every (query, pass) sample. QPS: all queries in one batch `search` call with `threads` threads (repeated within a pass until
it lasts 0.1 s), the best of the passes (the least disturbed by other processes). Each call goes through the same `Index.search` as
`vecrecall query`; queries are prepared (normalised, contiguous float32 rows) and search parameters set
(`Index.configure`, ann-benchmarks' set_query_arguments) before the clock starts, so the timed calls carry none.

Threads are limited generically: threadpoolctl caps every OpenMP/BLAS pool loaded in the process (faiss uses
OpenMP), and the backend limits its own pool (`Index.set_threads`, e.g. hnswlib's); backends that search in
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

    with threadpool_limits(limits=n):
        previous = index.set_threads(n)
        try:
            yield
        finally:
            index.set_threads(previous)


@dataclass
class Latency:
    samples_ms: np.ndarray

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q))


def single_query_latency(index: Index, queries: np.ndarray, k: int, params: dict[str, Any] | None = None,
                         passes: int = 3, warmup: int = 100) -> Latency:
    """Per-query wall time (ms) of `index.search(q, k)` with one thread, `passes` passes; `params` (if given) are set
    once before (otherwise the index's configured search parameters apply)."""
    if params:
        index.configure(params, k)
    rows = [np.ascontiguousarray(queries[i : i + 1]) for i in range(len(queries))]
    search = index.search
    samples = np.empty(len(rows) * passes, dtype=np.float64)
    clock = time.perf_counter
    with threads(index, 1):
        for q in rows[:warmup]:
            search(q, k)
        j = 0
        for _ in range(passes):
            for q in rows:
                t0 = clock()
                search(q, k)
                samples[j] = clock() - t0
                j += 1
    return Latency(samples * 1000.0)


def batch_search(index: Index, queries: np.ndarray, k: int, params: dict[str, Any] | None, n_threads: int,
                 passes: int = 3, min_pass_s: float = 0.1) -> tuple[float, np.ndarray, np.ndarray]:
    """(QPS of the best pass, scores, positions) with all queries in one call and `n_threads` threads.

    A pass repeats the batch call until it has run for `min_pass_s`, so tiny query sets are not timed on one
    sub-millisecond call.
    """
    if params:
        index.configure(params, k)
    q = np.ascontiguousarray(queries)
    best = 0.0
    clock = time.perf_counter
    with threads(index, n_threads):
        scores, positions = index.search(q, k)  # warm-up; these results are the ones reported
        for _ in range(max(1, passes)):
            calls, t0 = 0, clock()
            while True:
                index.search(q, k)
                calls += 1
                elapsed = clock() - t0
                if elapsed >= min_pass_s:
                    break
            best = max(best, calls * len(q) / elapsed if elapsed > 0 else float("inf"))
    return best, scores, positions
