"""vecrecall.cache: content addressing, namespaces, concurrent writers, and carrying on without a usable cache."""

import multiprocessing as mp
from pathlib import Path

import numpy as np

from conftest import FAST_MODEL
from vecrecall.cache import Cache, cache_root


def test_round_trip_and_namespaces(tmp_path):
    with Cache("things", "model-a", tmp_path) as a, Cache("things", "model-b", tmp_path) as b:
        ka, kb = a.key("text"), b.key("text")
        assert ka != kb and a.key("text") == ka and a.key("te", "xt") != ka
        a.put_arrays([ka], [np.array([1.5, -2.0], np.float32)])
        assert b.get([kb]) == {}
        np.testing.assert_array_equal(a.get_arrays([ka, kb])[ka], [1.5, -2.0])
        a.put_arrays([ka], [np.array([9.0, 9.0], np.float32)])  # content-addressed: the first value stays
        np.testing.assert_array_equal(a.get_arrays([ka])[ka], [1.5, -2.0])
        a.put_arrays([ka], [np.array([9.0, 9.0], np.float32)], replace=True)
        np.testing.assert_array_equal(a.get_arrays([ka])[ka], [9.0, 9.0])
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == ["things.sqlite"]


def test_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("VECRECALL_CACHE_DIR")
    assert cache_root() == Path.home() / ".cache" / "vecrecall"


def _writer(root: str, worker: int, n: int) -> None:
    with Cache("vectors", "ns", Path(root)) as c:
        for start in range(0, n, 50):  # many small transactions, interleaved with the other process
            keys = [c.key(f"t{i}") for i in range(start, start + 50)]
            c.put_arrays(keys, [np.full(4, i, np.float32) for i in range(start, start + 50)])
        assert c.enabled, "a writer lost its cache to lock contention"


def test_concurrent_processes_share_one_file(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 1000)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with Cache("vectors", "ns", tmp_path) as c:
        got = c.get_arrays([c.key(f"t{i}") for i in range(1000)])
        assert len(got) == 1000 and got[c.key("t999")][0] == 999


def test_unusable_cache_dir_warns_and_carries_on(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    c = Cache("vectors", "ns", blocker / "sub")
    assert not c.enabled and c.get([c.key("x")]) == {}
    c.put([(c.key("x"), b"1")])  # a no-op, not an error
    c.close()


def test_damaged_cache_file_warns_and_carries_on(tmp_path, vr, sample, monkeypatch):
    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "vectors.sqlite").write_bytes(b"this is not a database" * 100)
    r = vr("encode", "--queries", sample, "--out", tmp_path / "q", "--model", FAST_MODEL)
    assert r.exit_code == 0, r.stderr
    assert "cannot use the cache" in r.stderr and "vectors.sqlite" in r.stderr


def test_a_cache_path_that_is_a_file_warns_once_and_exports_say_why(tmp_path, vr, sample, monkeypatch):
    """One warning for the directory (not one per kind of cache); an export, which needs the directory, is one line
    naming it (was: NotADirectoryError's traceback from `vecrecall demo`)."""
    from conftest import assert_user_error

    blocker = tmp_path / "cachefile"
    blocker.write_text("not a directory")
    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(blocker))
    r = vr("encode", "--queries", sample, "--out", tmp_path / "q", "--model", FAST_MODEL)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("warning: cannot use the cache") == 1, r.stderr
    assert f"cache directory {blocker}" in r.stderr
    assert_user_error(vr("encode", "--queries", sample, "--out", tmp_path / "q2", "--backend", "onnx"),
                      "cannot write the onnx export", "$VECRECALL_CACHE_DIR", "writable directory")
    assert not (tmp_path / "q2").exists()


def test_every_cache_user_writes_through_the_one_module(tmp_path, vr, sample, monkeypatch):
    """encode, rerank and anncur each leave exactly one file of their kind, and nothing else, in the cache dir."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(cache))
    assert vr("encode", "--queries", sample, "--out", tmp_path / "q", "--model", FAST_MODEL).exit_code == 0
    import pandas as pd

    from vecrecall.anncur.scorers import Items, MatrixScorer, QuerySet, ScoreBook
    from vecrecall.rerank import PairScorer, ScoreCache, rerank

    class Len(PairScorer):
        fingerprint, name = "len", "len"

        def score(self, pairs):
            return np.array([len(d) for _, d in pairs], float)

    run = pd.DataFrame({"qid": ["q"] * 2, "docid": ["a", "b"], "score": [2.0, 1.0], "rank": [1, 2]})
    sc = ScoreCache()
    rerank(run, {"q": "x"}, {"a": "aa", "b": "bbb"}, Len(), depth=2, k=2, cache=sc)
    sc.close()
    m = tmp_path / "m"
    m.mkdir()
    np.save(m / "scores.npy", np.arange(6, dtype=np.float64).reshape(2, 3))
    (m / "query_ids.txt").write_text("q0\nq1\n")
    (m / "item_ids.txt").write_text("i0\ni1\ni2\n")
    book = ScoreBook(MatrixScorer(m, Items(["i0", "i1", "i2"], [""] * 3)))
    book.score_all(QuerySet(["q0", "q1"], ["", ""]), "x")
    book.close()
    names = {p.name for p in cache.iterdir() if not p.name.endswith(("-wal", "-shm"))}
    assert names == {"vectors.sqlite", "rerank.sqlite", "anncur.sqlite"}
