"""Fusion of N runs: normalise each run's scores per query, then combine (ranx `meta/fuse.py` style).

Rules, applied in this order:
1. Each run is re-ranked by score (desc, ties by docid descending, as trec_eval reads runs) and cut to its `depth`.
2. Scores are normalised per query and run (`NORMS`): minmax (s−min)/(max−min) (all equal → 1), zscore (s−mean)/std
   (population std; all equal → 0), max s/max (needs a positive max), none (raw scores).
3. A document missing from a run (not in its top `depth`) gets, for score-based methods, `missing`:
   `min` (default) = that run's lowest normalised score for the query — it ranks no better than the run's last
   document — or `zero` = contributes 0 (the CombSUM convention of Fox & Shaw, 1994; for zscore/none scores 0 may be
   *above* retrieved documents, so `min` is the safer rule). In RRF a missing document contributes nothing.
   A query absent from a run is fused from the runs that have it (the CLI warns).
4. Methods (`METHODS`), with per-run weights w (default 1):
   rrf      Σ w_i / (k + rank_i)                                         Cormack, Clarke & Büttcher, SIGIR 2009
   combsum  Σ w_i · ŝ_i                                                  Fox & Shaw, TREC-2 1994
   combmnz  (Σ w_i · ŝ_i) · |{i : the document is in run i}|             Fox & Shaw, TREC-2 1994
   weighted Σ w_i · ŝ_i with explicit weights (α, 1−α for two runs)      a convex combination (Bruch et al., 2023)
5. The fused run is ranked by score (desc, ties by docid descending, as trec_eval) and cut to k.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .errors import UserError
from .io.runs import COLUMNS, rank_run


def query_groups(qids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group index per row, number of groups) for rows sorted or not."""
    codes, uniques = pd.factorize(qids)
    return codes, len(uniques)


def _group_reduce(values: np.ndarray, codes: np.ndarray, n: int, how: str) -> np.ndarray:
    out = pd.Series(values).groupby(codes).agg(how).reindex(range(n)).to_numpy(dtype=float)
    return out[codes]


def norm_minmax(scores: np.ndarray, codes: np.ndarray, n: int, where: str) -> np.ndarray:
    lo, hi = _group_reduce(scores, codes, n, "min"), _group_reduce(scores, codes, n, "max")
    span = hi - lo
    return np.where(span > 0, (scores - lo) / np.where(span > 0, span, 1.0), 1.0)


def norm_zscore(scores: np.ndarray, codes: np.ndarray, n: int, where: str) -> np.ndarray:
    mean = _group_reduce(scores, codes, n, "mean")
    sq = _group_reduce((scores - mean) ** 2, codes, n, "mean")
    std = np.sqrt(sq)
    return np.where(std > 0, (scores - mean) / np.where(std > 0, std, 1.0), 0.0)


def norm_max(scores: np.ndarray, codes: np.ndarray, n: int, where: str) -> np.ndarray:
    hi = _group_reduce(scores, codes, n, "max")
    if (hi <= 0).any():
        raise UserError(f"--norm max: {where} has a query whose best score is ≤ 0 ({hi.min():g}); "
                        "max normalisation needs positive scores; use --norm minmax or zscore")
    return scores / hi


def norm_none(scores: np.ndarray, codes: np.ndarray, n: int, where: str) -> np.ndarray:
    return scores.astype(float)


NORMS: dict[str, Callable[[np.ndarray, np.ndarray, int, str], np.ndarray]] = {
    "minmax": norm_minmax, "zscore": norm_zscore, "max": norm_max, "none": norm_none,
}
MISSING = ("min", "zero")


@dataclass
class FusionTable:
    """The union of (qid, docid) pairs over the input runs, with each run's normalised score and rank."""

    keys: pd.DataFrame  # qid, docid
    norm: np.ndarray  # (pairs, runs) normalised scores, missing already filled by the missing-document rule
    rank: np.ndarray  # (pairs, runs) 1-based rank after the depth cut, NaN where missing
    present: np.ndarray  # (pairs, runs) bool

    @property
    def n_runs(self) -> int:
        return self.norm.shape[1]


@dataclass(frozen=True)
class Method:
    """One fusion rule: `combine(table, weights, rrf_k)` → a fused score per pair."""

    combine: Callable[[FusionTable, np.ndarray, float], np.ndarray]
    uses_scores: bool
    needs_weights: bool = False


def rrf(t: FusionTable, w: np.ndarray, k: float) -> np.ndarray:
    contrib = np.where(t.present, w / (k + np.nan_to_num(t.rank, nan=0.0)), 0.0)
    return contrib.sum(axis=1)


def combsum(t: FusionTable, w: np.ndarray, k: float) -> np.ndarray:
    return (t.norm * w).sum(axis=1)


def combmnz(t: FusionTable, w: np.ndarray, k: float) -> np.ndarray:
    return combsum(t, w, k) * t.present.sum(axis=1)


METHODS: dict[str, Method] = {
    "rrf": Method(rrf, uses_scores=False),
    "combsum": Method(combsum, uses_scores=True),
    "combmnz": Method(combmnz, uses_scores=True),
    "weighted": Method(combsum, uses_scores=True, needs_weights=True),
}


@dataclass
class FuseSettings:
    method: str = "rrf"
    norm: str = "minmax"
    rrf_k: float = 60.0
    weights: list[float] | None = None
    depth: list[int] | None = None  # per input run (one value = all runs); None = the whole run
    missing: str = "min"
    k: int = 1000

    def check(self, n_runs: int) -> None:
        if self.method not in METHODS:
            raise UserError(f"--method {self.method}: unknown fusion method; choose one of {', '.join(METHODS)}")
        if self.norm not in NORMS:
            raise UserError(f"--norm {self.norm}: unknown normalisation; choose one of {', '.join(NORMS)}")
        if self.missing not in MISSING:
            raise UserError(f"--missing {self.missing}: choose one of {', '.join(MISSING)}")
        if n_runs < 2:
            raise UserError(f"fuse needs at least two runs, got {n_runs}")
        if self.weights is not None:
            if len(self.weights) != n_runs:
                raise UserError(f"--weights: {len(self.weights)} weights for {n_runs} runs; give one weight per run, in order")
            if any(w < 0 or not np.isfinite(w) for w in self.weights):
                raise UserError("--weights: weights must be finite and ≥ 0")
            if not any(self.weights):
                raise UserError("--weights: at least one weight must be > 0")
        elif METHODS[self.method].needs_weights:
            raise UserError("--method weighted: pass --weights (one per run, e.g. 0.3,0.7) or --alpha for two runs")
        if self.depth is not None:
            if len(self.depth) not in (1, n_runs):
                raise UserError(f"--depth: {len(self.depth)} values for {n_runs} runs; give one, or one per run")
            if any(d < 1 for d in self.depth):
                raise UserError("--depth: must be ≥ 1")
        if not np.isfinite(self.rrf_k) or self.rrf_k < 0:
            raise UserError(f"--rrf-k {self.rrf_k}: must be a finite number ≥ 0")
        if self.k < 1:
            raise UserError(f"-k {self.k}: must be ≥ 1")

    def depths(self, n_runs: int) -> list[int | None]:
        if self.depth is None:
            return [None] * n_runs
        return list(self.depth) * n_runs if len(self.depth) == 1 else list(self.depth)

    def weight_vector(self, n_runs: int) -> np.ndarray:
        return np.asarray(self.weights if self.weights is not None else [1.0] * n_runs, dtype=float)


def query_sets(runs: Sequence[pd.DataFrame]) -> tuple[set[str], set[str]]:
    """(union, intersection) of the runs' query ids."""
    sets = [set(r["qid"]) for r in runs]
    return set.union(*sets), set.intersection(*sets)


def fusion_table(runs: Sequence[pd.DataFrame], settings: FuseSettings, names: Sequence[str] | None = None) -> FusionTable:
    """Re-rank, cut, normalise and align the runs on the union of their (qid, docid) pairs."""
    names = list(names or [f"run {i + 1}" for i in range(len(runs))])
    parts = []
    for i, (run, depth) in enumerate(zip(runs, settings.depths(len(runs)))):
        r = rank_run(run[COLUMNS].copy())
        if depth is not None:
            r = r[r["rank"] <= depth]
        codes, n = query_groups(r["qid"].to_numpy())
        scores = r["score"].to_numpy(dtype=float)
        norm = NORMS[settings.norm](scores, codes, n, names[i]) if METHODS[settings.method].uses_scores else scores
        parts.append(pd.DataFrame({"qid": r["qid"].to_numpy(), "docid": r["docid"].to_numpy(), "run": i,
                                   "norm": norm, "rank": r["rank"].to_numpy(dtype=float)}))
    long = pd.concat(parts, ignore_index=True)
    wide = long.pivot(index=["qid", "docid"], columns="run", values=["norm", "rank"]).sort_index()
    runs_idx = list(range(len(runs)))
    norm = wide["norm"].reindex(columns=runs_idx).to_numpy(dtype=float)
    rank = wide["rank"].reindex(columns=runs_idx).to_numpy(dtype=float)
    present = ~np.isnan(rank)
    keys = wide.index.to_frame(index=False)
    if settings.missing == "min":
        mins = long.groupby(["qid", "run"])["norm"].min().unstack("run").reindex(columns=runs_idx)
        fill = mins.reindex(keys["qid"]).to_numpy(dtype=float)
        norm = np.where(present, norm, fill)
    norm = np.nan_to_num(norm, nan=0.0)  # `zero`, and queries a run does not have at all
    return FusionTable(keys, norm, rank, present)


def fused_run(table: FusionTable, settings: FuseSettings) -> pd.DataFrame:
    """Combine a fusion table into a ranked run (top k per query)."""
    scores = METHODS[settings.method].combine(table, settings.weight_vector(table.n_runs), float(settings.rrf_k))
    df = table.keys.assign(score=scores)
    df = rank_run(df)
    return df[df["rank"] <= settings.k][COLUMNS].reset_index(drop=True)


def fuse(runs: Sequence[pd.DataFrame], settings: FuseSettings, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Fuse `runs` with `settings` (checked) into one ranked run."""
    settings.check(len(runs))
    return fused_run(fusion_table(runs, settings, names), settings)


# ----------------------------------------------------------------------------------------------------------------
# Grid search of weights (and RRF k) on dev qrels
# ----------------------------------------------------------------------------------------------------------------


def simplex_grid(n_runs: int, steps: int) -> list[tuple[int, ...]]:
    """Every integer vector of `n_runs` non-negative parts summing to `steps` (weights = parts / steps)."""
    if steps < 1:
        raise UserError(f"--grid-steps {steps}: must be ≥ 1")
    out = []
    for cuts in itertools.combinations(range(steps + n_runs - 1), n_runs - 1):
        parts, prev = [], -1
        for c in cuts:
            parts.append(c - prev - 1)
            prev = c
        parts.append(steps + n_runs - 1 - prev - 1)
        out.append(tuple(parts))
    return [p for p in out if any(p)]


@dataclass
class GridResult:
    rows: pd.DataFrame  # one row per setting: weights, rrf_k, the measure; best first
    best: FuseSettings
    run: pd.DataFrame
    measure: str
    extra: dict = field(default_factory=dict)


def check_grid(measure: str, steps: int, rrf_ks: Sequence[float] = ()) -> list:
    """The one measure `--optimize` maximises (parsed), after checking the grid: steps ≥ 1, every RRF k finite and
    ≥ 0. Raises UserError naming the option; callers run it before reading any file."""
    from .metrics import parse_measures

    measures = parse_measures([measure])
    if len(measures) != 1:
        raise UserError(f"-m {measure}: --optimize takes exactly one measure")
    if steps < 1:
        raise UserError(f"--grid-steps {steps}: must be ≥ 1")
    for kv in rrf_ks:
        if not np.isfinite(kv) or kv < 0:
            raise UserError(f"--rrf-k-grid: {kv:g} must be a finite number ≥ 0")
    return measures


def optimize(runs: Sequence[pd.DataFrame], settings: FuseSettings, qrels: pd.DataFrame, measure: str,
             steps: int = 10, rrf_ks: Sequence[float] = (), names: Sequence[str] | None = None,
             advance: Callable[[int], None] | None = None) -> GridResult:
    """Try every weight vector of the integer simplex grid (× every RRF k for rrf) and keep the best by `measure`
    (mean over the qrels' judged queries); ties go to the earlier grid point (lower index)."""
    from .metrics import aggregate, per_query

    settings.check(len(runs))
    measures = check_grid(measure, steps, rrf_ks)
    table = fusion_table(runs, settings, names)
    ks = list(rrf_ks) if (settings.method == "rrf" and rrf_ks) else [settings.rrf_k]
    grid = simplex_grid(len(runs), steps)
    rows = []
    for ki, kv in enumerate(ks):
        for gi, parts in enumerate(grid):
            s = FuseSettings(**{**settings.__dict__, "weights": [p / steps for p in parts], "rrf_k": kv})
            value = aggregate(per_query(qrels, fused_run(table, s), measures), measures)[measures[0].name]
            rows.append({"grid": list(parts), "weights": s.weights, "rrf_k": kv, measures[0].name: value, "_i": ki * len(grid) + gi})
            if advance:
                advance(1)
    df = pd.DataFrame(rows).sort_values([measures[0].name, "_i"], ascending=[False, True], kind="mergesort")
    top = df.iloc[0]
    best = FuseSettings(**{**settings.__dict__, "weights": list(top["weights"]), "rrf_k": float(top["rrf_k"])})
    return GridResult(df.drop(columns="_i").reset_index(drop=True), best, fused_run(table, best), measures[0].name)


def grid_size(n_runs: int, steps: int, n_k: int) -> int:
    return len(simplex_grid(n_runs, steps)) * max(1, n_k)
