"""vecrecall backends [NAME]: the registered index backends, their capabilities and parameter tables."""

from __future__ import annotations

from typing import Optional

import typer

from . import common

WIDTH = 80


def backends(
    name: Optional[str] = typer.Argument(None, help="A backend (faiss, hnswlib, …): show its parameter table."),
    json_out: bool = common.JSON,
) -> None:
    """List the index backends, or one backend's build and search parameters (defaults, valid ranges, index types,
    default sweep grids). These are the options build-index, query and sweep take for that backend.

    Example: vecrecall backends faiss
    """
    from ..indexes.base import get_backend, specs
    from ..progress import out as stdout

    chosen = {get_backend(name).spec.name: get_backend(name).spec} if name else specs()
    if json_out:
        common.print_json([s.describe() for s in chosen.values()] if not name else next(iter(chosen.values())).describe())
        return
    text = render_one(next(iter(chosen.values()))) if name else render_all(list(chosen.values()))
    stdout.print(text, markup=False, highlight=False, soft_wrap=True)


def _wrap(text: str, indent: int, first: str = "") -> list[str]:
    import textwrap

    pad = " " * indent
    return textwrap.wrap(text, WIDTH, initial_indent=first.ljust(indent) if first else pad, subsequent_indent=pad,
                         break_on_hyphens=False) or [first]


def render_all(all_specs: list) -> str:
    """One block per backend: what it is and what it can do (80 columns)."""
    lines = ["Index backends (vecrecall backends NAME shows a backend's parameters):", ""]
    for s in all_specs:
        lines += _wrap(s.summary, 10, s.name)
        lines += _wrap("; ".join(c for c in s.capabilities() if not c.startswith(("exact", "package"))), 10)
        lines.append("")
    return "\n".join(lines).rstrip()


def render_one(s) -> str:
    """A backend's capabilities and its build/search parameter tables (80 columns)."""
    lines = [f"{s.name}: {s.summary}"]
    lines += _wrap("; ".join(s.capabilities()), 2)
    for kind, title in (("build", f"build parameters (build-index --backend {s.name}; sweep build:)"),
                        ("search", "search parameters (query; sweep search:, default grid shown)")):
        params = [p for p in s.all_params if p.kind == kind]
        lines += ["", title]
        if not params:
            lines.append("  (none)")
        for p in params:
            head = f"  {p.option} {p.metavar if not p.choices else ''}".rstrip()
            facts = []
            if p.types:
                facts.append("for " + ", ".join(p.types))
            facts.append(f"default {p.shown_default()}")
            if not (p.type is str and not p.choices):
                facts.append(p.range_text())
            if p.grid:
                facts.append(f"grid {p.grid}")
            lines += _wrap(" · ".join(facts), 24, head) if len(head) < 23 else [head] + _wrap(" · ".join(facts), 24)
            lines += _wrap(p.help, 24)
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("backends")(backends)
