"""encode --shard / vecrecall merge / encode --resume / empty texts / range checks of encode's options."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_MODEL, assert_user_error
from vecrecall.artifacts import load_embeddings
from vecrecall.embed import Shard
from vecrecall.encoders import HashEncoder
from vecrecall.errors import UserError


def _encode(vr, sample, out, *extra):
    r = vr("encode", "--corpus", sample, "--out", out, "--model", FAST_MODEL, "--block-size", 100, *extra)
    assert r.exit_code == 0, r.stderr
    return r


@pytest.fixture
def shards(vr, sample, tmp_path):
    for i in range(3):
        _encode(vr, sample, tmp_path / f"s{i}", "--shard", f"{i}/3")
    _encode(vr, sample, tmp_path / "full")
    return tmp_path


def test_shard_ranges_are_whole_blocks_covering_every_record():
    ranges = [Shard(i, 4).record_range(1050, 100) for i in range(4)]  # 11 blocks: 2, 3, 3, 3
    assert ranges == [(0, 200), (200, 500), (500, 800), (800, 1050)]
    with pytest.raises(UserError, match="only 2 block"):
        Shard(0, 3).record_range(150, 100)


def test_shard_and_merge_equal_a_single_encode_byte_for_byte(vr, shards):
    m = json.loads((shards / "s1" / "manifest.json").read_text())
    assert m["params"]["shard"] == {"index": 1, "count": 3, "records": [600, 1300]}
    assert m["stats"]["records"] == 700 and m["stats"]["source_records"] == 2000
    r = vr("merge", shards / "s2", shards / "s0", shards / "s1", "--out", shards / "merged", "--json")
    assert r.exit_code == 0, r.stderr
    for f in ("embeddings.npy", "ids.parquet"):
        assert (shards / "merged" / f).read_bytes() == (shards / "full" / f).read_bytes(), f
    merged, full = (json.loads((shards / d / "manifest.json").read_text()) for d in ("merged", "full"))
    assert merged["params"] == full["params"] and merged["stats"]["rows"] == 2000
    assert [s["index"] for s in merged["inputs"]["shards"]] == [0, 1, 2]
    # the merged artifact is an ordinary embeddings artifact: index and query it
    assert vr("build-index", "--embeddings", shards / "merged", "--out", shards / "idx").exit_code == 0


def test_bad_shard_sets_are_refused_naming_both_shards(vr, sample, shards):
    out = shards / "m"
    assert_user_error(vr("merge", shards / "s0", shards / "s2", "--out", out), "records 600–1,299 are in no shard",
                      f"between {shards / 's0'} and {shards / 's2'}")
    assert_user_error(vr("merge", shards / "s0", shards / "s1", "--out", out), "records 1,300–1,999 of 2,000",
                      f"after {shards / 's1'}")
    assert_user_error(vr("merge", shards / "s1", shards / "s2", "--out", out), "records 0–599 are in no shard")
    assert_user_error(vr("merge", shards / "s0", shards / "s1", shards / "s1", shards / "s2", "--out", out),
                      "overlapping", f"{shards / 's1'} and {shards / 's1'}")
    _encode(vr, sample, shards / "half1", "--shard", "1/2")  # records 1000–1999, overlaps s1 and s2
    assert_user_error(vr("merge", shards / "s0", shards / "s1", shards / "half1", "--out", out),
                      f"{shards / 's0'} and {shards / 'half1'}", "shards of different splits")
    r = vr("encode", "--corpus", sample, "--out", shards / "other", "--model", "hash:32", "--block-size", 100, "--shard", "2/3")
    assert r.exit_code == 0
    assert_user_error(vr("merge", shards / "s0", shards / "s1", shards / "other", "--out", out),
                      f"{shards / 's0'} and {shards / 'other'}", "different models or backends", "hash:64 vs hash:32")
    _encode(vr, sample, shards / "nonorm", "--shard", "2/3", "--no-normalize")
    assert_user_error(vr("merge", shards / "s0", shards / "s1", shards / "nonorm", "--out", out),
                      "different settings (normalize True ≠ False)")
    other_src = shards / "c.jsonl"
    lines = (sample / "corpus.jsonl").read_text().splitlines()
    other_src.write_text("\n".join(lines[:-1] + [lines[-1].replace('"text": "', '"text": "changed ')]) + "\n")
    r = vr("encode", "--corpus", other_src, "--out", shards / "src", "--model", FAST_MODEL, "--block-size", 100, "--shard", "2/3")
    assert r.exit_code == 0, r.stderr
    assert_user_error(vr("merge", shards / "s0", shards / "s1", shards / "src", "--out", out), "different sources")
    assert_user_error(vr("merge", shards / "s0", shards / "full", "--out", out), f"{shards / 'full'}: not a shard")
    assert not out.exists()
    assert_user_error(vr("merge", shards / "s0", shards / "s1", shards / "s2", "--out", shards / "full"), "already exists")


@pytest.mark.parametrize("args, message", [
    (["--shard", "0/0"], "--shard 0/0: needs N ≥ 1 and 0 ≤ I < N"),
    (["--shard", "3/2"], "--shard 3/2: needs N ≥ 1"),
    (["--shard", "2/2"], "--shard 2/2: needs N ≥ 1"),
    (["--shard", "-1/2"], "--shard -1/2"),
    (["--shard", "1"], "--shard 1: write it as I/N"),
    (["--shard", "a/b"], "--shard a/b: write it as I/N"),
    (["--shard", "0/30", "--block-size", "100"], "only 20 block(s)"),
    (["--batch-size", "0"], "--batch-size 0: must be ≥ 1"),
    (["--batch-size", "-3"], "--batch-size -3: must be ≥ 1"),
    (["--block-size", "0"], "--block-size 0: must be ≥ 1"),
    (["--threads", "0"], "--threads 0: must be ≥ 1"),
    (["--chunk-tokens", "-5"], "--chunk-tokens -5: must be positive"),
    (["--chunk-tokens", "8", "--chunk-overlap", "-1"], "--chunk-overlap -1"),
    (["--backend", "tensorrt"], "--backend tensorrt: choose one of torch, onnx, openvino"),
    (["--quantize", "int4", "--backend", "onnx"], "--quantize int4: use none, int8"),
    (["--quantize", "int8"], "--quantize int8 needs --backend onnx or --backend openvino"),
    (["--quantize", "int8:sse", "--backend", "onnx"], "unknown int8 config 'sse'"),
    (["--backend", "onnx"], "--backend onnx: the hash encoder has no model to export"),
])
def test_bad_ranges_are_one_line_before_any_work(vr, sample, tmp_path, args, message):
    assert_user_error(vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, *args), message)
    assert list(tmp_path.iterdir()) == []


def test_resume_keeps_verified_blocks_and_matches_a_fresh_encode(vr, sample, tmp_path, monkeypatch):
    _encode(vr, sample, tmp_path / "fresh", "--no-cache")
    calls = []
    original = HashEncoder.encode

    def flaky(self, texts, batch_size=64):
        calls.append(len(texts))
        if len(calls) == 8:
            raise KeyboardInterrupt
        return original(self, texts, batch_size)

    monkeypatch.setattr(HashEncoder, "encode", flaky)
    r = vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, "--block-size", 100, "--no-cache", "--resume")
    assert r.exit_code == 130 and "--resume to continue" in r.stderr
    staging = tmp_path / ".e.partial"
    assert sorted(p.name for p in staging.glob("*.json")) == [f"{k:06d}.json" for k in range(7)] + ["staging.json"]
    assert not (tmp_path / "e").exists()
    # without --resume the partial encode is neither reused nor silently deleted
    assert_user_error(vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, "--block-size", 100),
                      "an interrupted encode of this output is there", "--resume")
    # other settings are refused
    assert_user_error(vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, "--block-size", 100,
                         "--no-normalize", "--resume"), "used other inputs or settings",
                      "params.normalize: was True, now False")
    # a damaged block is found by its checksum and encoded again, with everything after it
    arr = np.load(staging / "000005.npy")
    arr[0, 0] += 1
    np.save(staging / "000005.npy", arr)
    calls.clear()
    monkeypatch.setattr(HashEncoder, "encode", lambda self, texts, batch_size=64: calls.append(len(texts)) or original(self, texts))
    r = vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, "--block-size", 100, "--no-cache", "--resume")
    assert r.exit_code == 0, r.stderr
    assert sum(calls) == 2000 - 500  # blocks 0–4 were kept
    for f in ("embeddings.npy", "ids.parquet"):
        assert (tmp_path / "e" / f).read_bytes() == (tmp_path / "fresh" / f).read_bytes(), f
    assert not staging.exists()


def test_interrupted_encode_without_resume_leaves_nothing(vr, sample, tmp_path, monkeypatch):
    def boom(self, texts, batch_size=64):
        raise KeyboardInterrupt

    monkeypatch.setattr(HashEncoder, "encode", boom)
    r = vr("encode", "--corpus", sample, "--out", tmp_path / "e", "--model", FAST_MODEL, "--no-cache")
    assert r.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_empty_texts_are_left_out_with_a_warning(vr, tmp_path):
    rows = [{"_id": "a", "text": "alpha beta"}, {"_id": "e1", "text": ""}, {"_id": "e2", "text": "   "},
            {"_id": "p", "text": "?!"}, {"_id": "b", "text": "beta gamma"}]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = vr("encode", "--corpus", tmp_path / "c.jsonl", "--out", tmp_path / "e", "--model", FAST_MODEL, "--json")
    assert r.exit_code == 0, r.stderr
    assert "3 of 5 documents have no text the model can encode" in r.stderr and "e1, e2, p" in r.stderr
    emb = load_embeddings(tmp_path / "e")
    assert emb.ids["id"].tolist() == ["a", "b"]
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1, rtol=1e-6)
    m = json.loads(r.stdout)
    assert m["stats"]["empty_dropped"] == 3 and m["stats"]["empty_dropped_ids"] == ["e1", "e2", "p"]
    (tmp_path / "q.jsonl").write_text(json.dumps({"_id": "q0", "text": ""}) + "\n" + json.dumps({"_id": "q1", "text": "beta"}) + "\n")
    r = vr("encode", "--queries", tmp_path / "q.jsonl", "--out", tmp_path / "q", "--model", FAST_MODEL, "--no-normalize")
    assert r.exit_code == 0 and "1 of 2 queries" in r.stderr and "they get no results" in r.stderr
    assert load_embeddings(tmp_path / "q").ids["id"].tolist() == ["q1"]
    # query texts straight into `query`: the empty one is counted in a warning
    assert vr("build-index", "--embeddings", tmp_path / "e", "--out", tmp_path / "i").exit_code == 0
    r = vr("query", "--index", tmp_path / "i", "--queries", tmp_path / "q.jsonl", "--out", tmp_path / "r.parquet")
    assert r.exit_code == 0 and "1 of 2 queries have no text the model can encode" in r.stderr
    (tmp_path / "none.jsonl").write_text(json.dumps({"_id": "x", "text": ""}) + "\n")
    assert_user_error(vr("encode", "--corpus", tmp_path / "none.jsonl", "--out", tmp_path / "n", "--model", FAST_MODEL),
                      "every corpus record to encode has empty text")
    assert not (tmp_path / "n").exists() and not (tmp_path / ".n.partial").exists()


def test_chunks_of_an_empty_document_are_left_out(vr, tmp_path):
    rows = [{"_id": "long", "text": " ".join(f"w{i}" for i in range(25))}, {"_id": "empty", "text": ""}]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = vr("encode", "--corpus", tmp_path / "c.jsonl", "--out", tmp_path / "e", "--model", FAST_MODEL, "--chunk-tokens", 10)
    assert r.exit_code == 0 and "empty#0" in r.stderr
    assert pd.read_parquet(tmp_path / "e" / "ids.parquet")["docid"].unique().tolist() == ["long"]
