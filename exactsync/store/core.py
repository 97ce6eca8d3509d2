"""The DuckDB store: short-lived connections, one writer, waiting politely on the file lock.

DuckDB lets one *process* hold a database file at a time (or several processes, all read-only).
The dashboard and a cron job must share ``data/exactsync.duckdb``, so:

* nobody keeps the file open: every unit of work opens a connection, does its SQL, and closes it
  (HTTP calls happen *between* transactions, never inside one);
* when another process holds the file, :meth:`Store.connect` waits, retrying with a short backoff,
  tells the user once through ``on_wait`` ("waiting for …, held by PID n"), and after
  ``lock_timeout`` seconds raises :class:`StoreBusyError` with a message a user can act on, never
  a raw DuckDB lock traceback;
* inside a process all writers share one lock (:meth:`Store.atomic`), so transactions never
  conflict; reads run beside them on their own connections;
* a thread that is already inside ``read()``/``atomic()`` reuses its connection (nesting is free).

Usage::

    store = Store.open("data/exactsync.duckdb")     # applies pending migrations
    with store.atomic() as con:                       # one write transaction
        con.execute("INSERT INTO sync_log ...", [...])
    df = store.query("SELECT * FROM shop_documents WHERE shop = ?", ["woo"])   # polars
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from exactsync.clock import utcnow
from exactsync.errors import EXIT_BUSY, ExactsyncError

__all__ = [
    "Store",
    "StoreError",
    "StoreBusyError",
    "TableStatus",
    "polars_schema",
]

log = logging.getLogger(__name__)

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)")


class StoreError(ExactsyncError):
    """A store problem explained in words (bad path, corrupt file, failed migration)."""


class StoreBusyError(StoreError):
    """Another process kept the database for longer than the configured wait."""

    exit_code = EXIT_BUSY


@dataclass(frozen=True)
class TableStatus:
    name: str
    rows: int


# One write lock per database file in this process, shared by every Store object for it.
_write_locks: dict[str, threading.RLock] = {}
_registry_lock = threading.Lock()


def _write_lock_for(path: str) -> threading.RLock:
    with _registry_lock:
        return _write_locks.setdefault(path, threading.RLock())


class Store:
    """A DuckDB file with migrations, ``atomic()`` writes and polite waiting on locks."""

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout: float = 120.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.on_wait = on_wait
        self._local = threading.local()
        self._write_lock = _write_lock_for(str(self.path.resolve()))

    # ------------------------------------------------------------------ construction

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        lock_timeout: float = 120.0,
        on_wait: Callable[[str], None] | None = None,
        migrate: bool = True,
    ) -> "Store":
        """A store for ``path`` (created if missing) with all migrations applied."""
        store = cls(path, lock_timeout=lock_timeout, on_wait=on_wait)
        if migrate:
            store.migrate()
        return store

    @classmethod
    def from_settings(cls, settings: Any, *, on_wait: Callable[[str], None] | None = None, migrate: bool = True) -> "Store":
        return cls.open(settings.store.path, lock_timeout=settings.store.lock_timeout, on_wait=on_wait, migrate=migrate)

    # ------------------------------------------------------------------ connections

    def _open_connection(self) -> duckdb.DuckDBPyConnection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the folder for the database {self.path}: {e.strerror}") from None
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        told = 0.0
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as e:
                text = str(e)
                m = _LOCK_RE.search(text)
                if m is None and "lock" not in text.lower():
                    raise StoreError(f"cannot open the database {self.path}: {text.splitlines()[0]}") from None
                holder = f"process {m.group('pid')}" if m else "another process"
                now = time.monotonic()
                if now >= deadline:
                    raise StoreBusyError(
                        f"The database {self.path} is in use by {holder} and did not become free within "
                        f"{self.lock_timeout:.0f} s. Another exactsync job (a pull, push or the dashboard) is "
                        f"probably running; try again when it has finished, or raise store.lock_timeout."
                    ) from None
                if now - told >= 10.0:
                    message = f"Waiting for the database {self.path.name}: it is in use by {holder}…"
                    log.info(message)
                    if self.on_wait is not None:
                        self.on_wait(message)
                    told = now
                time.sleep(delay)
                delay = min(delay * 1.6, 0.5)
            except duckdb.Error as e:
                raise StoreError(f"cannot open the database {self.path}: {str(e).splitlines()[0]}") from None

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reading; closed (and the file released) on exit unless nested."""
        con = getattr(self._local, "con", None)
        if con is not None:
            yield con
            return
        con = self._open_connection()
        self._local.con = con
        try:
            yield con
        finally:
            self._local.con = None
            con.close()

    connect = read

    def version(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """A token that changes whenever any process commits to the store, without opening it: the
        (modification time, size) of the database file and of its write-ahead log (None where
        missing). Reading leaves it as it is. Caches of reads key on it (the dashboard's), so what a
        cron job pulled or a ``runs delete`` removed shows at the next page view."""

        def stat(path: Path) -> tuple[int, int] | None:
            try:
                s = path.stat()
            except OSError:
                return None
            return (s.st_mtime_ns, s.st_size)

        return stat(self.path), stat(self.path.with_name(self.path.name + ".wal"))

    @contextlib.contextmanager
    def atomic(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction: commits on success, rolls back on any exception.

        Nested calls in the same thread join the outer transaction.
        """
        if getattr(self._local, "in_tx", False):
            yield self._local.con
            return
        with self._write_lock, self.read() as con:
            con.begin()
            self._local.in_tx = True
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            else:
                con.commit()
            finally:
                self._local.in_tx = False

    # ------------------------------------------------------------------ conveniences

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run a read query and return a Polars frame (fully drained)."""
        with self.read() as con:
            return con.sql(sql, params=params).pl() if params is not None else con.sql(sql).pl()

    def rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[tuple]:
        with self.read() as con:
            return con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        with self.atomic() as con:
            con.execute(sql, params or [])

    # ------------------------------------------------------------------ bulk writes

    @staticmethod
    def upsert_rows(
        con: duckdb.DuckDBPyConnection,
        table: str,
        rows: Sequence[Mapping[str, Any]] | pl.DataFrame,
        *,
        mode: str = "replace",
        summaries: bool = True,
    ) -> int:
        """Insert rows (dicts or a Polars frame) by column name; ``mode``: replace | ignore | append.

        Rows are typed with the table's own column types, so Decimals land as DECIMAL(18,4).
        ``summaries=False``: the caller refreshes the line summaries of these rows itself
        (exactsync/store/summaries.py), once for documents and their lines together.
        """
        if isinstance(rows, pl.DataFrame):
            frame = rows
        else:
            if not rows:
                return 0
            schema = polars_schema(con, table)
            cols: list[str] = []
            for row in rows:
                for key in row:
                    if key not in cols:
                        cols.append(key)
            missing = [c for c in cols if c not in schema]
            if missing:
                raise StoreError(f"table {table} has no column(s) {', '.join(missing)}")
            frame = pl.DataFrame(
                [{c: row.get(c) for c in cols} for row in rows],
                schema={c: schema[c] for c in cols},
                orient="row",
            )
        if frame.height == 0:
            return 0
        verb = {"replace": "INSERT OR REPLACE INTO", "ignore": "INSERT OR IGNORE INTO", "append": "INSERT INTO"}[mode]
        name = f"_incoming_{threading.get_ident()}"
        con.register(name, frame)
        try:
            con.execute(f"{verb} {table} BY NAME SELECT * FROM {name}")
        finally:
            con.unregister(name)
        if summaries:
            _refresh_summaries(con, table, frame)
        return frame.height

    # ------------------------------------------------------------------ operations tables

    @staticmethod
    def log_event(
        con: duckdb.DuckDBPyConnection,
        source: str,
        message: str,
        *,
        level: str = "error",
        record_key: str | None = None,
        run_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """One row in ``sync_log`` (per-record errors, warnings, run summaries). Redacted."""
        from exactsync.redact import redact

        con.execute(
            "INSERT INTO sync_log (logged_at, run_id, source, level, record_key, message, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [utcnow(), run_id, source, level, record_key, redact(message)[:4000], redact(detail)[:20000] if detail else None],
        )

    @staticmethod
    def record_api_call(
        con: duckdb.DuckDBPyConnection,
        *,
        system: str,
        method: str,
        url: str,
        status: int | None,
        duration_ms: int,
        scope: str | None = None,
        rate_remaining: int | None = None,
        rate_minutely_remaining: int | None = None,
        error: str | None = None,
        at: Any = None,
    ) -> None:
        from exactsync.redact import redact, redact_url

        con.execute(
            "INSERT INTO api_calls (called_at, system, scope, method, path, status, duration_ms, rate_remaining, "
            "rate_minutely_remaining, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [at or utcnow(), system, scope, method, redact_url(url)[:2000], status, duration_ms,
             rate_remaining, rate_minutely_remaining, redact(error)[:2000] if error else None],
        )

    def get_cursor(self, source: str, scope: str = "") -> str | None:
        return self.scalar("SELECT cursor FROM sync_state WHERE source = ? AND scope = ?", [source, scope])

    def get_cursor_state(self, source: str, scope: str = "") -> tuple[str | None, dict]:
        """The cursor and its ``detail`` (a JSON object a writer saved with it; ``{}`` when none or
        unreadable)."""
        rows = self.rows("SELECT cursor, detail FROM sync_state WHERE source = ? AND scope = ?", [source, scope])
        if not rows:
            return None, {}
        cursor, detail = rows[0]
        try:
            info = json.loads(detail) if detail else {}
        except ValueError:
            info = {}
        return cursor, info if isinstance(info, dict) else {}

    @staticmethod
    def set_cursor(
        con: duckdb.DuckDBPyConnection,
        source: str,
        scope: str,
        cursor: str | None,
        *,
        rows: int = 0,
        success: bool = True,
        detail: str | None = None,
    ) -> None:
        """Save a cursor; call it in the same ``atomic()`` as the rows it covers."""
        now = utcnow()
        con.execute(
            """
            INSERT INTO sync_state (source, scope, cursor, last_success_at, last_attempt_at, rows_total, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (source, scope) DO UPDATE SET
                cursor = excluded.cursor,
                last_success_at = COALESCE(excluded.last_success_at, sync_state.last_success_at),
                last_attempt_at = excluded.last_attempt_at,
                rows_total = sync_state.rows_total + excluded.rows_total,
                detail = excluded.detail
            """,
            [source, scope, cursor, now if success else None, now, rows, detail],
        )

    # ------------------------------------------------------------------ schema

    def migrate(self) -> list[str]:
        """Apply pending migrations (each in its own transaction); returns the names applied."""
        from exactsync.store.migrations import apply_pending

        with self._write_lock, self.read() as con:
            return apply_pending(con)

    def applied_migrations(self) -> list[str]:
        with self.read() as con:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = '_migrations'"
            ).fetchall()[0][0]
            if not exists:
                return []
            return [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]

    def table_counts(self) -> list[TableStatus]:
        with self.read() as con:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                    "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name"
                ).fetchall()
            ]
            return [TableStatus(n, con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names]


_DUCK_TO_POLARS: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "INTEGER": pl.Int32(),
    "BIGINT": pl.Int64(),
    "SMALLINT": pl.Int16(),
    "BOOLEAN": pl.Boolean(),
    "DATE": pl.Date(),
    "TIMESTAMP": pl.Datetime("us"),
    "DOUBLE": pl.Float64(),
    "JSON": pl.String(),
}


def _refresh_summaries(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Keep the line summaries of the rows just written current (exactsync/store/summaries.py)."""
    from exactsync.store.summaries import refresh_entry_summaries, refresh_shop_summaries

    if table in ("shop_documents", "shop_vat_lines") and "doc_key" in frame.columns:
        refresh_shop_summaries(con, frame["doc_key"].unique().to_list())
    elif table in ("exact_entries", "exact_vat_lines") and {"division", "entry_id"} <= set(frame.columns):
        pairs = frame.select("division", "entry_id").unique()
        refresh_entry_summaries(con, list(zip(pairs["division"].to_list(), pairs["entry_id"].to_list())))


def polars_schema(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, pl.DataType]:
    """The Polars dtype of each column of ``table`` (DECIMAL(p,s) → pl.Decimal(p,s))."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise StoreError(f"no table named {table}")
    out: dict[str, pl.DataType] = {}
    for name, dtype in rows:
        m = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", dtype)
        if m:
            out[name] = pl.Decimal(int(m.group(1)), int(m.group(2)))
        else:
            out[name] = _DUCK_TO_POLARS.get(dtype, pl.String())
    return out
