"""The sweep loop: validate the grid, compute the ground truth, build each index once, measure recall for each of
its search settings, time them round-robin (`harness.time_settings`), and keep `results.parquet` + `manifest.json`
in the output directory up to date after every built index (so an interrupted sweep keeps its finished indexes and
`--resume` skips them)."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..artifacts import MANIFEST, Manifest, atomic_file, read_manifest, write_json
from ..errors import UserError
from ..indexes.base import Index, get_backend, specs
from ..indexes.params import BUILD, SEARCH
from ..progress import console, steps
from .data import SweepData
from .grid import BuildSet, data_context
from .groundtruth import GroundTruth, cached_topk, recall_at
from .harness import (MIN_BATCH_QUERIES, MIN_BATCH_S, MIN_LATENCY_S, LoadWatch, threads, tiled_rows, time_settings,
                      usable_cpus)
from .pareto import pareto_mask, speed_of

RESULTS = "results.parquet"
PLOT = "recall_vs_qps.png"


@dataclass
class SweepSettings:
    """How to measure: k values, timing repetitions, threads, the Pareto speed axis, optional qrels measures
    (canonical names, as `metrics.parse_measures` gives them)."""

    ks: list[int] = field(default_factory=lambda: [10])
    passes: int = 3  # timing repetitions of every setting, interleaved
    warmup: int = 100
    threads: int = os.cpu_count() or 1
    latency_queries: int | None = None
    pareto_by: str = "qps"  # qps (single-thread, 1/mean latency), batch (batch QPS) or p50
    seed: int = 0
    qrels: pd.DataFrame | None = None
    measures: list[str] = field(default_factory=list)
    min_batch_s: float = MIN_BATCH_S
    min_latency_s: float = MIN_LATENCY_S

    @property
    def recall_col(self) -> str:
        return f"recall@{self.ks[0]}"


@dataclass
class SweepOutcome:
    table: pd.DataFrame
    builds: int
    reused: int
    ground_truth: str
    manifest: Manifest
    elapsed_s: float
    notes: list[str] = field(default_factory=list)  # settings that ran as another (clamped), measured once
    load: dict[str, Any] = field(default_factory=dict)  # LoadWatch.record() of the whole sweep


@dataclass
class Prebuilt:
    """A saved index swept as is (`--index DIR`): not rebuilt, its build time and size come from its manifest."""

    index: Index
    build_s: float
    index_bytes: int


# ---------------------------------------------------------------------------------------------------------------
# Validation before anything is written
# ---------------------------------------------------------------------------------------------------------------

def check_grid(sets: list[BuildSet], data: SweepData, ks: list[int], seed: int, prebuilt: Prebuilt | None) -> None:
    """Refuse a bad grid before any work, from the backends' tables alone (no build): an empty grid, k > corpus,
    a parameter a backend or index type does not take, a value out of range, nlist > n, a PQ m not dividing dim."""
    if not sets:
        raise UserError("the grid is empty: give --config or --backend with parameter values")
    for k in ks:
        if k < 1 or k > data.n:
            raise UserError(f"-k {k}: must be between 1 and the number of corpus vectors ({data.n:,})")
    ctx = data_context(data.n, data.dim, ks)
    for bs in sets:
        spec = bs.spec
        if spec.input != "vectors":
            raise UserError(f"{bs.name}: {bs.backend} indexes text; sweep measures recall against exact vector "
                            "neighbours, so it takes vector backends only (score text backends with query + eval)")
        if data.metric not in spec.metrics:
            raise UserError(f"{bs.name}: --metric {data.metric} is not supported by {bs.backend} ({', '.join(spec.metrics)})")
        if prebuilt is not None:
            built, taken = prebuilt.index.params, prebuilt.index.search_names()
        else:
            try:
                built = spec.resolve(bs.params, BUILD, {"n": data.n, "dim": data.dim})
            except UserError as exc:
                raise UserError(f"{bs.name}: {exc}") from None
            taken = spec.names(SEARCH, built.get("index_type"))
        for s in bs.search_sets(ctx, taken, built):
            try:
                spec.check(s, SEARCH, built.get("index_type"), allowed=taken)
            except UserError as exc:
                raise UserError(f"{bs.name}: {exc}") from None


def _label(bs: BuildSet, built: dict[str, Any]) -> str:
    kind = built.get("index_type")
    spec = bs.spec
    shown = " ".join(f"{k}={v}" for k, v in sorted(bs.params.items())
                     if k != "index_type" and (spec.param(k) is None or spec.param(k).column or isinstance(v, str)))
    return " ".join(x for x in (bs.backend, str(kind) if kind and len(spec.index_types) > 1 else "", shown) if x)


def prebuilt_params(loaded: Any) -> dict[str, Any]:
    """The build parameters recorded in a saved index's manifest (what `sweep --index` reports it was built with)."""
    spec = get_backend(loaded.manifest.params["backend"]).spec
    names = set(spec.names(BUILD))
    return {k: v for k, v in loaded.manifest.params.items() if k in names}


def row_title(row: Any) -> str:
    """'faiss IVF', 'hnswlib HNSW', 'faiss factory IVF16,SQ8': the backend and index type of a results row."""
    kind = row.get("index_type")
    title = f"{row['backend']} {kind}" if isinstance(kind, str) else str(row["backend"])
    spec = get_backend(row["backend"]).spec
    extra = [str(row[p.name]) for p in spec.all_params if p.single and isinstance(row.get(p.name), str)]
    return " ".join([title, *extra])


def param_columns(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(build, search) parameter columns of a results table worth showing: those some backend marks as columns
    (not bookkeeping such as train_size), present and set in some row."""
    build: list[str] = []
    search: list[str] = []
    for spec in specs().values():
        for p in spec.all_params:
            if p.name == "index_type" or not p.column or p.name not in table.columns or not table[p.name].notna().any():
                continue
            target = build if p.kind == BUILD else search
            if p.name not in target:
                target.append(p.name)
    return build, search


# ---------------------------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------------------------

TIMING_METHOD = 2  # results rows of method 1 (sequential passes, best-of batch QPS) cannot be resumed into method 2


def machine_info(threads: int) -> dict[str, Any]:
    from ..indexes.base import specs

    libs = {}
    backends = [name.strip() for spec in specs().values() for name in spec.package.split("(")[0].split(",")]
    for dist in ("numpy", "pandas", "threadpoolctl", *filter(None, backends)):
        try:
            libs[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {"cpu_count": os.cpu_count(), "cpus_usable": usable_cpus(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "system": platform.platform(),
            "python": platform.python_version(), "libraries": libs,
            "threads": {"latency": 1, "qps": threads}}


def _requested_count(bs: BuildSet, ctx: dict[str, Any], prebuilt: Prebuilt | None) -> int:
    """How many search settings `bs` asks for, from the grid alone (before building; exact unless a parameter's
    values depend on what only the built index knows, such as a faiss factory string's nlist)."""
    try:
        built = prebuilt.index.params if prebuilt else bs.spec.resolve(bs.params, BUILD, ctx)
        taken = prebuilt.index.search_names() if prebuilt else bs.spec.names(SEARCH, built.get("index_type"))
        return len(bs.search_sets(ctx, taken, built))
    except UserError:
        return 1


def _with_pareto(df: pd.DataFrame, cfg: SweepSettings) -> pd.DataFrame:
    if len(df):
        df["pareto"] = pareto_mask(df[cfg.recall_col].to_numpy(), speed_of(df, cfg.pareto_by))
    return df


def _write_results(out: Path, rows: list[dict[str, Any]], cfg: SweepSettings) -> pd.DataFrame:
    df = _with_pareto(pd.DataFrame(rows), cfg)
    with atomic_file(out / RESULTS) as tmp:
        df.to_parquet(tmp, index=False)
    return df


def load_previous(out: Path, params: dict[str, Any], inputs: dict[str, Any]) -> tuple[list[dict[str, Any]], set[str], int]:
    """(rows, finished build keys, builds made) of an earlier run of the same sweep in `out`, for --resume."""
    if not (out / MANIFEST).exists():
        return [], set(), 0
    m = read_manifest(out, expect="sweep")
    for key in ("ks", "metric", "seed", "passes", "threads", "timing_method"):
        if m.params.get(key) != params.get(key):
            raise UserError(f"--resume {out}: the earlier sweep used {key}={m.params.get(key)!r}, this one "
                            f"{params.get(key)!r}; use the same options or --overwrite")
    if json.dumps(m.inputs, sort_keys=True, default=str) != json.dumps(inputs, sort_keys=True, default=str):
        raise UserError(f"--resume {out}: the earlier sweep ran on other inputs; use the same inputs or --overwrite")
    rows = pd.read_parquet(out / RESULTS).drop(columns=["pareto"], errors="ignore").to_dict("records") if (out / RESULTS).exists() else []
    return rows, set(m.stats.get("finished_builds", [])), int(m.stats.get("builds_total", 0))


@dataclass
class _Planned:
    """One setting of a built index to measure: what was asked, what the library runs, its row key."""

    requested: list[dict[str, Any]]
    used: dict[str, Any]
    key: str


def _plan(index: Index, bs: BuildSet, bkey: str, ctx: dict[str, Any], kmax: int) -> tuple[list[_Planned], int]:
    """The distinct settings the library runs for `bs`'s search grid on `index` (settings that clamp to the same
    values merged, in grid order), and how many settings the grid asked for."""
    searches = bs.search_sets(ctx, index.search_names(), {**index.params, **bs.params})
    planned: dict[str, _Planned] = {}
    for s in searches:
        settings = index.configure(s, kmax)
        key = json.dumps({"build": json.loads(bkey), "search": settings.used}, sort_keys=True, default=str)
        if key in planned:
            planned[key].requested.append(settings.requested)
        else:
            planned[key] = _Planned([settings.requested], dict(settings.used), key)
    return list(planned.values()), len(searches)


def quality(index: Index, data: SweepData, gt: GroundTruth, cfg: SweepSettings) -> dict[str, Any]:
    """Recall@k for every k, short result lists and (with qrels) end-quality measures of the index's configured
    setting, from one batch search over all queries."""
    kmax = max(cfg.ks)
    with threads(index, cfg.threads):
        scores, positions = index.search(np.ascontiguousarray(data.queries, dtype=np.float32), kmax)
    row: dict[str, Any] = {}
    for k in cfg.ks:
        row[f"recall@{k}"] = float(recall_at(gt, positions, data.corpus, data.queries, data.metric, k).mean())
    row["short_queries"] = int(((positions >= 0).sum(axis=1) < kmax).sum())
    if cfg.qrels is not None and cfg.measures:
        from ..metrics import evaluate_runs
        from ..search import best_per_document, to_run

        run = to_run(data.qids, best_per_document(data.row_docids, scores, positions, positions.shape[1]))
        row.update(evaluate_runs(cfg.qrels, {"run": run}, cfg.measures).means["run"])
    return row


def _status(label: str, used: dict[str, Any]) -> str:
    return " ".join([label, *(f"{k}={v}" for k, v in used.items())])


def run_sweep(data: SweepData, sets: list[BuildSet], cfg: SweepSettings, out: Path | None = None,
              resume: bool = False, prebuilt: Prebuilt | None = None,
              ground_truth: Callable[[int], tuple[GroundTruth, str]] | None = None,
              on_progress: Callable[[int, int, int], None] | None = None) -> SweepOutcome:
    """Run every setting of `sets` on `data`. With `out` (a directory being written: `artifacts.staged_dir`'s
    staging directory), results.parquet and manifest.json are rewritten after each built index, so an interrupted
    sweep keeps the indexes it finished and `resume=True` continues from them.

    `ground_truth(k)` replaces the exact brute-force top-k (e.g. an ann-benchmarks file's own neighbours); it
    returns (GroundTruth, a status line). `on_progress(indexes finished, indexes in all, settings measured)` is
    told at the start and after each built index (what an interrupted sweep keeps). Raises UserError for a bad
    grid (before anything is built) or resumed results of other options.
    """
    t_start = time.perf_counter()
    check_grid(sets, data, cfg.ks, cfg.seed, prebuilt)
    sweep_load = LoadWatch().start()  # before the ground truth: what other processes do, not this one
    ctx = data_context(data.n, data.dim, cfg.ks)
    params = {"ks": cfg.ks, "metric": data.metric, "seed": cfg.seed, "passes": cfg.passes, "warmup": cfg.warmup,
              "threads": cfg.threads, "latency_queries": cfg.latency_queries, "pareto_by": cfg.pareto_by,
              "measures": cfg.measures, "timing_method": TIMING_METHOD, "min_batch_queries": MIN_BATCH_QUERIES,
              "min_batch_s": cfg.min_batch_s, "min_latency_s": cfg.min_latency_s,
              "grid": [{"name": b.name, "backend": b.backend, "build": b.params, "search": b.search} for b in sets]}
    rows, finished, builds_before = (load_previous(out, params, data.inputs) if out is not None and resume
                                     else ([], set(), 0))
    done = {r["setting"] for r in rows}
    kmax = max(cfg.ks)
    gt, gt_status = (ground_truth(kmax) if ground_truth is not None
                     else cached_topk(data.corpus, data.queries, data.metric, kmax, data.gt_cache))
    builds = reused = 0
    notes: list[str] = []
    warned = sweep_load.busy
    if warned:  # said once the inputs are known to be good, so a bad input is still one line
        console.print(f"[yellow]warning[/]: {_busy_text(sweep_load)} before timing; other processes are using the "
                      "cores, so latency and QPS will be noisy (see the min–max spread) — time on an idle machine "
                      "for figures to publish", highlight=False)

    def save_manifest(complete: bool) -> Manifest:
        load = LoadWatch(sweep_load.cores, sweep_load.before, float("nan"), float("nan"))
        if complete:
            load = sweep_load
        m = Manifest(type="sweep", params=params, inputs=data.inputs, stats={
            "builds": builds, "builds_total": builds_before + builds, "settings": len(rows), "complete": complete,
            "finished_builds": sorted(finished), "ground_truth": gt_status, "machine": machine_info(cfg.threads),
            "load": load.record(), "timing": TIMING_TEXT,
            "elapsed_s": round(time.perf_counter() - t_start, 2), "data": data.describe})
        if out is not None:
            with atomic_file(out / MANIFEST) as tmp:
                write_json(tmp, m.to_dict())
        return m

    asked = [_requested_count(bs, ctx, prebuilt) for bs in sets]
    total = sum(asked)
    if on_progress:
        on_progress(len(finished & {bs.key() for bs in sets}), len(sets), len(rows))
    with steps("sweep", total, "settings") as bar:
        completed = 0.0
        for i, bs in enumerate(sets):
            bkey = bs.key()
            if bkey in finished:
                reused += 1
                completed += asked[i]
                bar.update(completed=completed)
                continue
            cls = get_backend(bs.backend)
            bar.update(status=f"building {bs.name} {bs.params}")
            if prebuilt is not None:
                index, build_s, nbytes = prebuilt.index, prebuilt.build_s, prebuilt.index_bytes
            else:
                t0 = time.perf_counter()
                index = cls.build(data.corpus, data.metric, dict(bs.params), cfg.seed)
                build_s = time.perf_counter() - t0
                nbytes = index.nbytes()
                builds += 1
            bnames = set(cls.spec.names(BUILD))
            built = {k: v for k, v in index.params.items() if k in bnames}
            label = _label(bs, index.params)
            planned, n_asked = _plan(index, bs, bkey, ctx, kmax)
            if n_asked != asked[i]:  # the grid depended on the built index (see _requested_count)
                total += n_asked - asked[i]
                bar.update(total=total)
            todo = [p for p in planned if p.key not in done]
            completed += n_asked - sum(len(p.requested) for p in todo)  # merged by a clamp or finished earlier
            bar.update(completed=completed, status=f"{label}: recall")
            measured = []
            for p in todo:
                index.configure(p.used, kmax)
                measured.append(quality(index, data, gt, cfg))
            weights = [len(p.requested) / cfg.passes for p in todo]

            def step(j: int, rep: int, weights: list[float] = weights, todo: list[_Planned] = todo,
                     label: str = label) -> None:
                nonlocal completed
                completed += weights[j]
                bar.update(completed=completed,
                           status=f"{_status(label, todo[j].used)} · repetition {rep + 1}/{cfg.passes}")

            load = LoadWatch().start()
            timings = time_settings(index, [p.used for p in todo], data.queries, kmax, cfg.passes, cfg.warmup,
                                    cfg.threads, cfg.latency_queries, cfg.min_batch_s, step, cfg.min_latency_s)
            load.stop()
            for p, q, t in zip(todo, measured, timings):
                row: dict[str, Any] = {"name": bs.name, "label": label, "backend": bs.backend,
                                       "index_type": index.params.get("index_type")}
                row.update(built)
                row.update(p.used)
                row.update(q)
                row.update(t.summary())
                row.update(batch_queries=tiled_rows(len(data.queries)), load1_before=load.before,
                           load1_after=load.after, build_s=round(build_s, 4), index_bytes=int(nbytes), build_key=bkey, setting=p.key,
                           build_json=json.dumps(bs.params, sort_keys=True, default=str),
                           search_json=json.dumps(p.used, sort_keys=True, default=str),
                           requested_json=json.dumps(p.requested, sort_keys=True, default=str))
                rows.append(row)
                done.add(p.key)
                if len(p.requested) > 1 or any(row.get(n) != v for n, v in p.requested[0].items()):
                    notes.append(_collapse_note(label, p.requested, row, kmax))
            finished.add(bkey)
            if out is not None:
                _write_results(out, rows, cfg)
                save_manifest(False)
            if on_progress:
                on_progress(len(finished & {b.key() for b in sets}), len(sets), len(rows))
            del index
        bar.update(completed=total)
    sweep_load.stop()
    if sweep_load.busy and not warned:
        console.print(f"[yellow]warning[/]: {_busy_text(sweep_load)} during timing; other processes were using the "
                      "cores, so latency and QPS are noisy (see the min–max spread)", highlight=False)
    table = _write_results(out, rows, cfg) if out is not None else _with_pareto(pd.DataFrame(rows), cfg)
    manifest = save_manifest(True)
    return SweepOutcome(table, builds, reused, gt_status, manifest, time.perf_counter() - t_start, notes,
                        sweep_load.record())


def _busy_text(load: LoadWatch) -> str:
    return f"the load from other processes is ≈{load.others:.1f} on {load.cores} usable cores"


TIMING_TEXT = ("settings of one index timed round-robin in `passes` repetitions; per repetition: latency pass (one "
               "query per call, 1 thread, the queries repeated whole until >= min_latency_s), batch pass (queries "
               "tiled to >= min_batch_queries, `threads` threads, >= min_batch_s); qps = 1/mean latency; medians "
               "with min-max over repetitions")


def _collapse_note(label: str, requested: list[dict[str, Any]], row: dict[str, Any], k: int) -> str:
    """'hnswlib: ef_search=16, ef_search=32 all run as ef_search=100 at k=100 (…); measured once, one row'."""
    changed = sorted({name for r in requested for name, v in r.items() if row.get(name) != v})
    asked = ", ".join(" ".join(f"{n}={r[n]}" for n in changed if n in r) for r in requested)
    used = " ".join(f"{n}={row.get(n)}" for n in changed)
    if len(requested) == 1:
        return f"{label}: {asked} runs as {used} at k={k} (the library clamps it); the row shows {used}"
    return f"{label}: {asked} all run as {used} at k={k} (the library clamps them); measured once, one row"
