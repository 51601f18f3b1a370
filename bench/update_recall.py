"""update-index vs a fresh build on the same final vectors: recall@10 against exact search, and time.

Clustered synthetic vectors (vecrecall.sweep.synthetic): the base index holds the first 80%, the update deletes a
seeded 10% of them and adds the remaining 20% (faiss HNSW only adds: it cannot delete in place). For each backend and
search setting the table shows recall@10 of the updated index and of a fresh build over the final vectors (same
parameters, same seed), and the seconds of `update_index` beside the seconds of the fresh build and of the raw
library calls the update makes (remove_ids/add, mark_deleted/add_items) on the loaded native index.

    python bench/update_recall.py                      # 4,000 × 32, cosine and l2
    python bench/update_recall.py --n 20000 --metric l2
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("VECRECALL_QUIET", "1")

from vecrecall.artifacts import Manifest, save_embeddings_from_array  # noqa: E402
from vecrecall.encoders import l2_normalize  # noqa: E402
from vecrecall.indexes.store import IndexDir, build_index  # noqa: E402
from vecrecall.indexes.update import update_index  # noqa: E402
from vecrecall.sweep.synthetic import SyntheticSpec, make_clustered  # noqa: E402

SETTINGS = [("faiss", {"index_type": "IVF"}, "nprobe", (2, 4, 8, 16), True),
            ("faiss", {"index_type": "IVFPQ"}, "nprobe", (4, 16), True),
            ("faiss", {"index_type": "HNSW"}, "ef_search", (10, 16, 32), False),
            ("faiss", {"index_type": "HNSW", "ef_construction": 200}, "ef_search", (10, 16, 32), False),
            ("hnswlib", {}, "ef_search", (10, 20, 40), True)]


def write(path: Path, x: np.ndarray, ids: list[str]) -> Path:
    m = Manifest("embeddings", params={"model": {"name": "synthetic", "fingerprint": "synthetic"}, "normalize": False,
                                       "role": "corpus"})
    path.mkdir(parents=True)
    save_embeddings_from_array(path, x, pd.DataFrame({"id": ids}), m)
    return path


def exact(x: np.ndarray, q: np.ndarray, metric: str, k: int = 10) -> np.ndarray:
    if metric == "cosine":
        x, q = l2_normalize(x), l2_normalize(q)
    rows = []
    for start in range(0, len(q), 256):
        part = q[start : start + 256]
        s = -((part[:, None] - x[None]) ** 2).sum(-1) if metric == "l2" else part @ x.T
        rows.append(np.argsort(-s, axis=1, kind="stable")[:, :k])
    return np.concatenate(rows)


def recall(path: Path, q: np.ndarray, truth: np.ndarray, search: dict) -> float:
    loaded = IndexDir.load(path)
    got = loaded.ids["id"].to_numpy()[loaded.index.search(loaded.prepare(q), 10, **search)[1]]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth)]))


def raw_seconds(path: Path, rows: np.ndarray, added: np.ndarray) -> float:
    """The library calls alone: on the loaded native index, the deletes and adds update_index makes."""
    from vecrecall.indexes.base import get_backend
    from vecrecall.artifacts import read_manifest

    m = read_manifest(path)
    native = get_backend(m.params["backend"]).load(path, m.params["metric"], m.params["dim"], dict(m.params))
    data = l2_normalize(added) if m.params["metric"] == "cosine" else added
    t0 = time.perf_counter()
    if len(rows) and not native.cannot("delete"):
        native.delete_rows(rows)
    native.add_rows(data)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--metric", action="append", choices=["cosine", "l2", "ip"])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    n, nb = args.n, int(args.n * 0.8)
    x, q = make_clustered(SyntheticSpec(n=n, dim=args.dim, n_queries=args.queries, seed=args.seed))
    ids = [f"d{i}" for i in range(n)]
    deleted = np.sort(np.random.default_rng(0).choice(nb, nb // 10, replace=False))
    keep = np.setdiff1d(np.arange(nb), deleted)
    print(f"{n:,} × {args.dim} clustered vectors, {args.queries:,} queries; base {nb:,}, delete {len(deleted):,}, "
          f"add {n - nb:,}")
    print("metric  backend  index  setting       recall@10: updated   fresh     diff  update s  raw s  fresh s")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        base_emb = write(d / "base", x[:nb], ids[:nb])
        add_emb = write(d / "add", x[nb:], ids[nb:])
        (d / "gone.txt").write_text("".join(f"{ids[i]}\n" for i in deleted))
        for metric in args.metric or ["cosine", "l2"]:
            for backend, params, name, values, deletes in SETTINGS:
                rows = np.concatenate([keep, np.arange(nb, n)]) if deletes else np.arange(n)
                for sub in ("final", "b", "u", "f"):
                    shutil.rmtree(d / sub, ignore_errors=True)
                final = write(d / "final", x[rows], [ids[i] for i in rows])
                truth = np.asarray([ids[i] for i in rows], dtype=object)[exact(x[rows], q, metric)]
                build_index(backend, d / "b", embeddings=base_emb, metric=metric, params=params)
                t0 = time.perf_counter()
                update_index(d / "b", d / "u", add=add_emb, delete=d / "gone.txt" if deletes else None)
                update_s = time.perf_counter() - t0
                raw_s = raw_seconds(d / "b", deleted if deletes else np.zeros(0, dtype=np.int64), x[nb:])
                t0 = time.perf_counter()
                build_index(backend, d / "f", embeddings=final, metric=metric, params=params)
                fresh_s = time.perf_counter() - t0
                for value in values:
                    ru, rf = (recall(d / s, q, truth, {name: value}) for s in ("u", "f"))
                    setting = f"{name} {value}"
                    kind = params.get("index_type", "HNSW") + ("/efC200" if "ef_construction" in params else "")
                    print(f"{metric:<7} {backend:<8} {kind:<6} {setting:<13} "
                          f"{ru:>18.4f}  {rf:.4f}  {ru - rf:+.4f}  {update_s:8.2f}  {raw_s:5.2f}  {fresh_s:7.2f}",
                          flush=True)


if __name__ == "__main__":
    main()
