"""A reader keeps querying an index while update-index --overwrite and rebuild swap new versions in.

The reader is another process. It holds the version it loaded first and queries it in a loop (an open index survives
the atomic directory exchange: faiss and hnswlib are in memory, annoy memory-maps a file that stays readable once
unlinked, milvus-lite has loaded its collection) and, except for milvus, loads the directory afresh on every iteration
(IndexDir.load re-reads a directory swapped mid-read). It must never fail, the held version must keep answering as
version 1, and every fresh load must answer exactly as the version its manifest names: never a mix of two.
milvus-lite opens a database from one process at a time, so there the reader only holds (the writers read a copy).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clirun import ROOT, cli_env, run_cli
from conftest import FAST_MODEL, SAMPLE

READER = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from vecrecall.indexes.store import IndexDir

path, queries, stop, out, fresh_loads = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
q = np.load(queries)
if fresh_loads:  # widen the moment between reading the manifest and the index files, so swaps land inside loads
    import pandas as pd
    _read = pd.read_parquet
    pd.read_parquet = lambda *a, **k: (time.sleep(0.2), _read(*a, **k))[1]

def answer(loaded):
    rows = loaded.index.search(loaded.prepare(q), 5)[1]
    return loaded.ids["id"].astype(str).to_numpy()[rows].tolist()

held = IndexDir.load(path)
records = {"held": [], "fresh": []}
print("ready", flush=True)
while not stop.exists():
    records["held"].append(answer(held))
    if fresh_loads:
        loaded = IndexDir.load(path)
        records["fresh"].append([loaded.manifest.stats.get("version", 1), answer(loaded)])
        loaded = None
    time.sleep(0.01)
Path(out).write_text(json.dumps(records))
"""


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory):
    """make(backend) → a directory with idx (sample_data, hash:64), gone.txt (every third document), new (the texts
    of ten queries as documents, and one replacing document 9) and q.npy (the sample queries' vectors)."""
    from vecrecall.embed import encode_source
    from vecrecall.indexes.store import build_index

    d = tmp_path_factory.mktemp("swap")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECRECALL_CACHE_DIR", str(d / "cache"))
        mp.setenv("VECRECALL_QUIET", "1")
        encode_source(SAMPLE, "corpus", d / "emb", model=FAST_MODEL)
        encode_source(SAMPLE, "queries", d / "qemb", model=FAST_MODEL)
        queries = [json.loads(line) for line in (SAMPLE / "queries.jsonl").read_text().splitlines()[:10]]
        (d / "new.jsonl").write_text("".join(json.dumps({"_id": f"new{q['_id']}", "text": q["text"]}) + "\n"
                                             for q in queries) + '{"_id": "9", "text": "switching circuits revised"}\n')
        encode_source(d / "new.jsonl", "corpus", d / "new", model=FAST_MODEL)
    np.save(d / "q.npy", np.load(d / "qemb" / "embeddings.npy"))
    ids = [line.split('"_id": "')[1].split('"')[0] for line in (SAMPLE / "corpus.jsonl").read_text().splitlines()]
    (d / "gone.txt").write_text("".join(f"{i}\n" for i in ids[::3]))

    def make(backend: str) -> Path:
        out = d / backend
        if not out.exists():
            out.mkdir()
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("VECRECALL_QUIET", "1")
                build_index(backend, out / "idx", embeddings=d / "emb",
                            params={"index_type": "FLAT"} if backend == "milvus" else {})
            for name in ("gone.txt", "new", "q.npy"):
                (shutil.copytree if (d / name).is_dir() else shutil.copy)(d / name, out / name)
        return out

    return make


def _steps(d: Path) -> list[list[object]]:
    """The writers, each replacing the index in place: delete, add back with a replacement, re-train."""
    return [["update-index", "--index", d / "idx", "--delete", d / "gone.txt", "--overwrite"],
            ["update-index", "--index", d / "idx", "--add", d / "new", "--replace", "--overwrite"],
            ["rebuild", "--index", d / "idx"]]


def _answers(path: Path, q: np.ndarray) -> list:
    from vecrecall.indexes.store import IndexDir

    loaded = IndexDir.load(path)
    rows = loaded.index.search(loaded.prepare(q), 5)[1]
    return loaded.ids["id"].astype(str).to_numpy()[rows].tolist()


@pytest.mark.parametrize("backend,fallback", [("faiss", False), ("faiss", True), ("annoy", False),
                                              ("hnswlib", False), ("milvus", False)],
                         ids=["faiss", "faiss-two-renames", "annoy", "hnswlib", "milvus"])
def test_reader_never_fails_nor_sees_a_mix(sample_index, tmp_path, backend, fallback):
    src = sample_index(backend)
    q = np.load(src / "q.npy")
    # expected answers of every version: the same writers run once beforehand on a copy
    ref = tmp_path / "ref"
    shutil.copytree(src, ref)
    expected = {1: _answers(ref / "idx", q)}
    for n, step in enumerate(_steps(ref), 2):
        r = run_cli(*step)
        assert r.exit_code == 0, r.stderr
        expected[n] = _answers(ref / "idx", q)
    assert expected[1] != expected[2] != expected[3]

    live = tmp_path / "live"
    shutil.copytree(src, live)
    stop, out = tmp_path / "stop", tmp_path / "records.json"
    fresh_loads = backend != "milvus"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(live / "idx"), str(src / "q.npy"), str(stop), str(out),
                               "1" if fresh_loads else "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=cli_env(), cwd=ROOT)
    try:
        assert reader.stdout.readline().strip() == "ready", reader.stderr.read()
        env = cli_env(VECRECALL_TEST_SWAP_DELAY="0.3", **({"VECRECALL_TEST_SWAP_FALLBACK": "1"} if fallback else {}))
        for step in _steps(live):
            r = run_cli(*step, env=env)
            assert r.exit_code == 0, r.stderr
            time.sleep(0.3)
        stop.touch()
        _, err = reader.communicate(timeout=120)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    records = json.loads(out.read_text())
    assert len(records["held"]) > 10
    print(f"{backend}: {len(records['held'])} queries of the held version, {len(records['fresh'])} fresh loads")
    assert all(a == expected[1] for a in records["held"])  # the loaded version keeps answering as itself
    if fresh_loads:
        versions = [v for v, _ in records["fresh"]]
        assert versions == sorted(versions) and set(versions) == {1, 2, 3, 4}, sorted(set(versions))
        for version, answer in records["fresh"]:
            assert answer == expected[version], version  # one version, never a mix
    assert _answers(live / "idx", q) == expected[4]
    assert [p.name for p in live.iterdir() if p.name.startswith(".")] == []
