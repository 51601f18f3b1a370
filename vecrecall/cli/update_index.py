"""vecrecall update-index (add, delete, replace vectors in an index directory) and vecrecall rebuild (a new version
with the recorded parameters, swapped in atomically). The work is in vecrecall.indexes.update."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def update_index(
    index: Path = typer.Option(..., "--index", help="Index directory to update (from build-index, update-index or rebuild)."),
    add: Optional[Path] = typer.Option(None, "--add", help="Embeddings artifact (vecrecall encode, same model) whose rows are added."),
    delete: Optional[Path] = typer.Option(None, "--delete", help="Text file of ids to delete, one per line (document ids for a chunked index)."),
    replace: bool = typer.Option(False, "--replace", help="Let --add replace rows whose id is already in the index (else that is refused)."),
    out: Optional[Path] = typer.Option(None, "--out", help="New index directory (default: --index itself, with --overwrite)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out (or --index, when --out is not given) by an atomic swap; readers of the old version keep it."),
    json_out: bool = common.JSON,
) -> None:
    """Add, delete or replace vectors in an index and write the result as a new version.

    Rows are compacted: the new version answers as a fresh build over the surviving rows followed by the added ones. Backends that cannot change in place (annoy; faiss HNSW for deletes) are rebuilt from the vectors they store, and the output says so; faiss IVF updates report centroid drift and recommend `vecrecall rebuild` past 10%.

    Example: vecrecall update-index --index runs/sample/flat --add runs/sample/new_emb --delete gone.txt --out runs/sample/flat2
    """
    from ..indexes.update import update_index as update
    from ..progress import console
    from ..progress import out as stdout

    res = update(index, out, add, delete, replace, overwrite)
    for warning in res.warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
    for note in res.notes:
        console.print(f"[yellow]note:[/] {note}", markup=True, highlight=False)
    if json_out:
        common.print_json({"out": str(res.out), "version": res.manifest.stats["version"], "base_rows": res.base_rows,
                           "rows": res.rows, "deleted": res.deleted, "replaced": res.replaced, "added": res.added,
                           "unknown_ids": res.unknown, "method": res.method, "reason": res.reason, "drift": res.drift})
        return
    m = res.manifest
    stdout.print(f"[green]wrote[/] {res.out}: {res.label}, {res.base_rows:,} → {res.rows:,} rows (deleted {res.deleted:,}, "
                 f"replaced {res.replaced:,}, added {res.added:,}), {res.method} in {m.stats['build_s']:.2f}s, "
                 f"version {m.stats['version']}", highlight=False)
    d = res.drift
    if d and res.added:
        since = d["since_training"]
        stdout.print(f"centroid drift: {d['share']:.1%} of the {d['added']:,} added vectors lie beyond the 95th-"
                     f"percentile distance to their IVF centroid (since training: {since['share']:.1%} of "
                     f"{since['added']:,}; re-train above {d['threshold']:.0%}"
                     + (f" once {d['min_added']} are added)" if since["added"] < d["min_added"] else ")"),
                     highlight=False)


def rebuild(
    index: Path = typer.Option(..., "--index", help="Index directory to rebuild with its recorded backend, metric and build parameters."),
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Build from these embeddings (default: the vectors the index stores)."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Documents, for text backends (bm25)."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    out: Optional[Path] = typer.Option(None, "--out", help="Write the new version here instead of swapping it in for --index."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for every random choice (default: the index's recorded seed)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists (--index itself is always replaced by an atomic swap)."),
    json_out: bool = common.JSON,
) -> None:
    """Build a new version of an index with its recorded parameters and swap it in atomically.

    Re-trains IVF centroids after drift, drops hnswlib's deleted vectors, or indexes the day's re-encoded documents (--embeddings) with the same parameters. Processes that loaded the old version keep querying it; a load during the swap reads one version, never a mix.

    Example: vecrecall rebuild --index runs/sample/ivf
    """
    from ..indexes.update import rebuild_index
    from ..progress import out as stdout

    m = rebuild_index(index, out, embeddings, corpus, common.fields(id_field, text_field, title_field, no_header), seed,
                      overwrite)
    if json_out:
        common.print_json(m.to_dict())
        return
    shown = {k: v for k, v in m.params.items() if k not in ("backend", "seed", "storage", "server_version", "flavour")}
    where = out if out is not None else index
    stdout.print(f"[green]wrote[/] {where}: {m.params['backend']} {shown}, {m.stats['n']:,} rows, built in "
                 f"{m.stats['build_s']:.2f}s" + ("" if out is not None else " (swapped in for the old version)"),
                 highlight=False)


def register(app: typer.Typer) -> None:
    app.command("update-index")(update_index)
    app.command("rebuild")(rebuild)
