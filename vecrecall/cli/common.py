"""Options shared by several commands, so names and help read the same everywhere."""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

OVERWRITE = typer.Option(False, "--overwrite", help="Replace --out if it exists (the old artifact stays until the new one is complete).")
SEED = typer.Option(0, "--seed", help="Seed for every random choice.")
JSON = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
ID_FIELD = typer.Option(None, "--id-field", help="Field/column holding the id (default: _id, id, docid, docno, qid…).")
TEXT_FIELD = typer.Option(None, "--text-field", help="Field/column holding the text (default: the first of text, contents, body, query, question; TREC topics: title, or desc…).")
TITLE_FIELD = typer.Option(None, "--title-field", help="Field/column holding a title, prepended to the text ('' for none; default: title, when there is one).")
NO_HEADER = typer.Option(False, "--no-header", help="CSV/TSV texts have no header row: columns are id, text[, title] (default: detected; a first row naming no known column is data).")
SPLIT = typer.Option("test", "--split", help="BEIR qrels split, when --qrels is a directory (qrels/<split>.tsv[.gz]).")
MODEL = typer.Option(None, "--model", help="'default' (bundled all-MiniLM-L6-v2), a local sentence-transformers directory, or hash:DIM.")
RUN_OUT = typer.Option(..., "--out", help="Run file: TREC text, or Parquet if it ends in .parquet.")
RUN_FORMAT = typer.Option(None, "--format", help="trec or parquet (default: by --out extension).")


def run_tag(default: str) -> Any:
    return typer.Option(default, "--run-tag", help="Tag in the TREC run's last column.")


NO_CACHE = typer.Option(False, "--no-cache", help="Do not read or write the vector cache (~/.cache/vecrecall, or $VECRECALL_CACHE_DIR).")


def fields(id_field: Optional[str], text_field: Optional[str], title_field: Optional[str], no_header: bool = False) -> Any:
    from ..io.texts import FieldSpec

    return FieldSpec(id_field, text_field, title_field, header=False if no_header else None)


def float_list(text: Optional[str], option: str) -> Optional[list[float]]:
    """'0.3, 0.7' → [0.3, 0.7] (None stays None); anything else is a one-line error naming the option."""
    from ..errors import UserError

    if text is None:
        return None
    try:
        return [float(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise UserError(f"{option} {text}: expected comma-separated numbers, e.g. 0.3,0.7") from None


def int_list(text: Optional[str], option: str) -> Optional[list[int]]:
    """'10,100' → [10, 100] (None stays None); only positive whole numbers are accepted."""
    from ..errors import UserError

    values = float_list(text, option)
    if values is None:
        return None
    if any(v != int(v) or v < 1 for v in values):
        raise UserError(f"{option} {text}: expected comma-separated positive whole numbers, e.g. 10,100")
    return [int(v) for v in values]


def _finite(x: Any) -> Any:
    """NaN and ±inf as null: json.dumps writes them as bare NaN/Infinity, which strict JSON parsers refuse."""
    if isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral):  # float, numpy floats
        return float(x) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def print_json(data: Any) -> None:
    """`data` as strict JSON (NaN and inf become null)."""
    typer.echo(json.dumps(_finite(data), indent=2, default=str, allow_nan=False))


def exists(path: Path, option: str) -> Path:
    from ..errors import UserError

    if not Path(path).exists():
        raise UserError(f"{option} {path}: no such file or directory")
    return path


def missing_option(option: str, when: str) -> NoReturn:
    """The parser's own usage error "Missing option '--out'" (exit 2, with the command's --help hint; MissingParameter
    under --debug) for an option required only in some uses, e.g. query's --out with --queries."""
    import importlib

    for package in ("typer._click", "click"):  # Typer 0.2x vendors Click as typer._click
        try:
            globals_, exceptions = (importlib.import_module(f"{package}.{m}") for m in ("globals", "exceptions"))
        except ImportError:
            continue
        ctx = globals_.get_current_context(silent=True)
        param = next((p for p in ctx.command.params if option in getattr(p, "opts", ())), None) if ctx else None
        if param is not None:
            raise exceptions.MissingParameter(ctx=ctx, param=param, message=f"It is required {when}.")
    from ..errors import UserError

    raise UserError(f"Missing option '{option}': required {when}")
