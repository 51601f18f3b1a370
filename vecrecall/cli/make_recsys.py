"""vecrecall make-recsys: a small synthetic user/item set for match evaluation (recommendation retrieval)."""

from __future__ import annotations

from pathlib import Path

import typer

from . import common


def make_recsys(
    out: Path = typer.Option(..., "--out", help="Output directory: items/ (embeddings), users.npy + users.ids.txt, interactions.csv."),
    users: int = typer.Option(500, "--users", help="Number of users."),
    items: int = typer.Option(2000, "--items", help="Number of items."),
    dim: int = typer.Option(32, "--dim", help="Vector dimension."),
    clusters: int = typer.Option(20, "--clusters", help="Taste clusters the items fall into."),
    per_user: int = typer.Option(5, "--per-user", help="Held-out interactions per user (the binary qrels)."),
    noise: float = typer.Option(0.5, "--noise", help="Noise on the exported user vectors (0 = the users' true taste)."),
    temperature: float = typer.Option(0.1, "--temperature", help="Softmax temperature of the interaction sampling."),
    seed: int = common.SEED,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Write a synthetic user/item set: item embeddings, exported user vectors and user→item interactions.

    Example: vecrecall make-recsys --out runs/recsys && vecrecall build-index --embeddings runs/recsys/items --metric ip --out runs/recsys/flat
    """
    from ..progress import out as stdout
    from ..recsys import RecsysSpec, write_recsys

    spec = RecsysSpec(users=users, items=items, dim=dim, clusters=clusters, per_user=per_user, noise=noise,
                      temperature=temperature, seed=seed)
    m = write_recsys(out, spec, overwrite)
    if json_out:
        common.print_json({"out": str(out), **m.stats})
        return
    stdout.print(f"[green]wrote[/] {out}: {m.stats['items']:,} items ({out}/items), {m.stats['users']:,} users "
                 f"({out}/users.npy), {m.stats['interactions']:,} interactions ({out}/interactions.csv)")


def register(app: typer.Typer) -> None:
    app.command("make-recsys")(make_recsys)
