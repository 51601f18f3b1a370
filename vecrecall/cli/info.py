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
    from rich.text import Text
    from rich.tree import Tree

    from ..artifacts import read_manifest
    from ..progress import out

    m = read_manifest(path)
    if json_out:
        common.print_json(m.to_dict())
        return

    def label(*parts: tuple[str, str]) -> Text:
        # Long lines wrap at spaces (a path too long for a line folds) instead of being cropped at the edge; values
        # are plain text, never read as markup.
        return Text.assemble(*parts, overflow="fold")

    def node(tree: Tree, manifest) -> None:  # type: ignore[no-untyped-def]
        for key, value in manifest.params.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items() if v not in (None, "", {}))
            tree.add(label((key, "cyan"), (f" = {value}", "")))
        if manifest.stats:
            tree.add(label(("stats", "magenta"), (" " + ", ".join(f"{k}={v}" for k, v in manifest.stats.items()), "")))
        for name, entry in manifest.inputs.items():
            sha = f" sha256:{entry['sha256'][:12]}" if entry.get("sha256") else ""
            child = tree.add(label((f"input {name}", "yellow"), (f": {entry.get('path')}{sha}", "")))
            parent = manifest.parent(name)
            if parent is not None:
                sub = child.add(label((parent.type, "bold"), (f" (vecrecall {parent.vecrecall_version}, {parent.created})", "")))
                node(sub, parent)

    root = Tree(label((m.type, "bold"), (f" {path} (vecrecall {m.vecrecall_version}, {m.created})", "")))
    node(root, m)
    out.print(root, soft_wrap=False)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
