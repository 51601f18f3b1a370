"""vecrecall recsys-baseline: most-popular, item-item co-occurrence or text-only bi-encoder runs on a two-tower split."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def recsys_baseline(
    split: Path = typer.Option(..., "--split", help="A finetune-two-tower output directory: its split, catalogue and seen items are used."),
    method: str = typer.Option(..., "--method", help="popular, cooc (item-item co-occurrence) or text (text-only bi-encoder)."),
    k: int = typer.Option(100, "-k", "--k", help="Results per request (each user's training items are never returned)."),
    cooc_norm: str = typer.Option("cosine", "--cooc-norm", help="cooc: cosine (C_ij/√(n_i n_j)) or none (raw counts)."),
    text_model: Optional[str] = typer.Option(None, "--text-model", help="text: the encoder (default: the split's --text-model, else MiniLM)."),
    history: int = typer.Option(50, "--history", help="text: the user's last H training items averaged (when the log has no queries)."),
    out: Path = common.RUN_OUT,
    fmt: Optional[str] = common.RUN_FORMAT,
    run_tag: str = common.run_tag("vecrecall"),
    no_cache: bool = common.NO_CACHE,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Write a baseline run for the held-out requests of a finetune-two-tower directory, scored by `eval` like any run.

    Example: vecrecall recsys-baseline --split runs/ml/tt --method cooc -k 100 --out runs/ml/cooc.run
    """
    from ..artifacts import check_out
    from ..io.runs import run_format, write_run
    from ..progress import out as stdout
    from ..twotower.baselines import run_baseline

    check_out(out, overwrite)
    kind = run_format(out, fmt)
    run, manifest = run_baseline(split, method, k, text_model, history, cooc_norm, not no_cache)
    manifest.params["run_tag"] = run_tag
    write_run(run, out, manifest, kind, run_tag, overwrite=overwrite)
    if json_out:
        common.print_json({"out": str(out), **manifest.stats})
        return
    stdout.print(f"[green]wrote[/] {out} ({method}): {manifest.stats['queries']:,} requests × top {k}")


def register(app: typer.Typer) -> None:
    app.command("recsys-baseline")(recsys_baseline)
