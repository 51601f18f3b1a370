"""Negatives: core-word deletion by idf, random/mined negatives skipping positives, option parsing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vecrecall.errors import UserError
from vecrecall.training import negatives as neg
from vecrecall.training.data import Corpus, Pair

DOCS = [
    "laser beam optics",
    "laser cavity design",
    "beam steering with optics",
    "optics of thin films",
]


def test_idf_is_smoothed_log_ratio():
    idf, unseen = neg.idf_table(DOCS)
    # N = 4 documents; "optics" is in 3, "laser" in 2, "cavity" in 1
    assert idf["optics"] == pytest.approx(math.log(5 / 4) + 1)
    assert idf["laser"] == pytest.approx(math.log(5 / 3) + 1)
    assert idf["cavity"] == pytest.approx(math.log(5 / 2) + 1)
    assert unseen == pytest.approx(math.log(5) + 1)


def test_core_deletion_removes_the_highest_idf_term():
    idf, unseen = neg.idf_table(DOCS)
    # cavity (df 1) > laser (df 2) > optics (df 3)
    assert neg.core_terms("laser cavity optics", idf, unseen) == ["cavity"]
    assert neg.core_delete("Laser CAVITY optics", idf, unseen) == "Laser optics"
    assert neg.core_delete("laser cavity optics", idf, unseen, n_terms=2) == "optics"
    # every occurrence goes, punctuation is dropped with it
    assert neg.core_delete("cavity laser, cavity!", idf, unseen) == "laser"


def test_core_deletion_ties_go_to_the_first_term_and_unseen_terms_count_as_rarest():
    idf, unseen = neg.idf_table(DOCS)
    assert neg.core_delete("films cavity", idf, unseen) == "cavity"  # both df 1: the first one is the core
    assert neg.core_delete("laser zebra optics", idf, unseen) == "laser optics"  # zebra unseen → highest idf


def test_core_deletion_negatives_are_q_prime_with_the_positive_and_skip_one_term_queries():
    idf, unseen = neg.idf_table(DOCS)
    pairs = [Pair("laser cavity", DOCS[1], "q1", "d1"), Pair("cavity", DOCS[1], "q2", "d1")]
    out, skipped = neg.core_deletion_negatives(pairs, idf, unseen, 1)
    assert skipped == 1
    assert [(e.kind, e.query, e.positive, e.neg_query, e.neg_doc) for e in out] == [
        ("core-deletion", "laser cavity", DOCS[1], "laser", DOCS[1])]
    assert not out[0].doc_negative


def test_random_negatives_never_pick_a_known_positive():
    corpus = Corpus(["a", "b", "c", "d"], DOCS)
    pairs = [Pair("laser", DOCS[0], "q1", "a")]
    known = {"q1": {"a", "b", "c"}}
    out = neg.random_negatives(pairs, corpus, known, 3, np.random.default_rng(0))
    assert [e.neg_doc for e in out] == [DOCS[3]] * 3
    assert all(e.doc_negative and e.kind == "random" for e in out)


def test_random_negatives_are_seeded():
    corpus = Corpus([str(i) for i in range(50)], [f"doc {i}" for i in range(50)])
    pairs = [Pair(f"q {i}", f"doc {i}", f"q{i}", str(i)) for i in range(10)]
    a = [e.neg_doc for e in neg.random_negatives(pairs, corpus, {}, 2, np.random.default_rng(5))]
    b = [e.neg_doc for e in neg.random_negatives(pairs, corpus, {}, 2, np.random.default_rng(5))]
    assert a == b and len(a) == 20


def test_mined_negatives_use_the_rank_range_skip_positives_and_apply_the_margin():
    corpus = Corpus([f"d{i}" for i in range(8)], [f"text {i}" for i in range(8)])
    cands = {"q1": [(f"d{i}", 1.0 - 0.1 * i) for i in range(8)]}  # d0 best … d7 worst
    pairs = [Pair("query", "text 3", "q1", "d3")]
    known = {"q1": {"d3", "d4"}}
    out, starved = neg.mined_negatives(pairs, cands, corpus, known, 10, (3, 6), None, np.random.default_rng(0))
    assert starved == 0
    assert sorted(e.neg_doc for e in out) == ["text 2", "text 5"]  # ranks 3..6 = d2..d5, minus positives d3, d4
    # margin 0.15: keep candidates scoring ≤ s(d3) − 0.15 = 0.55 → only d5 (0.5)
    out, _ = neg.mined_negatives(pairs, cands, corpus, known, 10, (3, 6), 0.15, np.random.default_rng(0))
    assert [e.neg_doc for e in out] == ["text 5"]
    out, starved = neg.mined_negatives([Pair("other", "x", "q9", None)], cands, corpus, known, 1, (1, 2), None,
                                       np.random.default_rng(0))
    assert out == [] and starved == 1


def test_in_batch_negatives_are_other_queries_positives():
    pairs = [Pair("q a", "doc a"), Pair("q b", "doc b"), Pair("q a", "doc a2")]
    out = neg.in_batch_negatives(pairs, 2, np.random.default_rng(1))
    assert len(out) == 6
    for e in out:
        assert e.kind == "in-batch"
        assert (e.query == "q a") == (e.neg_doc == "doc b")


@pytest.mark.parametrize("value,fragment", [
    ("in-batch,hard", "--negatives hard: unknown kind"),
    ("", "--negatives: give at least one kind"),
])
def test_parse_kinds_errors(value, fragment):
    with pytest.raises(UserError, match=fragment):
        neg.parse_kinds(value)


def test_parse_ratio_and_range():
    assert neg.parse_ratio("2", ["random", "mined"]) == {"random": 2, "mined": 2}
    assert neg.parse_ratio("mined:3", ["random", "mined"]) == {"random": 1, "mined": 3}
    with pytest.raises(UserError, match="'core-deletion' is not one of"):
        neg.parse_ratio("core-deletion:2", ["random"])
    with pytest.raises(UserError, match="at least 1"):
        neg.parse_ratio("0", ["random"])
    assert neg.parse_range("10:100") == (10, 100)
    with pytest.raises(UserError, match="--mine-range 100:10"):
        neg.parse_range("100:10")
    with pytest.raises(UserError, match="give LO:HI"):
        neg.parse_range("ten")
