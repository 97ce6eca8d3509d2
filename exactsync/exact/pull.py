"""Pull one Exact division into DuckDB: reference data, booked lines, deletions, derived entries.

Call budget (exact-online-api.md §3, §9.4) — see docs/exact.md:

* **transaction lines**: ``sync/Financial/TransactionLines?$filter=Timestamp gt <cursor>L``,
  1,000 rows a call, following ``__next``. Every page's rows, its per-record errors, the derived
  entries it touches and the new cursor are written in ONE ``store.atomic()``: a pull stopped at
  any point (daily limit, crash, Ctrl-C) resumes from the cursor, nothing lost or doubled.
  With no change this is the one call a pull costs.
* **deletions**: ``sync/Deleted`` (EntityType 1 = transaction lines, 2 = accounts) with its own
  cursor, polled when older than ``deleted_every`` (default 60 min), on the first pull and with
  ``full=True``.
* **reference data** (divisions, accounts incremental on ``Modified``, VAT codes, GL accounts,
  journals, financial periods, journal status): refreshed when older than ``reference_every``
  (default 24 h), on the first pull and with ``full=True``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from exactsync.clock import SYSTEM_CLOCK, Clock, utcnow
from exactsync.exact import derive
from exactsync.exact.client import ExactClient
from exactsync.exact.oauth import TokenStore
from exactsync.exact.ratelimit import DailyLimitReached
from exactsync.exact.records import (
    TRANSACTION_LINE_SELECT,
    RecordError,
    account_row,
    deleted_row,
    division_row,
    gl_account_row,
    journal_row,
    journal_status_row,
    period_row,
    transaction_line_row,
    vat_code_row,
)
from exactsync.errors import ExactsyncError
from exactsync.store import Store, StoreBusyError

__all__ = ["pull_exact", "PullResult", "make_client", "SOURCE_LINES", "SOURCE_DELETED", "SOURCE_REFERENCE",
           "SOURCE_ACCOUNTS"]

log = logging.getLogger(__name__)

SOURCE_LINES = "exact:transaction_lines"
SOURCE_DELETED = "exact:deleted"
SOURCE_REFERENCE = "exact:reference"
SOURCE_ACCOUNTS = "exact:accounts"
LOG_SOURCE = "exact"
_FIRST_ACCOUNTS = "1900-01-01T00:00:00"

Progress = Callable[[int, "int | None", str], None]


@dataclass
class PullResult:
    division: int
    calls: int = 0
    lines_upserted: int = 0
    lines_deleted: int = 0
    #: after a reference refresh, every entry of the division was derived again: how many
    rederived_all: bool = False
    rederived: int = field(default=0, repr=False)
    #: the entries written from the lines this pull brought (new or changed sales entries)
    derived_ids: set[str] = field(default_factory=set, repr=False)
    record_errors: int = 0
    pages: int = 0
    reference_refreshed: bool = False
    deleted_polled: bool = False
    cursor: int = 1
    complete: bool = False
    stopped: str | None = None
    run_id: str = ""
    seconds: float = 0.0

    @property
    def partial(self) -> bool:
        return self.record_errors > 0 or not self.complete

    @property
    def entries_derived(self) -> int:
        """Entries written from the lines this pull brought; after a reference refresh, every entry
        of the division (``rederived_all``)."""
        return self.rederived if self.rederived_all else len(self.derived_ids)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("derived_ids", "rederived")}
        return {**data, "entries_derived": self.entries_derived}


def make_client(settings: Any, *, store: Store | None = None, clock: Clock | None = None, transport: Any = None,
                token_transport: Any = None) -> ExactClient:
    """An :class:`ExactClient` with the settings' token file, recording calls in ``store``."""
    tokens = TokenStore.from_settings(settings, clock=clock, transport=token_transport or transport)
    client = ExactClient(settings, tokens, transport=transport, clock=clock, store=store)
    tokens.on_token_call = client.record_token_call
    return client


def _now(clock: Clock) -> dt.datetime:
    return utcnow() if clock is SYSTEM_CLOCK else clock.now().replace(tzinfo=None)


def pull_exact(
    store: Store,
    settings: Any,
    division: int,
    *,
    client: ExactClient | None = None,
    clock: Clock | None = None,
    on_progress: Progress | None = None,
    full: bool = False,
    resync: bool = False,
    reference_every: float = 24 * 3600,
    deleted_every: float = 3600,
) -> PullResult:
    """Pull ``division`` incrementally; see the module docstring for what each call costs.

    ``full`` refreshes reference data and polls deletions now; ``resync`` also restarts the
    transaction-line cursor at 1 (rows are upserted by ID, so nothing doubles).
    Raises :class:`DailyLimitReached` (after saving everything done so far) or auth errors.
    """
    clock = clock or (client.clock if client is not None else SYSTEM_CLOCK)
    own_client = client is None
    if client is None:
        client = make_client(settings, store=store, clock=clock)
    scope = str(division)
    result = PullResult(division=division, run_id=uuid.uuid4().hex[:12])
    calls_before = client.calls.get(division, 0)
    started = clock.monotonic()
    began_at = clock.now().replace(tzinfo=None)
    progress = on_progress or (lambda done, total, msg: None)
    try:
        now = clock.time()
        _, ref_info = store.get_cursor_state(SOURCE_REFERENCE, scope)
        if full or resync or now - float(ref_info.get("refreshed_at", 0)) >= reference_every:
            progress(0, None, "reference data")
            moved = _pull_reference(store, client, division, result, clock, ref_info.get("move_date"))
            result.reference_refreshed = True
            if moved:
                resync = True

        cursor_text, _ = store.get_cursor_state(SOURCE_LINES, scope)
        cursor = 1 if resync or cursor_text is None else int(cursor_text)
        first_run = cursor_text is None or resync
        _pull_lines(store, client, division, cursor, result, clock, progress)

        del_cursor, del_info = store.get_cursor_state(SOURCE_DELETED, scope)
        if full or resync or first_run or del_cursor is None or (
            clock.time() - float(del_info.get("polled_at", 0)) >= deleted_every
        ):
            _pull_deleted(store, client, division, int(del_cursor or 1), result, clock)
            result.deleted_polled = True

        if result.reference_refreshed and not first_run:  # a first run derived every page as it came
            with store.atomic() as con:
                result.rederived = derive.derive_all(con, division)
                result.rederived_all = True
        with store.atomic() as con:
            _note_removed_pushes(con, division, began_at, result.run_id)
        result.complete = True
    except DailyLimitReached as e:
        result.stopped = str(e)
        with store.atomic() as con:
            Store.log_event(con, LOG_SOURCE, str(e), level="warning", run_id=result.run_id, record_key=scope)
        raise
    except ExactsyncError as e:
        if not isinstance(e, StoreBusyError):  # what was pulled stays; the sync log says where it stopped
            with store.atomic() as con:
                Store.log_event(con, LOG_SOURCE, f"division {division} not pulled: {e}", level="error",
                                run_id=result.run_id, record_key=scope)
        raise
    finally:
        result.calls = client.calls.get(division, 0) - calls_before
        result.seconds = round(clock.monotonic() - started, 3)
        if own_client:
            client.close()
    level = "warning" if result.record_errors else "info"
    with store.atomic() as con:
        Store.log_event(
            con, LOG_SOURCE,
            f"pulled division {division}: {result.lines_upserted} lines, {result.lines_deleted} deleted, "
            f"{result.record_errors} record errors, {result.calls} calls",
            level=level, run_id=result.run_id, record_key=scope,
        )
    return result


def _note_removed_pushes(con: Any, division: int, began_at: dt.datetime, run_id: str) -> None:
    """Entries exactsync pushed before this pull began that the pull no longer has were removed in
    Exact: their push jobs get ``removed_at`` (the planner pushes such a document again, as a new
    job; the push looks the reference up first, as always), with an info row each."""
    rows = con.execute(
        "UPDATE push_jobs SET removed_at = ? WHERE division = ? AND status = 'Synced' AND removed_at IS NULL "
        "AND exact_entry_id IS NOT NULL AND synced_at < ? AND lower(exact_entry_id) NOT IN "
        "(SELECT lower(entry_id) FROM exact_entries WHERE division = ?) RETURNING job_id, your_ref, exact_entry_number",
        [began_at, division, began_at, division]).fetchall()
    for job_id, ref, number in rows:
        Store.log_event(con, LOG_SOURCE, f"entry {number} ({ref}), pushed by exactsync, is no longer in Exact: "
                        "a push plans the document again", level="info", record_key=job_id, run_id=run_id)


# --------------------------------------------------------------------------- transaction lines


def _pull_lines(store: Store, client: ExactClient, division: int, cursor: int, result: PullResult, clock: Clock,
                progress: Progress) -> None:
    scope = str(division)
    params = {"$select": TRANSACTION_LINE_SELECT, "$filter": f"Timestamp gt {cursor}L"}
    result.cursor = cursor
    for page in client.pages("sync/Financial/TransactionLines", division, params):
        pulled_at = _now(clock)
        rows: dict[str, dict] = {}
        errors: list[tuple[str | None, str]] = []
        max_ts = cursor
        for n, record in enumerate(page.rows):
            ts = record.get("Timestamp") if isinstance(record, dict) else None
            try:
                row = transaction_line_row(record, division, pulled_at)
            except RecordError as e:
                key = e.key or f"page {page.number} row {n + 1}"
                errors.append((key, f"TransactionLine {key}: {e}"))
                if isinstance(ts, int) and not isinstance(ts, bool) and 0 < ts < 2**63:
                    max_ts = max(max_ts, ts)
                continue
            max_ts = max(max_ts, row["timestamp"])
            old = rows.get(row["line_id"])
            if old is None or old["timestamp"] <= row["timestamp"]:
                rows[row["line_id"]] = row
        with store.atomic() as con:
            Store.upsert_rows(con, "exact_transaction_lines", list(rows.values()))
            for key, message in errors:
                Store.log_event(con, LOG_SOURCE, message, record_key=key, run_id=result.run_id)
            derive.derive_entries(con, division, {r["entry_id"] for r in rows.values()}, result.derived_ids)
            Store.set_cursor(con, SOURCE_LINES, scope, str(max_ts), rows=len(rows),
                             detail=json.dumps({"pulled_at": clock.time()}))
        cursor = max_ts
        result.cursor = cursor
        result.pages += 1
        result.lines_upserted += len(rows)
        result.record_errors += len(errors)
        progress(result.lines_upserted, None, "transaction lines")


# --------------------------------------------------------------------------- deletions


def _pull_deleted(store: Store, client: ExactClient, division: int, cursor: int, result: PullResult,
                  clock: Clock) -> None:
    scope = str(division)
    params = {"$select": "EntityKey,EntityType,Timestamp", "$filter": f"Timestamp gt {cursor}L"}
    for page in client.pages("sync/Deleted", division, params):
        lines: list[str] = []
        accounts: list[str] = []
        errors: list[tuple[str | None, str]] = []
        max_ts = cursor
        for n, record in enumerate(page.rows):
            try:
                row = deleted_row(record)
            except RecordError as e:
                key = e.key or f"page {page.number} row {n + 1}"
                errors.append((key, f"Deleted record {key}: {e}"))
                continue
            max_ts = max(max_ts, row["timestamp"])
            if row["entity_type"] == 1:
                lines.append(row["entity_key"])
            elif row["entity_type"] == 2:
                accounts.append(row["entity_key"])
        with store.atomic() as con:
            affected: set[str] = set()
            deleted = 0
            if lines:
                placeholders = ",".join("?" * len(lines))
                affected = {r[0] for r in con.execute(
                    f"SELECT DISTINCT entry_id FROM exact_transaction_lines WHERE division = ? AND line_id IN ({placeholders})",
                    [division, *lines]).fetchall()}
                deleted = con.execute(
                    f"DELETE FROM exact_transaction_lines WHERE division = ? AND line_id IN ({placeholders})",
                    [division, *lines]).fetchall()[0][0]
            if accounts:
                placeholders = ",".join("?" * len(accounts))
                con.execute(f"DELETE FROM exact_accounts WHERE division = ? AND account_id IN ({placeholders})",
                            [division, *accounts])
            for key, message in errors:
                Store.log_event(con, LOG_SOURCE, message, record_key=key, run_id=result.run_id)
            derive.derive_entries(con, division, affected, result.derived_ids)
            Store.set_cursor(con, SOURCE_DELETED, scope, str(max_ts), rows=deleted,
                             detail=json.dumps({"polled_at": clock.time()}))
        cursor = max_ts
        result.lines_deleted += deleted
        result.record_errors += len(errors)


# --------------------------------------------------------------------------- reference data

_REFERENCE = [
    # (path, $select, table, row function)
    ("vat/VATCodes", "ID,Code,Description,Percentage,Type,VATTransactionType,OssCountry,EUSalesListing,IsBlocked,GLToPay",
     "exact_vat_codes", vat_code_row),
    ("financial/GLAccounts", "ID,Code,Description,Type,BalanceType,VATCode,IsBlocked", "exact_gl_accounts",
     gl_account_row),
    ("financial/Journals", "ID,Code,Description,Type,Currency,AllowVariableCurrency,IsBlocked", "exact_journals",
     journal_row),
    ("financial/FinancialPeriods", "ID,FinYear,FinPeriod,StartDate,EndDate", "exact_periods", period_row),
    ("read/financial/JournalStatusList", "Journal,Year,Period,Status", "exact_journal_status", journal_status_row),
]


def _pull_reference(store: Store, client: ExactClient, division: int, result: PullResult, clock: Clock,
                    known_move: str | None) -> bool:
    """Fetch every reference endpoint, then replace the division's rows in ONE transaction.

    Returns True when ``DivisionMoveDate`` changed: Exact regenerated every sync Timestamp, so the
    cursors must restart (§4.6).
    """
    scope = str(division)
    pulled_at = _now(clock)
    errors: list[tuple[str | None, str]] = []

    # divisions the user may access (needs a division in the URL: our own)
    divisions = []
    move_date = known_move
    for rec in client.pages("system/Divisions", division,
                            {"$select": "Code,Description,Currency,Country,VATNumber,Status,DivisionMoveDate"}).rows():
        try:
            divisions.append(division_row(rec, pulled_at))
        except RecordError as e:
            errors.append((e.key, f"Division: {e}"))
            continue
        if divisions[-1]["division"] == division and isinstance(rec.get("DivisionMoveDate"), str):
            move_date = rec["DivisionMoveDate"]
    moved = move_date != known_move and move_date is not None

    tables: list[tuple[str, list[dict]]] = []
    for path, select, table, fn in _REFERENCE:
        rows = []
        for rec in client.pages(path, division, {"$select": select}).rows():
            try:
                rows.append(fn(rec, division, pulled_at) if fn not in (period_row, journal_status_row)
                            else fn(rec, division))
            except RecordError as e:
                errors.append((e.key, f"{path.split('/')[-1]}: {e}"))
        tables.append((table, _dedupe(rows, _KEYS[table])))

    # accounts: incremental on Modified (crm/Accounts has mandatory filtering, §3.4)
    since, _ = store.get_cursor_state(SOURCE_ACCOUNTS, scope)
    since = since or _FIRST_ACCOUNTS
    newest = since
    accounts = []
    params = {"$select": "ID,Code,Name,Email,Country,VATNumber,Status,Blocked,SalesVATCode,Modified",
              "$filter": f"Modified ge datetime'{since}'"}
    for rec in client.pages("crm/Accounts", division, params).rows():
        try:
            row = account_row(rec, division, pulled_at)
        except RecordError as e:
            errors.append((e.key, f"Account: {e}"))
            continue
        accounts.append(row)
        if row["modified_at"] is not None:
            newest = max(newest, row["modified_at"].strftime("%Y-%m-%dT%H:%M:%S"))

    with store.atomic() as con:
        Store.upsert_rows(con, "exact_divisions", _dedupe(divisions, ("division",)))
        for table, rows in tables:
            con.execute(f"DELETE FROM {table} WHERE division = ?", [division])
            Store.upsert_rows(con, table, rows)
        Store.upsert_rows(con, "exact_accounts", _dedupe(accounts, ("account_id",)))
        for key, message in errors:
            Store.log_event(con, LOG_SOURCE, message, record_key=key, run_id=result.run_id)
        Store.set_cursor(con, SOURCE_ACCOUNTS, scope, newest, rows=len(accounts))
        Store.set_cursor(con, SOURCE_REFERENCE, scope, None,
                         detail=json.dumps({"refreshed_at": clock.time(), "move_date": move_date}))
        if moved:
            Store.log_event(con, LOG_SOURCE, f"division {division} was moved by Exact (DivisionMoveDate changed): "
                            "all sync timestamps were regenerated, re-reading every transaction line",
                            level="warning", record_key=scope, run_id=result.run_id)
    result.record_errors += len(errors)
    return moved


_KEYS = {"exact_vat_codes": ("code",), "exact_gl_accounts": ("gl_id",), "exact_journals": ("code",),
         "exact_periods": ("fin_year", "fin_period"), "exact_journal_status": ("journal_code", "fin_year", "fin_period")}


def _dedupe(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    out: dict[tuple, dict] = {}
    for row in rows:
        out[tuple(row[k] for k in keys)] = row
    return list(out.values())
