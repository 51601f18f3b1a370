"""vecrecall encode: texts → embeddings artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def encode(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Documents: a BEIR directory, JSONL, CSV/TSV, Parquet or TREC SGML."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="Queries instead of documents (the query prefix is applied)."),
    out: Path = typer.Option(..., "--out", help="Output directory (embeddings.npy, ids.parquet, manifest.json)."),
    model: Optional[str] = common.MODEL,
    batch_size: int = typer.Option(32, "--batch-size", help="Texts per model batch."),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help="L2-normalise vectors (models ending in a Normalize layer always are)."),
    query_prefix: str = typer.Option("", "--query-prefix", help="Prefix for query texts (e.g. 'query: '); recorded so `query` applies it."),
    doc_prefix: str = typer.Option("", "--doc-prefix", help="Prefix for document texts (e.g. 'passage: ')."),
    dtype: str = typer.Option("float32", "--dtype", help="Storage type: float32 or float16."),
    chunk_tokens: Optional[int] = typer.Option(None, "--chunk-tokens", help="Split documents into windows of N model tokens."),
    chunk_overlap: int = typer.Option(0, "--chunk-overlap", help="Tokens shared by consecutive chunks."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    no_cache: bool = common.NO_CACHE,
    device: Optional[str] = typer.Option(None, "--device", help="torch device (default cpu)."),
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Encode documents (--corpus) or queries (--queries) with a sentence-transformers model.

    Example: vecrecall encode --corpus sample_data --out runs/sample/emb
    """
    from ..embed import encode_source
    from ..encoders import EncodeSettings
    from ..errors import UserError
    from ..progress import out as stdout

    if (corpus is None) == (queries is None):
        raise UserError("pass exactly one of --corpus or --queries")
    role = "corpus" if corpus is not None else "queries"
    settings = EncodeSettings(normalize=normalize, query_prefix=query_prefix, doc_prefix=doc_prefix, dtype=dtype, batch_size=batch_size)
    m = encode_source(corpus or queries, role, out, model, settings, common.fields(id_field, text_field, title_field, no_header),
                      chunk_tokens, chunk_overlap, not no_cache, overwrite, device=device)
    if json_out:
        common.print_json(m.to_dict())
    else:
        s = m.stats
        stdout.print(f"[green]wrote[/] {out}: {s['rows']:,} × {s['dim']} ({s['records']:,} {role} records) "
                     f"in {s['seconds']:.1f}s, {s['rows_per_s'] or 0:,.0f} rows/s, model {m.params['model']['name']}")


def register(app: typer.Typer) -> None:
    app.command("encode")(encode)
