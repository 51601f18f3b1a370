"""vecrecall's query path vs the raw library search, on the same loaded index and query vectors, same process.

vecrecall side: `vecrecall.search.search_index` (batching, parameter checks, id mapping to document ids) on an
`IndexDir` loaded from disk. Raw side: the native index object's own search call (faiss `index.search`,
hnswlib `knn_query`, annoy `get_nns_by_vector` loop, usearch `Index.search`, ScaNN `search_batched_parallel`).
Each timed as the median of --reps repetitions, the two sides alternating.

With --processes N, also whole processes on the same index directories: `vecrecall query` (start-up, artifact
reads, search, TREC file) against a bare script that imports only numpy and the library, loads the native index
file, normalises the query vectors, searches with the same parameters and writes the same TREC lines (ids from plain
text files); median of N alternating runs after one warm-up each, and how many ranked documents the two files share.
Queries: --query-embeddings (e.g. the Vaswani query embeddings) or else the in-process query sample.

    python bench/query_overhead.py                      # Vaswani MiniLM embeddings from runs/vaswani (see README)
    python bench/query_overhead.py --synthetic 100000x128
    python bench/query_overhead.py --embeddings runs/vaswani/emb --query-embeddings runs/vaswani/qemb --processes 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import load_average, process_env, run_measured  # noqa: E402

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


# The bare side of --processes: what a user of the library alone writes. argv: backend, index directory, metric,
# query vectors (.npy), query ids, document ids (text, one a line), k, output, search parameters (JSON).
BARE = r'''
import json, sys
import numpy as np

backend, folder, metric, qnpy, qids_txt, docids_txt, k, out, params = sys.argv[1:10]
k, params = int(k), json.loads(params)
q = np.ascontiguousarray(np.load(qnpy), dtype=np.float32)
dim = q.shape[1]
if metric == "cosine":
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    q = q / np.where(norms == 0, 1.0, norms)
if backend == "faiss":
    import faiss
    index = faiss.read_index(folder + "/index.faiss")
    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = params["nprobe"]
    scores, rows = index.search(q, k)
elif backend == "hnswlib":
    import hnswlib
    index = hnswlib.Index(space=metric, dim=dim)
    index.load_index(folder + "/index.hnsw")
    index.set_ef(max(params["ef_search"], k))
    rows, dist = index.knn_query(q, k=k)
    scores = 1.0 - dist
elif backend == "annoy":
    from annoy import AnnoyIndex
    index = AnnoyIndex(dim, "angular")
    index.load(folder + "/index.ann")
    found = [index.get_nns_by_vector(v, k, search_k=-1, include_distances=True) for v in q]
    rows = np.array([f[0] for f in found])
    scores = 1.0 - np.array([f[1] for f in found]) ** 2 / 2
elif backend == "usearch":
    from usearch.index import Index
    index = Index.restore(folder + "/index.usearch")
    index.expansion_search = max(params["expansion_search"], k)
    found = index.search(q, k, threads=0)
    rows, scores = found.keys.astype(np.int64), 1.0 - found.distances
else:
    from scann.scann_ops.py import scann_ops_pybind
    searcher = scann_ops_pybind.load_searcher(folder + "/scann", assets_backcompat_shim=False)
    rows, scores = searcher.search_batched_parallel(q, k, params["reorder"], params["num_leaves_to_search"])
docids = open(docids_txt, encoding="utf-8").read().split("\n")
qids = open(qids_txt, encoding="utf-8").read().split("\n")
with open(out, "w", encoding="utf-8") as fh:
    for qid, srow, rrow in zip(qids, np.asarray(scores, dtype=np.float32).astype(float).tolist(), rows.tolist()):
        fh.write("".join(f"{qid} Q0 {docids[r]} {rank} {s!r} vecrecall\n" for rank, (s, r) in enumerate(zip(srow, rrow), 1)
                         if r >= 0))
'''


def ranked(path: Path) -> set[tuple[str, str, str]]:
    """(qid, docid, rank) of every line of a TREC run."""
    fields = (line.split() for line in path.read_text(encoding="utf-8").splitlines())
    return {(qid, docid, rank) for qid, _, docid, rank, *_ in fields}


def vecrecall_cmd() -> list[str]:
    exe = shutil.which("vecrecall")
    return [exe] if exe else [sys.executable, "-m", "vecrecall.cli.app"]


def processes(work: Path, cases: list, qemb: Path, k: int, reps: int) -> None:
    """Whole `vecrecall query` processes against the bare script, on the index directories in `work`."""
    import pandas as pd

    queries = load_embeddings(qemb)
    np.save(work / "queries.npy", np.asarray(queries.vectors, dtype=np.float32))
    (work / "qids.txt").write_text("\n".join(queries.ids["id"].astype(str)), encoding="utf-8")
    (work / "bare_query.py").write_text(BARE, encoding="utf-8")
    env = process_env()
    print(f"\nwhole processes: {len(queries.ids):,} queries from {qemb}, -k {k}, median of {reps} alternating runs; "
          f"load average {load_average()}")
    print(f"{'index':<24}{'bare s':>8}{'vecrecall s':>13}{'ratio':>7}{'CPU ratio':>11}{'same':>7}")
    for label, backend, _, params in cases:
        folder = work / label.replace(" ", "_")
        docids = work / f"{folder.name}.docids.txt"
        docids.write_text("\n".join(pd.read_parquet(folder / "ids.parquet")["id"].astype(str)), encoding="utf-8")
        metric = Manifest.from_dict(json.loads((folder / "manifest.json").read_text())).params["metric"]
        ours_out, bare_out = work / "vecrecall.trec", work / "bare.trec"
        ours = [*vecrecall_cmd(), "query", "--index", str(folder), "--queries", str(qemb), "-k", str(k),
                *[a for name, v in params.items() for a in ("--param", f"{name}={v}")], "--out", str(ours_out),
                "--overwrite"]
        bare = [sys.executable, str(work / "bare_query.py"), backend, str(folder), metric, str(work / "queries.npy"),
                str(work / "qids.txt"), str(docids), str(k), str(bare_out), json.dumps(params)]
        for cmd in (ours, bare):
            run_measured(cmd, env).check(label)
        same = len(ranked(ours_out) & ranked(bare_out)) / max(len(ranked(bare_out)), 1)
        wall: list[list[float]] = [[], []]
        cpu: list[list[float]] = [[], []]
        for _ in range(reps):
            for i, cmd in enumerate((bare, ours)):
                m = run_measured(cmd, env).check(label)
                wall[i].append(m.seconds)
                cpu[i].append(m.cpu_s)
        b, o = statistics.median(wall[0]), statistics.median(wall[1])
        print(f"{label:<24}{b:>8.2f}{o:>13.2f}{o / b:>7.2f}{statistics.median(cpu[1]) / statistics.median(cpu[0]):>11.2f}"
              f"{same:>7.1%}")
    print("same = share of the bare run's (query, document, rank) lines that vecrecall's run has too; CPU = user+system")


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
    ap.add_argument("--only", help="comma list of backends to run (default all): faiss,hnswlib,annoy,usearch,scann")
    ap.add_argument("--processes", type=int, default=0, help="also time N whole processes per side (0: skip)")
    ap.add_argument("--query-embeddings", help="query embeddings artifact for --processes (default: the in-process "
                                               "query sample)")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.only or c[1] in args.only.split(",")]
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
    print(f"data: {source}, {x.shape[0]:,}×{x.shape[1]}; {len(q):,} queries, k={args.k}, median of {args.reps} reps; "
          f"load average {load_average()}")
    print(f"{'index':<22}{'raw (ms)':>10}{'vecrecall (ms)':>16}{'ratio':>8}")
    for label, backend, build, params in cases:
        build_index(backend, work / label.replace(" ", "_"), embeddings=emb_dir, params=build)
        index = IndexDir.load(work / label.replace(" ", "_"))
        qp = index.prepare(q)
        raw, ours = median_times([lambda: raw_search(index, qp, args.k, params),
                                  lambda: search_index(index, qp, args.k, params)], args.reps)
        print(f"{label:<22}{raw * 1e3:>10.1f}{ours * 1e3:>16.1f}{ours / raw:>8.3f}")
    print(f"load average after: {load_average()}")
    if args.processes:
        qemb = Path(args.query_embeddings) if args.query_embeddings else None
        if qemb is None:
            import pandas as pd

            qemb = work / "qemb"
            qemb.mkdir()
            save_embeddings_from_array(qemb, q, pd.DataFrame({"id": [f"q{i}" for i in range(len(q))]}),
                                       Manifest("embeddings", params={**load_embeddings(emb_dir).manifest.params,
                                                                      "role": "queries"}))
        processes(work, cases, qemb, args.k, args.processes)


if __name__ == "__main__":
    main()
