"""finetune-cross-encoder: training on a separable toy set with a tiny random-init backbone, determinism, the
output directory in rerank / anncur / finetune --loss distill, hard-negative mining, distillation and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SAMPLE, assert_user_error

from vecrecall.training.cross_encoder import LabelledPair, length_grouped_batches, mine_negatives, normalise
from vecrecall.training.data import Corpus

WORDS = ["quantum", "laser", "crystal", "plasma", "neutron", "photon", "magnet", "circuit", "signal", "wave"]


def toy_rows(seed: int, n: int = 24) -> list[dict]:
    """Relevant documents say 'alpha', non-relevant ones 'beta': trivially separable for any model that can read."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        q = " ".join(rng.choice(WORDS, 3))
        rows.append({"qid": f"q{i}", "query": q, "document": f"alpha alpha {rng.choice(WORDS)} alpha", "label": 1})
        rows.append({"qid": f"q{i}", "query": q, "document": f"beta beta {rng.choice(WORDS)} beta", "label": 0})
    return rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    from tiny_models import make_tiny_cross_encoder

    return make_tiny_cross_encoder(tmp_path_factory.mktemp("bb") / "tiny", seed=1)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    return write_jsonl(d / "pairs.jsonl", toy_rows(0))


TRAIN = ["--epochs", "4", "--batch-size", "8", "--lr", "1e-3", "--warmup", "0", "--max-length", "32"]


def train(vr, backbone, pairs, out, *extra):
    r = vr("finetune-cross-encoder", "--model", backbone, "--train", pairs, *TRAIN, *extra, "--out", out)
    assert r.exit_code == 0, r.stderr
    return r


def scores(model_dir, pairs):
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(str(model_dir), device="cpu")
    return np.asarray(ce.predict(pairs, show_progress_bar=False), dtype=float)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, backbone, toy):
    """One trained model (seed 0), shared by the tests that only read it."""
    from vecrecall.training.cross_encoder import CrossEncoderOptions, run_finetune_cross_encoder

    out = tmp_path_factory.mktemp("ce") / "model"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECRECALL_QUIET", "1")
        run_finetune_cross_encoder(CrossEncoderOptions(out=out, model=str(backbone), train=[toy], epochs=4,
                                                       batch_size=8, lr=1e-3, warmup=0, max_length=32, seed=0))
    return out


HELD_OUT = [("laser crystal wave", "alpha alpha photon alpha"), ("plasma plasma signal", "alpha alpha quantum alpha"),
            ("laser crystal wave", "beta beta photon beta"), ("plasma plasma signal", "beta beta quantum beta")]


def test_learns_a_separable_toy_set(trained, backbone):
    s = scores(trained, HELD_OUT)
    assert min(s[:2]) > max(s[2:]), s  # unseen queries: relevant documents outscore non-relevant ones
    untrained = scores(backbone, HELD_OUT)
    assert not min(untrained[:2]) > max(untrained[2:]) + 0.1  # the random backbone could not tell them apart
    m = json.loads((trained / "manifest.json").read_text())
    assert m["type"] == "cross-encoder" and m["params"]["loss"] == "bce" and m["params"]["seed"] == 0
    assert m["params"]["base_model"]["path"] == str(backbone)
    assert m["stats"]["rows"] == {"given": 48, "training rows": 48} and m["stats"]["steps"] == 24
    assert "train_0" in m["inputs"] and m["inputs"]["train_0"]["sha256"]


def test_same_seed_same_model_other_seed_differs(vr, backbone, toy, trained, tmp_path):
    train(vr, backbone, toy, tmp_path / "again", "--seed", "0")
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == (trained / "model.safetensors").read_bytes()
    assert np.array_equal(scores(tmp_path / "again", HELD_OUT), scores(trained, HELD_OUT))
    train(vr, backbone, toy, tmp_path / "other", "--seed", "1")
    assert not np.allclose(scores(tmp_path / "other", HELD_OUT), scores(trained, HELD_OUT))


def test_truncation_is_reported(vr, backbone, tmp_path):
    rows = toy_rows(1, 4)
    rows[0]["document"] = "alpha " * 60  # 60 words > --max-length 32 tokens
    r = vr("finetune-cross-encoder", "--model", backbone, "--train", write_jsonl(tmp_path / "p.jsonl", rows),
           "--max-length", "32", "--max-steps", "1", "--out", tmp_path / "m", "--json")
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["truncated_pairs"] == 1 and st["pairs_seen"] == 8 and st["truncated_share"] == 0.125
    from sentence_transformers import CrossEncoder

    assert CrossEncoder(str(tmp_path / "m"), device="cpu").max_seq_length == 32  # the saved model keeps the limit


def test_output_loads_in_rerank_anncur_and_as_distill_teacher(vr, trained, tmp_path):
    from vecrecall.io.runs import read_run

    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"_id": f"d{i}", "text": t} for i, t in enumerate(
        [f"alpha alpha {w} alpha" for w in WORDS] + [f"beta beta {w} beta" for w in WORDS])])
    queries = write_jsonl(tmp_path / "queries.jsonl", [{"_id": "a", "text": "laser crystal wave"},
                                                       {"_id": "b", "text": "plasma signal magnet"}])
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\td{i}\t1\n" for q in "ab" for i in range(10)))
    assert vr("build-index", "--corpus", corpus, "--backend", "bm25", "--out", tmp_path / "bm25").exit_code == 0
    base = tmp_path / "base.run"
    assert vr("query", "--index", tmp_path / "bm25", "--queries", queries, "-k", "20", "--out", base).exit_code == 0
    r = vr("rerank", "--run", base, "--corpus", corpus, "--queries", queries, "--model", trained, "--depth", "20",
           "-k", "10", "--out", tmp_path / "ce.run")
    assert r.exit_code == 0, r.stderr
    ce = read_run(tmp_path / "ce.run")
    assert set(ce["docid"]) == {f"d{i}" for i in range(10)}  # the top 10 of both queries are the 'alpha' documents
    m = json.loads((tmp_path / "ce.run.manifest.json").read_text())
    assert m["inputs"]["model"]["manifest"]["type"] == "cross-encoder"  # lineage of the trained model travels on
    r = vr("anncur", "index", "--corpus", corpus, "--scorer", "cross-encoder", "--scorer-path", trained,
           "--anchor-queries", "pseudo:12", "--k-i", "6", "--biencoder", "none", "--max-length", "32",
           "--out", tmp_path / "cur")
    assert r.exit_code == 0, r.stderr
    r = vr("anncur", "query", "--index", tmp_path / "cur", "--queries", queries, "--budget", "12", "-k", "5",
           "--out", tmp_path / "cur.run")
    assert r.exit_code == 0, r.stderr
    assert len(read_run(tmp_path / "cur.run")) == 10
    from tiny_models import make_tiny_bi_encoder

    bi = make_tiny_bi_encoder(tmp_path / "bi", seed=2)
    r = vr("finetune", "--model", bi, "--qrels", qrels, "--queries", queries, "--corpus", corpus, "--loss", "distill",
           "--teacher-run", tmp_path / "ce.run", "--teacher-transform", "sigmoid", "--max-steps", "1", "--no-eval",
           "--batch-size", "4", "--out", tmp_path / "student")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "student" / "manifest.json").read_text())["stats"]["rows"]["teacher"] == 20


def test_mining_window_known_positives_and_false_negative_filter():
    corpus = Corpus([f"d{i}" for i in range(10)], [f"text {i}" for i in range(10)])
    pairs = [LabelledPair("q", "query", "text 0", 1.0, "d0", "qrels positive")]
    # d0 (positive) scores 10; d1 scores 9.6 ≥ 0.95 × 10 → suspected false negative; d9 is outside ranks 2:5
    ranked = [("d0", 10.0), ("d1", 9.6), ("d2", 5.0), ("d3", 4.0), ("d4", 3.0), ("d9", 2.0)]
    got, stats = mine_negatives(pairs, [("bm25", {"q": ranked})], corpus, (2, 5), 3, 0.95, np.random.default_rng(0))
    assert sorted(p.docid for p in got) == ["d2", "d3", "d4"] and stats["filtered_false_negatives"] == 1
    assert all(p.label == 0.0 and p.kind == "mined (bm25)" for p in got)
    got, stats = mine_negatives(pairs, [("bm25", {"q": ranked})], corpus, (2, 5), 9, 0.0, np.random.default_rng(0))
    assert sorted(p.docid for p in got) == ["d1", "d2", "d3", "d4"]  # filter off: d1 comes back; d0 never does
    # two sources never give the same document twice
    got, _ = mine_negatives(pairs, [("a", {"q": ranked}), ("b", {"q": ranked})], corpus, (1, 6), 5, 0.0,
                            np.random.default_rng(0))
    assert sorted(p.docid for p in got) == ["d1", "d2", "d3", "d4", "d9"]


def test_length_grouped_batches():
    lengths = [int(x) for x in np.random.default_rng(0).integers(1, 500, size=1003)]
    batches = length_grouped_batches(lengths, 16, seed=5, epoch=0, group=10)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1003))  # every row exactly once
    assert len(batches) == 63 and sum(len(b) < 16 for b in batches) <= 7  # short batches only at mega-batch ends
    assert batches == length_grouped_batches(lengths, 16, seed=5, epoch=0, group=10)
    assert batches != length_grouped_batches(lengths, 16, seed=5, epoch=1, group=10)
    assert batches != length_grouped_batches(lengths, 16, seed=6, epoch=0, group=10)
    # rows of a batch have similar lengths: far less spread than random batches of the same size
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    rand = np.random.default_rng(1).permutation(1003)
    rand_spread = np.mean([np.ptp([lengths[i] for i in rand[j:j + 16]]) for j in range(0, 1003, 16)])
    assert spread < rand_spread / 4, (spread, rand_spread)
    assert all(len(b) == 16 for b in length_grouped_batches(lengths, 16, 5, 0, drop_last=True, group=10))


def test_head_lr_moves_the_head_not_the_body(backbone, toy, tmp_path):
    """--head-lr: with a negligible --lr only the classification head and the pooler learn."""
    from safetensors.numpy import load_file

    from vecrecall.training.cross_encoder import CrossEncoderOptions, run_finetune_cross_encoder

    before = load_file(str(backbone / "model.safetensors"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECRECALL_QUIET", "1")
        run_finetune_cross_encoder(CrossEncoderOptions(out=tmp_path / "m", model=str(backbone), train=[toy],
                                                       max_steps=3, batch_size=8, lr=1e-9, head_lr=1e-2, warmup=0,
                                                       max_length=32, seed=0))
    after = load_file(str(tmp_path / "m" / "model.safetensors"))
    moved = {k: float(np.abs(after[k] - before[k]).max()) for k in after if k in before and "classifier" not in k}
    head = [v for k, v in moved.items() if "pooler" in k]
    body = [v for k, v in moved.items() if "pooler" not in k]
    assert head and min(head) > 1e-3, moved  # the pooler learnt at 1e-2
    assert body and max(body) < 1e-6, moved  # the body did not at 1e-9
    m = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert m["params"]["head_lr"] == 1e-2 and m["params"]["lr"] == 1e-9


def test_normalise():
    assert normalise(np.array([1.0, 2.0, 3.0]), "minmax").tolist() == [0.0, 0.5, 1.0]
    z = normalise(np.array([1.0, 2.0, 3.0]), "zscore")
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    assert normalise(np.array([2.0, 2.0]), "zscore").tolist() == [0.0, 0.0]


@pytest.fixture(scope="module")
def sample_sources(tmp_path_factory):
    """BM25 and hash-encoder Flat indexes of sample_data, and a Flat run of its queries (the teacher)."""
    import sys

    from vecrecall.cli.app import main

    d = tmp_path_factory.mktemp("sources")

    def vr(*args):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sys, "argv", ["vecrecall", *map(str, args)])
            try:
                main()
            except SystemExit as exc:
                assert not exc.code, exc
    vr("build-index", "--corpus", SAMPLE, "--backend", "bm25", "--out", d / "bm25")
    vr("encode", "--corpus", SAMPLE, "--model", "hash:64", "--out", d / "emb")
    vr("build-index", "--embeddings", d / "emb", "--out", d / "flat")
    vr("query", "--index", d / "flat", "--queries", SAMPLE, "-k", "50", "--out", d / "flat.run")
    return d


def test_qrels_split_and_mined_negatives(vr, backbone, sample_sources, tmp_path):
    out = tmp_path / "m"
    r = vr("finetune-cross-encoder", "--model", backbone, "--qrels", SAMPLE, "--queries", SAMPLE, "--corpus", SAMPLE,
           "--split-queries", "0.7", "--seed", "3", "--mine-from", sample_sources / "bm25", "--mine-from",
           sample_sources / "flat", "--mine-range", "3:30", "--max-length", "64", "--max-steps", "2", "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["rows"]["mined (bm25)"] > 0 and st["rows"]["mined (flat)"] > 0 and st["rows"]["qrels positive"] > 0
    assert isinstance(st["false_negatives_filtered"], int) and "false_negatives_filtered" not in st["rows"]
    split = json.loads((out / "split.json").read_text())
    assert split["seed"] == 3 and not set(split["train"]) & set(split["heldout"])
    held = {json.loads(line)["_id"] for line in (out / "heldout.queries.jsonl").read_text().splitlines()}
    assert held == set(split["heldout"])
    m = json.loads((out / "manifest.json").read_text())
    assert m["params"]["split"]["train"] == len(split["train"]) and m["params"]["mine_range"] == "3:30"
    assert m["inputs"]["mine_from_0"]["manifest"]["type"] == "index"


@pytest.mark.parametrize("loss", ["listwise", "margin-mse"])
def test_distillation_from_a_teacher_run(vr, backbone, sample_sources, tmp_path, loss):
    r = vr("finetune-cross-encoder", "--model", backbone, "--qrels", SAMPLE, "--queries", SAMPLE, "--corpus", SAMPLE,
           "--loss", loss, "--teacher-run", sample_sources / "flat.run", "--teacher-depth", "6", "--max-length", "64",
           "--max-steps", "2", "--out", tmp_path / "m", "--json")
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)
    n_queries = st["rows"]["teacher queries"]
    assert n_queries == 40  # every judged sample query is in the teacher run
    assert st["rows"]["training rows"] == (n_queries if loss == "listwise" else 3 * n_queries)
    assert st["pairs_seen"] == 6 * n_queries


def test_bad_input(vr, backbone, toy, sample_sources, tmp_path):
    out = tmp_path / "m"
    base = ["finetune-cross-encoder", "--out", out, "--max-steps", "1"]
    (tmp_path / "notmodel").mkdir()
    (tmp_path / "notmodel" / "weights.txt").write_text("hello")
    assert_user_error(vr(*base, "--model", tmp_path / "notmodel", "--train", toy), "not a transformer checkpoint")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "config.json").write_text('{"model_type": "no-such-arch"}')
    (fake / "model.safetensors").write_text("x")
    assert_user_error(vr(*base, "--model", fake, "--train", toy), "no model_type transformers knows")
    assert_user_error(vr(*base, "--model", "hash:64", "--train", toy), "no transformer to train")
    no_doc = write_jsonl(tmp_path / "a.jsonl", [{"query": "x", "label": 1}])
    assert_user_error(vr(*base, "--model", backbone, "--train", no_doc), "a.jsonl line 1: no document")
    no_label = write_jsonl(tmp_path / "b.jsonl", [{"query": "x", "document": "y", "label": 1},
                                                  {"query": "x", "document": "z"}])
    assert_user_error(vr(*base, "--model", backbone, "--train", no_label), "b.jsonl line 2: no label")
    no_query = write_jsonl(tmp_path / "c.jsonl", [{"document": "y", "label": 1}])
    assert_user_error(vr(*base, "--model", backbone, "--train", no_query), "c.jsonl line 1: no query")
    graded = write_jsonl(tmp_path / "d.jsonl", [{"query": "x", "document": "y", "label": 1.5}])
    assert_user_error(vr(*base, "--model", backbone, "--train", graded), "d.jsonl line 1: label 1.5 is outside [0, 1]")
    other = tmp_path / "other.run"
    other.write_text("zz Q0 d1 1 1.0 t\nzz Q0 d2 2 0.5 t\n")
    assert_user_error(vr(*base, "--model", backbone, "--qrels", SAMPLE, "--queries", SAMPLE, "--corpus", SAMPLE,
                         "--loss", "listwise", "--teacher-run", other), "covers none of the 40 training queries")
    assert_user_error(vr(*base, "--model", backbone, "--train", toy, "--loss", "margin-mse"), "pass --teacher-run")
    assert_user_error(vr(*base, "--model", backbone, "--train", toy, "--max-length", "4"), "--max-length 4")
    assert_user_error(vr(*base, "--model", backbone, "--train", toy, "--fn-threshold", "1.5"), "--fn-threshold 1.5")
    assert_user_error(vr(*base, "--model", backbone, "--train", toy, "--mine-range", "9:3"), "--mine-range 9:3")
    assert_user_error(vr(*base, "--model", backbone, "--train", toy, "--head-lr", "0"), "--head-lr 0.0: must be > 0")
    assert_user_error(vr(*base, "--model", backbone, "--train", toy, "--architecture", "emb-ce", "--head-lr", "1e-3"),
                      "[EMB]-CE has none")
    assert not out.exists()
    assert not list(tmp_path.glob(".m*"))  # no staging directory left behind


def test_pair_file_formats(tmp_path):
    from vecrecall.errors import UserError
    from vecrecall.training.cross_encoder import load_pair_file

    corpus = Corpus(["d1", "d2", "d3"], ["one", "two", "three"])
    path = write_jsonl(tmp_path / "p.jsonl", [
        {"qid": "synth-d1-1", "query": "uno", "positive_id": "d1", "positive": "one", "method": "keyphrases"},
        {"query": "dos", "docid": "d2", "label": 0.25},
        {"query": "dos", "positive": "d3", "negatives": ["d1", "free text"]},
    ])
    got = load_pair_file(path, corpus, True, {})
    assert [(p.qid, p.query, p.doc, p.label, p.docid) for p in got] == [
        ("synth-d1-1", "uno", "one", 1.0, "d1"), ("train-0", "dos", "two", 0.25, "d2"),
        ("train-0", "dos", "d3", 1.0, None), ("train-0", "dos", "one", 0.0, "d1"),
        ("train-0", "dos", "free text", 0.0, None)]
    # a graded label is fine for distillation rows, not for BCE
    graded = write_jsonl(tmp_path / "g.jsonl", [{"query": "x", "document": "y", "label": 3}])
    assert load_pair_file(graded, None, False, {})[0].label == 3.0
    with pytest.raises(UserError, match="g.jsonl line 1: label 3 is outside"):
        load_pair_file(graded, None, True, {})
    unknown = write_jsonl(tmp_path / "u.jsonl", [{"query": "x", "docid": "d9", "label": 1}])
    with pytest.raises(UserError, match="u.jsonl line 1: document 'd9' is not in the corpus"):
        load_pair_file(unknown, corpus, True, {})


def test_emb_ce_learns_and_loads_in_anncur(vr, backbone, toy, tmp_path):
    """[EMB]-CE: trained on the toy set, its marker-dot-product score (anncur's emb-ce scorer) separates unseen pairs."""
    from vecrecall.anncur.scorers import Items, QuerySet, make_scorer

    out = tmp_path / "emb"
    r = vr("finetune-cross-encoder", "--architecture", "emb-ce", "--model", backbone, "--train", toy, *TRAIN,
           "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["steps"] == 24
    items = Items(["p1", "p2", "n1", "n2"], [d for _, d in HELD_OUT])
    scorer = make_scorer("emb-ce", out, items, max_length=32)
    s = scorer.compute(QuerySet(["a"], ["laser crystal wave"]), np.arange(4))[0]
    assert min(s[:2]) > max(s[2:]), s
    from vecrecall.crossencoder import load_cross_encoder
    from vecrecall.errors import UserError

    with pytest.raises(UserError, match="is not a sequence-classification cross-encoder"):
        load_cross_encoder(out)  # what rerank --model says of an [EMB]-CE checkpoint
    assert_user_error(vr("finetune-cross-encoder", "--architecture", "emb-ce", "--model", backbone, "--train", toy,
                         "--loss", "listwise", "--out", tmp_path / "z"), "--architecture emb-ce trains with --loss bce")


def test_max_length_beyond_the_backbone_positions_is_refused(vr, backbone, toy, tmp_path):
    """The tiny backbone has 128 positions: the default --max-length 256 would crash inside BERT's embeddings."""
    r = vr("finetune-cross-encoder", "--model", backbone, "--train", toy, "--max-steps", "1", "--out", tmp_path / "m")
    assert_user_error(r, "--max-length 256", "128 positions", "--max-length 128 or less")
    assert not (tmp_path / "m").exists()
