"""The sweep loop: validate the grid, compute the ground truth, build each index once, run its search grid, and
keep `results.parquet` + `manifest.json` in the output directory up to date after every setting (so an
interrupted sweep keeps its finished rows and `--resume` skips them)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from ..artifacts import MANIFEST, Manifest, atomic_file, read_manifest, write_json
from ..errors import UserError
from ..indexes.base import Index, get_backend, option
from ..progress import console
from .data import SweepData
from .grid import BuildSet, build_param_types, data_context, search_param_types
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


@dataclass
class Prebuilt:
    """A saved index swept as is (`--index DIR`): not rebuilt, its build time and size come from its manifest."""

    index: Index
    build_s: float
    index_bytes: int


# ---------------------------------------------------------------------------------------------------------------
# Validation before anything is written
# ---------------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence C-level stderr (faiss clustering warnings on the tiny probe data)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def check_grid(sets: list[BuildSet], data: SweepData, ks: list[int], seed: int, prebuilt: Prebuilt | None) -> None:
    """Refuse a bad grid before any work: empty grid, k > corpus, nlist > n, PQ m not dividing dim, and parameters a
    backend does not take (found by building each distinct configuration on a few hundred rows)."""
    if not sets:
        raise UserError("the grid is empty: give --config or --backend with parameter values")
    for k in ks:
        if k < 1 or k > data.n:
            raise UserError(f"-k {k}: must be between 1 and the number of corpus vectors ({data.n:,})")
    ctx = data_context(data.n, data.dim, ks)
    for bs in sets:
        nlist = bs.params.get("nlist")
        if isinstance(nlist, (int, float)) and not 1 <= nlist <= data.n:
            raise UserError(f"{bs.name}: {option('nlist')} {nlist} must be between 1 and the number of vectors "
                            f"({data.n:,}); ≈√n = {round(math.sqrt(data.n))} is a good start")
        m = bs.params.get("pq_m")
        if isinstance(m, int) and (m < 1 or data.dim % m):
            divisors = [d for d in range(1, data.dim + 1) if data.dim % d == 0 and d <= data.dim // 2]
            raise UserError(f"{bs.name}: {option('pq_m')} {m} must divide the dimension {data.dim} "
                            f"(e.g. {', '.join(map(str, divisors[-4:]))})")
    if prebuilt is not None:
        for bs in sets:
            for s in bs.search_sets(ctx, prebuilt.index.search_params(), prebuilt.index.params):
                prebuilt.index.check_search_params(s)
        return
    probe = data.corpus[: min(data.n, PROBE_ROWS)]
    seen: set[str] = set()
    for bs in sets:
        shape = json.dumps([bs.backend, sorted(bs.params), {k: v for k, v in bs.params.items() if isinstance(v, str)},
                            sorted(bs.search)], sort_keys=True)
        if shape in seen:
            continue
        seen.add(shape)
        cls = get_backend(bs.backend)
        if cls.input_kind != "vectors":
            raise UserError(f"{bs.name}: {bs.backend} indexes text; sweep measures recall against exact vector "
                            "neighbours, so it takes vector backends only (score text backends with query + eval)")
        if data.metric not in cls.metrics:
            raise UserError(f"{bs.name}: --metric {data.metric} is not supported by {bs.backend} ({', '.join(cls.metrics)})")
        try:
            with _quiet_native_stderr():
                index = cls.build(probe, data.metric, dict(bs.params), seed)
        except UserError as exc:
            # On the probe's few rows a size-dependent value may fail although it is fine at full size; only
            # errors about the parameters themselves count then.
            if len(probe) == data.n or "does not apply" in str(exc) or "unknown" in str(exc):
                raise UserError(f"{bs.name}: {exc}") from None
            continue
        for s in bs.search_sets(ctx, index.search_params(), {**index.params, **bs.params}):
            try:
                index.check_search_params(s)
            except UserError as exc:
                raise UserError(f"{bs.name}: {exc}") from None


# ---------------------------------------------------------------------------------------------------------------
# Measuring one setting
# ---------------------------------------------------------------------------------------------------------------

def measure(index: Index, data: SweepData, gt: GroundTruth, params: dict[str, Any], cfg: SweepSettings) -> dict[str, Any]:
    """Recall, latency percentiles, batch QPS and (with qrels) end quality of one search setting."""
    kmax = max(cfg.ks)
    lat_q = data.queries if not cfg.latency_queries else data.queries[: cfg.latency_queries]
    lat = single_query_latency(index, lat_q, kmax, params, cfg.passes, cfg.warmup)
    qps, scores, positions = batch_search(index, data.queries, kmax, params, cfg.threads, cfg.passes)
    row: dict[str, Any] = {}
    for k in cfg.ks:
        row[f"recall@{k}"] = float(recall_at(gt, positions, data.corpus, data.queries, data.metric, k).mean())
    row.update(p50_ms=lat.percentile(50), p95_ms=lat.percentile(95), p99_ms=lat.percentile(99), qps=qps)
    if cfg.qrels is not None and cfg.measures:
        from ..metrics import evaluate_runs

        from ..search import best_per_document, to_run

        run = to_run(data.qids, best_per_document(data.row_docids, scores, positions, positions.shape[1]))
        row.update(evaluate_runs(cfg.qrels, {"run": run}, cfg.measures).means["run"])
    return row


def _index_bytes(index: Index) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="vecrecall-sweep-size-"))
    try:
        index.save(tmp)
        return sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _label(backend: str, built: dict[str, Any], given: dict[str, Any]) -> str:
    kind = built.get("index_type")
    shown = " ".join(f"{k}={v}" for k, v in sorted(given.items()) if k not in ("index_type", "factory", "threads"))
    if given.get("factory"):
        shown = f"{given['factory']} {shown}".strip()
    return " ".join(x for x in (backend, str(kind) if kind else "", shown) if x)


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
        taken = prebuilt.index.search_params() if prebuilt else tuple(bs.search)
        return len(bs.search_sets(ctx, taken, prebuilt.index.params if prebuilt else None))
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
    btypes, stypes = build_param_types(), search_param_types()
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
                nbytes = _index_bytes(index)
                builds += 1
            searches = bs.search_sets(ctx, index.search_params(), {**index.params, **bs.params})
            total += len(searches) - estimates[i]
            bar.update(total=total)
            built = {k: v for k, v in index.params.items() if k in btypes}
            label = _label(bs.backend, index.params, bs.params)
            for s in searches:
                s = index.check_search_params(s)
                skey = json.dumps({"build": json.loads(bkey), "search": s}, sort_keys=True, default=str)
                if skey in done:
                    completed += 1
                    bar.update(completed=completed)
                    continue
                bar.update(description=f"{label} {s}")
                row: dict[str, Any] = {"name": bs.name, "label": label, "backend": bs.backend,
                                       "index_type": index.params.get("index_type")}
                row.update(built)
                row.update({k: s.get(k) for k in stypes if k in s})
                row.update(measure(index, data, gt, s, cfg))
                row.update(build_s=round(build_s, 4), index_bytes=int(nbytes), build_key=bkey, setting=skey,
                           build_json=json.dumps(bs.params, sort_keys=True, default=str),
                           search_json=json.dumps(s, sort_keys=True, default=str))
                rows.append(row)
                done.add(skey)
                if out is not None:
                    _write_results(out, rows, cfg)
                    save_manifest(False)
                completed += 1
                bar.update(completed=completed)
            finished.add(bkey)
            del index
    table = _write_results(out, rows, cfg) if out is not None else pd.DataFrame(rows)
    if out is None and len(table):
        table["pareto"] = pareto_mask(table[cfg.recall_col].to_numpy(), speed_of(table["qps"], table["p50_ms"], cfg.pareto_by))
    manifest = save_manifest(True)
    return SweepOutcome(table, builds, reused, gt_status, manifest, time.perf_counter() - t_start)
