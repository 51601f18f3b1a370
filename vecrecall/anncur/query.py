"""`anncur query`: one method under one budget for every query → a ranked run of exact scorer scores."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import Manifest, input_entry, sha256_path
from ..progress import progress
from .artifact import AnncurIndex
from .methods import Method, Plan, SearchContext
from .scorers import QuerySet, ScoreBook


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """Per-query linear algebra is small (pinv of k_q × k_i): threaded BLAS only adds contention there, up to
    ~50× slower on a busy machine, so it runs on one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only a speed-up
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


@dataclass
class MethodRun:
    """Per query: the top items (positions) with exact scores, and the scorer calls spent."""

    items: list[np.ndarray]
    scores: list[np.ndarray]
    calls: np.ndarray
    seconds: float


def run_method(method: Method, ctx: SearchContext, book: ScoreBook, queries: QuerySet, qvecs: np.ndarray | None,
               plan: Plan, k: int, desc: str | None = None) -> MethodRun:
    """Run `method` for every query with a fresh budget-enforcing counter each; keep the top `k` exact scores."""
    items, scores, calls = [], [], np.zeros(len(queries), dtype=np.int64)
    t0 = time.perf_counter()
    with single_threaded_blas(), progress(desc or method.name, len(queries), "queries") as advance:
        for j, (qid, text) in enumerate(zip(queries.ids, queries.texts)):
            counter = book.counter(qid, text, limit=plan.budget)
            method.run(ctx, counter, None if qvecs is None else qvecs[j], plan)
            top_items, top_scores = counter.top(k)
            items.append(top_items)
            scores.append(top_scores)
            calls[j] = counter.calls
            advance(1)
    return MethodRun(items, scores, calls, time.perf_counter() - t0)


def to_run(result: MethodRun, queries: QuerySet, item_ids: list[str]) -> pd.DataFrame:
    """A vecrecall run (qid, docid, rank, score) from a MethodRun."""
    rows = [(qid, item_ids[i], r + 1, float(s))
            for qid, its, scs in zip(queries.ids, result.items, result.scores)
            for r, (i, s) in enumerate(zip(its, scs))]
    return pd.DataFrame(rows, columns=["qid", "docid", "rank", "score"])


def query_index(index: AnncurIndex, queries: QuerySet, queries_path: str | Path, method: Method, plan: Plan,
                use_cache: bool = True) -> tuple[pd.DataFrame, Manifest, MethodRun]:
    scorer = index.scorer()
    qvecs = index.query_vectors(queries, use_cache) if method.needs_biencoder else None
    book = ScoreBook(scorer, use_cache)
    try:
        result = run_method(method, index.context(), book, queries, qvecs, plan, plan.k, f"anncur query ({method.name})")
    finally:
        book.close()
    src = str(queries_path)
    qsrc = src[4:] if src.startswith("ids:") else src
    manifest = Manifest(
        type="run",
        params={"stage": "anncur-query", "method": method.name, **asdict(plan)},
        inputs={"index": input_entry(index.path.resolve(), index.manifest),
                "queries": input_entry(Path(qsrc).resolve(), digest=sha256_path(qsrc))},
        stats={"n_queries": len(queries), "scorer_calls_per_query_mean": float(result.calls.mean()),
               "scorer_calls_per_query_max": int(result.calls.max()), "scorer_calls_computed": int(book.computed),
               "search_s": round(result.seconds, 3)},
    )
    return to_run(result, queries, index.items.ids), manifest, result
