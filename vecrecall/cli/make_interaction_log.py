"""vecrecall make-interaction-log: a seeded synthetic interaction log with timestamps (and an item table) to try
finetune-two-tower without data of your own."""

from __future__ import annotations

from pathlib import Path

import typer

from . import common


def make_interaction_log(
    out: Path = typer.Option(..., "--out", help="Output directory: log.csv (user_id,item_id,timestamp[,label][,query]) and items.csv (item_id,title,genres)."),
    users: int = typer.Option(200, "--users", help="Number of users."),
    items: int = typer.Option(300, "--items", help="Number of items."),
    clusters: int = typer.Option(6, "--clusters", help="Taste clusters (the items' genre)."),
    days: int = typer.Option(20, "--days", help="Days of activity."),
    impressions: int = typer.Option(0, "--impressions", help="Items shown but not clicked beside each click (label 0 rows)."),
    queries: bool = typer.Option(False, "--queries", help="Give each click a query text (its cluster's name)."),
    seed: int = common.SEED,
    overwrite: bool = common.OVERWRITE,
) -> None:
    """Write a synthetic log: users prefer one cluster and click short daily sessions of fresh, appealing items.

    Example: vecrecall make-interaction-log --out runs/log && vecrecall finetune-two-tower --log runs/log/log.csv --items runs/log/items.csv --item-text title --item-features genres --text-model hash:64 --out runs/log/tt
    """
    from ..artifacts import atomic_dir, check_out
    from ..progress import out as stdout
    from ..twotower.synthetic import SyntheticSpec, synthetic_log

    check_out(out, overwrite)
    log, table = synthetic_log(SyntheticSpec(users=users, items=items, clusters=clusters, days=days,
                                             impressions=impressions, queries=queries, seed=seed))
    with atomic_dir(out, overwrite) as tmp:
        log.to_csv(tmp / "log.csv", index=False)
        table.to_csv(tmp / "items.csv", index=False)
    stdout.print(f"[green]wrote[/] {out}: log.csv ({len(log):,} rows, {log['user_id'].nunique():,} users), "
                 f"items.csv ({len(table):,} items)")


def register(app: typer.Typer) -> None:
    app.command("make-interaction-log")(make_interaction_log)
