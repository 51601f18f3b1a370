"""vecrecall finetune through the CLI with a tiny random bi-encoder on a tiny synthetic collection."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_user_error

TOPICS = {
    "laser": "laser optics beam coherent light cavity mirror",
    "radar": "radar echo antenna pulse aircraft detection range",
    "plasma": "plasma ionosphere electron density wave propagation layer",
    "transistor": "transistor amplifier junction semiconductor gain noise circuit",
    "crystal": "crystal lattice diffraction xray structure atoms symmetry",
    "magnet": "magnetic field ferrite domain hysteresis coil core",
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from tiny_models import make_tiny_bi_encoder

    return make_tiny_bi_encoder(tmp_path_factory.mktemp("tiny") / "bi", seed=0)


@pytest.fixture(scope="session")
def tiny_beir(tmp_path_factory) -> Path:
    """A BEIR directory: 6 topics × 5 documents, 12 queries (2 per topic), each relevant to its topic's documents."""
    d = tmp_path_factory.mktemp("beir")
    rng = np.random.default_rng(0)
    docs, queries, qrels = [], [], []
    for t, (name, vocab) in enumerate(TOPICS.items()):
        words = vocab.split()
        for j in range(5):
            docs.append({"_id": f"{name}{j}", "title": "", "text": " ".join(rng.choice(words, size=8))})
        for j in range(2):
            qid = f"{t}{j}"
            queries.append({"_id": qid, "text": f"{name} {words[j + 1]} {words[j + 3]} study"})
            qrels += [(qid, f"{name}{k}", 1) for k in range(5)]
    (d / "corpus.jsonl").write_text("".join(json.dumps(x) + "\n" for x in docs))
    (d / "queries.jsonl").write_text("".join(json.dumps(x) + "\n" for x in queries))
    (d / "qrels").mkdir()
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{c}\t{r}\n" for q, c, r in qrels))
    return d


FAST = ["--batch-size", "8", "--max-steps", "2", "--lr", "1e-3"]


def qrels_args(beir: Path) -> list:
    return ["--qrels", beir, "--queries", beir, "--corpus", beir]


def test_finetune_split_model_dir_and_the_chain_downstream(vr, tiny_model, tiny_beir, tmp_path):
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--split-queries", "0.5", "--seed", 3,
           "--negatives", "in-batch,random,core-deletion,mined", "--mine-range", "1:20", "--eval-k", 30, *FAST,
           "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    stats = json.loads(r.stdout)
    m = json.loads((out / "manifest.json").read_text())
    assert m["type"] == "model" and m["params"]["loss"] == "mnrl" and m["params"]["seed"] == 3
    assert m["params"]["split"]["train"] == 6 and m["params"]["split"]["heldout"] == 6
    assert m["params"]["base_model"]["path"] == str(tiny_model)
    assert stats["steps"] == 2 and math.isfinite(stats["final_loss"])
    # 6 training queries × 5 positives = 30 pairs; one negative of each kind per pair
    assert stats["rows"] == {"positive pairs": 30, "random": 30, "mined": 30, "core-deletion": 30}
    assert stats["datasets"] == {"pairs": 30, "docneg": 60, "coredel": 30}
    split = json.loads((out / "split.json").read_text())
    assert not set(split["train"]) & set(split["heldout"]) and split["seed"] == 3
    held = [json.loads(x)["_id"] for x in (out / "heldout.queries.jsonl").read_text().splitlines()]
    assert held == split["heldout"]
    # the held-out table came from the same path as encode → build-index → query → eval
    e, ix, run = tmp_path / "emb", tmp_path / "flat", tmp_path / "ft.run"
    assert vr("encode", "--corpus", tiny_beir, "--model", out, "--out", e).exit_code == 0
    assert vr("build-index", "--embeddings", e, "--out", ix).exit_code == 0
    q = vr("query", "--index", ix, "--queries", out / "heldout.queries.jsonl", "-k", 30, "--out", run)
    assert q.exit_code == 0, q.stderr
    ev = vr("eval", "--qrels", out / "heldout.qrels.tsv", run, "-m", "nDCG@10", "-m", "R@100", "-m", "MAP", "--json")
    assert ev.exit_code == 0, ev.stderr
    cli = json.loads(ev.stdout)["ft.run"]
    mine = stats["heldout"]["means"]["finetuned"]
    for k in ("nDCG@10", "R@100", "MAP"):
        assert mine[k] == pytest.approx(cli[k], abs=1e-9)
    # training changed the weights
    from sentence_transformers import SentenceTransformer

    a = SentenceTransformer(str(tiny_model), device="cpu").encode(["laser beam"])
    b = SentenceTransformer(str(out), device="cpu").encode(["laser beam"])
    assert not np.allclose(a, b)


def test_same_seed_same_split_and_weights(vr, tiny_model, tiny_beir, tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--split-queries", 8, "--seed", 5,
               "--loss", "pairwise", "--negatives", "random", "--no-eval", *FAST, "--out", out)
        assert r.exit_code == 0, r.stderr
        outs.append(out)
    assert (outs[0] / "split.json").read_text() == (outs[1] / "split.json").read_text()
    assert json.loads((outs[0] / "split.json").read_text())["counts"] == {"train": 8, "dev": 0, "heldout": 4}
    assert (outs[0] / "model.safetensors").read_bytes() == (outs[1] / "model.safetensors").read_bytes()


def test_train_jsonl_from_synth_queries_with_triplet_loss(vr, tiny_model, tiny_beir, tmp_path):
    synth = tmp_path / "synth.jsonl"
    assert vr("synth-queries", "--corpus", tiny_beir, "--per-doc", 1, "--out", synth).exit_code == 0
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, "--train", synth, "--corpus", tiny_beir, "--loss", "triplet",
           "--negatives", "in-batch", *FAST, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["pairs"] == 30 and stats["rows"] == {"in-batch": 30}
    assert (out / "modules.json").exists() and not (out / "split.json").exists()


def test_distill_from_teacher_run_with_sigmoid(vr, tiny_model, tiny_beir, tmp_path):
    teacher = tmp_path / "ce.run"
    lines = [f"{q} Q0 {name}{k} {k + 1} {3.0 - k} ce" for q, name in (("00", "laser"), ("10", "radar")) for k in range(4)]
    teacher.write_text("\n".join(lines) + "\n")
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--loss", "distill", "--teacher-run", teacher,
           "--teacher-transform", "sigmoid", *FAST, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"] == {"teacher": 8}
    m = json.loads((out / "manifest.json").read_text())
    assert m["params"]["teacher_transform"] == "sigmoid" and m["params"]["loss_settings"]["scale"] == 1.0


def test_logq_with_item_frequency_and_query_mix(vr, tiny_model, tiny_beir, tmp_path):
    freq = tmp_path / "clicks.csv"
    freq.write_text("docid,frequency\n" + "".join(f"{name}{k},{10 * (k + 1)}\n" for name in TOPICS for k in range(5)))
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--logq-correction", "--item-frequency", freq,
           "--query-mix", "head:0.5,mid:0.5,tail:0", *FAST, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    stats = json.loads(r.stdout)
    mix = {row["bucket"]: row for row in stats["mix"]}
    assert mix["head"]["queries"] == 6 and mix["mid"]["queries"] == 6 and mix["tail"]["queries"] == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["params"]["logq_frequencies"] == "--item-frequency clicks.csv"


def test_eval_every_reports_dev_ndcg_from_training_queries_only(vr, tiny_model, tiny_beir, tmp_path):
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--split-queries", 8, "--dev-queries", 2,
           "--eval-every", 1, "--no-eval", *FAST, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    stats = json.loads(r.stdout)
    assert [step for step, _ in stats["dev_ndcg10"]] == [1, 2]
    assert all(0.0 <= v <= 1.0 for _, v in stats["dev_ndcg10"])
    split = json.loads((out / "split.json").read_text())
    assert len(split["dev"]) == 2 and not set(split["dev"]) & (set(split["train"]) | set(split["heldout"]))
    assert_user_error(vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--eval-every", 1, "--out",
                         tmp_path / "x"), "--eval-every needs dev queries")


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((json.dumps(r) if not isinstance(r, str) else r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("rows,extra,fragment", [
    ([{"positive": "laser optics"}], [], "line 1: no query"),
    ([{"query": "laser", "positive": "laser beam"}, {"query": "radar"}], [], "line 2: no positive"),
    ([{"query": "laser", "positive_id": "nope7"}], ["--corpus", "BEIR"], "positive document 'nope7' is not in the corpus"),
    (["{not json"], [], "line 1: not valid JSON"),
    ([], [], "no training rows; the file is empty"),
    ([{"query": "laser", "positive": "laser beam"}], ["--loss", "focal"], "--loss focal: unknown loss"),
    ([{"query": "laser", "positive": "laser beam", "score": 4.5}], ["--loss", "distill"],
     "teacher score 4.5 (query 'laser') is outside [0, 1]; rescale"),
    ([{"query": "laser", "positive": "laser beam"}], ["--logq-correction"],
     "--logq-correction needs item frequencies: pass --item-frequency"),
    ([{"query": "laser", "positive": "laser beam"}], ["--logq-correction", "--loss", "triplet"],
     "--logq-correction applies to --loss mnrl"),
    ([{"query": "laser", "positive": "laser beam"}], ["--negatives", "hard"], "--negatives hard: unknown kind"),
    ([{"query": "laser", "positive": "laser beam"}], ["--model", "hash:64"], "the hash encoder has no weights to train"),
    ([{"query": "laser", "positive": "laser beam"}], ["--loss", "pairwise"],
     "the training set is empty after filtering (--loss pairwise, --negatives in-batch; in-batch negatives need at least 2"),
])
def test_bad_training_input(vr, tiny_model, tiny_beir, tmp_path, rows, extra, fragment):
    train = write(tmp_path / "train.jsonl", rows)
    out = tmp_path / "ft"
    extra = [tiny_beir if x == "BEIR" else x for x in extra]
    args = ["--model", tiny_model] if "--model" not in extra else []
    r = vr("finetune", *args, "--train", train, *extra, *FAST, "--out", out)
    assert_user_error(r, fragment)
    assert not out.exists() and not list(tmp_path.glob(".ft*"))


def test_teacher_run_out_of_range_names_the_fix(vr, tiny_model, tiny_beir, tmp_path):
    teacher = tmp_path / "ce.run"
    teacher.write_text("00 Q0 laser0 1 7.5 ce\n00 Q0 laser1 2 -2.0 ce\n")
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--loss", "distill", "--teacher-run", teacher,
           *FAST, "--out", out)
    assert_user_error(r, "teacher scores range over [-2, 7.5], outside [0, 1]", "--teacher-transform sigmoid")
    assert not out.exists()


def test_qrels_positive_missing_from_corpus(vr, tiny_model, tiny_beir, tmp_path):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("00 0 laser0 1\n00 0 ghost9 1\n")
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, "--qrels", qrels, "--queries", tiny_beir, "--corpus", tiny_beir, *FAST,
           "--out", out)
    assert_user_error(r, "positive document 'ghost9' (query '00') is not in the corpus")
    assert not out.exists()


def test_empty_training_set_after_filtering(vr, tiny_model, tiny_beir, tmp_path):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("00 0 laser0 0\n10 0 radar0 0\n")
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, "--qrels", qrels, "--queries", tiny_beir, "--corpus", tiny_beir, *FAST,
           "--out", out)
    assert_user_error(r, "the training set is empty after filtering")
    qrels.write_text("00 0 laser0 1\n10 0 radar0 0\n")
    r = vr("finetune", "--model", tiny_model, "--qrels", qrels, "--queries", tiny_beir, "--corpus", tiny_beir,
           "--split-queries", 0.5, *FAST, "--out", out)
    assert_user_error(r, "--split-queries 0.5: leaves 0 training and 1 held-out queries of 1")
    assert not out.exists()


def test_existing_out_is_refused_before_any_work(vr, tiny_model, tmp_path):
    out = tmp_path / "ft"
    out.mkdir()
    r = vr("finetune", "--model", tiny_model, "--train", tmp_path / "missing.jsonl", "--out", out)
    assert_user_error(r, "already exists; pass --overwrite")


@pytest.mark.vaswani
@pytest.mark.slow
def test_vaswani_minilm_finetune_makes_a_model_encode_accepts(vr, vaswani, tmp_path):
    """The real default model, the seeded 60/33 split, two steps (no held-out table: see bench/finetune_vaswani.py)."""
    beir = vaswani / "beir"
    out = tmp_path / "ft"
    r = vr("finetune", "--qrels", beir, "--queries", beir, "--corpus", beir, "--split-queries", 60, "--seed", 13,
           "--negatives", "in-batch,core-deletion", "--max-steps", 2, "--batch-size", 8, "--max-seq-length", 64,
           "--no-eval", "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["pairs"] == 1277 and stats["steps"] == 2  # 60 training queries of split seed 13
    split = json.loads((out / "split.json").read_text())
    assert split["counts"] == {"train": 60, "dev": 0, "heldout": 33}
    m = json.loads((out / "manifest.json").read_text())
    assert m["params"]["max_seq_length"] == 256 and m["params"]["train_max_seq_length"] == 64
    e = tmp_path / "qemb"
    r = vr("encode", "--queries", out / "heldout.queries.jsonl", "--model", out, "--out", e, "--json")
    assert r.exit_code == 0, r.stderr
    assert np.load(e / "embeddings.npy").shape == (33, 384)


def test_baseline_run_of_another_model_is_refused(vr, tiny_model, tiny_beir, sample_chain, tmp_path):
    run = tmp_path / "hash.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", 5, "--out", run).exit_code == 0
    out = tmp_path / "ft"
    r = vr("finetune", "--model", tiny_model, *qrels_args(tiny_beir), "--split-queries", 8, "--baseline-run", run,
           *FAST, "--out", out)
    assert_user_error(r, f"--baseline-run {run}: made with model 'hash:64'")
    assert not out.exists()
