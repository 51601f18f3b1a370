"""The bare-library side of bench/scale.py: what a user of faiss / hnswlib writes by hand for the same work.

    python bench/scale_bare.py build-faiss NPY FACTORY OUT [--metric cosine] [--train-size N] [--threads T] [--ef-construction E]
    python bench/scale_bare.py build-hnswlib NPY OUT --m M --ef-construction E [--threads T]
    python bench/scale_bare.py query-faiss INDEX QUERIES_NPY QIDS_TXT DOCIDS_TXT K OUT [--nprobe P]
    python bench/scale_bare.py sweep-faiss NPY INDEX QUERIES_NPY K OUT_JSON --nprobe 1,4,16 [--passes P] [--warmup W]

Inputs are the artifact's own files (embeddings.npy, index.faiss) and plain id lists; no vecrecall import.
The matrix is loaded whole (`np.load`) and normalised in place, as a faiss user does; the IVF training sample is the
same rows vecrecall draws (numpy's default_rng(seed).choice, sorted), with the same k-means seed.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def normalise(x: np.ndarray) -> np.ndarray:
    """In place, by block (the same arithmetic as vecrecall's l2_normalize: x / ‖x‖, zero rows kept)."""
    for start in range(0, len(x), 65536):
        part = x[start : start + 65536]
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        part /= np.where(norms == 0, 1.0, norms)
    return x


def build_faiss(a: argparse.Namespace) -> None:
    import faiss

    x = np.load(a.npy).astype(np.float32, copy=False)
    if a.metric == "cosine":
        normalise(x)
    metric = faiss.METRIC_L2 if a.metric == "l2" else faiss.METRIC_INNER_PRODUCT
    index = faiss.index_factory(x.shape[1], a.factory, metric)
    if a.ef_construction:
        faiss.downcast_index(index).hnsw.efConstruction = a.ef_construction
    if not index.is_trained:
        faiss.extract_index_ivf(index).cp.seed = a.seed
        n = len(x)
        size = min(n, a.train_size or n)
        rows = np.sort(np.random.default_rng(a.seed).choice(n, size, replace=False)) if size < n else slice(None)
        index.train(np.ascontiguousarray(x[rows]))
    if a.threads:
        faiss.omp_set_num_threads(a.threads)
    index.add(x)
    faiss.write_index(index, a.out)


def build_hnswlib(a: argparse.Namespace) -> None:
    import hnswlib

    x = np.load(a.npy).astype(np.float32, copy=False)
    index = hnswlib.Index(space=a.metric, dim=x.shape[1])
    index.init_index(max_elements=len(x), ef_construction=a.ef_construction, M=a.m, random_seed=a.seed)
    index.add_items(x, np.arange(len(x)), num_threads=a.threads or 1)
    index.save_index(a.out)


def query_faiss(a: argparse.Namespace) -> None:
    import faiss

    index = faiss.read_index(a.index)
    if a.nprobe:
        faiss.extract_index_ivf(index).nprobe = a.nprobe
    docids = open(a.docids, encoding="utf-8").read().split("\n")
    qids = open(a.qids, encoding="utf-8").read().split("\n")
    q = normalise(np.ascontiguousarray(np.load(a.queries), dtype=np.float32))
    scores, rows = index.search(q, a.k)
    with open(a.out, "w", encoding="utf-8") as fh:
        for qid, srow, rrow in zip(qids, scores.astype(float).tolist(), rows.tolist()):
            fh.writelines(f"{qid} Q0 {docids[r]} {rank} {s!r} vecrecall\n"
                          for rank, (s, r) in enumerate(zip(srow, rrow), 1) if r >= 0)


def sweep_faiss(a: argparse.Namespace) -> None:
    """Exact top-k with a Flat index, then per nprobe: batch QPS (best of passes), one-query latency, recall@k."""
    import faiss

    x = normalise(np.load(a.npy).astype(np.float32, copy=False))
    q = normalise(np.ascontiguousarray(np.load(a.queries), dtype=np.float32))
    exact = faiss.IndexFlatIP(x.shape[1])
    exact.add(x)
    _, truth = exact.search(q, a.k)
    del exact, x
    index = faiss.read_index(a.index)
    ivf = faiss.extract_index_ivf(index)
    rows = []
    for nprobe in (int(v) for v in a.nprobe.split(",")):
        ivf.nprobe = nprobe
        best = 0.0
        for _ in range(a.passes):
            t0, done = time.perf_counter(), 0
            while True:
                _, found = index.search(q, a.k)
                done += len(q)
                if time.perf_counter() - t0 >= 0.1:
                    break
            best = max(best, done / (time.perf_counter() - t0))
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        for v in q[: a.warmup]:
            index.search(v[None, :], a.k)
        lat = []
        for _ in range(a.passes):
            for v in q:
                t0 = time.perf_counter()
                index.search(v[None, :], a.k)
                lat.append(time.perf_counter() - t0)
        faiss.omp_set_num_threads(threads)
        recall = np.mean([len(set(f) & set(t)) / a.k for f, t in zip(found.tolist(), truth.tolist())])
        rows.append({"nprobe": nprobe, "recall": float(recall), "qps": best, "p50_ms": float(np.median(lat) * 1e3)})
    with open(a.out, "w") as fh:
        json.dump(rows, fh, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build-faiss")
    b.add_argument("npy"), b.add_argument("factory"), b.add_argument("out")
    b.add_argument("--metric", default="cosine"), b.add_argument("--train-size", type=int)
    b.add_argument("--threads", type=int), b.add_argument("--ef-construction", type=int), b.add_argument("--seed", type=int, default=0)
    h = sub.add_parser("build-hnswlib")
    h.add_argument("npy"), h.add_argument("out"), h.add_argument("--metric", default="cosine")
    h.add_argument("--m", type=int, required=True), h.add_argument("--ef-construction", type=int, required=True)
    h.add_argument("--threads", type=int), h.add_argument("--seed", type=int, default=0)
    q = sub.add_parser("query-faiss")
    for name in ("index", "queries", "qids", "docids"):
        q.add_argument(name)
    q.add_argument("k", type=int), q.add_argument("out"), q.add_argument("--nprobe", type=int)
    s = sub.add_parser("sweep-faiss")
    for name in ("npy", "index", "queries"):
        s.add_argument(name)
    s.add_argument("k", type=int), s.add_argument("out"), s.add_argument("--nprobe", required=True)
    s.add_argument("--passes", type=int, default=1), s.add_argument("--warmup", type=int, default=100)
    a = ap.parse_args()
    {"build-faiss": build_faiss, "build-hnswlib": build_hnswlib, "query-faiss": query_faiss,
     "sweep-faiss": sweep_faiss}[a.cmd](a)


if __name__ == "__main__":
    main()
