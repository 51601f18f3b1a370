"""The backend cases of ../shared/cases (hnswlib-k-near-n, bm25-no-indexable-term), parameters that used to crash
the process, clamped search parameters made visible, and bm25 index files that do not depend on PYTHONHASHSEED."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SAMPLE, assert_user_error
from vecrecall.io.runs import read_run

CASES = ROOT.parent / "shared" / "cases"


def _case(name: str) -> Path:
    path = CASES / name
    if not path.is_dir():
        pytest.skip(f"the shared case {name} is not at {path} (only present beside the repository checkout)")
    return path


def test_hnswlib_k_near_n_returns_what_the_graph_finds(vr, tmp_path):
    """hnswlib-k-near-n: 260 identical documents and a small graph; hnswlib cannot return 100 results for some
    queries. Each query gets exactly what hnswlib's graph search finds (the largest k it can return, those labels),
    short lists are counted, and a sweep at k=100 still produces its rows."""
    import hnswlib

    case = _case("hnswlib-k-near-n")
    w = tmp_path
    assert vr("encode", "--corpus", case / "corpus_dups.jsonl", "--model", "hash:32", "--out", w / "emb").exit_code == 0
    assert vr("encode", "--queries", case / "queries.jsonl", "--model", "hash:32", "--out", w / "qemb").exit_code == 0
    assert vr("build-index", "--embeddings", w / "emb", "--backend", "hnswlib", "--hnsw-m", "8", "--ef-construction",
              "40", "--out", w / "h").exit_code == 0
    r = vr("query", "--index", w / "h", "--queries", w / "qemb", "-k", "100", "--out", w / "h.run")
    assert r.exit_code == 0, r.stderr
    run = read_run(w / "h.run")
    # The right value, from hnswlib itself: per query, the largest k its knn_query returns at ef = k = 100.
    from vecrecall.artifacts import load_embeddings
    from vecrecall.encoders import l2_normalize

    native = hnswlib.Index(space="cosine", dim=32)
    native.load_index(str(w / "h" / "index.hnsw"))
    native.set_ef(100)
    q = load_embeddings(w / "qemb")
    ids = load_embeddings(w / "emb").ids["id"].astype(str).to_numpy()
    short = 0
    for qid, vec in zip(q.ids["id"].astype(str), l2_normalize(np.asarray(q.vectors, dtype=np.float32))):
        found = 0
        for kk in range(100, 0, -1):
            try:
                labels, _ = native.knn_query(vec[None, :], k=kk)
                found = kk
                break
            except RuntimeError:
                continue
        got = run[run["qid"] == qid].sort_values("rank")
        assert len(got) == found, (qid, len(got), found)
        assert set(got["docid"]) == set(ids[labels[0].astype(int)]) if found else got.empty
        short += found < 100
    assert short >= 1  # the case really has short lists
    manifest = json.loads((w / "h.run.manifest.json").read_text())
    assert manifest["stats"]["short_queries"] == short
    assert f"{short} of 3 queries returned fewer than 100 results" in r.stderr
    s = vr("sweep", "--embeddings", w / "emb", "--queries", w / "qemb", "--backend", "hnswlib", "--hnsw-m", "8",
           "--ef-construction", "40", "-k", "100", "--ef-search", "100,200", "--passes", "1", "--warmup", "2", "--json")
    assert s.exit_code == 0, s.stderr
    rows = json.loads(s.stdout)["rows"]
    assert [row["ef_search"] for row in rows] == [100, 200] and all(row["short_queries"] >= 1 for row in rows)


def test_bm25_no_indexable_term_costs_no_other_query(vr, tmp_path):
    """bm25-no-indexable-term: an all-stopword, an empty and a one-letter query get no results and one warning naming
    them; the query that has terms gets exactly the scores it gets alone; a corpus with no indexable term is refused."""
    case = _case("bm25-no-indexable-term")
    args = ["--backend", "bm25", "--stemmer", "english", "--stopwords", "en"]
    assert vr("build-index", "--corpus", case / "corpus.jsonl", *args, "--out", tmp_path / "b").exit_code == 0
    r = vr("query", "--index", tmp_path / "b", "--queries", case / "queries.jsonl", "-k", "5", "--out", tmp_path / "r.run")
    assert r.exit_code == 0, r.stderr
    run = read_run(tmp_path / "r.run")
    assert sorted(run["qid"].unique()) == ["q1"]
    assert "3 of 4 queries returned fewer than 5 results: q2 (0), q3 (0), q4 (0)" in r.stderr
    assert "no indexable term" in r.stderr
    # q1 alone: the same lines and scores
    (tmp_path / "q1.jsonl").write_text(json.dumps({"_id": "q1", "text": "harbor lantern"}) + "\n")
    assert vr("query", "--index", tmp_path / "b", "--queries", tmp_path / "q1.jsonl", "-k", "5", "--out",
              tmp_path / "q1.run").exit_code == 0
    alone = read_run(tmp_path / "q1.run")
    assert run[["docid", "rank"]].reset_index(drop=True).equals(alone[["docid", "rank"]].reset_index(drop=True))
    np.testing.assert_array_equal(run["score"].to_numpy(), alone["score"].to_numpy())
    assert set(run["docid"][:2]) == {"b1", "b5"}  # the two documents about harbors and lanterns
    # the reference: bm25s on the same tokens scores b1 and b5 the same way
    import bm25s
    import Stemmer

    docs = [json.loads(line)["text"] for line in (case / "corpus.jsonl").read_text().splitlines()]
    tok = lambda t: bm25s.tokenize(t, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False,  # noqa: E731
                                   show_progress=False)
    ref = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    ref.index(tok(docs), show_progress=False)
    expected = ref.get_scores(tok(["harbor lantern"])[0])
    for docid, score in zip(run["docid"], run["score"]):
        assert score == pytest.approx(expected[int(docid[1:]) - 1], rel=1e-6)
    # a corpus in which no document has an indexable term
    (tmp_path / "empty.jsonl").write_text("".join(json.dumps({"_id": f"e{i}", "text": t}) + "\n"
                                                  for i, t in enumerate(["the of and to", "", "a"])))
    r = vr("build-index", "--corpus", tmp_path / "empty.jsonl", *args, "--out", tmp_path / "e")
    assert_user_error(r, "no indexable term")
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("args,fragment", [
    (["--backend", "hnswlib", "--hnsw-m", "0"], "--hnsw-m 0: hnswlib takes an integer from 2"),
    (["--backend", "annoy", "--n-trees", "0"], "--n-trees 0: annoy takes an integer from 1"),
    (["--backend", "faiss", "--index-type", "IVF", "--train-size", "0"], "--train-size 0: faiss IVF takes"),
    (["--backend", "faiss", "--index-type", "ivf", "--nlist", "0"], "--nlist 0: faiss IVF takes an integer ≥ 1"),
    (["--backend", "faiss", "--index-type", "HNSW", "--hnsw-m", "1"], "--hnsw-m 1: faiss HNSW takes"),
    (["--backend", "hnswlib", "--ef-construction", "0"], "--ef-construction 0: hnswlib takes"),
])
def test_parameters_that_crashed_the_process_are_one_line_in_a_subprocess(sample_chain, tmp_path, args, fragment):
    """Through the installed entry point, in a subprocess: these values used to end in signal 11."""
    out = tmp_path / "i"
    p = subprocess.run([sys.executable, "-m", "vecrecall.cli.app", "build-index", "--embeddings",
                        str(sample_chain["emb"]), *args, "--out", str(out)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.strip().startswith("error: ") and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert fragment in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()


def test_search_parameter_zero_is_refused_not_swallowed(vr, sample_chain, sample, tmp_path):
    assert vr("build-index", "--embeddings", sample_chain["emb"], "--index-type", "IVF", "--nlist", "8", "--out",
              tmp_path / "ivf").exit_code == 0
    r = vr("query", "--index", tmp_path / "ivf", "--queries", sample_chain["qemb"], "--nprobe", "0", "--out", tmp_path / "r")
    assert_user_error(r, "--nprobe 0: faiss IVF takes an integer ≥ 1")
    r = vr("query", "--index", tmp_path / "ivf", "--queries", sample_chain["qemb"], "--nprobe", "two", "--out", tmp_path / "r")
    assert_user_error(r, "--nprobe two: faiss IVF takes an integer ≥ 1")
    assert not (tmp_path / "r").exists()


def test_clamped_search_parameters_are_recorded_and_said_once(vr, sample_chain, tmp_path):
    emb, qemb = sample_chain["emb"], sample_chain["qemb"]
    assert vr("build-index", "--embeddings", emb, "--backend", "hnswlib", "--out", tmp_path / "h").exit_code == 0
    r = vr("query", "--index", tmp_path / "h", "--queries", qemb, "--ef-search", "16", "-k", "100", "--out", tmp_path / "h.run")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("--ef-search 16 runs as 100 on hnswlib") == 1
    m = json.loads((tmp_path / "h.run.manifest.json").read_text())["params"]
    assert m["search"] == {"ef_search": 16} and m["search_used"] == {"ef_search": 100} and m["k_used"] == 100
    assert vr("build-index", "--embeddings", emb, "--index-type", "IVF", "--nlist", "8", "--out", tmp_path / "ivf").exit_code == 0
    r = vr("query", "--index", tmp_path / "ivf", "--queries", qemb, "--nprobe", "64", "-k", "10", "--out", tmp_path / "i.run")
    assert r.exit_code == 0 and "--nprobe 64 runs as 8 on faiss IVF" in r.stderr
    assert json.loads((tmp_path / "i.run.manifest.json").read_text())["params"]["search_used"] == {"nprobe": 8}
    # sweep: ef 16, 32, 64 at k=100 are one setting (ef 100), measured once; --target-recall picks what ran
    r = vr("sweep", "--embeddings", emb, "--queries", qemb, "--backend", "hnswlib", "-k", "100", "--ef-search",
           "16,32,64,200", "--passes", "1", "--warmup", "2", "--target-recall", "0.5", "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert sorted(row["ef_search"] for row in got["rows"]) == [100, 200]
    merged = next(row for row in got["rows"] if row["ef_search"] == 100)
    assert merged["requested"] == [{"ef_search": 16}, {"ef_search": 32}, {"ef_search": 64}]
    assert any("ef_search=16, ef_search=32, ef_search=64 all run as ef_search=100" in n for n in got["notes"])
    assert "--ef-search 100" in got["target"]["query"] or "--ef-search 200" in got["target"]["query"]


@pytest.mark.parametrize("engine", ["bm25s", "rank-bm25"])
def test_bm25_index_files_do_not_depend_on_the_hash_seed(tmp_path, engine):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"b{seed}"
        subprocess.run([sys.executable, "-m", "vecrecall.cli.app", "build-index", "--corpus", str(SAMPLE), "--backend",
                        "bm25", "--engine", engine, "--out", str(out)], check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)})
        outs.append(out)
    files = sorted(f.relative_to(outs[0]) for f in outs[0].rglob("*") if f.is_file() and f.name != "manifest.json")
    assert len(files) >= 2
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
