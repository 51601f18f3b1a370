"""import-vectors: every format round-trips into an embeddings artifact, block by block; every bad input is one line."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import assert_user_error

from vecrecall.artifacts import load_embeddings
from vecrecall.io.vectors import importer

h5py = pytest.importorskip("h5py")

N, DIM = 50, 8


# ------------------------------------------------------------------------------------------------ writers


def vectors(n: int = N, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def write_texmex(path: Path, x: np.ndarray, dims: list[int] | None = None) -> Path:
    """TEXMEX records: int32 dim, then the values in the suffix's type; `dims` overrides each record's header."""
    values = {".fvecs": "<f4", ".bvecs": "u1", ".ivecs": "<i4"}[path.suffix]
    rec = np.empty(len(x), dtype=[("d", "<i4"), ("v", values, (x.shape[1],))])
    rec["d"] = dims if dims is not None else x.shape[1]
    rec["v"] = x
    rec.tofile(path)
    return path


def write_bin(path: Path, x: np.ndarray, n: int | None = None, dim: int | None = None) -> Path:
    values = {".fbin": "<f4", ".u8bin": "u1", ".i8bin": "i1", ".ibin": "<i4"}[path.suffix]
    with open(path, "wb") as f:
        np.array([n if n is not None else len(x), dim if dim is not None else x.shape[1]], "<u4").tofile(f)
        np.ascontiguousarray(x, dtype=values).tofile(f)
    return path


def brute_neighbors(train: np.ndarray, test: np.ndarray, metric: str, k: int) -> np.ndarray:
    if metric == "euclidean":
        d = ((test[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    else:
        a = train / np.linalg.norm(train, axis=1, keepdims=True)
        b = test / np.linalg.norm(test, axis=1, keepdims=True)
        d = 1 - b @ a.T
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def write_hdf5(path: Path, train: np.ndarray | None, test: np.ndarray | None, distance: str | None = "euclidean",
               k: int = 10, neighbors: np.ndarray | None = None) -> Path:
    """An ann-benchmarks file: train, test, neighbors (brute force), distances, attribute `distance`."""
    with h5py.File(path, "w") as f:
        if train is not None:
            f["train"] = train
        if test is not None:
            f["test"] = test
        if train is not None and test is not None and distance in ("euclidean", "angular"):
            nb = neighbors if neighbors is not None else brute_neighbors(train, test, distance, k)
            f["neighbors"] = nb.astype(np.int32)
            f["distances"] = np.zeros(nb.shape, np.float32)
        if distance is not None:
            f.attrs["distance"] = distance
    return path


def write_parquet(path: Path, x: np.ndarray, ids: list | None = None, fixed: bool = False, column: str = "emb",
                  **extra: list) -> Path:
    t = pa.list_(pa.from_numpy_dtype(x.dtype), x.shape[1]) if fixed else pa.list_(pa.from_numpy_dtype(x.dtype))
    cols = ({"id": ids} if ids is not None else {}) | {column: pa.array(list(x), type=t)} | extra
    pq.write_table(pa.table(cols), path)
    return path


def imported(out: Path):
    return load_embeddings(out)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 rows (50 is no multiple of 7), counting the blocks and their largest size."""
    monkeypatch.setattr(importer, "BLOCK_BYTES", 7 * DIM * 4)  # 7 rows of float32 (3 of float64)
    seen: list[int] = []
    real = importer._convert

    def spy(block, *a, **kw):
        seen.append(len(block))
        return real(block, *a, **kw)

    monkeypatch.setattr(importer, "_convert", spy)
    return seen


# ------------------------------------------------------------------------------------------------ round trips

X = vectors()
XI = np.random.default_rng(1).integers(0, 256, size=(N, DIM))
XS = np.random.default_rng(2).integers(-128, 128, size=(N, DIM))

ROUND_TRIPS = {
    "npy": lambda p: (np.save(p / "x.npy", X), p / "x.npy", X)[1:],
    "npy float64": lambda p: (np.save(p / "x.npy", X.astype(np.float64)), p / "x.npy", X)[1:],
    "npy float16": lambda p: (np.save(p / "x.npy", X.astype(np.float16)), p / "x.npy", X.astype(np.float16))[1:],
    "npy fortran": lambda p: (np.save(p / "x.npy", np.asfortranarray(X)), p / "x.npy", X)[1:],
    "npy big-endian": lambda p: (np.save(p / "x.npy", X.astype(">f4")), p / "x.npy", X)[1:],
    "npy uint8": lambda p: (np.save(p / "x.npy", XI.astype(np.uint8)), p / "x.npy", XI)[1:],
    "fvecs": lambda p: (write_texmex(p / "x.fvecs", X), X),
    "bvecs": lambda p: (write_texmex(p / "x.bvecs", XI), XI),
    "ivecs": lambda p: (write_texmex(p / "x.ivecs", XS * 1000), XS * 1000),
    "fbin": lambda p: (write_bin(p / "x.fbin", X), X),
    "u8bin": lambda p: (write_bin(p / "x.u8bin", XI), XI),
    "i8bin": lambda p: (write_bin(p / "x.i8bin", XS), XS),
    "ibin": lambda p: (write_bin(p / "x.ibin", XS), XS),
    "parquet list": lambda p: (write_parquet(p / "x.parquet", X), X),
    "parquet fixed-size list": lambda p: (write_parquet(p / "x.parquet", X, fixed=True), X),
    "parquet float64": lambda p: (write_parquet(p / "x.parquet", X.astype(np.float64)), X),
    "hdf5": lambda p: (write_hdf5(p / "x.hdf5", X, vectors(5, seed=9)), X),
}


@pytest.mark.parametrize("kind", list(ROUND_TRIPS))
def test_round_trip_every_format(kind, tmp_path, vr, small_blocks):
    src, expected = ROUND_TRIPS[kind](tmp_path)
    r = vr("import-vectors", src, "--out", tmp_path / "emb")
    assert r.exit_code == 0, r.stderr
    assert f"{N} × {DIM} corpus vectors" in r.stdout and "row numbers 0…49" in r.stdout
    emb = imported(tmp_path / "emb")
    assert emb.vectors.dtype == np.float32
    np.testing.assert_array_equal(emb.vectors, np.asarray(expected, dtype=np.float32))
    assert emb.ids["id"].tolist() == [str(i) for i in range(N)]
    model = emb.manifest.params["model"]
    assert model["name"] == "external" and model["source"] == str(src.resolve())
    assert model["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest() == emb.manifest.inputs["source"]["sha256"]
    assert emb.manifest.params["role"] == "corpus" and emb.manifest.stats["rows"] == N
    assert len(small_blocks) >= 8 and max(small_blocks) <= 7  # streamed in blocks, none larger than the block size


def test_npy_output_is_what_numpy_save_writes(tmp_path, vr, small_blocks):
    np.save(tmp_path / "x.npy", X)
    assert vr("import-vectors", tmp_path / "x.npy", "--out", tmp_path / "emb").exit_code == 0
    assert (tmp_path / "emb" / "embeddings.npy").read_bytes() == (tmp_path / "x.npy").read_bytes()


def test_library_block_rows_and_float16(tmp_path):
    write_texmex(tmp_path / "x.fvecs", X)
    res = importer.import_vectors(tmp_path / "x.fvecs", tmp_path / "emb", dtype="float16", block_rows=3)
    emb = imported(tmp_path / "emb")
    assert emb.vectors.dtype == np.float16
    np.testing.assert_array_equal(emb.vectors, X.astype(np.float16))
    assert res.manifest.params["dtype"] == "float16"


@pytest.mark.parametrize("suffix", [".txt", ".txt.gz", ".parquet"])
def test_ids_file(suffix, tmp_path, vr):
    np.save(tmp_path / "x.npy", X)
    ids = [f"doc-{i}" for i in range(N)]
    p = tmp_path / f"ids{suffix}"
    if suffix == ".parquet":
        pd.DataFrame({"id": ids}).to_parquet(p)
    elif suffix == ".txt.gz":
        p.write_bytes(gzip.compress(("\n".join(ids) + "\n\n").encode()))  # trailing blank lines are not ids
    else:
        p.write_text("\n".join(f" {i} " for i in ids) + "\n")  # the id rule strips surrounding spaces
    r = vr("import-vectors", tmp_path / "x.npy", "--ids", p, "--out", tmp_path / "emb")
    assert r.exit_code == 0, r.stderr
    emb = imported(tmp_path / "emb")
    assert emb.ids["id"].tolist() == ids
    assert emb.manifest.inputs["ids"]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_parquet_id_column_auto_and_named(tmp_path, vr):
    # float ids (how Parquet stores integer ids that had a gap) follow the one id rule: 7.0 → "7"
    write_parquet(tmp_path / "x.parquet", X, ids=None, docno=[float(i + 7) for i in range(N)],
                  other=[f"o{i}" for i in range(N)])
    r = vr("import-vectors", tmp_path / "x.parquet", "--out", tmp_path / "a")
    assert r.exit_code == 0, r.stderr
    assert "column 'docno'" in r.stdout
    assert imported(tmp_path / "a").ids["id"].tolist()[:3] == ["7", "8", "9"]
    r = vr("import-vectors", tmp_path / "x.parquet", "--id-column", "other", "--out", tmp_path / "b")
    assert r.exit_code == 0, r.stderr
    assert imported(tmp_path / "b").ids["id"].tolist()[:2] == ["o0", "o1"]


def test_parquet_vector_column_chosen(tmp_path, vr):
    pq.write_table(pa.table({"a": pa.array(list(X), type=pa.list_(pa.float32())),
                             "b": pa.array(list(X * 2), type=pa.list_(pa.float32()))}), tmp_path / "x.parquet")
    assert vr("import-vectors", tmp_path / "x.parquet", "--vector-column", "b", "--out", tmp_path / "e").exit_code == 0
    np.testing.assert_array_equal(imported(tmp_path / "e").vectors, X * 2)


def test_hdf5_metric_role_and_dataset(tmp_path, vr):
    test = vectors(5, seed=9)
    write_hdf5(tmp_path / "x.hdf5", X, test, distance="angular")
    r = vr("import-vectors", tmp_path / "x.hdf5", "--dataset", "test", "--out", tmp_path / "q")
    assert r.exit_code == 0, r.stderr
    q = imported(tmp_path / "q")
    np.testing.assert_array_equal(q.vectors, test)
    p = q.manifest.params
    assert (p["role"], p["metric"], p["model"]["dataset"], p["model"]["distance"]) == ("queries", "cosine", "test", "angular")
    assert "5 × 8 query vectors" in r.stdout and "metric cosine" in r.stdout
    r = vr("import-vectors", tmp_path / "x.hdf5", "--out", tmp_path / "c", "--json")
    assert json.loads(r.stdout)["params"]["role"] == "corpus"


@pytest.mark.parametrize("hint,metric", [("l2", "l2"), ("angular", "cosine"), ("dot", "ip")])
def test_metric_hint_recorded(hint, metric, tmp_path, vr):
    write_bin(tmp_path / "x.fbin", X)
    r = vr("import-vectors", tmp_path / "x.fbin", "--metric-hint", hint, "--out", tmp_path / "e")
    assert r.exit_code == 0, r.stderr
    assert imported(tmp_path / "e").manifest.params["metric"] == metric
    assert f"--metric {metric}" in r.stdout


def test_zero_vectors_warned(tmp_path, vr):
    x = X.copy()
    x[[4, 9]] = 0
    np.save(tmp_path / "x.npy", x)
    r = vr("import-vectors", tmp_path / "x.npy", "--out", tmp_path / "e")
    assert r.exit_code == 0
    assert "2 all-zero vector(s), the first with id '4'" in r.stderr
    assert imported(tmp_path / "e").manifest.stats["zero_rows"] == 2


# ------------------------------------------------------------------------------------------------ downstream


def _run_lines(path: Path) -> list[str]:
    return [" ".join(line.split()[:5]) for line in path.read_text().splitlines()]


def test_imported_vectors_query_like_the_originals(tmp_path, vr):
    """build-index + query on imported .npy/.fvecs vectors = the same on the same vectors saved by vecrecall."""
    from vectors import write_vectors

    x, q = vectors(200, 16, seed=3), vectors(12, 16, seed=4)
    write_vectors(tmp_path / "orig", x)
    write_vectors(tmp_path / "orig-q", q, prefix="q")
    assert vr("build-index", "--embeddings", tmp_path / "orig", "--metric", "ip", "--out", tmp_path / "i0").exit_code == 0
    assert vr("query", "--index", tmp_path / "i0", "--queries", tmp_path / "orig-q", "-k", "10",
              "--out", tmp_path / "a.run").exit_code == 0

    np.save(tmp_path / "x.npy", x)
    (tmp_path / "x.ids.txt").write_text("".join(f"d{i}\n" for i in range(200)))
    write_texmex(tmp_path / "q.fvecs", q)
    (tmp_path / "q.ids.txt").write_text("".join(f"q{i}\n" for i in range(12)))
    assert vr("import-vectors", tmp_path / "x.npy", "--ids", tmp_path / "x.ids.txt", "--out", tmp_path / "emb").exit_code == 0
    assert vr("import-vectors", tmp_path / "q.fvecs", "--ids", tmp_path / "q.ids.txt", "--role", "queries",
              "--out", tmp_path / "qemb").exit_code == 0
    assert vr("build-index", "--embeddings", tmp_path / "emb", "--metric", "ip", "--out", tmp_path / "i1").exit_code == 0
    r = vr("query", "--index", tmp_path / "i1", "--queries", tmp_path / "qemb", "-k", "10", "--out", tmp_path / "b.run")
    assert r.exit_code == 0, r.stderr
    assert _run_lines(tmp_path / "b.run") == _run_lines(tmp_path / "a.run")
    assert len(_run_lines(tmp_path / "b.run")) == 120


def test_hdf5_train_test_query_finds_the_files_neighbors(tmp_path, vr):
    train, test = vectors(300, 12, seed=5), vectors(20, 12, seed=6)
    write_hdf5(tmp_path / "ab.hdf5", train, test, "euclidean", k=10)
    assert vr("import-vectors", tmp_path / "ab.hdf5", "--out", tmp_path / "emb").exit_code == 0
    assert vr("import-vectors", tmp_path / "ab.hdf5", "--dataset", "test", "--out", tmp_path / "qemb").exit_code == 0
    assert vr("build-index", "--embeddings", tmp_path / "emb", "--metric", "l2", "--out", tmp_path / "flat").exit_code == 0
    assert vr("query", "--index", tmp_path / "flat", "--queries", tmp_path / "qemb", "-k", "10", "--format", "parquet",
              "--out", tmp_path / "run.parquet").exit_code == 0
    run = pd.read_parquet(tmp_path / "run.parquet").sort_values(["qid", "rank"])
    got = run.groupby("qid", sort=False)["docid"].apply(list)
    with h5py.File(tmp_path / "ab.hdf5") as f:
        nb = f["neighbors"][()]
    for qid, docs in got.items():
        assert docs == [str(d) for d in nb[int(qid)]]


def test_require_query_vectors_message(tmp_path):
    from vecrecall.artifacts import read_manifest
    from vecrecall.errors import UserError
    from vecrecall.io.vectors.external import require_query_vectors

    np.save(tmp_path / "x.npy", X)
    importer.import_vectors(tmp_path / "x.npy", tmp_path / "emb")
    with pytest.raises(UserError, match="imported from .*x.npy .model 'external'.*import-vectors .*--role queries"):
        require_query_vectors("runs/flat", read_manifest(tmp_path / "emb"))
    from vectors import write_vectors

    require_query_vectors("runs/flat", read_manifest(write_vectors(tmp_path / "own", X)))  # not imported: no error


def test_metric_warning_for_build_index(tmp_path):
    from vecrecall.artifacts import read_manifest
    from vecrecall.io.vectors.external import metric_warning

    write_hdf5(tmp_path / "x.hdf5", X, vectors(5, seed=9), "euclidean")
    importer.import_vectors(tmp_path / "x.hdf5", tmp_path / "emb")
    m = read_manifest(tmp_path / "emb")
    assert metric_warning(m, "l2") is None
    assert metric_warning(m, "cosine") == ("--metric cosine: the vectors were imported for l2 (file attribute "
                                           "distance='euclidean'); neighbours by cosine will differ from the source's "
                                           "(pass --metric l2 to match it)")
    np.save(tmp_path / "x.npy", X)
    importer.import_vectors(tmp_path / "x.npy", tmp_path / "plain")
    assert metric_warning(read_manifest(tmp_path / "plain"), "cosine") is None  # nothing recorded, nothing to say


def test_query_texts_against_imported_vectors_is_refused_clearly(tmp_path, vr, sample):
    np.save(tmp_path / "x.npy", vectors(30, 64))
    assert vr("import-vectors", tmp_path / "x.npy", "--out", tmp_path / "emb").exit_code == 0
    assert vr("build-index", "--embeddings", tmp_path / "emb", "--out", tmp_path / "flat").exit_code == 0
    r = vr("query", "--index", tmp_path / "flat", "--queries", sample, "--out", tmp_path / "r.run")
    assert_user_error(r, "imported from", "cannot encode query texts", "import-vectors")


# ------------------------------------------------------------------------------------------------ sweep on HDF5


def test_hdf5_neighbors_as_ground_truth(tmp_path):
    from vecrecall.io.vectors.annbench import file_ground_truth, sweep_data_from_hdf5
    from vecrecall.sweep.groundtruth import exact_topk

    train, test = vectors(400, 16, seed=7), vectors(30, 16, seed=8)
    write_hdf5(tmp_path / "a.hdf5", train, test, "angular", k=20)
    data, nb = sweep_data_from_hdf5(tmp_path / "a.hdf5")
    assert data.metric == "cosine" and data.n == 400 and len(data.qids) == 30 and nb.k == 20
    gt, check = file_ground_truth(data, nb, 10, sample=25, seed=1)
    assert check.ok and check.sampled == 25 and check.recall == 1.0
    assert "agrees on all 25" in check.status()
    np.testing.assert_array_equal(gt.positions, exact_topk(data.corpus, data.queries, "cosine", 10).positions)

    wrong = brute_neighbors(train, test, "euclidean", 20)  # neighbours by another metric than the file says
    write_hdf5(tmp_path / "b.hdf5", train, test, "angular", neighbors=wrong)
    data, nb = sweep_data_from_hdf5(tmp_path / "b.hdf5")
    gt, check = file_ground_truth(data, nb, 10, sample=30)
    assert not check.ok and check.recall < 1.0
    assert f"disagree with brute force (cosine) on {30 - check.agree} of 30 sampled queries" in check.status()
    np.testing.assert_array_equal(np.sort(gt.positions, 1), np.sort(wrong[:, :10], 1))  # the file's, as ann-benchmarks


def test_sweep_runs_on_the_files_ground_truth(tmp_path, monkeypatch):
    """What `sweep FILE.hdf5` does once wired: run_sweep with the file's neighbours instead of cached_topk."""
    from vecrecall.io.vectors.annbench import ground_truth_hook, sweep_data_from_hdf5
    from vecrecall.sweep import runner
    from vecrecall.sweep.grid import BuildSet

    write_hdf5(tmp_path / "a.hdf5", vectors(300, 8, seed=1), vectors(20, 8, seed=2), "euclidean", k=10)
    data, nb = sweep_data_from_hdf5(tmp_path / "a.hdf5")
    hook = ground_truth_hook(data, nb, seed=0)
    calls: list[int] = []

    def from_file(corpus, queries, metric, k, cache_dir):
        calls.append(k)
        return hook(k)

    monkeypatch.setattr(runner, "cached_topk", from_file)
    outcome = runner.run_sweep(data, [BuildSet("flat", "faiss", {"index_type": "Flat"})],
                               runner.SweepSettings(ks=[10], passes=1, warmup=0, threads=1))
    assert calls == [10]
    assert outcome.table["recall@10"].tolist() == [1.0]
    assert "brute force agrees" in outcome.ground_truth


def test_sweep_hdf5_bad_input(tmp_path):
    from vecrecall.errors import UserError
    from vecrecall.io.vectors.annbench import file_ground_truth, sweep_data_from_hdf5

    write_hdf5(tmp_path / "a.hdf5", X, vectors(5, seed=9), "euclidean", k=10)
    with pytest.raises(UserError, match=r"--metric ip: .*a.hdf5 says its distance is 'euclidean' \(l2\); drop --metric "):
        sweep_data_from_hdf5(tmp_path / "a.hdf5", "ip")
    data, nb = sweep_data_from_hdf5(tmp_path / "a.hdf5", "l2")
    with pytest.raises(UserError, match="-k 11: .* holds 10 neighbours per query"):
        file_ground_truth(data, nb, 11)
    write_hdf5(tmp_path / "b.hdf5", X, None, "euclidean")
    with pytest.raises(UserError, match="no 'test' dataset"):
        sweep_data_from_hdf5(tmp_path / "b.hdf5")
    write_hdf5(tmp_path / "c.hdf5", X, vectors(5, seed=9), "euclidean", neighbors=np.full((5, 10), N))
    with pytest.raises(UserError, match="query 0, neighbour 0 is row 50, outside 'train'"):
        sweep_data_from_hdf5(tmp_path / "c.hdf5")


def test_sweep_cli_takes_an_hdf5_file(tmp_path, vr):
    from vecrecall.io.vectors.annbench import file_ground_truth, sweep_data_from_hdf5
    from vecrecall.sweep.groundtruth import exact_topk, recall_at

    train, test = vectors(300, 8, seed=1), vectors(20, 8, seed=2)
    wrong = brute_neighbors(train, test, "euclidean", 10)  # but the file says angular: its answer key is off
    write_hdf5(tmp_path / "a.hdf5", train, test, "angular", neighbors=wrong)
    r = vr("sweep", "--embeddings", tmp_path / "a.hdf5", "--backend", "faiss", "--index-type", "Flat", "-k", "10",
           "--passes", "1", "--warmup", "0", "--json")
    assert r.exit_code == 0, r.stderr
    data, nb = sweep_data_from_hdf5(tmp_path / "a.hdf5")
    gt, check = file_ground_truth(data, nb, 10)
    assert not check.ok and check.status() in r.stderr.replace("\n", "")
    flat = exact_topk(data.corpus, data.queries, "cosine", 10).positions  # what a Flat index returns
    expected = float(recall_at(gt, flat, data.corpus, data.queries, "cosine", 10).mean())
    assert [row["recall@10"] for row in json.loads(r.stdout)["rows"]] == [pytest.approx(expected)]


# ------------------------------------------------------------------------------------------------ bad input


def _npy(p: Path, arr, name: str = "x.npy", **kw) -> Path:
    np.save(p / name, arr, **kw)
    return p / name


def _nan_row(p: Path) -> Path:
    x = X.copy()
    x[17, 3] = np.nan
    return write_bin(p / "x.fbin", x)


def _truncate(path: Path, drop: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:-drop])
    return path


def _ids(p: Path, lines: list[str]) -> Path:
    (p / "ids.txt").write_text("".join(f"{x}\n" for x in lines))
    return p / "ids.txt"


def _pq_ragged(p: Path) -> Path:
    rows = [list(map(float, r)) for r in X]
    rows[4] = rows[4][:7]
    pq.write_table(pa.table({"emb": pa.array(rows, type=pa.list_(pa.float32()))}), p / "x.parquet")
    return p / "x.parquet"


def _pq_null(p: Path, inner: bool) -> Path:
    rows: list = [list(map(float, r)) for r in X]
    if inner:
        rows[6][3] = None
    else:
        rows[2] = None
    pq.write_table(pa.table({"emb": pa.array(rows, type=pa.list_(pa.float32()))}), p / "x.parquet")
    return p / "x.parquet"


def _hdf5_dataset(p: Path, name: str, value) -> Path:
    with h5py.File(p / "x.hdf5", "w") as f:
        f[name] = value
        f.attrs["distance"] = "euclidean"
    return p / "x.hdf5"


def _gz(p: Path) -> Path:
    write_texmex(p / "raw.fvecs", X)
    (p / "x.fvecs").write_bytes(gzip.compress((p / "raw.fvecs").read_bytes()))
    return p / "x.fvecs"


# (name, make(tmp_path) -> (file, extra args), expected fragments of the one error line)
BAD = [
    ("npy wrong magic", lambda p: ((p / "x.npy").write_text("id,vec\n1,2\n") and p / "x.npy", []), ["x.npy: not a .npy file", "numpy.save"]),
    ("npz named npy", lambda p: ((np.savez(p / "x.npz", a=X), (p / "x.npz").rename(p / "x.npy"))[1], []), ["an .npz archive"]),
    ("npy truncated", lambda p: (_truncate(_npy(p, X), 40), []), ["x.npy: the header says 50 × 8 float32", "truncated"]),
    ("npy trailing bytes", lambda p: ((_npy(p, X), open(p / "x.npy", "ab").write(b"xx"))[0], []), ["longer than its header says"]),
    ("npy damaged header", lambda p: ((p / "x.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': garbage"), p / "x.npy")[1:] + ([],), ["damaged .npy header"]),
    ("npy 1-d", lambda p: (_npy(p, X[0]), []), ["expected a 2-d matrix (rows × dim), got shape (8,)"]),
    ("npy objects", lambda p: (_npy(p, np.array([[1, "a"]], dtype=object), allow_pickle=True), []), ["holds Python objects"]),
    ("npy complex", lambda p: (_npy(p, X.astype(np.complex64)), []), ["values of type complex64 are not supported"]),
    ("npy bool", lambda p: (_npy(p, X > 0), []), ["values of type bool are not supported"]),
    ("npy strings", lambda p: (_npy(p, np.array([["a", "b"]])), []), ["values of type <U1 are not supported"]),
    ("npy empty", lambda p: (_npy(p, np.zeros((0, 8), np.float32)), []), ["holds no vectors"]),
    ("npy NaN row", lambda p: (_npy(p, np.where(np.arange(N)[:, None] == 23, np.nan, X)), []), ["x.npy row 23 (id '23'): contains NaN or inf"]),
    ("npy inf row with ids", lambda p: (_npy(p, np.where(np.arange(N)[:, None] == 3, np.inf, X)), ["--ids", _ids(p, [f"d{i}" for i in range(N)])]), ["row 3 (id 'd3'): contains NaN or inf"]),
    ("float64 beyond float32", lambda p: (_npy(p, np.where(np.arange(N)[:, None] == 8, 1e300, X.astype(np.float64))), []), ["row 8 (id '8'): a value is too large for float32"]),
    ("beyond float16", lambda p: (_npy(p, X * 1e5), ["--dtype", "float16"]), ["too large for float16", "use --dtype float32"]),
    ("below float32", lambda p: (_npy(p, np.where(np.arange(N)[:, None] == 4, X.astype(np.float64) * 1e-50, X.astype(np.float64))), []), ["x.npy row 4 (id '4'): values too small for float32", "normalise or rescale"]),
    ("below float16", lambda p: (_npy(p, np.where(np.arange(N)[:, None] == 6, X * 1e-6, X)), ["--dtype", "float16"]), ["x.npy row 6 (id '6'): values too small for float16", "use --dtype float32"]),
    ("int beyond float32", lambda p: (_npy(p, np.full((N, DIM), 2**24 + 1, np.int64)), []), ["row 0 (id '0'): integer value 16777217 has no exact float32 form"]),
    ("ids count", lambda p: (_npy(p, X), ["--ids", _ids(p, [f"d{i}" for i in range(N - 1)])]), ["ids.txt: 49 ids but", "has 50 vectors"]),
    ("ids header line", lambda p: (_npy(p, X), ["--ids", _ids(p, ["id"] + [f"d{i}" for i in range(N)])]), ["51 ids", "header line"]),
    ("ids duplicate", lambda p: (_npy(p, X), ["--ids", _ids(p, ["a", "b", "c", "d", "b"] + [f"d{i}" for i in range(N - 5)])]), ["ids.txt line 5: id 'b' repeats line 2"]),
    ("ids empty line", lambda p: (_npy(p, X), ["--ids", _ids(p, ["a", "", "c"] + [f"d{i}" for i in range(N - 3)])]), ["ids.txt line 2: empty id"]),
    ("ids parquet duplicate", lambda p: (_npy(p, X), ["--ids", (pd.DataFrame({"id": [1] * N}).to_parquet(p / "i.parquet"), p / "i.parquet")[1]]), ["i.parquet row 1: id '1' repeats row 0"]),
    ("ids missing", lambda p: (_npy(p, X), ["--ids", p / "nope.txt"]), ["--ids", "nope.txt: no such file"]),
    ("fvecs dimension header", lambda p: (write_texmex(p / "x.fvecs", X, dims=[8] * 5 + [7] + [8] * 44), []), ["x.fvecs: record 5: its dimension header says 7 but record 0 says 8"]),
    ("fvecs truncated", lambda p: (_truncate(write_texmex(p / "x.fvecs", X), 5), []), ["x.fvecs: record 49 is truncated", "ends 31 bytes into it"]),
    ("fvecs not texmex", lambda p: ((p / "x.fvecs").write_text("hello world, not vectors\n"), p / "x.fvecs")[1:] + ([],), ["record 0: its dimension header says", "not a .fvecs file"]),
    ("fvecs too short", lambda p: ((p / "x.fvecs").write_bytes(b"\x08\x00"), p / "x.fvecs")[1:] + ([],), ["2 bytes, too short"]),
    ("fvecs NaN record", lambda p: (write_texmex(p / "x.fvecs", np.where(np.arange(N)[:, None] == 11, np.nan, X)), []), ["x.fvecs record 11 (id '11'): contains NaN or inf"]),
    ("fvecs gzip", lambda p: (_gz(p), []), ["gzip-compressed", "gunzip"]),
    ("ivecs beyond float32", lambda p: (write_texmex(p / "x.ivecs", np.full((N, DIM), 2**25 + 1)), []), ["record 0 (id '0'): integer value 33554433"]),
    ("fbin truncated", lambda p: (_truncate(write_bin(p / "x.fbin", X), 4), []), ["x.fbin: the header says 50 vectors × 8 float32 = 1,608 bytes", "1,604", "truncated"]),
    ("fbin header n", lambda p: (write_bin(p / "x.fbin", X, n=60), []), ["header says 60 vectors", "truncated"]),
    ("fbin longer", lambda p: (write_bin(p / "x.fbin", X, n=40), []), ["longer than the header says"]),
    ("ibin ground truth", lambda p: ((write_bin(p / "x.ibin", XS), open(p / "x.ibin", "ab").write(XS.astype("<f4").tobytes()))[0], []), ["big-ann ground-truth file"]),
    ("fbin short", lambda p: ((p / "x.fbin").write_bytes(b"\x01\x00"), p / "x.fbin")[1:] + ([],), ["too short for the .fbin header"]),
    ("fbin NaN row", lambda p: (_nan_row(p), []), ["x.fbin row 17 (id '17'): contains NaN or inf"]),
    ("hdf5 without train", lambda p: (write_hdf5(p / "x.hdf5", None, X), []), ["x.hdf5: no 'train' dataset (it holds: test)", "--dataset"]),
    ("hdf5 dataset asked", lambda p: (write_hdf5(p / "x.hdf5", X, X), ["--dataset", "learn"]), ["no 'learn' dataset (it holds: distances, neighbors, test, train)"]),
    ("hdf5 neighbors", lambda p: (write_hdf5(p / "x.hdf5", X, X), ["--dataset", "neighbors"]), ["x.hdf5 dataset 'neighbors': is the ann-benchmarks ground truth", "--dataset train or test"]),
    ("hdf5 not hdf5", lambda p: ((p / "x.hdf5").write_text("not hdf5"), p / "x.hdf5")[1:] + ([],), ["x.hdf5: not an HDF5 file"]),
    ("hdf5 truncated", lambda p: (_truncate(write_hdf5(p / "x.hdf5", vectors(2000, 64), vectors(5, 64)), 300000), []), ["x.hdf5", "is the"]),
    ("hdf5 hamming", lambda p: (write_hdf5(p / "x.hdf5", X, X, distance="hamming"), []), ["distance attribute is 'hamming'", "--metric-hint"]),
    ("hdf5 hint contradicts", lambda p: (write_hdf5(p / "x.hdf5", X, X, distance="angular"), ["--metric-hint", "l2"]), ["--metric-hint l2:", "'angular' (cosine)"]),
    ("hdf5 1-d", lambda p: (_hdf5_dataset(p, "train", np.arange(10.0)), []), ["dataset 'train': expected a 2-d matrix"]),
    ("hdf5 strings", lambda p: (_hdf5_dataset(p, "train", np.array([[b"a", b"b"]])), []), ["dataset 'train': values of type |S1 are not supported"]),
    ("hdf5 NaN", lambda p: (write_hdf5(p / "x.hdf5", np.where(np.arange(N)[:, None] == 30, np.nan, X), None), []), ["x.hdf5 row 30 (id '30'): contains NaN or inf"]),
    ("parquet no list column", lambda p: ((pd.DataFrame({"id": ["a"], "v": [1.0]}).to_parquet(p / "x.parquet")), p / "x.parquet")[1:] + ([],), ["no list-of-numbers column", "v: double", "--vector-column"]),
    ("parquet list of strings", lambda p: ((pq.write_table(pa.table({"v": [["a", "b"]]}), p / "x.parquet")), p / "x.parquet")[1:] + ([],), ["no list-of-numbers column", "v: list<element: string>"]),
    ("parquet two list columns", lambda p: ((pq.write_table(pa.table({"a": [[1.0]], "b": [[2.0]]}), p / "x.parquet")), p / "x.parquet")[1:] + ([],), ["several list-of-numbers columns (a, b)", "--vector-column"]),
    ("parquet ragged", lambda p: (_pq_ragged(p), []), ["x.parquet column 'emb' row 4: 7 values but row 0 has 8"]),
    ("parquet null vector", lambda p: (_pq_null(p, inner=False), []), ["column 'emb' row 2: no vector (null)"]),
    ("parquet null value", lambda p: (_pq_null(p, inner=True), []), ["column 'emb' row 6: value 3 is missing"]),
    ("parquet NaN", lambda p: (write_parquet(p / "x.parquet", np.where(np.arange(N)[:, None] == 9, np.nan, X), ids=[f"d{i}" for i in range(N)]), []), ["x.parquet row 9 (id 'd9'): contains NaN or inf"]),
    ("parquet duplicate ids", lambda p: (write_parquet(p / "x.parquet", X, ids=["a"] * N), []), ["x.parquet column 'id' row 1: id 'a' repeats row 0; ids must be unique"]),
    ("parquet empty id", lambda p: (write_parquet(p / "x.parquet", X, ids=[None] + ["a"] * (N - 1)), []), ["x.parquet row 0: empty or missing id in column 'id'"]),
    ("parquet vector column missing", lambda p: (write_parquet(p / "x.parquet", X), ["--vector-column", "vec"]), ["--vector-column vec:", "no such column (columns: emb: list<element: float>)"]),
    ("parquet vector column not a list", lambda p: (write_parquet(p / "x.parquet", X, ids=list(range(N))), ["--vector-column", "id"]), ["--vector-column id:", "stores it as int64, not a list of numbers"]),
    ("parquet id column missing", lambda p: (write_parquet(p / "x.parquet", X), ["--id-column", "key"]), ["--id-column key:", "no such column"]),
    ("parquet corrupt", lambda p: ((p / "x.parquet").write_bytes(b"PAR1 this is not parquet"), p / "x.parquet")[1:] + ([],), ["x.parquet: not a readable Parquet file"]),
    ("unknown suffix", lambda p: ((p / "x.csv").write_text("1,2\n"), p / "x.csv")[1:] + ([],), ["x.csv: unknown vector file type '.csv'", ".fvecs"]),
    ("missing file", lambda p: (p / "nope.npy", []), ["nope.npy: no such file or directory"]),
    ("id column on npy", lambda p: (_npy(p, X), ["--id-column", "id"]), ["--id-column applies to Parquet files"]),
    ("dataset on npy", lambda p: (_npy(p, X), ["--dataset", "test"]), ["--dataset applies to HDF5 files"]),
    ("ids and id column", lambda p: (write_parquet(p / "x.parquet", X), ["--ids", _ids(p, list(range(N))), "--id-column", "id"]), ["--ids and --id-column both name the ids"]),
    ("dtype", lambda p: (_npy(p, X), ["--dtype", "float64"]), ["--dtype float64: use float32 or float16"]),
    ("role", lambda p: (_npy(p, X), ["--role", "docs"]), ["--role docs: use corpus or queries"]),
    ("metric hint", lambda p: (_npy(p, X), ["--metric-hint", "manhattan"]), ["--metric-hint manhattan: choose ip, l2 or cosine"]),
]


@pytest.mark.parametrize("name,make,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line(name, make, fragments, tmp_path, vr):
    src, extra = make(tmp_path)
    out = tmp_path / "out"
    r = vr("import-vectors", src, *extra, "--out", out)
    assert_user_error(r, *map(str, fragments))
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary left behind


def test_bad_input_through_the_installed_entry_point(tmp_path):
    import subprocess
    import sys

    write_texmex(tmp_path / "x.fvecs", X, dims=[8] * 5 + [9] + [8] * 44)
    r = subprocess.run([sys.executable, "-m", "vecrecall.cli.app", "import-vectors", str(tmp_path / "x.fvecs"),
                        "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"error: {tmp_path / 'x.fvecs'}: record 5: its dimension header says 9 but "
                                             "record 0 says 8; every record must have the same dimension (the file "
                                             "is damaged or joins files of different dimensions)"]
    assert not (tmp_path / "out").exists()


def test_out_that_is_the_input_is_refused(tmp_path, vr):
    src = _npy(tmp_path, X)
    r = vr("import-vectors", src, "--out", src, "--overwrite")
    assert_user_error(r, f"{src}: is (or holds, or is part of) the input {src}")
    assert src.read_bytes()[:6] == b"\x93NUMPY"
    r = vr("import-vectors", src, "--out", tmp_path, "--overwrite")
    # Refused either as the input's folder or as a folder vecrecall did not write; the input is kept.
    assert_user_error(r, str(tmp_path))
    assert src.read_bytes()[:6] == b"\x93NUMPY"


def test_existing_out_refused_and_kept_on_failed_overwrite(tmp_path, vr):
    src = _npy(tmp_path, X)
    assert vr("import-vectors", src, "--out", tmp_path / "emb").exit_code == 0
    before = (tmp_path / "emb" / "embeddings.npy").read_bytes()
    assert_user_error(vr("import-vectors", src, "--out", tmp_path / "emb"), "already exists", "--overwrite")
    bad = _npy(tmp_path, np.where(np.arange(N)[:, None] == 40, np.nan, X), name="bad.npy")
    assert_user_error(vr("import-vectors", bad, "--out", tmp_path / "emb", "--overwrite"), "row 40")
    assert (tmp_path / "emb" / "embeddings.npy").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".emb")]
