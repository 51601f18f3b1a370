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
    backend: Optional[str] = typer.Option(None, "--backend", help="Runtime: torch (default), onnx (ONNX Runtime) or openvino. onnx/openvino export the model once (offline) and run on the CPU; pip install \"vecrecall[fast]\". An export directory given as --model runs its own."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="none (default), int8 (kernels for this CPU: avx512_vnni, avx512, avx2 or arm64) or int8:CONFIG; needs --backend onnx or openvino."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the model (default: the runtime's own choice)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Texts per model batch (texts are batched by length)."),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help="L2-normalise vectors (models ending in a Normalize layer always are). Texts that are empty or encode to a zero vector are left out either way, with a warning."),
    query_prefix: str = typer.Option("", "--query-prefix", help="Prefix for query texts (e.g. 'query: '); recorded so `query` applies it."),
    doc_prefix: str = typer.Option("", "--doc-prefix", help="Prefix for document texts (e.g. 'passage: ')."),
    dtype: str = typer.Option("float32", "--dtype", help="Storage type: float32 or float16."),
    chunk_tokens: Optional[int] = typer.Option(None, "--chunk-tokens", help="Split documents into windows of N model tokens."),
    chunk_overlap: int = typer.Option(0, "--chunk-overlap", help="Tokens shared by consecutive chunks."),
    shard: Optional[str] = typer.Option(None, "--shard", help="Encode shard I of N (I/N, from 0): a contiguous range of the source; join the shards with `vecrecall merge`."),
    block_size: int = typer.Option(1024, "--block-size", help="Records per staged block (the unit of --resume and of shard boundaries)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted encode of the same --out (verified blocks are kept); keep the blocks if this run is interrupted too."),
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

    Documents or queries whose text is empty (or encodes to a zero vector) are left out of the artifact with a warning naming the first ids: they would tie with every other vector.

    Example: vecrecall encode --corpus sample_data --out runs/sample/emb
    """
    from ..embed import Shard, encode_source
    from ..encoders import EncodeSettings
    from ..errors import UserError
    from ..progress import out as stdout

    if (corpus is None) == (queries is None):
        raise UserError("pass exactly one of --corpus or --queries")
    role = "corpus" if corpus is not None else "queries"
    parsed = Shard.parse(shard) if shard is not None else None
    settings = EncodeSettings(normalize=normalize, query_prefix=query_prefix, doc_prefix=doc_prefix, dtype=dtype, batch_size=batch_size)
    m = encode_source(corpus or queries, role, out, model, settings, common.fields(id_field, text_field, title_field, no_header),
                      chunk_tokens, chunk_overlap, not no_cache, overwrite, block=block_size, device=device,
                      backend=backend, quantize=quantize, threads=threads, shard=parsed, resume=resume)
    if json_out:
        common.print_json(m.to_dict())
    else:
        s, where = m.stats, ""
        if parsed:
            lo, hi = m.params["shard"]["records"]
            where = f" shard {parsed.index}/{parsed.count}: records {lo:,}–{hi - 1:,} of {s['source_records']:,},"
        from rich.markup import escape

        kind = {"corpus": "documents", "queries": "queries"}.get(role, f"{role} records")
        stdout.print(f"[green]wrote[/] {escape(str(out))}:{where} {s['rows']:,} × {s['dim']} ({s['records']:,} {kind}) "
                     f"in {s['seconds']:.1f}s, {s['rows_per_s'] or 0:,.0f} rows/s, model "
                     f"{escape(m.params['model']['name'])}")


def register(app: typer.Typer) -> None:
    app.command("encode")(encode)
