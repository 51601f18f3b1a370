"""Is the sweep's timing robust? On one fixed IVF index, QPS must fall as nprobe rises (more lists scanned per
query); a timing method that reports otherwise is measuring the machine, not the index.

The same nprobe grid is timed three ways in one process, on Vaswani-sized data (11,429 × 384 clustered synthetic
vectors and 93 queries by default, or your embeddings):

  old      what `vecrecall sweep` did before: settings one after another, batch QPS on the 93 queries untiled (each
           pass repeated for 0.1 s), best of 3 passes — the column that inverted on a loaded machine;
  sweep    vecrecall's harness now (`sweep.harness.time_settings`): settings round-robin, `--reps` repetitions,
           single-thread QPS = 1 / mean latency (latency passes of ≥ 0.1 s), median with min–max; batch QPS on the
           queries tiled to ≥ 1,000;
  raw      the same round-robin single-thread protocol as a plain loop over the faiss index (`index.nprobe = p`,
           `index.search(q, k)`), alternating with `sweep` repetition by repetition so both see the same load; the
           `sweep/raw` ratio shows what vecrecall's wrapper costs per query.

For each method it counts inversions (QPS at nprobe 2p above QPS at nprobe p) and, for `sweep`, whether each one
lies within the reported spread (the larger nprobe's median inside the smaller nprobe's min–max). The load average
before and after is printed: on a busy machine, expect wide ranges.

    python bench/sweep_timing.py                                   # synthetic, Vaswani-sized
    python bench/sweep_timing.py --embeddings runs/vaswani/emb --queries runs/vaswani/qemb
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import faiss
import numpy as np
from rich.console import Console
from rich.table import Table

from benchdata import normalised_vectors
from vecrecall.indexes.base import get_backend
from vecrecall.sweep.harness import LoadWatch, Timing, query_rows, threads, tile_queries, time_settings, usable_cpus


def old_batch_qps(index, queries: np.ndarray, k: int, n_threads: int, passes: int = 3, min_s: float = 0.1) -> float:
    """The previous method: all queries (untiled) in one call, each pass repeated for min_s, best pass."""
    q = np.ascontiguousarray(queries)
    best = 0.0
    with threads(index, n_threads):
        index.search(q, k)
        for _ in range(passes):
            calls, t0 = 0, time.perf_counter()
            while True:
                index.search(q, k)
                calls += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= min_s:
                    break
            best = max(best, calls * len(q) / elapsed)
    return best


def raw_round_robin(native, nprobes: list[int], queries: np.ndarray, k: int, reps: int, min_s: float = 0.1) -> list[list[float]]:
    """Single-thread QPS (1 / mean latency) of a plain faiss loop, settings round-robin: per nprobe, one value per
    repetition."""
    rows = query_rows(queries)
    out: list[list[float]] = [[] for _ in nprobes]
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for _ in range(reps):
            for i, p in enumerate(nprobes):
                native.nprobe = p
                for q in rows[:10]:
                    native.search(q, k)
                spent, n = 0.0, 0
                while spent < min_s:
                    for q in rows:
                        t0 = time.perf_counter()
                        native.search(q, k)
                        spent += time.perf_counter() - t0
                        n += 1
                out[i].append(n / spent)
    finally:
        faiss.omp_set_num_threads(previous)
    return out


def inversions(values: list[float]) -> list[int]:
    """Positions i where values[i + 1] > values[i] (QPS rose although nprobe grew)."""
    return [i for i in range(len(values) - 1) if values[i + 1] > values[i]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embeddings")
    ap.add_argument("--queries")
    ap.add_argument("--n", type=int, default=11_429)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--n-queries", type=int, default=93)
    ap.add_argument("--nlist", type=int, default=107, help="IVF lists (≈√n by default)")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=usable_cpus())
    ap.add_argument("-k", type=int, default=10)
    args = ap.parse_args()
    x, q, source = normalised_vectors(args)
    nprobes = [int(v) for v in args.nprobe.split(",")]
    load = LoadWatch().start()
    index = get_backend("faiss").build(x, "cosine", {"index_type": "IVF", "nlist": args.nlist}, seed=0)

    old = []
    for p in nprobes:  # one setting after another, as before
        index.configure({"nprobe": p}, args.k)
        old.append(old_batch_qps(index, q, args.k, args.threads))
    # vecrecall's harness and the raw loop alternate repetition by repetition, so both see the same load.
    timings = [Timing() for _ in nprobes]
    raw: list[list[float]] = [[] for _ in nprobes]
    for _ in range(args.reps):
        for t, one in zip(timings, time_settings(index, [{"nprobe": p} for p in nprobes], q, args.k, 1, 100, args.threads)):
            t.latency_ms += one.latency_ms
            t.batch_qps += one.batch_qps
        for r, one in zip(raw, raw_round_robin(index.index, nprobes, q, args.k, 1)):
            r += one
    new = [t.summary() for t in timings]
    load.stop()

    table = Table(title=f"QPS vs nprobe on one faiss IVF{args.nlist} index · {source} · k={args.k} · "
                        f"{args.reps} repetitions · batch threads {args.threads}")
    for c in ("nprobe", "old batch QPS (best of 3, untiled)", "sweep QPS 1 thread (median)", "min–max",
              "sweep batch QPS (tiled ×" + str(len(tile_queries(q)) // len(q)) + ")", "raw faiss QPS 1 thread",
              "sweep / raw"):
        table.add_column(c, justify="right")
    raw_med = [float(np.median(r)) for r in raw]
    for p, o, s, r in zip(nprobes, old, new, raw_med):
        table.add_row(str(p), f"{o:,.0f}", f"{s['qps']:,.0f}", f"{s['qps_min']:,.0f}–{s['qps_max']:,.0f}",
                      f"{s['batch_qps']:,.0f}", f"{r:,.0f}", f"{s['qps'] / r:.2f}")
    Console(width=160).print(table)

    med = [s["qps"] for s in new]
    inv_new = inversions(med)
    outside = [i for i in inv_new if med[i + 1] > new[i]["qps_max"]]
    def pairs(inv: list[int]) -> str:
        return ", ".join(f"{nprobes[i]}→{nprobes[i + 1]}" for i in inv) or "none"

    print(f"inversions (QPS rose with nprobe): old batch {pairs(inversions(old))}; sweep 1-thread {pairs(inv_new)} "
          f"(outside the reported spread: {pairs(outside)}); sweep batch {pairs(inversions([s['batch_qps'] for s in new]))}; "
          f"raw faiss {pairs(inversions(raw_med))}")
    print(f"QPS falls monotonically with nprobe within the reported spread: {'yes' if not outside else 'NO'}")
    rec = load.record()
    print(f"load average (1 min) {rec['load1_before']} before, {rec['load1_after']} after, this process ≈{rec['own_cpus']} "
          f"cores, others ≈{rec['others']} on {rec['cores']} usable cores{' — BUSY machine' if rec['busy'] else ''}")
    print(f"run {dt.date.today().isoformat()}, faiss {faiss.__version__}, median sweep/raw "
          f"{np.median([s['qps'] / r for s, r in zip(new, raw_med)]):.2f}")


if __name__ == "__main__":
    main()
