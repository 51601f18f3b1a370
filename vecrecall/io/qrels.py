"""Relevance judgements: TREC (`qid 0 docno rel`), BEIR tsv (`query-id corpus-id score`), Parquet, BEIR directories,
and `user_id,item_id` interaction logs (CSV/TSV/Parquet, binary relevance; see io/interactions.py).

Always returned as a DataFrame with string `qid`, `docid` and integer `rel`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UserError
from .interactions import is_interaction_log, read_interactions

COLUMNS = ["qid", "docid", "rel"]
_ALIASES = {"query-id": "qid", "query_id": "qid", "corpus-id": "docid", "doc_id": "docid", "docno": "docid",
            "score": "rel", "relevance": "rel", "label": "rel"}


def _resolve(path: Path, split: str) -> Path:
    if not path.exists():
        raise UserError(f"{path}: no such qrels file or directory")
    if path.is_dir():
        qdir = path / "qrels"
        if not qdir.is_dir():
            raise UserError(f"{path}: not a BEIR directory (no qrels/ inside); pass a qrels file")
        f = qdir / f"{split}.tsv"
        if not f.exists():
            found = sorted(p.stem for p in qdir.glob("*.tsv"))
            raise UserError(f"{path}: no qrels/{split}.tsv (splits here: {', '.join(found) or 'none'}); pass --split")
        return f
    return path


def _grade(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        try:
            f = float(value)
        except ValueError:
            f = None
        if f is not None and f.is_integer():
            return int(f)
        raise UserError(f"{where}: relevance grade '{value}' is not an integer; qrels grades must be integers") from None


def read_qrels(path: str | Path, split: str = "test") -> pd.DataFrame:
    """Read qrels from any supported form; malformed lines are refused with their line number."""
    f = _resolve(Path(path), split)
    if is_interaction_log(f):  # user_id,item_id logs (recommendation) → binary qrels
        return read_interactions(f)
    if f.suffix.lower() == ".parquet":
        df = pd.read_parquet(f).rename(columns=_ALIASES)
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise UserError(f"{f}: qrels Parquet needs columns qid, docid, rel (missing {', '.join(missing)})")
        df = df[COLUMNS].astype({"qid": str, "docid": str})
        df["rel"] = [_grade(str(v), f"{f} row {i + 1}") for i, v in enumerate(df["rel"])]
    else:
        rows = []
        with open(f, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                parts = line.split()
                if not parts:
                    continue
                if lineno == 1 and parts[0].lower() in ("query-id", "qid", "query_id"):
                    continue  # BEIR header
                where = f"{f} line {lineno}"
                if len(parts) == 3 and "\t" in line:  # BEIR: query-id corpus-id score
                    qid, docid, rel = parts
                elif len(parts) >= 4:
                    qid, _, docid, rel = parts[:4]
                else:
                    raise UserError(f"{where}: expected 'qid 0 docno rel' (4 fields), got {len(parts)} field(s)")
                rows.append((qid, docid, _grade(rel, where)))
        df = pd.DataFrame(rows, columns=COLUMNS)
    if df.empty:
        raise UserError(f"{f}: no judgements found; the qrels file is empty")
    dup = df.duplicated(["qid", "docid"], keep="first")
    if dup.any():
        r = df[dup].iloc[0]
        raise UserError(f"{f}: duplicate judgement for query '{r.qid}', document '{r.docid}'; keep one line per pair")
    return df.reset_index(drop=True)
