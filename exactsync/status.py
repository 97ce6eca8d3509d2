"""What is in the store: used by ``exactsync status`` and the dashboard sidebar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from exactsync.clock import utcnow
from exactsync.store import Store

__all__ = ["store_status", "RUNS_SHOWN", "ERRORS_SHOWN", "ERROR_DAYS"]

#: the newest reconciliation runs the status lists
RUNS_SHOWN = 3
#: the newest errors of the sync log it lists (a failed night of cron shows at a glance)
ERRORS_SHOWN = 5
#: errors of the sync log count as recent for this many days
ERROR_DAYS = 7


def store_status(store: Store) -> dict[str, Any]:
    """The database file, schema, row counts, last pulls, the newest runs, the push jobs by status
    and the newest errors of the sync log (of the last :data:`ERROR_DAYS` days)."""
    migrations = store.applied_migrations()
    pulls = store.query(
        "SELECT source, scope, cursor, last_success_at, last_attempt_at, rows_total FROM sync_state ORDER BY source, scope"
    ).to_dicts()
    tables = {t.name: t.rows for t in store.table_counts()}
    runs: list[dict[str, Any]] = []
    if tables.get("recon_runs"):
        from exactsync.reconcile import list_runs

        runs = list_runs(store, limit=RUNS_SHOWN).select(
            "run_id", "period", "created_at", "documents", "differences").to_dicts()
    jobs = ({r[0]: int(r[1]) for r in store.rows("SELECT status, count(*) FROM push_jobs GROUP BY status ORDER BY status")}
            if tables.get("push_jobs") else {})
    errors: list[dict[str, Any]] = []
    error_total = 0
    if tables.get("sync_log"):
        since = utcnow() - dt.timedelta(days=ERROR_DAYS)  # older ones are history, not news
        error_total = int(store.scalar("SELECT count(*) FROM sync_log WHERE level = 'error' AND logged_at >= ?", [since]))
        errors = store.query(
            "SELECT logged_at, source, record_key, message FROM sync_log WHERE level = 'error' AND logged_at >= ? "
            "ORDER BY logged_at DESC, log_id DESC LIMIT ?", [since, ERRORS_SHOWN]).to_dicts()
    return {
        "path": str(store.path),
        "size_bytes": store.path.stat().st_size if store.path.exists() else 0,
        "schema_version": migrations[-1] if migrations else None,
        "migrations": len(migrations),
        "tables": tables,
        "pulls": pulls,
        "runs_total": int(tables.get("recon_runs", 0)),
        "runs": runs,
        "push_jobs": jobs,
        "errors_total": error_total,
        "errors": errors,
    }
