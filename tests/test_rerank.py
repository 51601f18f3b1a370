"""rerank: the reordering logic with a hand-made scorer, the score cache, a tiny random CrossEncoder built in the
test (nothing downloaded) against CrossEncoder.predict, the bi-encoder scorer, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, assert_user_error

from vecrecall.errors import UserError
from vecrecall.rerank import PairScorer, ScoreCache, rerank


class LengthScorer(PairScorer):
    """Score = number of characters of the document (counts the pairs it scores)."""

    name = fingerprint = "length-v1"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, pairs):
        self.calls += len(pairs)
        return np.array([float(len(d)) for _, d in pairs])


RUN = pd.DataFrame({"qid": ["q1"] * 4 + ["q2"] * 2, "docid": ["a", "b", "c", "d", "a", "e"],
                    "rank": [1, 2, 3, 4, 1, 2], "score": [4.0, 3.0, 2.0, 1.0, 2.0, 1.0]})
DOCS = {"a": "x", "b": "xxx", "c": "xx", "d": "xxxxxxxx", "e": "xxx"}
QUERIES = {"q1": "one", "q2": "two"}


def test_reorders_top_depth_exactly(tmp_path):
    out, stats = rerank(RUN, QUERIES, DOCS, LengthScorer(), depth=3, k=2)
    # q1: only a, b, c (depth 3) are reranked: b(3) > c(2) > a(1); d is beyond the depth even though it is longest
    assert out[out["qid"] == "q1"][["docid", "rank", "score"]].values.tolist() == [["b", 1, 3.0], ["c", 2, 2.0]]
    assert out[out["qid"] == "q2"]["docid"].tolist() == ["e", "a"]
    assert stats.pairs == 5 and stats.scored == 5
    tie = rerank(RUN, QUERIES, {**DOCS, "b": "xx"}, LengthScorer(), depth=3, k=3)[0]
    assert tie[tie["qid"] == "q1"]["docid"].tolist() == ["c", "b", "a"]  # b = c = 2: ties by docid descending (trec_eval)


def test_depth_uses_scores_not_file_order():
    shuffled = RUN.assign(score=[1.0, 2.0, 3.0, 4.0, 2.0, 1.0])  # d, c, b are now q1's top 3
    out, _ = rerank(shuffled, QUERIES, DOCS, LengthScorer(), depth=3, k=3)
    assert out[out["qid"] == "q1"]["docid"].tolist() == ["d", "b", "c"]


def test_score_cache(tmp_path):
    cache = ScoreCache(tmp_path)
    s1 = LengthScorer()
    first, _ = rerank(RUN, QUERIES, DOCS, s1, depth=4, k=4, cache=cache)
    s2 = LengthScorer()
    second, stats = rerank(RUN, QUERIES, DOCS, s2, depth=4, k=4, cache=cache)
    assert s2.calls == 0 and stats.scored == 0 and second.equals(first)
    s3 = LengthScorer()
    rerank(RUN, QUERIES, {**DOCS, "a": "changed"}, s3, depth=4, k=4, cache=cache)
    assert s3.calls == 2  # only the pairs whose text changed (a in q1 and q2) are scored again
    cache.close()


def test_refuses_bad_input():
    with pytest.raises(UserError, match="-k 5 exceeds --depth 3"):
        rerank(RUN, QUERIES, DOCS, LengthScorer(), depth=3, k=5)
    with pytest.raises(UserError, match="have no text"):
        rerank(RUN, {"q1": "one"}, DOCS, LengthScorer(), depth=3, k=2)
    with pytest.raises(UserError, match="not in the corpus"):
        rerank(RUN, QUERIES, {"a": "x"}, LengthScorer(), depth=3, k=2)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from tiny_models import make_tiny_bi_encoder, make_tiny_cross_encoder

    d = tmp_path_factory.mktemp("models")
    return {"ce": make_tiny_cross_encoder(d / "ce", seed=3), "bi": make_tiny_bi_encoder(d / "bi", seed=3)}


@pytest.fixture
def flat_run(vr, sample_chain, tmp_path):
    run = tmp_path / "flat.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "8", "--out", run).exit_code == 0
    return run


def test_cli_cross_encoder(vr, tiny_models, flat_run, tmp_path):
    from sentence_transformers import CrossEncoder

    from vecrecall.io.runs import read_run
    from vecrecall.io.texts import load_texts

    out = tmp_path / "ce.run"
    args = ["rerank", "--run", flat_run, "--corpus", SAMPLE, "--queries", SAMPLE, "--model", tiny_models["ce"],
            "--depth", "5", "-k", "3", "--max-length", "64"]
    r = vr(*args, "--out", out)
    assert r.exit_code == 0, r.stderr
    got = read_run(out)
    assert got.groupby("qid").size().eq(3).all()
    # the scores are CrossEncoder.predict on (query text, document text)
    q = load_texts(SAMPLE, "queries").set_index("id")["text"]
    d = load_texts(SAMPLE, "corpus").set_index("id")["text"]
    ce = CrossEncoder(str(tiny_models["ce"]), max_length=64, device="cpu")
    direct = ce.predict([[q[a], d[b]] for a, b in zip(got["qid"], got["docid"])], show_progress_bar=False)
    prob = np.asarray(direct, dtype=float)  # the model's default activation, a sigmoid: rerank writes its logit
    assert got["score"].to_numpy() == pytest.approx(np.log(prob / (1 - prob)), abs=1e-4)
    base = read_run(flat_run)
    top5 = base[base["rank"] <= 5]
    for qid, g in got.groupby("qid"):
        assert set(g["docid"]) <= set(top5[top5["qid"] == qid]["docid"])
    m = json.loads((tmp_path / "ce.run.manifest.json").read_text())
    assert m["params"]["rerank"]["depth"] == 5 and m["stats"]["scored"] == 200
    r = vr(*args, "--out", tmp_path / "again.run", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["cached"] == 200  # second time: all from the cache
    assert read_run(tmp_path / "again.run").equals(got)


def test_cli_biencoder_hash(vr, flat_run, tmp_path):
    from vecrecall.encoders import load_encoder, l2_normalize
    from vecrecall.io.runs import read_run
    from vecrecall.io.texts import load_texts

    out = tmp_path / "bi.run"
    r = vr("rerank", "--run", flat_run, "--corpus", SAMPLE, "--queries", SAMPLE, "--scorer", "biencoder",
           "--model", "hash:64", "--depth", "8", "-k", "8", "--out", out)
    assert r.exit_code == 0, r.stderr
    got = read_run(out)
    enc = load_encoder("hash:64")
    q = load_texts(SAMPLE, "queries").set_index("id")["text"]
    d = load_texts(SAMPLE, "corpus").set_index("id")["text"]
    qa = l2_normalize(enc.encode([q[x] for x in got["qid"]]))
    da = l2_normalize(enc.encode([d[x] for x in got["docid"]]))
    assert got["score"].to_numpy() == pytest.approx((qa * da).sum(1), abs=1e-5)
    # with the index's own encoder and full depth the order is the flat run's order (same cosine)
    base = read_run(flat_run)
    assert got.groupby("qid")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert set(zip(got["qid"], got["docid"])) == set(zip(base["qid"], base["docid"]))


def test_cli_bad_input(vr, tiny_models, flat_run, tmp_path):
    out = tmp_path / "x.run"
    base = ["rerank", "--run", flat_run, "--corpus", SAMPLE, "--queries", SAMPLE, "--out", out]
    assert_user_error(vr(*base, "--model", tiny_models["bi"]), "bi-encoder")
    assert_user_error(vr(*base, "--model", tmp_path / "nowhere"), "no such cross-encoder directory")
    assert_user_error(vr(*base), "--scorer crossencoder needs --model")
    assert_user_error(vr(*base, "--model", tiny_models["ce"], "--depth", "5", "-k", "10"), "-k 10 exceeds --depth 5")
    assert_user_error(vr(*base, "--scorer", "colbert"), "--scorer colbert")
    assert not out.exists()


class RecordingScorer(LengthScorer):
    """LengthScorer that remembers the batches it was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[tuple[str, str]]] = []

    def score(self, pairs):
        self.batches.append(list(pairs))
        return super().score(pairs)


def test_scores_in_chunks_and_puts_scores_back():
    docs = {"a": "x" * 5, "b": "x" * 1, "c": "x" * 9, "d": "x" * 3, "e": "x" * 7}
    s = RecordingScorer()
    out, _ = rerank(RUN, QUERIES, docs, s, depth=4, k=4, batch=2)
    assert [len(b) for b in s.batches] == [2, 2, 2]  # 6 pairs in chunks of 2
    # every document keeps its own score whatever chunk it was scored in
    assert all(row.score == len(docs[row.docid]) for row in out.itertuples())
    assert out[out["qid"] == "q1"]["docid"].tolist() == ["c", "a", "d", "b"]


def test_fuse_weighted_minmax_is_the_ce_first_stage_interpolation(vr, tmp_path):
    """`fuse --method weighted --norm minmax --weights α,1−α` over a rerank run and the run it reranked is the
    standard interpolation α·norm(CE) + (1 − α)·norm(first stage), per-query min-max (e.g. Wang, Zhuang & Zuccon
    2021; Pyserini's hybrid fusion): checked against the formula computed by hand."""
    from vecrecall.io.runs import read_run

    rng = np.random.default_rng(0)
    lines = {"ce": [], "rrf": []}
    expect = {}
    alpha = 0.3
    for q in ("q1", "q2"):
        docs = [f"d{i}" for i in range(12)]
        ce = rng.normal(size=12) * 3
        first = np.sort(rng.random(12))[::-1] / 30
        for name, sc in (("ce", ce), ("rrf", first)):
            order = np.argsort(-sc)
            lines[name] += [f"{q} Q0 {docs[j]} {r + 1} {float(sc[j])!r} t\n" for r, j in enumerate(order)]
        norm = [(x - x.min()) / (x.max() - x.min()) for x in (ce, first)]
        expect.update({(q, d): alpha * a + (1 - alpha) * b for d, a, b in zip(docs, *norm)})
    for name in lines:
        (tmp_path / f"{name}.run").write_text("".join(lines[name]))
    out = tmp_path / "int.run"
    r = vr("fuse", tmp_path / "ce.run", tmp_path / "rrf.run", "--method", "weighted", "--norm", "minmax", "--weights",
           f"{alpha},{1 - alpha}", "--depth", "12", "--out", out)
    assert r.exit_code == 0, r.stderr
    got = read_run(out)
    assert len(got) == 24
    assert [got_s for got_s in got["score"]] == pytest.approx([expect[(q, d)] for q, d in zip(got["qid"], got["docid"])],
                                                               abs=1e-9)
    assert got.groupby("qid")["score"].apply(lambda s: s.is_monotonic_decreasing).all()


def test_backend_choice(monkeypatch):
    from vecrecall import crossencoder

    monkeypatch.setattr(crossencoder, "_importable", lambda name: False)
    assert crossencoder.resolve_backend("auto") == "torch"
    with pytest.raises(UserError, match=r"--backend onnx: needs the Python package\(s\) onnx, onnxruntime: pip install"):
        crossencoder.resolve_backend("onnx")
    with pytest.raises(UserError, match="--backend tensorrt: choose one of auto, torch, onnx, openvino"):
        crossencoder.resolve_backend("tensorrt")
    monkeypatch.setattr(crossencoder, "_importable", lambda name: True)
    assert crossencoder.resolve_backend("auto") == "onnx"


def test_cli_bad_backend(vr, tiny_models, flat_run, tmp_path):
    out = tmp_path / "x.run"
    r = vr("rerank", "--run", flat_run, "--corpus", SAMPLE, "--queries", SAMPLE, "--model", tiny_models["ce"],
           "--backend", "tensorrt", "--out", out)
    assert_user_error(r, "--backend tensorrt: choose one of")
    assert not out.exists()


def test_exported_backends_score_as_torch(vr, flat_run, tmp_path):
    """`--backend onnx|openvino` run the CrossEncoder's own preprocessing into a graph exported once beside the model:
    the same logits as PyTorch to float32 rounding, so the same order."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    from tiny_models import make_tiny_cross_encoder

    from vecrecall.io.runs import read_run

    model = make_tiny_cross_encoder(tmp_path / "ce", seed=5, initializer_range=0.5)
    args = ["rerank", "--run", flat_run, "--corpus", SAMPLE, "--queries", SAMPLE, "--model", model,
            "--depth", "8", "-k", "8", "--max-length", "64", "--no-cache", "--batch-size", "7"]
    runs = {}
    for backend in ("torch", "onnx", "openvino"):
        out = tmp_path / f"{backend}.run"
        r = vr(*args, "--backend", backend, "--out", out)
        assert r.exit_code == 0, r.stderr
        runs[backend] = read_run(out)
        m = json.loads((tmp_path / f"{backend}.run.manifest.json").read_text())
        assert m["params"]["rerank"]["model"]["backend"] == backend
    for backend in ("onnx", "openvino"):
        assert (model / ".vecrecall-exports" / backend / "export.json").exists()
        got, ref = runs[backend], runs["torch"]
        merged = got.merge(ref, on=["qid", "docid"], suffixes=("", "_torch"))
        assert len(merged) == len(ref)
        assert merged["score"].to_numpy() == pytest.approx(merged["score_torch"].to_numpy(), abs=1e-4)
        assert merged["score"].std() > 0.1  # logits that vary, so the comparison means something


def test_int8_cross_encoder_and_its_refusals(vr, flat_run, tmp_path):
    """`--backend onnx --quantize int8` exports an int8 graph (its own export directory and cache key) whose logits
    stay close to PyTorch's; int8 with torch or with the bi-encoder scorer is refused with one line."""
    pytest.importorskip("onnxruntime")
    from scipy.stats import spearmanr
    from tiny_models import make_tiny_cross_encoder

    from vecrecall.io.runs import read_run

    model = make_tiny_cross_encoder(tmp_path / "ce", seed=5, initializer_range=0.5)
    args = ["rerank", "--run", flat_run, "--corpus", SAMPLE, "--queries", SAMPLE, "--model", model, "--depth", "8",
            "-k", "8", "--max-length", "64", "--no-cache"]
    assert vr(*args, "--backend", "torch", "--out", tmp_path / "t.run").exit_code == 0
    r = vr(*args, "--backend", "onnx", "--quantize", "int8:avx2", "--out", tmp_path / "q.run")
    assert r.exit_code == 0, r.stderr
    assert (model / ".vecrecall-exports" / "onnx-int8-avx2" / "export.json").exists()
    m = json.loads((tmp_path / "q.run.manifest.json").read_text())
    assert m["params"]["rerank"]["model"]["quantize"] == "onnx-int8-avx2"
    merged = read_run(tmp_path / "q.run").merge(read_run(tmp_path / "t.run"), on=["qid", "docid"], suffixes=("", "_t"))
    assert len(merged) == 8 * merged["qid"].nunique()
    assert spearmanr(merged["score"], merged["score_t"]).statistic > 0.9
    assert_user_error(vr(*args, "--backend", "torch", "--quantize", "int8", "--out", tmp_path / "x.run"),
                      "--quantize int8 needs --backend onnx or --backend openvino")
    assert_user_error(vr(*args, "--scorer", "biencoder", "--model", "hash:16", "--quantize", "int8", "--out",
                         tmp_path / "x.run"), "--quantize int8: applies to --scorer crossencoder only")
    assert not (tmp_path / "x.run").exists()


def test_a_changed_model_is_exported_again(vr, flat_run, tmp_path):
    """An export beside the model records the weights it was made from: after the weights change (or when the
    directory was copied from another model) it is made again, never reused; a killed export's leftovers go."""
    pytest.importorskip("onnxruntime")
    import torch
    from tiny_models import make_tiny_cross_encoder
    from transformers import BertForSequenceClassification

    from vecrecall.io.runs import read_run

    model = make_tiny_cross_encoder(tmp_path / "ce", seed=5, initializer_range=0.5)
    args = ["rerank", "--run", flat_run, "--corpus", SAMPLE, "--queries", SAMPLE, "--model", model, "--depth", "8",
            "-k", "8", "--no-cache"]
    assert vr(*args, "--backend", "onnx", "--out", tmp_path / "before.run").exit_code == 0
    hf = BertForSequenceClassification.from_pretrained(model)
    with torch.no_grad():
        hf.classifier.weight.neg_()
        hf.classifier.bias.neg_()
    hf.save_pretrained(model)
    dead = model / ".vecrecall-exports" / ".onnx.tmp-99999999"  # a pid no process has
    dead.mkdir()
    r = vr(*args, "--backend", "onnx", "--out", tmp_path / "after.run")
    assert r.exit_code == 0, r.stderr
    assert "the model changed since the last export" in r.stderr
    assert not dead.exists()
    assert vr(*args, "--backend", "torch", "--out", tmp_path / "torch.run").exit_code == 0
    after, torch_run, before = (read_run(tmp_path / f"{n}.run") for n in ("after", "torch", "before"))
    merged = after.merge(torch_run, on=["qid", "docid"], suffixes=("", "_t")).merge(before, on=["qid", "docid"],
                                                                                     suffixes=("", "_b"))
    assert merged["score"].to_numpy() == pytest.approx(merged["score_t"].to_numpy(), abs=1e-4)
    assert merged["score"].to_numpy() == pytest.approx(-merged["score_b"].to_numpy(), abs=1e-4)  # the new weights
