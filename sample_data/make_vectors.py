"""Write vectors the way other tools ship them, for the README's import-vectors example (run from the repository root).

    python sample_data/make_vectors.py CORPUS_EMB QUERIES_EMB OUT_DIR

Reads two embeddings artifacts (made by `vecrecall encode`) with plain numpy/pyarrow/h5py, as another tool would
have them, and writes into OUT_DIR:
- docs.npy + docs.ids.txt        a bare matrix and its ids, one per line
- docs.parquet                   columns id, embedding (list<float>)
- queries.fvecs + queries.ids.txt TEXMEX records (int32 dim, then float32 values)
- queries.fbin                   big-ann (uint32 n, uint32 dim, then float32 values)
- ann.hdf5                       ann-benchmarks layout: train (docs), test (queries), neighbors/distances (the 100
                                 nearest by angular distance, brute force), attribute distance = "angular"
"""

import sys
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def read(artifact: Path) -> tuple[np.ndarray, list[str]]:
    return np.load(artifact / "embeddings.npy"), pq.read_table(artifact / "ids.parquet").column("id").to_pylist()


def main(corpus: Path, queries: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    x, ids = read(corpus)
    q, qids = read(queries)
    np.save(out / "docs.npy", x)
    (out / "docs.ids.txt").write_text("".join(f"{i}\n" for i in ids))
    pq.write_table(pa.table({"id": ids, "embedding": pa.array(list(x), type=pa.list_(pa.float32()))}), out / "docs.parquet")
    rec = np.empty(len(q), dtype=[("dim", "<i4"), ("v", "<f4", (q.shape[1],))])
    rec["dim"], rec["v"] = q.shape[1], q
    rec.tofile(out / "queries.fvecs")
    (out / "queries.ids.txt").write_text("".join(f"{i}\n" for i in qids))
    with open(out / "queries.fbin", "wb") as f:
        np.array(q.shape, dtype="<u4").tofile(f)
        q.astype("<f4").tofile(f)
    unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    dist = 1 - unit(q) @ unit(x).T
    nb = np.argsort(dist, axis=1, kind="stable")[:, :100]
    with h5py.File(out / "ann.hdf5", "w") as f:
        f["train"], f["test"] = x, q
        f["neighbors"], f["distances"] = nb.astype(np.int32), np.take_along_axis(dist, nb, 1).astype(np.float32)
        f.attrs["distance"] = "angular"
    print(f"wrote {out}: docs.npy/.ids.txt/.parquet ({x.shape[0]}×{x.shape[1]}), queries.fvecs/.ids.txt/.fbin "
          f"({q.shape[0]}×{q.shape[1]}), ann.hdf5")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
