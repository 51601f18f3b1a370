"""Metadata filters: a small, safe expression language over corpus metadata columns (no Python `eval`).

Grammar (keywords are case-insensitive):

    expr    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | '(' expr ')' | test
    test    := operand OP operand                       OP: == = != < <= > >=  (one side a column, one a value)
             | column ['not'] 'in' '(' value (',' value)* ')'    (or [ … ])
    value   := number | 'text' | "text" | true | false
    column  := a name (letters, digits, _ . -) or `any name` in backticks

Dates: a text value like '2020-01-31' compared with a date column (datetimes, or text that parses as dates)
compares as a date. A row whose value is missing never satisfies a test (not even `!=`); `not` inverts the result.

`parse` gives a tree of `Compare / In / And / Or / Not`; `row_mask` evaluates it over a DataFrame (the index's
`ids.parquet`), and `translate` writes it in another engine's filter syntax (`MILVUS`, `SQL` dialects) for backends
that filter natively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Union

import numpy as np
import pandas as pd

from .errors import UserError

# ----------------------------------------------------------------------------------------------------------------
# Syntax tree
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    column: str
    op: str  # == != < <= > >=
    value: Any
    pos: int  # 1-based position of the column name in the expression


@dataclass(frozen=True)
class In:
    column: str
    values: tuple
    negate: bool
    pos: int


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: Any


Node = Union[Compare, In, And, Or, Not]

# ----------------------------------------------------------------------------------------------------------------
# Tokens and parser
# ----------------------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.-]))
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<>|=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<quoted>`[^`]+`)
  | (?P<name>[A-Za-z_][\w.\-]*)
""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Token:
    kind: str  # num str op punct name kw end
    text: str
    value: Any
    pos: int  # 1-based


class FilterError(UserError):
    """A filter that does not parse or does not fit the metadata."""


def _fail(expr: str, pos: int, message: str) -> FilterError:
    return FilterError(f"--filter {expr!r}: {message} at position {pos}")


def tokenize(expr: str) -> list[Token]:
    tokens, i = [], 0
    while i < len(expr):
        m = _TOKEN.match(expr, i)
        if not m:
            raise _fail(expr, i + 1, f"unexpected character {expr[i]!r}")
        kind, text = m.lastgroup, m.group()
        if kind == "num":
            tokens.append(Token("num", text, float(text) if re.search(r"[.eE]", text) else int(text), i + 1))
        elif kind == "str":
            tokens.append(Token("str", text, re.sub(r"\\(.)", r"\1", text[1:-1]), i + 1))
        elif kind == "quoted":
            tokens.append(Token("name", text, text[1:-1], i + 1))
        elif kind == "name" and text.lower() in _KEYWORDS:
            tokens.append(Token("kw", text, text.lower(), i + 1))
        elif kind == "op":
            tokens.append(Token("op", text, {"=": "==", "<>": "!="}.get(text, text), i + 1))
        elif kind != "ws":
            tokens.append(Token(kind, text, text, i + 1))
        i = m.end()
    tokens.append(Token("end", "", None, len(expr) + 1))
    return tokens


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = tokenize(expr)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == "kw" and self.tok.value == word

    def expect(self, text: str, what: str) -> Token:
        if self.tok.text != text:
            raise self.error(f"expected {what}")
        return self.take()

    def error(self, message: str) -> FilterError:
        found = "the end of the expression" if self.tok.kind == "end" else repr(self.tok.text)
        return _fail(self.expr, self.tok.pos, f"{message}, found {found}")

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise _fail(self.expr, 1, "empty filter")
        node = self.or_()
        if self.tok.kind != "end":
            raise self.error("expected 'and', 'or' or the end")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.is_kw("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.is_kw("and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_(self) -> Node:
        if self.is_kw("not"):
            self.take()
            return Not(self.not_())
        if self.tok.text == "(":
            self.take()
            node = self.or_()
            self.expect(")", "')'")
            return node
        return self.test()

    def value(self) -> Any:
        t = self.tok
        if t.kind in ("num", "str"):
            self.take()
            return t.value
        if t.kind == "kw" and t.value in ("true", "false"):
            self.take()
            return t.value == "true"
        raise self.error("expected a value (a number, 'text', true or false)")

    def test(self) -> Node:
        t = self.tok
        if t.kind == "name":
            column = self.take().value
            negate = False
            if self.is_kw("not"):
                self.take()
                if not self.is_kw("in"):
                    raise self.error("expected 'in' after 'not'")
                negate = True
            if self.is_kw("in"):
                self.take()
                close = {"(": ")", "[": "]"}.get(self.tok.text)
                if close is None:
                    raise self.error("expected '(' or '[' after 'in'")
                self.take()
                values = [self.value()]
                while self.tok.text == ",":
                    self.take()
                    values.append(self.value())
                self.expect(close, f"',' or '{close}'")
                return In(column, tuple(values), negate, t.pos)
            if self.tok.kind != "op":
                raise self.error(f"expected a comparison (== != < <= > >=) or 'in' after {column!r}")
            op = self.take().value
            return Compare(column, op, self.value(), t.pos)
        if t.kind in ("num", "str") or (t.kind == "kw" and t.value in ("true", "false")):
            value = self.value()
            if self.tok.kind != "op":
                raise self.error("expected a comparison operator")
            op = self.take().value
            if self.tok.kind != "name":
                raise self.error("expected a column name")
            col = self.take()
            return Compare(col.value, _FLIP[op], value, col.pos)
        raise self.error("expected a column name, 'not' or '('")


def parse(expr: str) -> Node:
    """The syntax tree of a filter expression; syntax errors name the position."""
    return _Parser(expr).parse()


def columns(node: Node) -> list[tuple[str, int]]:
    """(column, position) pairs used by the expression, in order."""
    if isinstance(node, (Compare, In)):
        return [(node.column, node.pos)]
    if isinstance(node, Not):
        return columns(node.item)
    return [c for item in node.items for c in columns(item)]


# ----------------------------------------------------------------------------------------------------------------
# Evaluation over a DataFrame
# ----------------------------------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


class _Evaluator:
    def __init__(self, expr: str, table: pd.DataFrame, where: str) -> None:
        self.expr = expr
        self.table = table
        self.where = where
        self._dates: dict[str, pd.Series] = {}

    def column(self, name: str, pos: int) -> pd.Series:
        if name not in self.table.columns:
            cols = [c for c in self.table.columns if c not in ("text",)]
            raise _fail(self.expr, pos, f"unknown column {name!r} (columns in {self.where}: {', '.join(cols)})")
        return self.table[name]

    def dates(self, name: str, col: pd.Series, pos: int) -> pd.Series:
        if name not in self._dates:
            from .decay import to_dates

            try:
                self._dates[name] = to_dates(col, f"{self.where} column '{name}'")
            except UserError as exc:
                raise _fail(self.expr, pos, f"column {name!r} is compared with a date but {exc}") from None
        return self._dates[name]

    def operand(self, name: str, col: pd.Series, value: Any, pos: int) -> tuple[pd.Series, Any]:
        """The column and the value in comparable types, or an error naming the mismatch."""
        is_date_value = isinstance(value, str) and bool(_ISO_DATE.match(value))
        if pd.api.types.is_datetime64_any_dtype(col) or (is_date_value and not pd.api.types.is_numeric_dtype(col)):
            if not is_date_value:
                raise _fail(self.expr, pos, f"column {name!r} holds dates; compare it with 'YYYY-MM-DD'")
            try:
                when = pd.Timestamp(value)
            except (ValueError, OverflowError):
                raise _fail(self.expr, pos, f"{value!r} is not a date; use 'YYYY-MM-DD' (optionally 'YYYY-MM-DD HH:MM[:SS]')") from None
            return self.dates(name, col, pos), when
        if pd.api.types.is_bool_dtype(col):
            if not isinstance(value, bool):
                raise _fail(self.expr, pos, f"column {name!r} holds true/false; compare it with true or false")
            return col, value
        if pd.api.types.is_numeric_dtype(col):
            if isinstance(value, str) or isinstance(value, bool):
                raise _fail(self.expr, pos, f"column {name!r} holds numbers; compare it with a number, not {value!r}")
            return col, value
        if not isinstance(value, str):
            raise _fail(self.expr, pos, f"column {name!r} holds text; quote the value ({name} == '{value}')")
        return col.astype("string"), value

    def eval(self, node: Node) -> np.ndarray:
        if isinstance(node, And):
            return np.logical_and.reduce([self.eval(n) for n in node.items])
        if isinstance(node, Or):
            return np.logical_or.reduce([self.eval(n) for n in node.items])
        if isinstance(node, Not):
            return ~self.eval(node.item)
        col = self.column(node.column, node.pos)
        if isinstance(node, In):
            hits = np.zeros(len(col), dtype=bool)
            for v in node.values:
                c, v2 = self.operand(node.column, col, v, node.pos)
                hits |= (c == v2).fillna(False).to_numpy(dtype=bool)
            present = col.notna().to_numpy()
            return present & (~hits if node.negate else hits)
        c, v = self.operand(node.column, col, node.value, node.pos)
        try:
            result = _OPS[node.op](c, v)
        except TypeError as exc:
            raise _fail(self.expr, node.pos, f"cannot compare column {node.column!r} with {node.value!r} ({exc})") from None
        return pd.Series(result).fillna(False).to_numpy(dtype=bool) & c.notna().to_numpy()


def row_mask(expr: str | Node, table: pd.DataFrame, where: str = "the index") -> np.ndarray:
    """Boolean mask over `table`'s rows: True where the filter holds."""
    text = expr if isinstance(expr, str) else "<filter>"
    node = parse(expr) if isinstance(expr, str) else expr
    table = table.reset_index(drop=True)
    ev = _Evaluator(text, table, where)
    for name, pos in columns(node):
        ev.column(name, pos)
    return np.asarray(ev.eval(node), dtype=bool).reshape(len(table))


# ----------------------------------------------------------------------------------------------------------------
# Translation to other engines' filter syntax (for backends that filter natively)
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How an engine writes boolean filter expressions."""

    and_: str = " and "
    or_: str = " or "
    not_: str = "not "
    eq: str = "=="
    ne: str = "!="
    in_: str = "{col} in [{values}]"
    not_in: str = "{col} not in [{values}]"
    quote: Callable[[str], str] = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    name: Callable[[str], str] = lambda s: s
    true: str = "true"
    false: str = "false"


MILVUS = Dialect()
SQL = Dialect(and_=" AND ", or_=" OR ", not_="NOT ", eq="=", ne="<>", in_="{col} IN ({values})",
              not_in="{col} NOT IN ({values})", quote=lambda s: "'" + s.replace("'", "''") + "'",
              name=lambda s: '"' + s.replace('"', '""') + '"', true="TRUE", false="FALSE")


def _literal(value: Any, d: Dialect) -> str:
    if isinstance(value, bool):
        return d.true if value else d.false
    if isinstance(value, str):
        return d.quote(value)
    return repr(value)


def translate(node: Node | str, dialect: Dialect = MILVUS) -> str:
    """The filter in `dialect`'s syntax (dates stay ISO text, which compares correctly as text)."""
    if isinstance(node, str):
        node = parse(node)
    d = dialect
    if isinstance(node, And):
        return "(" + d.and_.join(translate(n, d) for n in node.items) + ")"
    if isinstance(node, Or):
        return "(" + d.or_.join(translate(n, d) for n in node.items) + ")"
    if isinstance(node, Not):
        return f"{d.not_}({translate(node.item, d)})"
    if isinstance(node, In):
        tmpl = d.not_in if node.negate else d.in_
        return tmpl.format(col=d.name(node.column), values=", ".join(_literal(v, d) for v in node.values))
    op = {"==": d.eq, "!=": d.ne}.get(node.op, node.op)
    return f"{d.name(node.column)} {op} {_literal(node.value, d)}"
