"""The one id rule every reader applies (corpus, queries, runs, qrels, interaction logs, user-vector ids).

Ids are compared as text, so a value typed by its file (a Parquet float64 column, a JSON number) must become the
text the other files use for the same id:

- text: surrounding whitespace stripped, nothing else (`" d17 "` → `"d17"`; `"17.0"` stays `"17.0"`: a text file
  says what it means);
- integers: decimal digits (`17` → `"17"`, `-5` → `"-5"`);
- integral floats: the integer they stand for (`17.0` → `"17"`, JSON `1e3` → `"1000"`); a float64 id column is how
  pandas and Parquet store integer ids that had a missing value, so this is the id the qrels mean;
- other floats: their shortest round-trip text (`18.5` → `"18.5"`, as Python and numpy print them); they are kept
  rather than refused, and `vecrecall eval` warns when a run's documents then match no judged document;
- missing (None, NaN, pd.NA, NaT): `""`, which every reader refuses with the file and line.

Floats above 2**53 have lost digits before they reach us; nothing can restore them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

_MISSING_TYPES = ("NAType", "NaTType")


def norm_id(value: Any) -> str:
    """One id as text by the rules above; `""` for a missing value."""
    if isinstance(value, str):
        return value.strip()
    if value is None or type(value).__name__ in _MISSING_TYPES:
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            return ""
        if f.is_integer():
            return str(int(f))
        return str(value)  # shortest repr for Python and numpy floats alike (numpy's repr adds 'np.float64(…)')
    if type(value).__name__ == "Decimal":
        return str(int(value)) if value == value.to_integral_value() else str(value.normalize())
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()


def norm_ids(values: Iterable[Any]) -> list[str]:
    """Every id of a column (pandas Series, numpy array or any iterable) as text; integer columns take a fast path."""
    dtype = getattr(values, "dtype", None)
    if getattr(dtype, "kind", None) in ("i", "u") and not getattr(values, "hasnans", False):
        return [str(v) for v in values.tolist()]  # type: ignore[union-attr]
    if hasattr(values, "tolist"):
        values = values.tolist()  # type: ignore[union-attr]  # numpy scalars → Python scalars in one pass
    return [norm_id(v) for v in values]
