"""The sweep loop: validate the grid, compute the ground truth, build each index once, run its search grid, and
keep `results.parquet` + `manifest.json` in the output directory up to date after every setting (so an
interrupted sweep keeps its finished rows and `--resume` skips them)."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..artifacts import MANIFEST, Manifest, atomic_file, read_manifest, write_json
from ..errors import UserError
from ..indexes.base import Index, get_backend, specs
from ..indexes.params import BUILD, SEARCH
from ..progress import console
from .data import SweepData
from .grid import BuildSet, data_context
from .groundtruth import GroundTruth, cached_topk, recall_at
from .harness import batch_search, single_query_latency
from .pareto import pareto_mask, speed_of

RESULTS = "results.parquet"
PLOT = "recall_vs_qps.png"
PROBE_ROWS = 512


@dataclass
class SweepSettings:
    """How to measure: k values, timing passes, threads, the Pareto speed axis, optional qrels measures."""

    ks: list[int] = field(default_factory=lambda: [10])
    passes: int = 3
    warmup: int = 100
    threads: int = os.cpu_count() or 1
    latency_queries: int | None = None
    pareto_by: str = "qps"  # or "p50"
    seed: int = 0
    qrels: pd.DataFrame | None = None
    measures: list[str] = field(default_factory=list)

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


# ---------------------------------------------------------------------------------------------------------------
# Measuring one setting
# ---------------------------------------------------------------------------------------------------------------

def measure(index: Index, data: SweepData, gt: GroundTruth, cfg: SweepSettings) -> dict[str, Any]:
    """Recall, latency percentiles, batch QPS and (with qrels) end quality of the index's configured setting."""
    kmax = max(cfg.ks)
    lat_q = data.queries if not cfg.latency_queries else data.queries[: cfg.latency_queries]
    lat = single_query_latency(index, lat_q, kmax, None, cfg.passes, cfg.warmup)
    qps, scores, positions = batch_search(index, data.queries, kmax, None, cfg.threads, cfg.passes)
    row: dict[str, Any] = {}
    for k in cfg.ks:
        row[f"recall@{k}"] = float(recall_at(gt, positions, data.corpus, data.queries, data.metric, k).mean())
    row.update(p50_ms=lat.percentile(50), p95_ms=lat.percentile(95), p99_ms=lat.percentile(99), qps=qps,
               short_queries=int(((positions >= 0).sum(axis=1) < kmax).sum()))
    if cfg.qrels is not None and cfg.measures:
        from ..metrics import evaluate_runs

        from ..search import best_per_document, to_run

        run = to_run(data.qids, best_per_document(data.row_docids, scores, positions, positions.shape[1]))
        row.update(evaluate_runs(cfg.qrels, {"run": run}, cfg.measures).means["run"])
    return row


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

def machine_info(threads: int) -> dict[str, Any]:
    libs = {}
    for dist in ("numpy", "faiss-cpu", "hnswlib", "annoy", "pandas", "threadpoolctl", "pymilvus", "bm25s"):
        try:
            libs[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu_count": os.cpu_count(), "cpus_usable": usable, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "system": platform.platform(),
            "python": platform.python_version(), "libraries": libs,
            "threads": {"latency": 1, "qps": threads}}


class _Bar:
    """A progress bar over settings whose total grows once each index's search grid is known."""

    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.quiet = bool(os.environ.get("VECRECALL_QUIET"))
        self.bar = None if self.quiet else Progress(
            TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console)
        self.task = self.bar.add_task("", total=total) if self.bar else None

    def __enter__(self) -> "_Bar":
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar:
            self.bar.stop()

    def update(self, **kw: Any) -> None:
        if self.bar:
            self.bar.update(self.task, **kw)


def _estimate(bs: BuildSet, ctx: dict[str, Any], prebuilt: Prebuilt | None) -> int:
    try:
        built = prebuilt.index.params if prebuilt else bs.spec.resolve(bs.params, BUILD, ctx)
        taken = prebuilt.index.search_names() if prebuilt else bs.spec.names(SEARCH, built.get("index_type"))
        return len(bs.search_sets(ctx, taken, built))
    except UserError:
        return 1


def _write_results(out: Path, rows: list[dict[str, Any]], cfg: SweepSettings) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if len(df):
        df["pareto"] = pareto_mask(df[cfg.recall_col].to_numpy(), speed_of(df["qps"], df["p50_ms"], cfg.pareto_by))
    with atomic_file(out / RESULTS) as tmp:
        df.to_parquet(tmp, index=False)
    return df


def load_previous(out: Path, params: dict[str, Any], inputs: dict[str, Any]) -> tuple[list[dict[str, Any]], set[str], int]:
    """(rows, finished build keys, builds made) of an earlier run of the same sweep in `out`, for --resume."""
    if not (out / MANIFEST).exists():
        return [], set(), 0
    m = read_manifest(out, expect="sweep")
    for key in ("ks", "metric", "seed", "passes", "threads"):
        if m.params.get(key) != params.get(key):
            raise UserError(f"--resume {out}: the earlier sweep used {key}={m.params.get(key)!r}, this one "
                            f"{params.get(key)!r}; use the same options or --overwrite")
    if json.dumps(m.inputs, sort_keys=True, default=str) != json.dumps(inputs, sort_keys=True, default=str):
        raise UserError(f"--resume {out}: the earlier sweep ran on other inputs; use the same inputs or --overwrite")
    rows = pd.read_parquet(out / RESULTS).drop(columns=["pareto"], errors="ignore").to_dict("records") if (out / RESULTS).exists() else []
    return rows, set(m.stats.get("finished_builds", [])), int(m.stats.get("builds_total", 0))


def run_sweep(data: SweepData, sets: list[BuildSet], cfg: SweepSettings, out: Path | None = None,
              resume: bool = False, prebuilt: Prebuilt | None = None,
              on_ground_truth: Callable[[str], None] | None = None) -> SweepOutcome:
    """Run every setting of `sets` on `data`; with `out`, results and manifest are rewritten after each setting."""
    t_start = time.perf_counter()
    check_grid(sets, data, cfg.ks, cfg.seed, prebuilt)
    ctx = data_context(data.n, data.dim, cfg.ks)
    params = {"ks": cfg.ks, "metric": data.metric, "seed": cfg.seed, "passes": cfg.passes, "warmup": cfg.warmup,
              "threads": cfg.threads, "latency_queries": cfg.latency_queries, "pareto_by": cfg.pareto_by,
              "measures": cfg.measures,
              "grid": [{"name": b.name, "backend": b.backend, "build": b.params, "search": b.search} for b in sets]}
    rows, finished, builds_before = (load_previous(out, params, data.inputs) if out is not None and resume
                                     else ([], set(), 0))
    done = {r["setting"] for r in rows}
    gt, gt_status = cached_topk(data.corpus, data.queries, data.metric, max(cfg.ks), data.gt_cache)
    if on_ground_truth:
        on_ground_truth(gt_status)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    builds = reused = 0

    def save_manifest(complete: bool) -> Manifest:
        m = Manifest(type="sweep", params=params, inputs=data.inputs, stats={
            "builds": builds, "builds_total": builds_before + builds, "settings": len(rows), "complete": complete,
            "finished_builds": sorted(finished), "ground_truth": gt_status, "machine": machine_info(cfg.threads),
            "elapsed_s": round(time.perf_counter() - t_start, 2), "data": data.describe})
        if out is not None:
            with atomic_file(out / MANIFEST) as tmp:
                write_json(tmp, m.to_dict())
        return m

    estimates = [_estimate(bs, ctx, prebuilt) for bs in sets]
    notes: list[str] = []
    kmax = max(cfg.ks)
    with _Bar(sum(estimates)) as bar:
        total = sum(estimates)
        completed = 0
        for i, bs in enumerate(sets):
            bkey = bs.key()
            if bkey in finished:
                reused += 1
                n_done = sum(1 for r in rows if r["build_key"] == bkey)
                total += n_done - estimates[i]
                completed += n_done
                bar.update(total=total, completed=completed)
                continue
            cls = get_backend(bs.backend)
            bar.update(description=f"building {bs.name} {bs.params}")
            if prebuilt is not None:
                index, build_s, nbytes = prebuilt.index, prebuilt.build_s, prebuilt.index_bytes
            else:
                t0 = time.perf_counter()
                index = cls.build(data.corpus, data.metric, dict(bs.params), cfg.seed)
                build_s = time.perf_counter() - t0
                nbytes = index.nbytes()
                builds += 1
            searches = bs.search_sets(ctx, index.search_names(), {**index.params, **bs.params})
            total += len(searches) - estimates[i]
            bar.update(total=total)
            bnames = set(cls.spec.names(BUILD))
            built = {k: v for k, v in index.params.items() if k in bnames}
            label = _label(bs, index.params)
            ran: dict[str, dict[str, Any]] = {}  # used setting → its row (requested settings that ran the same)
            for s in searches:
                settings = index.configure(s, kmax)
                used = settings.used
                skey = json.dumps({"build": json.loads(bkey), "search": used}, sort_keys=True, default=str)
                if skey in ran:  # the library runs this setting exactly as an earlier one (a clamp): measured once
                    ran[skey]["requested"].append(settings.requested)
                    completed += 1
                    bar.update(completed=completed)
                    continue
                if skey in done:
                    completed += 1
                    bar.update(completed=completed)
                    continue
                bar.update(description=f"{label} {used}")
                row: dict[str, Any] = {"name": bs.name, "label": label, "backend": bs.backend,
                                       "index_type": index.params.get("index_type")}
                row.update(built)
                row.update(used)
                row.update(measure(index, data, gt, cfg))
                row.update(build_s=round(build_s, 4), index_bytes=int(nbytes), build_key=bkey, setting=skey,
                           build_json=json.dumps(bs.params, sort_keys=True, default=str),
                           search_json=json.dumps(used, sort_keys=True, default=str))
                ran[skey] = {"row": row, "requested": [settings.requested]}
                row["requested_json"] = json.dumps([settings.requested], sort_keys=True, default=str)
                rows.append(row)
                done.add(skey)
                if out is not None:
                    _write_results(out, rows, cfg)
                    save_manifest(False)
                completed += 1
                bar.update(completed=completed)
            for entry in ran.values():
                requested = entry["requested"]
                entry["row"]["requested_json"] = json.dumps(requested, sort_keys=True, default=str)
                if len(requested) > 1 or any(entry["row"].get(n) != v for n, v in requested[0].items()):
                    notes.append(_collapse_note(label, requested, entry["row"], kmax))
            finished.add(bkey)
            del index
    table = _write_results(out, rows, cfg) if out is not None else pd.DataFrame(rows)
    if out is None and len(table):
        table["pareto"] = pareto_mask(table[cfg.recall_col].to_numpy(), speed_of(table["qps"], table["p50_ms"], cfg.pareto_by))
    manifest = save_manifest(True)
    return SweepOutcome(table, builds, reused, gt_status, manifest, time.perf_counter() - t_start, notes)


def _collapse_note(label: str, requested: list[dict[str, Any]], row: dict[str, Any], k: int) -> str:
    """'hnswlib: ef_search=16, ef_search=32 all run as ef_search=100 at k=100 (…); measured once, one row'."""
    changed = sorted({name for r in requested for name, v in r.items() if row.get(name) != v})
    asked = ", ".join(" ".join(f"{n}={r[n]}" for n in changed if n in r) for r in requested)
    used = " ".join(f"{n}={row.get(n)}" for n in changed)
    if len(requested) == 1:
        return f"{label}: {asked} runs as {used} at k={k} (the library clamps it); the row shows {used}"
    return f"{label}: {asked} all run as {used} at k={k} (the library clamps them); measured once, one row"
