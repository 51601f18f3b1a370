"""vecrecall demo: the whole chain on sample_data/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from . import common


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Directory for the demo's artifacts (written as one "
                             "unit; an existing one needs --overwrite, which replaces only an earlier demo or artifact)."),
    data: Optional[Path] = typer.Option(None, "--data", help="A BEIR directory (default: sample_data/)."),
    model: Optional[str] = common.MODEL,
    json_out: bool = common.JSON,
    overwrite: bool = common.OVERWRITE,
) -> None:
    """Encode sample_data/, build faiss Flat and IVF indexes, query both and print an eval table (< 60 s)."""
    from rich.table import Table

    from ..demo import run_demo
    from ..progress import out as stdout

    t0 = time.perf_counter()
    report = run_demo(out, data, model, overwrite=overwrite)
    if json_out:
        common.print_json(report.means)
        return
    names = [m.name for m in report.measures]
    table = Table(title=f"vecrecall demo: sample_data, {report.n_queries['flat.run']} queries, model {model or 'default'}")
    table.add_column("run")
    for m in names:
        table.add_column(m, justify="right")
    for run, vals in report.means.items():
        table.add_row(run, *[f"{vals[m]:.4f}" for m in names])
    stdout.print(table)
    stdout.print(f"artifacts in {out}/ (try: vecrecall info {out}/ivf.run) — {time.perf_counter() - t0:.1f}s")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
