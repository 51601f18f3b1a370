"""Sweep grids: YAML configs (several backends, build params apart from search params) and comma lists.

A grid is a list of `BuildSet`s; each is built once and every one of its search-parameter sets runs against it
(the ann-benchmarks `args` / `query_args` split). Parameter names are those of `build-index` and `query`,
read from their command signatures so new backends' options are known here without edits.

Numeric values may be expressions of the data size, evaluated safely:
  names  n (corpus vectors), dim, sqrt_n, k (largest k), and, in search values, the set's build parameters;
  ops    + - * / // ** and round(), int(), min(), max();
  lists  pow2(lo, hi) = lo, 2·lo, 4·lo, … up to hi (hi included); times(x, a, b, …) = x·a, x·b, …
e.g. `nlist: [sqrt_n, 4*sqrt_n]`, `nprobe: pow2(1, nlist)`, `search_k: times(n_trees*k, 1, 4, 16)`.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import operator
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from ..indexes.base import REGISTRY, option

# Options of build-index / query that are inputs or outputs, not index parameters.
_NOT_PARAMS = {"embeddings", "corpus", "backend", "metric", "out", "seed", "overwrite", "json_out", "id_field",
               "text_field", "title_field", "index", "queries", "k", "fmt", "run_tag", "model", "per_chunk",
               "no_cache"}

# Search grids used when a search parameter the built index takes is not given (keyed by parameter, not backend).
DEFAULT_SEARCH = {
    "nprobe": "pow2(1, nlist)",
    "ef_search": "pow2(16, 512)",
    "search_k": "times(n_trees*k, 1, 2, 4, 8, 16)",
}


def _param_types(func: Callable[..., Any]) -> dict[str, type]:
    hints = typing.get_type_hints(func)
    out: dict[str, type] = {}
    for name, hint in hints.items():
        if name in _NOT_PARAMS or name == "return":
            continue
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        out[name] = args[0] if args[0] in (int, float, str, bool) else str
    return out


def build_param_types() -> dict[str, type]:
    """Build parameter name → type, from the `build-index` command."""
    from ..cli.index import build_index

    return _param_types(build_index)


def search_param_types() -> dict[str, type]:
    """Search parameter name → type, from the `query` command."""
    from ..cli.query import query

    return _param_types(query)


@dataclass
class BuildSet:
    """One index to build (backend + concrete build params) and the search-parameter sets to run on it."""

    name: str
    backend: str
    params: dict[str, Any]
    search: dict[str, Any] = field(default_factory=dict)  # name → list of values or an unevaluated expression

    def key(self) -> str:
        return json.dumps({"backend": self.backend, **self.params}, sort_keys=True, default=str)

    def search_sets(self, ctx: dict[str, Any], taken: tuple[str, ...], built: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Concrete search sets for a built index that takes the parameters `taken` (defaults fill the rest).

        Expressions see `ctx` and the index's build parameters as built (`built`, backend defaults included).
        """
        grid = dict(self.search)
        for name in taken:
            if name not in grid and name in DEFAULT_SEARCH:
                grid[name] = DEFAULT_SEARCH[name]
        types = search_param_types()
        params = {**self.params, **(built or {})}
        env = {**ctx, **{k: v for k, v in params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}}
        values = {name: _values(raw, types.get(name, str), env, f"{self.name}: search {name}") for name, raw in grid.items()}
        if any(not v for v in values.values()):
            empty = next(n for n, v in values.items() if not v)
            raise UserError(f"{self.name}: search {name_opt(empty)} has no values; give at least one")
        names = sorted(values)
        return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))] or [{}]


def name_opt(name: str) -> str:
    return option(name)


# ---------------------------------------------------------------------------------------------------------------
# Safe expressions
# ---------------------------------------------------------------------------------------------------------------

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}


def pow2(lo: float, hi: float) -> list[float]:
    """lo, 2·lo, 4·lo, … while ≤ hi, then hi itself."""
    lo, hi = max(1, int(round(lo))), int(round(hi))
    out, v = [], lo
    while v < hi:
        out.append(v)
        v *= 2
    return out + [hi] if hi >= lo else out


def times(x: float, *factors: float) -> list[float]:
    return [x * f for f in factors]


_FUNCS: dict[str, Callable[..., Any]] = {"pow2": pow2, "times": times, "round": round, "int": int, "min": min,
                                         "max": max, "sqrt": math.sqrt}


def evaluate(expr: str, env: dict[str, Any], where: str) -> Any:
    """Evaluate an arithmetic expression over `env` (numbers only, no attribute access)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in env:
                known = ", ".join(sorted(env))
                raise UserError(f"{where}: unknown name '{node.id}' in '{expr}'; names you can use: {known}")
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
            return _FUNCS[node.func.id](*(ev(a) for a in node.args))
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        raise UserError(f"{where}: cannot evaluate '{expr}'; use numbers, {', '.join(sorted(env))}, + - * / // ** "
                        f"and {', '.join(sorted(_FUNCS))}()")

    try:
        tree = ast.parse(str(expr), mode="eval")
    except SyntaxError:
        raise UserError(f"{where}: '{expr}' is not a number or an expression (e.g. 4*sqrt_n, pow2(1, nlist))") from None
    return ev(tree)


def _cast(value: Any, kind: type, where: str) -> Any:
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: {value!r} is not a number")
    if kind is int:
        return max(1, int(round(value))) if value > 0 else int(round(value))
    return float(value)


def _values(raw: Any, kind: type, env: dict[str, Any], where: str) -> list[Any]:
    """A grid entry (scalar, list, or expression) as a list of concrete values, duplicates dropped, order kept."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[Any] = []
    for item in items:
        if isinstance(item, (dict, list)):
            raise UserError(f"{where}: {item!r} is not a value; give a number, a string or a list of them")
        if kind is not str and isinstance(item, str):
            got = evaluate(item, env, where)
            out.extend(_cast(v, kind, where) for v in (got if isinstance(got, list) else [got]))
        else:
            out.append(_cast(item, kind, where))
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------------

TOP_KEYS = {"backends"}
ENTRY_KEYS = {"backend", "build", "search"}


def _check_keys(given: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in given:
        if key not in allowed:
            raise UserError(f"{where}: unknown key '{key}'; keys here: {', '.join(sorted(allowed))}")


def parse_config(data: Any, where: str, ctx: dict[str, Any]) -> list[BuildSet]:
    """Build sets from a parsed YAML config:

        backends:
          <name>: {backend: faiss, build: {index_type: IVF, nlist: [sqrt_n, 4*sqrt_n]}, search: {nprobe: pow2(1, nlist)}}
    """
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping with key 'backends' (see configs/sweep_default.yaml)")
    _check_keys(data, TOP_KEYS, where)
    entries = data.get("backends")
    if not isinstance(entries, dict) or not entries:
        raise UserError(f"{where}: 'backends' must map names to {{backend, build, search}} entries; the grid is empty")
    btypes, stypes = build_param_types(), search_param_types()
    sets: list[BuildSet] = []
    for name, entry in entries.items():
        at = f"{where}: backends.{name}"
        if not isinstance(entry, dict):
            raise UserError(f"{at}: expected a mapping with keys backend, build, search")
        _check_keys(entry, ENTRY_KEYS, at)
        backend = entry.get("backend", name)
        if backend not in REGISTRY:
            raise UserError(f"{at}: unknown backend '{backend}'; choose one of {', '.join(sorted(REGISTRY))}")
        build = entry.get("build") or {}
        search = entry.get("search") or {}
        for part, got in (("build", build), ("search", search)):
            if not isinstance(got, dict):
                raise UserError(f"{at}.{part}: expected a mapping of parameter → value(s), got {got!r}")
        _check_keys(build, set(btypes), f"{at}.build")
        _check_keys(search, set(stypes), f"{at}.search")
        sets.extend(expand_build(str(name), backend, build, search, ctx, btypes, at))
    return sets


def expand_build(name: str, backend: str, build: dict[str, Any], search: dict[str, Any], ctx: dict[str, Any],
                 btypes: dict[str, type] | None = None, where: str | None = None) -> list[BuildSet]:
    """One BuildSet per combination of build values (expressions evaluated against `ctx`)."""
    btypes = btypes or build_param_types()
    where = where or name
    values = {k: _values(v, btypes.get(k, str), ctx, f"{where}.build.{k}") for k, v in build.items() if v is not None}
    for k, v in values.items():
        if not v:
            raise UserError(f"{where}: build {option(k)} has no values; give at least one")
    names = list(values)
    combos = itertools.product(*(values[k] for k in names)) if names else [()]
    return [BuildSet(name, backend, dict(zip(names, combo)), dict(search)) for combo in combos]


def load_config(path: str | Path, ctx: dict[str, Any]) -> list[BuildSet]:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"--config {p}: no such file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"--config {p}:{line} malformed YAML ({getattr(exc, 'problem', None) or exc})") from None
    return parse_config(data, str(p), ctx)


def split_list(text: str, where: str) -> list[str]:
    """'1,2, 4' → ['1', '2', '4']; commas inside parentheses stay (pow2(1, nlist)); an empty item is an error."""
    items, depth, cur = [], 0, ""
    for ch in str(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    items.append(cur.strip())
    if any(not t for t in items):
        raise UserError(f"{where} {text!r}: expected a comma-separated list such as 1,2,4")
    return items


def parse_assignments(pairs: list[str], where: str, known: dict[str, type]) -> dict[str, list[str]]:
    """['nlist=64,128', …] → {'nlist': ['64', '128']}; names must be known parameters."""
    out: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, vals = pair.partition("=")
        name = name.strip().lstrip("-").replace("-", "_")
        if not sep or not name:
            raise UserError(f"{where} {pair!r}: expected NAME=V1,V2 (e.g. nlist=64,128)")
        if name not in known:
            raise UserError(f"{where} {pair!r}: unknown parameter '{name}'; parameters: {', '.join(sorted(known))}")
        out[name] = split_list(vals, f"{where} {name}")
    return out


def command_line_grid(backend: str, build: dict[str, list[str]], search: dict[str, list[str]],
                      ctx: dict[str, Any]) -> list[BuildSet]:
    """Build sets from comma lists given as options (values may be expressions as in YAML)."""
    if backend not in REGISTRY:
        raise UserError(f"--backend {backend}: unknown backend; choose one of {', '.join(sorted(REGISTRY))}")
    label = backend + (f"-{build['index_type'][0]}" if "index_type" in build and len(build["index_type"]) == 1 else "")
    return expand_build(label, backend, build, search, ctx, where="command line")


def data_context(n: int, dim: int, ks: list[int]) -> dict[str, Any]:
    """Names usable in grid expressions."""
    return {"n": n, "dim": dim, "sqrt_n": math.sqrt(n), "k": max(ks)}
