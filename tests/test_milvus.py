"""The Milvus backend: milvus-lite inside the index directory by default, a server by URI (here a milvus-lite gRPC
server on loopback stands in for Milvus standalone). Known answers against exact search and faiss Flat, the index
really used (IVF nprobe=1 loses recall), moving the index directory, and the bad-input errors."""

from __future__ import annotations

import json
import shutil
import socket
import time

import numpy as np
import pandas as pd
import pytest

from conftest import assert_user_error
from vectors import clustered, exact, write_vectors
from vecrecall.encoders import l2_normalize
from vecrecall.indexes.store import IndexDir, build_index
from vecrecall.io.runs import read_run

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

N, D, NQ, K = 1200, 16, 30, 10


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    x, q = clustered(N, NQ, D, clusters=12, spread=0.4, seed=11)
    return write_vectors(tmp_path_factory.mktemp("milvus-vectors") / "emb", x), x, q


@pytest.fixture
def server(tmp_path):
    """A Milvus-protocol server on 127.0.0.1 (milvus-lite's gRPC server in a thread): http://127.0.0.1:PORT."""
    from milvus_lite.adapter.grpc.server import start_server_in_thread

    srv, db, port = start_server_in_thread(str(tmp_path / "server-data"), host="127.0.0.1", port=0)
    yield f"http://127.0.0.1:{port}", db
    srv.stop(grace=0)
    db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_flat_is_exact_with_vecrecall_scores(data, tmp_path, metric):
    path, x, q = data
    build_index("milvus", tmp_path / "m", embeddings=path, metric=metric, params={"index_type": "FLAT"})
    index = IndexDir.load(tmp_path / "m")
    scores, pos = index.search(index.prepare(q), K)
    top, full = exact(x, q, metric, K)
    assert (pos == top).mean() == 1.0
    # same score convention as every backend: cosine/ip similarity, l2 = -squared distance; sorted best first
    np.testing.assert_allclose(scores, np.take_along_axis(full, top, 1), rtol=1e-4, atol=1e-4)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    assert index.index.describe()["rows"] == N


def test_ivf_really_probes_lists_and_hnsw_ef(data, tmp_path):
    """milvus-lite searches with the requested index: nprobe=1 of 32 lists loses recall, nprobe=nlist is exact."""
    path, x, q = data
    build_index("milvus", tmp_path / "ivf", embeddings=path, params={"index_type": "IVF_FLAT", "nlist": 32})
    index = IndexDir.load(tmp_path / "ivf")
    top, _ = exact(x, q, "cosine", K)
    recall = {p: np.mean([len(set(a) & set(b)) / K for a, b in zip(index.search(index.prepare(q), K, nprobe=p)[1], top)])
              for p in (1, 32)}
    assert recall[32] == 1.0
    assert recall[1] < 0.9
    assert index.index.search_params() == ("nprobe",)

    build_index("milvus", tmp_path / "hnsw", embeddings=path, params={"index_type": "HNSW", "hnsw_m": 8, "ef_construction": 64})
    h = IndexDir.load(tmp_path / "hnsw")
    pos = h.search(h.prepare(q), K, ef_search=256)[1]
    assert np.mean([len(set(a) & set(b)) / K for a, b in zip(pos, top)]) >= 0.98
    assert h.manifest.params["hnsw_m"] == 8 and h.manifest.params["index_type"] == "HNSW"

    build_index("milvus", tmp_path / "sq8", embeddings=path, params={"index_type": "IVF_SQ8", "nlist": 16})
    sq = IndexDir.load(tmp_path / "sq8")
    pos = sq.search(sq.prepare(q), K, nprobe=16)[1]
    assert np.mean([len(set(a) & set(b)) / K for a, b in zip(pos, top)]) >= 0.9  # 8-bit scalar quantisation, all lists


def test_cli_chain_matches_faiss_flat_and_survives_a_move(sample_chain, vr, tmp_path):
    """build-index → query on sample_data: the same top-10 as faiss Flat (ties aside); the directory still opens
    after it is renamed (the milvus-lite database lives inside it)."""
    out = tmp_path / "mv"
    r = vr("build-index", "--embeddings", sample_chain["emb"], "--backend", "milvus", "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["params"]["flavour"] == "milvus-lite" and m["params"]["collection"] == "mv"
    assert "milvus_uri" not in m["params"]
    assert (out / "milvus.db").is_dir() and not list(tmp_path.glob(".mv*"))  # staging database gone
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(str(out), moved)
    for name, index in (("mv", moved), ("flat", sample_chain["flat"])):
        assert vr("query", "--index", index, "--queries", sample_chain["qemb"], "-k", 10, "--out", tmp_path / f"{name}.run").exit_code == 0
    a, b = read_run(tmp_path / "mv.run"), read_run(tmp_path / "flat.run")
    merged = a.merge(b, on=["qid", "rank"], suffixes=("_m", "_f"))
    assert len(merged) == len(b)
    differ = merged[merged.docid_m != merged.docid_f]
    assert np.allclose(differ.score_m, differ.score_f, atol=1e-5)  # only ties may swap
    assert np.allclose(merged.score_m, merged.score_f, atol=1e-5)


def test_server_uri_build_query_overwrite_and_dim_checks(data, tmp_path, vr, server, monkeypatch):
    uri, _ = server
    path, x, q = data
    monkeypatch.setenv("MILVUS_TOKEN", "secret-token-value")
    r = vr("build-index", "--embeddings", path, "--backend", "milvus", "--milvus-uri", uri, "--index-type", "IVF_FLAT",
           "--nlist", 8, "--out", tmp_path / "srv", "--json")
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["params"]["milvus_uri"] == uri and m["params"]["collection"] == "srv" and m["params"]["flavour"] == "server"
    assert not (tmp_path / "srv" / "milvus.db").exists()
    record = json.loads((tmp_path / "srv" / "milvus.json").read_text())
    assert record["milvus_uri"] == uri and record["collection"] == "srv"
    assert "secret-token-value" not in (tmp_path / "srv" / "manifest.json").read_text()

    index = IndexDir.load(tmp_path / "srv")
    top, _ = exact(x, q, "cosine", K)
    assert (index.search(index.prepare(q), K, nprobe=8)[1] == top).mean() == 1.0
    from pymilvus import MilvusClient

    names = MilvusClient(uri).list_collections()
    assert names == ["srv"]  # the staging collection was renamed, nothing else left

    # the collection exists: refused without --overwrite (dimension named when it differs), nothing written
    small = write_vectors(tmp_path / "small", x[:, :8].copy())
    r = vr("build-index", "--embeddings", small, "--backend", "milvus", "--milvus-uri", uri, "--collection", "srv",
           "--out", tmp_path / "other")
    assert_user_error(r, "collection 'srv' already exists", uri, "dimension 16", "--overwrite")
    assert not (tmp_path / "other").exists()
    # --overwrite replaces it (another index directory pointing at that collection now sees a dimension mismatch)
    r = vr("build-index", "--embeddings", small, "--backend", "milvus", "--milvus-uri", uri, "--collection", "srv",
           "--out", tmp_path / "other", "--overwrite")
    assert r.exit_code == 0, r.stderr
    del index
    r = vr("query", "--index", tmp_path / "srv", "--queries", path, "-k", 5, "--out", tmp_path / "x.run")
    assert_user_error(r, "collection 'srv'", "dimension 8", "manifest says 16")
    assert MilvusClient(uri).list_collections() == ["srv"]


def test_unreachable_uri_fails_fast_naming_it(data, tmp_path, vr):
    uri = f"http://127.0.0.1:{free_port()}"
    t0 = time.perf_counter()
    r = vr("build-index", "--embeddings", data[0], "--backend", "milvus", "--milvus-uri", uri, "--out", tmp_path / "u")
    assert time.perf_counter() - t0 < 15
    assert_user_error(r, uri, "cannot connect")
    assert not (tmp_path / "u").exists()


@pytest.mark.parametrize("args,fragments", [
    (["--index-type", "IVF_PQ"], ["--index-type IVF_PQ: not supported by milvus-lite", "FLAT, IVF_FLAT, IVF_SQ8, HNSW"]),
    (["--index-type", "SCANN"], ["--index-type SCANN: milvus takes one of", "DISKANN"]),
    (["--index-type", "ivf", "--param", "nprobe=4"], ["--nprobe does not apply to milvus IVF_FLAT", "give it to query"]),
    (["--index-type", "hnsw", "--hnsw-m", "1"], ["--hnsw-m 1: milvus HNSW takes an integer from 2 to 2048"]),
    (["--index-type", "FLAT", "--nlist", "8"], ["--nlist does not apply to milvus FLAT"]),
    (["--index-type", "IVF_FLAT", "--nlist", "5000"], ["--nlist 5000", "1,200"]),
    (["--milvus-uri", "http://user:pw@127.0.0.1:19530"], ["credentials", "MILVUS_TOKEN"]),
    (["--milvus-uri", "somewhere/milvus.db"], ["--milvus-uri somewhere/milvus.db", "http://host:port"]),
    (["--collection", "9 bad-name"], ["--collection 9 bad-name"]),
    (["--metric", "hamming"], ["--metric hamming"]),
])
def test_build_errors(data, tmp_path, vr, args, fragments):
    r = vr("build-index", "--embeddings", data[0], "--backend", "milvus", "--out", tmp_path / "bad", *args)
    assert_user_error(r, *fragments)
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging database left beside --out


def test_search_param_errors(sample_chain, vr, tmp_path):
    assert vr("build-index", "--embeddings", sample_chain["emb"], "--backend", "milvus", "--out", tmp_path / "f").exit_code == 0
    r = vr("query", "--index", tmp_path / "f", "--queries", sample_chain["qemb"], "--nprobe", 4, "--out", tmp_path / "r")
    assert_user_error(r, "--nprobe does not apply to milvus FLAT")
    r = vr("query", "--index", tmp_path / "f", "--queries", sample_chain["qemb"], "-k", 20000, "--out", tmp_path / "r")
    assert r.exit_code == 0  # k is capped at the corpus size (2,000) before Milvus sees it
    shutil.rmtree(tmp_path / "f" / "milvus.db")
    r = vr("query", "--index", tmp_path / "f", "--queries", sample_chain["qemb"], "--out", tmp_path / "r2")
    assert_user_error(r, "milvus.db missing", "rebuild")


def test_missing_extra_names_the_pip_command(sample_chain, vr, tmp_path, monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a, **kw):
        if name.split(".")[0] in ("pymilvus", "milvus_lite"):
            raise ImportError(f"No module named '{name}'")
        return real(name, *a, **kw)

    monkeypatch.setattr("vecrecall.lazy.importlib.import_module", fake)
    r = vr("build-index", "--embeddings", sample_chain["emb"], "--backend", "milvus", "--out", tmp_path / "x")
    assert_user_error(r, "pip install 'vecrecall[milvus]'")
    assert not (tmp_path / "x").exists()


def test_failed_build_leaves_nothing(data, tmp_path, vr, server, monkeypatch):
    """A build that fails after inserting drops its staging collection and database; no index directory appears."""
    from vecrecall.indexes import milvus

    def boom(*a, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(milvus.MilvusIndex, "_create", staticmethod(lambda client, name, *a: (
        client.create_collection(name, dimension=D), boom())))
    uri, _ = server
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(RuntimeError):
        build_index("milvus", work / "lite", embeddings=data[0])
    with pytest.raises(RuntimeError):
        build_index("milvus", work / "srv", embeddings=data[0], params={"milvus_uri": uri})
    assert list(work.iterdir()) == []
    from pymilvus import MilvusClient

    assert MilvusClient(uri).list_collections() == []


def test_sweep_style_use_builds_temporary_collections(data, server):
    """Built without a destination (as `vecrecall sweep` does), saving to measure size keeps the index searchable
    and the temporary collection is dropped when the index goes away."""
    import gc
    import tempfile
    from pathlib import Path

    from pymilvus import MilvusClient
    from vecrecall.indexes.milvus import MilvusIndex

    uri, _ = server
    path, x, q = data
    for params in ({"index_type": "FLAT"}, {"index_type": "FLAT", "milvus_uri": uri}):
        index = MilvusIndex.build(l2_normalize(x), "cosine", dict(params))
        with tempfile.TemporaryDirectory() as tmp:
            index.save(Path(tmp))
        pos = index.search(l2_normalize(q), K)[1]
        assert (pos == exact(x, q, "cosine", K)[0]).mean() == 1.0
        del index
        gc.collect()
    assert MilvusClient(uri).list_collections() == []


@pytest.mark.vaswani
@pytest.mark.slow
def test_vaswani_slice_flat_matches_faiss_flat(vaswani_minilm, tmp_path):
    """Acceptance on a slice: 3,000 Vaswani MiniLM vectors, 93 queries: ≥ 99.9% of top-10 slots agree, ties aside."""
    from vecrecall.artifacts import load_embeddings

    emb, qemb = load_embeddings(vaswani_minilm["emb"]), load_embeddings(vaswani_minilm["qemb"])
    x = np.asarray(emb.vectors[:3000], dtype=np.float32)
    q = np.asarray(qemb.vectors, dtype=np.float32)
    path = write_vectors(tmp_path / "slice", x)
    build_index("milvus", tmp_path / "m", embeddings=path, params={"index_type": "FLAT"})
    build_index("faiss", tmp_path / "f", embeddings=path, params={"index_type": "Flat"})
    m, f = IndexDir.load(tmp_path / "m"), IndexDir.load(tmp_path / "f")
    sm, pm = m.search(m.prepare(q), K)
    sf, pf = f.search(f.prepare(q), K)
    same = (pm == pf) | np.isclose(sm, sf, atol=1e-6)  # a differing id at a tied score is a tie, not an error
    assert same.mean() >= 0.999
    np.testing.assert_allclose(sm, sf, atol=1e-5)


def test_query_filter_is_a_milvus_prefilter(sample_chain, vr, tmp_path):
    """`query --filter` on a Milvus index: the rows the filter allows reach Milvus as a boolean expression over the
    row field, so results are exactly faiss Flat's filtered results and all satisfy the filter."""
    from vecrecall.indexes.milvus import rows_expression

    assert rows_expression(np.array([True, False, True, True])) == "row not in [1]"
    assert rows_expression(np.array([False, True, False, False])) == "row in [1]"
    assert rows_expression(np.array([True, True])) == ""
    expr = "year >= 2000 and lang == 'en'"
    assert vr("build-index", "--embeddings", sample_chain["emb"], "--backend", "milvus", "--out", tmp_path / "m").exit_code == 0
    for name, index in (("m", tmp_path / "m"), ("f", sample_chain["flat"])):
        r = vr("query", "--index", index, "--queries", sample_chain["qemb"], "-k", 10, "--filter", expr, "--out", tmp_path / f"{name}.run")
        assert r.exit_code == 0, r.stderr
    a, b = read_run(tmp_path / "m.run"), read_run(tmp_path / "f.run")
    ids = pd.read_parquet(sample_chain["emb"] / "ids.parquet").astype({"id": str}).set_index("id")
    chosen = ids.loc[a.docid]
    assert ((chosen.year >= 2000) & (chosen.lang == "en")).all()
    merged = a.merge(b, on=["qid", "rank"], suffixes=("_m", "_f"))
    assert len(merged) == len(a) == len(b) == 400
    assert np.allclose(merged.score_m, merged.score_f, atol=1e-5)


def test_database_in_use_by_another_process(sample_chain, vr, tmp_path):
    """milvus-lite locks its database: a second process gets one line saying so, not a traceback or a hang."""
    import subprocess
    import sys

    assert vr("build-index", "--embeddings", sample_chain["emb"], "--backend", "milvus", "--out", tmp_path / "m").exit_code == 0
    holder = subprocess.Popen([sys.executable, "-c", "from vecrecall.indexes.store import IndexDir; import sys, time; "
                               f"i = IndexDir.load({str(tmp_path / 'm')!r}); print('ready', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        r = vr("query", "--index", tmp_path / "m", "--queries", sample_chain["qemb"], "--out", tmp_path / "r")
        assert_user_error(r, "milvus.db", "another process is using it")
        assert not (tmp_path / "r").exists()
    finally:
        holder.kill()
        holder.wait()
