"""eval: agreement with pytrec_eval per query and measure, trec_eval conventions, output forms, significance tests."""

import json

import numpy as np
import pandas as pd
import pytest
import pytrec_eval
from scipy import stats

from conftest import assert_user_error
from vecrecall.io.runs import write_run
from vecrecall.metrics import holm

PTE = {"nDCG@10": ("ndcg_cut_10", "ndcg_cut"), "MAP": ("map", "map"), "R@100": ("recall_100", "recall"),
       "P@10": ("P_10", "P"), "RR": ("recip_rank", "recip_rank"), "Rprec": ("Rprec", "Rprec")}


def pytrec(qrels: pd.DataFrame, run: pd.DataFrame) -> dict:
    q, r = {}, {}
    for row in qrels.itertuples():
        q.setdefault(row.qid, {})[row.docid] = int(row.rel)
    for row in run.itertuples():
        r.setdefault(row.qid, {})[row.docid] = float(row.score)
    return pytrec_eval.RelevanceEvaluator(q, {v[1] for v in PTE.values()}).evaluate(r)


@pytest.fixture
def tricky(tmp_path):
    """Graded qrels; a run with tied scores, unjudged documents, a query without results and one without judgements."""
    rng = np.random.default_rng(0)
    qrels = [(f"q{i}", f"d{j}", int(rng.integers(0, 3))) for i in range(8) for j in rng.choice(60, 15, replace=False)]
    qrels = pd.DataFrame(qrels, columns=["qid", "docid", "rel"]).drop_duplicates(["qid", "docid"])
    rows = []
    for i in range(7):  # q7 is judged but missing from the run
        for rank, j in enumerate(rng.choice(60, 40, replace=False), 1):
            rows.append((f"q{i}", f"d{j}", rank, float(np.round(rng.random(), 1))))  # rounding makes many ties
    rows += [("unjudged", "d1", 1, 1.0)]
    run = pd.DataFrame(rows, columns=["qid", "docid", "rank", "score"])
    (tmp_path / "qrels.txt").write_text("".join(f"{r.qid} 0 {r.docid} {r.rel}\n" for r in qrels.itertuples()))
    write_run(run, tmp_path / "tricky.run")
    return qrels, run, tmp_path


def test_per_query_values_equal_pytrec_eval(vr, tricky):
    qrels, run, d = tricky
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", *sum((["-m", m] for m in PTE), []),
           "--per-query", d / "pq.parquet", "--json")
    assert r.exit_code == 0, r.stderr
    pq = pd.read_parquet(d / "pq.parquet")
    assert list(pq.columns) == ["run", "qid", "measure", "value"]
    ref = pytrec(qrels, run)
    for m, (key, _) in PTE.items():
        got = pq[pq.measure == m].set_index("qid")["value"]
        for qid, vals in ref.items():
            assert abs(got[qid] - vals[key]) < 1e-9, (m, qid)
        assert got["q7"] == 0.0 and "unjudged" not in got.index
        means = json.loads(r.stdout)["tricky.run"]
        assert abs(means[m] - (sum(v[key] for v in ref.values()) / 8)) < 1e-9  # 8 judged queries, q7 counted as 0


def test_skip_missing_averages_over_run_queries(vr, tricky):
    qrels, run, d = tricky
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "MAP", "--skip-missing", "--json")
    ref = pytrec(qrels, run)
    assert json.loads(r.stdout)["tricky.run"]["MAP"] == pytest.approx(np.mean([v["map"] for v in ref.values()]), abs=1e-12)


def test_several_runs_table_and_pvalues(vr, tricky):
    qrels, run, d = tricky
    worse = run.copy()
    worse["score"] = -worse["score"]  # reversed ranking
    write_run(worse, d / "worse.run")
    shuffled = run.copy()
    shuffled["score"] = np.random.default_rng(1).random(len(run))
    write_run(shuffled, d / "random.run")
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", d / "worse.run", d / "random.run", "-m", "nDCG@10", "--per-query", d / "pq.parquet")
    assert r.exit_code == 0, r.stderr
    assert "tricky.run" in r.stdout and "worse.run" in r.stdout and "p=" in r.stdout
    pq = pd.read_parquet(d / "pq.parquet")
    base = pq[pq.run == "tricky.run"].sort_values("qid")["value"].to_numpy()
    raw = [stats.ttest_rel(pq[pq.run == n].sort_values("qid")["value"].to_numpy(), base).pvalue for n in ("worse.run", "random.run")]
    expected = holm(raw)
    for name, p in zip(("worse.run", "random.run"), expected):
        assert f"p={p:.3f}" in r.stdout or (p < 0.001 and "p<0.001" in r.stdout)


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_eval_errors(vr, tricky):
    qrels, run, d = tricky
    assert_user_error(vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "Foo@3"), "-m Foo@3", "unknown measure")
    assert_user_error(vr("eval", "--qrels", d / "nope.txt", d / "tricky.run"), "nope.txt")
    assert_user_error(vr("eval", "--qrels", d / "qrels.txt", d / "none.run"), "none.run", "no such run file")
    (d / "dup.run").write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n")
    assert_user_error(vr("eval", "--qrels", d / "qrels.txt", d / "dup.run"), "dup.run line 2", "appears twice")
    (d / "other.run").write_text("x1 Q0 d1 1 2.0 t\n")
    assert_user_error(vr("eval", "--qrels", d / "qrels.txt", d / "other.run"), "none of its queries have judgements")
    assert_user_error(vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "--per-query", d / "pq.csv"), "must be a .parquet")
