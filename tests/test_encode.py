"""encode: artifact contents, settings recorded, chunking, cache, dtype, refusal of existing outputs, interruption."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_MODEL, assert_user_error
from vecrecall.artifacts import load_embeddings
from vecrecall.encoders import HashEncoder, l2_normalize


def test_encode_writes_rows_ids_and_manifest(vr, sample, tmp_path):
    r = vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, "--json")
    assert r.exit_code == 0, r.stderr
    emb = load_embeddings(tmp_path / "e")
    assert emb.vectors.shape == (2000, 64) and emb.vectors.dtype == np.float32
    ids = [json.loads(l)["_id"] for l in (sample / "corpus.jsonl").read_text().splitlines()]
    assert emb.ids["id"].tolist() == ids
    texts = [json.loads(l)["text"] for l in (sample / "corpus.jsonl").read_text().splitlines()]
    np.testing.assert_allclose(emb.vectors[:5], l2_normalize(HashEncoder(64).encode(texts[:5])), rtol=1e-6)
    m = json.loads(r.stdout)
    assert m["type"] == "embeddings" and m["params"]["model"]["name"] == FAST_MODEL
    assert m["params"]["normalize"] is True and m["stats"]["rows"] == 2000
    assert m["inputs"]["source"]["sha256"]
    assert {"year", "lang"} <= set(emb.ids.columns)  # metadata travels with the ids


def test_prefix_dtype_and_normalize_options(vr, sample, tmp_path):
    base = ["encode", "--queries", sample, "--model", FAST_MODEL]
    assert vr(*base, "--out", tmp_path / "a").exit_code == 0
    assert vr(*base, "--out", tmp_path / "b", "--query-prefix", "query: zebra ").exit_code == 0
    assert vr(*base, "--out", tmp_path / "c", "--dtype", "float16", "--no-normalize").exit_code == 0
    a, b, c = (load_embeddings(tmp_path / x) for x in "abc")
    assert not np.allclose(a.vectors, b.vectors)
    assert b.manifest.params["query_prefix"] == "query: zebra "
    assert c.vectors.dtype == np.float16 and not np.allclose(np.linalg.norm(c.vectors.astype(np.float32), axis=1), 1, atol=1e-2)
    assert_user_error(vr(*base, "--out", tmp_path / "d", "--dtype", "int8"), "--dtype int8")


def test_chunking_keeps_parent_ids_and_query_takes_max_over_chunks(vr, tmp_path):
    long = " ".join(f"w{i}" for i in range(25))
    (tmp_path / "c.jsonl").write_text(json.dumps({"_id": "long", "text": long + " needle"}) + "\n"
                                      + json.dumps({"_id": "short", "text": "w1 w2 w3"}) + "\n")
    r = vr("encode", "--corpus", tmp_path / "c.jsonl", "--out", tmp_path / "e", "--model", FAST_MODEL,
           "--chunk-tokens", 10, "--chunk-overlap", 2)
    assert r.exit_code == 0, r.stderr
    emb = load_embeddings(tmp_path / "e")
    assert emb.ids["docid"].tolist() == ["long"] * 3 + ["short"]  # 26 tokens, windows of 10 with step 8
    assert emb.ids["chunk"].tolist() == [0, 1, 2, 0]
    (tmp_path / "q.jsonl").write_text(json.dumps({"_id": "q", "text": "needle"}) + "\n")
    assert vr("build-index", "--embeddings", tmp_path / "e", "--out", tmp_path / "i").exit_code == 0
    assert vr("query", "--index", tmp_path / "i", "--queries", tmp_path / "q.jsonl", "-k", 2, "--out", tmp_path / "r.parquet").exit_code == 0
    assert vr("query", "--index", tmp_path / "i", "--queries", tmp_path / "q.jsonl", "-k", 4, "--per-chunk", "--out", tmp_path / "c.parquet").exit_code == 0
    per_doc, per_chunk = pd.read_parquet(tmp_path / "r.parquet"), pd.read_parquet(tmp_path / "c.parquet")
    assert per_doc["docid"].tolist()[0] == "long" and len(per_doc) == 2
    assert per_chunk["docid"].tolist()[0] == "long#2"
    assert per_doc["score"].iloc[0] == pytest.approx(per_chunk["score"].max())
    assert_user_error(vr("encode", "--corpus", tmp_path / "c.jsonl", "--out", tmp_path / "x", "--model", FAST_MODEL,
                         "--chunk-tokens", 4, "--chunk-overlap", 4), "--chunk-overlap 4")


def test_cache_makes_reencoding_free(vr, sample, tmp_path, monkeypatch):
    calls = []
    original = HashEncoder.encode
    monkeypatch.setattr(HashEncoder, "encode", lambda self, texts, batch_size=64: calls.append(len(texts)) or original(self, texts))
    assert vr("encode", "--corpus", sample, "--out", tmp_path / "a", "--model", FAST_MODEL).exit_code == 0
    assert sum(calls) == 2000
    calls.clear()
    assert vr("encode", "--corpus", sample, "--out", tmp_path / "b", "--model", FAST_MODEL).exit_code == 0
    assert sum(calls) == 0
    np.testing.assert_array_equal(load_embeddings(tmp_path / "a").vectors, load_embeddings(tmp_path / "b").vectors)
    assert vr("encode", "--corpus", sample, "--out", tmp_path / "c", "--model", FAST_MODEL, "--no-cache").exit_code == 0
    assert sum(calls) == 2000


def test_existing_output_is_refused_unless_overwrite(vr, sample, tmp_path):
    args = ["encode", "--queries", sample, "--out", tmp_path / "e", "--model", FAST_MODEL]
    assert vr(*args).exit_code == 0
    assert_user_error(vr(*args), "already exists", "--overwrite")
    assert vr(*args, "--overwrite").exit_code == 0


def test_interrupted_encode_leaves_nothing(vr, sample, tmp_path, monkeypatch):
    seen = []

    def boom(self, texts, batch_size=64):
        seen.append(1)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return np.ones((len(texts), 64), np.float32)

    monkeypatch.setattr(HashEncoder, "encode", boom)
    r = vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, "--no-cache")
    assert r.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_model_errors(vr, sample, tmp_path):
    assert_user_error(vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", tmp_path / "nomodel"), "no such local model directory")
    assert_user_error(vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", "hash:x"), "hash:256")
    assert_user_error(vr("encode", "--out", tmp_path / "e"), "exactly one of --corpus or --queries")


@pytest.mark.slow
def test_default_model_matches_sentence_transformers(vr, sample, tmp_path):
    from sentence_transformers import SentenceTransformer

    from vecrecall.encoders import default_model_path

    assert vr("encode", "--queries", sample, "--out", tmp_path / "q").exit_code == 0
    emb = load_embeddings(tmp_path / "q")
    texts = [json.loads(l)["text"] for l in (sample / "queries.jsonl").read_text().splitlines()]
    ref = SentenceTransformer(str(default_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(emb.vectors, ref, atol=1e-5)
    assert emb.manifest.params["model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
