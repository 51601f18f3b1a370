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
    import json
    from collections import Counter

    import numpy as np

    from ..artifacts import Manifest, atomic_file, check_out, write_file_manifest
    from ..errors import UserError
    from ..io.texts import FieldSpec, source_entry
    from ..progress import out as stdout
    from ..training.data import load_corpus
    from ..training.synth import load_titles, parse_methods, synth_queries as make

    check_out(out, overwrite)
    methods = parse_methods(method)
    if per_doc < 1:
        raise UserError(f"--per-doc {per_doc}: must be at least 1")
    if max_words < 1:
        raise UserError(f"--max-words {max_words}: must be at least 1")
    spec = FieldSpec(id_field, text_field, "")
    corp = load_corpus(corpus, spec)
    titles = load_titles(corpus, spec) if "title" in methods else None
    ids, texts = corp.ids, corp.texts
    if max_docs is not None:
        if max_docs < 1:
            raise UserError(f"--max-docs {max_docs}: must be at least 1")
        keep = sorted(np.random.default_rng(seed).permutation(len(ids))[:max_docs])
        ids, texts = [ids[i] for i in keep], [texts[i] for i in keep]
        titles = [titles[i] for i in keep] if titles else None
    by_method: Counter[str] = Counter()
    n = 0
    with atomic_file(out, overwrite=overwrite) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for q in make(ids, texts, titles, methods, per_doc, seed, max_words):
            fh.write(json.dumps(q.to_dict(), ensure_ascii=False) + "\n")
            by_method[q.method] += 1
            n += 1
        fh.flush()
        if n == 0:
            raise UserError(f"{corpus}: no pseudo-query could be made (documents empty or stop words only)")
    manifest = Manifest(
        type="training-pairs",
        params={"per_doc": per_doc, "methods": methods, "max_words": max_words, "max_docs": max_docs, "seed": seed},
        inputs={"corpus": source_entry(corpus, "corpus")},
        stats={"queries": n, "documents": len(ids), "by_method": dict(by_method)},
    )
    write_file_manifest(out, manifest)
    if json_out:
        common.print_json({"out": str(out), **manifest.stats})
    else:
        stdout.print(f"[green]wrote[/] {out}: {n:,} pseudo-queries for {len(ids):,} documents "
                     f"({', '.join(f'{k} {v:,}' for k, v in by_method.items())})")


def register(app: typer.Typer) -> None:
    app.command("synth-queries")(synth_queries)
