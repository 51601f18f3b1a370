"""Does the sweep's timing harness add overhead? Time the same faiss settings with the harness and with a raw faiss
loop (same method: one query per call, one thread, warm-up, several passes) in the same process and compare p50/p95.
The last column times a plain loop over vecrecall's `Index.search` (what `vecrecall query` calls): the harness itself
adds nothing to it; what remains against raw faiss is the wrapper's constant few µs per call (parameter checks).

    python bench/sweep_harness_vs_raw.py                       # synthetic 100k × 128, IVF + HNSW + Flat
    python bench/sweep_harness_vs_raw.py --embeddings runs/vaswani/emb --queries runs/vaswani/qemb
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
from vecrecall.sweep.harness import single_query_latency


def raw_latency(search, queries: np.ndarray, k: int, passes: int, warmup: int) -> np.ndarray:
    """A plain loop over `search(q, k)`: one query per call, one OpenMP thread."""
    rows = [np.ascontiguousarray(queries[i : i + 1]) for i in range(len(queries))]
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for q in rows[:warmup]:
            search(q, k)
        out = []
        for _ in range(passes):
            for q in rows:
                t0 = time.perf_counter()
                search(q, k)
                out.append(time.perf_counter() - t0)
    finally:
        faiss.omp_set_num_threads(previous)
    return np.asarray(out) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embeddings")
    ap.add_argument("--queries")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--n-queries", type=int, default=500)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="alternate harness/raw this many times; report medians")
    ap.add_argument("-k", type=int, default=10)
    args = ap.parse_args()
    x, q, source = normalised_vectors(args)
    n = x.shape[0]
    settings = [({"index_type": "IVF", "nlist": int(np.sqrt(n))}, {"nprobe": 8}),
                ({"index_type": "IVF", "nlist": int(np.sqrt(n))}, {"nprobe": 32}),
                ({"index_type": "HNSW", "hnsw_m": 16}, {"ef_search": 64}),
                ({"index_type": "Flat"}, {})]
    table = Table(title=f"harness vs raw faiss loop · {source} · k={args.k} · one thread · {args.passes} passes × "
                        f"{args.rounds} alternating rounds (medians)")
    for c in ("index", "search", "harness p50 ms", "raw faiss p50 ms", "Δ p50", "harness p95 ms", "raw faiss p95 ms",
              "Δ p95", "Index.search loop p50 ms"):
        table.add_column(c, justify="right")
    cls = get_backend("faiss")
    for build, search in settings:
        idx = cls.build(x, "cosine", dict(build))
        idx.configure(search, args.k)
        h50, r50, h95, r95, w50 = [], [], [], [], []
        for _ in range(args.rounds):
            h = single_query_latency(idx, q, args.k, search, args.passes, warmup=100)
            r = raw_latency(idx.index.search, q, args.k, args.passes, warmup=100)
            w = raw_latency(lambda x, kk: idx.search(x, kk, **search), q, args.k, args.passes, warmup=100)
            h50.append(np.percentile(h, 50)); r50.append(np.percentile(r, 50)); w50.append(np.percentile(w, 50))
            h95.append(np.percentile(h, 95)); r95.append(np.percentile(r, 95))
        hp50, rp50, hp95, rp95, wp50 = map(np.median, (h50, r50, h95, r95, w50))
        table.add_row(f"{build}", f"{search}", f"{hp50:.4f}", f"{rp50:.4f}", f"{(hp50 / rp50 - 1) * 100:+.1f}%",
                      f"{hp95:.4f}", f"{rp95:.4f}", f"{(hp95 / rp95 - 1) * 100:+.1f}%", f"{wp50:.4f}")
    Console(width=200).print(table)
    print(f"run {dt.date.today().isoformat()}, faiss {faiss.__version__}")


if __name__ == "__main__":
    main()
