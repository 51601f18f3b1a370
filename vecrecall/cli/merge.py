"""vecrecall merge: embeddings shards → one embeddings artifact."""

from __future__ import annotations

from pathlib import Path

import typer

from . import common


def merge(
    shards: list[Path] = typer.Argument(..., help="Shard directories written by `vecrecall encode --shard I/N` (any order)."),
    out: Path = typer.Option(..., "--out", help="Output embeddings directory."),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Join the shards of one encode into one embeddings artifact.

    The shards must share source file, model fingerprint (backend and quantisation included) and settings, and cover every record exactly once; otherwise one line names the two shards that disagree and nothing is written.

    Example: vecrecall merge runs/emb.0 runs/emb.1 --out runs/emb
    """
    from ..progress import out as stdout
    from ..shards import merge_shards

    m = merge_shards(shards, out, overwrite)
    if json_out:
        common.print_json(m.to_dict())
    else:
        s = m.stats
        stdout.print(f"[green]wrote[/] {out}: {s['rows']:,} × {s['dim']} from {s['shards']} shards "
                     f"({s['records']:,} records), model {m.params['model']['name']}")


def register(app: typer.Typer) -> None:
    app.command("merge")(merge)
