"""Sweep grids: YAML configs (several backends, build params apart from search params) and comma lists.

A grid is a list of `BuildSet`s; each is built once and every one of its search-parameter sets runs against it
(the ann-benchmarks `args` / `query_args` split). Parameter names, types, ranges and default search grids come from
each backend's spec (vecrecall.indexes.params), so a new backend's parameters are known here without edits. A build
list given for several index types (`index_type: [IVF, HNSW]`, `nlist: [64, 128]`) applies each parameter to the
types that take it.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from ..indexes.base import REGISTRY, get_spec
from ..indexes.params import BUILD, SEARCH, Spec, canonical_name, option


def _types(spec: Spec, kind: str) -> dict[str, type]:
    return {p.name: p.type for p in spec.all_params if p.kind == kind}


@dataclass
class BuildSet:
    """One index to build (backend + concrete build params) and the search-parameter sets to run on it."""

    name: str
    backend: str
    params: dict[str, Any]
    search: dict[str, Any] = field(default_factory=dict)  # name → list of values or an unevaluated expression

    @property
    def spec(self) -> Spec:
        return get_spec(self.backend)

    def key(self) -> str:
        return json.dumps({"backend": self.backend, **self.params}, sort_keys=True, default=str)

    def search_sets(self, ctx: dict[str, Any], taken: tuple[str, ...] | list[str],
                    built: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Concrete search sets for a built index that takes the parameters `taken`: the grid's values for those,
        the backend's default grid for the others; a grid parameter the index does not take is refused.

        Expressions see `ctx` and the index's build parameters as built (`built`, backend defaults included).
        """
        spec = self.spec
        params = {**self.params, **(built or {})}
        for name in self.search:
            if name not in taken:
                raise UserError(f"{self.name}: {spec.does_not_apply(name, SEARCH, params.get('index_type'), taken)}")
        grid = dict(self.search)
        defaults = spec.grids(params.get("index_type"))
        for name in taken:
            if name not in grid and name in defaults:
                grid[name] = defaults[name]
        types = _types(spec, SEARCH)
        env = {**ctx, **{k: v for k, v in params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}}
        values = {name: _values(raw, types.get(name, str), env, f"{self.name}: search {name}") for name, raw in grid.items()}
        if any(not v for v in values.values()):
            empty = next(n for n, v in values.items() if not v)
            raise UserError(f"{self.name}: search {option(empty)} has no values; give at least one")
        names = sorted(values)
        return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))] or [{}]


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


def _spec(backend: Any, where: str) -> Spec:
    if str(backend).lower() not in REGISTRY:
        raise UserError(f"{where}: unknown backend '{backend}'; choose one of {', '.join(sorted(REGISTRY))}")
    return get_spec(str(backend).lower())


def _check_names(spec: Spec, given: dict[str, Any], kind: str, where: str, cli: bool = False,
                 index_type: str | None = None) -> dict[str, Any]:
    """Keys of a build or search mapping, checked against the backend's table (spellings with '-' accepted)."""
    out: dict[str, Any] = {}
    known = [p.name for p in spec.all_params if p.kind == kind]
    for key, value in given.items():
        name = canonical_name(key)
        if name not in known and cli:
            raise UserError(spec.does_not_apply(name, kind, index_type))
        if name not in known:
            other = spec.param(name)
            hint = f" ({option(name)} is a {other.kind} parameter)" if other is not None else ""
            raise UserError(f"{where}: unknown key '{key}' for {spec.name}{hint}; {spec.name} {kind} parameters: "
                            f"{', '.join(known) or 'none'}")
        out[name] = value
    return out


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
    sets: list[BuildSet] = []
    for name, entry in entries.items():
        at = f"{where}: backends.{name}"
        if not isinstance(entry, dict):
            raise UserError(f"{at}: expected a mapping with keys backend, build, search")
        _check_keys(entry, ENTRY_KEYS, at)
        spec = _spec(entry.get("backend", name), at)
        build = entry.get("build") or {}
        search = entry.get("search") or {}
        for part, got in (("build", build), ("search", search)):
            if not isinstance(got, dict):
                raise UserError(f"{at}.{part}: expected a mapping of parameter → value(s), got {got!r}")
        build = _check_names(spec, build, BUILD, f"{at}.build")
        search = _check_names(spec, search, SEARCH, f"{at}.search")
        sets.extend(expand_build(str(name), spec.name, build, search, ctx, where=at))
    return sets


def expand_build(name: str, backend: str, build: dict[str, Any], search: dict[str, Any], ctx: dict[str, Any],
                 btypes: Any = None, where: str | None = None) -> list[BuildSet]:
    """One BuildSet per combination of build values (expressions evaluated against `ctx`), each parameter applied
    to the index types that take it; a parameter (build or search) that applies to none of the types is refused."""
    spec = get_spec(backend)
    where = where or name
    types = _types(spec, BUILD)
    build = {canonical_name(k): v for k, v in build.items() if v is not None}
    search = {canonical_name(k): v for k, v in search.items() if v is not None}
    values = {k: _values(v, types.get(k, str), ctx, f"{where}.build.{k}") for k, v in build.items()}
    for k, v in values.items():
        if not v:
            raise UserError(f"{where}: build {option(k)} has no values; give at least one")
    kinds: list[str | None] = [None]
    if spec.index_types:  # each listed type, or the one the other parameters imply (faiss: a factory string)
        first = {k: v[0] for k, v in values.items() if k != "index_type"}
        kinds = list(dict.fromkeys(spec.index_type({**first, "index_type": t}) for t in values.get("index_type", [None])))
    values.pop("index_type", None)
    for k in list(values) + list(search):
        kind = BUILD if k in values else SEARCH
        p = spec.param(k)
        if p is not None and not any(spec.applies(p, t) for t in kinds):
            raise UserError(f"{where}: {spec.does_not_apply(k, kind, kinds[0] if len(kinds) == 1 else None)}"
                            if len(kinds) == 1 else f"{where}: {option(k)} does not apply to {spec.name} "
                            f"{', '.join(str(t) for t in kinds)}")
    sets: list[BuildSet] = []
    for t in kinds:
        mine = {k: v for k, v in values.items() if spec.applies(spec.param(k), t)}
        names = list(mine)
        for combo in itertools.product(*(mine[k] for k in names)) if names else [()]:
            params = ({"index_type": t} if t is not None and (len(kinds) > 1 or "index_type" in build) else {})
            params.update(zip(names, combo))
            mine_search = {k: v for k, v in search.items() if spec.param(k) is None or spec.applies(spec.param(k), t)}
            sets.append(BuildSet(name if len(kinds) == 1 else f"{name}-{t}", spec.name, params, mine_search))
    return sets


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


def option_lists(given: dict[str, str], where: str = "") -> dict[str, list[str]]:
    """Command-line values as lists: comma-separated, except for parameters whose value may hold a comma (a faiss
    factory string), which stay one value."""
    from ..indexes.base import specs

    single = {p.name for s in specs().values() for p in s.all_params if p.single}
    return {name: [text] if name in single else split_list(text, f"{where}{option(name)}") for name, text in given.items()}


def parse_assignments(pairs: list[str], where: str) -> dict[str, list[str]]:
    """['nlist=64,128', …] → {'nlist': ['64', '128']} (names are checked against the backend's table later)."""
    out: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, vals = pair.partition("=")
        name = canonical_name(name)
        if not sep or not name:
            raise UserError(f"{where} {pair!r}: expected NAME=V1,V2 (e.g. nlist=64,128)")
        out[name] = split_list(vals, f"{where} {name}")
    return out


def command_line_grid(backend: str, build: dict[str, list[str]], search: dict[str, list[str]],
                      ctx: dict[str, Any]) -> list[BuildSet]:
    """Build sets from comma lists given as options (values may be expressions as in YAML)."""
    spec = _spec(backend, f"--backend {backend}")
    kinds = build.get("index_type") or []
    one = spec.index_type({"index_type": kinds[0]}) if len(kinds) == 1 and spec.index_types else None
    build = _check_names(spec, build, BUILD, "command line", cli=True, index_type=one)
    search = _check_names(spec, search, SEARCH, "command line", cli=True, index_type=one)
    label = spec.name + (f"-{kinds[0]}" if len(kinds) == 1 else "")
    return expand_build(label, spec.name, build, search, ctx, where="command line")


def data_context(n: int, dim: int, ks: list[int]) -> dict[str, Any]:
    """Names usable in grid expressions."""
    return {"n": n, "dim": dim, "sqrt_n": math.sqrt(n), "k": max(ks)}
