"""Documents and queries from BEIR directories, TREC SGML, JSONL, CSV/TSV and Parquet (text formats also gzipped).

Every loader yields `TextRecord`s (string id, text, metadata, source line); `load_texts` collects them in a
DataFrame with columns `id`, `text` and one column per metadata field. Document text is title + text. Ids follow the
one id rule (io/ids.py). CSV/TSV files may lack a header: a first row that names no known column (and, when the ids
below it are numbers, is not a word above numbers) is data, read as `id, text[, title]` — the MS MARCO / TREC
`qid<TAB>text` layout; `FieldSpec(header=False)` (`--no-header`) says so explicitly.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

from ..errors import UserError
from .files import format_suffix, head, iter_lines, iter_rows, ragged, read_parquet, read_text, table_sep
from .ids import norm_id

Role = Literal["corpus", "queries"]

ID_FIELDS = ("_id", "id", "docid", "docno", "doc_id", "qid", "query_id", "query-id")
TEXT_FIELDS = ("text", "contents", "body", "query", "question")
TITLE_FIELDS = ("title",)
HEADERLESS_COLUMNS = ("id", "text", "title")  # a headerless CSV/TSV: id, text[, title] by position
TEXT_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet")


@dataclass(slots=True)
class TextRecord:
    id: str
    text: str
    meta: dict[str, Any]
    line: int = 0


@dataclass(frozen=True)
class FieldSpec:
    """Which fields hold the id, the text and the title (None = pick the usual names)."""

    id_field: str | None = None
    text_field: str | None = None
    title_field: str | None = None  # "" = no title
    header: bool | None = None  # CSV/TSV: None = detect, False = the first line is data (--no-header)

    def pick(self, keys: Any, wanted: str | None, defaults: tuple[str, ...]) -> str | None:
        if wanted:
            return wanted
        found = next((k for k in defaults if k in keys), None)
        if found is None:  # 'ID', 'Text': names differ from the usual ones only in case
            lower = {str(k).lower(): k for k in keys}
            found = next((lower[k] for k in defaults if k in lower), None)
        return found

    def names_columns(self) -> bool:
        """True when the user named a column (--id-field/--text-field/--title-field), so the file has a header."""
        return any((self.id_field, self.text_field, self.title_field))

    @functools.lru_cache(maxsize=64)
    def keys_for(self, keys: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
        """(id, text, title) field names for rows with these keys (cached: rows of one file share their keys)."""
        title = None if self.title_field == "" else self.pick(keys, self.title_field, TITLE_FIELDS)
        return self.pick(keys, self.id_field, ID_FIELDS), self.pick(keys, self.text_field, TEXT_FIELDS), title


def _join(title: Any, text: Any) -> str:
    title = "" if title is None else str(title).strip()
    text = "" if text is None else str(text).strip()
    return f"{title} {text}".strip() if title else text


def _from_mapping(row: dict[str, Any], spec: FieldSpec, where: Callable[[], str]) -> TextRecord:
    id_key, text_key, title_key = spec.keys_for(tuple(row))
    rid = norm_id(row.get(id_key)) if id_key else ""
    if not rid:
        what = "empty id" if id_key in row else f"no id (looked for {spec.id_field or ', '.join(ID_FIELDS)}; fields: {_fields(row)})"
        raise UserError(f"{where()}: {what}; set --id-field")
    if (text_key is None or text_key not in row) and not (title_key and row.get(title_key)):
        raise UserError(f"{where()}: no text (looked for {spec.text_field or ', '.join(TEXT_FIELDS)}; fields: {_fields(row)}); "
                        "set --text-field")
    text = _join(row.get(title_key) if title_key else None, row.get(text_key) if text_key else None)
    used = (id_key, text_key, title_key)
    meta = {k: v for k, v in row.items() if k not in used} if len(row) > 2 else {}
    return TextRecord(rid, text, meta)


def _fields(row: dict[str, Any]) -> str:
    names = [str(k) for k in row]
    return ", ".join(names[:8]) + (", …" if len(names) > 8 else "") if names else "none"


def iter_json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line of a JSONL file (gzipped or not); malformed lines are refused
    by number."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} line {lineno}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise UserError(f"{path} line {lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def iter_jsonl(path: Path, spec: FieldSpec) -> Iterator[TextRecord]:
    for lineno, row in iter_json_objects(path):
        rec = _from_mapping(row, spec, lambda: f"{path} line {lineno}")
        rec.line = lineno
        yield rec


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def has_header(first: list[str], below: list[list[str]], spec: FieldSpec) -> bool:
    """Whether a CSV/TSV's first row is a header: the user named columns (--id-field…), or its first cell is not a
    number and it names a known id/text/title column, or is wider than `id, text, title`, or is a word above
    numeric ids (`pid` over `123`). `spec.header` (False for --no-header) overrides the guess."""
    if spec.header is not None:
        return spec.header
    if spec.names_columns():
        return True
    if _numeric(first[0]):  # a header names its columns; '1048578<TAB>what is …' is a record
        return False
    names = {c.strip().lower() for c in first}
    if names & {n.lower() for n in (*ID_FIELDS, *TEXT_FIELDS, *TITLE_FIELDS)}:
        return True
    if len(first) > len(HEADERLESS_COLUMNS):
        return True
    ids_below = [r[0] for r in below if r]
    return bool(ids_below) and not _numeric(first[0]) and all(_numeric(x) for x in ids_below)


def iter_table(path: Path, spec: FieldSpec) -> Iterator[TextRecord]:
    """Rows of a CSV/TSV (gzipped or not) or Parquet file."""
    if format_suffix(path) == ".parquet":
        df = read_parquet(path)
        for i, row in enumerate(df.to_dict(orient="records"), 1):
            rec = _from_mapping(row, spec, lambda: f"{path} row {i}")
            rec.line = i
            yield rec
        return
    sep = table_sep(path)
    rows = iter_rows(path, sep)
    look = list(itertools.islice(rows, 21))
    if not look:
        return
    first_line, first = look[0]
    if has_header(first, [r for _, r in look[1:]], spec):
        header = [c.strip() for c in first]
        look = look[1:]
    else:
        n = len(first)
        if not 2 <= n <= len(HEADERLESS_COLUMNS):
            tab = "<TAB>" if sep == "\t" else sep
            raise UserError(f"{path} line {first_line}: {n} field(s); a headerless file holds id{tab}text[{tab}title] — "
                            "otherwise add a header row naming the columns")
        header = list(HEADERLESS_COLUMNS[:n])
    for lineno, fields in itertools.chain(look, rows):
        if len(fields) != len(header):
            raise ragged(path, lineno, len(fields), header, sep)
        rec = _from_mapping(dict(zip(header, fields)), spec, lambda: f"{path} line {lineno}")
        rec.line = lineno
        yield rec


_TAG = re.compile(r"<[^>]+>")


def _tag(block: str, name: str) -> str | None:
    m = re.search(rf"<{name}>(.*?)(?=<{name}>|</{name}>|<[a-z]+>|</top>|$)", block, re.S | re.I)
    return m.group(1).strip() if m else None


def iter_trec_sgml(path: Path, spec: FieldSpec, role: Role) -> Iterator[TextRecord]:
    """TREC SGML: `<DOC><DOCNO>..</DOCNO>..</DOC>` documents or `<top><num>..<title>..</top>` topics."""
    content = read_text(path)
    unit = "top" if role == "queries" else "doc"
    starts = [m.start() for m in re.finditer(rf"<{unit}>", content, re.I)]
    if not starts:
        raise UserError(f"{path}: no <{unit.upper()}> blocks found; is this a TREC {'topics' if unit == 'top' else 'documents'} file?")
    for m in re.finditer(rf"<{unit}>(.*?)</{unit}>", content, re.S | re.I):
        lineno = content.count("\n", 0, m.start()) + 1
        block = m.group(1)
        if unit == "doc":
            docno = _tag(block, "docno")
            if not docno:
                raise UserError(f"{path} line {lineno}: <DOC> without <DOCNO>")
            body = re.sub(r"<docno>.*?</docno>", " ", block, flags=re.S | re.I)
            text = " ".join(_TAG.sub(" ", body).split())
            yield TextRecord(docno, text, {}, lineno)
        else:
            num = _tag(block, "num")
            if not num:
                raise UserError(f"{path} line {lineno}: <top> without <num>")
            num = re.sub(r"^\s*number:\s*", "", num, flags=re.I).strip()
            field_name = spec.text_field or "title"
            text = _tag(block, field_name)
            if text is None:
                raise UserError(f"{path} line {lineno}: topic {num} has no <{field_name}>; set --text-field")
            text = re.sub(r"^\s*(topic|description|narrative):\s*", "", _TAG.sub(" ", text), flags=re.I)
            yield TextRecord(num, " ".join(text.split()), {}, lineno)


def source_entry(path: str | Path, role: Role) -> dict[str, Any]:
    """How a manifest records a text source: its path and the hash of the file actually read
    (for a BEIR directory, corpus.jsonl or queries.jsonl, not the whole directory)."""
    from ..artifacts import input_entry, sha256_file

    return input_entry(Path(path).resolve(), digest=sha256_file(_resolve(Path(path), role)))


def _resolve(path: Path, role: Role) -> Path:
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.is_dir():
        name = "corpus.jsonl" if role == "corpus" else "queries.jsonl"
        for candidate in (path / name, path / f"{name}.gz"):
            if candidate.exists():
                return candidate
        raise UserError(f"{path}: not a BEIR directory for {role} (no {name} or {name}.gz inside); pass the file itself or a BEIR directory")
    return path


def iter_texts(path: str | Path, role: Role, spec: FieldSpec | None = None) -> Iterator[TextRecord]:
    """Yield records from any supported source, refusing duplicate ids (naming the line)."""
    spec = spec or FieldSpec()
    f = _resolve(Path(path), role)
    suffix = format_suffix(f)
    if suffix in (".jsonl", ".json", ".ndjson"):
        records = iter_jsonl(f, spec)
    elif suffix in (".csv", ".tsv", ".parquet"):
        records = iter_table(f, spec)
    else:
        start = head(f).lstrip()
        if start.startswith("<"):
            records = iter_trec_sgml(f, spec, role)
        elif "\t" in start.split("\n", 1)[0]:  # queries.dev, topics.txt: tab-separated whatever the name
            records = iter_table(f, spec)
        else:
            raise UserError(
                f"{f}: unknown format '{suffix or 'no extension'}'; use a BEIR directory, .jsonl, .csv, .tsv, .parquet "
                "(text formats may be .gz), TREC SGML, or a tab-separated id<TAB>text file"
            )
    seen: dict[str, int] = {}
    for rec in records:
        if rec.id in seen:
            raise UserError(f"{f} line {rec.line}: duplicate id '{rec.id}' (first on line {seen[rec.id]}); ids must be unique")
        seen[rec.id] = rec.line
        yield rec


def load_texts(path: str | Path, role: Role, spec: FieldSpec | None = None) -> "Any":
    """All records as a DataFrame with columns `id`, `text` and metadata columns; an empty input is an error."""
    import pandas as pd

    ids, texts, metas = [], [], []
    for r in iter_texts(path, role, spec):
        ids.append(r.id)
        texts.append(r.text)
        metas.append(r.meta)
    if not ids:
        raise UserError(f"{path}: no {role} records found; the input is empty")
    df = pd.DataFrame({"id": ids, "text": texts})
    if any(metas):
        meta = pd.DataFrame.from_records(metas)
        df = pd.concat([df, meta.drop(columns=[c for c in meta.columns if c in ("id", "text")])], axis=1)
    return df


def looks_like_texts(path: str | Path) -> bool:
    """True when `path` is a text source rather than a vecrecall artifact directory."""
    p = Path(path)
    return not (p.is_dir() and (p / "manifest.json").exists())
