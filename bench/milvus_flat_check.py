"""milvus-lite FLAT vs faiss Flat on the same embeddings: top-k slot agreement (ties aside), score differences,
end quality, build and search time.

    python bench/milvus_flat_check.py --embeddings runs/vaswani/emb --queries runs/vaswani/qemb \
        --qrels ../shared/datasets/vaswani/beir --out runs/milvus-check

A (query, rank) slot agrees when both backends return the same id there, or when the ids differ but the scores are
equal within --tie-tol (a tie, which either order resolves). Builds both indexes with `vecrecall.indexes.store`
(the same code as `vecrecall build-index`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from vecrecall.artifacts import load_embeddings
from vecrecall.indexes.store import IndexDir, build_index
from vecrecall.io.qrels import read_qrels
from vecrecall.metrics import evaluate_runs
from vecrecall.search import to_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embeddings", required=True)
    ap.add_argument("--queries", required=True, help="query embeddings artifact")
    ap.add_argument("--qrels")
    ap.add_argument("--out", required=True, help="directory for the two indexes (replaced)")
    ap.add_argument("--metric", default="cosine")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--tie-tol", type=float, default=1e-6)
    args = ap.parse_args()

    out = Path(args.out)
    q = np.asarray(load_embeddings(args.queries).vectors, dtype=np.float32)
    qids = load_embeddings(args.queries).ids["id"].astype(str).tolist()
    results = {}
    for name, backend, params in (("faiss Flat", "faiss", {"index_type": "Flat"}),
                                  ("milvus-lite FLAT", "milvus", {"index_type": "FLAT"})):
        t0 = time.perf_counter()
        build_index(backend, out / backend, embeddings=args.embeddings, metric=args.metric, params=params, overwrite=True)
        build_s = time.perf_counter() - t0
        index = IndexDir.load(out / backend)
        data = index.prepare(q)
        t0 = time.perf_counter()
        scores, pos = index.search(data, args.k)
        search_s = time.perf_counter() - t0
        results[name] = (scores, pos, build_s, search_s, index)

    (sf, pf, *_), (sm, pm, *_) = results["faiss Flat"], results["milvus-lite FLAT"]
    same_id = pm == pf
    tie = ~same_id & np.isclose(sm, sf, atol=args.tie_tol, rtol=0)
    console = Console()
    t = Table(title=f"milvus-lite FLAT vs faiss Flat: {len(q)} queries × top {args.k} = {pm.size} slots ({args.metric})")
    for c in ("same id", "differing id, tied score", "differing id, not tied", "agreement (ties aside)",
              "max |score diff|"):
        t.add_column(c, justify="right")
    t.add_row(f"{same_id.sum()} ({same_id.mean():.4%})", str(int(tie.sum())), str(int((~same_id & ~tie).sum())),
              f"{(same_id | tie).mean():.4%}", f"{np.abs(sm - sf).max():.2e}")
    console.print(t)

    t = Table(title="build and search")
    for c in ("backend", "rows", "build s", f"search s ({len(q)} queries, one batch)"):
        t.add_column(c, justify="right" if c != "backend" else "left")
    measures = ["nDCG@10", "R@10", "P@10"]
    if args.qrels:
        for m in measures:
            t.add_column(m, justify="right")
        qrels = read_qrels(args.qrels)
    for name, (scores, pos, build_s, search_s, index) in results.items():
        row = [name, f"{len(index.ids):,}", f"{build_s:.2f}", f"{search_s:.3f}"]
        if args.qrels:
            hits = [[(index.row_docids[p], float(s)) for s, p in zip(sr, pr) if p >= 0] for sr, pr in zip(scores, pos)]
            means = evaluate_runs(qrels, {"run": to_run(qids, hits)}, measures).means["run"]
            row += [f"{means[m]:.4f}" for m in measures]
        t.add_row(*row)
    console.print(t)


if __name__ == "__main__":
    main()
