"""Scale: build-index reads vectors block by block (no full copy), IVF trains on a sample sized by rule, and the
query path reaches its ids and writes its run without pandas."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from vecrecall.artifacts import Manifest, load_embeddings, read_manifest, save_embeddings_from_array
from vecrecall.indexes import source as source_mod
from vecrecall.indexes.faiss import FaissIndex
from vecrecall.indexes.source import VectorRows
from vecrecall.indexes.store import ROW_DOCIDS, IndexDir, build_index, read_row_docids, write_row_docids
from vecrecall.io.runs import results_to_run, write_results, write_run
from vecrecall.vectorops import l2_normalize


def _matrix(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x[3] = 0.0  # a zero row stays zero
    return x


def _artifact(path, x: np.ndarray, ids: list[str] | None = None):
    path.mkdir()
    ids = ids or [f"d{i}" for i in range(len(x))]
    save_embeddings_from_array(path, x, pd.DataFrame({"id": ids}), Manifest("embeddings", params={"model": {"name": "t"}}))
    return path


# ------------------------------------------------------------------------------------------------- VectorRows


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_vector_rows_equal_the_prepared_matrix_bit_for_bit(tmp_path, monkeypatch, dtype):
    monkeypatch.setattr(source_mod, "BLOCK_BYTES", 7 * 16 * np.dtype(dtype).itemsize)  # 7-row blocks
    x = _matrix(100, 16).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    full = l2_normalize(x.astype(np.float32))
    rows = VectorRows(tmp_path / "x.npy", normalize=True)
    assert rows.shape == (100, 16) and rows.block_rows == 7
    assert np.array_equal(rows[:], full) and np.array_equal(np.asarray(rows), full)
    assert np.array_equal(rows[10:33], full[10:33]) and np.array_equal(rows[95:200], full[95:])
    assert np.array_equal(rows[-1], full[-1]) and np.array_equal(rows[3], np.zeros(16, np.float32))
    pick = np.array([99, 0, 50, 7, 7, -2])
    assert np.array_equal(rows[pick], full[pick])
    assert np.array_equal(rows[::9], full[::9])
    assert np.array_equal(np.stack(list(rows)), full)
    raw = VectorRows(tmp_path / "x.npy")
    assert np.array_equal(raw[5:9], x[5:9].astype(np.float32)) and raw[5:9].dtype == np.float32
    with pytest.raises(IndexError):
        rows[np.array([100])]


def test_vector_rows_refuse_a_fortran_matrix(tmp_path):
    np.save(tmp_path / "f.npy", np.asfortranarray(_matrix(10, 4)))
    with pytest.raises(ValueError, match="C-ordered"):
        VectorRows(tmp_path / "f.npy")


# ------------------------------------------------------------------------------------------------- build-index


def test_build_from_blocks_equals_build_from_the_prepared_matrix(tmp_path):
    """The IVF index build-index makes (blocks from the file, sample gathered block by block) is the index faiss
    makes from the whole normalised matrix with the same sample: identical bytes."""
    import faiss

    x = _matrix(3000, 32)
    emb = _artifact(tmp_path / "emb", x)
    m = build_index("faiss", tmp_path / "ivf", embeddings=emb, params={"index_type": "IVF", "nlist": 10}, seed=3)
    assert m.params["train_size"] == 640  # min(n, 64·nlist)
    direct = FaissIndex.build(l2_normalize(x), "cosine", {"index_type": "IVF", "nlist": 10}, seed=3)
    assert direct.params["train_size"] == 640
    ours = faiss.read_index(str(tmp_path / "ivf" / "index.faiss"))
    assert np.array_equal(faiss.serialize_index(ours), faiss.serialize_index(direct.index))


@pytest.mark.parametrize("params,expect", [({"index_type": "IVF", "nlist": 20}, 1280),
                                           ({"index_type": "IVFPQ", "nlist": 4, "pq_m": 4, "pq_bits": 6}, 4096),
                                           ({"index_type": "IVF", "nlist": 20, "train_size": 500}, 500),
                                           ({"index_type": "IVF", "nlist": 400}, 20_000),
                                           ({"index_type": "factory", "factory": "IVF8,Flat"}, 16384),
                                           ({"index_type": "factory", "factory": "IVF300,Flat"}, 19200)])
def test_train_size_rule_is_recorded(tmp_path, params, expect):
    """Default: min(n, 64·max(nlist, 2^pq_bits)); factory strings: min(n, 64·max(nlist, 256))."""
    emb = _artifact(tmp_path / "emb", _matrix(20_000, 8))
    m = build_index("faiss", tmp_path / "idx", embeddings=emb, params=params)
    assert m.params["train_size"] == expect
    assert read_manifest(tmp_path / "idx", expect="index").params["train_size"] == expect


def test_build_index_never_holds_a_copy_of_the_matrix(tmp_path, monkeypatch):
    """Python-side memory while building (tracemalloc sees numpy's buffers): blocks and the training sample only.
    The old path made a normalised float32 copy plus the norm's temporaries (≥ 2× the matrix)."""
    import vecrecall.indexes.faiss as faiss_backend

    monkeypatch.setattr(source_mod, "BLOCK_BYTES", 1 << 20)
    monkeypatch.setattr(faiss_backend, "ADD_BLOCK", 2048)
    x = _matrix(40_000, 256)  # 41 MB
    emb = _artifact(tmp_path / "emb", x)
    del x
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        m = build_index("faiss", tmp_path / "ivf", embeddings=emb, params={"index_type": "IVF", "nlist": 16})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    matrix_bytes = 40_000 * 256 * 4
    assert m.params["train_size"] == 1024
    assert peak < matrix_bytes / 4, f"peak {peak / 1e6:.1f} MB for a {matrix_bytes / 1e6:.1f} MB matrix"


def test_nan_row_is_refused_before_building(tmp_path, vr):
    x = _matrix(50, 8)
    x[17, 2] = np.nan
    emb = _artifact(tmp_path / "emb", x)
    r = vr("build-index", "--embeddings", emb, "--out", tmp_path / "idx")
    assert r.exit_code == 2 and "row 17 contains NaN or inf" in r.stderr
    assert not (tmp_path / "idx").exists()


# ------------------------------------------------------------------------------------------------- ids without pandas


def test_row_docids_copy_is_used_only_while_it_matches(tmp_path):
    ids = pd.DataFrame({"id": ["a#0", "a#1", "b#0"], "docid": ["a", "a", "b"], "chunk": [0, 1, 0]})
    ids.to_parquet(tmp_path / "ids.parquet", index=False)
    assert write_row_docids(tmp_path, ids)
    docids, columns = read_row_docids(tmp_path)
    assert docids.tolist() == ["a", "a", "b"] and docids.dtype == object and columns == ["id", "docid", "chunk"]
    pd.DataFrame({"id": ["x", "y", "z"]}).to_parquet(tmp_path / "ids.parquet", index=False)  # rewritten
    assert read_row_docids(tmp_path) is None
    odd = pd.DataFrame({"id": ["ok", "two\nlines"]})
    odd.to_parquet(tmp_path / "ids.parquet", index=False)
    (tmp_path / ROW_DOCIDS).unlink()
    assert not write_row_docids(tmp_path, odd) and not (tmp_path / ROW_DOCIDS).exists()


def test_index_without_the_copy_reads_ids_parquet(tmp_path):
    emb = _artifact(tmp_path / "emb", _matrix(30, 8), ids=[f" spaced {i}" if i % 7 == 0 else f"é{i}" for i in range(30)])
    build_index("faiss", tmp_path / "flat", embeddings=emb, params={"index_type": "Flat"})
    fast = IndexDir.load(tmp_path / "flat")
    assert fast._ids is None  # ids.parquet not read
    # an index written before row_docids.txt existed: delete it and its entry in the manifest's file sizes
    (tmp_path / "flat" / ROW_DOCIDS).unlink()
    m = json.loads((tmp_path / "flat" / "manifest.json").read_text())
    m["stats"]["files"].pop(ROW_DOCIDS)
    (tmp_path / "flat" / "manifest.json").write_text(json.dumps(m))
    slow = IndexDir.load(tmp_path / "flat")
    assert slow._ids is not None
    assert fast.row_docids.tolist() == slow.row_docids.tolist() == load_embeddings(emb).ids["id"].tolist()
    assert fast.columns == slow.columns == ["id"] and fast.ids.equals(slow.ids)


def test_embeddings_id_list_from_the_text_copy(tmp_path):
    emb = _artifact(tmp_path / "emb", _matrix(5, 4), ids=["q1", "q 2", "ü3", "4", "5.0"])
    loaded = load_embeddings(emb)
    assert loaded._id_text and loaded._ids is None and loaded.id_list() == ["q1", "q 2", "ü3", "4", "5.0"]
    assert loaded.ids["id"].astype(str).tolist() == loaded.id_list()
    (emb / "ids.txt").write_text("garbage")
    again = load_embeddings(emb)
    assert not again._id_text and again.id_list() == ["q1", "q 2", "ü3", "4", "5.0"]


def test_query_with_vector_queries_imports_neither_pandas_nor_pyarrow(sample_chain):
    code = (
        "import sys\n"
        "from vecrecall.cli.app import main\n"
        f"sys.argv = ['vecrecall', 'query', '--index', {str(sample_chain['flat'])!r}, '--queries', "
        f"{str(sample_chain['qemb'])!r}, '-k', '5', '--out', {str(sample_chain['dir'] / 'r.trec')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'vecrecall.encoders', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert len((sample_chain["dir"] / "r.trec").read_text().splitlines()) == 5 * 40


def test_query_run_matches_the_dataframe_writer(sample_chain, vr, tmp_path):
    """The TREC file `query` writes from arrays is the one write_run writes from the run table."""
    from vecrecall.search import run_query

    res = run_query(sample_chain["flat"], sample_chain["qemb"], k=7)
    write_run(res.run, tmp_path / "frame.trec", tag="t")
    hits = res.hits
    write_results(res.qids, hits.docids, hits.scores, hits.valid, tmp_path / "arrays.trec", tag="t")
    assert (tmp_path / "frame.trec").read_bytes() == (tmp_path / "arrays.trec").read_bytes()
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "7", "--run-tag", "t",
              "--out", tmp_path / "cli.trec").exit_code == 0
    assert (tmp_path / "cli.trec").read_bytes() == (tmp_path / "frame.trec").read_bytes()


def test_write_results_skips_empty_slots_like_results_to_run(tmp_path):
    docids = np.array([["a", "b", None], ["c", None, None]], dtype=object)
    scores = np.array([[0.5, 0.25, -np.inf], [1 / 3, -np.inf, -np.inf]], dtype=np.float32)
    valid = docids != None  # noqa: E711
    write_results(["q1", "q2"], docids, scores, valid, tmp_path / "a.trec")
    write_run(results_to_run(["q1", "q2"], docids, scores, valid), tmp_path / "b.trec")
    assert (tmp_path / "a.trec").read_bytes() == (tmp_path / "b.trec").read_bytes()
    assert (tmp_path / "a.trec").read_text().splitlines()[2] == f"q2 Q0 c 1 {float(np.float32(1 / 3))!r} vecrecall"
    write_results(["q1", "q2"], docids, scores, valid, tmp_path / "a.parquet")
    assert pd.read_parquet(tmp_path / "a.parquet").equals(results_to_run(["q1", "q2"], docids, scores, valid))
