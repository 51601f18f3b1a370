"""Training data: JSONL rows, the seeded query split, qrels-derived pairs, query mixing, teacher scores, logQ."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from vecrecall.errors import UserError
from vecrecall.training.data import Corpus, Pair, load_jsonl_pairs, pairs_from_qrels, parse_split, split_queries
from vecrecall.training.pipeline import item_log_probs, teacher_scores
from vecrecall.training.querymix import apply_mix, parse_mix, query_buckets


def test_split_is_seeded_disjoint_and_complete():
    qids = [str(i) for i in range(93)]
    a = split_queries(qids, 60, 5, seed=13)
    b = split_queries(list(reversed(qids)), 60, 5, seed=13)
    assert a == b  # the input order does not matter, the seed does
    assert len(a.train) == 55 and len(a.dev) == 5 and len(a.heldout) == 33
    assert sorted(a.train + a.dev + a.heldout) == sorted(qids)
    assert split_queries(qids, 60, 0, seed=14).heldout != a.heldout
    assert len(split_queries(qids, 0.7, 0, seed=1).train) == 65


@pytest.mark.parametrize("value,fragment", [("0", "fraction in (0, 1)"), ("1.5", "fraction in (0, 1)"), ("x", "fraction like")])
def test_parse_split_errors(value, fragment):
    with pytest.raises(UserError, match=re.escape(fragment)):
        parse_split(value)


def test_jsonl_rows_resolve_ids_and_negatives(tmp_path):
    corpus = Corpus(["d1", "d2"], ["laser optics", "radar echo"])
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"query": "laser", "positive_id": "d1", "negatives": ["d2", "free text"], "score": 0.5,
                             "frequency": 3, "bucket": "head", "qid": 7}) + "\n\n"
                 + json.dumps({"query": "radar", "positive": "d2"}) + "\n")
    p1, p2 = load_jsonl_pairs(f, corpus)
    assert (p1.query, p1.positive, p1.pos_id, p1.negatives) == ("laser", "laser optics", "d1", ["radar echo", "free text"])
    assert (p1.score, p1.frequency, p1.bucket, p1.qid) == (0.5, 3.0, "head", "7")
    assert (p2.positive, p2.pos_id) == ("radar echo", "d2")  # a positive that is a corpus id resolves
    (p3,) = load_jsonl_pairs(_one(tmp_path, {"query": "x", "positive": "plain text"}), None)
    assert p3.positive == "plain text" and p3.pos_id is None


def _one(tmp_path, row):
    f = tmp_path / "one.jsonl"
    f.write_text(json.dumps(row) + "\n")
    return f


@pytest.mark.parametrize("row,fragment", [
    ({"query": "x", "positive_id": "d9"}, "pass --corpus so it can be resolved"),
    ({"query": "x", "positive": "y", "score": "high"}, "'score' must be a number"),
    ({"query": "x", "positive": "y", "frequency": -1}, "'frequency' must be ≥ 0"),
    ([1, 2], "expected a JSON object"),
])
def test_jsonl_bad_rows(tmp_path, row, fragment):
    with pytest.raises(UserError, match=fragment):
        load_jsonl_pairs(_one(tmp_path, row), None)


def test_pairs_from_qrels_keep_relevant_training_judgements_only():
    qrels = pd.DataFrame({"qid": ["1", "1", "2", "3"], "docid": ["a", "b", "a", "b"], "rel": [1, 0, 2, 1]})
    corpus = Corpus(["a", "b"], ["doc a", "doc b"])
    pairs = pairs_from_qrels(qrels, {"1": "q one", "2": "q two", "3": "q three"}, corpus, ["1", "2"], "qrels")
    assert [(p.qid, p.pos_id, p.query, p.positive) for p in pairs] == [("1", "a", "q one", "doc a"), ("2", "a", "q two", "doc a")]
    with pytest.raises(UserError, match="query '2' is judged but has no text"):
        pairs_from_qrels(qrels, {"1": "q one"}, corpus, ["1", "2"], "qrels")


def test_query_buckets_by_frequency_terciles_and_realised_mix():
    pairs = [Pair(f"q{i}", f"d{i}", frequency=float(100 - i)) for i in range(9)]
    buckets = query_buckets(pairs)
    assert [buckets[f"q{i}"] for i in range(9)] == ["head"] * 3 + ["mid"] * 3 + ["tail"] * 3
    out, rows = apply_mix(pairs, parse_mix("head:0.5,mid:0.5,tail:0"), seed=0, size=6)
    by = {r.bucket: r for r in rows}
    assert (by["head"].queries, by["mid"].queries, by["tail"].queries) == (3, 3, 0)
    assert by["head"].share == pytest.approx(0.5) and by["tail"].pairs == 0
    assert {p.query for p in out} == {f"q{i}" for i in range(6)}
    # more than a bucket holds: drawn with replacement
    out, rows = apply_mix(pairs, parse_mix("tail:1"), seed=0, size=12)
    assert len(out) == 12 and {p.query for p in out} <= {"q6", "q7", "q8"}


def test_query_mix_errors():
    with pytest.raises(UserError, match="sum to 1"):
        parse_mix("head:0.5,tail:0.2")
    with pytest.raises(UserError, match="bucket:share"):
        parse_mix("head=1")
    pairs = [Pair("a", "x", bucket="popular"), Pair("b", "y", bucket="rare")]
    with pytest.raises(UserError, match="no training queries in bucket.s. head; buckets present: popular, rare"):
        apply_mix(pairs, parse_mix("head:1"), 0)


def test_teacher_transforms():
    run = pd.DataFrame({"qid": ["1", "1", "2"], "docid": ["a", "b", "a"], "rank": [1, 2, 1], "score": [2.0, 0.0, -1.0]})
    sig = teacher_scores(run, "sigmoid", "t")["score"].tolist()
    assert sig == pytest.approx([1 / (1 + math.exp(-2)), 0.5, 1 / (1 + math.exp(1))])
    assert teacher_scores(run, "minmax", "t")["score"].tolist() == [1.0, 0.0, 0.5]  # one document: no preference
    with pytest.raises(UserError, match=r"range over \[-1, 2\], outside \[0, 1\]"):
        teacher_scores(run, "none", "t")


def test_item_log_probs_counted_from_positives_and_from_a_file(tmp_path):
    pairs = [Pair("q", "x", pos_id="a"), Pair("r", "x", pos_id="a"), Pair("s", "y", pos_id="b"), Pair("t", "z", pos_id="c")]
    logp, floor, source = item_log_probs(pairs, None)
    assert logp == pytest.approx({"a": math.log(0.5), "b": math.log(0.25), "c": math.log(0.25)})
    assert floor == pytest.approx(math.log(0.25)) and source == "counted from training positives"
    f = tmp_path / "freq.parquet"
    pd.DataFrame({"docid": ["a", "b"], "clicks": [3, 1]}).to_parquet(f)
    logp, floor, _ = item_log_probs(pairs, f)
    assert logp == pytest.approx({"a": math.log(0.75), "b": math.log(0.25)})
    bad = tmp_path / "bad.csv"
    bad.write_text("docid,frequency\na,3\nb,0\n")
    with pytest.raises(UserError, match="bad.csv row 2: frequency must be a positive number"):
        item_log_probs(pairs, bad)
