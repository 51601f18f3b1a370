"""Backend options generated from the backend registry, so no command declares a backend parameter by name.

`with_backend_options(func, kind)` adds one option per build (or search) parameter any registered backend declares
to a command, collects the values given into `func(backend_params=…)`, and
leaves parsing and validation to the library (the backend's spec), which names the parameter, its valid range and
the backend in one line. Values arrive as strings: the spec turns them into its types.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, List, Optional

import typer

def _entries(kind: str, inputs: tuple[str, ...] = ("vectors", "text")) -> dict[str, list[tuple[Any, Any]]]:
    """Parameter name → [(spec, param)] over every registered backend taking `inputs`, in registry order."""
    from ..indexes.base import specs

    out: dict[str, list[tuple[Any, Any]]] = {}
    for spec in specs().values():
        if spec.input not in inputs:
            continue
        for p in spec.all_params:
            if p.kind == kind:
                out.setdefault(p.name, []).append((spec, p))
    return out


def _help(name: str, entries: list[tuple[Any, Any]]) -> str:
    spec0, p0 = entries[0]
    if p0.choices:  # choices differ per backend: list each backend's
        shown = [(s, p) for s, p in entries if len(p.choices) > 1] or entries
        text = f"{p0.help.rstrip('.')} (case-insensitive): " + "; ".join(
            f"{s.name} {', '.join(p.choices)} (default {p.shown_default()})" for s, p in shown) + "."
    else:
        text = p0.help
        defaults = {s.name: p.shown_default() for s, p in entries}
        if len(set(defaults.values())) == 1:
            text += f" Default {next(iter(defaults.values()))}."
        else:
            text += " Default " + "; ".join(f"{b} {d}" for b, d in defaults.items()) + "."
        ranges = {p.range_text() for _, p in entries}
        if len(ranges) == 1 and not p0.choices and p0.type is not str:
            text += f" Valid: {next(iter(ranges))}."
        text += " For " + ", ".join(s.scope(p) for s, p in entries) + "."
    return text


HIDDEN = {"backend_params", "build_params", "search_params"}


def with_backend_options(func: Callable[..., Any], kind: str, lists: bool = False, into: str = "backend_params",
                         inputs: tuple[str, ...] = ("vectors", "text")) -> Callable[..., Any]:
    """`func` with one option per `kind` ('build' or 'search') parameter of the registered backends (those taking
    `inputs`) added after its own options; `func` receives the values given as `into` (name → string). Names `func`
    already has (e.g. sweep's --threads, which times queries) are left to it. `lists`: values are comma lists."""
    sig = inspect.signature(func, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name not in HIDDEN]
    taken = {p.name for p in own}
    generated: list[inspect.Parameter] = []
    panel = (f"Backend {kind} parameters: comma lists, expressions of n, dim, sqrt_n, k allowed" if lists else
             f"Backend {kind} parameters (see: vecrecall backends NAME)")
    for name, entries in _entries(kind, inputs).items():
        if name in taken:
            continue
        p0 = entries[0][1]
        opt = typer.Option(None, p0.option, help=_help(name, entries), metavar="<list>" if lists else p0.metavar,
                           show_default=False, rich_help_panel=panel)
        generated.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=Optional[str]))
    names = [g.name for g in generated]

    def command(**kwargs: Any) -> Any:
        given = {n: kwargs.pop(n) for n in names}
        return func(**{into: {n: v for n, v in given.items() if v is not None}}, **kwargs)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + generated
    command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__name__ = func.__name__
    command.__doc__ = func.__doc__
    command.__module__ = func.__module__
    return command


def param_option(kind: str) -> Any:
    what = "build" if kind == "build" else "search"
    return typer.Option([], "--param", help=f"Any backend {what} parameter as NAME=VALUE (repeatable); "
                        "vecrecall backends NAME lists them.", metavar="NAME=VALUE")


def assignments(pairs: List[str], option: str = "--param") -> dict[str, str]:
    """['a-b=1', 'c=2'] → {'a_b': '1', 'c': '2'} (names are checked by the backend's spec)."""
    from ..errors import UserError
    from ..indexes.params import canonical_name

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = canonical_name(name)
        if not sep or not name:
            raise UserError(f"{option} {pair!r}: expected NAME=VALUE (vecrecall backends NAME lists the names)")
        out[name] = value
    return out


def merge(options: dict[str, Any], pairs: dict[str, Any]) -> dict[str, Any]:
    """Options and --param assignments together; the same parameter given both ways is refused."""
    from ..errors import UserError
    from ..indexes.params import option

    both = sorted(set(options) & set(pairs))
    if both:
        raise UserError(f"{option(both[0])} given twice (as an option and as --param {both[0]}=…); give it once")
    return {**options, **pairs}
