"""query: texts and embeddings give the same run; lineage checks refuse mismatched models, prefixes and dims;
run formats, and info's lineage chain."""

import json

import numpy as np
import pandas as pd

from conftest import FAST_MODEL, assert_user_error
from vecrecall.artifacts import load_embeddings
from vecrecall.encoders import l2_normalize
from vecrecall.io.runs import read_run


def test_texts_and_embeddings_give_the_exact_run(vr, sample, sample_chain, tmp_path):
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample, "-k", 20, "--out", tmp_path / "a.run").exit_code == 0
    r = vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", 20, "--out", tmp_path / "b.parquet",
           "--run-tag", "mine", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["queries"] == 40
    a, b = read_run(tmp_path / "a.run"), read_run(tmp_path / "b.parquet")
    assert a[["qid", "docid", "rank"]].equals(b[["qid", "docid", "rank"]])
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-6)
    # known answer: exact cosine top-20 by brute force
    docs, qs = load_embeddings(sample_chain["emb"]), load_embeddings(sample_chain["qemb"])
    s = l2_normalize(np.asarray(qs.vectors)) @ l2_normalize(np.asarray(docs.vectors)).T
    top = np.argsort(-s, axis=1, kind="stable")[:, :20]
    for i, qid in enumerate(qs.ids["id"]):
        got = b[b.qid == qid]["score"].to_numpy()
        np.testing.assert_allclose(got, s[i, top[i]], rtol=1e-5, atol=1e-6)
    assert (tmp_path / "a.run").read_text().split("\n")[0].split()[5] == "vecrecall"
    assert pd.read_parquet(tmp_path / "b.parquet").columns.tolist() == ["qid", "docid", "rank", "score"]
    m = json.loads((tmp_path / "b.parquet.manifest.json").read_text())
    assert m["params"]["run_tag"] == "mine" and m["inputs"]["index"]["manifest"]["type"] == "index"


def test_lineage_mismatches_are_refused(vr, sample, sample_chain, tmp_path):
    flat = sample_chain["flat"]
    out = tmp_path / "r.run"
    assert_user_error(vr("query", "--index", flat, "--queries", sample, "--model", "hash:32", "--out", out),
                      "--model hash:32", "differs from the index's model 'hash:64'")
    assert vr("encode", "--queries", sample, "--out", tmp_path / "q32", "--model", "hash:32").exit_code == 0
    assert_user_error(vr("query", "--index", flat, "--queries", tmp_path / "q32", "--out", out), "encoded with model 'hash:32'")
    assert vr("encode", "--queries", sample, "--out", tmp_path / "qp", "--model", FAST_MODEL, "--query-prefix", "q: ").exit_code == 0
    assert_user_error(vr("query", "--index", flat, "--queries", tmp_path / "qp", "--out", out), "prefix 'q: '")
    assert vr("encode", "--queries", sample, "--out", tmp_path / "qn", "--model", FAST_MODEL, "--no-normalize").exit_code == 0
    assert_user_error(vr("query", "--index", flat, "--queries", tmp_path / "qn", "--out", out), "normalisation differs")
    assert_user_error(vr("query", "--index", sample_chain["emb"], "--queries", sample, "--out", out), "is a 'embeddings' artifact, expected 'index'")
    assert not out.exists()


def test_dimension_mismatch_is_refused(vr, sample_chain, tmp_path):
    from vecrecall.artifacts import save_embeddings_from_array

    d = tmp_path / "q"
    d.mkdir()
    m = load_embeddings(sample_chain["qemb"]).manifest
    m.stats.update(dim=8, rows=3)  # a consistent 8-d artifact: the index (64-d) must refuse it at query time
    m.params["model"]["dim"] = 8
    save_embeddings_from_array(d, np.ones((3, 8), np.float32), pd.DataFrame({"id": ["a", "b", "c"]}), m)
    assert_user_error(vr("query", "--index", sample_chain["flat"], "--queries", d, "--out", tmp_path / "r"),
                      "dimension 8", "has dimension 64")


def test_query_prefix_recorded_at_encode_is_applied(vr, sample, tmp_path):
    args = ["--model", FAST_MODEL, "--query-prefix", "find: "]
    assert vr("encode", "--corpus", sample, "--out", tmp_path / "e", *args).exit_code == 0
    assert vr("encode", "--queries", sample, "--out", tmp_path / "q", *args).exit_code == 0
    assert vr("build-index", "--embeddings", tmp_path / "e", "--out", tmp_path / "i").exit_code == 0
    assert vr("query", "--index", tmp_path / "i", "--queries", sample, "--out", tmp_path / "a.run").exit_code == 0
    assert vr("query", "--index", tmp_path / "i", "--queries", tmp_path / "q", "--out", tmp_path / "b.run").exit_code == 0
    assert read_run(tmp_path / "a.run")["docid"].equals(read_run(tmp_path / "b.run")["docid"])


def test_k_larger_than_corpus_returns_everything(vr, tmp_path):
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "text": f"word{i} common"}) + "\n" for i in range(5)))
    (tmp_path / "q.jsonl").write_text(json.dumps({"_id": "q", "text": "common"}) + "\n")
    assert vr("encode", "--corpus", tmp_path / "c.jsonl", "--out", tmp_path / "e", "--model", FAST_MODEL).exit_code == 0
    for backend in ("faiss", "hnswlib", "annoy"):
        assert vr("build-index", "--embeddings", tmp_path / "e", "--backend", backend, "--out", tmp_path / backend).exit_code == 0
        assert vr("query", "--index", tmp_path / backend, "--queries", tmp_path / "q.jsonl", "-k", 50, "--out", tmp_path / f"{backend}.run").exit_code == 0
        assert len(read_run(tmp_path / f"{backend}.run")) == 5, backend


def test_info_shows_lineage(vr, sample, sample_chain, tmp_path):
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample, "--out", tmp_path / "r.run").exit_code == 0
    r = vr("info", tmp_path / "r.run")
    assert r.exit_code == 0
    for fragment in ("run", "input index", "faiss", "input embeddings", "hash:64", "input queries"):
        assert fragment in r.stdout, fragment
    m = json.loads(vr("info", sample_chain["flat"], "--json").stdout)
    assert m["type"] == "index" and m["params"]["backend"] == "faiss"
    assert_user_error(vr("info", tmp_path), "not a vecrecall artifact")


def test_ids_or_tag_with_whitespace_are_refused_for_trec_runs(vr, tmp_path):
    """A TREC run is split on whitespace: 'q 1 Q0 x y 2 0.0 tag' has 7 fields and no reader (ours included) can
    parse it. Such ids are refused for TREC output (nothing written) and kept intact in a Parquet run."""
    docs, queries = tmp_path / "docs.jsonl", tmp_path / "q.jsonl"
    docs.write_text('{"_id": "17", "text": "a b c"}\n{"_id": "x y", "text": "d e"}\n')
    queries.write_text('{"_id": "q 1", "text": "a b"}\n{"_id": "q2", "text": "d e"}\n')
    assert vr("encode", "--corpus", docs, "--model", FAST_MODEL, "--out", tmp_path / "emb").exit_code == 0
    assert vr("build-index", "--embeddings", tmp_path / "emb", "--out", tmp_path / "flat").exit_code == 0
    common = ("query", "--index", tmp_path / "flat", "--queries", queries, "-k", 2)
    assert_user_error(vr(*common, "--out", tmp_path / "r.run"), "query id 'q 1'", "holds whitespace",
                      "--out NAME.parquet")
    assert not (tmp_path / "r.run").exists() and not (tmp_path / "r.run.manifest.json").exists()
    one = tmp_path / "q2.jsonl"
    one.write_text('{"_id": "q2", "text": "d e"}\n')
    assert_user_error(vr("query", "--index", tmp_path / "flat", "--queries", one, "-k", 2, "--out", tmp_path / "r.run"),
                      "document id 'x y'", "holds whitespace")
    assert_user_error(vr("query", "--index", tmp_path / "flat", "--queries", one, "-k", 1, "--run-tag", "my run",
                         "--out", tmp_path / "r.run"), "--run-tag 'my run'", "choose a tag without spaces")
    assert not (tmp_path / "r.run").exists()
    assert vr(*common, "--out", tmp_path / "r.parquet").exit_code == 0
    run = read_run(tmp_path / "r.parquet")
    assert set(run["qid"]) == {"q 1", "q2"} and set(run["docid"]) == {"17", "x y"}
