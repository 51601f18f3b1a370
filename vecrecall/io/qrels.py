"""Relevance judgements: TREC (`qid iter docno rel`), BEIR tsv (`query-id corpus-id score`, header optional),
Parquet, BEIR directories, and `user_id,item_id` interaction logs (CSV/TSV/Parquet, binary relevance; see
io/interactions.py). Text forms may be gzipped.

Always returned as a DataFrame with string `qid`, `docid` (the one id rule, io/ids.py) and integer `rel`.
The layout of a text file is fixed by its first judgement (4 fields: TREC, 3 fields: BEIR); every line must match.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UserError
from .files import format_suffix, iter_lines, read_parquet
from .ids import norm_id, norm_ids
from .interactions import is_interaction_log, read_interactions

COLUMNS = ["qid", "docid", "rel"]
_ALIASES = {"query-id": "qid", "query_id": "qid", "corpus-id": "docid", "doc_id": "docid", "docno": "docid",
            "score": "rel", "relevance": "rel", "label": "rel"}
_HEADER_FIRST = ("query-id", "qid", "query_id")
LAYOUTS = "'qid iter docno rel' (TREC, 4 fields) or 'query-id<TAB>corpus-id<TAB>score' (BEIR, 3 fields)"


def _resolve(path: Path, split: str) -> Path:
    if not path.exists():
        raise UserError(f"{path}: no such qrels file or directory")
    if path.is_dir():
        qdir = path / "qrels"
        if not qdir.is_dir():
            raise UserError(f"{path}: not a BEIR directory (no qrels/ inside); pass a qrels file")
        for f in (qdir / f"{split}.tsv", qdir / f"{split}.tsv.gz"):
            if f.exists():
                return f
        found = sorted({p.name.split(".")[0] for p in qdir.glob("*.tsv*")})
        raise UserError(f"{path}: no qrels/{split}.tsv (splits here: {', '.join(found) or 'none'}); pass --split")
    return path


def _grade(value: object, where: str) -> int:
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            f = None
        if f is not None and f.is_integer():
            return int(f)
        raise UserError(f"{where}: relevance grade '{text}' is not an integer; qrels grades must be integers") from None


def _read_text(f: Path, header: bool | None) -> tuple[pd.DataFrame, list[int]]:
    """(judgements, line number of each)."""
    rows, lines = [], []
    width = first = 0
    for lineno, line in iter_lines(f):
        parts = line.split()
        if not parts:
            continue
        if not first and header is not False and parts[0].lower() in _HEADER_FIRST:
            first = -1  # a BEIR header; only the first non-blank line can be one
            continue
        where = f"{f} line {lineno}"
        if not width:
            if len(parts) not in (3, 4):
                raise UserError(f"{where}: {len(parts)} fields; expected {LAYOUTS}")
            width, first = len(parts), lineno
        elif len(parts) != width:
            layout = "'qid iter docno rel' (4 fields)" if width == 4 else "'query-id corpus-id score' (3 fields)"
            raise UserError(f"{where}: expected {layout} like line {first}, got {len(parts)} field(s)")
        qid, docid, rel = (parts[0], parts[2], parts[3]) if width == 4 else parts
        rows.append((qid, docid, _grade(rel, where)))
        lines.append(lineno)
    return pd.DataFrame(rows, columns=COLUMNS), lines


def read_qrels(path: str | Path, split: str = "test", header: bool | None = None) -> pd.DataFrame:
    """Read qrels from any supported form; malformed lines are refused with their line number.

    `header=False` reads a text file's first line as a judgement even when it starts with 'qid' (None: a first line
    starting with query-id/qid/query_id is a BEIR header)."""
    f = _resolve(Path(path), split)
    if is_interaction_log(f):  # user_id,item_id logs (recommendation) → binary qrels
        return read_interactions(f)
    if format_suffix(f) == ".parquet":
        df = read_parquet(f).rename(columns=_ALIASES)
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise UserError(f"{f}: qrels Parquet needs columns qid, docid, rel (missing {', '.join(missing)})")
        lines = list(range(1, len(df) + 1))
        df = pd.DataFrame({"qid": norm_ids(df["qid"]), "docid": norm_ids(df["docid"]),
                           "rel": [_grade(norm_id(v), f"{f} row {i + 1}") for i, v in enumerate(df["rel"].tolist())]})
        blank = (df["qid"] == "") | (df["docid"] == "")
        if blank.any():
            i = int(blank.to_numpy().argmax())
            raise UserError(f"{f} row {i + 1}: empty {'qid' if df['qid'][i] == '' else 'docid'}; every judgement needs both ids")
    else:
        df, lines = _read_text(f, header)
    if df.empty:
        raise UserError(f"{f}: no judgements found; the qrels file is empty")
    dup = df.duplicated(["qid", "docid"], keep="first")
    if dup.any():
        i = int(dup.to_numpy().argmax())
        unit = "row" if format_suffix(f) == ".parquet" else "line"
        raise UserError(f"{f} {unit} {lines[i]}: duplicate judgement for query '{df['qid'][i]}', document "
                        f"'{df['docid'][i]}'; keep one line per pair")
    return df.reset_index(drop=True)
