"""The sweep's terminal tables: a compact one that fits 80 columns (the default) and a wide one with every column.

Compact: ★, the setting in one column (`faiss IVF nlist=64 nprobe=8`, wrapped rather than cut), recall@k for each
k, the qrels measures, single-thread QPS with its spread over repetitions (`4,120 ±3%`: the larger distance of
min or max from the median), p50 latency and build seconds. Wide: backend, each parameter as a column, every
recall and measure, p50/p95/p99, QPS and batch QPS with min–max, build seconds and index MB. Both are sorted by the
first recall (then QPS); the values in them come from the results table unchanged (rounding only).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from rich import box
from rich.table import Table

from ..indexes.base import get_spec
from .pareto import SPEED_AXES
from .runner import param_columns, row_title


def _num(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{int(v)}" if float(v).is_integer() else f"{v:g}"


def _set(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def setting_text(row: Any, build_cols: list[str], search_cols: list[str]) -> str:
    """'faiss IVF nlist=64 nprobe=8': backend, index type (when the backend has several), a string parameter asked
    for (a faiss factory string), then the build and search parameters set in this row. A string the backend
    derived itself (the factory string of `--index-type IVF`) is left out."""
    asked = json.loads(row["build_json"]) if isinstance(row.get("build_json"), str) else {}
    spec = get_spec(str(row["backend"]))
    kind = row.get("index_type")
    parts = [str(row["backend"])]
    if isinstance(kind, str) and len(spec.index_types) > 1:
        parts.append(kind)
    parts += [str(row[p.name]) for p in spec.all_params
              if p.single and p.name in asked and isinstance(row.get(p.name), str)]
    for c in build_cols + search_cols:
        v = row.get(c)
        if _set(v) and not isinstance(v, str):
            parts.append(f"{c}={_num(v)}")
    return " ".join(parts)


def _sig(v: float, digits: int = 3) -> str:
    """A positive number with `digits` significant digits, never in exponent form (0.0123, 1.23, 12.3, 1,234)."""
    if not _set(v):
        return ""
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{decimals}f}"


def spread_pct(med: float, lo: float, hi: float) -> float:
    """The larger distance of min or max from the median, in percent of the median."""
    if not (_set(med) and _set(lo) and _set(hi)) or med <= 0:
        return float("nan")
    return 100.0 * max(hi - med, med - lo) / med


def _qps_cell(r: Any, col: str = "qps") -> str:
    med = r.get(col)
    if not _set(med):
        return ""
    text = f"{med:,.0f}" if med >= 100 else _sig(med)
    pct = spread_pct(med, r.get(f"{col}_min", float("nan")), r.get(f"{col}_max", float("nan")))
    if _set(pct) and r.get("repetitions", 1) and int(r.get("repetitions", 1)) > 1:
        text += f" ±{pct:.0f}%" if pct >= 1 else " ±<1%"
    return text


def _range(r: Any, col: str, fmt: Any) -> str:
    lo, hi = r.get(f"{col}_min"), r.get(f"{col}_max")
    return f"{fmt(lo)}–{fmt(hi)}" if _set(lo) and _set(hi) else ""


def _sorted(table: pd.DataFrame, recall_col: str) -> pd.DataFrame:
    return table.sort_values([recall_col, "qps"], ascending=[False, False], kind="stable")


def _title(describe: dict[str, Any], n_queries: int, metric: str, pareto_by: str) -> str:
    return (f"{describe['source']} · {n_queries:,} queries ({describe['queries']}) · {metric} · "
            f"★ = Pareto-optimal by {SPEED_AXES.get(pareto_by, pareto_by)}")


def _header(name: str) -> str:
    """'recall@10' → 'recall\\n@10': two short lines instead of one long one."""
    return name.replace("@", "\n@", 1) if "@" in name else name


WIDTH = 80
MIN_SETTING = 20  # narrowest the setting column may get before value columns move to --wide


def _caption(repetitions: int, moved: list[str]) -> str:
    how = (f"median of {repetitions} repetitions ± the larger distance of min or max from it" if repetitions > 1
           else "one repetition")
    more = f"{', '.join(moved)}, " if moved else ""
    return (f"QPS: one thread (1 / mean latency), {how}; {more}batch QPS, p95/p99, ranges: --wide, --json, "
            "results.parquet")


def compact_table(table: pd.DataFrame, recall_cols: list[str], measure_cols: list[str], describe: dict[str, Any],
                  n_queries: int, metric: str, pareto_by: str, repetitions: int, width: int = WIDTH) -> Table:
    """The default table: key columns only, made to fit `width` columns. The setting column wraps (a long word is
    folded, never cut); when the value columns leave it fewer than MIN_SETTING characters, measure columns and
    then recall columns after the first move to --wide (the caption names them)."""
    df = _sorted(table, recall_cols[0])
    bcols, scols = param_columns(df)
    values: dict[str, list[str]] = {c: [f"{v:.3f}" for v in df[c]] for c in recall_cols}
    values.update({c: [f"{v:.4f}" for v in df[c]] for c in measure_cols})
    values["QPS"] = [_qps_cell(r) for _, r in df.iterrows()]
    values["p50\nms"] = [_sig(v) for v in df["p50_ms"]]
    values["build\ns"] = [_sig(v, 2) if v >= 1 else f"{v:.2f}" for v in df["build_s"]]
    headers = {c: _header(c) for c in recall_cols + measure_cols}
    headers.update({c: c for c in ("QPS", "p50\nms", "build\ns")})

    def room(cols: list[str]) -> int:  # what is left for the setting column (gaps of 2 between columns)
        used = 1 + sum(max([len(x) for x in headers[c].split("\n")] + [len(x) for x in values[c]]) for c in cols)
        return width - used - 2 * (len(cols) + 1)

    shown = [*recall_cols, *measure_cols, "QPS", "p50\nms", "build\ns"]
    moved: list[str] = []
    for c in [*reversed(measure_cols), *reversed(recall_cols[1:])]:
        if room(shown) >= MIN_SETTING:
            break
        shown.remove(c)
        moved.insert(0, c)
    t = Table(title=_title(describe, n_queries, metric, pareto_by), box=box.SIMPLE_HEAD, pad_edge=False,
              padding=(0, 1), collapse_padding=True, caption=_caption(repetitions, moved))
    t.add_column("★", no_wrap=True)
    t.add_column("setting", overflow="fold", ratio=1, min_width=min(MIN_SETTING, max(1, room(shown))))
    for c in shown:
        t.add_column(headers[c], justify="right", no_wrap=True)
    for i, (_, r) in enumerate(df.iterrows()):
        cells = ["★" if r["pareto"] else "", setting_text(r, bcols, scols)] + [values[c][i] for c in shown]
        t.add_row(*cells, style="green" if r["pareto"] else None)
    return t


def wide_table(table: pd.DataFrame, recall_cols: list[str], measure_cols: list[str], describe: dict[str, Any],
               n_queries: int, metric: str, pareto_by: str) -> Table:
    """Every column: parameters apart, all latency percentiles, single-thread and batch QPS with min–max."""
    df = _sorted(table, recall_cols[0])
    bcols, scols = param_columns(df)
    t = Table(title=_title(describe, n_queries, metric, pareto_by))
    t.add_column("★")
    t.add_column("backend", style="bold", no_wrap=True)
    for c in bcols + scols:
        t.add_column(c, justify="right")
    for c in recall_cols + measure_cols:
        t.add_column(c, justify="right")
    for c in ("p50 ms", "p50 min–max", "p95 ms", "p99 ms", "QPS", "QPS min–max", "batch QPS", "batch min–max",
              "build s", "MB"):
        t.add_column(c, justify="right")
    for _, r in df.iterrows():
        cells = ["★" if r["pareto"] else "", row_title(r)]
        cells += [_num(r[c]) for c in bcols + scols]
        cells += [f"{r[c]:.4f}" for c in recall_cols + measure_cols]
        cells += [f"{r['p50_ms']:.4f}", _range(r, "p50_ms", lambda v: f"{v:.4f}"), f"{r['p95_ms']:.4f}",
                  f"{r['p99_ms']:.4f}", f"{r['qps']:,.0f}", _range(r, "qps", lambda v: f"{v:,.0f}"),
                  f"{r['batch_qps']:,.0f}", _range(r, "batch_qps", lambda v: f"{v:,.0f}"), f"{r['build_s']:.2f}",
                  f"{r['index_bytes'] / 1e6:.1f}"]
        t.add_row(*cells, style="green" if r["pareto"] else None)
    return t
