"""What is in the store: used by ``exactsync status`` and the dashboard sidebar."""

from __future__ import annotations

from typing import Any

from exactsync.store import Store

__all__ = ["store_status", "RUNS_SHOWN"]

#: the newest reconciliation runs the status lists
RUNS_SHOWN = 3


def store_status(store: Store) -> dict[str, Any]:
    """The database file, schema, row counts, last pulls, the newest runs and the push jobs by status."""
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
    }
