"""--target-recall: the fastest measured setting that reaches a recall, as commands and as a sweep config."""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..indexes.base import option
from .pareto import speed_of


@dataclass
class Choice:
    row: dict[str, Any]
    build_cmd: str
    query_cmd: str
    yaml: str


def _flags(params: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for k, v in params.items():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        out += [option(k), str(v)]
    return out


def pick(table: pd.DataFrame, recall_col: str, target: float, by: str = "qps") -> dict[str, Any] | None:
    """The fastest row by the Pareto speed axis `by` (`pareto.speed_of`: single-thread QPS, batch QPS or p50)
    whose recall ≥ target, ties to the higher recall; None if no row reaches the target."""
    ok = table[table[recall_col] >= target]
    if not len(ok):
        return None
    ranked = ok.assign(_speed=speed_of(ok, by)).sort_values(["_speed", recall_col], ascending=[False, False], kind="stable")
    return ranked.iloc[0].drop(labels="_speed").to_dict()


def describe_choice(row: dict[str, Any], metric: str, seed: int, k: int, embeddings: str | None,
                    queries: str | None) -> Choice:
    """Ready-to-run `build-index` / `query` command lines and a YAML snippet for the chosen setting."""
    build = json.loads(row["build_json"])
    search = json.loads(row["search_json"])
    q = shlex.quote
    build_cmd = " ".join(["vecrecall build-index", "--embeddings", q(embeddings or "EMBEDDINGS"), "--backend", row["backend"],
                          "--metric", metric, *map(q, _flags(build)), "--seed", str(seed), "--out", "INDEX"])
    query_cmd = " ".join(["vecrecall query --index INDEX", "--queries", q(queries or "QUERIES"),
                          *map(q, _flags(search)), "-k", str(k), "--out", "RUN"])
    import yaml

    snippet = yaml.safe_dump({"backends": {str(row["name"]): {"backend": row["backend"], "build": build, "search": search}}},
                             sort_keys=False, default_flow_style=None)
    return Choice(row, build_cmd, query_cmd, snippet)
