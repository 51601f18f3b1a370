"""Measures parsed from strings (`nDCG@10`, `R@100`, `MAP`, …) and computed by ir-measures (pytrec_eval underneath),
so trec_eval semantics hold: ties broken by docid, unjudged documents non-relevant, graded qrels for nDCG.

Queries that have judgements but are absent from a run score 0 (trec_eval -c) unless `skip_missing`; queries in the
run without judgements are ignored. Several runs are compared with paired t-tests against the first, Holm-corrected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserError


@dataclass(frozen=True)
class Measure:
    """A measure as the user spelled it, and the ir-measures object that computes it."""

    name: str
    impl: Any


def parse_measures(names: list[str]) -> list[Measure]:
    import ir_measures

    out = []
    for name in names:
        for part in name.replace(",", " ").split():
            try:
                out.append(Measure(part, ir_measures.parse_measure(part)))
            except (NameError, ValueError, TypeError, SyntaxError) as exc:
                raise UserError(f"-m {part}: unknown measure ({exc}); e.g. nDCG@10 R@100 P@10 RR MAP Rprec Judged@10 Success@10") from None
    if not out:
        raise UserError("no measures given; pass e.g. -m nDCG@10 -m MAP")
    return list(dict.fromkeys(out))


def per_query(qrels: pd.DataFrame, run: pd.DataFrame, measures: list[Measure], skip_missing: bool = False) -> pd.DataFrame:
    """Per-query values (`qid, measure, value`) for every judged query (0 where the run has no results)."""
    import ir_measures

    q = qrels.rename(columns={"qid": "query_id", "docid": "doc_id", "rel": "relevance"})[["query_id", "doc_id", "relevance"]]
    r = run.rename(columns={"qid": "query_id", "docid": "doc_id"})[["query_id", "doc_id", "score"]]
    judged = sorted(q["query_id"].unique())
    by_impl = {m.impl: m.name for m in measures}
    rows = [(x.query_id, by_impl[x.measure], float(x.value)) for x in ir_measures.iter_calc([m.impl for m in measures], q, r)]
    df = pd.DataFrame(rows, columns=["qid", "measure", "value"])
    keep = sorted(set(judged) & set(r["query_id"])) if skip_missing else judged
    full = pd.MultiIndex.from_product([keep, [m.name for m in measures]], names=["qid", "measure"])
    return df.set_index(["qid", "measure"]).reindex(full, fill_value=0.0).reset_index()


def aggregate(pq: pd.DataFrame, measures: list[Measure]) -> dict[str, float]:
    """Mean over queries of each measure, in the order given."""
    means = pq.groupby("measure")["value"].mean()
    return {m.name: float(means.get(m.name, 0.0)) for m in measures}


def holm(pvalues: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (len(p) - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted.tolist()


def paired_pvalues(per_query_by_run: dict[str, pd.DataFrame], measures: list[Measure]) -> dict[str, dict[str, float]]:
    """p-values of paired t-tests of each run against the first, per measure, Holm-corrected across runs."""
    from scipy import stats

    names = list(per_query_by_run)
    out: dict[str, dict[str, float]] = {n: {} for n in names[1:]}
    if len(names) < 2:
        return out
    base = names[0]
    for m in measures:
        raw = []
        for name in names[1:]:
            a = per_query_by_run[base].query("measure == @m.name").set_index("qid")["value"]
            b = per_query_by_run[name].query("measure == @m.name").set_index("qid")["value"]
            common = a.index.intersection(b.index)
            x, y = a.loc[common].to_numpy(), b.loc[common].to_numpy()
            if len(common) < 2 or np.allclose(x - y, (x - y)[0] if len(x) else 0):
                raw.append(1.0 if len(common) < 2 or np.allclose(x, y) else 0.0)
            else:
                raw.append(float(stats.ttest_rel(y, x).pvalue))
        for name, p in zip(names[1:], holm(raw)):
            out[name][m.name] = p
    return out


@dataclass
class EvalReport:
    """Means per run and measure, the per-query table, and p-values against the first run."""

    measures: list[Measure]
    means: dict[str, dict[str, float]]
    per_query: pd.DataFrame  # run, qid, measure, value
    pvalues: dict[str, dict[str, float]]
    n_queries: dict[str, int]


def evaluate_runs(qrels: pd.DataFrame, runs: dict[str, pd.DataFrame], measure_names: list[str],
                  skip_missing: bool = False) -> EvalReport:
    """Evaluate each run against `qrels`; runs are keyed by their display name."""
    measures = parse_measures(measure_names)
    pqs = {name: per_query(qrels, run, measures, skip_missing) for name, run in runs.items()}
    means = {name: aggregate(pq, measures) for name, pq in pqs.items()}
    table = pd.concat([pq.assign(run=name) for name, pq in pqs.items()], ignore_index=True)[["run", "qid", "measure", "value"]]
    counts = {name: int(pq["qid"].nunique()) for name, pq in pqs.items()}
    return EvalReport(measures, means, table, paired_pvalues(pqs, measures), counts)
