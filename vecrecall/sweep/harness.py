"""Timing harness: every search setting of one built index timed in interleaved repetitions.

Method (ann-benchmarks' single-query protocol, made robust against a shared, noisy machine):

- The settings of one index are timed **round-robin**: repetition 1 of every setting, then repetition 2 of every
  setting, … (`time_settings`), so a burst of load from another process slows one repetition of several settings
  rather than every repetition of one setting, and cannot invert a recall/QPS curve on its own.
- A repetition of a setting sets its search parameters (`Index.configure`, ann-benchmarks' set_query_arguments;
  untimed), searches `warmup` queries untimed, then makes
  * a **latency pass**: one query per `search` call, one thread (`threads`), every query once; each call timed
    with `time.perf_counter`;
  * a **batch pass**: the queries tiled to at least `MIN_BATCH_QUERIES` rows (`tile_queries`; 93 queries become
    1,023) in one `search` call with `n_threads` threads, repeated until the pass has run `min_batch_s` seconds.
- Per repetition: single-thread QPS = 1 / mean latency (what ann-benchmarks plots), p50 latency, batch QPS. The
  sweep reports the median over repetitions with the min–max as the spread, and p95/p99 over every (query,
  repetition) sample (`Timing.summary`).

Queries are prepared (normalised, contiguous float32 rows) before the clock starts, and every call goes through the
same `Index.search` as `vecrecall query`. Threads are limited generically: threadpoolctl caps every OpenMP/BLAS pool
loaded in the process (faiss uses OpenMP) and the backend limits its own pool (`Index.set_threads`, e.g. hnswlib's);
backends that search in Python (annoy) are single-threaded anyway.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..indexes.base import Index

MIN_BATCH_QUERIES = 1000
MIN_BATCH_S = 0.1  # seconds a batch pass lasts at least
MIN_LATENCY_S = 0.1  # seconds of timed single-query searches a latency pass holds at least


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


def tiled_rows(n_queries: int, min_rows: int = MIN_BATCH_QUERIES) -> int:
    """Rows of a batch pass: `n_queries` repeated whole until there are at least `min_rows`."""
    return n_queries * max(1, math.ceil(min_rows / max(1, n_queries)))


def tile_queries(queries: np.ndarray, min_rows: int = MIN_BATCH_QUERIES) -> np.ndarray:
    """The query rows repeated whole until there are at least `min_rows` (contiguous float32)."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    reps = tiled_rows(len(q), min_rows) // max(1, len(q))
    return np.ascontiguousarray(np.tile(q, (reps, 1))) if reps > 1 else q


def query_rows(queries: np.ndarray) -> list[np.ndarray]:
    """One contiguous (1, dim) float32 array per query, made before any clock starts."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    return [q[i : i + 1] for i in range(len(q))]


def latency_pass(index: Index, rows: list[np.ndarray], k: int, warmup: int = 0, min_s: float = 0.0) -> np.ndarray:
    """Wall time (ms) of `index.search(row, k)` for every row, one thread, after `warmup` untimed rows; the rows
    are gone through again (whole) until `min_s` seconds of searching have been timed, so a small query set on a fast
    index is not timed over a fraction of a millisecond. The index's configured search parameters apply."""
    search, clock = index.search, time.perf_counter
    parts: list[np.ndarray] = []
    spent = 0.0
    with threads(index, 1):
        for q in rows[:warmup]:
            search(q, k)
        while True:
            samples = np.empty(len(rows), dtype=np.float64)
            for j, q in enumerate(rows):
                t0 = clock()
                search(q, k)
                samples[j] = clock() - t0
            parts.append(samples)
            spent += float(samples.sum())
            if spent >= min_s or not len(rows):
                break
    return np.concatenate(parts) * 1000.0


def batch_pass(index: Index, queries: np.ndarray, k: int, n_threads: int, min_s: float = MIN_BATCH_S) -> float:
    """Queries per second of one `search` call over all of `queries` with `n_threads` threads, the call repeated
    until `min_s` seconds have passed (so a fast index is not timed on one sub-millisecond call)."""
    clock = time.perf_counter
    with threads(index, n_threads):
        calls, t0 = 0, clock()
        while True:
            index.search(queries, k)
            calls += 1
            elapsed = clock() - t0
            if elapsed >= min_s:
                break
    return calls * len(queries) / elapsed if elapsed > 0 else float("inf")


@dataclass
class Timing:
    """The repetitions measured for one setting: latency samples (ms) and batch QPS, one entry per repetition."""

    latency_ms: list[np.ndarray] = field(default_factory=list)
    batch_qps: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Columns of a results row: medians over repetitions with their min and max, tail percentiles over all
        samples. `qps` is single-thread QPS = 1 / mean latency (ann-benchmarks); `batch_qps` the batch pass."""
        lat = self.latency_ms
        qps = np.array([1000.0 / float(x.mean()) if x.size and x.mean() > 0 else float("nan") for x in lat])
        p50 = np.array([float(np.percentile(x, 50)) for x in lat])
        batch = np.asarray(self.batch_qps, dtype=float)
        pooled = np.concatenate(lat) if lat else np.array([np.nan])
        return {
            "qps": _median(qps), "qps_min": _min(qps), "qps_max": _max(qps),
            "p50_ms": _median(p50), "p50_ms_min": _min(p50), "p50_ms_max": _max(p50),
            "p95_ms": float(np.percentile(pooled, 95)), "p99_ms": float(np.percentile(pooled, 99)),
            "mean_ms": float(pooled.mean()),
            "batch_qps": _median(batch), "batch_qps_min": _min(batch), "batch_qps_max": _max(batch),
            "repetitions": len(lat),
        }


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if len(x) else float("nan")


def _min(x: np.ndarray) -> float:
    return float(np.min(x)) if len(x) else float("nan")


def _max(x: np.ndarray) -> float:
    return float(np.max(x)) if len(x) else float("nan")


def time_settings(index: Index, settings: list[dict[str, Any]], queries: np.ndarray, k: int, repetitions: int,
                  warmup: int, n_threads: int, latency_queries: int | None = None, min_batch_s: float = MIN_BATCH_S,
                  on_step: Callable[[int, int], None] | None = None,
                  min_latency_s: float = MIN_LATENCY_S) -> list[Timing]:
    """Time every search setting (parameters as `Index.configure` takes them) of `index` in `repetitions`
    round-robin rounds; one `Timing` per setting. `on_step(setting, repetition)` is called after each.

    Latency uses the first `latency_queries` queries (all by default); batch passes use all of them, tiled.
    """
    rows = query_rows(queries[:latency_queries] if latency_queries else queries)
    tiled = tile_queries(queries)
    warm = min(warmup, len(rows))
    out = [Timing() for _ in settings]
    for rep in range(repetitions):
        for i, s in enumerate(settings):
            index.configure(s, k)
            out[i].latency_ms.append(latency_pass(index, rows, k, warm, min_latency_s))
            out[i].batch_qps.append(batch_pass(index, tiled, k, n_threads, min_batch_s))
            if on_step:
                on_step(i, rep)
    return out


def single_query_latency(index: Index, queries: np.ndarray, k: int, params: dict[str, Any] | None = None,
                         passes: int = 3, warmup: int = 100) -> np.ndarray:
    """Latency samples (ms) of one setting over `passes` passes (for benchmarks of the harness itself)."""
    if params:
        index.configure(params, k)
    rows = query_rows(queries)
    with threads(index, 1):
        for q in rows[:warmup]:
            index.search(q, k)
    return np.concatenate([latency_pass(index, rows, k) for _ in range(passes)])


# ---------------------------------------------------------------------------------------------------------------
# Load on the machine while timing
# ---------------------------------------------------------------------------------------------------------------

def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass
class LoadWatch:
    """The 1-minute load average before and after a timed stretch, and this process's own CPU use in it, so the
    load other processes put on the cores can be estimated (load − own CPU) and warned about."""

    cores: int = field(default_factory=usable_cpus)
    before: float = float("nan")
    after: float = float("nan")
    own_cpus: float = float("nan")  # average cores this process used while timing
    _t0: float = 0.0
    _cpu0: float = 0.0

    def start(self) -> "LoadWatch":
        self.before = _load1()
        self._t0, self._cpu0 = time.perf_counter(), _cpu_seconds()
        return self

    def stop(self) -> "LoadWatch":
        wall = time.perf_counter() - self._t0
        self.own_cpus = (_cpu_seconds() - self._cpu0) / wall if wall > 0 else 0.0
        self.after = _load1()
        return self

    @property
    def others(self) -> float:
        """Cores other processes kept busy (largest estimate of before and after); NaN where unknown."""
        vals = [v for v in (self.before, self.after - min(self.own_cpus, self.after)) if v == v]
        return max(vals) if vals else float("nan")

    @property
    def busy(self) -> bool:
        """Other processes used the cores: their load exceeded cores − 0.5."""
        return self.others == self.others and self.others > self.cores - 0.5

    def record(self) -> dict[str, Any]:
        return {"cores": self.cores, "load1_before": _round(self.before), "load1_after": _round(self.after),
                "own_cpus": _round(self.own_cpus), "others": _round(self.others), "busy": self.busy}


def _round(x: float) -> float | None:
    return round(x, 2) if x == x else None


def _load1() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average (Windows)
        return float("nan")


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system
