"""Operations views (pull status, periods, divisions, call and event logs) and the jobs the buttons run."""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import polars as pl

from exactsync.store import Store
from exactsync.views.base import Page, paged, PAGE_SIZE

__all__ = [
    "last_pulls",
    "available_periods",
    "available_divisions",
    "api_calls_page",
    "sync_log_page",
    "SHOP_PULLERS",
    "pull_all",
    "refresh",
]


def last_pulls(store: Store) -> pl.DataFrame:
    """Last successful pull per source: each shop, and Exact per division (oldest part counts)."""
    return store.query(
        """
        SELECT CASE WHEN source LIKE 'shop:%' THEN split_part(source, ':', 2)
                    ELSE 'Exact ' || coalesce(scope, '') END AS source,
               min(last_success_at) AS last_success_at, max(last_attempt_at) AS last_attempt_at,
               sum(coalesce(rows_total, 0))::BIGINT AS rows
        FROM sync_state
        WHERE source LIKE 'shop:%' OR source = 'exact:transaction_lines'
        GROUP BY 1 ORDER BY 1
        """
    )


def available_periods(store: Store) -> list[str]:
    """Months (YYYY-MM) with shop documents (else Exact entries); the busiest month first (the
    default pick), then the others newest first."""
    rows = store.rows(
        """
        WITH m AS (
            SELECT strftime(doc_date, '%Y-%m') AS p, count(*) AS n FROM shop_documents
            WHERE doc_date IS NOT NULL GROUP BY 1
            UNION ALL
            SELECT strftime(entry_date, '%Y-%m'), 0 FROM exact_entries WHERE entry_date IS NOT NULL GROUP BY 1
        ), t AS (SELECT p, sum(n) AS n FROM m GROUP BY p)
        SELECT p FROM t ORDER BY (n = (SELECT max(n) FROM t)) DESC, p DESC
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
        from exactsync.exact.pull import pull_exact

        for j, division in enumerate(divisions):
            _step(on_progress, len(names) + j, total, f"Pulling Exact division {division}…")
            results.append(pull_exact(store, settings, division))
    _step(on_progress, total, total, "Pulled")
    return results


def refresh(store: Store, settings: Any, period: str | None, *, on_progress=None, pull: bool = True) -> Any:
    """Pull everything configured, then reconcile ``period`` (default: the busiest month)."""
    from exactsync.reconcile import run_reconciliation

    if pull:
        pull_all(store, settings, on_progress=on_progress)
    if period is None:
        periods = available_periods(store)
        period = periods[0] if periods else dt.date.today().strftime("%Y-%m")
    _step(on_progress, 0, 1, f"Reconciling {period}…")
    run = run_reconciliation(store, settings, period)
    _step(on_progress, 1, 1, "Reconciled")
    return run
