"""synth-queries: offline pseudo-queries from documents (tf-idf key phrases, sentence windows, titles)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_user_error

from vecrecall.training.synth import KeyphraseSampler, sentence_query, synth_queries


def test_keyphrases_come_from_the_document_in_document_order():
    texts = ["the plasma frequency of ionised gas layers", "transistor amplifier noise figure", "plasma waves in gas"]
    sampler = KeyphraseSampler(texts, min_terms=2, max_terms=2)
    q = sampler.sample(0, texts[0], np.random.default_rng(0))
    words = q.split()
    assert len(words) == 2
    assert set(words) <= {"plasma", "frequency", "ionised", "gas", "layers"}  # 'the', 'of' are stop words
    order = texts[0].split()
    assert [order.index(w) for w in words] == sorted(order.index(w) for w in words)


def test_sentence_window_is_bounded_and_seeded():
    text = "one two three four five six seven eight nine ten. second sentence here"
    a = sentence_query(text, np.random.default_rng(3), max_words=4)
    b = sentence_query(text, np.random.default_rng(3), max_words=4)
    assert a == b
    assert 1 <= len(a.split()) <= 4 and a in text


def test_synth_queries_per_doc_distinct_and_deterministic():
    ids = ["a", "b"]
    texts = ["microwave cavity resonator measurements at high power levels",
             "statistical theory of communication channel noise and coding"]
    out1 = [q.to_dict() for q in synth_queries(ids, texts, None, ["keyphrases", "sentence"], 3, seed=7)]
    out2 = [q.to_dict() for q in synth_queries(ids, texts, None, ["keyphrases", "sentence"], 3, seed=7)]
    assert out1 == out2
    for docid, text in zip(ids, texts):
        mine = [q for q in out1 if q["positive_id"] == docid]
        assert len(mine) == 3 and len({q["query"] for q in mine}) == 3
        assert all(q["positive"] == text for q in mine)
        assert all(set(q["query"].split()) <= set(text.split()) for q in mine)


def test_cli_writes_training_pairs_with_manifest(vr, sample, tmp_path):
    out = tmp_path / "synth.jsonl"
    r = vr("synth-queries", "--corpus", sample, "--per-doc", 2, "--max-docs", 50, "--seed", 1, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 100
    assert {"qid", "query", "positive_id", "positive", "method"} <= set(rows[0])
    corpus = {json.loads(line)["_id"]: json.loads(line)["text"] for line in (sample / "corpus.jsonl").read_text().splitlines()}
    assert all(corpus[r["positive_id"]] == r["positive"] for r in rows)
    stats = json.loads(r.stdout)
    assert stats["queries"] == 100 and sum(stats["by_method"].values()) == 100
    one = tmp_path / "one.jsonl"  # one query a document still uses every default method, in turn across documents
    r1 = vr("synth-queries", "--corpus", sample, "--per-doc", 1, "--max-docs", 50, "--out", one, "--json")
    assert r1.exit_code == 0, r1.stderr
    by_method = json.loads(r1.stdout)["by_method"]
    assert set(by_method) == {"keyphrases", "sentence"} and min(by_method.values()) >= 20, by_method
    stats1 = json.loads(r1.stdout)
    made = {json.loads(line)["positive_id"] for line in one.read_text().splitlines()}
    assert stats1["documents_without_query"] == stats1["documents"] - len(made)
    manifest = json.loads((tmp_path / "synth.jsonl.manifest.json").read_text())
    assert manifest["type"] == "training-pairs" and manifest["params"]["seed"] == 1
    again = tmp_path / "again.jsonl"
    assert vr("synth-queries", "--corpus", sample, "--per-doc", 2, "--max-docs", 50, "--seed", 1, "--out", again).exit_code == 0
    assert again.read_text() == out.read_text()


def test_cli_title_method_uses_titles(vr, tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"_id": "1", "title": "Radar echoes", "text": "echoes from aircraft"}) + "\n")
    out = tmp_path / "t.jsonl"
    assert vr("synth-queries", "--corpus", corpus, "--method", "title", "--out", out).exit_code == 0
    row = json.loads(out.read_text())
    assert row["query"] == "Radar echoes" and row["positive"] == "echoes from aircraft"


@pytest.mark.parametrize("args,fragment", [
    (["--method", "summary"], "--method summary: unknown method"),
    (["--method", "title"], "--method title: the corpus has no title field"),
    (["--per-doc", "0"], "--per-doc 0: must be at least 1"),
])
def test_cli_bad_input(vr, sample, tmp_path, args, fragment):
    out = tmp_path / "s.jsonl"
    r = vr("synth-queries", "--corpus", sample, "--out", out, *args)
    assert_user_error(r, fragment)
    assert not out.exists()


def test_cli_refuses_existing_out(vr, sample, tmp_path):
    out = tmp_path / "s.jsonl"
    out.write_text("keep")
    assert_user_error(vr("synth-queries", "--corpus", sample, "--out", out), "already exists")
    assert out.read_text() == "keep"


def test_cli_overwrite_replaces_only_an_unchanged_file_of_its_own_kind(vr, sample, tmp_path):
    """--overwrite replaces a training-pairs file vecrecall wrote and nobody changed; not its own input, not a user's
    file behind a manifest that is not vecrecall's, not a file edited since, not another kind of artifact."""
    from vecrecall.artifacts import Manifest, atomic_file

    out = tmp_path / "s.jsonl"
    assert vr("synth-queries", "--corpus", sample, "--max-docs", "20", "--out", out).exit_code == 0
    r = vr("synth-queries", "--corpus", sample, "--max-docs", "30", "--out", out, "--overwrite")
    assert r.exit_code == 0, r.stderr
    # its own input, even with --overwrite
    assert_user_error(vr("synth-queries", "--corpus", out, "--out", out, "--overwrite"), "is (or holds", "the input")
    before = out.read_text()
    out.write_text(before + '{"qid": "mine"}\n')
    assert_user_error(vr("synth-queries", "--corpus", sample, "--out", out, "--overwrite"),
                      "was changed after vecrecall wrote it")
    mine = tmp_path / "mine.jsonl"
    mine.write_text("hi\n")
    (tmp_path / "mine.jsonl.manifest.json").write_text("{}")
    assert_user_error(vr("synth-queries", "--corpus", sample, "--out", mine, "--overwrite"),
                      "is not one vecrecall wrote")
    run = tmp_path / "x.run"
    with atomic_file(run, manifest=Manifest(type="run")) as tmp:
        tmp.write_text("1 Q0 d1 1 1.0 t\n")
    assert_user_error(vr("synth-queries", "--corpus", sample, "--out", run, "--overwrite"),
                      "is a run artifact and this command writes a training-pairs")
    assert mine.read_text() == "hi\n" and run.read_text() == "1 Q0 d1 1 1.0 t\n"
