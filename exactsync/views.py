"""Read models for the dashboard: small, paged queries over the store (no Streamlit here).

Pages never build SQL; they call these functions (or the reconcile / push libraries directly).
Every list query is paged in SQL (``LIMIT``/``OFFSET``), so a page never holds more than one
page of rows, whatever the size of the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from exactsync.store import Store

__all__ = [
    "Page",
    "paged",
    "PAGE_SIZE",
    "last_pulls",
    "available_periods",
    "available_divisions",
    "api_calls_page",
    "sync_log_page",
    "period_bounds",
    "SHOP_PULLERS",
    "pull_all",
    "has_run",
    "refresh",
    "fmt_money",
    "fmt_age",
    "exact_settings_view",
    "shop_settings_view",
    "exact_authorize_url",
    "exact_token_status",
    "test_exact",
    "exact_headroom",
    "test_shop",
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
        total = con.execute(f"SELECT count(*) FROM ({sql}) AS q", params).fetchone()[0]
        rows = con.execute(f"SELECT * FROM ({sql}) AS q ORDER BY {order_by} LIMIT ? OFFSET ?",
                           [*params, limit, offset]).pl()
    return Page(rows=rows, total=int(total), offset=offset, limit=limit)


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """``"2026-10"`` → (first day, first day of the next month)."""
    try:
        year, month = (int(p) for p in period.split("-"))
        start = dt.date(year, month, 1)
    except (ValueError, AttributeError):
        raise ValueError(f"period must look like 2026-10, not {period!r}") from None
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def last_pulls(store: Store) -> pl.DataFrame:
    """Last successful pull per source (shops and Exact), newest first."""
    return store.query(
        """
        SELECT split_part(source, ':', 1) || ':' || split_part(source, ':', 2) AS source,
               max(last_success_at) AS last_success_at, max(last_attempt_at) AS last_attempt_at,
               sum(coalesce(rows_total, 0))::BIGINT AS rows
        FROM sync_state GROUP BY 1 ORDER BY last_success_at DESC NULLS LAST
        """
    )


def available_periods(store: Store) -> list[str]:
    """Months (YYYY-MM) that have shop documents or Exact entries, newest first."""
    rows = store.rows(
        """
        SELECT DISTINCT strftime(d, '%Y-%m') AS p FROM (
            SELECT doc_date AS d FROM shop_documents WHERE doc_date IS NOT NULL
            UNION ALL SELECT entry_date FROM exact_entries WHERE entry_date IS NOT NULL
        ) ORDER BY p DESC
        """
    )
    return [r[0] for r in rows]


def available_divisions(store: Store, configured: Sequence[int] = ()) -> list[int]:
    """Configured divisions, plus any division that has data in the store."""
    rows = store.rows(
        "SELECT DISTINCT division FROM (SELECT division FROM exact_divisions UNION ALL "
        "SELECT division FROM exact_entries) WHERE division IS NOT NULL ORDER BY 1"
    )
    found = [int(r[0]) for r in rows]
    return list(dict.fromkeys([*configured, *found]))


def api_calls_page(store: Store, *, system: str | None = None, errors_only: bool = False,
                   limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """The API call log, newest first (paths are stored with secrets removed)."""
    where, params = [], []
    if system:
        where.append("system = ?")
        params.append(system)
    if errors_only:
        where.append("(status IS NULL OR status >= 400 OR error IS NOT NULL)")
    sql = (
        "SELECT call_id, called_at, system, scope, method, path, status, duration_ms, rate_remaining, "
        "rate_minutely_remaining, error FROM api_calls" + (" WHERE " + " AND ".join(where) if where else "")
    )
    return paged(store, sql, params, limit=limit, offset=offset, order_by="called_at DESC, call_id DESC")


def sync_log_page(store: Store, *, level: str | None = None, source: str | None = None,
                  limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """Events and per-record errors of pulls and pushes, newest first."""
    where, params = [], []
    if level:
        where.append("level = ?")
        params.append(level)
    if source:
        where.append("source LIKE ?")
        params.append(source + "%")
    sql = ("SELECT log_id, logged_at, run_id, source, level, record_key, message FROM sync_log"
           + (" WHERE " + " AND ".join(where) if where else ""))
    return paged(store, sql, params, limit=limit, offset=offset, order_by="logged_at DESC, log_id DESC")


# --------------------------------------------------------------------------- jobs the buttons run

#: shop kind -> "module:function(store, shop_settings, *, on_progress=...)" (same as the CLI)
SHOP_PULLERS = {
    "woocommerce": "exactsync.shops.woocommerce:pull_woocommerce",
    "magento": "exactsync.shops.magento:pull_magento",
}


def _load(spec: str):
    import importlib

    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def _step(on_progress, done: int, total: int, message: str) -> None:
    if on_progress is not None:
        on_progress(done, total, message)


def pull_all(store: Store, settings: Any, *, on_progress=None, shops: Sequence[str] | None = None) -> list[Any]:
    """Pull every configured shop and every configured Exact division (what "Pull" does)."""
    names = list(shops) if shops else list(settings.shops)
    divisions = list(settings.exact.divisions)
    total = len(names) + len(divisions)
    results: list[Any] = []
    for i, name in enumerate(names):
        shop = settings.shop(name)
        _step(on_progress, i, total, f"Pulling {name}…")
        results.append(_load(SHOP_PULLERS[shop.kind])(store, shop))
    if divisions:
        from exactsync.exact import pull_exact

        for j, division in enumerate(divisions):
            _step(on_progress, len(names) + j, total, f"Pulling Exact division {division}…")
            results.append(pull_exact(store, settings, division))
    _step(on_progress, total, total, "Pulled")
    return results


def has_run(store: Store) -> bool:
    """True once any reconciliation run is saved."""
    from exactsync.reconcile import latest_run

    return latest_run(store) is not None


def refresh(store: Store, settings: Any, period: str | None, *, on_progress=None) -> Any:
    """Pull everything configured, then reconcile ``period`` (default: the newest month)."""
    from exactsync.reconcile import run_reconciliation

    pull_all(store, settings, on_progress=on_progress)
    if period is None:
        periods = available_periods(store)
        period = periods[0] if periods else dt.date.today().strftime("%Y-%m")
    _step(on_progress, 0, 1, f"Reconciling {period}…")
    run = run_reconciliation(store, settings, period)
    _step(on_progress, 1, 1, "Reconciled")
    return run


# --------------------------------------------------------------------------- formatting


def fmt_money(value: Any, currency: str = "EUR") -> str:
    """``Decimal('-1234.5')`` → ``'EUR -1,234.50'`` (display only; money stays Decimal)."""
    from decimal import Decimal

    if value is None:
        return "—"
    q = Decimal(str(value)).quantize(Decimal("0.01"))
    return f"{currency} {q:,.2f}"


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


# --------------------------------------------------------------------------- connections


def _configured(value: Any) -> str:
    """Never a secret value: only whether it is set."""
    return "configured ✓" if value else "not set"


def exact_settings_view(settings: Any) -> pl.DataFrame:
    """The Exact settings as (setting, value) rows; secrets shown as 'configured ✓' only."""
    e = settings.exact
    rows = [
        ("Exact host", e.base_url),
        ("Client ID", e.client_id or "not set"),
        ("Client secret", _configured(e.client_secret)),
        ("Redirect URI", e.redirect_uri),
        ("Divisions", ", ".join(str(d) for d in e.divisions) or "not set"),
        ("Sales journal", e.sales_journal),
        ("Token file", _configured(Path(e.token_file).exists())),
    ]
    return pl.DataFrame(rows, schema=["Setting", "Value"], orient="row")


def shop_settings_view(shop: Any) -> pl.DataFrame:
    if shop.kind == "magento":
        creds = [("Access token", _configured(shop.token))]
    else:
        creds = [("Consumer key", _configured(shop.consumer_key)), ("Consumer secret", _configured(shop.consumer_secret))]
    rows = [("URL", shop.url or "not set"), *creds, ("Division", str(shop.division or "—")),
            ("YourRef prefix", shop.reference_prefix or "—"), ("Home country", shop.home_country),
            ("Time zone", shop.timezone)]
    return pl.DataFrame(rows, schema=["Setting", "Value"], orient="row")


def exact_authorize_url(settings: Any, state: str) -> str:
    from exactsync.exact.oauth import authorize_url

    e = settings.exact
    return authorize_url(e.base_url, e.client_id, e.redirect_uri, state=state)


def exact_token_status(settings: Any) -> dict:
    """Connected?, token age, refresh-token days left and the 30-day warning (no token values)."""
    from exactsync.exact.oauth import TokenStore

    return TokenStore.from_settings(settings).status().as_dict()


def test_exact(store: Store, settings: Any) -> dict:
    """Ask Exact who we are and which configured divisions answer (same as ``exactsync exact test``)."""
    from exactsync.exact.pull import make_client

    client = make_client(settings, store=store)
    try:
        me = client.me()
        divisions = settings.exact.divisions or [me.get("CurrentDivision")]
        headroom = [{"division": d, **client.limiter.headroom(d).as_dict()} for d in divisions]
    finally:
        client.close()
    return {"user": me.get("FullName") or me.get("UserName"), "divisions": ", ".join(map(str, divisions)),
            "headroom": pl.DataFrame(headroom)}


def exact_headroom(store: Store) -> pl.DataFrame:
    """Last rate-limit headroom Exact reported, per scope (division)."""
    return store.query(
        """
        SELECT scope AS division, max(called_at) AS last_call,
               arg_max(rate_remaining, called_at) AS calls_left_today,
               arg_max(rate_minutely_remaining, called_at) AS calls_left_this_minute
        FROM api_calls WHERE system = 'exact' AND (rate_remaining IS NOT NULL OR rate_minutely_remaining IS NOT NULL)
        GROUP BY scope ORDER BY scope
        """
    )


def test_shop(shop: Any) -> str:
    """One small authenticated GET against the shop; a sentence saying what answered."""
    if shop.kind == "magento":
        from exactsync.shops.magento import MagentoClient

        with MagentoClient(shop.url, shop.token.get(), timeout=shop.timeout, verify=shop.verify_tls) as client:
            data = client.get("invoices", {"searchCriteria[pageSize]": 1, "searchCriteria[currentPage]": 1})
        return f"{shop.name}: Magento answered, {data.get('total_count', '?')} invoice(s) in total."
    from exactsync.shops.woocommerce import WooClient

    client = WooClient(shop.url, shop.consumer_key.get(), shop.consumer_secret.get(), timeout=shop.timeout,
                       verify=shop.verify_tls, max_attempts=2)
    try:
        _, resp = client.get("orders", {"per_page": 1})
    finally:
        client.close()
    return f"{shop.name}: WooCommerce answered, {resp.headers.get('x-wp-total', '?')} order(s) in total."
