"""OData v2 (verbose JSON) pieces of the Exact sandbox: $filter, $select, values, errors.

The $filter parser follows the WCF Data Services grammar Exact runs on: ``eq ne gt ge lt le``,
``and or not``, parentheses, string literals with ``''`` escaping, ``guid'…'``,
``datetime'…'``, ``123L``, numbers, ``true``/``false``/``null`` and the functions ``trim``,
``tolower``, ``toupper``, ``substringof``, ``startswith``, ``endswith``. Type errors are phrased
like WCF: "Operator 'eq' incompatible with operand types 'System.Guid' and 'System.Int32' at
position 3". String comparison follows SQL Server's default collation: case-insensitive and
trailing spaces ignored (leading spaces count: the padded Account ``Code`` trap).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from exactsync.sandbox.base import SandboxResponse

__all__ = [
    "ODataError",
    "compile_filter",
    "parse_select",
    "odata_error",
    "to_wire",
    "dumps",
    "parse_datetime",
    "parse_decimal",
    "parse_guid",
    "TYPE_NAMES",
    "FilterInfo",
]

#: short type code -> .NET type name used in error messages
TYPE_NAMES = {
    "String": "System.String",
    "Guid": "System.Guid",
    "DateTime": "System.DateTime",
    "Int16": "System.Int16",
    "Int32": "System.Int32",
    "Int64": "System.Int64",
    "Double": "System.Double",
    "Boolean": "System.Boolean",
    "Byte": "System.Byte",
    "Null": "null",
}
_NUMERIC = {"Int16", "Int32", "Int64", "Double", "Byte"}


class ODataError(Exception):
    """A request error that becomes an OData error body."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def odata_error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> SandboxResponse:
    body = {"error": {"code": "", "message": {"lang": "", "value": message}}}
    h = {"content-type": "application/json; charset=utf-8"}
    if headers:
        h.update(headers)
    return SandboxResponse(status, dumps(body), h)


# --- values ---------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1)


_WIRE_DATES: dict[dt.datetime, str] = {}


def to_wire(value: Any) -> Any:
    """Python value -> JSON value as Exact sends it (dates as /Date(ms)/, money as numbers)."""
    if isinstance(value, dt.datetime):
        out = _WIRE_DATES.get(value)
        if out is None:
            ms = int((value.replace(tzinfo=None) - _EPOCH) // dt.timedelta(milliseconds=1))
            out = f"/Date({ms})/"
            if len(_WIRE_DATES) < 100_000:
                _WIRE_DATES[value] = out
        return out
    if isinstance(value, dt.date):
        return to_wire(dt.datetime(value.year, value.month, value.day))
    return value


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return float(o)
        if isinstance(o, (dt.datetime, dt.date)):
            return to_wire(o)
        if isinstance(o, uuid.UUID):
            return str(o)
        return super().default(o)


def dumps(data: Any) -> bytes:
    return json.dumps(data, cls=_Encoder, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_DATE_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_datetime(value: Any) -> dt.datetime:
    """ISO 8601 (date or date-time, offset dropped: wall clock kept) or ``/Date(ms)/``."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    m = _DATE_RE.match(value)
    if m:
        return _EPOCH + dt.timedelta(milliseconds=int(m.group(1)))
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1]
    parsed = dt.datetime.fromisoformat(text)
    return parsed.replace(tzinfo=None)


def parse_decimal(value: Any) -> Decimal:
    """JSON number (float or Decimal) or numeric string -> Decimal."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def parse_guid(value: Any) -> str:
    """Canonical lower-case GUID string; braces allowed. Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError("Unrecognized GUID format.")
    try:
        return str(uuid.UUID(value.strip().strip("{}")))
    except ValueError:
        raise ValueError("Unrecognized GUID format.") from None


# --- $select --------------------------------------------------------------------------------


def parse_select(text: str | None, fields: dict[str, str], type_name: str, navs: dict[str, dict[str, str]] | None = None):
    """Return (top-level field list | None for all, {nav: nested fields | None}).

    Unknown fields raise ODataError 400.
    """
    if text is None or text.strip() in ("", "*"):
        return None, {}
    navs = navs or {}
    out: list[str] = []
    nested: dict[str, list[str] | None] = {}
    pos = 0
    for raw in text.split(","):
        name = raw.strip()
        if "/" in name:
            nav, sub = name.split("/", 1)
            if nav not in navs:
                raise ODataError(f"No property '{nav}' exists in type '{type_name}' at position {pos}.")
            if sub != "*" and sub not in navs[nav]:
                raise ODataError(f"No property '{sub}' exists in type '{nav}' at position {pos}.")
            cur = nested.setdefault(nav, [])
            if cur is not None:
                if sub == "*":
                    nested[nav] = None
                else:
                    cur.append(sub)
            if nav not in out:
                out.append(nav)
        elif name == "*":
            return None, nested
        elif name in fields or name in navs:
            if name not in out:
                out.append(name)
            if name in navs:
                nested.setdefault(name, None)
        else:
            raise ODataError(f"No property '{name}' exists in type '{type_name}' at position {pos}.")
        pos += len(raw) + 1
    return out, nested


# --- $filter: tokenizer ---------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<guid>guid'(?P<guidv>[^']*)')
  | (?P<datetime>datetime(?:offset)?'(?P<dtv>[^']*)')
  | (?P<string>'(?P<strv>(?:[^']|'')*)')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?P<suffix>[LlMmDdFf])?)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_/]*)
    """,
    re.VERBOSE,
)

_CMP_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {
    "trim": (("String",), "String"),
    "tolower": (("String",), "String"),
    "toupper": (("String",), "String"),
    "length": (("String",), "Int32"),
    "substringof": (("String", "String"), "Boolean"),
    "startswith": (("String", "String"), "Boolean"),
    "endswith": (("String", "String"), "Boolean"),
}


class _Tok:
    __slots__ = ("kind", "value", "pos", "text")

    def __init__(self, kind: str, value: Any, pos: int, text: str) -> None:
        self.kind, self.value, self.pos, self.text = kind, value, pos, text


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ODataError(f"Syntax error at position {pos}.")
        kind = m.lastgroup
        raw = m.group(0)
        if m.group("ws"):
            pass
        elif m.group("guid") is not None:
            try:
                toks.append(_Tok("lit", ("Guid", parse_guid(m.group("guidv"))), pos, raw))
            except ValueError:
                raise ODataError(f"Unrecognized 'Edm.Guid' literal '{raw}' at '{pos}' in '{text}'.") from None
        elif m.group("datetime") is not None:
            try:
                toks.append(_Tok("lit", ("DateTime", parse_datetime(m.group("dtv"))), pos, raw))
            except ValueError:
                raise ODataError(f"Unrecognized 'Edm.DateTime' literal '{raw}' at '{pos}' in '{text}'.") from None
        elif m.group("string") is not None:
            toks.append(_Tok("lit", ("String", m.group("strv").replace("''", "'")), pos, raw))
        elif m.group("number") is not None:
            suffix = (m.group("suffix") or "").upper()
            num = raw[:-1] if suffix else raw
            if suffix == "L":
                toks.append(_Tok("lit", ("Int64", int(num)), pos, raw))
            elif suffix in ("M", "D", "F") or "." in num or "e" in num.lower():
                toks.append(_Tok("lit", ("Double", Decimal(num)), pos, raw))
            else:
                v = int(num)
                toks.append(_Tok("lit", ("Int32" if -(2**31) <= v < 2**31 else "Int64", v), pos, raw))
        elif kind in ("lparen", "rparen", "comma"):
            toks.append(_Tok(kind, raw, pos, raw))
        else:
            if raw in ("true", "false"):
                toks.append(_Tok("lit", ("Boolean", raw == "true"), pos, raw))
            elif raw == "null":
                toks.append(_Tok("lit", ("Null", None), pos, raw))
            elif raw in _CMP_OPS or raw in ("and", "or", "not"):
                toks.append(_Tok("op", raw, pos, raw))
            else:
                toks.append(_Tok("ident", raw, pos, raw))
        pos = m.end()
    toks.append(_Tok("end", None, len(text), ""))
    return toks


# --- $filter: parser + compiler -------------------------------------------------------------

Getter = Callable[[dict], Any]


class _Node:
    """A compiled expression: its type, an evaluator and (for simple shapes) a description."""

    __slots__ = ("type", "fn", "field", "const", "pos")

    def __init__(self, type_: str, fn: Getter, pos: int, field: str | None = None, const: Any = None) -> None:
        self.type, self.fn, self.pos, self.field, self.const = type_, fn, pos, field, const


class FilterInfo:
    """What a compiled filter needs: the predicate and the fields it mentions, plus simple bounds."""

    def __init__(self, predicate: Callable[[dict], bool], fields: set[str], lower_bounds: dict[str, tuple[str, Any]],
                 eq_values: dict[str, set]) -> None:
        self.predicate = predicate
        self.fields = fields
        self.lower_bounds = lower_bounds  # field -> ('gt'|'ge', value) from top-level AND terms
        self.eq_values = eq_values  # field -> set of values from a top-level eq / or-of-eq term


def _norm_str(v: Any) -> Any:
    return v.rstrip().casefold() if isinstance(v, str) else v


def _cmp_fn(op: str, left: _Node, right: _Node) -> Getter:
    lf, rf = left.fn, right.fn
    strings = left.type == "String" or right.type == "String"
    guids = left.type == "Guid" or right.type == "Guid"
    norm = _norm_str if (strings or guids) else None

    if op in ("eq", "ne"):
        want = op == "eq"
        if norm:
            return lambda r: (norm(lf(r)) == norm(rf(r))) is want
        return lambda r: (lf(r) == rf(r)) is want

    import operator

    pyop = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}[op]

    def fn(r: dict) -> bool:
        a, b = lf(r), rf(r)
        if a is None or b is None:
            return False
        if norm:
            a, b = norm(a), norm(b)
        return pyop(a, b)

    return fn


def _compatible(a: str, b: str) -> bool:
    if a == "Null" or b == "Null":
        return True
    if a in _NUMERIC and b in _NUMERIC:
        return True
    return a == b


class _Parser:
    def __init__(self, text: str, fields: dict[str, str], type_name: str) -> None:
        self.text = text
        self.fields = fields
        self.type_name = type_name
        self.toks = _tokenize(text)
        self.i = 0
        self.used: set[str] = set()

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def syntax(self, tok: _Tok) -> ODataError:
        return ODataError(f"Syntax error at position {tok.pos}.")

    def parse(self) -> _Node:
        node = self.parse_or()
        if self.peek().kind != "end":
            raise self.syntax(self.peek())
        if node.type != "Boolean":
            raise ODataError(f"Expression of type '{TYPE_NAMES.get(node.type, node.type)}' expected to be of type 'System.Boolean'.")
        return node

    def _logical(self, op: str, left: _Node, right: _Node, tok: _Tok) -> _Node:
        for n in (left, right):
            if n.type != "Boolean":
                raise ODataError(
                    f"Operator '{op}' incompatible with operand types '{TYPE_NAMES.get(left.type)}' and "
                    f"'{TYPE_NAMES.get(right.type)}' at position {tok.pos}."
                )
        return _Node("Boolean", None, tok.pos)  # fn filled by caller

    def parse_or(self) -> _Node:
        terms = [self.parse_and()]
        tok = None
        while self.peek().kind == "op" and self.peek().value == "or":
            tok = self.take()
            right = self.parse_and()
            self._logical("or", terms[-1], right, tok)
            terms.append(right)
        if len(terms) == 1:
            return terms[0]
        node = _Node("Boolean", None, terms[0].pos)
        # or-of-eq on one field with constants -> set lookup
        simple = all(t.field and t.const is not None and t.const[0] == "eq" for t in terms)
        eq_field = {t.field for t in terms}
        if simple and len(eq_field) == 1:
            field = eq_field.pop()
            values = {_norm_str(t.const[1]) for t in terms}
            node.fn = lambda r: _norm_str(r.get(field)) in values
            node.const = ("in", values)
            node.field = field
            return node
        fns = [t.fn for t in terms]
        node.fn = lambda r: any(f(r) for f in fns)
        node.const = ("or", terms)
        return node

    def parse_and(self) -> _Node:
        terms = [self.parse_not()]
        while self.peek().kind == "op" and self.peek().value == "and":
            tok = self.take()
            right = self.parse_not()
            self._logical("and", terms[-1], right, tok)
            terms.append(right)
        if len(terms) == 1:
            return terms[0]
        node = _Node("Boolean", None, terms[0].pos)
        fns = [t.fn for t in terms]
        node.fn = lambda r: all(f(r) for f in fns)
        node.const = ("and", terms)
        return node

    def parse_not(self) -> _Node:
        if self.peek().kind == "op" and self.peek().value == "not":
            tok = self.take()
            inner = self.parse_not()
            if inner.type != "Boolean":
                raise ODataError(
                    f"Operator 'not' incompatible with operand type '{TYPE_NAMES.get(inner.type)}' at position {tok.pos}."
                )
            f = inner.fn
            return _Node("Boolean", lambda r: not f(r), tok.pos)
        return self.parse_cmp()

    def parse_cmp(self) -> _Node:
        left = self.parse_operand()
        tok = self.peek()
        if tok.kind == "op" and tok.value in _CMP_OPS:
            self.take()
            right = self.parse_operand()
            op = tok.value
            if not _compatible(left.type, right.type) or (
                op not in ("eq", "ne") and ("Boolean" in (left.type, right.type) or "Guid" in (left.type, right.type))
                and left.type != right.type
            ):
                raise ODataError(
                    f"Operator '{op}' incompatible with operand types '{TYPE_NAMES.get(left.type)}' and "
                    f"'{TYPE_NAMES.get(right.type)}' at position {tok.pos}."
                )
            node = _Node("Boolean", _cmp_fn(op, left, right), left.pos)
            # remember simple "Field op constant" shapes for index use
            if left.field and right.field is None and right.const is not None:
                node.field = left.field
                node.const = (op, right.const[1])
            return node
        return left

    def parse_operand(self) -> _Node:
        tok = self.take()
        if tok.kind == "lparen":
            inner = self.parse_or()
            if self.take().kind != "rparen":
                raise self.syntax(self.toks[self.i - 1])
            return inner
        if tok.kind == "lit":
            typ, val = tok.value
            return _Node(typ, lambda r, v=val: v, tok.pos, const=(typ, val))
        if tok.kind == "ident":
            if self.peek().kind == "lparen" and tok.value.lower() in _FUNCS:
                return self.parse_func(tok)
            name = tok.value
            if name not in self.fields:
                raise ODataError(f"No property '{name}' exists in type '{self.type_name}' at position {tok.pos}.")
            self.used.add(name)
            return _Node(self.fields[name], lambda r, n=name: r.get(n), tok.pos, field=name)
        raise self.syntax(tok)

    def parse_func(self, tok: _Tok) -> _Node:
        name = tok.value.lower()
        self.take()  # (
        args: list[_Node] = []
        if self.peek().kind != "rparen":
            args.append(self.parse_or())
            while self.peek().kind == "comma":
                self.take()
                args.append(self.parse_or())
        if self.take().kind != "rparen":
            raise self.syntax(self.toks[self.i - 1])
        sig, ret = _FUNCS[name]
        if len(args) != len(sig) or any(a.type not in (s, "Null") for a, s in zip(args, sig)):
            types = ", ".join(TYPE_NAMES.get(a.type, a.type) for a in args)
            raise ODataError(f"No function signature for the function with name '{name}' matches the specified arguments. "
                             f"The function signatures considered are: {name}({types}) at position {tok.pos}.")
        fns = [a.fn for a in args]
        if name == "trim":
            f0 = fns[0]
            fn = lambda r: (v.strip() if (v := f0(r)) is not None else None)  # noqa: E731
        elif name == "tolower":
            f0 = fns[0]
            fn = lambda r: (v.lower() if (v := f0(r)) is not None else None)  # noqa: E731
        elif name == "toupper":
            f0 = fns[0]
            fn = lambda r: (v.upper() if (v := f0(r)) is not None else None)  # noqa: E731
        elif name == "length":
            f0 = fns[0]
            fn = lambda r: (len(v) if (v := f0(r)) is not None else None)  # noqa: E731
        elif name == "substringof":
            fa, fb = fns
            fn = lambda r: _norm_str(fa(r) or "") in _norm_str(fb(r) or "")  # noqa: E731
        elif name == "startswith":
            fa, fb = fns
            fn = lambda r: _norm_str(fa(r) or "").startswith(_norm_str(fb(r) or ""))  # noqa: E731
        else:
            fa, fb = fns
            fn = lambda r: _norm_str(fa(r) or "").endswith(_norm_str(fb(r) or ""))  # noqa: E731
        return _Node(ret, fn, tok.pos)


def compile_filter(text: str, fields: dict[str, str], type_name: str) -> FilterInfo:
    """Parse and type-check ``text`` against ``fields`` (name -> type code)."""
    p = _Parser(text, fields, type_name)
    root = p.parse()
    lower: dict[str, tuple[str, Any]] = {}
    eqs: dict[str, set] = {}
    terms = root.const[1] if (root.const and root.const[0] == "and") else [root]
    for t in terms:
        if t.field and t.const and t.const[0] in ("gt", "ge"):
            lower[t.field] = (t.const[0], t.const[1])
        elif t.field and t.const and t.const[0] == "eq":
            eqs[t.field] = {_norm_str(t.const[1])}
        elif t.field and t.const and t.const[0] == "in":
            eqs[t.field] = set(t.const[1])
    return FilterInfo(root.fn, p.used, lower, eqs)
