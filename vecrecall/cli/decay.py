"""vecrecall decay: re-score a run by recency from a date column (formula in vecrecall/decay.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common
from .fuse import DATES_CORPUS, DATES_INDEX, DECAY_NOW, DECAY_WEIGHT, HALF_LIFE


def decay_cmd(
    run: Path = typer.Option(..., "--run", help="Run to re-score (TREC, MS MARCO, .gz, or Parquet; NaN or infinite scores are refused)."),
    decay_field: str = typer.Option(..., "--decay-field", help="The date column (YYYY-MM-DD text, datetimes, or integer years)."),
    half_life: str = HALF_LIFE,
    decay_weight: float = DECAY_WEIGHT,
    now: Optional[str] = DECAY_NOW,
    corpus: Optional[Path] = DATES_CORPUS,
    index: Optional[Path] = DATES_INDEX,
    id_field: Optional[str] = common.ID_FIELD,
    out: Path = common.RUN_OUT,
    fmt: Optional[str] = common.RUN_FORMAT,
    run_tag: str = common.run_tag("decayed"),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Blend each score with an exponential age decay: score' = (1−w)·minmax_q(score) + w·0.5^(age/half-life).

    Example: vecrecall decay --run runs/sample/flat.run --corpus sample_data --decay-field date --half-life 5y --decay-weight 0.3 --out runs/sample/recent.run
    """
    from ..artifacts import Manifest, check_out, input_entry, sha256_path
    from ..decay import apply_decay, load_dates
    from ..io.runs import read_run, run_format, run_manifest, write_run
    from ..progress import out as stdout
    from .fuse import decay_settings

    check_out(out, overwrite, inputs=(run, corpus))
    kind = run_format(out, fmt)
    settings = decay_settings(decay_field, half_life, decay_weight, now)
    df = read_run(run)
    dates, dates_input = load_dates(settings.field, corpus, index, common.fields(id_field, None, None))
    result = apply_decay(df, dates, settings)
    undated = int(result["docid"].map(dates).isna().sum())
    manifest = Manifest(type="run", params={"decay": settings.describe(), "run_tag": run_tag},
                        inputs={"run": input_entry(run.resolve(), run_manifest(run), sha256_path(run)), "dates": dates_input},
                        stats={"queries": int(result["qid"].nunique()), "rows": len(result), "undated_rows": undated})
    write_run(result, out, manifest, kind, run_tag, overwrite=overwrite)
    if json_out:
        common.print_json({"out": str(out), **manifest.stats, "decay": settings.describe()})
    else:
        stdout.print(f"[green]wrote[/] {out} ({kind}): {manifest.stats['rows']:,} lines re-scored by '{settings.field}' "
                     f"(half-life {settings.half_life_days:g} days, weight {settings.weight:g}); {undated} lines had no date")


def register(app: typer.Typer) -> None:
    app.command("decay")(decay_cmd)
