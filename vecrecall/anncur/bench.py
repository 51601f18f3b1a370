"""`anncur bench`: Top-k recall against exact scorer search at each budget, for every method, plus nDCG with qrels.

Exact scores of every test query against every item are computed once (and kept in the score cache), so each
method's calls are bookkeeping against that cache; the `CallCounter` of each (method, query) still refuses any call
beyond the budget, and the table reports the calls each method spent.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import Manifest, atomic_dir, check_out, input_entry, sha256_path, write_dir_manifest
from ..errors import UserError
from .artifact import AnncurIndex
from .cur import effective_rank
from .methods import METHODS, Plan, check_plan, get_method
from .query import MethodRun, run_method, to_run
from .scorers import QuerySet, ScoreBook

RESULTS, PLOT = "results.parquet", "recall.png"


@dataclass
class BenchSpec:
    budgets: list[int]
    ks: list[int]
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    k_i: int | None = None           # fixed k_i; None = min(index k_i, ⌊anchor_share · B⌋) per budget
    anchor_share: float = 0.5
    rounds: int = 5


@dataclass
class BenchResult:
    table: pd.DataFrame
    summary: dict[str, Any]
    runs: dict[str, pd.DataFrame]


def k_i_for(spec: BenchSpec, budget: int, index_k_i: int) -> int:
    if spec.k_i is not None:
        return spec.k_i
    return max(1, min(index_k_i, int(spec.anchor_share * budget)))


def exact_top(exact: np.ndarray, k: int) -> list[set[int]]:
    """Each query's exact top-k item positions (ties broken by position, as the methods do)."""
    out = []
    for row in exact:
        order = np.lexsort((np.arange(len(row)), -row))[:k]
        out.append(set(order.tolist()))
    return out


def topk_recall(result: MethodRun, truth: list[set[int]], k: int) -> np.ndarray:
    """|method's top-k ∩ exact top-k| / k per query."""
    return np.array([len(set(items[:k].tolist()) & t) / min(k, len(t)) for items, t in zip(result.items, truth)])


def validate(spec: BenchSpec, index: AnncurIndex) -> None:
    if not spec.budgets:
        raise UserError("--budgets: give at least one budget, e.g. --budgets 50,100,200,500")
    if not spec.ks:
        raise UserError("-k: give at least one k, e.g. -k 1,10,100")
    if not 0 < spec.anchor_share <= 1:
        raise UserError(f"--anchor-share {spec.anchor_share}: must be in (0, 1]")
    for name in spec.methods:
        method = get_method(name)
        if method.needs_biencoder and index.biencoder is None:
            raise UserError(f"--methods {name}: the index has no bi-encoder vectors; rebuild it with --biencoder MODEL "
                            "or leave this method out (--baseline none drops the rerank baseline)")
        for b in spec.budgets:
            check_plan(method, Plan(b, max(spec.ks), k_i_for(spec, b, index.k_i), spec.rounds), len(index.items), index.k_i)


def run_bench(index: AnncurIndex, queries: QuerySet, spec: BenchSpec, qrels: pd.DataFrame | None = None,
              use_cache: bool = True) -> BenchResult:
    validate(spec, index)
    if qrels is not None:
        # judge only the test queries: judged queries outside the bench would count as 0
        qrels = qrels[qrels["qid"].astype(str).isin(set(queries.ids))]
        if qrels.empty:
            raise UserError("--qrels: none of the test queries has judgements; check the query ids or --split")
    scorer = index.scorer()
    book = ScoreBook(scorer, use_cache)
    n_items = len(index.items)
    kmax = max(spec.ks)
    try:
        t0 = time.perf_counter()
        exact = book.score_all(queries, "anncur bench: exact scores")
        exact_s = time.perf_counter() - t0
        computed_exact = book.computed
        truth = {k: exact_top(exact, k) for k in spec.ks}
        needs_bi = any(METHODS[m].needs_biencoder for m in spec.methods)
        qvecs = index.query_vectors(queries, use_cache) if needs_bi else None
        ctx = index.context()
        rows, runs = [], {}
        for budget in spec.budgets:
            for name in spec.methods:
                method = METHODS[name]
                plan = check_plan(method, Plan(budget, kmax, k_i_for(spec, budget, index.k_i), spec.rounds),
                                  n_items, index.k_i)
                res = run_method(method, ctx, book, queries, qvecs, plan, max(kmax, 10), f"{name} @ B={budget}")
                row: dict[str, Any] = {
                    "method": name, "label": method.label, "budget": budget,
                    "k_i": plan.k_i if method.uses_anchors else None,
                    "rounds": plan.rounds if name == "adacur" else None,
                    "calls_mean": float(res.calls.mean()), "calls_min": int(res.calls.min()),
                    "calls_max": int(res.calls.max()), "seconds": round(res.seconds, 3)}
                for k in spec.ks:
                    row[f"top{k}_recall"] = float(topk_recall(res, truth[k], k).mean())
                runs[f"{name}@{budget}"] = to_run(res, queries, index.items.ids)
                rows.append(row)
        table = pd.DataFrame(rows)
        summary: dict[str, Any] = {
            "n_queries": len(queries), "n_items": n_items, "k_q": int(index.r_anc.shape[0]), "index_k_i": index.k_i,
            "scorer": index.spec["scorer"],
            "effective_rank_99_anchor": effective_rank(index.r_anc),
            "effective_rank_99_test": effective_rank(exact),
            "exact_scores_s": round(exact_s, 3), "scorer_calls_computed": int(book.computed),
            "scorer_calls_computed_exact": int(computed_exact)}
        if qrels is not None:
            from ..metrics import evaluate_runs

            best = [np.lexsort((np.arange(n_items), -r))[: max(kmax, 10)] for r in exact]
            exact_run = to_run(MethodRun(best, [r[b] for r, b in zip(exact, best)], np.zeros(0), 0.0),
                               queries, index.items.ids)
            all_runs = {"exact": exact_run, **runs}
            if qvecs is not None:
                bi = [np.argsort(-(index.biencoder @ v), kind="stable")[: max(kmax, 10)] for v in qvecs]
                all_runs["biencoder"] = to_run(MethodRun(bi, [(index.biencoder @ v)[b] for v, b in zip(qvecs, bi)],
                                                         np.zeros(0), 0.0), queries, index.items.ids)
            report = evaluate_runs(qrels, all_runs, ["nDCG@10"])
            table["nDCG@10"] = [report.means[f"{r.method}@{r.budget}"]["nDCG@10"] for r in table.itertuples()]
            summary["nDCG@10_exact"] = report.means["exact"]["nDCG@10"]
            if "biencoder" in report.means:
                summary["nDCG@10_biencoder"] = report.means["biencoder"]["nDCG@10"]
            summary["qrels_queries"] = report.n_queries["exact"]
    finally:
        book.close()
    return BenchResult(table, summary, runs)


def plot(table: pd.DataFrame, ks: list[int], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 3.6), squeeze=False)
    for ax, k in zip(axes[0], ks):
        for method, part in table.groupby("method", sort=False):
            part = part.sort_values("budget")
            ax.plot(part["budget"], part[f"top{k}_recall"], marker="o", label=part["label"].iloc[0])
        ax.set_xscale("log")
        budgets = sorted(table["budget"].unique())
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.minorticks_off()
        ax.set_xlabel("scorer calls per query (budget)")
        ax.set_ylabel(f"Top-{k} recall vs exact")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"Top-{k}")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_bench(out: Path, result: BenchResult, spec: BenchSpec, index: AnncurIndex, queries_path: str,
                overwrite: bool) -> None:
    """results.parquet, recall.png and manifest.json, atomically."""
    qsrc = queries_path[4:] if queries_path.startswith("ids:") else queries_path
    with atomic_dir(out, overwrite) as tmp:
        result.table.to_parquet(tmp / RESULTS, index=False)
        plot(result.table, spec.ks, tmp / PLOT, f"{index.spec['scorer']} scorer, {len(index.items):,} items, "
             f"{result.summary['n_queries']} queries")
        write_dir_manifest(tmp, Manifest(
            type="anncur-bench", params=asdict(spec),
            inputs={"index": input_entry(index.path.resolve(), index.manifest),
                    "queries": input_entry(Path(qsrc).resolve(), digest=sha256_path(qsrc))},
            stats=result.summary))


__all__ = ["BenchSpec", "BenchResult", "run_bench", "write_bench", "check_out", "plot"]
