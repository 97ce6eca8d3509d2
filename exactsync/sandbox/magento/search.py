"""Magento ``searchCriteria`` parsing and evaluation (shop-apis.md §B3, §B4).

Query keys such as ``searchCriteria[filter_groups][0][filters][1][condition_type]=gteq`` are
parsed into nested dicts, accepting the snake_case and camelCase spellings. Filters in one group
are OR'ed, groups are AND'ed. :func:`run_search` returns the ``{items, search_criteria,
total_count}`` envelope, including the page-overflow quirk (a ``currentPage`` beyond the last
page answers the last page again, or an empty list in "empty" mode).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

__all__ = [
    "SearchError",
    "Filter",
    "Criteria",
    "parse_nested",
    "parse_criteria",
    "run_search",
    "parse_fields",
    "project",
    "CONDITIONS",
]

CONDITIONS = frozenset(
    "eq neq gt gteq lt lteq moreq like nlike in nin null notnull from to finset nfinset".split()
)

_ALIASES = {
    "filterGroups": "filter_groups",
    "sortOrders": "sort_orders",
    "pageSize": "page_size",
    "currentPage": "current_page",
    "conditionType": "condition_type",
}


class SearchError(Exception):
    """A Magento error answer: ``status`` + ``{"message", "parameters"}`` body."""

    def __init__(self, status: int, message: str, parameters: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.parameters is not None:
            out["parameters"] = self.parameters
        return out


_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_nested(query: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style ``a[b][0][c]=v`` query parsing into nested dicts (list indexes stay dict keys)."""
    root: dict[str, Any] = {}
    for key, value in query:
        m = _KEY.match(key)
        if not m:
            root[key] = value
            continue
        parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[part] = value
            else:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = {}
                    node[part] = nxt
                node = nxt
    return root


def _canon(d: Any) -> Any:
    if not isinstance(d, dict):
        return d
    return {_ALIASES.get(k, k): _canon(v) for k, v in d.items()}


def _indexed(d: Any) -> list[Any]:
    """``{"0": x, "1": y}`` → ``[x, y]`` in index order (PHP arrays)."""
    if isinstance(d, list):
        return d
    if not isinstance(d, dict):
        return []

    def order(k: str) -> tuple[int, Any]:
        return (0, int(k)) if k.lstrip("-").isdigit() else (1, k)

    return [d[k] for k in sorted(d, key=order)]


def _int_param(raw: Any, name: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        # Magento's deserializer rejects a non-integer for an int field with a 400.
        raise SearchError(
            400, 'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.',
            {"value": str(raw), "type": "int"},
        ) from None


@dataclass
class Filter:
    field: str
    value: str | None
    condition_type: str = "eq"


@dataclass
class Criteria:
    groups: list[list[Filter]] = field(default_factory=list)
    sort: list[tuple[str, str]] = field(default_factory=list)
    page_size: int | None = None
    current_page: int | None = None

    def echo(self) -> dict[str, Any]:
        """The ``search_criteria`` echo (snake_case), as Magento's data object serialises it."""
        out: dict[str, Any] = {
            "filter_groups": [
                {
                    "filters": [
                        {"field": f.field, "value": f.value if f.value is not None else "", "condition_type": f.condition_type}
                        for f in g
                    ]
                }
                for g in self.groups
            ]
        }
        if self.sort:
            out["sort_orders"] = [{"field": f, "direction": d} for f, d in self.sort]
        if self.page_size is not None:
            out["page_size"] = self.page_size
        if self.current_page is not None:
            out["current_page"] = self.current_page
        return out


def parse_criteria(query: list[tuple[str, str]]) -> Criteria:
    """Parse ``searchCriteria`` from a query list; missing → 400 ``%fieldName is a required field.``."""
    nested = parse_nested(query)
    if "searchCriteria" not in nested and "search_criteria" not in nested:
        raise SearchError(400, "%fieldName is a required field.", {"fieldName": "searchCriteria"})
    sc = nested.get("searchCriteria", nested.get("search_criteria"))
    sc = _canon(sc) if isinstance(sc, dict) else {}
    crit = Criteria()
    for g in _indexed(sc.get("filter_groups")):
        filters = []
        for f in _indexed(g.get("filters") if isinstance(g, dict) else None):
            if not isinstance(f, dict):
                continue
            name = f.get("field")
            if not name:
                continue
            cond = (f.get("condition_type") or "eq").strip().lower()
            if cond not in CONDITIONS:
                # [inf] Magento's SQL layer rejects an unknown operator; the exact text is ours.
                raise SearchError(400, 'Invalid condition type "%1".', [cond])
            filters.append(Filter(str(name), f.get("value"), cond))
        if filters:
            crit.groups.append(filters)
    for s in _indexed(sc.get("sort_orders")):
        if isinstance(s, dict) and s.get("field"):
            direction = "ASC" if str(s.get("direction", "")).upper() == "ASC" else "DESC"
            crit.sort.append((str(s["field"]), direction))
    if sc.get("page_size") not in (None, ""):
        crit.page_size = _int_param(sc["page_size"], "pageSize")
    if sc.get("current_page") not in (None, ""):
        crit.current_page = _int_param(sc["current_page"], "currentPage")
    return crit


# --- evaluation -------------------------------------------------------------------------------


def _coerce(sample: Any, raw: str) -> Any:
    """Convert a query string value to the type of the stored column value (MySQL-ish)."""
    if isinstance(sample, bool):
        return raw
    if isinstance(sample, int):
        try:
            return int(raw)
        except ValueError:
            try:
                return Decimal(raw)
            except InvalidOperation:
                return raw
    if isinstance(sample, (Decimal, float)):
        try:
            return Decimal(raw)
        except InvalidOperation:
            return raw
    return raw


def _cmp_key(v: Any) -> Any:
    if isinstance(v, str):
        return v.lower()  # MySQL default collations compare case-insensitively
    return v


def _compare(a: Any, op: str, raw: str) -> bool:
    b = _coerce(a, raw)
    try:
        a2, b2 = _cmp_key(a), _cmp_key(b)
        if type(a2) is not type(b2) and not (isinstance(a2, (int, Decimal)) and isinstance(b2, (int, Decimal))):
            a2, b2 = str(a2).lower(), str(b2).lower()
        if op == "eq":
            return a2 == b2
        if op == "neq":
            return a2 != b2
        if op == "gt":
            return a2 > b2
        if op in ("gteq", "moreq", "from"):
            return a2 >= b2
        if op == "lt":
            return a2 < b2
        if op in ("lteq", "to"):
            return a2 <= b2
    except TypeError:
        return False
    return False


def _like(value: Any, pattern: str) -> bool:
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, str(value), flags=re.IGNORECASE | re.DOTALL) is not None


def _match(row: dict[str, Any], f: Filter) -> bool:
    value = row.get(f.field)
    op = f.condition_type
    if op == "null":
        return value is None
    if op == "notnull":
        return value is not None
    raw = "" if f.value is None else str(f.value)
    if op in ("in", "nin", "finset", "nfinset"):
        wanted = [p.strip() for p in raw.split(",")]
        if op in ("finset", "nfinset"):
            members = [p.strip() for p in str(value or "").split(",")]
            hit = any(w in members for w in wanted)
            return hit if op == "finset" else not hit
        if value is None:
            return False  # SQL: NULL IN (...) and NULL NOT IN (...) are both not true
        hit = any(_compare(value, "eq", w) for w in wanted)
        return hit if op == "in" else not hit
    if value is None:
        return False
    if op == "like":
        return _like(value, raw)
    if op == "nlike":
        return not _like(value, raw)
    return _compare(value, op, raw)


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0)  # MySQL sorts NULL first in ASC
    if isinstance(value, (int, Decimal, float)) and not isinstance(value, bool):
        return (1, Decimal(str(value)))
    return (2, str(value).lower())


def run_search(
    rows: list[dict[str, Any]],
    crit: Criteria,
    *,
    columns: set[str] | None = None,
    overflow: str = "last_page",
    input_limits: bool = False,
    default_page_size: int = 20,
    max_page_size: int = 300,
) -> dict[str, Any]:
    """Filter, sort and page ``rows``; return the Magento search envelope."""
    for name in [f.field for g in crit.groups for f in g] + [s for s, _ in crit.sort]:
        if columns is not None and name not in columns:
            # An unknown column is an SQL error in Magento → a production-mode 500 (see docs).
            raise SearchError(500, "Internal Error. Details are available in Magento log file. Report ID: %1", ["webapi-column"])
    page_size = crit.page_size
    if input_limits:
        if page_size is None:
            page_size = default_page_size
        elif page_size > max_page_size:
            # [inf] text of Magento\Framework\Webapi\Validator\SearchCriteria max page size check
            raise SearchError(400, "Maximum SearchCriteria pageSize is %max", {"max": max_page_size})
    matched = [r for r in rows if all(any(_match(r, f) for f in g) for g in crit.groups)]
    if crit.sort:
        # stable multi-key sort: apply the last key first
        for name, direction in reversed(crit.sort):
            matched.sort(key=lambda r: _sort_key(r.get(name)), reverse=direction == "DESC")
    total = len(matched)
    items = matched
    if page_size is not None and page_size > 0:
        page = crit.current_page if crit.current_page is not None else 1
        if page <= 0:
            page = 1
        last = max(1, -(-total // page_size))
        if page > last:
            if overflow == "empty":
                items = []
            else:  # Framework\Data\Collection clamps getCurPage() to the last page
                page = last
        if page <= last:
            items = matched[(page - 1) * page_size : page * page_size]
    return {"items": items, "search_criteria": crit.echo(), "total_count": total}


# --- fields= projection -----------------------------------------------------------------------


def parse_fields(spec: str) -> dict[str, Any]:
    """``items[entity_id,extension_attributes[applied_taxes]],total_count`` → nested dict of keep-trees."""
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        name = ""
        while pos < len(spec):
            c = spec[pos]
            if c == "[":
                pos += 1
                out[name.strip()] = parse_list()
                name = ""
            elif c == "]":
                pos += 1
                if name.strip():
                    out[name.strip()] = None
                return out
            elif c == ",":
                pos += 1
                if name.strip():
                    out[name.strip()] = None
                name = ""
            else:
                name += c
                pos += 1
        if name.strip():
            out[name.strip()] = None
        return out

    return parse_list()


def project(data: Any, keep: dict[str, Any] | None) -> Any:
    if keep is None:
        return data
    if isinstance(data, list):
        return [project(x, keep) for x in data]
    if isinstance(data, dict):
        return {k: project(data[k], sub) for k, sub in keep.items() if k in data}
    return data
