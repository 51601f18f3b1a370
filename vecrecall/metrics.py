"""Measures parsed from strings and computed by ir-measures (pytrec_eval underneath), so trec_eval semantics hold:
ties broken by docid, unjudged documents non-relevant, graded qrels for nDCG.

Measure names: ir-measures syntax (`nDCG@10`, `R@100`, `P@10`, `RR`, `MAP`, `Rprec`, `Judged@10`, …) or trec_eval's
(`ndcg_cut_10`, `ndcg_cut.10`, `map`, `P_10`, `P.10`, `recall_100`, `recip_rank`, `Rprec`, `success_1`, …). Results
are keyed by the measure itself, not its spelling: `-m nDCG@10 -m NDCG@10 -m ndcg_cut_10` is one measure, shown as
first spelled. A trec_eval family name that stands for several measures (`ndcg_cut`, `P.5,10`) gives each its
ir-measures name (`nDCG@5`, …).

Queries that have judgements but are absent from a run score 0 (trec_eval -c) unless `skip_missing`; queries in the
run without judgements are ignored. `ignore_identical_ids` drops retrieved documents whose id equals the query id
(BEIR's protocol for collections whose queries are documents too). Several runs are compared with paired t-tests
against the first, Holm-corrected.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserError

MEASURE_EXAMPLES = ("e.g. nDCG@10 R@100 P@10 RR MAP Rprec Judged@10 Success@10, or trec_eval names ndcg_cut_10 map "
                    "P_10 recall_100 recip_rank")


@dataclass(frozen=True)
class Measure:
    """A measure as the user spelled it, and the ir-measures object that computes it (the key results use)."""

    name: str
    impl: Any


def _parse_one(text: str) -> list[tuple[str, Any]]:
    """(display name, measure) pairs for one spelling: ir-measures syntax first, then trec_eval names."""
    import ir_measures

    try:
        return [(text, ir_measures.parse_measure(text))]
    except (NameError, ValueError, TypeError, SyntaxError, AttributeError):
        pass
    with contextlib.redirect_stdout(io.StringIO()):  # ir-measures prints skipped members of trec nicknames
        found = ir_measures.parse_trec_measure(text)
    if not found:
        raise ValueError(f"no measure in {text}")
    return [(text, found[0])] if len(found) == 1 else [(str(m), m) for m in found]


def _split_commas(text: str) -> list[str]:
    """'nDCG@10,R@100' → two names; commas inside parentheses (measure parameters) stay."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p for p in parts + [cur] if p]


def _check_params(shown: str, impl: Any) -> None:
    """Refuse parameter values ir-measures accepts at parse time but its providers cannot compute: a cutoff below 1
    aborts pytrec_eval (a C assertion kills the process), a fractional one fails an assertion later."""
    cutoff = impl.params.get("cutoff")
    if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < 1):
        raise UserError(f"-m {shown}: cutoff {cutoff} must be a whole number ≥ 1 (e.g. nDCG@10)")
    try:
        impl.validate_params()
    except AssertionError as exc:
        raise UserError(f"-m {shown}: {exc}; {MEASURE_EXAMPLES}") from None


def parse_measures(names: list[str]) -> list[Measure]:
    """Measures from the user's spellings (several per string when separated by spaces or commas), one per
    distinct measure, in the order first given, named as first spelled."""
    pairs: list[tuple[str, Any]] = []
    for name in names:
        for token in name.split():
            try:
                pairs += _parse_one(token)
                continue
            except (NameError, ValueError, TypeError, SyntaxError, AttributeError) as exc:
                error = exc
            parts = _split_commas(token)
            if len(parts) < 2:
                why = f" ({error})" if "not yet supported" in str(error) else ""
                raise UserError(f"-m {token}: unknown measure{why}; {MEASURE_EXAMPLES}")
            for part in parts:
                try:
                    pairs += _parse_one(part)
                except (NameError, ValueError, TypeError, SyntaxError, AttributeError) as exc:
                    why = f" ({exc})" if "not yet supported" in str(exc) else ""
                    raise UserError(f"-m {part}: unknown measure{why}; {MEASURE_EXAMPLES}") from None
    if not pairs:
        raise UserError("no measures given; pass e.g. -m nDCG@10 -m MAP")
    for shown, impl in pairs:
        _check_params(shown, impl)
    first: dict[Any, str] = {}
    for shown, impl in pairs:
        first.setdefault(impl, shown)
    return [Measure(shown, impl) for impl, shown in first.items()]


def per_query(qrels: pd.DataFrame, run: pd.DataFrame, measures: list[Measure], skip_missing: bool = False) -> pd.DataFrame:
    """Per-query values (`qid, measure, value`) for every judged query (0 where the run has no results)."""
    import ir_measures

    q = qrels.rename(columns={"qid": "query_id", "docid": "doc_id", "rel": "relevance"})[["query_id", "doc_id", "relevance"]]
    r = run.rename(columns={"qid": "query_id", "docid": "doc_id"})[["query_id", "doc_id", "score"]]
    judged = sorted(q["query_id"].unique())
    by_impl = {m.impl: m.name for m in measures}
    rows = [(x.query_id, by_impl[x.measure], float(x.value)) for x in ir_measures.iter_calc(list(by_impl), q, r)]
    df = pd.DataFrame(rows, columns=["qid", "measure", "value"])
    keep = sorted(set(judged) & set(r["query_id"])) if skip_missing else judged
    full = pd.MultiIndex.from_product([keep, [m.name for m in measures]], names=["qid", "measure"])
    return df.set_index(["qid", "measure"]).reindex(full, fill_value=0.0).reset_index()


def aggregate(pq: pd.DataFrame, measures: list[Measure]) -> dict[str, float]:
    """Mean over queries of each measure, in the order given."""
    means = pq.groupby("measure")["value"].mean()
    return {m.name: float(means.get(m.name, 0.0)) for m in measures}


@dataclass
class Coverage:
    """How a run meets the qrels: which judged queries it answers and whether its documents are judged at all."""

    judged: int  # queries with judgements
    present: int  # judged queries the run has results for
    missing: int  # judged queries the run lacks (score 0, or skipped with skip_missing)
    unjudged: int  # queries of the run without judgements (ignored)
    averaged_over: int  # queries each mean is over
    judged_retrieved: int  # (query, document) pairs of the run that the qrels judge (any grade)
    identical_dropped: int | None = None  # ignore_identical_ids: retrieved documents dropped (None: off)
    example: tuple[str, str, str] | None = None  # (qid, a run docid, a judged docid) when nothing matches

    @property
    def no_judged_match(self) -> bool:
        """True when the run answers judged queries but none of its documents for them is judged: ids that do not
        match (17.0 vs 17, a prefix, another collection) rather than a bad system."""
        return self.present > 0 and self.judged_retrieved == 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("example")
        if d["identical_dropped"] is None:
            d.pop("identical_dropped")
        return d


def coverage(qrels: pd.DataFrame, run: pd.DataFrame, skip_missing: bool = False,
             identical_dropped: int | None = None) -> Coverage:
    judged_q = set(qrels["qid"])
    run_q = set(run["qid"])
    present = judged_q & run_q
    hits = run.merge(qrels[["qid", "docid"]], on=["qid", "docid"], how="inner")
    example = None
    if present and hits.empty:
        qid = sorted(present)[0]
        example = (qid, str(run.loc[run["qid"] == qid, "docid"].iloc[0]), str(qrels.loc[qrels["qid"] == qid, "docid"].iloc[0]))
    return Coverage(len(judged_q), len(present), len(judged_q - run_q), len(run_q - judged_q),
                    len(present) if skip_missing else len(judged_q), len(hits), identical_dropped, example)


def drop_identical_ids(run: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The run without documents whose id equals their query's id (BEIR's `ignore_identical_ids`), and how many."""
    same = (run["qid"] == run["docid"]).to_numpy()
    return run[~same].reset_index(drop=True), int(same.sum())


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
    """Means per run and measure, the per-query table, p-values against the first run, and each run's coverage."""

    measures: list[Measure]
    means: dict[str, dict[str, float]]
    per_query: pd.DataFrame  # run, qid, measure, value
    pvalues: dict[str, dict[str, float]]
    n_queries: dict[str, int]
    coverage: dict[str, Coverage]


def write_per_query(report: EvalReport, out: Any, qrels: Any, runs: dict[str, Any], measure_names: list[str],
                    skip_missing: bool, ignore_identical_ids: bool, overwrite: bool) -> None:
    """Write `report.per_query` (run, qid, measure, value) to the Parquet file `out` with its manifest: the measures,
    options, qrels and the run files (`runs`: display name → path). Raises UserError as `atomic_file` does."""
    from pathlib import Path

    from .artifacts import Manifest, atomic_file, input_entry

    m = Manifest(type="per-query", params={"measures": list(measure_names), "skip_missing": skip_missing,
                                           "ignore_identical_ids": ignore_identical_ids},
                 inputs={"qrels": input_entry(Path(qrels).resolve()),
                         **{f"run:{n}": input_entry(Path(r).resolve()) for n, r in runs.items()}})
    with atomic_file(out, overwrite=overwrite, manifest=m) as tmp:
        report.per_query.to_parquet(tmp, index=False)


def evaluate_runs(qrels: pd.DataFrame, runs: dict[str, pd.DataFrame], measure_names: list[str],
                  skip_missing: bool = False, ignore_identical_ids: bool = False) -> EvalReport:
    """Evaluate each run against `qrels`; runs are keyed by their display name."""
    measures = parse_measures(measure_names)
    covs = {}
    if ignore_identical_ids:
        dropped = {name: drop_identical_ids(run) for name, run in runs.items()}
        runs = {name: r for name, (r, _) in dropped.items()}
        covs = {name: coverage(qrels, runs[name], skip_missing, n) for name, (_, n) in dropped.items()}
    else:
        covs = {name: coverage(qrels, run, skip_missing) for name, run in runs.items()}
    pqs = {name: per_query(qrels, run, measures, skip_missing) for name, run in runs.items()}
    means = {name: aggregate(pq, measures) for name, pq in pqs.items()}
    table = pd.concat([pq.assign(run=name) for name, pq in pqs.items()], ignore_index=True)[["run", "qid", "measure", "value"]]
    counts = {name: int(pq["qid"].nunique()) for name, pq in pqs.items()}
    return EvalReport(measures, means, table, paired_pvalues(pqs, measures), counts, covs)
