"""`vecrecall query --query TEXT`: one query typed on the command line, its top k printed as a table (or JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional


def print_text_query(index: Path, text: str, k: int, params: dict[str, Any], model: Optional[str], use_cache: bool,
                     filter_expr: Optional[str], json_out: bool) -> None:
    """Search, then print rank, id, score and the start of each document's text in at most the terminal's width
    (80 columns when piped)."""
    from dataclasses import asdict

    from rich import box
    from rich.table import Table

    from ..progress import console, out
    from ..search import search_text
    from . import common

    res = search_text(index, text, k, params, model=model, use_cache=use_cache, filter_expr=filter_expr)
    for note in res.notes:
        console.print(f"[yellow]note:[/] {note}", markup=True, highlight=False)
    if json_out:
        common.print_json({"query": res.query, "index": res.index, "backend": res.backend, "k": k,
                           "corpus": res.corpus, "hits": [asdict(h) for h in res.hits]})
        return
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False, title_justify="left",
                  title=f"{res.index} ({res.backend}): top {len(res.hits)} for {res.query!r}")
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("id", no_wrap=True, max_width=24, overflow="fold")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("text", no_wrap=True, overflow="ellipsis", ratio=1)
    for h in res.hits:
        table.add_row(str(h.rank), h.id, f"{h.score:.4f}", " ".join((h.text or "").split()) if h.text is not None else "-")
    out.print(table, soft_wrap=False, markup=False, highlight=False)
