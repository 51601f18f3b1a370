"""Backend parameters as data: each backend declares a `Spec` (its parameters, index types and capabilities), and
build-index, query, sweep, validation and `vecrecall backends` are written once over those declarations.

This module imports nothing heavy: the CLI reads every backend's Spec to build its options and help.
The pattern follows faiss's `ParameterSpace` (tunable parameters with ranges) and ann-benchmarks' per-algorithm
`args` / `query_args` split.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import UserError

BUILD, SEARCH = "build", "search"
TYPE_NAMES = {int: "integer", float: "number", str: "text", bool: "true/false"}


def option(name: str) -> str:
    """The command-line spelling of a parameter name (`ef_search` → `--ef-search`)."""
    return "--" + name.replace("_", "-")


def canonical_name(name: str) -> str:
    """`--ef-search`, `ef-search` and `ef_search` all name `ef_search`."""
    return str(name).strip().lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Derived:
    """A default computed from the data: `fn(ctx)`, ctx holding n, dim, (for search) k and the build parameters;
    `text` is how help shows it (e.g. '≈√n')."""

    text: str
    fn: Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Param:
    """One build or search parameter of a backend.

    `types` lists the index types it applies to (empty: all of the backend's types). `default` is a value, a
    `Derived`, or None when the library's own default applies and `default_text` says what it is. `grid` is the
    default sweep grid (an expression of sweep.grid, e.g. 'pow2(1, nlist)').
    """

    name: str
    type: type
    help: str
    kind: str = BUILD
    default: Any = None
    default_text: str | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # (alias, choice), matched case-insensitively
    types: tuple[str, ...] = ()
    grid: str | None = None
    column: bool = True  # shown as a column of the sweep table (False for bookkeeping such as train_size)
    single: bool = False  # a comma belongs to the value (a faiss factory string): sweep lists take one value

    @property
    def option(self) -> str:
        return option(self.name)

    @property
    def metavar(self) -> str:
        if self.choices:
            return "|".join(self.choices) if len("|".join(self.choices)) <= 24 else "NAME"
        return {int: "<int>", float: "<float>", bool: "<bool>"}.get(self.type, "<str>")  # as Typer shows the rest

    def shown_default(self) -> str:
        if isinstance(self.default, Derived):
            return self.default.text
        if self.default is None:
            return self.default_text or "–"
        return str(self.default)

    def range_text(self) -> str:
        """What values are valid, in words ('an integer from 2 to 2048', 'one of Flat, IVF')."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        what = TYPE_NAMES.get(self.type, "value")
        article = "an" if what[0] in "aeiou" else "a"
        fmt = lambda v: f"{int(v)}" if float(v).is_integer() else f"{v:g}"  # noqa: E731
        if self.low is not None and self.high is not None:
            return f"{article} {what} from {fmt(self.low)} to {fmt(self.high)}"
        if self.low is not None:
            return f"{article} {what} ≥ {fmt(self.low)}"
        if self.high is not None:
            return f"{article} {what} ≤ {fmt(self.high)}"
        return f"{article} {what}"

    def parse(self, value: Any, where: str) -> Any:
        """`value` (typed, or a string from the command line / YAML) as this parameter's type, range-checked.
        `where` names the backend (and index type) for the message."""
        bad = lambda: UserError(f"{self.option} {value}: {where} takes {self.range_text()}")  # noqa: E731
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise bad()
        if self.type is str:
            text = str(value).strip() if not isinstance(value, str) else value
            if self.choices:
                return self.choose(text, where)
            if text == "":
                raise UserError(f"{self.option}: empty value; {where} takes {self.range_text()}")
            return text
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, str):
            try:
                number = float(value.strip()) if self.type is float else _int_text(value)
            except ValueError:
                raise bad() from None
        elif isinstance(value, (int, float)):
            number = value
        else:
            raise bad()
        if self.type is int:
            if isinstance(number, float) and not number.is_integer():
                raise bad()
            number = int(number)
        else:
            number = float(number)
            if not math.isfinite(number):
                raise bad()
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise bad()
        return number

    def choose(self, text: str, where: str) -> str:
        """The declared spelling of a choice, matched case-insensitively (aliases included)."""
        low = text.strip().lower()
        for choice in self.choices:
            if choice.lower() == low:
                return choice
        for alias, choice in self.aliases:
            if alias.lower() == low:
                return choice
        raise UserError(f"{self.option} {text}: {where} takes {self.range_text()}")


def _flag(flag: bool | tuple[str, ...]) -> str:
    """'yes', 'no', or the index types a capability applies to ('Flat/IVF/IVFPQ')."""
    return "/".join(flag) if isinstance(flag, tuple) else ("yes" if flag else "no")


def _json_flag(flag: bool | tuple[str, ...]) -> bool | list[str]:
    return list(flag) if isinstance(flag, tuple) else flag


def _int_text(text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        value = float(text)  # '1e3' → 1000.0, checked for integrality by the caller
        if not math.isfinite(value):
            raise ValueError(text) from None
        return value


Rule = Callable[[dict[str, Any], dict[str, Any], str], None]


@dataclass(frozen=True)
class Spec:
    """What one backend is and takes: its parameters, index types and capabilities.

    `rules(params, ctx, where)` checks cross-parameter constraints (nlist ≤ n, pq_m divides dim…) on the completed
    build parameters (ctx: n, dim) or search parameters (ctx: n, dim, k and the build parameters); it raises
    UserError naming the parameter. `filter` says how `query --filter` runs: 'before ranking' (the backend applies a
    row mask) or 'after' (over-fetch, then post-filter).
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    index_types: tuple[str, ...] = ()  # the first is the default; empty: the backend has one kind of index
    type_aliases: tuple[tuple[str, str], ...] = ()
    exact_types: tuple[str, ...] = ()  # index types whose results equal exact search (conformance known answers)
    input: str = "vectors"  # or "text"
    metrics: tuple[str, ...] = ("ip", "l2", "cosine")
    filter: str = "after"
    threads: bool = False  # build/search thread count is controllable
    # update-index in place: True, False, or the index types that can (the others are rebuilt; see indexes/update.py)
    add: bool | tuple[str, ...] = False
    delete: bool | tuple[str, ...] = False
    server: bool = False
    package: str = ""  # the PyPI distribution(s) behind it, comma-separated (a note in parentheses): `vecrecall backends`, sweep manifests
    requires: tuple[str, ...] = ()  # optional top-level modules it needs, checked before a build (check_installed)
    install: str = ""  # the pip command that brings them, e.g. "pip install 'vecrecall[ann]'"
    rules: Rule | None = None
    search_rules: Rule | None = None
    infer_type: Callable[[dict[str, Any]], str | None] | None = None  # an index type implied by other parameters

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name}: parameter declared twice")

    # ------------------------------------------------------------------ lookup

    @property
    def all_params(self) -> tuple[Param, ...]:
        """The declared parameters, with `index_type` first when the backend declares index types."""
        if not self.index_types:
            return self.params
        kind = Param("index_type", str, "Index structure.", default=self.index_types[0], choices=self.index_types,
                     aliases=self.type_aliases, column=False)
        return (kind, *self.params)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.all_params if p.name == name), None)

    def names(self, kind: str, index_type: str | None = None) -> list[str]:
        return [p.name for p in self.all_params if p.kind == kind and self.applies(p, index_type)]

    def applies(self, p: Param, index_type: str | None) -> bool:
        return not p.types or index_type is None or index_type in p.types

    def scope(self, p: Param) -> str:
        """Where `p` applies: 'faiss IVF/IVFPQ', or the backend's name when it applies to every index type."""
        return f"{self.name} {'/'.join(p.types)}" if p.types and len(self.index_types) > 1 else self.name

    def capabilities(self) -> list[str]:
        """What the backend is and can do, as short phrases (for `vecrecall backends`)."""
        caps = [f"input {self.input}", f"metrics {', '.join(self.metrics)}"]
        if self.index_types:
            caps.append(f"types {', '.join(self.index_types)}")
        caps.append(f"filter {self.filter}")
        caps += [f"{what} {_flag(flag)}" for what, flag in
                 (("threads", self.threads), ("add", self.add), ("delete", self.delete), ("server", self.server))]
        if self.exact_types:
            caps.append(f"exact: {', '.join(self.exact_types)}")
        if self.package:
            caps.append(f"package {self.package}")
        return caps

    def can(self, op: str, index_type: str | None = None) -> bool:
        """Whether `op` ('add' or 'delete') runs in place on an index of `index_type` (else update-index rebuilds)."""
        flag = getattr(self, op)
        return flag if isinstance(flag, bool) else index_type in flag

    def label(self, index_type: str | None = None) -> str:
        return f"{self.name} {index_type}" if index_type and len(self.index_types) > 1 else self.name

    def index_type(self, given: dict[str, Any]) -> str | None:
        """The canonical index type named in `given` (default: the first declared)."""
        if not self.index_types:
            return None
        raw = given.get("index_type")
        implied = self.infer_type(given) if self.infer_type else None
        if implied is not None:
            if raw is not None and self.param("index_type").choose(str(raw), self.name) != implied:
                raise UserError(f"--index-type {raw}: conflicts with the parameters given (they make a {self.name} "
                                f"{implied} index); give one or the other")
            return implied
        return self.index_types[0] if raw is None else self.param("index_type").choose(str(raw), self.name)

    # ------------------------------------------------------------------ validation

    def check(self, given: dict[str, Any], kind: str, index_type: str | None = None,
              allowed: Iterable[str] | None = None) -> dict[str, Any]:
        """Names, types and static ranges of the parameters given (None = not given), before any data is read.

        Returns the parsed values. A name this backend does not have, or that does not apply to its index type (or is
        not in `allowed`, the names a built index takes), is one line naming the option and what the backend takes."""
        given = {canonical_name(k): v for k, v in given.items() if v is not None}
        if kind == BUILD and self.index_types:
            index_type = self.index_type(given)
            given["index_type"] = index_type
        where = self.label(index_type)
        names = set(allowed) if allowed is not None else set(self.names(kind, index_type))
        out: dict[str, Any] = {}
        for name, value in given.items():
            p = self.param(name)
            if p is None or p.kind != kind or name not in names:
                raise UserError(self.does_not_apply(name, kind, index_type, names))
            out[name] = p.parse(value, where)
        if kind == BUILD:
            self.check_installed()
        return out

    def check_installed(self) -> None:
        """Refuse a backend whose optional library is missing before any data is read or anything is built (a sweep
        checks its whole grid first), with the pip command that installs it. Finds the module without importing it."""
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                raise UserError(f"--backend {self.name} needs the Python package '{module}', which is not installed; "
                                f"install it with: {self.install or 'pip install ' + module}")

    def does_not_apply(self, name: str, kind: str, index_type: str | None, names: Iterable[str] | None = None) -> str:
        names = self.names(kind, index_type) if names is None else [n for n in self.names(kind) if n in set(names)]
        what = "search" if kind == SEARCH else "build"
        takes = ", ".join(option(n) for n in names if n != "index_type")
        other = self.param(name)
        if other is None:  # not a parameter of this backend at all: list everything it takes
            known = ", ".join(option(n) for n in self.names(kind) if n != "index_type")
            return (f"{option(name)} does not apply to {self.name}: not one of its parameters "
                    f"({what} parameters: {known or 'none'}; see vecrecall backends {self.name})")
        hint = ""
        if other is not None and other.kind != kind:
            hint = f"; {option(name)} is a {other.kind} parameter" + (" (give it to query)" if other.kind == SEARCH else
                                                                      " (give it to build-index)")
        return (f"{option(name)} does not apply to {self.label(index_type)} "
                f"(it takes: {takes or f'no {what} parameters'}){hint}")

    def resolve(self, given: dict[str, Any], kind: str, ctx: dict[str, Any], index_type: str | None = None,
                allowed: Iterable[str] | None = None) -> dict[str, Any]:
        """The complete parameters: `given` checked (see `check`), defaults filled in for every parameter that applies,
        then the cross-parameter rules. ctx: n and dim (and, for search, k and the build parameters)."""
        params = self.check(given, kind, index_type, allowed)
        if kind == BUILD:
            index_type = params.get("index_type", index_type)
        names = set(allowed) if allowed is not None else set(self.names(kind, index_type))
        env = {**ctx, **params}
        for p in self.all_params:
            if p.kind != kind or p.name in params or p.name not in names:
                continue
            if isinstance(p.default, Derived):
                params[p.name] = p.default.fn(env)
            elif p.default is not None:
                params[p.name] = p.default
            if p.name in params:
                env[p.name] = params[p.name]
        rules = self.rules if kind == BUILD else self.search_rules
        if rules is not None:
            named = {canonical_name(k) for k, v in given.items() if v is not None}
            rules(params, {**ctx, "given": named}, self.label(index_type))
        return params

    def grids(self, index_type: str | None) -> dict[str, str]:
        """Default sweep grids of the search parameters that apply to `index_type`."""
        return {p.name: p.grid for p in self.all_params if p.kind == SEARCH and p.grid and self.applies(p, index_type)}

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for `vecrecall backends --json`)."""
        return {
            "name": self.name, "summary": self.summary, "input": self.input, "metrics": list(self.metrics),
            "index_types": list(self.index_types), "exact_index_types": list(self.exact_types),
            "capabilities": {"filter": self.filter, "threads": self.threads, "add": _json_flag(self.add),
                             "delete": _json_flag(self.delete), "server": self.server},
            "package": self.package,
            "params": [{"name": p.name, "option": p.option, "kind": p.kind, "type": TYPE_NAMES.get(p.type, "value"),
                        "default": p.shown_default(), "valid": p.range_text(), "index_types": list(p.types),
                        "grid": p.grid, "help": p.help} for p in self.all_params],
        }


# ---------------------------------------------------------------------------------------------------------------
# Parameters and rules shared by several backends (IVF and PQ rules written once)
# ---------------------------------------------------------------------------------------------------------------

def default_nlist(n: int) -> int:
    """≈ √n lists, the usual starting point (at least 1)."""
    return max(1, int(round(math.sqrt(max(n, 1)))))


def default_pq_m(dim: int) -> int:
    """The largest divisor of dim that is at most dim/4 (4 dimensions per sub-quantizer)."""
    return max(m for m in range(1, max(1, dim // 4) + 1) if dim % m == 0)


def check_nlist(nlist: int, n: int, where: str, limit: int | None = None) -> None:
    top = min(n, limit) if limit else n
    if not 1 <= nlist <= top:
        bound = f"min(number of vectors, {limit}) = {top:,}" if limit and limit < n else f"the number of vectors ({n:,})"
        raise UserError(f"--nlist {nlist}: {where} takes between 1 and {bound}; ≈√n = {default_nlist(n)} is a good start")


def check_pq_m(m: int, dim: int, where: str) -> None:
    if dim % m:
        divisors = [d for d in range(1, dim + 1) if dim % d == 0 and d <= max(1, dim // 2)]
        raise UserError(f"--pq-m {m}: must divide the dimension {dim} for {where} "
                        f"(e.g. {', '.join(map(str, divisors[-4:]))}; default {default_pq_m(dim)})")


def nlist_param(types: Iterable[str], high: int | None = None) -> Param:
    return Param("nlist", int, "IVF lists (k-means centroids).", default=Derived("≈√n", lambda c: default_nlist(c["n"])),
                 low=1, high=high, types=tuple(types))


def nprobe_param(types: Iterable[str], default: Any, high: int | None = None) -> Param:
    return Param("nprobe", int, "IVF lists probed per query (raised past nlist: all lists).", kind=SEARCH,
                 default=default, low=1, high=high, types=tuple(types), grid="pow2(1, nlist)")


def pq_params(types: Iterable[str]) -> tuple[Param, Param]:
    types = tuple(types)
    return (Param("pq_m", int, "PQ sub-quantizers; must divide the dimension.",
                  default=Derived("largest divisor of dim ≤ dim/4", lambda c: default_pq_m(c["dim"])), low=1, types=types),
            Param("pq_bits", int, "Bits per PQ code.", default=8, low=1, high=16, types=types))


def hnsw_params(types: Iterable[str], m: int, ef_construction: int, m_high: int) -> tuple[Param, Param]:
    types = tuple(types)
    return (Param("hnsw_m", int, "HNSW links per node (M).", default=m, low=2, high=m_high, types=types),
            Param("ef_construction", int, "HNSW build beam width (efConstruction).", default=ef_construction, low=1,
                  types=types))


def ef_search_param(types: Iterable[str], default: Any, default_text: str | None = None) -> Param:
    return Param("ef_search", int, "HNSW search beam (efSearch); raised to k when smaller.", kind=SEARCH,
                 default=default, default_text=default_text, low=1, types=tuple(types), grid="pow2(16, 512)")


def threads_param(types: Iterable[str] = (), help: str = "Build threads (default 1: parallel builds are not "
                  "deterministic).") -> Param:
    return Param("threads", int, help, default=1, low=1, types=tuple(types), column=False)


def ivf_rules(params: dict[str, Any], ctx: dict[str, Any], where: str, nlist_limit: int | None = None) -> None:
    """nlist ≤ n, pq_m divides dim: the IVF/PQ constraints every IVF backend shares."""
    if "nlist" in params:
        check_nlist(params["nlist"], ctx["n"], where, nlist_limit)
    if "pq_m" in params:
        check_pq_m(params["pq_m"], ctx["dim"], where)


@dataclass
class SearchSettings:
    """Search parameters as requested and as the library actually uses them (after its clamps), with one note per
    clamp the user should know about (only for values the user gave)."""

    requested: dict[str, Any]
    used: dict[str, Any]
    k: int
    notes: list[str] = field(default_factory=list)
