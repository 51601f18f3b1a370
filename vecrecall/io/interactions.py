"""What a recommender exports, read for match evaluation (user → item retrieval).

- Interaction logs (`user_id,item_id` CSV/TSV/Parquet, one row per interaction) become binary qrels: each user is a
  query, each item the user interacted with is relevant (rel 1); repeated interactions count once.
- User vectors: a plain `.npy` matrix plus its ids (`users.npy` + `users.ids.parquet` or `users.ids.txt`, or a
  directory holding them) without a vecrecall manifest, searched like query embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from .files import format_suffix, iter_lines, iter_rows, parquet_columns, ragged, read_parquet, table_sep
from .ids import norm_id, norm_ids

USER_COLUMNS = ("user_id", "user", "userid", "uid")
ITEM_COLUMNS = ("item_id", "item", "itemid", "iid")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
ID_SUFFIXES = (".ids.parquet", ".ids.txt")


# ---------------------------------------------------------------------------------------------------- interactions


def _header(path: Path) -> list[str]:
    """Column names of a CSV/TSV (gzipped or not) or Parquet table (lower-cased), without reading the rows."""
    if format_suffix(path) == ".parquet":
        return [c.lower() for c in parquet_columns(path)]
    try:
        first = next(iter_lines(path), (0, ""))[1]
    except UserError:
        return []  # unreadable: not recognised as a log here, so the qrels reader reports it
    sep = "\t" if format_suffix(path) == ".tsv" or ("\t" in first and "," not in first) else ","
    return [c.strip().lower() for c in first.rstrip("\r\n").split(sep)]


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in columns), None)


def is_interaction_log(path: str | Path) -> bool:
    """True for a CSV/TSV/Parquet file with a user column and an item column (e.g. `user_id,item_id`)."""
    p = Path(path)
    if not p.is_file() or format_suffix(p) not in TABLE_SUFFIXES:
        return False
    cols = _header(p)
    return _pick(cols, USER_COLUMNS) is not None and _pick(cols, ITEM_COLUMNS) is not None


def read_interactions(path: str | Path) -> pd.DataFrame:
    """Interaction log → binary qrels (`qid`=user, `docid`=item, `rel`=1), one row per distinct pair."""
    p = Path(path)
    if format_suffix(p) == ".parquet":
        df = read_parquet(p)
        df.columns = [str(c).strip().lower() for c in df.columns]
        columns, lines = list(df.columns), list(range(1, len(df) + 1))
        unit = "row"
    else:
        sep = table_sep(p)
        rows = iter_rows(p, sep)
        first = next(rows, None)
        if first is None:
            raise UserError(f"{p}: no interactions found; the log is empty")
        columns = [c.strip().lower() for c in first[1]]
        records, lines = [], []
        for lineno, fields in rows:
            if len(fields) != len(columns):
                raise ragged(p, lineno, len(fields), columns, sep)
            records.append(fields)
            lines.append(lineno)
        df = pd.DataFrame(records, columns=columns, dtype=object)
        unit = "line"
    user, item = _pick(columns, USER_COLUMNS), _pick(columns, ITEM_COLUMNS)
    if user is None or item is None:
        raise UserError(f"{p}: an interaction log needs a user column ({', '.join(USER_COLUMNS)}) and an item column "
                        f"({', '.join(ITEM_COLUMNS)}); found {', '.join(columns)}")
    out = pd.DataFrame({"qid": norm_ids(df[user]), "docid": norm_ids(df[item])})
    blank = (out["qid"] == "") | (out["docid"] == "")
    if blank.any():
        row = int(np.argmax(blank.to_numpy()))
        column = user if out["qid"][row] == "" else item
        raise UserError(f"{p} {unit} {lines[row]}: empty {column}; every interaction needs a user id and an item id")
    if out.empty:
        raise UserError(f"{p}: no interactions found; the log is empty")
    out = out.drop_duplicates(["qid", "docid"], keep="first").reset_index(drop=True)
    out["rel"] = 1
    return out


# ---------------------------------------------------------------------------------------------------- user vectors


@dataclass
class PlainVectors:
    """A `.npy` matrix and the id of each row, with no vecrecall manifest (so no model lineage)."""

    path: Path
    ids: list[str]
    vectors: np.ndarray


def _ids_file(npy: Path) -> Path | None:
    stem = npy.with_suffix("")
    for candidate in [stem.with_name(stem.name + s) for s in ID_SUFFIXES] + [npy.with_name("ids.parquet"), npy.with_name("ids.txt")]:
        if candidate.exists():
            return candidate
    return None


def find_plain_vectors(path: str | Path) -> Path | None:
    """The `.npy` of a plain user-vector artifact at `path` (a `.npy` file, or a manifest-less directory with one)."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".npy":
        return p
    texts = ("manifest.json", "corpus.jsonl", "queries.jsonl", "corpus.jsonl.gz", "queries.jsonl.gz")  # artifacts, BEIR dirs
    if p.is_dir() and not any((p / t).exists() for t in texts):
        found = sorted(p.glob("*.npy"))
        if len(found) > 1:
            raise UserError(f"{p}: holds several .npy files ({', '.join(f.name for f in found[:4])}); pass one of them")
        return found[0] if found else None
    return None


def read_plain_vectors(npy: Path) -> PlainVectors:
    """Load a `.npy` matrix and its ids file, checking shapes, ids and values."""
    ids_path = _ids_file(npy)
    if ids_path is None:
        stem = npy.with_suffix("").name
        raise UserError(f"{npy}: no ids beside it; write the row ids to {stem}.ids.txt (one per line) or "
                        f"{stem}.ids.parquet (column 'id')")
    try:
        vectors = np.load(npy, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise UserError(f"{npy}: not a readable .npy matrix ({exc})") from None
    if vectors.ndim != 2 or vectors.shape[0] == 0 or not np.issubdtype(vectors.dtype, np.number):
        raise UserError(f"{npy}: expected a non-empty 2-d numeric matrix (rows × dim), got shape {vectors.shape} {vectors.dtype}")
    if ids_path.suffix == ".parquet":
        table = read_parquet(ids_path)
        col = "id" if "id" in table.columns else table.columns[0]
        ids = norm_ids(table[col])
    else:
        ids = [norm_id(line) for _, line in iter_lines(ids_path) if line.strip()]
    if len(ids) != vectors.shape[0]:
        raise UserError(f"{npy}: {vectors.shape[0]} rows but {ids_path.name} has {len(ids)} ids; they must match row for row")
    if "" in ids:
        raise UserError(f"{ids_path}: id {ids.index('') + 1} is empty")
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            raise UserError(f"{ids_path}: id '{x}' appears twice (row {i + 1}); each row needs its own id")
        seen.add(x)
    matrix = np.asarray(vectors, dtype=np.float32)
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise UserError(f"{npy}: row {int(np.argmax(bad))} ('{ids[int(np.argmax(bad))]}') contains NaN or inf")
    return PlainVectors(npy, ids, matrix)


def plain_queries(index: Any, source: str | Path, model: str | None) -> tuple[list[str], Any, dict[str, Any]] | None:
    """(qids, prepared vectors, input record) when `source` is plain user vectors; None for anything else.

    Plain vectors carry no model lineage, so only their dimension is checked against the index.
    """
    from ..artifacts import input_entry, sha256_path

    npy = find_plain_vectors(source)
    if npy is None:
        return None
    if index.index.input_kind == "text":
        raise UserError(f"{source}: {index.manifest.params['backend']} indexes text; pass query texts, not vectors")
    if model:
        raise UserError("--model applies to query texts; these queries are already vectors")
    plain = read_plain_vectors(npy)
    if plain.vectors.shape[1] != index.index.dim:
        raise UserError(f"{npy}: vectors have dimension {plain.vectors.shape[1]} but {index.path} has dimension "
                        f"{index.index.dim}; these plain vectors have no manifest, so only the dimension can be checked "
                        "(not the model that made them)")
    record = input_entry(Path(npy).resolve(), digest=sha256_path(npy))
    record["kind"] = "plain vectors (no model lineage; dimension checked only)"
    return plain.ids, index.prepare(plain.vectors), record
