"""finetune's cost: length-bucketed training forward, encodings reused through the cache, phase timings, range checks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_user_error
from test_finetune import FAST, qrels_args, tiny_beir, tiny_model  # noqa: F401  (fixtures)


# ---------------------------------------------------------------------------------------------------------------
# length-bucketed forward
# ---------------------------------------------------------------------------------------------------------------


def _padded_cost(lengths: list[int], runs: list[tuple[int, int]], cost: int) -> int:
    return sum((b - a) * max(1, lengths[a]) + cost for a, b in runs)


@pytest.mark.parametrize("lengths", [[204, 116, 93, 92, 88, 76, 75, 65, 63, 59, 59, 56, 49, 47, 46, 43, 43, 41, 39, 39,
                                      39, 39, 37, 36, 35, 33, 28, 15, 10, 9, 9, 8], [12] * 7, [300, 5, 5, 5], [1], [0, 0]])
def test_length_chunks_cover_the_rows_in_order_at_the_least_cost(lengths):
    from vecrecall.training.trainer import length_chunks

    runs = length_chunks(lengths, cost=32)
    assert runs[0][0] == 0 and runs[-1][1] == len(lengths)
    assert all(a < b for a, b in runs) and all(x[1] == y[0] for x, y in zip(runs, runs[1:]))
    n = len(lengths)
    if n <= 12:  # brute force over every set of cut points
        best = min(_padded_cost(lengths, list(zip((0, *cuts), (*cuts, n))), 32)
                   for r in range(n) for cuts in itertools.combinations(range(1, n), r))
        assert _padded_cost(lengths, runs, 32) == best
    else:
        assert _padded_cost(lengths, runs, 32) < n * lengths[0]  # far less than padding all rows to the longest


def test_length_bucketed_forward_gives_the_padded_batch_embeddings_and_gradients(tiny_model):
    from sentence_transformers import SentenceTransformer

    from vecrecall.training.trainer import length_bucketed

    model = SentenceTransformer(str(tiny_model), device="cpu")
    model.eval()  # no dropout: the two forwards must agree
    texts = ["laser", "radar echo antenna pulse aircraft detection range " * 5, "plasma wave", "crystal lattice " * 9,
             "magnetic field ferrite domain", "transistor"]
    feats = model.preprocess(texts)

    def run() -> tuple[np.ndarray, np.ndarray]:
        model.zero_grad()
        emb = model(dict(feats))["sentence_embedding"]
        (emb ** 2).sum().backward()
        grad = model[0].model.encoder.layer[0].attention.self.query.weight.grad
        return emb.detach().numpy().copy(), grad.numpy().copy()

    plain_emb, plain_grad = run()
    widths = []
    original = model.forward

    def counted(features, **kw):
        widths.append(tuple(features["input_ids"].shape))
        return original(features, **kw)

    model.forward = counted
    with length_bucketed(model, cost=0):  # cost 0: every distinct length in its own chunk
        bucket_emb, bucket_grad = run()
    assert model.forward is counted  # the forward in place before the block is back
    lengths = sorted(set(feats["attention_mask"].sum(dim=1).tolist()), reverse=True)
    assert [w for _, w in widths] == lengths and sum(n for n, _ in widths) == len(texts)
    del model.forward
    with length_bucketed(model):
        assert "forward" in vars(model)
    assert "forward" not in vars(model)  # the class's forward shows through again
    np.testing.assert_allclose(bucket_emb, plain_emb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bucket_grad, plain_grad, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# reuse of encodings through the cache
# ---------------------------------------------------------------------------------------------------------------


class _Counting:
    """Counts the texts each model directory encodes (by the encoder's base path)."""

    def __init__(self, monkeypatch) -> None:
        from vecrecall.encoders import SentenceTransformerEncoder

        self.texts: dict[str, int] = {}
        plain = SentenceTransformerEncoder.encode
        counts = self.texts

        def encode(enc, texts, batch_size=64):
            counts[str(enc.base_path)] = counts.get(str(enc.base_path), 0) + len(texts)
            return plain(enc, texts, batch_size)

        monkeypatch.setattr(SentenceTransformerEncoder, "encode", encode)


def test_heldout_encodings_are_reused_by_encode_and_stock_comes_from_the_cache(vr, tiny_model, tiny_beir, tmp_path,
                                                                             monkeypatch):
    from vecrecall.encoders import _LOADED
    from vecrecall.fingerprint import model_fingerprint

    _LOADED.clear()  # encoders are kept per process; count real encoding work only
    # stock vectors of this corpus and these queries are already in the cache
    assert vr("encode", "--corpus", tiny_beir, "--model", tiny_model, "--out", tmp_path / "stock-emb").exit_code == 0
    assert vr("encode", "--queries", tiny_beir, "--model", tiny_model, "--out", tmp_path / "stock-q").exit_code == 0
    counting = _Counting(monkeypatch)
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--split-queries", 0.5, "--seed", 3,
           "--eval-k", 30, *FAST, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert counting.texts.get(str(tiny_model), 0) == 0  # every stock vector came from the cache
    assert sum(n for k, n in counting.texts.items() if k != str(tiny_model)) >= 30  # the finetuned model encoded the corpus
    stats = json.loads(r.stdout)
    phases = stats["phases"]["seconds"]
    for name in ("setup", "read inputs", "negatives", "load model", "train", "save", "held-out stock",
                 "held-out finetuned", "held-out scoring"):
        assert name in phases and phases[name] >= 0, name
    assert stats["peak_rss_mb"] == max(stats["phases"]["peak_rss_mb"].values()) > 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["stats"]["phases"] == stats["phases"] and m["params"]["threads"] >= 1

    # encode with the finetuned model: every vector is a cache hit, and equal to a fresh encode
    counting.texts.clear()
    _LOADED.clear()
    cached = tmp_path / "ft-emb"
    assert vr("encode", "--corpus", tiny_beir, "--model", out, "--out", cached).exit_code == 0
    assert counting.texts == {}
    fresh = tmp_path / "ft-emb-fresh"
    assert vr("encode", "--corpus", tiny_beir, "--model", out, "--out", fresh, "--no-cache").exit_code == 0
    assert counting.texts == {str(out): 30}
    assert (cached / "embeddings.npy").read_bytes() == (fresh / "embeddings.npy").read_bytes()
    # the held-out queries too
    counting.texts.clear()
    q = vr("query", "--index", _flat(vr, cached, tmp_path), "--queries", out / "heldout.queries.jsonl", "-k", 5,
           "--out", tmp_path / "ft.run")
    assert q.exit_code == 0, q.stderr
    assert counting.texts == {}
    # the manifest (run statistics) is not part of the model's fingerprint; the weights are
    before = model_fingerprint(out)
    (out / "manifest.json").write_text((out / "manifest.json").read_text().replace('"steps"', '"steps" ', 1))
    assert model_fingerprint(out) == before
    with open(out / "model.safetensors", "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    assert model_fingerprint(out) != before


def _flat(vr, emb: Path, tmp_path: Path) -> Path:
    ix = tmp_path / "flat"
    assert vr("build-index", "--embeddings", emb, "--out", ix).exit_code == 0
    return ix


def test_phase_summary_is_printed(vr, tiny_model, tiny_beir, tmp_path):
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--split-queries", 8, "--no-eval", *FAST,
           "--out", tmp_path / "ft")
    assert r.exit_code == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("time ("))
    assert " train " in line and "total " in line and "peak RSS " in line and "GiB" in line


def test_same_seed_one_thread_byte_identical_weights_with_bucketing(vr, tiny_model, tiny_beir, tmp_path):
    """mnrl with core-deletion rows: documents of several lengths in every batch, so the bucketed forward splits."""
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--split-queries", 8, "--seed", 5,
               "--negatives", "in-batch,core-deletion", "--threads", 1, "--no-eval", "--batch-size", 8,
               "--max-steps", 3, "--lr", "1e-3", "--out", out)
        assert r.exit_code == 0, r.stderr
        outs.append(out)
    assert (outs[0] / "model.safetensors").read_bytes() == (outs[1] / "model.safetensors").read_bytes()
    assert json.loads((outs[0] / "manifest.json").read_text())["params"]["threads"] == 1


# ---------------------------------------------------------------------------------------------------------------
# ranges that `x or default` used to swallow
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args,message", [
    (["--max-steps", 0], "--max-steps 0: must be ≥ 1 (leave it out to let --epochs decide)"),
    (["--epochs", 0], "--epochs 0: must be > 0"),
    (["--epochs", -1], "--epochs -1: must be > 0"),
    (["--batch-size", 0], "--batch-size 0: must be ≥ 2"),
    (["--batch-size", 1], "--batch-size 1: must be ≥ 2 (in-batch negatives and the batch sampler need two rows)"),
    (["--eval-every", 0, "--split-queries", 8, "--dev-queries", 2], "--eval-every 0: must be ≥ 1"),
    (["--eval-every", 0], "--eval-every 0: must be ≥ 1"),
    (["--threads", 0], "--threads 0: must be ≥ 1"),
    (["--max-seq-length", 0], "--max-seq-length 0: must be ≥ 1"),
    (["--max-seq-length", 4096], "--max-seq-length 4096: the model has position embeddings for 128 tokens; use ≤ 128"),
    (["--lr", 0], "--lr 0: must be > 0"),
    (["--warmup", 1], "--warmup 1: must be a share of the steps in [0, 1)"),
    (["--eval-k", 0], "--eval-k 0: must be ≥ 1"),
    (["--dev-queries", -1], "--dev-queries -1: must be ≥ 0"),
    (["--mix-size", 0, "--query-mix", "head:1"], "--mix-size 0: must be ≥ 1"),
    (["--core-terms", 0], "--core-terms 0: must be ≥ 1"),
    (["--eval-corpus-size", 0], "--eval-corpus-size 0: must be ≥ 1"),
    (["--teacher-depth", 0, "--loss", "distill"], "--teacher-depth 0: must be ≥ 1"),
    (["--scale", 0], "--scale 0: must be > 0"),
])
def test_out_of_range_training_options_are_refused_by_name(vr, tiny_model, tiny_beir, tmp_path, args, message):
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), *args, "--out", out)
    assert_user_error(r, message)
    assert not out.exists() and not list(tmp_path.glob(".ft*"))
