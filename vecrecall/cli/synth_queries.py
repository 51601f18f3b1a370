"""vecrecall synth-queries: offline pseudo-queries from documents (cold start), written as training pairs JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def synth_queries(
    corpus: Path = typer.Option(..., "--corpus", help="Documents: a BEIR directory, JSONL, CSV/TSV, Parquet or TREC SGML."),
    out: Path = typer.Option(..., "--out", help="Training pairs JSONL (qid, query, positive_id, positive, method), usable as finetune --train."),
    per_doc: int = typer.Option(1, "--per-doc", help="Pseudo-queries per document."),
    method: str = typer.Option("keyphrases,sentence", "--method", help="Comma list of keyphrases (tf-idf terms), sentence (a sampled sentence window), title."),
    max_words: int = typer.Option(12, "--max-words", help="sentence: longest window kept."),
    max_docs: Optional[int] = typer.Option(None, "--max-docs", help="Only the first N documents… after a seeded shuffle."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    seed: int = common.SEED,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
) -> None:
    """Make pseudo-queries from documents with no model: tf-idf key phrases, sampled sentences or titles.

    Example: vecrecall synth-queries --corpus sample_data --per-doc 2 --out runs/sample/synth.jsonl
    """
    from ..io.texts import FieldSpec
    from ..progress import out as stdout
    from ..training.synth import parse_methods, write_synth_queries

    methods = parse_methods(method)
    manifest = write_synth_queries(corpus, out, FieldSpec(id_field, text_field, ""), methods, per_doc, max_words,
                                   max_docs, seed, overwrite)
    n, by_method = manifest.stats["queries"], manifest.stats["by_method"]
    if json_out:
        common.print_json({"out": str(out), **manifest.stats})
    else:
        stdout.print(f"[green]wrote[/] {out}: {n:,} pseudo-queries for {manifest.stats['documents']:,} documents "
                     f"({', '.join(f'{k} {v:,}' for k, v in by_method.items())})")
        if manifest.stats["documents_without_query"]:
            stdout.print(f"note: {manifest.stats['documents_without_query']:,} documents gave no query (too short, or "
                         "stop words only)")


def register(app: typer.Typer) -> None:
    app.command("synth-queries")(synth_queries)
