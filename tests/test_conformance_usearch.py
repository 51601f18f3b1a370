"""usearch through the backend conformance suite: f32 vectors with a wide beam, and i8 storage (cosine only)."""

import pytest

from backend_conformance import BackendConformance, assert_missing_package_refused

pytest.importorskip("usearch")


class TestUsearchF32(BackendConformance):
    backend = "usearch"
    build = {"connectivity": 16, "expansion_add": 128}
    search = {"expansion_search": 256}
    min_recall = 0.99


class TestUsearchI8(BackendConformance):
    backend = "usearch"
    build = {"quantization": "i8", "connectivity": 16}
    search = {"expansion_search": 256}
    min_recall = 0.9
    quantised = True
    metrics = ("cosine",)


# ---------------------------------------------------------------------------------------------------------------- usearch only

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from conftest import assert_user_error  # noqa: E402
from vectors import clustered, write_vectors  # noqa: E402


@pytest.fixture(scope="module")
def emb(tmp_path_factory):
    x, _ = clustered(800, 1, 12, clusters=6, spread=0.4, seed=2)
    return write_vectors(tmp_path_factory.mktemp("usearch") / "emb", x)


def test_single_thread_builds_are_byte_identical(vr, emb, tmp_path):
    """usearch's level generator has a fixed seed: one-thread builds are identical (whatever --seed says)."""
    for name, seed in (("a", 0), ("b", 0), ("c", 7)):
        r = vr("build-index", "--embeddings", emb, "--backend", "usearch", "--seed", seed, "--out", tmp_path / name)
        assert r.exit_code == 0, r.stderr
    files = [(tmp_path / n / "index.usearch").read_bytes() for n in "abc"]
    assert files[0] == files[1] == files[2]


def test_i8_is_refused_for_ip_and_l2_before_usearch_sees_it(vr, emb, tmp_path):
    for metric in ("ip", "l2"):
        r = vr("build-index", "--embeddings", emb, "--backend", "usearch", "--metric", metric, "--quantization", "i8",
               "--out", tmp_path / "i")
        assert_user_error(r, "--quantization i8", "--metric cosine")
    assert not (tmp_path / "i").exists()


def test_f16_scores_are_close_to_the_exact_ones(emb, tmp_path):
    from vecrecall.indexes.store import IndexDir, build_index
    from vectors import exact

    build_index("usearch", tmp_path / "i", embeddings=emb, metric="l2", params={"quantization": "f16"})
    index = IndexDir.load(tmp_path / "i")
    x = np.load(emb / "embeddings.npy")
    scores, pos = index.search(index.prepare(x[:20]), 5, expansion_search=200)
    _, full = exact(x, x[:20], "l2", 5)
    true = np.take_along_axis(full, pos, 1)
    np.testing.assert_allclose(scores, true, rtol=2e-3, atol=2e-3)
    assert (pos[:, 0] == np.arange(20)).all()


def test_missing_package_is_one_line_with_the_pip_command(emb, tmp_path):
    assert_missing_package_refused("usearch", ('usearch', 'usearch.index'), emb, tmp_path / "i")


def test_a_sweep_naming_a_missing_backend_stops_before_building(tmp_path):
    """The default grid names usearch: without the package, sweep refuses it before any index is built."""
    from conftest import ROOT

    code = ("import sys\nsys.modules['usearch'] = None\n"
            f"sys.argv = ['vecrecall', 'sweep', '--synthetic', '400x8', '--synthetic-queries', '10', '--config', "
            f"{str(ROOT / 'configs' / 'sweep_default.yaml')!r}, '--out', {str(tmp_path / 's')!r}]\n"
            "from vecrecall.cli.app import main\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "VECRECALL_QUIET": "1"})
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "usearch" in err and "pip install 'vecrecall[ann]'" in err, err
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------------------------------------------------- updates

@pytest.fixture(scope="module")
def delta(tmp_path_factory):
    """A base of 1,200 vectors; the update deletes 120 of them, replaces 10 (same id, moved vector), adds 300."""
    d = tmp_path_factory.mktemp("usearch-update")
    x, q = clustered(1500, 300, 12, clusters=8, spread=0.4, seed=5)
    rng = np.random.default_rng(3)
    picked = rng.choice(1200, 130, replace=False)
    deleted, replaced = np.sort(picked[:120]), np.sort(picked[120:])
    moved = x[replaced] + 0.3 * rng.standard_normal((10, 12)).astype(np.float32)
    keep = np.setdiff1d(np.arange(1200), picked)
    add_x = np.concatenate([moved, x[1200:]])
    add_ids = [f"d{i}" for i in replaced] + [f"d{i}" for i in range(1200, 1500)]
    final_x = np.concatenate([x[keep], add_x])
    final_ids = [f"d{i}" for i in keep] + add_ids
    write_vectors(d / "base", x[:1200])
    (d / "delete.txt").write_text("".join(f"d{i}\n" for i in deleted))
    from vecrecall.artifacts import Manifest, save_embeddings_from_array
    import pandas as pd

    for name, vectors, ids in (("add", add_x, add_ids), ("final", final_x, final_ids)):
        (d / name).mkdir()
        save_embeddings_from_array(d / name, vectors, pd.DataFrame({"id": ids}), Manifest("embeddings", params={
            "model": {"name": "synthetic", "fingerprint": "synthetic"}, "normalize": False, "role": "corpus"}))
    return {"dir": d, "q": q, "final_x": final_x, "final_ids": final_ids}


SPARSE = ("--connectivity", "4", "--expansion-add", "16")  # a graph sparse enough to miss neighbours at a small beam


def _ids(path, q, k=10, **search):
    from vecrecall.indexes.store import IndexDir

    loaded = IndexDir.load(path)
    _, rows = loaded.index.search(loaded.prepare(q), k, **search)
    assert (rows >= 0).all()
    return loaded.ids["id"].to_numpy(dtype=object)[rows], loaded


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_update_index_adds_and_deletes_in_place(vr, delta, tmp_path, metric):
    """usearch declares add and delete: update-index runs them in place (no rebuild), keys stay rows (no labels.npy),
    and the updated index finds the final vectors' exact neighbours as a fresh build over them does."""
    from vectors import exact

    d = delta["dir"]
    assert vr("build-index", "--embeddings", d / "base", "--backend", "usearch", "--metric", metric,
              "--out", tmp_path / "idx").exit_code == 0
    r = vr("update-index", "--index", tmp_path / "idx", "--add", d / "add", "--delete", d / "delete.txt", "--replace",
           "--out", tmp_path / "upd")
    assert r.exit_code == 0, r.stderr
    assert "in place" in r.stdout and "1,200 → 1,380 rows" in r.stdout and "rebuilt" not in r.stdout, r.stdout
    assert not (tmp_path / "upd" / "labels.npy").exists()
    got, loaded = _ids(tmp_path / "upd", delta["q"], expansion_search=400)
    assert loaded.index.size == 1380 and loaded.ids["id"].tolist() == delta["final_ids"]
    assert loaded.index.index.contains(np.arange(1381, dtype=np.uint64)).tolist() == [True] * 1380 + [False]
    truth_rows, _ = exact(delta["final_x"], delta["q"], metric, 10)
    truth = np.asarray(delta["final_ids"], dtype=object)[truth_rows]
    hits = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth)])
    assert hits > 0.99
    # every final vector finds itself (its own id) first: no deleted vector comes back, no row points elsewhere
    self_ids, _ = _ids(tmp_path / "upd", delta["final_x"], k=1, expansion_search=400)
    assert (self_ids[:, 0] == np.asarray(delta["final_ids"], dtype=object)).mean() > 0.999
    assert vr("build-index", "--embeddings", d / "final", "--backend", "usearch", "--metric", metric, *SPARSE,
              "--out", tmp_path / "fresh").exit_code == 0
    assert vr("build-index", "--embeddings", d / "base", "--backend", "usearch", "--metric", metric, *SPARSE,
              "--out", tmp_path / "sparse").exit_code == 0
    assert vr("update-index", "--index", tmp_path / "sparse", "--add", d / "add", "--delete", d / "delete.txt",
              "--replace", "--out", tmp_path / "sparse-upd").exit_code == 0
    for ef in (10, 20):  # a sparse graph and a small beam: approximate, as a fresh build is
        fresh = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(_ids(tmp_path / "fresh", delta["q"],
                                                                          expansion_search=ef)[0], truth)])
        updated = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(_ids(tmp_path / "sparse-upd", delta["q"],
                                                                            expansion_search=ef)[0], truth)])
        print(f"expansion_search {ef}: recall@10 updated {updated:.4f} fresh {fresh:.4f}")
        assert fresh < 0.97 and updated >= fresh - 0.02, (ef, updated, fresh)


def test_second_update_in_place_and_rebuild_from_stored_vectors(vr, delta, tmp_path):
    d = delta["dir"]
    assert vr("build-index", "--embeddings", d / "base", "--backend", "usearch", "--metric", "l2",
              "--out", tmp_path / "idx").exit_code == 0
    r = vr("update-index", "--index", tmp_path / "idx", "--add", d / "add", "--delete", d / "delete.txt", "--replace",
           "--overwrite")
    assert r.exit_code == 0, r.stderr
    (tmp_path / "again.txt").write_text("d1499\nd0\n")
    again = write_vectors(tmp_path / "again", delta["final_x"][-1:], prefix="y")
    r = vr("update-index", "--index", tmp_path / "idx", "--delete", tmp_path / "again.txt", "--add", again,
           "--overwrite")
    assert r.exit_code == 0 and "1,380 → 1,379 rows" in r.stdout, r.stdout + r.stderr
    got, loaded = _ids(tmp_path / "idx", delta["final_x"][-1:], k=1, expansion_search=100)
    assert got[0, 0] == "y0" and "d1499" not in set(loaded.ids["id"]) and "d0" not in set(loaded.ids["id"])
    # f32 keeps the vectors exactly: `rebuild` without --embeddings equals a fresh build over the final rows, byte for byte
    r = vr("rebuild", "--index", tmp_path / "idx", "--out", tmp_path / "rebuilt")
    assert r.exit_code == 0, r.stderr
    from vecrecall.indexes.store import IndexDir

    vectors = IndexDir.load(tmp_path / "idx").index.stored_vectors()
    keep = [i for i, v in enumerate(delta["final_ids"]) if v not in ("d1499", "d0")]
    np.testing.assert_array_equal(vectors, np.concatenate([delta["final_x"][keep], delta["final_x"][-1:]]))
    write_vectors(tmp_path / "final2", vectors)
    assert vr("build-index", "--embeddings", tmp_path / "final2", "--backend", "usearch", "--metric", "l2",
              "--out", tmp_path / "fresh").exit_code == 0
    assert (tmp_path / "rebuilt" / "index.usearch").read_bytes() == (tmp_path / "fresh" / "index.usearch").read_bytes()


def test_quantised_index_cannot_be_rebuilt_from_itself(vr, delta, tmp_path):
    d = delta["dir"]
    assert vr("build-index", "--embeddings", d / "base", "--backend", "usearch", "--quantization", "f16",
              "--out", tmp_path / "idx").exit_code == 0
    r = vr("rebuild", "--index", tmp_path / "idx", "--out", tmp_path / "rebuilt")
    assert_user_error(r, "compressed codes", "--embeddings")
    assert not (tmp_path / "rebuilt").exists()
