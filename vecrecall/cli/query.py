"""vecrecall query: queries against an index directory → run (TREC or Parquet).

Search parameters are options generated from the backend registry (vecrecall.cli.params)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from . import common
from .params import assignments, merge, param_option, with_backend_options


def query(
    index: Path = typer.Option(..., "--index", help="Index directory from `vecrecall build-index`."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="Query texts (BEIR dir, JSONL, CSV, TREC topics…), a query embeddings artifact, or user vectors (users.npy + users.ids.txt/.parquet)."),
    text: Optional[str] = typer.Option(None, "--query", help="One query text instead of --queries: print its top k as a table (rank, id, score, text from the index's corpus); no --out needed."),
    k: int = typer.Option(100, "-k", "--k", help="Results per query (at most the corpus size; the run manifest records the k used)."),
    param: List[str] = param_option("search"),
    out: Optional[Path] = typer.Option(None, "--out", help="Run file: TREC text, or Parquet if it ends in .parquet (required with --queries)."),
    fmt: Optional[str] = common.RUN_FORMAT,
    run_tag: str = common.run_tag("vecrecall"),
    model: Optional[str] = typer.Option(None, "--model", help="Query encoder; must be the index's model (default: the one recorded in the index)."),
    filter_expr: Optional[str] = typer.Option(None, "--filter", help="Metadata filter over the index's ids.parquet columns, e.g. \"year >= 2020 and lang == 'en'\" (comparisons, and/or/not, in (...), 'YYYY-MM-DD' dates). Pre-filters where the backend can, else over-fetches."),
    per_chunk: bool = typer.Option(False, "--per-chunk", help="Chunked indexes: one line per chunk instead of per document (max over chunks)."),
    id_field: Optional[str] = common.ID_FIELD,
    text_field: Optional[str] = common.TEXT_FIELD,
    title_field: Optional[str] = common.TITLE_FIELD,
    no_header: bool = common.NO_HEADER,
    no_cache: bool = common.NO_CACHE,
    overwrite: bool = common.OVERWRITE,
    json_out: bool = common.JSON,
    backend_params: Optional[dict[str, Any]] = None,
) -> None:
    """Search an index with every query and write the ranked run.

    Search parameters apply where the index takes them (vecrecall backends NAME); the values the library really uses
    (e.g. ef raised to k) are recorded in the run manifest and named on stderr.

    Example: vecrecall query --index runs/sample/hnsw --queries sample_data -k 100 --out runs/sample/hnsw.run

    One query, read on screen: vecrecall query --index runs/sample/flat --query "waveguide microwave" -k 10
    """
    from ..errors import UserError

    if (text is None) == (queries is None):
        raise UserError("give --queries (a file of queries, with --out) or --query TEXT (one query, printed)")
    if text is not None:
        from .adhoc import print_text_query

        return print_text_query(index, text, k, merge(backend_params or {}, assignments(param)), model, not no_cache,
                                filter_expr, json_out)
    if out is None:
        common.missing_option("--out", "with --queries (the run file to write)")
    from ..artifacts import check_out
    from ..io.runs import run_format, write_results
    from ..progress import console
    from ..progress import out as stdout
    from ..search import run_query

    check_out(out, overwrite)
    kind = run_format(out, fmt)
    res = run_query(index, queries, k, merge(backend_params or {}, assignments(param)), model,
                    common.fields(id_field, text_field, title_field, no_header), per_chunk, not no_cache,
                    filter_expr=filter_expr)
    for note in res.notes or []:
        console.print(f"[yellow]note:[/] {note}", markup=True, highlight=False)
    res.manifest.params["run_tag"] = run_tag
    hits = res.hits
    write_results(res.qids, hits.docids, hits.scores, hits.valid, out, res.manifest, kind, run_tag, overwrite=overwrite)
    if json_out:
        common.print_json({"out": str(out), "k": res.k, "k_used": res.k_used, **res.manifest.stats})
    else:
        top = f"top {res.k_used}" + (f" (asked {res.k})" if res.k_used < res.k else "")
        short = f", {res.short:,} returned fewer" if res.short else ""
        stdout.print(f"[green]wrote[/] {out} ({kind}): {res.n_queries:,} queries × {top}{short}, "
                     f"search {res.search_s:.3f}s, {res.qps:,.0f} queries/s", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("query")(with_backend_options(query, "search"))
