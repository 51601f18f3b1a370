"""Time decay: favour recent documents by blending each run score with an exponential age decay.

    decay(d)   = 0.5 ** (age_days(d) / half_life_days)        age_days = max(0, now − date(d)) in days
    score'(d)  = (1 − w) · minmax_q(score(d)) + w · decay(d)

`minmax_q` is the min-max normalisation of the run's scores within the query (all equal → 1), so `w` (the decay
weight, 0…1) has the same meaning whatever the scorer's scale: w = 0 keeps the ranking, w = 1 ranks by recency alone.
`now` defaults to the newest date in the date column (not the wall clock), so the same inputs give the same output;
given, it is `YYYY-MM-DD` (optionally `THH:MM[:SS]`), anything else is refused.
Documents with no date (missing or empty) get decay 0 — they are treated as infinitely old. Dates after `now` count
as age 0. Integer columns are read as years (1 July of that year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .fusion import norm_minmax, query_groups
from .io.ids import norm_ids
from .io.runs import COLUMNS, rank_run

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")

_UNITS = {"d": 1.0, "h": 1 / 24, "w": 7.0, "m": 30.4375, "y": 365.25}


def parse_half_life(text: str) -> float:
    """'30d', '12h', '2w', '6m', '1.5y' or a plain number of days → days."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhwmy]?)\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"--half-life {text}: expected a positive duration such as 30d, 12h, 2w, 6m or 1y")
    return float(m.group(1)) * _UNITS[m.group(2) or "d"]


def parse_date(text: str, option: str) -> pd.Timestamp:
    """A `YYYY-MM-DD[THH:MM[:SS]]` date given on the command line; anything else is one line naming `option`."""
    value = str(text).strip()
    if _ISO.fullmatch(value):
        try:
            return pd.Timestamp(value)
        except (ValueError, OverflowError):
            pass
    raise UserError(f"{option} {text!r}: not a date; use YYYY-MM-DD (optionally THH:MM[:SS]), e.g. 2024-01-31")


def to_dates(values: pd.Series, where: str) -> pd.Series:
    """A metadata column as datetimes (ISO strings, datetimes, or integer years); blanks → NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values).dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
    if pd.api.types.is_integer_dtype(values) or (pd.api.types.is_float_dtype(values)
                                                 and np.nanmax(np.abs(values.fillna(0).to_numpy())) < 10000):
        years = values.astype("Int64")
        return pd.to_datetime(years.astype(str).where(years.notna(), None) + "-07-01", errors="coerce")
    text = values.astype("string").str.strip().replace("", pd.NA)
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    bad = parsed.isna() & text.notna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise UserError(f"{where}: value {text.iloc[i]!r} (row {i + 1}) is not a date; use YYYY-MM-DD")
    return parsed


@dataclass
class DecaySettings:
    field: str
    half_life_days: float
    weight: float
    now: str | None = None

    def check(self) -> None:
        if not 0 <= self.weight <= 1:
            raise UserError(f"--decay-weight {self.weight}: must be between 0 and 1")
        if self.now is not None:
            parse_date(self.now, "--now")

    def describe(self) -> dict:
        return {"field": self.field, "half_life_days": self.half_life_days, "weight": self.weight, "now": self.now,
                "formula": "(1-w)*minmax_q(score) + w*0.5**(max(0, now-date)/half_life)"}


def doc_dates(table: pd.DataFrame, field: str, where: str) -> pd.Series:
    """docid → date from a corpus table or an index's ids table (column `docid` for chunks, else `id`)."""
    if field not in table.columns:
        cols = [c for c in table.columns if c not in ("id", "docid", "text", "chunk")]
        raise UserError(f"--decay-field {field}: {where} has no such column (metadata columns: {', '.join(cols) or 'none'})")
    key = "docid" if "docid" in table.columns else "id"
    dates = to_dates(table[field].reset_index(drop=True), f"{where} column '{field}'")
    s = pd.Series(dates.to_numpy(), index=norm_ids(table[key]))
    return s[~s.index.duplicated(keep="first")]


def apply_decay(run: pd.DataFrame, dates: pd.Series, settings: DecaySettings) -> pd.DataFrame:
    """The run with scores replaced by the decayed blend above, re-ranked (ties broken by docid as trec_eval does)."""
    settings.check()
    now = parse_date(settings.now, "--now") if settings.now else dates.max()
    if pd.isna(now):
        raise UserError(f"--decay-field {settings.field}: no document has a date; nothing to decay by")
    d = pd.to_datetime(run["docid"].astype(str).map(dates))
    age = ((now - d).dt.total_seconds() / 86400.0).clip(lower=0).to_numpy(dtype=float)
    decay = np.where(np.isnan(age), 0.0, 0.5 ** (np.nan_to_num(age) / settings.half_life_days))
    codes, n = query_groups(run["qid"].to_numpy())
    base = norm_minmax(run["score"].to_numpy(dtype=float), codes, n, "run")
    out = run[["qid", "docid"]].copy()
    out["score"] = (1 - settings.weight) * base + settings.weight * decay
    return rank_run(out)[COLUMNS]


def load_dates(field: str, corpus: str | Path | None = None, index: str | Path | None = None,
               fields=None) -> tuple[pd.Series, dict]:
    """Document dates from `--corpus` (any text format with metadata) or an index directory's ids.parquet."""
    from .artifacts import IDS_FILE, input_entry, read_manifest

    if (corpus is None) == (index is None):
        raise UserError("time decay needs the documents' dates: pass exactly one of --corpus or --index")
    if index is not None:
        p = Path(index)
        m = read_manifest(p, expect="index")
        from .io.files import read_parquet

        table = read_parquet(p / IDS_FILE)
        return doc_dates(table, field, str(p / IDS_FILE)), input_entry(p.resolve(), m)
    from .io.texts import load_texts, source_entry

    table = load_texts(corpus, "corpus", fields)
    return doc_dates(table, field, str(corpus)), source_entry(corpus, "corpus")
