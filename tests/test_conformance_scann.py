"""ScaNN through the backend conformance suite: brute force (exact), and tree-AH searching every leaf with a
reorder over the whole corpus (exact re-scoring of every candidate), and tree-AH as usually run (a few leaves)."""

import pytest

from backend_conformance import BackendConformance, assert_missing_package_refused

pytest.importorskip("scann")


class TestScannBruteForce(BackendConformance):
    backend = "scann"
    build = {"index_type": "brute_force"}


class TestScannTreeAHAllLeaves(BackendConformance):
    backend = "scann"
    build = {"index_type": "tree_ah", "num_leaves": 8}
    search = {"num_leaves_to_search": 8, "reorder": 600}


class TestScannTreeAH(BackendConformance):
    backend = "scann"
    build = {"index_type": "tree_ah", "num_leaves": 24}
    search = {"num_leaves_to_search": 12, "reorder": 100}
    min_recall = 0.9


# ---------------------------------------------------------------------------------------------------------------- ScaNN only

import shutil  # noqa: E402

import numpy as np  # noqa: E402

from conftest import assert_user_error  # noqa: E402
from vectors import clustered, write_vectors  # noqa: E402


@pytest.fixture(scope="module")
def emb(tmp_path_factory):
    x, q = clustered(1500, 30, 16, clusters=10, spread=0.4, seed=4)
    d = tmp_path_factory.mktemp("scann")
    return write_vectors(d / "emb", x), q


def _files(path):
    return {f.name: f.read_bytes() for f in sorted((path / "scann").iterdir())}


def test_builds_follow_the_seed(vr, emb, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        r = vr("build-index", "--embeddings", emb[0], "--backend", "scann", "--num-leaves", 20,
               "--training-sample-size", 1000, "--seed", seed, "--out", tmp_path / name)
        assert r.exit_code == 0, r.stderr
        assert "I0000" not in r.stderr and "W0000" not in r.stderr  # ScaNN's C++ log lines are kept off stderr
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert a == b
    assert a["serialized_partitioner.pb"] != c["serialized_partitioner.pb"]


def test_a_moved_index_directory_loads_and_searches_alike(emb, tmp_path):
    from vecrecall.indexes.store import IndexDir, build_index

    build_index("scann", tmp_path / "i", embeddings=emb[0], params={"num_leaves": 16})
    here = IndexDir.load(tmp_path / "i")
    before = here.search(here.prepare(emb[1]), 10, num_leaves_to_search=4)
    del here
    shutil.move(tmp_path / "i", tmp_path / "moved")
    there = IndexDir.load(tmp_path / "moved")
    after = there.search(there.prepare(emb[1]), 10, num_leaves_to_search=4)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[0], after[0])


def test_reorder_below_k_is_raised_and_short_lists_are_padded(emb, tmp_path):
    from vecrecall.indexes.store import IndexDir, build_index

    build_index("scann", tmp_path / "i", embeddings=emb[0], params={"num_leaves": 40})
    index = IndexDir.load(tmp_path / "i")
    settings = index.index.configure({"reorder": 5, "num_leaves_to_search": 1}, 100)
    assert settings.used["reorder"] == 100 and "reorder" in settings.notes[0]
    scores, pos = index.index.search(index.prepare(emb[1]), 100)
    assert ((pos == -1) == np.isneginf(scores)).all()
    assert (pos == -1).any()  # one leaf of ~37 rows cannot fill 100 slots
    ok = pos >= 0
    assert (ok[:, :-1] >= ok[:, 1:]).all()  # filled slots first


def test_a_pickle_in_the_index_directory_is_not_loaded(vr, emb, tmp_path):
    r = vr("build-index", "--embeddings", emb[0], "--backend", "scann", "--index-type", "brute_force",
           "--out", tmp_path / "i")
    assert r.exit_code == 0, r.stderr
    (tmp_path / "i" / "scann" / "scann_docids.pkl").write_bytes(b"not ours")
    qemb = write_vectors(tmp_path / "q", emb[1], prefix="q")
    r = vr("query", "--index", tmp_path / "i", "--queries", qemb, "--out", tmp_path / "r.run")
    assert_user_error(r, "scann_docids.pkl", "not written by vecrecall")
    assert not (tmp_path / "r.run").exists()


def test_anisotropic_threshold_is_refused_for_l2(vr, emb, tmp_path):
    r = vr("build-index", "--embeddings", emb[0], "--backend", "scann", "--metric", "l2",
           "--anisotropic-threshold", "0.2", "--out", tmp_path / "i")
    assert_user_error(r, "--anisotropic-threshold 0.2", "--metric l2")
    assert not (tmp_path / "i").exists()


def test_missing_package_is_one_line_with_the_pip_command(emb, tmp_path):
    assert_missing_package_refused("scann", ('scann',), emb[0], tmp_path / "i")


def test_update_index_rebuilds_from_the_stored_vectors(vr, emb, tmp_path):
    """ScaNN cannot add or delete in place, but keeps the float vectors for re-scoring (dataset.npy): update-index
    says so and rebuilds with the recorded parameters and seed; the files are those of a fresh build over the final
    vectors, byte for byte (l2: no re-normalisation), and `rebuild` needs no --embeddings."""
    x, q = emb[0], emb[1]
    vectors = np.load(x / "embeddings.npy")
    assert vr("build-index", "--embeddings", x, "--backend", "scann", "--metric", "l2", "--num-leaves", 10,
              "--out", tmp_path / "idx").exit_code == 0
    (tmp_path / "delete.txt").write_text("d1\nd7\n")
    extra = write_vectors(tmp_path / "extra", q, prefix="x")
    r = vr("update-index", "--index", tmp_path / "idx", "--add", extra, "--delete", tmp_path / "delete.txt",
           "--out", tmp_path / "upd")
    assert r.exit_code == 0, r.stderr
    assert "rebuilt" in r.stdout and "scann tree_ah cannot add or delete vectors in place" in r.stderr, r.stderr
    assert "rebuilt it from the 1,500 vectors it stores" in r.stderr and "num_leaves 10" in r.stderr, r.stderr
    final = write_vectors(tmp_path / "final", np.concatenate([np.delete(vectors, [1, 7], axis=0), q]))
    assert vr("build-index", "--embeddings", final, "--backend", "scann", "--metric", "l2", "--num-leaves", 10,
              "--out", tmp_path / "fresh").exit_code == 0
    assert _files(tmp_path / "upd") == _files(tmp_path / "fresh")
    ids = __import__("pandas").read_parquet(tmp_path / "upd" / "ids.parquet")["id"].tolist()
    assert ids == [f"d{i}" for i in range(1500) if i not in (1, 7)] + [f"x{i}" for i in range(len(q))]
    r = vr("rebuild", "--index", tmp_path / "upd", "--out", tmp_path / "rebuilt")
    assert r.exit_code == 0, r.stderr
    assert _files(tmp_path / "rebuilt") == _files(tmp_path / "fresh")

