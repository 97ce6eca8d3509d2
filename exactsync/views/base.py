"""Paging and formatting shared by the dashboard's read models (no Streamlit here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Sequence

import polars as pl

from exactsync.store import Store

__all__ = [
    "Page",
    "paged",
    "PAGE_SIZE",
    "period_bounds",
    "fmt_money",
    "currency_symbol",
    "fmt_age",
    "fmt_eta",
]


#: rows sent to the browser per table page
PAGE_SIZE = 50


@dataclass
class Page:
    """One page of a larger result: ``rows`` plus what is needed to page through the rest."""

    rows: pl.DataFrame
    total: int
    offset: int = 0
    limit: int = PAGE_SIZE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit)) if self.limit else 1

    @property
    def number(self) -> int:
        """1-based number of this page."""
        return self.offset // self.limit + 1 if self.limit else 1


def paged(store: Store, sql: str, params: Sequence[Any] | None = None, *, limit: int = PAGE_SIZE,
          offset: int = 0, order_by: str = "1") -> Page:
    """``sql`` (a SELECT without ORDER BY/LIMIT) as one page; the count runs in the same read."""
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    params = list(params or [])
    with store.read() as con:
        total = con.execute(f"SELECT count(*) FROM ({sql}) AS q", params).fetchall()[0][0]
        rows = _frame(con, f"SELECT * FROM ({sql}) AS q ORDER BY {order_by} LIMIT ? OFFSET ?",
                      [*params, limit, offset])
    return Page(rows=rows, total=int(total), offset=offset, limit=limit)


def _frame(con: Any, sql: str, params: Sequence[Any]) -> pl.DataFrame:
    """A parameterised query as a Polars frame (fully drained)."""
    return con.sql(sql, params=list(params)).pl()


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """``"2026-10"`` → (first day, first day of the next month)."""
    try:
        year, month = (int(p) for p in period.split("-"))
        start = dt.date(year, month, 1)
    except (ValueError, AttributeError):
        raise ValueError(f"period must look like 2026-10, not {period!r}") from None
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def fmt_money(value: Any, currency: str = "EUR") -> str:
    """``Decimal('-1234.5')`` → ``'EUR -1,234.50'`` (display only; money stays Decimal); an empty
    ``currency`` (not known) shows the amount alone."""
    from decimal import Decimal

    if value is None:
        return "—"
    q = Decimal(str(value)).quantize(Decimal("0.01"))
    return f"{currency} {q:,.2f}" if currency else f"{q:,.2f}"


def currency_symbol(code: str | None) -> str:
    """What money tiles are prefixed with: ``€`` for EUR, else the code (``GBP``); ``''`` unknown."""
    return "€" if code == "EUR" else (code or "")


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def fmt_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return "under a minute"
    return f"about {-(-seconds // 60)} min"


def _has_table(store: Store, name: str) -> bool:
    return bool(store.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]))
