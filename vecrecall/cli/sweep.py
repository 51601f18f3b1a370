"""vecrecall sweep: recall-vs-latency tables, Pareto fronts, plots and --target-recall across ANN backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from . import common

def sweep(
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Corpus embeddings artifact (from vecrecall encode), or an ann-benchmarks .hdf5 file (train = corpus, test = queries, its neighbors = ground truth)."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="Query embeddings artifact, or query texts (encoded with the corpus's model)."),
    index: Optional[Path] = typer.Option(None, "--index", help="Sweep the search parameters of a saved index (from build-index) instead of building."),
    synthetic: Optional[str] = typer.Option(None, "--synthetic", help="N×D clustered Gaussian vectors instead of a corpus, e.g. 200000x128."),
    synthetic_queries: int = typer.Option(1000, "--synthetic-queries", help="Held-out query points for --synthetic."),
    holdout: int = typer.Option(0, "--holdout", help="Use N random corpus vectors (by --seed) as queries and sweep the rest."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML grid (see configs/sweep_default.yaml). Default when no --backend/--index: that file."),
    backend: Optional[str] = typer.Option(None, "--backend", help="One backend swept with the comma lists of its parameters (options below; vecrecall backends NAME lists them)."),
    param: List[str] = typer.Option([], "--param", help="Any build parameter, NAME=V1,V2 (repeatable)."),
    search_param: List[str] = typer.Option([], "--search-param", help="Any search parameter, NAME=V1,V2 (repeatable)."),
    k: str = typer.Option("10", "-k", "--k", help="k for recall@k, comma list (e.g. 10,100); the first one drives the Pareto front and --target-recall."),
    metric: Optional[str] = typer.Option(None, "--metric", help="ip, l2 or cosine (default cosine; a saved --index uses its own)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads for the batch QPS column (default: all usable CPUs). Latency and QPS always use 1."),
    passes: int = typer.Option(3, "--passes", help="Timing repetitions of every setting, interleaved round-robin across an index's settings; medians and min–max are reported."),
    warmup: int = typer.Option(100, "--warmup", help="Queries searched untimed before each repetition's latency pass."),
    latency_queries: Optional[int] = typer.Option(None, "--latency-queries", help="Time single-query latency on the first N queries only (default all)."),
    pareto_by: str = typer.Option("qps", "--pareto-by", help="Speed axis of the Pareto front and --target-recall: qps (one thread, 1/mean latency, as ann-benchmarks), batch (batch QPS) or p50."),
    target_recall: Optional[float] = typer.Option(None, "--target-recall", help="Print (and save as YAML in --out) the fastest setting with recall ≥ this."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Also score each setting's run against these qrels (TREC, BEIR tsv/dir, Parquet)."),
    measures: List[str] = typer.Option([], "-m", "--measure", help="Measures with --qrels (default nDCG@10)."),
    split: str = common.SPLIT,
    model: Optional[str] = common.MODEL,
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    no_cache: bool = common.NO_CACHE,
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for results.parquet, manifest.json and recall_vs_qps.png (written as .OUT.partial beside it until complete)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted sweep of --out (its .OUT.partial), skipping finished indexes."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier sweep in --out; it stays until the new one is complete."),
    seed: int = common.SEED,
    wide: bool = typer.Option(False, "--wide", help="Print every column (parameters apart, p95/p99, batch QPS, min–max ranges) instead of the 80-column table."),
    json_out: bool = common.JSON,
    build_params: Optional[dict[str, Any]] = None,
    search_params: Optional[dict[str, Any]] = None,
) -> None:
    """Sweep ANN parameters: build each index once per build-parameter set, run every search setting on it, and report recall@k against the exact neighbours, latency, throughput and the Pareto front.

    Ground truth: exact top-k by brute force with the index metric, cached in <embeddings>.groundtruth/. Recall@k = |ANN top-k ∩ exact top-k| / k averaged over queries; results tied with the k-th exact score count as hits, up to the number of tied slots.

    Timing: an index's settings are timed round-robin, --passes repetitions each. A repetition: --warmup untimed queries, a latency pass (one query per search call, one thread: OpenMP/BLAS pools capped with threadpoolctl, hnswlib's own pool set to 1) and a batch pass (the queries tiled to ≥ 1,000, one call with --threads threads, repeated for ≥ 0.1 s). QPS = 1 / mean latency (ann-benchmarks); medians over repetitions with min–max; p95/p99 over every sample. The load average is recorded and a busy machine warned about. Build seconds include training.

    Output (--out): results.parquet (one row per setting), manifest.json (builds made, machine info, load), recall_vs_qps.png. It is written in .OUT.partial and moved over --out only when complete: an interrupted sweep keeps its finished indexes there for --resume, and --overwrite leaves the old sweep in place until then.

    Example: vecrecall sweep --embeddings runs/vaswani/emb --queries runs/vaswani/qemb --config configs/sweep_default.yaml --out runs/vaswani/sweep
    """
    from ..artifacts import check_out, partial_dir, staged_dir
    from ..errors import UserError
    from ..indexes.params import option
    from ..progress import console
    from ..sweep import data as sd
    from ..sweep.grid import BuildSet, command_line_grid, data_context, load_config, option_lists, parse_assignments
    from ..sweep.harness import usable_cpus
    from ..sweep.runner import PLOT, Prebuilt, SweepSettings, prebuilt_params, run_sweep

    sources = [s for s, v in (("--embeddings", embeddings), ("--index", index), ("--synthetic", synthetic)) if v]
    if len(sources) != 1:
        raise UserError("give exactly one of --embeddings, --index or --synthetic" + (f" (got {', '.join(sources)})" if sources else ""))
    ks = common.int_list(k, "-k")
    pareto_by = pareto_by.lower()
    if pareto_by not in ("qps", "batch", "p50"):
        raise UserError(f"--pareto-by {pareto_by}: choose qps, batch or p50")
    if metric is not None and metric not in ("ip", "l2", "cosine"):
        raise UserError(f"--metric {metric}: choose ip, l2 or cosine")
    for name, value in (("--passes", passes), ("--threads", threads), ("--latency-queries", latency_queries)):
        if value is not None and value < 1:
            raise UserError(f"{name} {value}: must be at least 1")
    if warmup < 0 or holdout < 0:
        raise UserError("--warmup and --holdout must not be negative")
    if target_recall is not None and not 0 < target_recall <= 1:
        raise UserError(f"--target-recall {target_recall}: must be in (0, 1]")
    if resume and out is None:
        raise UserError("--resume needs --out (the directory of the interrupted sweep)")
    if out is not None:
        staging = partial_dir(out)
        if staging.exists() and not (resume or overwrite):
            raise UserError(f"{out}: an interrupted sweep left {_finished_text(staging)} in {staging}; pass --resume to "
                            "continue it, or --overwrite to start afresh")
        check_out(out, overwrite or resume, "dir")
    if measures and qrels is None:
        raise UserError("-m/--measure needs --qrels")
    if qrels is not None and (synthetic or holdout):
        raise UserError("--qrels needs real queries; it does not apply to --synthetic or --holdout")
    if qrels is not None:
        from ..metrics import parse_measures

        measures = [str(m.impl) for m in parse_measures(measures or ["nDCG@10"])]  # canonical names: P.5,10 → P@5, P@10
    build_lists = option_lists(build_params or {})
    search_lists = option_lists(search_params or {})
    for pairs, lists, where in ((param, build_lists, "--param"), (search_param, search_lists, "--search-param")):
        for name, values in parse_assignments(pairs, where).items():
            if name in lists:
                raise UserError(f"{option(name)} given twice (as an option and as {where} {name}=…); give it once")
            lists[name] = values
    fields = common.fields(id_field, text_field, title_field, no_header)

    # Load data.
    from ..io.vectors import is_hdf5_path

    prebuilt = None
    file_gt = None
    if index is not None:
        from ..indexes.store import IndexDir

        if build_lists or config is not None or backend is not None:
            raise UserError("--index sweeps a saved index's search parameters only; drop --config/--backend and build parameters")
        loaded = IndexDir.load(common.exists(index, "--index"))
        if metric is not None and metric != loaded.manifest.params["metric"]:
            raise UserError(f"--metric {metric}: the index at {index} uses {loaded.manifest.params['metric']}; drop --metric")
        data = sd.from_index(loaded, queries, model, fields, not no_cache)
        stats = loaded.manifest.stats
        prebuilt = Prebuilt(loaded.index, float(stats.get("build_s", float("nan"))), int(stats.get("bytes", 0)))
        sets = [BuildSet(Path(index).name, loaded.manifest.params["backend"], prebuilt_params(loaded), search_lists)]
    else:
        if synthetic:
            from ..sweep.synthetic import SyntheticSpec, parse_shape

            if queries is not None or holdout:
                raise UserError("--synthetic makes its own queries; drop --queries/--holdout")
            n, dim = parse_shape(synthetic)
            if synthetic_queries < 1:
                raise UserError(f"--synthetic-queries {synthetic_queries}: must be at least 1")
            data = sd.from_synthetic(SyntheticSpec(n, dim, synthetic_queries, seed=seed), metric or "cosine")
        elif is_hdf5_path(embeddings):
            from ..io.vectors.annbench import ground_truth_hook, sweep_data_from_hdf5

            if queries is not None or holdout:
                raise UserError(f"--embeddings {embeddings}: an ann-benchmarks file brings its own queries ('test'); "
                                "drop --queries/--holdout")
            data, neighbors = sweep_data_from_hdf5(common.exists(embeddings, "--embeddings"), metric)
            file_gt = ground_truth_hook(data, neighbors, seed)
        else:
            data = sd.from_embeddings(embeddings, queries, holdout, metric or "cosine", seed, model, fields, not no_cache)
        ctx = data_context(data.n, data.dim, ks)
        if backend is not None:
            if config is not None:
                raise UserError("give either --config or --backend with parameter lists, not both")
            sets = command_line_grid(backend, build_lists, search_lists, ctx)
        else:
            if build_lists or search_lists:
                raise UserError("parameter lists need --backend (or put them in a --config file)")
            sets = load_config(config or default_config(), ctx)

    cfg = SweepSettings(ks=ks, passes=passes, warmup=warmup, threads=threads or usable_cpus(),
                        latency_queries=latency_queries, pareto_by=pareto_by, seed=seed, measures=measures)
    if qrels is not None:
        from ..io.qrels import read_qrels

        cfg.qrels = read_qrels(qrels, split)
        if not set(cfg.qrels["qid"]) & set(data.qids):
            raise UserError(f"--qrels {qrels}: none of the {len(data.qids)} queries have judgements there; is this the right qrels file?")

    title = f"{data.describe['source']}: {cfg.recall_col} vs QPS"
    choice = None
    if out is None:
        result = run_sweep(data, sets, cfg, None, False, prebuilt, ground_truth=file_gt)
        if target_recall is not None and len(result.table):
            choice = _target(result.table, cfg, target_recall, data, queries, index, None, None)
    else:
        kept = {"indexes": 0, "of": len(sets), "settings": 0}

        def hint() -> str:
            same = f"; {out} itself is unchanged" if out.exists() else ""
            return (f"{kept['indexes']} of {kept['of']} indexes finished, {kept['settings']} settings measured{same}; "
                    "run the same command with --resume to continue")

        def on_progress(indexes: int, of: int, settings: int) -> None:
            kept.update(indexes=indexes, of=of, settings=settings)

        with staged_dir(out, overwrite=overwrite, resume=resume, resume_hint=hint) as stage:
            result = run_sweep(data, sets, cfg, stage.path, stage.resumed, prebuilt, ground_truth=file_gt,
                               on_progress=on_progress)
            if len(result.table):
                from ..sweep.plot import plot_recall_qps

                plot_recall_qps(result.table, cfg.recall_col, stage.path / PLOT, title=title, by=cfg.pareto_by)
                if target_recall is not None:
                    choice = _target(result.table, cfg, target_recall, data, queries, index, stage.path, out)
    table = result.table
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", markup=True, highlight=False)
    if json_out:
        common.print_json({"out": str(out) if out else None, "builds": result.builds, "reused_builds": result.reused,
                           "notes": result.notes, "load": result.load,
                           "ground_truth": result.ground_truth, "elapsed_s": round(result.elapsed_s, 2),
                           "rows": _json_rows(table), "target": choice})
        return
    _print_table(table, cfg, data, wide)
    if target_recall is not None:
        _print_target(choice, cfg, target_recall, table)
    import json

    where = f"; wrote {out}/results.parquet, manifest.json, {PLOT}" if out else ""
    asked = sum(len(json.loads(x)) for x in table["requested_json"]) if len(table) else 0
    merged = f" ({asked} asked; {asked - len(table)} ran as another after a clamp)" if asked > len(table) else ""
    console.print(f"{len(table)} settings{merged}, {result.builds} index builds"
                  f"{f' ({result.reused} reused from the earlier run)' if result.reused else ''}, ground truth "
                  f"{result.ground_truth}, {result.elapsed_s:.1f}s{where}")


def default_config() -> Path:
    from ..errors import UserError
    from ..resources import default_sweep_config

    path = default_sweep_config()
    if not path.is_file():
        raise UserError(f"no --config given and the default grid {path} is not there; pass --config or --backend")
    return path


def _finished_text(staging: Path) -> str:
    """'8 measured settings' of a kept partial sweep, read from its manifest ('partial results' if unreadable)."""
    from ..artifacts import optional_manifest

    try:
        m = optional_manifest(staging)
    except Exception:  # a damaged partial manifest: --resume reports it properly
        m = None
    n = m.stats.get("settings") if m is not None else None
    return f"{n} measured settings" if isinstance(n, int) else "partial results"


def _target(table: Any, cfg: Any, target: float, data: Any, queries: Optional[Path], index: Optional[Path],
            write_to: Optional[Path], out: Optional[Path]) -> Optional[dict[str, Any]]:
    from ..artifacts import atomic_file
    from ..sweep.tune import describe_choice, pick

    row = pick(table, cfg.recall_col, target, cfg.pareto_by)
    if row is None:
        return None
    emb = str(data.embeddings_path) if data.embeddings_path else None
    c = describe_choice(row, data.metric, cfg.seed, max(cfg.ks), emb, str(queries) if queries else None)
    saved = None
    if write_to is not None and out is not None:
        name = f"target-recall-{target:g}.yaml"
        saved = out / name
        with atomic_file(write_to / name) as tmp:
            tmp.write_text(f"# fastest setting with {cfg.recall_col} >= {target:g} "
                           f"({cfg.recall_col} {row[cfg.recall_col]:.4f}, {row['qps']:,.0f} QPS, p50 {row['p50_ms']:.3f} ms)\n" + c.yaml)
    query_cmd = c.query_cmd if index is None else c.query_cmd.replace("--index INDEX", f"--index {index}")
    return {"target": target, "recall": row[cfg.recall_col], "qps": row["qps"], "batch_qps": row["batch_qps"],
            "p50_ms": row["p50_ms"],
            "backend": row["backend"], "build": c.build_cmd if index is None else None, "query": query_cmd,
            "yaml": c.yaml, "saved": str(saved) if saved else None}


def _print_target(choice: Optional[dict[str, Any]], cfg: Any, target: float, table: Any) -> None:
    from ..progress import out as stdout

    if choice is None:
        best = table.sort_values(cfg.recall_col, ascending=False).iloc[0]
        stdout.print(f"[yellow]no setting reaches {cfg.recall_col} ≥ {target:g}[/]; the best is {best[cfg.recall_col]:.4f} "
                     f"({best['label']}, {best['search_json']}). Widen the grid (larger search parameters: more lists "
                     "probed, a wider beam, more nodes inspected; less compression).")
        return
    stdout.print(f"[bold green]fastest setting with {cfg.recall_col} ≥ {target:g}[/]: {cfg.recall_col} "
                 f"{choice['recall']:.4f}, {choice['qps']:,.0f} QPS, p50 {choice['p50_ms']:.3f} ms")
    if choice["build"]:
        stdout.print(f"  {choice['build']}", markup=False, highlight=False, soft_wrap=True)
    stdout.print(f"  {choice['query']}", markup=False, highlight=False, soft_wrap=True)
    stdout.print(choice["yaml"].rstrip(), markup=False, highlight=False)
    if choice["saved"]:
        stdout.print(f"saved as {choice['saved']} (usable as --config)")


def _json_rows(table: Any) -> list[dict[str, Any]]:
    import json

    if not len(table):
        return []
    keep = [c for c in table.columns if c not in ("setting", "build_key", "build_json", "search_json", "requested_json")]
    rows = json.loads(table[keep].to_json(orient="records"))
    if "requested_json" in table.columns:
        for row, requested in zip(rows, table["requested_json"]):
            row["requested"] = json.loads(requested) if isinstance(requested, str) else None
    return rows


def _print_table(table: Any, cfg: Any, data: Any, wide: bool) -> None:
    """The compact table (80 columns when stdout is not a terminal), or every column with --wide."""
    from rich.console import Console

    from ..progress import out as stdout
    from ..sweep.report import compact_table, wide_table

    if not len(table):
        return
    rcols = [f"recall@{kk}" for kk in cfg.ks]
    mcols = [m for m in cfg.measures if m in table.columns]
    args = (table, rcols, mcols, data.describe, len(data.qids), data.metric, cfg.pareto_by)
    if wide:
        t = wide_table(*args)
        (stdout if stdout.is_terminal else Console(width=400)).print(t)
    else:
        t = compact_table(*args, cfg.passes)
        (stdout if stdout.is_terminal else Console(width=80)).print(t)


def register(app: typer.Typer) -> None:
    from .params import with_backend_options

    command = with_backend_options(sweep, "build", lists=True, into="build_params", inputs=("vectors",))
    app.command("sweep")(with_backend_options(command, "search", lists=True, into="search_params", inputs=("vectors",)))
