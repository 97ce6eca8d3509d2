"""What is in the store: used by ``exactsync status`` and the dashboard sidebar."""

from __future__ import annotations

from typing import Any

from exactsync.store import Store

__all__ = ["store_status"]


def store_status(store: Store) -> dict[str, Any]:
    migrations = store.applied_migrations()
    pulls = store.query(
        "SELECT source, scope, cursor, last_success_at, last_attempt_at, rows_total FROM sync_state ORDER BY source, scope"
    ).to_dicts()
    return {
        "path": str(store.path),
        "size_bytes": store.path.stat().st_size if store.path.exists() else 0,
        "schema_version": migrations[-1] if migrations else None,
        "migrations": len(migrations),
        "tables": {t.name: t.rows for t in store.table_counts()},
        "pulls": pulls,
    }
