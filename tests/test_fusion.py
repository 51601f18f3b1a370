"""Fusion: every method against values worked out by hand on a 3-query toy case (ties and missing documents),
the --optimize grid, and the CLI's bad-input handling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error

from vecrecall.fusion import FuseSettings, fuse, optimize, simplex_grid


def run(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["qid", "docid", "score"])
    df["rank"] = df.groupby("qid").cumcount() + 1
    return df[["qid", "docid", "rank", "score"]]


# q1: a plain case; q2: a score tie inside run A (d1 = d2 → ranked as trec_eval does, docid descending: d2 first);
# q3: only run A has it. Run B misses d2 for q1.
A = run([("q1", "d1", 3.0), ("q1", "d2", 2.0), ("q1", "d3", 1.0),
         ("q2", "d1", 1.0), ("q2", "d2", 1.0), ("q2", "d4", 0.5),
         ("q3", "d5", 2.0)])
B = run([("q1", "d3", 0.9), ("q1", "d1", 0.5),
         ("q2", "d4", 4.0), ("q2", "d2", 2.0), ("q2", "d1", 0.0)])


def as_dict(df: pd.DataFrame) -> dict[str, list[tuple[str, float]]]:
    return {q: list(zip(g["docid"], g["score"])) for q, g in df.groupby("qid", sort=True)}


def check(df: pd.DataFrame, expected: dict[str, list[tuple[str, float]]]) -> None:
    got = as_dict(df)
    assert list(got) == list(expected)
    for q in expected:
        assert [d for d, _ in got[q]] == [d for d, _ in expected[q]], (q, got[q])
        assert [s for _, s in got[q]] == pytest.approx([s for _, s in expected[q]], abs=1e-12), q
    # ranks are 1..n per query
    assert (df.groupby("qid")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))).all()


def test_rrf_hand_computed_with_ties():
    check(fuse([A, B], FuseSettings("rrf", rrf_k=60)), {
        "q1": [("d1", 1 / 61 + 1 / 62), ("d3", 1 / 63 + 1 / 61), ("d2", 1 / 62)],
        # A's tie d1 = d2 ranks d2 first (trec_eval order), so d2 gets 1/61 from A
        "q2": [("d2", 1 / 61 + 1 / 62), ("d4", 1 / 63 + 1 / 61), ("d1", 1 / 62 + 1 / 63)],
        "q3": [("d5", 1 / 61)],
    })


def test_weighted_rrf_and_k():
    check(fuse([A, B], FuseSettings("rrf", rrf_k=1, weights=[2.0, 1.0])), {
        "q1": [("d1", 2 / 2 + 1 / 3), ("d3", 2 / 4 + 1 / 2), ("d2", 2 / 3)],
        "q2": [("d2", 2 / 2 + 1 / 3), ("d4", 2 / 4 + 1 / 2), ("d1", 2 / 3 + 1 / 4)],
        "q3": [("d5", 2 / 2)],
    })


def test_combsum_minmax_missing_is_the_runs_minimum():
    # minmax: A q1 → 1, .5, 0; B q1 → d3 1, d1 0, d2 missing → B's minimum 0. q3: a single document → 1.
    check(fuse([A, B], FuseSettings("combsum", norm="minmax")), {
        # fused ties (d1 = d3, d1 = d4) are ranked docid descending, as trec_eval reads runs
        "q1": [("d3", 1.0), ("d1", 1.0), ("d2", 0.5)],
        "q2": [("d2", 1.5), ("d4", 1.0), ("d1", 1.0)],
        "q3": [("d5", 1.0)],
    })


def test_combmnz_multiplies_by_runs_that_retrieved():
    check(fuse([A, B], FuseSettings("combmnz", norm="minmax")), {
        "q1": [("d3", 2.0), ("d1", 2.0), ("d2", 0.5)],
        "q2": [("d2", 3.0), ("d4", 2.0), ("d1", 2.0)],
        "q3": [("d5", 1.0)],
    })


def test_zscore_missing_min_versus_zero():
    z = math.sqrt(1.5)  # A q1 scores 3, 2, 1: mean 2, population std √(2/3) → ±1.2247; B q1: .9, .5 → ±1
    mn = fuse([A, B], FuseSettings("combsum", norm="zscore", missing="min"))
    check(mn[mn["qid"] == "q1"], {"q1": [("d1", z - 1), ("d3", -z + 1), ("d2", 0 - 1)]})
    zero = fuse([A, B], FuseSettings("combsum", norm="zscore", missing="zero"))
    # with `zero` the missing d2 gets 0 = B's mean, which lifts it above d3
    assert [d for d, _ in as_dict(zero)["q1"]] == ["d1", "d2", "d3"]
    assert as_dict(zero)["q1"][1][1] == pytest.approx(0.0)


def test_weighted_raw_scores_with_depth_cut():
    # --depth 2 drops d3 from A's q1; raw scores; missing = the run's lowest kept score for the query
    out = fuse([A, B], FuseSettings("weighted", norm="none", weights=[0.3, 0.7], depth=[2]))
    check(out[out["qid"] == "q1"], {"q1": [("d1", 0.3 * 3 + 0.7 * 0.5), ("d3", 0.3 * 2 + 0.7 * 0.9),
                                           ("d2", 0.3 * 2 + 0.7 * 0.5)]})


def test_max_norm_and_k_cut():
    out = fuse([A, B], FuseSettings("combsum", norm="max", k=1))
    # q1: A 3/3, 2/3, 1/3; B .9/.9, .5/.9 → d1 = 1 + 5/9, d3 = 1/3 + 1
    # q2: d2 = 1 + .5 and d4 = .5 + 1 tie; docid descending keeps d4
    check(out, {"q1": [("d1", 1 + 0.5 / 0.9)], "q2": [("d4", 0.5 + 1.0)], "q3": [("d5", 1.0)]})


def test_max_norm_refuses_non_positive_scores():
    from vecrecall.errors import UserError

    neg = A.assign(score=-A["score"])
    with pytest.raises(UserError, match="--norm max"):
        fuse([neg, B], FuseSettings("combsum", norm="max"))


def test_simplex_grid_is_integer_indexed():
    assert simplex_grid(2, 4) == [(0, 4), (1, 3), (2, 2), (3, 1), (4, 0)]
    g = simplex_grid(3, 10)
    assert len(g) == 66 and len(set(g)) == 66 and all(sum(p) == 10 for p in g)


def test_optimize_picks_the_best_grid_point():
    qrels = pd.DataFrame({"qid": ["q1", "q2"], "docid": ["d2", "d2"], "rel": [1, 1]})
    res = optimize([A, B], FuseSettings("combsum", weights=[1, 1]), qrels, "RR", steps=4)
    assert len(res.rows) == 5
    from vecrecall.metrics import evaluate_runs

    by_w = {tuple(r["grid"]): r["RR"] for _, r in res.rows.iterrows()}
    for parts, value in by_w.items():  # every grid row is the exact evaluation of that fused run
        fused = fuse([A, B], FuseSettings("combsum", weights=[p / 4 for p in parts]))
        assert value == evaluate_runs(qrels, {"x": fused}, ["RR"]).means["x"]["RR"]
    assert res.rows["RR"].iloc[0] == max(by_w.values())
    assert res.rows["RR"].is_monotonic_decreasing
    again = fuse([A, B], res.best)
    assert again.equals(res.run)


def write(df: pd.DataFrame, path) -> None:
    from vecrecall.io.runs import write_run

    write_run(df, path)


@pytest.fixture
def toy(tmp_path):
    write(A, tmp_path / "a.run")
    write(B, tmp_path / "b.run")
    return tmp_path


def test_cli_rrf_matches_library(vr, toy):
    from vecrecall.io.runs import read_run

    r = vr("fuse", toy / "a.run", toy / "b.run", "--method", "rrf", "--rrf-k", "60", "--out", toy / "f.run")
    assert r.exit_code == 0, r.stderr
    assert "different queries" in r.stderr  # q3 only in a.run: warned, and fused from a.run alone
    got = read_run(toy / "f.run")
    assert got["docid"].tolist() == fuse([A, B], FuseSettings("rrf"))["docid"].tolist()
    assert (toy / "f.run.manifest.json").exists()
    r = vr("fuse", toy / "a.run", toy / "b.run", "--common-queries", "--out", toy / "c.run")
    assert r.exit_code == 0 and set(read_run(toy / "c.run")["qid"]) == {"q1", "q2"}


def test_cli_optimize(vr, toy):
    (toy / "dev.tsv").write_text("q1\t0\td2\t1\nq2\t0\td2\t1\n")
    r = vr("fuse", toy / "a.run", toy / "b.run", "--method", "weighted", "--optimize", "--qrels", toy / "dev.tsv",
           "-m", "RR", "--grid-steps", "4", "--out", toy / "o.run", "--json")
    assert r.exit_code == 0, r.stderr
    import json

    data = json.loads(r.stdout)
    assert len(data["grid_top"]) == 5 and data["settings"]["weights"] == data["grid_top"][0]["weights"]


@pytest.mark.parametrize("args,fragment", [
    (["--method", "borda"], "unknown fusion method"),
    (["--method", "combsum", "--norm", "rank"], "unknown normalisation"),
    (["--weights", "0.5,0.3,0.2"], "3 weights for 2 runs"),
    (["--method", "weighted"], "pass --weights"),
    (["--alpha", "1.5"], "--alpha 1.5"),
    (["--depth", "0"], "--depth"),
    (["--missing", "drop"], "--missing drop"),
    (["--optimize"], "--optimize needs --qrels"),
    (["--decay-field", "date", "--half-life", "soon"], "--half-life soon"),
])
def test_cli_bad_input(vr, toy, args, fragment):
    r = vr("fuse", toy / "a.run", toy / "b.run", *args, "--out", toy / "x.run")
    assert_user_error(r, fragment)
    assert not (toy / "x.run").exists()


def test_cli_empty_run_and_single_run(vr, toy):
    (toy / "empty.run").write_text("")
    assert_user_error(vr("fuse", toy / "a.run", toy / "empty.run", "--out", toy / "x.run"), "empty")
    assert_user_error(vr("fuse", toy / "a.run", "--out", toy / "x.run"), "at least two runs")
    assert not (toy / "x.run").exists()


@pytest.mark.vaswani
@pytest.mark.slow
def test_vaswani_rrf_acceptance(vr, vaswani, vaswani_minilm, tmp_path):
    """RRF (k=60) of bm25s BM25 and MiniLM Flat, each cut to its top 100: nDCG@10 ≥ 0.485, R@100 ≥ 0.645."""
    from vecrecall.io.qrels import read_qrels
    from vecrecall.io.runs import read_run
    from vecrecall.metrics import evaluate_runs

    beir = vaswani / "beir"
    steps = [
        ("build-index", "--corpus", beir, "--backend", "bm25", "--stemmer", "english", "--stopwords", "en",
         "--k1", "1.2", "--b", "0.75", "--out", tmp_path / "bm25"),
        ("query", "--index", tmp_path / "bm25", "--queries", beir, "-k", "1000", "--out", tmp_path / "bm25.run"),
        ("build-index", "--embeddings", vaswani_minilm["emb"], "--out", tmp_path / "flat"),
        ("query", "--index", tmp_path / "flat", "--queries", vaswani_minilm["qemb"], "-k", "1000", "--out", tmp_path / "flat.run"),
        ("fuse", tmp_path / "bm25.run", tmp_path / "flat.run", "--method", "rrf", "--rrf-k", "60", "--depth", "100",
         "--out", tmp_path / "rrf.run"),
    ]
    for s in steps:
        r = vr(*s)
        assert r.exit_code == 0, (s, r.stderr)
    rep = evaluate_runs(read_qrels(beir, "test"), {"rrf": read_run(tmp_path / "rrf.run")}, ["nDCG@10", "R@100"])
    assert rep.means["rrf"]["nDCG@10"] >= 0.485
    assert rep.means["rrf"]["R@100"] >= 0.645
    assert np.isfinite(rep.means["rrf"]["nDCG@10"])
