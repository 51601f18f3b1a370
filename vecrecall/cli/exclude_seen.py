"""vecrecall exclude-seen: drop each user's training items from a run (candidates = all items − seen), cut to k."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def exclude_seen(
    run: Path = typer.Option(..., "--run", help="Run to filter (TREC or Parquet), e.g. from `vecrecall query --queries MODEL/users`."),
    seen: Path = typer.Option(..., "--seen", help="Items to remove per query: user_id,item_id log (e.g. MODEL/seen.csv from finetune-two-tower)."),
    k: int = typer.Option(100, "-k", "--k", help="Results kept per query after filtering."),
    allow_short: bool = typer.Option(False, "--allow-short", help="Accept queries left with fewer than k results (only when the catalogue is that small)."),
    out: Path = common.RUN_OUT,
    fmt: Optional[str] = common.RUN_FORMAT,
    run_tag: str = common.run_tag("vecrecall"),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Remove each query's seen items from a run and keep its k best; refuses to leave a query short of k unless asked.

    Example: vecrecall exclude-seen --run runs/ml/tt-deep.run --seen runs/ml/tt/seen.csv -k 100 --out runs/ml/tt.run
    """
    from ..artifacts import Manifest, check_out, input_entry, sha256_file
    from ..io.interactions import read_interactions
    from ..io.runs import read_run, run_format, run_manifest, write_run
    from ..progress import out as stdout
    from ..twotower.topk import exclude_seen as apply

    check_out(out, overwrite, inputs=(run, seen))
    kind = run_format(out, fmt)
    df = read_run(run)
    seen_df = read_interactions(seen)[["qid", "docid"]]
    filtered, stats = apply(df, seen_df, k, allow_short)
    manifest = Manifest(type="run", params={"exclude_seen": {"k": k, "allow_short": allow_short}, "run_tag": run_tag},
                        inputs={"run": input_entry(Path(run).resolve(), run_manifest(run), sha256_file(run)),
                                "seen": input_entry(Path(seen).resolve(), digest=sha256_file(seen))},
                        stats=stats)
    write_run(filtered, out, manifest, kind, run_tag, overwrite=overwrite)
    if json_out:
        common.print_json({"out": str(out), **stats})
        return
    stdout.print(f"[green]wrote[/] {out}: {stats['queries']:,} queries, {stats['removed']:,} seen results removed, "
                 f"top {k} kept")


def register(app: typer.Typer) -> None:
    app.command("exclude-seen")(exclude_seen)
