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


def test_a_table_too_wide_for_80_columns_cuts_no_digit(vr, tricky):
    """8 runs × 6 measures fit neither layout in 80 columns: cells wrap (p-values lose their parentheses), and
    every p-value and run name is printed whole — rich's default '…' had cut 'p=0.315' to '(p=0.31…'."""
    qrels, run, d = tricky
    names = [f"a_rather_long_run_name_{i}.run" for i in range(8)]
    for i, name in enumerate(names):
        shuffled = run.copy()
        shuffled["score"] = np.random.default_rng(i).random(len(run))
        write_run(shuffled, d / name)
    r = vr("eval", "--qrels", d / "qrels.txt", *(d / n for n in names), "-m", "nDCG@10", "-m", "R@100", "-m", "MAP",
           "-m", "P@10", "-m", "RR", "-m", "Rprec", "--per-query", d / "pq.parquet")
    assert r.exit_code == 0, r.stderr
    table = [line for line in r.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table) <= 80
    assert "…" not in r.stdout
    first_column = "".join(line.split("│")[1].strip() for line in table if line.startswith("│"))
    assert all(name in first_column for name in names), first_column
    pq = pd.read_parquet(d / "pq.parquet")
    base = pq[(pq.run == names[0]) & (pq.measure == "MAP")].sort_values("qid")["value"].to_numpy()
    raw = [stats.ttest_rel(pq[(pq.run == n) & (pq.measure == "MAP")].sort_values("qid")["value"].to_numpy(), base).pvalue
           for n in names[1:]]
    for p in holm(raw):
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


# ---------------------------------------------------------------------------------------------------------------
# Measure names: one canonical measure per spelling, trec_eval names accepted, values equal pytrec_eval's
# ---------------------------------------------------------------------------------------------------------------

# every spelling accepted → (pytrec_eval measure family, the key it reports)
SPELLINGS = {
    "nDCG@10": ("ndcg_cut", "ndcg_cut_10"), "NDCG@10": ("ndcg_cut", "ndcg_cut_10"),
    "ndcg_cut_10": ("ndcg_cut", "ndcg_cut_10"), "ndcg_cut.10": ("ndcg_cut", "ndcg_cut_10"),
    "nDCG": ("ndcg", "ndcg"), "ndcg": ("ndcg", "ndcg"),
    "MAP": ("map", "map"), "AP": ("map", "map"), "map": ("map", "map"),
    "AP@10": ("map_cut", "map_cut_10"), "map_cut_10": ("map_cut", "map_cut_10"), "map_cut.10": ("map_cut", "map_cut_10"),
    "P@10": ("P", "P_10"), "P_10": ("P", "P_10"), "P.10": ("P", "P_10"),
    "R@100": ("recall", "recall_100"), "recall_100": ("recall", "recall_100"), "recall.100": ("recall", "recall_100"),
    "RR": ("recip_rank", "recip_rank"), "MRR": ("recip_rank", "recip_rank"), "recip_rank": ("recip_rank", "recip_rank"),
    "Rprec": ("Rprec", "Rprec"), "RPrec": ("Rprec", "Rprec"),
    "Success@1": ("success", "success_1"), "success_1": ("success", "success_1"), "success.1": ("success", "success_1"),
    "Bpref": ("bpref", "bpref"), "bpref": ("bpref", "bpref"),
}


def pytrec_family(qrels: pd.DataFrame, run: pd.DataFrame, family: str) -> dict:
    q, r = {}, {}
    for row in qrels.itertuples():
        q.setdefault(row.qid, {})[row.docid] = int(row.rel)
    for row in run.itertuples():
        r.setdefault(row.qid, {})[row.docid] = float(row.score)
    return pytrec_eval.RelevanceEvaluator(q, {family}).evaluate(r)


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_every_spelling_agrees_with_pytrec_eval(vr, tricky, spelling):
    qrels, run, d = tricky
    family, key = SPELLINGS[spelling]
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", spelling, "--per-query", d / "pq.parquet", "--json")
    assert r.exit_code == 0, r.stderr
    means = json.loads(r.stdout)["tricky.run"]
    assert list(means) == [spelling]  # shown as the user spelled it
    ref = pytrec_family(qrels, run, family)
    pq = pd.read_parquet(d / "pq.parquet").set_index("qid")["value"]
    for qid, vals in ref.items():
        assert pq[qid] == pytest.approx(vals[key], abs=1e-12), (spelling, qid)
    assert means[spelling] == pytest.approx(sum(v[key] for v in ref.values()) / 8, abs=1e-12)  # q7 judged, missing → 0


def test_duplicate_spellings_are_one_measure(vr, tricky):
    qrels, run, d = tricky
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "nDCG@10", "-m", "NDCG@10", "-m", "ndcg_cut_10",
           "-m", "ndcg_cut.10", "-m", "map", "-m", "MAP", "--json")
    assert r.exit_code == 0, r.stderr
    means = json.loads(r.stdout)["tricky.run"]
    assert list(means) == ["nDCG@10", "map"]  # first spelling of each measure, in the order given
    ref = pytrec(qrels, run)
    assert means["nDCG@10"] == pytest.approx(sum(v["ndcg_cut_10"] for v in ref.values()) / 8, abs=1e-12)
    assert means["nDCG@10"] > 0
    table = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "nDCG@10", "-m", "NDCG@10")
    assert table.stdout.count("nDCG@10") == 1 and "NDCG@10" not in table.stdout


def test_trec_families_and_comma_lists(vr, tricky):
    qrels, run, d = tricky
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "P.5,10", "-m", "nDCG@10,R@100", "--json")
    assert r.exit_code == 0, r.stderr
    means = json.loads(r.stdout)["tricky.run"]
    assert list(means) == ["P@5", "P@10", "nDCG@10", "R@100"]
    ref = pytrec_family(qrels, run, "P")
    assert means["P@5"] == pytest.approx(sum(v["P_5"] for v in ref.values()) / 8, abs=1e-12)
    assert_user_error(vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "gm_map"), "-m gm_map", "not yet supported")
    assert_user_error(vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "ndcg_cutt_10"), "-m ndcg_cutt_10",
                      "unknown measure", "ndcg_cut_10")


# ---------------------------------------------------------------------------------------------------------------
# Coverage, id-mismatch warning, --skip-missing count, --ignore-identical-ids
# ---------------------------------------------------------------------------------------------------------------


def test_coverage_is_stated(vr, tricky):
    qrels, run, d = tricky
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "MAP")
    assert r.exit_code == 0, r.stderr
    assert "tricky.run: 7 of 8 judged queries answered, 1 missing (scored 0, as trec_eval -c); means over 8 queries; " \
           "1 unjudged query ignored" in r.stdout
    assert "warning" not in r.stderr
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "MAP", "--skip-missing")
    assert "1 missing (skipped); means over 7 queries" in r.stdout
    r = vr("eval", "--qrels", d / "qrels.txt", d / "tricky.run", "-m", "MAP", "--skip-missing", "--json")
    cov = json.loads(r.stdout)["coverage"]["tricky.run"]
    assert cov == {"judged": 8, "present": 7, "missing": 1, "unjudged": 1, "averaged_over": 7,
                   "judged_retrieved": int(run.merge(qrels, on=["qid", "docid"]).shape[0])}


def test_warns_when_no_retrieved_document_is_judged(vr, tmp_path):
    (tmp_path / "qrels.txt").write_text("q1 0 17 1\nq2 0 18 1\n")
    (tmp_path / "float.run").write_text("q1 Q0 17.0 1 2.0 t\nq2 Q0 18.0 1 2.0 t\n")
    (tmp_path / "good.run").write_text("q1 Q0 17 1 2.0 t\nq2 Q0 5 1 2.0 t\n")
    r = vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "float.run", tmp_path / "good.run", "-m", "RR")
    assert r.exit_code == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr  # one line, for the run that matches nothing
    assert lines[0].startswith("warning: float.run: none of its documents") and "'17.0'" in lines[0] and "'17'" in lines[0]


def test_ignore_identical_ids(vr, tmp_path):
    (tmp_path / "qrels.txt").write_text("a 0 b 1\nb 0 a 1\nc 0 a 1\n")
    # every query retrieves itself first (queries are documents, as in ArguAna/Quora)
    (tmp_path / "r.run").write_text("a Q0 a 1 3.0 t\na Q0 b 2 2.0 t\nb Q0 b 1 3.0 t\nb Q0 c 2 2.0 t\nb Q0 a 3 1.0 t\n"
                                    "c Q0 c 1 3.0 t\nc Q0 a 2 2.0 t\n")
    off = json.loads(vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "r.run", "-m", "RR", "--json").stdout)
    assert off["r.run"]["RR"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)  # trec_eval semantics: self-hits count
    assert "identical_dropped" not in off["coverage"]["r.run"]
    on = json.loads(vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "r.run", "-m", "RR", "--json",
                       "--ignore-identical-ids").stdout)
    assert on["r.run"]["RR"] == pytest.approx((1 + 1 / 2 + 1) / 3)  # self-hits dropped: b, a, a move up
    assert on["coverage"]["r.run"]["identical_dropped"] == 3
    table = vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "r.run", "-m", "RR", "--ignore-identical-ids")
    assert "(--ignore-identical-ids)" in table.stdout and "dropped 3 documents equal to their query id" in table.stdout


def test_nan_scores_refused_inf_ranked(vr, tmp_path):
    (tmp_path / "qrels.txt").write_text("q1 0 d1 1\nq1 0 d3 1\n")
    (tmp_path / "nan.run").write_text("q1 Q0 d2 1 0.8 t\nq1 Q0 d1 2 nan t\n")
    assert_user_error(vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "nan.run", "--per-query", tmp_path / "pq.parquet"),
                      "nan.run line 2", "score NaN", "query 'q1'", "document 'd1'")
    assert not (tmp_path / "pq.parquet").exists()
    (tmp_path / "inf.run").write_text("q1 Q0 d2 1 0.8 t\nq1 Q0 d1 2 inf t\nq1 Q0 d3 3 -inf t\n")
    r = vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "inf.run", "-m", "RR", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["inf.run"]["RR"] == 1.0  # +inf ranks first, as trec_eval sorts it
