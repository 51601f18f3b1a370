"""One suite for every vector backend: known answers against exact search, score conventions, save → load in a new
process → identical results, and the parameter errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_user_error
from vectors import clustered, exact, write_vectors
from vecrecall.errors import UserError
from vecrecall.indexes.store import IndexDir, build_index

N, D, NQ, K = 1500, 24, 40, 10

# (backend, build params, search params that make it (near) exact, minimum recall@10 vs exact)
CASES = [
    ("faiss", {"index_type": "Flat"}, {}, 1.0),
    ("faiss", {"index_type": "IVF", "nlist": 16}, {"nprobe": 16}, 1.0),
    ("faiss", {"index_type": "IVFPQ", "nlist": 8, "pq_m": 12, "pq_bits": 6}, {"nprobe": 8}, 0.4),
    ("faiss", {"index_type": "HNSW", "hnsw_m": 16}, {"ef_search": 256}, 0.99),
    ("faiss", {"factory": "IVF8,SQ8"}, {"nprobe": 8}, 0.9),
    ("hnswlib", {"hnsw_m": 16, "ef_construction": 100}, {"ef_search": 256}, 0.99),
    ("annoy", {"n_trees": 20}, {"search_k": 20000}, 0.99),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    x, q = clustered(N, NQ, D, clusters=20, spread=0.3, seed=7)
    return write_vectors(tmp_path_factory.mktemp("vectors") / "emb", x, fingerprint="x", prefix="doc"), x, q


@pytest.mark.parametrize("backend,params,search,min_recall", CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_known_answers_and_scores(data, tmp_path, backend, params, search, min_recall, metric):
    path, x, q = data
    build_index(backend, tmp_path / "i", embeddings=path, metric=metric, params=params, seed=3)
    index = IndexDir.load(tmp_path / "i")
    scores, pos = index.search(index.prepare(q), K, **search)
    top, full = exact(x, q, metric, K)
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(pos, top)])
    assert recall >= min_recall
    if min_recall == 1.0:  # exact: same ids, same scores
        np.testing.assert_allclose(scores, np.take_along_axis(full, top, 1), rtol=1e-4, atol=1e-4)
    elif "PQ" not in str(params) and "SQ" not in str(params):  # non-quantised: reported score = true score of that id
        ok = pos >= 0
        np.testing.assert_allclose(scores[ok], np.take_along_axis(full, np.where(ok, pos, 0), 1)[ok], rtol=1e-4, atol=1e-4)
    assert (np.diff(scores, axis=1) <= 1e-5).all()  # higher is better, sorted


@pytest.mark.parametrize("backend,params,search,min_recall", CASES, ids=lambda c: str(c))
def test_round_trip_in_new_process(data, tmp_path, backend, params, search, min_recall):
    path, x, q = data
    build_index(backend, tmp_path / "i", embeddings=path, params=params, seed=1)
    before = IndexDir.load(tmp_path / "i")
    s1, p1 = before.search(before.prepare(q), K, **search)
    np.save(tmp_path / "q.npy", q)
    code = (
        "import sys, json, numpy as np\n"
        "from vecrecall.indexes.store import IndexDir\n"
        f"i = IndexDir.load({str(tmp_path / 'i')!r})\n"
        f"s, p = i.search(i.prepare(np.load({str(tmp_path / 'q.npy')!r})), {K}, **{search!r})\n"
        "print(json.dumps({'s': s.tolist(), 'p': p.tolist()}))\n"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    np.testing.assert_array_equal(np.array(out["p"]), p1)
    np.testing.assert_allclose(np.array(out["s"]), s1, rtol=1e-6)


def test_builds_are_deterministic(data, tmp_path):
    path, x, q = data
    for name in ("a", "b"):
        build_index("hnswlib", tmp_path / name, embeddings=path, seed=5)
    a, b = IndexDir.load(tmp_path / "a"), IndexDir.load(tmp_path / "b")
    np.testing.assert_array_equal(a.search(a.prepare(q), K)[1], b.search(b.prepare(q), K)[1])


def test_manifest_records_build(data, tmp_path):
    path, x, q = data
    m = build_index("faiss", tmp_path / "i", embeddings=path, params={"index_type": "IVF"})
    assert m.params["nlist"] == 39  # ≈ √1500
    assert m.params["factory"] == "IVF39,Flat" and m.stats["n"] == N and m.stats["bytes"] > N * D * 4
    assert m.parent("embeddings").params["model"]["name"] == "synthetic"


@pytest.mark.parametrize("params,expected", [
    ({"index_type": "IVF", "nlist": 8}, 64 * 8),  # 64 per IVF list
    ({"index_type": "IVFPQ", "nlist": 8, "pq_m": 12}, N),  # 64 × 2^8 PQ centroids > n: every vector
    ({"index_type": "IVFPQ", "nlist": 8, "pq_m": 12, "pq_bits": 3}, 64 * 8),
])
def test_ivf_training_sample_counts_pq_centroids(data, tmp_path, params, expected):
    """The default training sample is min(n, 64·max(nlist, 2^pq_bits)) with pq_bits' own default (8) counted."""
    m = build_index("faiss", tmp_path / "i", embeddings=data[0], params=params)
    assert m.params["train_size"] == expected


@pytest.mark.parametrize("args,fragments", [
    (["--backend", "nope"], ["--backend nope", "unknown backend", "faiss"]),
    (["--metric", "manhattan"], ["--metric manhattan", "ip, l2, cosine"]),
    (["--index-type", "IVF", "--nlist", 5000], ["--nlist 5000", "number of vectors (1,500)"]),
    (["--index-type", "IVFPQ", "--pq-m", 5], ["--pq-m 5", "must divide the dimension 24"]),
    (["--index-type", "Flat", "--nlist", 10], ["--nlist does not apply to faiss Flat"]),
    (["--backend", "annoy", "--hnsw-m", 8], ["--hnsw-m does not apply to annoy", "--n-trees"]),
    (["--index-type", "Bogus"], ["--index-type Bogus", "faiss takes one of Flat, IVF"]),
    (["--factory", "IVF8,Nonsense"], ["--factory IVF8,Nonsense"]),
])
def test_build_errors(vr, data, tmp_path, args, fragments):
    path, x, q = data
    r = vr("build-index", "--embeddings", path, "--out", tmp_path / "i", *args)
    assert_user_error(r, *fragments)
    assert not (tmp_path / "i").exists()


def test_embeddings_checks(vr, data, tmp_path):
    path, x, q = data
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in path.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    y = x.copy()
    y[7, 3] = np.nan
    np.save(bad / "embeddings.npy", y)
    assert_user_error(vr("build-index", "--embeddings", bad, "--out", tmp_path / "i"), "row 7 contains NaN or inf")
    np.save(bad / "embeddings.npy", x[:10])
    assert_user_error(vr("build-index", "--embeddings", bad, "--out", tmp_path / "i"), "has 10 rows but ids.parquet has 1500")
    assert_user_error(vr("build-index", "--embeddings", tmp_path / "none", "--out", tmp_path / "i"), "no such file")
    assert not (tmp_path / "i").exists()


def test_search_param_must_apply(vr, sample_chain, sample, tmp_path):
    r = vr("query", "--index", sample_chain["flat"], "--queries", sample, "--nprobe", 4, "--out", tmp_path / "r")
    assert_user_error(r, "--nprobe does not apply to faiss Flat", "no search parameters")
    assert_user_error(vr("query", "--index", sample_chain["flat"], "--queries", sample, "--param", "nprobe=4", "--out",
                         tmp_path / "r"), "--nprobe does not apply to faiss Flat")
    assert_user_error(vr("query", "--index", sample_chain["flat"], "--queries", sample, "--ef-search", 4, "--out", tmp_path / "r"),
                      "--ef-search does not apply")
    assert not (tmp_path / "r").exists()


def test_unknown_backend_in_library():
    from vecrecall.indexes.base import get_backend

    with pytest.raises(UserError, match="unknown backend"):
        get_backend("elasticsearch")
