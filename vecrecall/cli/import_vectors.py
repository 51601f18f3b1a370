"""vecrecall import-vectors: a vector file made elsewhere → embeddings artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def import_vectors(
    source: Path = typer.Argument(..., help="Vector file: .npy, .parquet, .fvecs/.bvecs/.ivecs, .fbin/.u8bin/.i8bin/.ibin or ann-benchmarks .hdf5."),
    out: Path = typer.Option(..., "--out", help="Output directory (embeddings.npy, ids.parquet, manifest.json), as `encode` writes."),
    ids: Optional[Path] = typer.Option(None, "--ids", help="Ids, one per vector in row order: a text file (one per line) or Parquet (column id). Default: the Parquet file's id column, else row numbers 0…n-1."),
    role: Optional[str] = typer.Option(None, "--role", help="corpus or queries (default: queries for an HDF5 'test' dataset, else corpus)."),
    metric_hint: Optional[str] = typer.Option(None, "--metric-hint", help="ip, l2 or cosine the vectors were made for (recorded; an HDF5 file's distance attribute is used when present)."),
    vector_column: Optional[str] = typer.Option(None, "--vector-column", help="Parquet: the list column holding the vectors (default: the only list-of-numbers column)."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Parquet: the column holding the ids (default: _id, id, docid, … if present)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="HDF5: the dataset to import, train (default) or test (or any 2-d dataset)."),
    dtype: str = typer.Option("float32", "--dtype", help="Storage type: float32 or float16."),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Import vectors made by another tool as an embeddings artifact (model 'external'), streaming block by block.

    Example: vecrecall import-vectors sift_base.fvecs --metric-hint l2 --out runs/sift/emb
    """
    from ..io.vectors.importer import import_vectors as run_import
    from ..progress import console
    from ..progress import out as stdout

    res = run_import(source, out, ids=ids, id_column=id_column, vector_column=vector_column, dataset=dataset, role=role,
                     metric_hint=metric_hint, dtype=dtype, overwrite=overwrite)
    m = res.manifest
    if res.zero_rows:
        console.print(f"[yellow]warning[/]: {res.zero_rows:,} all-zero vector(s), the first with id '{res.first_zero}'; "
                      "under cosine they score 0 against every query")
    if json_out:
        common.print_json(m.to_dict())
        return
    s, p = m.stats, m.params
    kind = "query" if p["role"] == "queries" else "corpus"
    stdout.print(f"[green]wrote[/] {out}: {s['rows']:,} × {s['dim']} {kind} vectors from {source} "
                 f"({p['model']['format']}, {p['model']['source_dtype']}), ids: {res.ids_origin}")
    metric = f"metric {p['metric']} ({p['metric_from']})" if p["metric"] else "no metric recorded (--metric-hint records one)"
    if p["role"] == "queries":
        stdout.print(f"{metric}; search with: vecrecall query --index INDEX --queries {out} --out RUN")
    elif p["metric"]:
        stdout.print(f"{metric}; index with: vecrecall build-index --embeddings {out} --metric {p['metric']} --out INDEX")
    else:
        stdout.print(f"{metric}; choose --metric (ip, l2 or cosine) when you build-index")

def register(app: typer.Typer) -> None:
    app.command("import-vectors")(import_vectors)
