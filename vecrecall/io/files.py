"""Opening the files users already have: gzip by content, UTF-8 checked line by line, a BOM dropped, CSV/TSV rows
with their line numbers, Parquet read with one-line errors. Every reader in vecrecall/io goes through here, so a bad
byte or a truncated download is reported the same way everywhere: `<file> line N: what is wrong; how to fix`.
"""

from __future__ import annotations

import csv
import gzip
import operator
import sys
import zlib
from pathlib import Path
from typing import IO, Any, Iterator

from ..errors import UserError

GZIP_MAGIC = b"\x1f\x8b"
BOM = "\ufeff"
_starts_with_bom = operator.methodcaller("startswith", BOM)
_READ_ERRORS = (OSError, EOFError, zlib.error)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # documents longer than csv's 128 kB default are ordinary


def format_suffix(path: str | Path) -> str:
    """The suffix that names the format, ignoring a trailing `.gz`: `c.jsonl.gz` → `.jsonl`, `q.TSV` → `.tsv`."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_binary(path: str | Path) -> IO[bytes]:
    """The file's bytes, gunzipped when its content is gzip (whatever its name says)."""
    p = Path(path)
    if is_gzip(p):
        return gzip.open(p, "rb")
    if p.suffix.lower() == ".gz":
        raise UserError(f"{p}: named .gz but not gzip-compressed; rename it or compress it")
    return open(p, "rb")


def _decode(raw: bytes, path: Path, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if lineno == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise UserError(f"{path} line 1: UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; save the "
                            "file as UTF-8 (e.g. iconv -f utf-16 -t utf-8)") from None
        raise UserError(f"{path} line {lineno}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                        "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text with its line ending) for every line; a BOM at the start is dropped."""
    p = Path(path)
    lineno = 0
    try:
        with open_binary(p) as fh:
            while True:
                block = fh.readlines(1 << 20)  # decode ~1 MB at a time; a bad byte is found line by line
                if not block:
                    return
                try:
                    text = [raw.decode("utf-8") for raw in block]
                except UnicodeDecodeError:
                    text = [_decode(raw, p, lineno + i) for i, raw in enumerate(block, 1)]
                if lineno == 0 and text[0].startswith(BOM):
                    text[0] = text[0][1:]
                if any(map(_starts_with_bom, text)):  # only the file's start may hold one: files were concatenated
                    i = next(i for i, line in enumerate(text) if line.startswith(BOM))
                    raise UserError(f"{p} line {lineno + i + 1}: starts with a byte-order mark (U+FEFF), as when files "
                                    "are joined with cat; remove it (e.g. sed -i 's/^\\xEF\\xBB\\xBF//' FILE)")
                yield from enumerate(text, lineno + 1)
                lineno += len(text)
    except _READ_ERRORS as exc:
        raise UserError(f"{p}: cannot read ({_one_line(exc)}); is the download complete?") from None


def read_text(path: str | Path) -> str:
    """The whole file as text (UTF-8 checked; the line of a bad byte is named)."""
    return "".join(line for _, line in iter_lines(path))


def head(path: str | Path, size: int = 4096) -> str:
    """The first bytes of a file (gunzipped), leniently decoded: for sniffing a format, never for reading data."""
    try:
        with open_binary(path) as fh:
            return fh.read(size).decode("utf-8", errors="replace").lstrip(BOM)
    except _READ_ERRORS:
        return ""


def _unquote_tsv(field: str) -> str:
    # TSV has no quoting (MS MARCO and BEIR files hold bare quotes in their text), but pandas' to_csv(sep="\t")
    # wraps a field that contains a quote in quotes and doubles the inner ones; undo only that exact shape.
    if len(field) >= 2 and field[0] == field[-1] == '"' and '"' not in field[1:-1].replace('""', ""):
        return field[1:-1].replace('""', '"')
    return field


def iter_rows(path: str | Path, sep: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every non-blank record of a CSV (RFC 4180 quoting; a quoted field may span lines,
    numbered by its first line) or TSV (`sep="\\t"`: split on tabs, no quoting)."""
    p = Path(path)
    if sep == "\t":
        for lineno, line in iter_lines(p):
            text = line.rstrip("\r\n")
            if text.strip():
                yield lineno, [_unquote_tsv(f) for f in text.split("\t")]
        return
    lines = iter_lines(p)
    reader = csv.reader((line for _, line in lines), delimiter=sep, strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UserError(f"{p} line {start}: not valid CSV ({exc}); quote fields that contain '{sep}', quotes or "
                            "line breaks") from None
        if fields and any(f.strip() for f in fields):
            yield start, fields
        start = reader.line_num + 1


def table_sep(path: str | Path) -> str:
    """Tab for .tsv (and .txt/.tab) files, comma for .csv."""
    return "," if format_suffix(path) == ".csv" else "\t"


def ragged(path: str | Path, lineno: int, got: int, header: list[str], sep: str) -> UserError:
    """The one-line error for a row whose field count differs from the header's."""
    hint = "quote fields that contain commas" if sep == "," else "a TSV field cannot contain a tab"
    cols = ", ".join(header) if len(header) <= 6 else ", ".join(header[:6]) + ", …"
    return UserError(f"{path} line {lineno}: {got} field(s) but the header has {len(header)} ({cols}); {hint}")


def read_parquet(path: str | Path, columns: list[str] | None = None) -> Any:
    """A Parquet file as a DataFrame; an unreadable file is one line naming it."""
    import pandas as pd

    try:
        return pd.read_parquet(path, columns=columns)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for truncated or foreign files
        raise UserError(f"{path}: not a readable Parquet file ({_one_line(exc)})") from None


def parquet_columns(path: str | Path) -> list[str]:
    """Column names of a Parquet file without reading its rows ([] when unreadable: the reader reports it)."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001
        return []


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else (text or type(exc).__name__)

