"""vecrecall's query path vs the raw library search, on the same loaded index and query vectors, same process.

vecrecall side: `vecrecall.search.search_index` (batching, parameter checks, id mapping to document ids) on an
`IndexDir` loaded from disk. Raw side: the native index object's own search call (faiss `index.search`,
hnswlib `knn_query`, annoy `get_nns_by_vector` loop, usearch `Index.search`, ScaNN `search_batched_parallel`).
Each timed as the median of --reps repetitions, the two sides alternating.

    python bench/query_overhead.py                      # Vaswani MiniLM embeddings from runs/vaswani (see README)
    python bench/query_overhead.py --synthetic 100000x128
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("VECRECALL_QUIET", "1")
from vecrecall.artifacts import Manifest, load_embeddings, save_embeddings_from_array  # noqa: E402
from vecrecall.indexes.store import IndexDir, build_index  # noqa: E402
from vecrecall.search import search_index  # noqa: E402

CASES = [  # (label, backend, build params, vecrecall search params)
    ("faiss Flat", "faiss", {"index_type": "Flat"}, {}),
    ("faiss IVF nprobe=16", "faiss", {"index_type": "IVF"}, {"nprobe": 16}),
    ("hnswlib ef=64", "hnswlib", {}, {"ef_search": 64}),
    ("annoy search_k=-1", "annoy", {"n_trees": 20}, {}),
    ("usearch exp=64", "usearch", {}, {"expansion_search": 64}),
    ("scann leaves=16 r=1000", "scann", {}, {"num_leaves_to_search": 16, "reorder": 1000}),
]


def raw_search(index: IndexDir, q: np.ndarray, k: int, params: dict) -> None:
    backend = index.manifest.params["backend"]
    if backend == "scann":  # all threads, as vecrecall searches a batch
        index.index.searcher.search_batched_parallel(q, k, params["reorder"], params["num_leaves_to_search"])
        return
    native = index.index.index
    if backend == "faiss":
        if "nprobe" in params:
            import faiss

            faiss.extract_index_ivf(native).nprobe = params["nprobe"]
        native.search(q, k)
    elif backend == "hnswlib":
        native.set_ef(params.get("ef_search", max(k, 10)))
        native.knn_query(q, k=k)
    elif backend == "usearch":
        native.expansion_search = max(params["expansion_search"], k)
        native.search(q, k, threads=0)
    else:
        for v in q:
            native.get_nns_by_vector(v, k, search_k=-1, include_distances=True)


def median_times(fns: list, reps: int) -> list[float]:
    """Median seconds of each function, the functions alternating within every repetition (after a warm-up),
    so that drifts in machine load hit both sides alike."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for t, fn in zip(times, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", default="runs/vaswani/emb")
    ap.add_argument("--synthetic", help="NxD clustered Gaussian vectors instead of --embeddings")
    ap.add_argument("--queries", type=int, default=2000, help="corpus rows (seeded sample) used as queries")
    ap.add_argument("-k", type=int, default=100)
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vr-bench-"))
    if args.synthetic:
        n, d = map(int, args.synthetic.lower().split("x"))
        rng = np.random.default_rng(0)
        centers = rng.normal(size=(256, d))
        x = (centers[rng.integers(0, 256, n)] + 0.5 * rng.normal(size=(n, d))).astype(np.float32)
        import pandas as pd

        emb_dir = work / "emb"
        emb_dir.mkdir()
        save_embeddings_from_array(emb_dir, x, pd.DataFrame({"id": [str(i) for i in range(n)]}),
                                   Manifest("embeddings", params={"model": {"name": "synthetic"}}))
        source = f"synthetic {n}x{d}"
    else:
        emb_dir = Path(args.embeddings)
        if not emb_dir.exists():
            sys.exit(f"{emb_dir} not found: run the Vaswani chain in README.md first, or pass --synthetic 100000x128")
        x = np.asarray(load_embeddings(emb_dir).vectors, dtype=np.float32)
        source = str(emb_dir)
    rng = np.random.default_rng(1)
    q = x[rng.choice(len(x), min(args.queries, len(x)), replace=False)]
    print(f"data: {source}, {x.shape[0]:,}×{x.shape[1]}; {len(q):,} queries, k={args.k}, median of {args.reps} reps")
    print(f"{'index':<22}{'raw (ms)':>10}{'vecrecall (ms)':>16}{'ratio':>8}")
    for label, backend, build, params in CASES:
        build_index(backend, work / label.replace(" ", "_"), embeddings=emb_dir, params=build)
        index = IndexDir.load(work / label.replace(" ", "_"))
        qp = index.prepare(q)
        raw, ours = median_times([lambda: raw_search(index, qp, args.k, params),
                                  lambda: search_index(index, qp, args.k, params)], args.reps)
        print(f"{label:<22}{raw * 1e3:>10.1f}{ours * 1e3:>16.1f}{ours / raw:>8.3f}")


if __name__ == "__main__":
    main()
