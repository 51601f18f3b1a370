"""A plain-text copy of one id column of an `ids.parquet`, kept beside it, so that commands whose start-up matters
(`vecrecall query`) get ids without importing pandas and pyarrow (≈0.4–0.6 s, more than the search itself on a
Vaswani-sized index).

Format: a JSON header line `{"format": "vecrecall-ids/1", "parquet_sha256": …, "rows": n, "column": …, "columns":
[…]}` (the sha256 of the ids.parquet it copies, its row count, the copied column and all its columns), then the n
values as text (`str` of each, as `DataFrame[column].astype(str)` gives them), one per line, UTF-8.

The copy is used only while its hash matches the ids.parquet beside it, so a rewritten or replaced ids.parquet
falls back to reading the Parquet file; it is not written when a value holds a line break or cannot be encoded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

FORMAT = "vecrecall-ids/1"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_id_text(parquet: Path, table: Any, column: str, out: Path) -> bool:
    """Write `out`: column `column` of `table` (the DataFrame just written to `parquet`). False when not written."""
    values = table[column].astype(str).tolist()
    if any("\n" in v for v in values):
        return False
    try:
        body = "\n".join(values).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    header = {"format": FORMAT, "parquet_sha256": sha256_of(parquet), "rows": len(values), "column": column,
              "columns": [str(c) for c in table.columns]}
    with open(out, "wb") as fh:
        fh.write(json.dumps(header, ensure_ascii=True).encode("ascii") + b"\n" + body)
    return True


def read_id_header(parquet: Path, copy: Path) -> dict[str, Any] | None:
    """The header of `copy` (rows, column, columns) when it was made from the `parquet` now there, else None."""
    try:
        with open(copy, "rb") as fh:
            meta = json.loads(fh.readline())
        if meta.get("format") != FORMAT or meta.get("parquet_sha256") != sha256_of(parquet):
            return None
        int(meta["rows"]), list(meta["columns"])
        return meta
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def read_id_text(parquet: Path, copy: Path) -> tuple[list[str], list[str]] | None:
    """(the copied column's values, the parquet's column names) from `copy`, or None when it is missing, damaged or
    not made from the `parquet` now there."""
    try:
        head, _, body = copy.read_bytes().partition(b"\n")
        meta = json.loads(head)
        if meta.get("format") != FORMAT or meta.get("parquet_sha256") != sha256_of(parquet):
            return None
        rows = int(meta["rows"])
        values = body.decode("utf-8").split("\n") if rows else []
        if len(values) != rows:
            return None
        return values, [str(c) for c in meta["columns"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


__all__ = ["write_id_text", "read_id_text", "read_id_header", "sha256_of"]
