"""vecrecall sweep: recall-vs-latency tables, Pareto fronts, plots and --target-recall across ANN backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from . import common

def sweep(
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Corpus embeddings artifact (from vecrecall encode)."),
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
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads for the batch QPS measurement (default: all CPUs). Latency always uses 1."),
    passes: int = typer.Option(3, "--passes", help="Timed passes over the queries (latency: all samples; QPS: best pass)."),
    warmup: int = typer.Option(100, "--warmup", help="Queries searched once, untimed, before the latency passes."),
    latency_queries: Optional[int] = typer.Option(None, "--latency-queries", help="Time single-query latency on the first N queries only (default all)."),
    pareto_by: str = typer.Option("qps", "--pareto-by", help="Speed axis of the Pareto front and --target-recall: qps or p50."),
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
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for results.parquet, manifest.json and recall_vs_qps.png."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted sweep in --out, skipping finished settings."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Discard an earlier sweep in --out and start afresh."),
    seed: int = common.SEED,
    json_out: bool = common.JSON,
    build_params: Optional[dict[str, Any]] = None,
    search_params: Optional[dict[str, Any]] = None,
) -> None:
    """Sweep ANN parameters: build each index once per build-parameter set, run every search setting on it, and report recall@k against the exact neighbours, latency, throughput and the Pareto front.

    Ground truth: exact top-k by brute force with the index metric, cached in <embeddings>.groundtruth/. Recall@k = |ANN top-k ∩ exact top-k| / k averaged over queries; results tied with the k-th exact score count as hits, up to the number of tied slots.

    Timing: latency = one query per search call, one thread (OpenMP/BLAS pools capped with threadpoolctl, hnswlib's own pool set to 1), after --warmup untimed queries, over --passes passes; p50/p95/p99 over every sample. QPS = all queries in one batch call with --threads threads (repeated for at least 0.1 s per pass), best of --passes. Build seconds include training.

    Output (--out): results.parquet (one row per setting), manifest.json (builds made, machine info), recall_vs_qps.png; an interrupted sweep keeps its finished rows and --resume skips them.

    Example: vecrecall sweep --embeddings runs/vaswani/emb --queries runs/vaswani/qemb --config configs/sweep_default.yaml --out runs/vaswani/sweep
    """
    import os

    from ..artifacts import check_out
    from ..errors import UserError
    from ..indexes.params import option
    from ..progress import console
    from ..sweep import data as sd
    from ..sweep.grid import BuildSet, command_line_grid, data_context, load_config, option_lists, parse_assignments
    from ..sweep.runner import PLOT, Prebuilt, SweepSettings, prebuilt_params, run_sweep

    sources = [s for s, v in (("--embeddings", embeddings), ("--index", index), ("--synthetic", synthetic)) if v]
    if len(sources) != 1:
        raise UserError("give exactly one of --embeddings, --index or --synthetic" + (f" (got {', '.join(sources)})" if sources else ""))
    ks = common.int_list(k, "-k")
    if pareto_by not in ("qps", "p50"):
        raise UserError(f"--pareto-by {pareto_by}: choose qps or p50")
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
        check_out(out, overwrite or resume)
    if measures and qrels is None:
        raise UserError("-m/--measure needs --qrels")
    if qrels is not None and (synthetic or holdout):
        raise UserError("--qrels needs real queries; it does not apply to --synthetic or --holdout")
    if qrels is not None:
        from ..metrics import parse_measures

        measures = measures or ["nDCG@10"]
        parse_measures(measures)
    build_lists = option_lists(build_params or {})
    search_lists = option_lists(search_params or {})
    for pairs, lists, where in ((param, build_lists, "--param"), (search_param, search_lists, "--search-param")):
        for name, values in parse_assignments(pairs, where).items():
            if name in lists:
                raise UserError(f"{option(name)} given twice (as an option and as {where} {name}=…); give it once")
            lists[name] = values
    fields = common.fields(id_field, text_field, title_field, no_header)

    # Load data.
    prebuilt = None
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

    cfg = SweepSettings(ks=ks, passes=passes, warmup=warmup, threads=threads or os.cpu_count() or 1,
                        latency_queries=latency_queries, pareto_by=pareto_by, seed=seed, measures=measures)
    if qrels is not None:
        from ..io.qrels import read_qrels

        cfg.qrels = read_qrels(qrels, split)
        if not set(cfg.qrels["qid"]) & set(data.qids):
            raise UserError(f"--qrels {qrels}: none of the {len(data.qids)} queries have judgements there; is this the right qrels file?")
    if out is not None and overwrite and not resume and out.exists():
        cfg_out_reset = True
    else:
        cfg_out_reset = False

    def reset_out(_status: str) -> None:
        if cfg_out_reset:
            import shutil

            shutil.rmtree(out)

    result = run_sweep(data, sets, cfg, out, resume, prebuilt, on_ground_truth=reset_out)
    table = result.table
    if out is not None and len(table):
        from ..sweep.plot import plot_recall_qps

        plot_recall_qps(table, cfg.recall_col, out / PLOT, title=f"{data.describe['source']}: {cfg.recall_col} vs QPS")
    choice = None
    if target_recall is not None and len(table):
        choice = _target(table, cfg, target_recall, data, embeddings, queries, index, out, seed)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", markup=True, highlight=False)
    if json_out:
        common.print_json({"out": str(out) if out else None, "builds": result.builds, "reused_builds": result.reused,
                           "notes": result.notes,
                           "ground_truth": result.ground_truth, "elapsed_s": round(result.elapsed_s, 2),
                           "rows": _json_rows(table), "target": choice})
        return
    _print_table(table, cfg, data, result)
    if target_recall is not None:
        _print_target(choice, cfg, target_recall, table)
    where = f"; wrote {out}/results.parquet, manifest.json, {PLOT}" if out else ""
    console.print(f"{len(table)} settings, {result.builds} index builds"
                  f"{f' ({result.reused} reused from the earlier run)' if result.reused else ''}, ground truth "
                  f"{result.ground_truth}, {result.elapsed_s:.1f}s{where}")


def default_config() -> Path:
    from ..errors import UserError
    from ..resources import default_sweep_config

    path = default_sweep_config()
    if not path.is_file():
        raise UserError(f"no --config given and the default grid {path} is not there; pass --config or --backend")
    return path


def _target(table: Any, cfg: Any, target: float, data: Any, embeddings: Optional[Path], queries: Optional[Path],
            index: Optional[Path], out: Optional[Path], seed: int) -> Optional[dict[str, Any]]:
    from ..artifacts import atomic_file
    from ..sweep.tune import describe_choice, pick

    row = pick(table, cfg.recall_col, target, cfg.pareto_by)
    if row is None:
        return None
    emb = str(data.embeddings_path) if data.embeddings_path else None
    c = describe_choice(row, data.metric, seed, max(cfg.ks), emb, str(queries) if queries else None)
    saved = None
    if out is not None:
        saved = out / f"target-recall-{target:g}.yaml"
        with atomic_file(saved) as tmp:
            tmp.write_text(f"# fastest setting with {cfg.recall_col} >= {target:g} "
                           f"({cfg.recall_col} {row[cfg.recall_col]:.4f}, {row['qps']:,.0f} QPS, p50 {row['p50_ms']:.3f} ms)\n" + c.yaml)
    query_cmd = c.query_cmd if index is None else c.query_cmd.replace("--index INDEX", f"--index {index}")
    return {"target": target, "recall": row[cfg.recall_col], "qps": row["qps"], "p50_ms": row["p50_ms"],
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


def _print_table(table: Any, cfg: Any, data: Any, result: Any) -> None:
    from rich.table import Table

    from ..progress import out as stdout
    from ..sweep.runner import param_columns, row_title

    if not len(table):
        return
    df = table.sort_values([cfg.recall_col, "qps"], ascending=[False, False])
    bcols, scols = param_columns(df)
    rcols = [f"recall@{kk}" for kk in cfg.ks]
    mcols = [m for m in cfg.measures if m in df.columns]
    t = Table(title=f"{data.describe['source']} · {len(data.qids):,} queries ({data.describe['queries']}) · {data.metric} · "
                    f"★ = Pareto-optimal by {'QPS' if cfg.pareto_by == 'qps' else 'p50 latency'}")
    t.add_column("★")
    t.add_column("backend", style="bold", no_wrap=True)
    for c in bcols + scols:
        t.add_column(c, justify="right")
    for c in rcols + mcols:
        t.add_column(c, justify="right")
    for c in ("p50 ms", "p95 ms", "p99 ms", "QPS", "build s", "MB"):
        t.add_column(c, justify="right")
    for _, r in df.iterrows():
        def num(v: Any) -> str:
            if isinstance(v, str):  # string build parameters
                return v
            return "" if v is None or v != v else (f"{int(v)}" if float(v).is_integer() else f"{v}")

        cells = ["★" if r["pareto"] else "", row_title(r)]
        cells += [num(r[c]) for c in bcols + scols]
        cells += [f"{r[c]:.4f}" for c in rcols + mcols]
        cells += [f"{r['p50_ms']:.3f}", f"{r['p95_ms']:.3f}", f"{r['p99_ms']:.3f}", f"{r['qps']:,.0f}",
                  f"{r['build_s']:.2f}", f"{r['index_bytes'] / 1e6:.1f}"]
        t.add_row(*cells, style="green" if r["pareto"] else None)
    if stdout.is_terminal:
        stdout.print(t)
    else:  # piped or redirected: do not squeeze the table into 80 columns
        from rich.console import Console

        Console(width=240).print(t)


def register(app: typer.Typer) -> None:
    from .params import with_backend_options

    command = with_backend_options(sweep, "build", lists=True, into="build_params", inputs=("vectors",))
    app.command("sweep")(with_backend_options(command, "search", lists=True, into="search_params", inputs=("vectors",)))
