"""Operations views (pull status, periods, divisions, call and event logs) and the jobs the buttons run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import polars as pl

from exactsync.errors import SourceFailure
from exactsync.store import Store, StoreBusyError
from exactsync.views.base import Page, paged, PAGE_SIZE

__all__ = [
    "last_pulls",
    "available_periods",
    "available_divisions",
    "api_calls_page",
    "sync_log_page",
    "PullReport",
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
                  limit: int = PAGE_SIZE, offset: int = 0, levels: Sequence[str] | None = None,
                  since: dt.datetime | None = None) -> Page:
    """Events and per-record errors of pulls and pushes, newest first: of ``level``, or of any of
    ``levels``; of sources starting with ``source``; logged at or after ``since`` (UTC)."""
    where, params = [], []
    if level:
        where.append("level = ?")
        params.append(level)
    if levels:
        where.append("level IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(levels))
    if since is not None:
        where.append("logged_at >= ?")
        params.append(since)
    if source:
        where.append("source LIKE ?")
        params.append(source + "%")
    sql = ("SELECT log_id, logged_at, run_id, source, level, record_key, message FROM sync_log"
           + (" WHERE " + " AND ".join(where) if where else ""))
    return paged(store, sql, params, limit=limit, offset=offset, order_by="logged_at DESC, log_id DESC")


def _step(on_progress, done: int, total: int, message: str) -> None:
    if on_progress is not None:
        on_progress(done, total, message)


@dataclass
class PullReport:
    """What "Pull" did: a result per source pulled, a failure per source that could not be."""

    results: list[Any] = field(default_factory=list)
    failures: list[SourceFailure] = field(default_factory=list)
    #: the reconciliation run made after the pull (``refresh``), if any
    run: Any = None

    @property
    def message(self) -> str:
        """The failures as one paragraph (empty when none): what the page shows after the run."""
        return " ".join(f"{f.source}: {f.message.rstrip('.')}." for f in self.failures)

    @property
    def notes(self) -> list[str]:
        """What the pulls want their user to know besides the counts (a shop re-read from the start
        after a settings change), one line per note: ``"<shop>: <note>"``."""
        return [f"{r.shop}: {note}" for r in self.results for note in getattr(r, "notes", None) or []]


def pull_all(store: Store, settings: Any, *, on_progress=None, shops: Sequence[str] | None = None) -> PullReport:
    """Pull every configured shop and every configured Exact division (what "Pull" does).

    Each source on its own: one that fails is reported in the report (and the sync log) and the
    others are pulled. Exact's authorisation failing stops the divisions (they share the token);
    the database being busy stops everything.
    """
    from exactsync.shops.runner import pull_shops

    names = list(shops) if shops else list(settings.shops)
    divisions = list(settings.exact.divisions)
    total = len(names) + len(divisions)
    report = PullReport()
    for i, name in enumerate(names):
        _step(on_progress, i, total, f"Pulling {name}…")
        results, failures = pull_shops(store, [settings.shop(name)])
        report.results += results
        report.failures += failures
    if divisions:
        from exactsync.exact.runner import pull_divisions

        def starting(division: int) -> None:
            _step(on_progress, len(names) + divisions.index(division), total, f"Pulling Exact division {division}…")

        pulls = pull_divisions(store, settings, divisions, on_start=starting)
        report.results += pulls.results
        # the shops' names beside them: "Exact division N"
        report.failures += [replace(f, source=f"Exact {f.source.lower()}") for f in [*pulls.stopped.values(), *pulls.failures]]
        if pulls.skipped:
            report.failures.append(SourceFailure(
                "Exact", f"division(s) {', '.join(str(d) for d in pulls.skipped)} not tried: they need the same "
                         "connection", pulls.failures[-1].exit_code))
    _step(on_progress, total, total, "Pulled")
    return report


def refresh(store: Store, settings: Any, period: str | None, *, on_progress=None, pull: bool = True) -> PullReport:
    """Pull everything configured, then reconcile ``period`` (default: the busiest month).

    Reconciles also when some source failed (the run then says what it could not see: its
    warnings name a source not pulled since the period ended); the report's ``failures`` say which.
    """
    from exactsync.reconcile import run_reconciliation

    report = pull_all(store, settings, on_progress=on_progress) if pull else PullReport()
    if period is None:
        periods = available_periods(store)
        period = periods[0] if periods else dt.date.today().strftime("%Y-%m")
    _step(on_progress, 0, 1, f"Reconciling {period}…")
    report.run = run_reconciliation(store, settings, period)
    _step(on_progress, 1, 1, "Reconciled")
    return report
