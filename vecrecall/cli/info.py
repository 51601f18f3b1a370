"""vecrecall info: an artifact's manifest and its lineage chain."""

from __future__ import annotations

from pathlib import Path

import typer

from . import common


def info(
    path: Path = typer.Argument(..., help="Any vecrecall artifact: embeddings/index/sweep directory, run file, model directory."),
    json_out: bool = common.JSON,
) -> None:
    """Show what made an artifact, from which inputs, with which parameters, and the chain behind it.

    Example: vecrecall info runs/sample/ivf
    """
    from rich.tree import Tree

    from ..artifacts import read_manifest
    from ..progress import out

    m = read_manifest(path)
    if json_out:
        common.print_json(m.to_dict())
        return

    def node(tree: Tree, manifest) -> None:  # type: ignore[no-untyped-def]
        for key, value in manifest.params.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items() if v not in (None, "", {}))
            tree.add(f"[cyan]{key}[/] = {value}")
        if manifest.stats:
            tree.add("[magenta]stats[/] " + ", ".join(f"{k}={v}" for k, v in manifest.stats.items()))
        for name, entry in manifest.inputs.items():
            child = tree.add(f"[yellow]input {name}[/]: {entry.get('path')}" + (f" sha256:{entry['sha256'][:12]}" if entry.get("sha256") else ""))
            parent = manifest.parent(name)
            if parent is not None:
                sub = child.add(f"[bold]{parent.type}[/] (vecrecall {parent.vecrecall_version}, {parent.created})")
                node(sub, parent)

    root = Tree(f"[bold]{m.type}[/] {path} (vecrecall {m.vecrecall_version}, {m.created})")
    node(root, m)
    out.print(root)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
