"""Read an interaction log and its optional item / user tables into typed frames, refusing bad input with one line.

Log: CSV/TSV/Parquet, one row per interaction, with a user column, an item column and a timestamp column, plus an
optional label (> 0 = clicked, 0 = shown but not clicked: an impression) and an optional query text. Timestamps are
unix seconds (numbers) or ISO 8601 text ('2024-05-01T12:00:00', '2024-05-01'); they are stored as int64
nanoseconds since the epoch (UTC).

Repeated positives — the same (user, item) clicked more than once — are counted and kept once, at their earliest
time (`duplicates="drop"`), or refused (`duplicates="refuse"`). Keeping them would put an item both in a user's
training items and in the held-out set, where the protocol (candidates = all items minus the user's training items)
could never retrieve it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import UserError
from ..io.ids import norm_ids
from ..io.interactions import ITEM_COLUMNS, USER_COLUMNS

TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date", "event_time")
LABEL_COLUMNS = ("label", "click", "clicked")
QUERY_COLUMNS = ("query", "query_text")
ID_COLUMNS = ("id", "item_id", "item", "itemid", "iid", "user_id", "user", "userid", "uid")
DUPLICATE_POLICIES = ("drop", "refuse")


@dataclass(frozen=True)
class LogSpec:
    """Which column holds what (None: the first of the usual names that the file has) and the duplicate policy."""

    user_col: str | None = None
    item_col: str | None = None
    time_col: str | None = None
    label_col: str | None = None
    query_col: str | None = None
    duplicates: str = "drop"


@dataclass
class Log:
    """A read interaction log.

    `frame` columns: user, item (str), ts (int64 ns, UTC), label (int8: 1 clicked, 0 impression), query (str, '' for
    none), line (int: the row's line in a CSV/TSV, its 1-based row in Parquet, for messages).
    """

    path: Path
    frame: pd.DataFrame
    columns: dict[str, str]
    duplicates: int = 0
    rows: int = 0

    @property
    def has_impressions(self) -> bool:
        return bool((self.frame["label"] == 0).any())

    @property
    def has_query(self) -> bool:
        return "query" in self.columns


def read_table(path: str | Path, what: str) -> tuple[pd.DataFrame, Callable[[int], str], int]:
    """A CSV/TSV/Parquet table with lower-cased column names, `where(i)` naming row i of it in messages, and the
    number of the first data row (CSV/TSV: line 2, after the header; Parquet: row 1)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such {what} file")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        try:
            df = pd.read_parquet(p)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a file that is not Parquet
            raise UserError(f"{p}: not a readable Parquet {what} ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
        where, first = (lambda i: f"{p} row {i + 1}"), 1
    elif suffix in (".csv", ".tsv", ".txt"):
        sep = "\t" if suffix == ".tsv" else ","
        try:
            df = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            _explain(p, sep)  # the line at fault, in the words every other reader uses (io/files.py)
            raise UserError(f"{p}: not a readable {what} ({str(exc).splitlines()[0]}); expected a header row and "
                            "one record per line") from None
        where, first = (lambda i: f"{p} line {i + 2}"), 2
    else:
        raise UserError(f"{p}: a {what} must be .csv, .tsv or .parquet")
    df.columns = [str(c).strip().lower() for c in df.columns]
    if df.empty:
        raise UserError(f"{p}: the {what} has no rows")
    return df.reset_index(drop=True), where, first


def _explain(path: Path, sep: str) -> None:
    """Re-read a CSV/TSV that pandas refused with vecrecall's line reader, which raises UserError naming the line
    (bad UTF-8, bad quoting, a row wider or narrower than the header); returns if it finds nothing wrong."""
    from ..io.files import iter_rows, ragged

    header: list[str] | None = None
    for lineno, fields in iter_rows(path, sep):
        if header is None:
            header = [c.strip() for c in fields]
        elif len(fields) != len(header):
            raise ragged(path, lineno, len(fields), header, sep)
    if header is None:
        raise UserError(f"{path}: the file is empty; expected a header row and one record per line")


def pick_column(df: pd.DataFrame, path: Path, given: str | None, usual: tuple[str, ...], role: str,
                option: str, required: bool = True) -> str | None:
    """The column for `role`: the one named by `option` (case-insensitive) or the first usual name present."""
    cols = list(df.columns)
    if given is not None:
        name = given.strip().lower()
        if name not in cols:
            raise UserError(f"{path}: no column '{given}' ({option}); the columns are {', '.join(cols)}")
        return name
    found = next((c for c in usual if c in cols), None)
    if found is None and required:
        raise UserError(f"{path}: no {role} column (looked for {', '.join(usual)}; columns are {', '.join(cols)}); "
                        f"name it with {option}")
    return found


def _ids(series: pd.Series, where: Callable[[int], str], column: str) -> pd.Series:
    out = pd.Series(norm_ids(series), index=series.index)
    blank = (out == "").to_numpy()
    if blank.any():
        raise UserError(f"{where(int(np.argmax(blank)))}: empty {column}; every row needs one")
    return out


def parse_times(series: pd.Series, where: Callable[[int], str], column: str) -> np.ndarray:
    """Timestamps → int64 ns since the epoch (UTC): unix seconds (numbers) or ISO 8601 text; anything else is refused."""
    hint = "use unix seconds (e.g. 964982703) or ISO 8601 (e.g. 2024-05-01T12:00:00)"
    if pd.api.types.is_datetime64_any_dtype(series):
        values = pd.to_datetime(series, utc=True)
        bad = values.isna().to_numpy()
        if bad.any():
            raise UserError(f"{where(int(np.argmax(bad)))}: empty {column}; {hint}")
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        seconds = series.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(seconds)
        if bad.any():
            raise UserError(f"{where(int(np.argmax(bad)))}: {column} is missing or not a number; {hint}")
        return _seconds_to_ns(seconds, where, column, hint)
    text = series.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if not np.isnan(numbers.iloc[0]):  # the first row decides: unix seconds, so every row must be a number
        bad = numbers.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise UserError(f"{where(i)}: {column} {text.iloc[i]!r} is not a timestamp (the file uses unix seconds); {hint}")
        return _seconds_to_ns(numbers.to_numpy(dtype=np.float64), where, column, hint)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"{where(i)}: {column} {text.iloc[i]!r} is not a timestamp; {hint}")
    return parsed.astype("datetime64[ns, UTC]").astype("int64").to_numpy()


def _seconds_to_ns(seconds: np.ndarray, where: Callable[[int], str], column: str, hint: str) -> np.ndarray:
    bad = (seconds < 0) | (seconds > 1e11)  # 1e11 s is year 5138: almost surely milliseconds
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"{where(i)}: {column} {seconds[i]:.0f} is out of range for unix seconds (milliseconds? "
                        f"divide by 1000); {hint}")
    return np.round(seconds * 1e9).astype(np.int64)


def _labels(series: pd.Series, where: Callable[[int], str], column: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"{where(i)}: {column} {series.iloc[i]!r} is not a label; use 1 (clicked) or 0 (shown, not clicked)")
    return (values > 0).astype(np.int8)


def read_log(path: str | Path, spec: LogSpec = LogSpec()) -> Log:
    """Read and check an interaction log (see the module docstring). Raises UserError naming file, row and column."""
    if spec.duplicates not in DUPLICATE_POLICIES:
        raise UserError(f"--duplicates {spec.duplicates}: choose one of {', '.join(DUPLICATE_POLICIES)}")
    p = Path(path)
    df, where, first = read_table(p, "interaction log")
    cols = {
        "user": pick_column(df, p, spec.user_col, USER_COLUMNS, "user", "--user-col"),
        "item": pick_column(df, p, spec.item_col, ITEM_COLUMNS, "item", "--item-col"),
        "time": pick_column(df, p, spec.time_col, TIME_COLUMNS, "timestamp", "--time-col"),
        "label": pick_column(df, p, spec.label_col, LABEL_COLUMNS, "label", "--label-col", required=False),
        "query": pick_column(df, p, spec.query_col, QUERY_COLUMNS, "query", "--query-col", required=False),
    }
    cols = {k: v for k, v in cols.items() if v is not None}
    frame = pd.DataFrame({
        "user": _ids(df[cols["user"]], where, cols["user"]),
        "item": _ids(df[cols["item"]], where, cols["item"]),
        "ts": parse_times(df[cols["time"]], where, cols["time"]),
        "label": _labels(df[cols["label"]], where, cols["label"]) if "label" in cols else np.ones(len(df), np.int8),
        "query": df[cols["query"]].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
        if "query" in cols else "",
        "line": np.arange(len(df), dtype=np.int64) + first,
    })
    if not (frame["label"] > 0).any():
        raise UserError(f"{p}: no positive interactions (every {cols.get('label', 'label')} is 0)")
    frame, dropped = _dedupe(frame, p, spec.duplicates, "row" if p.suffix.lower() == ".parquet" else "line")
    return Log(p, frame, cols, dropped, len(df))


def _dedupe(frame: pd.DataFrame, path: Path, policy: str, unit: str) -> tuple[pd.DataFrame, int]:
    """Keep each positive (user, item) once, at its earliest time (ties: first in the file); impressions of a pair
    that is also a positive are dropped too (it was clicked, so it is no negative)."""
    order = frame.sort_values(["ts", "line"], kind="mergesort")
    pos = order[order["label"] > 0]
    dup = pos.duplicated(["user", "item"], keep="first")
    if dup.any() and policy == "refuse":
        row = pos[dup].sort_values("line").iloc[0]
        user, item = row["user"], row["item"]
        first = pos[(pos["user"] == user) & (pos["item"] == item)].iloc[0]
        raise UserError(f"{path} {unit} {row['line']}: user '{user}' interacted with item '{item}' again "
                        f"(first at {unit} {first['line']}); pass --duplicates drop to keep each pair once")
    keep_pos = pos[~dup]
    imp = order[order["label"] == 0]
    if len(imp):
        clicked = pd.MultiIndex.from_frame(keep_pos[["user", "item"]])
        imp = imp[~pd.MultiIndex.from_frame(imp[["user", "item"]]).isin(clicked)]
        imp = imp.drop_duplicates(["user", "item", "ts", "query"], keep="first")
    out = pd.concat([keep_pos, imp]).sort_values("line", kind="mergesort").reset_index(drop=True)
    return out, int(dup.sum())


# ---------------------------------------------------------------------------------------------- item and user tables


@dataclass
class EntityTable:
    """Side information for items or users: text (items) and categorical features (lists of tokens per row)."""

    ids: list[str]
    text: list[str] | None = None
    features: dict[str, list[list[str]]] = field(default_factory=dict)


def read_entities(path: str | Path, what: str, id_col: str | None, usual_ids: tuple[str, ...],
                  text_cols: list[str], feature_cols: list[str], sep: str = "|") -> EntityTable:
    """Read an item or user table: one row per id; text = the `text_cols` joined with '. '; each feature column's
    value split on `sep` into tokens (so 'Comedy|Drama' is two tokens; a plain value is one)."""
    p = Path(path)
    df, where, _ = read_table(p, f"{what} table")
    col = pick_column(df, p, id_col, usual_ids, f"{what} id", f"--{what}-id-col")
    ids = _ids(df[col], where, col)
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise UserError(f"{where(i)}: {what} '{ids.iloc[i]}' appears twice; one row per {what}")
    def column(name: str, option: str) -> pd.Series:
        c = pick_column(df, p, name, (), what, option)
        return df[c].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
    text = None
    if text_cols:
        parts = [column(c, f"--{what}-text") for c in text_cols]
        text = [". ".join(x for x in row if x) for row in zip(*parts)]
    features = {}
    for c in feature_cols:
        values = column(c, f"--{what}-features")
        features[c.strip().lower()] = [[t.strip() for t in v.split(sep) if t.strip()] if sep else ([v] if v else [])
                                       for v in values]
    return EntityTable(ids.tolist(), text, features)


def split_names(text: str | None) -> list[str]:
    """'title, genres' → ['title', 'genres'] (None or '' → [])."""
    return [x.strip() for x in (text or "").split(",") if x.strip()]
