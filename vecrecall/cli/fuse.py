"""vecrecall fuse: N runs → one fused run (rrf, combsum, combmnz, weighted), optionally grid-searched on dev qrels."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import common

DECAY_FIELD = typer.Option(None, "--decay-field", help="Time decay: the date column (from --corpus or --index metadata). Off unless given.")
HALF_LIFE = typer.Option("30d", "--half-life", help="Time decay half-life: 30d, 12h, 2w, 6m, 1y (plain number = days).")
DECAY_WEIGHT = typer.Option(0.2, "--decay-weight", help="Time decay weight w: score' = (1−w)·minmax(score) + w·0.5^(age/half-life).")
DECAY_NOW = typer.Option(None, "--now", help="Time decay reference date YYYY-MM-DD (default: the newest date in the column, so results are reproducible).")
DATES_CORPUS = typer.Option(None, "--corpus", help="Time decay: documents with the date column (any corpus format vecrecall reads).")
DATES_INDEX = typer.Option(None, "--index", help="Time decay: an index directory whose ids.parquet holds the date column.")


def decay_settings(field: Optional[str], half_life: str, weight: float, now: Optional[str]):
    from ..decay import DecaySettings, parse_half_life

    if not field:
        return None
    s = DecaySettings(field, parse_half_life(half_life), weight, now)
    s.check()
    return s


def fuse_cmd(
    runs: List[Path] = typer.Argument(..., help="Two or more runs (TREC, MS MARCO qid/docid/rank, .gz, or Parquet), in the order --weights refers to. NaN or infinite scores are refused."),
    method: str = typer.Option("rrf", "--method", help="rrf, combsum, combmnz or weighted."),
    norm: str = typer.Option("minmax", "--norm", help="Score normalisation per query and run (combsum/combmnz/weighted): minmax, zscore, max, none."),
    rrf_k: float = typer.Option(60.0, "--rrf-k", help="RRF constant k in Σ w/(k + rank)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Per-run weights, comma-separated (e.g. 0.3,0.7); default 1 each."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Two runs only: weights α, 1−α."),
    depth: Optional[str] = typer.Option(None, "--depth", help="Use each run's top N only: one N for all runs or one per run (e.g. 100 or 100,50)."),
    missing: str = typer.Option("min", "--missing", help="A document absent from a run scores that run's lowest normalised score for the query (min) or 0 (zero)."),
    k: int = typer.Option(1000, "-k", "--k", help="Documents per query in the fused run."),
    common_queries: bool = typer.Option(False, "--common-queries", help="Keep only queries every run has (default: all queries; a run lacking a query adds nothing to it)."),
    optimize: bool = typer.Option(False, "--optimize", help="Grid-search the weights (and --rrf-k-grid for rrf) on --qrels by -m; write the best."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Dev qrels for --optimize (TREC, BEIR tsv/dir with --split dev, Parquet)."),
    split: str = common.SPLIT,
    measure: str = typer.Option("nDCG@10", "-m", "--measure", help="The measure --optimize maximises."),
    grid_steps: int = typer.Option(10, "--grid-steps", help="--optimize: weights are i/steps for integer i (all vectors summing to 1)."),
    rrf_k_grid: str = typer.Option("5,10,20,40,60,80,100", "--rrf-k-grid", help="--optimize with rrf: the k values tried."),
    top: int = typer.Option(10, "--top", help="--optimize: grid rows shown."),
    decay_field: Optional[str] = DECAY_FIELD,
    half_life: str = HALF_LIFE,
    decay_weight: float = DECAY_WEIGHT,
    now: Optional[str] = DECAY_NOW,
    corpus: Optional[Path] = DATES_CORPUS,
    index: Optional[Path] = DATES_INDEX,
    out: Path = common.RUN_OUT,
    fmt: Optional[str] = common.RUN_FORMAT,
    run_tag: str = common.run_tag("fused"),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Fuse runs: normalise each run per query, then combine (rules and formulas: vecrecall/fusion.py).

    Example: vecrecall fuse runs/v/bm25.run runs/v/flat.run --method rrf --rrf-k 60 --depth 100 --out runs/v/rrf.run
    """
    from ..artifacts import Manifest, check_out, input_entry, sha256_path
    from ..errors import UserError
    from ..fusion import FuseSettings, check_grid, fuse, grid_size, optimize as grid_search, query_sets
    from ..io.runs import read_run, run_format, run_manifest, write_run
    from ..progress import console, out as stdout, progress

    check_out(out, overwrite)
    kind = run_format(out, fmt)
    w = common.float_list(weights, "--weights")
    if alpha is not None:
        if w is not None:
            raise UserError("--alpha and --weights both given; use one")
        if len(runs) != 2:
            raise UserError(f"--alpha applies to two runs, got {len(runs)}; use --weights")
        if not 0 <= alpha <= 1:
            raise UserError(f"--alpha {alpha}: must be between 0 and 1")
        w = [alpha, 1 - alpha]
    if optimize:
        if w is not None:
            raise UserError("--optimize searches the weights; drop --weights/--alpha")
        w = [1.0] * len(runs)
    settings = FuseSettings(method=method, norm=norm, rrf_k=rrf_k, weights=w, depth=common.int_list(depth, "--depth"),
                            missing=missing, k=k)
    settings.check(len(runs))
    decay = decay_settings(decay_field, half_life, decay_weight, now)
    if optimize and qrels is None:
        raise UserError("--optimize needs --qrels (a dev split: tuning on the test qrels overstates the result)")
    if qrels is not None and not optimize:
        raise UserError("--qrels is only used with --optimize; evaluate the fused run with vecrecall eval")
    if optimize:
        check_grid(measure, grid_steps, common.float_list(rrf_k_grid, "--rrf-k-grid") or [])

    names = [p.name for p in runs]
    if len(set(names)) != len(names):
        names = [str(p) for p in runs]
    loaded = [read_run(p) for p in runs]
    union, inter = query_sets(loaded)
    if union != inter:
        counts = ", ".join(f"{n}: {r['qid'].nunique()}" for n, r in zip(names, loaded))
        if common_queries:
            loaded = [r[r["qid"].isin(inter)] for r in loaded]
            console.print(f"[yellow]warning:[/] the runs have different queries ({counts}); keeping the "
                          f"{len(inter)} queries every run has (--common-queries)")
            if not inter:
                raise UserError("--common-queries: the runs share no query; nothing to fuse")
        else:
            console.print(f"[yellow]warning:[/] the runs have different queries ({counts}); fusing all {len(union)}: "
                          "a run that lacks a query adds nothing to it (--common-queries keeps only shared ones)")
    dates, dates_input = (None, None)
    if decay is not None:
        from ..decay import load_dates

        dates, dates_input = load_dates(decay.field, corpus, index)
    elif corpus is not None or index is not None:
        raise UserError("--corpus/--index give dates for time decay; pass --decay-field too")

    grid_rows = None
    if optimize:
        from ..io.qrels import read_qrels

        q = read_qrels(qrels, split)
        if Path(qrels).is_dir() and split == "test":
            console.print("[yellow]warning:[/] --optimize tunes the weights on the test split; a score measured on the "
                          "same queries overstates the result (pass --split dev, or a dev qrels file)")
        ks = common.float_list(rrf_k_grid, "--rrf-k-grid") or [rrf_k]
        total = grid_size(len(runs), grid_steps, len(ks) if method == "rrf" else 1)
        with progress("optimize", total, "settings") as advance:
            res = grid_search(loaded, settings, q, measure, grid_steps, ks, names, advance)
        settings, fused, grid_rows = res.best, res.run, res.rows
    else:
        fused = fuse(loaded, settings, names)
    if decay is not None:
        from ..decay import apply_decay

        fused = apply_decay(fused, dates, decay)

    inputs = {}
    for i, (p, n) in enumerate(zip(runs, names)):
        inputs[f"run{i + 1}"] = input_entry(p.resolve(), run_manifest(p), sha256_path(p))
    if dates_input is not None:
        inputs["dates"] = dates_input
    params = {"fusion": {**settings.__dict__, "common_queries": common_queries}, "run_tag": run_tag}
    if decay is not None:
        params["decay"] = decay.describe()
    if grid_rows is not None:
        params["optimize"] = {"qrels": str(Path(qrels).resolve()), "split": split, "measure": measure,
                              "grid_steps": grid_steps, "rrf_k_grid": common.float_list(rrf_k_grid, "--rrf-k-grid"),
                              "best": grid_rows.iloc[0].drop("grid").to_dict(), "settings_tried": len(grid_rows)}
    manifest = Manifest(type="run", params=params, inputs=inputs,
                        stats={"queries": int(fused["qid"].nunique()), "rows": len(fused)})
    write_run(fused, out, manifest, kind, run_tag, overwrite=overwrite)

    if json_out:
        data = {"out": str(out), **manifest.stats, "settings": params["fusion"]}
        if grid_rows is not None:
            data["grid_top"] = grid_rows.head(top).to_dict(orient="records")
        common.print_json(data)
        return
    if grid_rows is not None:
        from rich.table import Table

        table = Table(title=f"--optimize: top {min(top, len(grid_rows))} of {len(grid_rows)} settings by {measure} on {qrels}")
        for col in ("weights", *(("rrf_k",) if method == "rrf" else ()), measure):
            table.add_column(col, justify="right")
        for _, r in grid_rows.head(top).iterrows():
            cells = [", ".join(f"{x:g}" for x in r["weights"])]
            if method == "rrf":
                cells.append(f"{r['rrf_k']:g}")
            cells.append(f"{r[measure]:.4f}")
            table.add_row(*cells)
        stdout.print(table)
        stdout.print(f"chosen: weights {settings.weights}" + (f", rrf_k {settings.rrf_k:g}" if method == "rrf" else ""))
    stdout.print(f"[green]wrote[/] {out} ({kind}): {method} of {len(runs)} runs, {manifest.stats['queries']:,} queries, "
                 f"{manifest.stats['rows']:,} lines" + (f", time decay on '{decay.field}'" if decay else ""))


def register(app: typer.Typer) -> None:
    app.command("fuse")(fuse_cmd)
