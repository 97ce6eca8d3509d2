"""Named, recorded migrations (after sqlite-utils' ``Migrations``).

Each migration is a module in this package named ``m<NNNN>_<what>.py`` with a function
``up(con)``. Its name is ``<NNNN>_<what>``; pending ones are applied in name order, each in its
own transaction, and recorded in ``_migrations(name, applied_at)``. Applying is idempotent: a
recorded name is never run again. Number ranges keep areas apart: 0001–0099 core, 0100–0199
Exact, 0200–0299 shops, 0300–0399 reconciliation, 0400–0499 push and mappings.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import duckdb

from exactsync.clock import utcnow

__all__ = ["discover", "apply_pending", "Migration"]

Migration = tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]


def discover() -> list[Migration]:
    """All migrations in this package, sorted by name."""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("m") or "_" not in info.name:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append((info.name[1:], module.up))
    found.sort(key=lambda m: m[0])
    names = [n for n, _ in found]
    if len(names) != len(set(names)):  # pragma: no cover - guarded by the file system
        raise RuntimeError("duplicate migration names")
    return found


def apply_pending(con: duckdb.DuckDBPyConnection) -> list[str]:
    con.execute("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
    done = {r[0] for r in con.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for name, up in discover():
        if name in done:
            continue
        con.begin()
        try:
            up(con)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, utcnow()])
        except BaseException:
            con.rollback()
            raise
        con.commit()
        applied.append(name)
    return applied
