"""The ids of imported vectors: from an ids file (`--ids`), from the vector file itself, or row numbers.

Every id goes through the one id rule (`vecrecall/io/ids.py`); ids must be non-empty and unique, and there must be
exactly one per vector.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError
from ..files import format_suffix, iter_lines, parquet_columns, read_parquet
from ..ids import norm_id, norm_ids
from ..texts import ID_FIELDS, FieldSpec


def read_ids_file(path: str | Path) -> tuple[list[str], str]:
    """(ids, what a message calls an entry: 'line' or 'row') from a text file (one id per line, gzipped or not;
    trailing blank lines ignored) or a Parquet file (column `id`, else the usual id names, else its only column)."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"--ids {p}: no such file or directory")
    if format_suffix(p) == ".parquet":
        cols = parquet_columns(p)
        col = FieldSpec().pick(cols, None, ID_FIELDS) or (cols[0] if len(cols) == 1 else None)
        if cols and col is None:
            raise UserError(f"{p}: no id column (looked for {', '.join(ID_FIELDS)}; columns: {', '.join(cols[:8])}); "
                            "name it 'id'")
        table = read_parquet(p, columns=[col] if col else None)
        ids = norm_ids(table[col if col else table.columns[0]])
        _check(p, ids, "row", 0)
        return ids, "row"
    ids = [norm_id(line) for _, line in iter_lines(p)]
    while ids and ids[-1] == "":
        ids.pop()
    _check(p, ids, "line", 1)
    return ids, "line"


def _check(path: Path, ids: list[str], unit: str, base: int) -> None:
    if "" in ids:
        raise UserError(f"{path} {unit} {ids.index('') + base}: empty id; give every vector an id ({'one per line' if unit == 'line' else 'no missing values'})")
    check_unique(ids, f"{path}", unit, base)


def check_unique(ids: list[str], where: str, unit: str = "row", base: int = 0) -> None:
    """Refuse a repeated id, naming both of its positions."""
    first: dict[str, int] = {}
    for i, x in enumerate(ids):
        j = first.setdefault(x, i)
        if j != i:
            raise UserError(f"{where} {unit} {i + base}: id '{x}' repeats {unit} {j + base}; ids must be unique")


def row_number_ids(n: int) -> list[str]:
    """'0', '1', … 'n-1': the ids of vectors that came without any."""
    return [str(i) for i in range(n)]


def check_count(ids: list[str], n: int, ids_path: Path, source: Path, unit: str) -> None:
    if len(ids) != n:
        hint = " (does the file start with a header line? it must hold ids only)" if unit == "line" and len(ids) == n + 1 else ""
        raise UserError(f"{ids_path}: {len(ids):,} ids but {source} has {n:,} vectors{hint}; give exactly one id per "
                        "vector, in row order")
