"""The daily cycle: train on days 1..t, evaluate on day t+1, move the window by one day.

Two ways to keep the model current are compared on the same windows:
* full retrain: a fresh model trained for the job's epochs on everything before day t+1;
* incremental: yesterday's model (the first day: a full retrain) warm-started and trained for `incremental_epochs`
  on day t's interactions only (histories still reach back to the start); new users and items get fresh rows.

Each day's requests are the users active on day t+1; their held-out items are that day's positives; candidates
are all items minus the user's earlier positives. Scores come from exact search over the item vectors and
`vecrecall.metrics` (pytrec_eval), as `eval` computes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import UserError
from ..metrics import evaluate_runs
from .log import EntityTable, Log
from .pipeline import Job, Prepared, Trained, embed, fit, prepare, request_histories
from .split import SplitSpec, dated, split_log
from .topk import top_k

MEASURES = ["Success@10", "Success@50", "R@50", "nDCG@10"]


@dataclass(frozen=True)
class CycleSpec:
    period_s: int = 86_400
    days: int = 7
    incremental_epochs: int = 1
    k: int = 100

    def check(self) -> None:
        if self.period_s < 1 or self.days < 1 or self.incremental_epochs < 1 or self.k < 1:
            raise UserError("--period, --days, --incremental-epochs and -k must be positive")


def evaluate(prep: Prepared, vectors_items: np.ndarray, vectors_requests: np.ndarray, k: int,
             measures: list[str] = MEASURES) -> dict[str, float]:
    """Exact top-k of the requests (training items removed) scored against the held-out positives."""
    qids = prep.split.requests["qid"].tolist()
    run = top_k(lambda rows: vectors_requests[rows] @ vectors_items.T, qids, request_histories(prep), prep.catalogue, k)
    qrels = prep.split.heldout.rename(columns={"item": "docid"}).assign(rel=1)
    return evaluate_runs(qrels, {"run": run}, measures).means["run"]


def daily_cycle(job: Job, log: Log, items: EntityTable | None, users: EntityTable | None, spec: CycleSpec,
                report: Callable[[dict[str, Any]], None] | None = None) -> pd.DataFrame:
    """One row per (day, mode) with the day's request counts, cold starts, measures and training seconds."""
    spec.check()
    end = int(log.frame["ts"].max()) + 1
    bounds = [end - (spec.days - i) * spec.period_s * 10**9 for i in range(spec.days + 1)]
    if bounds[0] <= int(log.frame["ts"].min()):
        raise UserError(f"--days {spec.days} × --period: the first evaluation day starts before the log does; use fewer days")
    rows: list[dict[str, Any]] = []
    incremental: Trained | None = None
    for day in range(spec.days):
        cut, until = bounds[day], bounds[day + 1]
        split_spec = SplitSpec("cutoff", cut, until, job.split.min_interactions)
        try:
            split = split_log(log, split_spec)
        except UserError as exc:
            raise UserError(f"day {day + 1} ({dated(cut)} to {dated(until)}): {exc}") from None
        prep = prepare(job, log, items, users, split)
        base = {"day": day + 1, "from": dated(cut)[:10], "requests": split.stats["requests"],
                "heldout": split.stats["heldout_interactions"], "cold_users": split.stats["cold_start_users"],
                "cold_items": split.stats["cold_start_items"]}
        t0 = time.perf_counter()
        full = fit(job, prep, description=f"day {day + 1} full retrain")
        full_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if incremental is None:
            incremental, inc_s = full, full_s
        else:
            incremental = fit(job, prep, init=incremental, since_ns=bounds[day - 1], epochs=spec.incremental_epochs,
                              description=f"day {day + 1} incremental")
            inc_s = time.perf_counter() - t0
        for mode, trained, seconds in (("full", full, full_s), ("incremental", incremental, inc_s)):
            vecs = embed(trained, prep, job)
            row = {**base, "mode": mode, **evaluate(prep, vecs.items, vecs.requests, spec.k), "train_s": round(seconds, 2)}
            rows.append(row)
            if report:
                report(row)
    return pd.DataFrame(rows)
