"""Execute push jobs: claim → look up YourRef → POST only if absent → record → Synced.

The never-twice protocol (docs/push.md):

1. **Claim**: a batch of jobs is committed as ``Queued`` (with ``claimed_by`` = host:pid:run)
   in DuckDB *before* anything is sent.
2. **Look up**: one GET ``salesentry/SalesEntries`` per ≤ 40 YourRefs (joined with ``or``).
   A job whose entry is already there (:func:`~exactsync.push.payload.find_existing`: any live
   entry for a create, ``Reversal of entry N`` / ``Correction of entry N`` for a correction) is
   marked ``Synced`` with that entry, and nothing is posted.
3. **POST** only when absent; record ``EntryID``/``EntryNumber`` → ``Synced``.
4. A POST sent without an answer (timeout, dropped answer, 502/504) leaves the outcome unknown:
   ``unknown_at`` is committed, the reference looked up over a minute, and the job is not posted
   again until :data:`UNKNOWN_WAIT` after it. A refused connection or a 500/503 is looked up, then
   posted again. 400/403/404 are functional errors: ``Error`` at once, with Exact's message (they
   burn the hourly error budget; never hammered). After each batch one look-up verifies the posted
   entries (``verified_at``).
5. A crash or ``kill -9`` leaves jobs ``Queued``; the next run takes over those whose claimant
   process (or, in this process, whose run) is gone and starts them with step 2, so a POST that did
   land is found, not repeated. Before each POST the run checks that the claim is still its own. A
   run that stops or fails releases what it claimed and did not finish.

A 429 or an expired access token never reaches this module as a failure: the client waits for the
minute to roll over, or refreshes the token, and sends again (both mean "not processed").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

import polars as pl

from exactsync.clock import SYSTEM_CLOCK, Clock, utcnow
from exactsync.errors import EXIT_AUTH, EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, ExactsyncError
from exactsync.exact.client import ExactApiError, ExactClient
from exactsync.exact.oauth import ReauthorizationNeeded, TokenError
from exactsync.exact.ratelimit import DailyLimitReached
from exactsync.push.payload import canonical_json, find_existing, live_entries
from exactsync.push.plan import LOOKUP_BATCH, NEW_DEBTOR, Plan, debtor_keys
from exactsync.reference import normalize_reference
from exactsync.store import Store

__all__ = [
    "PushOutcome",
    "PlanError",
    "JOB_STATUSES",
    "job_statuses",
    "execute_plan",
    "execute_jobs",
    "retry_jobs",
    "list_jobs",
    "save_plan",
    "lookup_references",
]

log = logging.getLogger(__name__)
LOG_SOURCE = "push"
JOB_STATUSES = ("Pending", "Queued", "Synced", "Error")
_ENTRIES = "salesentry/SalesEntries"
_LOOKUP_SELECT = "EntryID,EntryNumber,YourRef,Description,Journal,Status,AmountFC,EntryDate"
_FUNCTIONAL = {400, 403, 404, 405}
_MAX_FILTER_CHARS = 4000  # stays well inside the 6,000-character URL limit once encoded
#: a Queued job claimed on another host is taken over after this many seconds
CLAIM_LEASE = 15 * 60
#: after a POST that got no answer (sent, outcome unknown): look-ups this many seconds apart…
UNKNOWN_LOOKUPS = (2.0, 8.0, 20.0, 30.0)
#: …and, when the entry has not appeared, no new POST of the job until this long after it (Exact may
#: still commit a request whose answer was lost)
UNKNOWN_WAIT = 10 * 60

Progress = Callable[[int, int | None, str], None]


class PlanError(ExactsyncError):
    """The plan has errors (missing mapping, blocked code, closed period): nothing was sent."""


@dataclass
class PushOutcome:
    run_id: str
    total: int = 0
    synced: int = 0
    posted: int = 0
    found_existing: int = 0
    errors: int = 0
    not_done: int = 0
    calls: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    reauth: bool = False
    #: posted, but the look-up after the POST did not show the entry under its YourRef
    unverified: int = 0
    job_ids: list[str] = field(default_factory=list)
    error_messages: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if self.reauth:
            return EXIT_AUTH
        if self.total == 0 or (self.errors == 0 and self.not_done == 0 and self.unverified == 0):
            return EXIT_OK
        if self.synced == 0:
            return EXIT_FAILURE
        return EXIT_PARTIAL

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["exit_code"] = self.exit_code
        return d


# --------------------------------------------------------------------------- persistence


def _now(clock: Clock) -> dt.datetime:
    return utcnow() if clock is SYSTEM_CLOCK else clock.now().replace(tzinfo=None)


def save_plan(store: Store, plan: Plan, *, clock: Clock = SYSTEM_CLOCK) -> list[str]:
    """Write the plan's jobs as ``Pending`` (in one transaction); returns the job ids to run.

    A job already ``Synced`` is left alone (not returned); a ``Queued`` one keeps the payload it
    may have sent (it is resumed, look-up first); ``Pending``/``Error`` ones take the new payload.
    """
    if not plan.ok:
        raise PlanError("the plan has errors, nothing was sent:\n  " + "\n  ".join(plan.errors))
    now = _now(clock)
    ids: list[str] = []
    with store.atomic() as con:
        current = {r[0]: r[1] for r in con.execute(
            "SELECT job_id, status FROM push_jobs WHERE job_id IN (SELECT unnest(?::VARCHAR[]))",
            [[j.job_id for j in plan.jobs]]).fetchall()}
        for j in plan.jobs:
            status = current.get(j.job_id)
            if status == "Synced":
                continue
            ids.append(j.job_id)
            if status == "Queued":
                continue
            payload = canonical_json(j.payload)
            if status is None:
                con.execute("""
                    INSERT INTO push_jobs (job_id, plan_id, doc_key, shop, run_id, result_key, kind,
                        reverses_entry_id, reverses_entry_number, pair_job_id, division, journal_code, your_ref,
                        description, entry_date, fin_year, fin_period, net, vat, payload, payload_hash, status,
                        attempts, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'Pending', 0, ?, ?)""",
                            [j.job_id, plan.plan_id, j.doc_key, j.shop, j.run_id, j.result_key, j.kind,
                             j.reverses_entry_id, j.reverses_entry_number, j.pair_job_id, j.division,
                             j.journal_code, j.your_ref, j.description, j.entry_date, j.fin_year, j.fin_period,
                             j.net, j.vat, payload, j.payload_hash, now, now])
            else:
                con.execute("""
                    UPDATE push_jobs SET plan_id = ?, run_id = ?, result_key = ?, pair_job_id = ?,
                        description = ?, entry_date = ?, fin_year = ?, fin_period = ?, net = ?, vat = ?,
                        payload = ?, payload_hash = ?, status = 'Pending', updated_at = ?
                    WHERE job_id = ?""",
                            [plan.plan_id, j.run_id, j.result_key, j.pair_job_id, j.description, j.entry_date,
                             j.fin_year, j.fin_period, j.net, j.vat, payload, j.payload_hash, now, j.job_id])
        Store.log_event(con, LOG_SOURCE, f"plan {plan.plan_id}: {len(ids)} job(s) saved", level="info",
                        run_id=plan.plan_id)
    return ids


def _jobs(store: Store, job_ids: Sequence[str]) -> list[dict]:
    with store.read() as con:
        cur = con.execute("SELECT * FROM push_jobs WHERE job_id IN (SELECT unnest(?::VARCHAR[]))", [list(job_ids)])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


#: a job's currency as sent (its payload's Currency; NULL: the division's), for job listings
JOB_CURRENCY_SQL = "json_extract_string(payload, '$.Currency') AS currency"


def job_statuses(names: Iterable[str]) -> list[str]:
    """Job statuses as :data:`JOB_STATUSES` spells them, from names in any case (blanks ignored);
    an unknown name raises :class:`PlanError` naming the known ones (a typo never lists "no jobs")."""
    known = {s.lower(): s for s in JOB_STATUSES}
    wanted = [n.strip() for n in names if n.strip()]
    if unknown := [n for n in wanted if n.lower() not in known]:
        raise PlanError(f"unknown job status {', '.join(map(repr, unknown))}: use {', '.join(JOB_STATUSES)}",
                        exit_code=EXIT_USAGE)
    return list(dict.fromkeys(known[n.lower()] for n in wanted))


def list_jobs(store: Store, status: str | Iterable[str] | None = None, *, run_id: str | None = None,
              plan_id: str | None = None, doc_key: str | None = None) -> pl.DataFrame:
    """Push jobs (newest first) with their status, attempts, last error and Exact ids."""
    where, params = [], []
    if status:
        where.append("status IN (SELECT unnest(?::VARCHAR[]))")
        params.append(job_statuses([status] if isinstance(status, str) else status))
    for col, val in (("run_id", run_id), ("plan_id", plan_id), ("doc_key", doc_key)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    sql = ("SELECT job_id, status, kind, doc_key, division, journal_code, your_ref, description, entry_date, "
           f"fin_year, fin_period, {JOB_CURRENCY_SQL}, net, vat, attempts, last_error, exact_entry_id, exact_entry_number, "
           "found_existing, reverses_entry_id, reverses_entry_number, pair_job_id, run_id, plan_id, "
           "created_at, queued_at, synced_at, updated_at FROM push_jobs")
    if where:
        sql += " WHERE " + " AND ".join(where)
    return store.query(sql + " ORDER BY updated_at DESC, job_id", params)


# --------------------------------------------------------------------------- Exact look-ups


def _quote(ref: str) -> str:
    return "'" + ref.replace("'", "''") + "'"


def _batches(refs: list[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    length = 0
    for ref in refs:
        term = len(ref) + 20
        if batch and (len(batch) >= size or length + term > _MAX_FILTER_CHARS):
            yield batch
            batch, length = [], 0
        batch.append(ref)
        length += term
    if batch:
        yield batch


def lookup_references(client: ExactClient, division: int, refs: Iterable[str],
                      *, batch: int = LOOKUP_BATCH) -> dict[str, list[dict]]:
    """Entries Exact holds for ``refs``: normalized reference → SalesEntries rows (≤ 40 per call)."""
    unique = sorted(set(refs))
    found: dict[str, list[dict]] = {normalize_reference(r): [] for r in unique}
    for chunk in _batches(unique, batch):
        flt = " or ".join(f"YourRef eq {_quote(r)}" for r in chunk)
        for row in client.pages(_ENTRIES, division, {"$filter": flt, "$select": _LOOKUP_SELECT}).rows():
            key = normalize_reference(row.get("YourRef"))
            if key in found:
                found[key].append(row)
    return found


# --------------------------------------------------------------------------- claims


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: the claims (host:pid:run) of the push runs going on in this process: the dashboard runs pushes
#: in its own process, so a claim of this pid is stale only when its run has ended
_LIVE_RUNS: set[str] = set()
_LIVE_LOCK = threading.Lock()


def _claim_is_stale(claimed_by: str | None, queued_at: dt.datetime | None, now: dt.datetime, me: str) -> bool:
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.split(":", 1)[0]
    if claimed_by == me:
        return True
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            with _LIVE_LOCK:
                return claimed_by not in _LIVE_RUNS
        return not _alive(pid)
    return queued_at is None or (now - queued_at).total_seconds() > CLAIM_LEASE


def _still_mine(store: Store, job: dict, me: str, clock: Clock) -> bool:
    """Right before a POST: the job is still Queued under this run's claim (no other run took it
    over, say after its lease ran out on another host), and its lease starts again now, in the same
    statement, so that no other host can take it between this check and the POST."""
    now = _now(clock)
    with store.atomic() as con:  # and the POST is in flight from now on, until its answer is recorded
        rows = con.execute("UPDATE push_jobs SET queued_at = ?, posting_at = ? WHERE job_id = ? AND status = 'Queued' "
                           "AND claimed_by = ? RETURNING job_id", [now, now, job["job_id"], me]).fetchall()
    return bool(rows)


def _taken(store: Store, job: dict) -> set[str]:
    """The Exact entries other jobs of the same reference stand for (lower-case ids)."""
    return {str(r[0]).lower() for r in store.rows(
        "SELECT exact_entry_id FROM push_jobs WHERE division = ? AND your_ref = ? AND job_id <> ? AND status = 'Synced' "
        "AND exact_entry_id IS NOT NULL", [job["division"], job["your_ref"], job["job_id"]])}


def _release(store: Store, me: str, clock: Clock) -> int:
    """The jobs this run claimed and did not finish (it stopped, or failed): back to Pending, or to
    Error when they carry an error, so that a retry in this same process takes them (a look-up first,
    as always). Returns how many."""
    now = _now(clock)
    with store.atomic() as con:
        n = con.execute("UPDATE push_jobs SET status = CASE WHEN last_error IS NULL THEN 'Pending' ELSE 'Error' END, "
                        "claimed_by = NULL, posting_at = NULL, updated_at = ? WHERE claimed_by = ? AND status = 'Queued'",
                        [now, me]).fetchall()[0][0]
    return int(n)


def _claim(store: Store, job_ids: list[str], me: str, clock: Clock) -> list[dict]:
    """Commit the jobs as Queued (ours); returns the claimed rows. Jobs being run by a live
    process elsewhere are left alone."""
    now = _now(clock)
    with store.atomic() as con:
        cur = con.execute("SELECT job_id, status, claimed_by, queued_at FROM push_jobs "
                          "WHERE job_id IN (SELECT unnest(?::VARCHAR[]))", [job_ids])
        mine = [r[0] for r in cur.fetchall()
                if r[1] in ("Pending", "Error") or (r[1] == "Queued" and _claim_is_stale(r[2], r[3], now, me))]
        if mine:
            con.execute("UPDATE push_jobs SET status = 'Queued', claimed_by = ?, queued_at = ?, updated_at = ? "
                        "WHERE job_id IN (SELECT unnest(?::VARCHAR[]))", [me, now, now, mine])
    return _jobs(store, mine) if mine else []


def _mark_synced(store: Store, job: dict, entry: dict, *, found: bool, attempts: int, clock: Clock,
                 run_id: str) -> None:
    now = _now(clock)
    number = entry.get("EntryNumber")
    with store.atomic() as con:
        con.execute("""UPDATE push_jobs SET status = 'Synced', exact_entry_id = ?, exact_entry_number = ?,
                         found_existing = ?, attempts = ?, last_error = NULL, claimed_by = NULL, synced_at = ?,
                         updated_at = ?, verified_at = CASE WHEN ? THEN ? END, posting_at = NULL WHERE job_id = ?""",
                    [entry.get("EntryID"), int(number) if number is not None else None, found, attempts, now, now,
                     found, now, job["job_id"]])
        if found:
            Store.log_event(con, LOG_SOURCE, f"{job['kind']} {job['your_ref']}: already in Exact as entry {number}; "
                            f"not posted again", level="info", record_key=job["job_id"], run_id=run_id)


def _mark_error(store: Store, job: dict, message: str, *, attempts: int, clock: Clock, run_id: str) -> None:
    now = _now(clock)
    with store.atomic() as con:
        con.execute("UPDATE push_jobs SET status = 'Error', last_error = ?, attempts = ?, claimed_by = NULL, "
                    "posting_at = NULL, updated_at = ? WHERE job_id = ?", [message[:2000], attempts, now, job["job_id"]])
        Store.log_event(con, LOG_SOURCE, f"{job['kind']} {job['your_ref']} failed: {message}", level="error",
                        record_key=job["job_id"], run_id=run_id)


def _note_unknown(store: Store, job: dict, at: dt.datetime) -> None:
    """Commit, before anything else, that a POST of ``job`` went unanswered at ``at``."""
    with store.atomic() as con:
        con.execute("UPDATE push_jobs SET unknown_at = ? WHERE job_id = ?", [at, job["job_id"]])
    job["unknown_at"] = at


def _note_attempt(store: Store, job: dict, attempts: int, message: str, clock: Clock) -> None:
    with store.atomic() as con:
        con.execute("UPDATE push_jobs SET attempts = ?, last_error = ?, posting_at = NULL, updated_at = ? WHERE job_id = ?",
                    [attempts, message[:2000], _now(clock), job["job_id"]])


# --------------------------------------------------------------------------- the run


def execute_plan(store: Store, settings: Any, plan: Plan | Sequence[str], *, client: ExactClient | None = None,
                 on_progress: Progress | None = None, clock: Clock | None = None,
                 max_attempts: int = 6) -> PushOutcome:
    """Save ``plan`` (or take existing job ids) and run the jobs; see the module docstring."""
    clock = clock or (client.clock if client is not None else SYSTEM_CLOCK)
    job_ids = save_plan(store, plan, clock=clock) if isinstance(plan, Plan) else list(plan)
    return execute_jobs(store, settings, job_ids, client=client, on_progress=on_progress, clock=clock,
                        max_attempts=max_attempts)


def retry_jobs(store: Store, settings: Any, job_ids: Sequence[str] | None = None, *,
               client: ExactClient | None = None, on_progress: Progress | None = None, clock: Clock | None = None,
               include_queued: bool = True) -> PushOutcome:
    """Run failed jobs again (all ``Error`` jobs when ``job_ids`` is None), plus — by default —
    jobs left ``Queued`` by a crashed run. Look-up first, as always."""
    if job_ids is None:
        statuses = ["Error", "Pending"] + (["Queued"] if include_queued else [])
        job_ids = list_jobs(store, statuses)["job_id"].to_list()
    else:
        known = {j["job_id"] for j in _jobs(store, job_ids)}
        unknown = [j for j in dict.fromkeys(job_ids) if j not in known]
        if unknown:
            raise ExactsyncError(f"unknown push job(s): {', '.join(unknown)} (`exactsync push jobs` lists them)",
                                 exit_code=EXIT_USAGE)
    return execute_jobs(store, settings, job_ids, client=client, on_progress=on_progress, clock=clock)


def execute_jobs(store: Store, settings: Any, job_ids: Sequence[str], *, client: ExactClient | None = None,
                 on_progress: Progress | None = None, clock: Clock | None = None,
                 max_attempts: int = 6, batch: int = LOOKUP_BATCH) -> PushOutcome:
    """Run the given push jobs (any that are not ``Synced``)."""
    clock = clock or (client.clock if client is not None else SYSTEM_CLOCK)
    own = client is None
    if client is None:
        from exactsync.exact.pull import make_client

        client = make_client(settings, store=store, clock=clock)
    run_id = uuid.uuid4().hex[:12]
    me = f"{socket.gethostname()}:{os.getpid()}:{run_id}"
    outcome = PushOutcome(run_id=run_id)
    progress = on_progress or (lambda done, total, msg: None)
    rows = [j for j in _jobs(store, job_ids) if j["status"] != "Synced"]
    order = {"reverse": 0, "create": 1, "rebook": 2}
    rows.sort(key=lambda j: (j["division"], order.get(j["kind"], 9), j["your_ref"], j["job_id"]))
    outcome.total = len(rows)
    outcome.job_ids = [j["job_id"] for j in rows]
    started = clock.monotonic()
    calls_before = sum(client.calls.values())
    runner = _Runner(store, client, clock, run_id, me, outcome, progress, max_attempts, started)
    with _LIVE_LOCK:
        _LIVE_RUNS.add(me)
    try:
        for division in sorted({j["division"] for j in rows}):
            todo = [j for j in rows if j["division"] == division]
            # reversals first: a rebook is posted only after its reversal is Synced
            for group in (["reverse"], ["create"], ["rebook"]):
                ids = [j["job_id"] for j in todo if j["kind"] in group]
                for start in range(0, len(ids), batch):
                    runner.run_batch(division, ids[start:start + batch])
    except ReauthorizationNeeded as e:
        outcome.reauth = True
        outcome.stopped = str(e)
    except DailyLimitReached as e:
        outcome.stopped = str(e)
    except ExactApiError as e:
        # a look-up that failed even after the client's retries: Exact is not answering. The
        # claimed jobs are resumed (look-up first) by the next run or retry.
        outcome.stopped = f"Exact is not answering look-ups, stopped: {e}"
    except TokenError as e:  # the token endpoint failed: nothing more can be sent now
        outcome.stopped = str(e)
    finally:
        _release(store, me, clock)
        with _LIVE_LOCK:
            _LIVE_RUNS.discard(me)
        outcome.calls = sum(client.calls.values()) - calls_before
        outcome.seconds = round(clock.monotonic() - started, 3)
        if own:
            client.close()
    final = _jobs(store, outcome.job_ids)
    outcome.synced = sum(1 for j in final if j["status"] == "Synced")
    outcome.errors = sum(1 for j in final if j["status"] == "Error")
    outcome.not_done = outcome.total - outcome.synced - outcome.errors
    outcome.error_messages = {j["job_id"]: j["last_error"] for j in final if j["status"] == "Error"}
    with store.atomic() as con:
        Store.log_event(
            con, LOG_SOURCE,
            f"push run {run_id}: {outcome.synced}/{outcome.total} synced ({outcome.posted} posted, "
            f"{outcome.found_existing} found in Exact), {outcome.errors} error(s), {outcome.not_done} not done, "
            f"{outcome.calls} call(s)" + (f"; stopped: {outcome.stopped}" if outcome.stopped else ""),
            level="info" if outcome.exit_code == EXIT_OK else "warning", run_id=run_id,
        )
    return outcome


class _Runner:
    def __init__(self, store: Store, client: ExactClient, clock: Clock, run_id: str, me: str, outcome: PushOutcome,
                 progress: Progress, max_attempts: int, started: float) -> None:
        self.store, self.client, self.clock = store, client, clock
        self.run_id, self.me, self.outcome = run_id, me, outcome
        self.progress, self.max_attempts, self.started = progress, max_attempts, started
        self.done = 0

    def _report(self, job: dict, what: str) -> None:
        self.done += 1
        elapsed = max(1e-9, self.clock.monotonic() - self.started)
        rate = self.done / elapsed
        left = self.outcome.total - self.done
        eta = f", ETA {left / rate / 60:.1f} min" if rate > 0 and left else ""
        self.progress(self.done, self.outcome.total, f"{what} {job['your_ref']}{eta}")

    def run_batch(self, division: int, job_ids: list[str]) -> None:
        jobs = _claim(self.store, job_ids, self.me, self.clock)
        if not jobs:
            return
        existing = lookup_references(self.client, division, [j["your_ref"] for j in jobs])
        self.posted_now: list[tuple[dict, dict]] = []
        try:
            for job in jobs:
                self.run_job(division, job, existing)
        finally:
            self.verify(division, self.posted_now)

    def verify(self, division: int, posted: list[tuple[dict, dict]]) -> None:
        """After the batch's POSTs: one look-up of their references, which must show each entry
        under its YourRef (what every later run looks for before posting). Each is stamped
        ``verified_at``; one that does not show is a warning, and the run a partial success."""
        if not posted:
            return
        try:
            seen = lookup_references(self.client, division, [j["your_ref"] for j, _e in posted])
        except ExactApiError as e:
            with self.store.atomic() as con:
                Store.log_event(con, LOG_SOURCE, f"{len(posted)} posted entr(y/ies) not verified: the look-up after "
                                f"the POSTs failed ({e}); the next run looks them up before posting",
                                level="warning", run_id=self.run_id)
            self.outcome.unverified += len(posted)
            return
        now = _now(self.clock)
        with self.store.atomic() as con:
            for job, entry in posted:
                ids = {str(e.get("EntryID") or "").lower() for e in seen.get(normalize_reference(job["your_ref"]), [])}
                if str(entry.get("EntryID") or "").lower() in ids:
                    con.execute("UPDATE push_jobs SET verified_at = ? WHERE job_id = ?", [now, job["job_id"]])
                    continue
                self.outcome.unverified += 1
                Store.log_event(con, LOG_SOURCE, f"{job['kind']} {job['your_ref']}: posted as entry "
                                f"{entry.get('EntryNumber')}, but a look-up right after does not show it under "
                                f"YourRef {job['your_ref']}; check the entry in Exact before pushing it again",
                                level="warning", record_key=job["job_id"], run_id=self.run_id)

    def run_job(self, division: int, job: dict, existing: dict[str, list[dict]]) -> None:
        key = normalize_reference(job["your_ref"])
        attempts = int(job["attempts"] or 0)
        # a rebook's own pair (the entry it corrects and its reversal) is no booking of the document
        mine = {str(job.get("reverses_entry_id") or "").lower()}
        if job["kind"] == "rebook" and job["pair_job_id"]:
            pair = _jobs(self.store, [job["pair_job_id"]])
            if pair:
                mine.add(str(pair[0].get("exact_entry_id") or "").lower())
            if pair and pair[0]["status"] != "Synced":
                _mark_error(self.store, job, f"not posted: its reversal (job {job['pair_job_id']}) is not synced",
                            attempts=attempts, clock=self.clock, run_id=self.run_id)
                self._report(job, "waiting")
                return
        payload = json.loads(job["payload"], parse_float=Decimal)
        if str(payload.get("Customer", "")).startswith(NEW_DEBTOR):
            try:
                payload["Customer"] = self.ensure_debtor(division, job, payload)
            except _JobFailed as e:
                _mark_error(self.store, job, str(e), attempts=attempts, clock=self.clock, run_id=self.run_id)
                self._report(job, "failed")
                return
        job["_taken"] = _taken(self.store, job) if job["kind"] == "reverse" else set()
        tries = 0
        while True:
            hit = self._found(job, key, existing)
            if hit is not None:
                _mark_synced(self.store, job, hit, found=True, attempts=attempts, clock=self.clock,
                             run_id=self.run_id)
                self.outcome.found_existing += 1
                self._report(job, "found")
                return
            live = [e for e in live_entries(existing.get(key, [])) if str(e.get("EntryID") or "").lower() not in mine]
            if job["kind"] == "rebook" and live:
                # the document is booked again since the correction was planned (an entry pushed as
                # missing after the reversal, a reversal of one of several entries still to come, or
                # a correction whose Description was edited): a rebook now would book it twice
                numbers = ", ".join(str(e.get("EntryNumber")) for e in live)
                _mark_error(self.store, job, f"not posted: Exact holds live entry {numbers} for {job['your_ref']}; "
                            "reconcile again to see what is left to correct", attempts=attempts, clock=self.clock,
                            run_id=self.run_id)
                self._report(job, "failed")
                return
            if tries == 0 and job.get("posting_at") is not None:
                # its run died while posting it (a crash, kill -9): Exact may still be booking it
                hit = self._settle(division, job, key, existing)
                job["posting_at"] = None
                if hit is not None:
                    continue  # found: Synced at the top of the loop
            if tries == 0 and job.get("unknown_at") is not None:
                until = job["unknown_at"] + dt.timedelta(seconds=UNKNOWN_WAIT)
                if _now(self.clock) < until:
                    _mark_error(self.store, job, f"not posted again yet: a POST at {job['unknown_at']:%Y-%m-%d %H:%M:%S} "
                                f"UTC got no answer and Exact may still book it; no entry with YourRef {job['your_ref']} "
                                f"so far. A retry from {until:%H:%M} UTC posts it if none has appeared",
                                attempts=attempts, clock=self.clock, run_id=self.run_id)
                    self._report(job, "waiting")
                    return
            if tries >= self.max_attempts:
                _mark_error(self.store, job, f"gave up after {tries} attempt(s) in this run: {job.get('_last')}",
                            attempts=attempts, clock=self.clock, run_id=self.run_id)
                self._report(job, "failed")
                return
            if not _still_mine(self.store, job, self.me, self.clock):
                self._report(job, "taken over")  # another run has it now (and looks it up first)
                return
            tries += 1
            attempts += 1
            try:
                data = self.client.post(_ENTRIES, division, payload)
            except ExactApiError as e:
                message = e.message or str(e)
                job["_last"] = message
                if e.status in _FUNCTIONAL:
                    _mark_error(self.store, job, message, attempts=attempts, clock=self.clock, run_id=self.run_id)
                    self._report(job, "failed")
                    return
                # No answer, or a 5xx: the entry may or may not exist. Look before posting again.
                _note_attempt(self.store, job, attempts, message, self.clock)
                log.info("push %s %s: %s; looking it up before any retry", job["kind"], job["your_ref"], message)
                if e.status is not None and e.status >= 500 and _validation(message):
                    # A business validation answer (reference §6.2: never auto-retried). One look-up
                    # makes sure nothing landed, then the job is an Error with Exact's message.
                    existing.update(lookup_references(self.client, division, [job["your_ref"]]))
                    if self._found(job, key, existing) is None:
                        _mark_error(self.store, job, message, attempts=attempts, clock=self.clock,
                                    run_id=self.run_id)
                        self._report(job, "failed")
                        return
                    continue
                if (e.status is None and e.sent) or e.status in (502, 504):
                    # Sent, and no answer (or a gateway's): Exact may have booked it, or may still
                    # book it. Committed first; then looked up a few times; never posted again in
                    # this run on the strength of one early look-up.
                    _note_unknown(self.store, job, _now(self.clock))
                    hit = self._settle(division, job, key, existing)
                    if hit is not None:
                        continue  # found: Synced at the top of the loop
                    until = job["unknown_at"] + dt.timedelta(seconds=UNKNOWN_WAIT)
                    _mark_error(self.store, job, f"Exact did not answer the POST ({message}); no entry with YourRef "
                                f"{job['your_ref']} appeared in {sum(UNKNOWN_LOOKUPS):.0f} s. Not sent again in this "
                                f"run: a retry looks it up first, and posts it from {until:%Y-%m-%d %H:%M} UTC if it "
                                "has not appeared", attempts=attempts, clock=self.clock, run_id=self.run_id)
                    self._report(job, "unknown")
                    return
                if e.status is None or e.status >= 500:
                    self.clock.sleep(min(30.0, 0.5 * 2 ** (tries - 1)))
                existing.update(lookup_references(self.client, division, [job["your_ref"]]))
                continue
            entry = (data or {}).get("d") if isinstance(data, dict) else None
            if isinstance(entry, dict) and isinstance(entry.get("results"), list):
                entry = entry["results"][0] if entry["results"] else None
            if not isinstance(entry, dict) or not entry.get("EntryID"):
                # Created, but we cannot tell which entry: the next look-up will tell.
                existing.update(lookup_references(self.client, division, [job["your_ref"]]))
                continue
            _mark_synced(self.store, job, entry, found=False, attempts=attempts, clock=self.clock,
                         run_id=self.run_id)
            existing.setdefault(key, []).append(entry)
            self.posted_now.append((job, entry))
            self.outcome.posted += 1
            self._report(job, "posted")
            return


    @staticmethod
    def _found(job: dict, key: str, existing: dict[str, list[dict]]) -> dict | None:
        """The entry among the looked-up ones that ``job`` already produced (find_existing), or None."""
        return find_existing(job["kind"], job["your_ref"], job["reverses_entry_number"], existing.get(key, []),
                             job["_taken"])

    def _settle(self, division: int, job: dict, key: str, existing: dict[str, list[dict]]) -> dict | None:
        """Look ``job``'s reference up a few times (:data:`UNKNOWN_LOOKUPS` apart) after a POST whose
        outcome is unknown; the entry it produced, or None."""
        for wait in UNKNOWN_LOOKUPS:
            self.clock.sleep(wait)
            existing.update(lookup_references(self.client, division, [job["your_ref"]]))
            hit = self._found(job, key, existing)
            if hit is not None:
                return hit
        return None

    def ensure_debtor(self, division: int, job: dict, payload: dict) -> str:
        """The Exact account of the document's own debtor: found, or created once.

        Known (``push_debtors``) → used. Else looked up in Exact by VAT number, then e-mail (a
        debtor created by a run that died before recording it is found, not created again).
        Else POSTed to ``crm/Accounts`` as a customer (``Status`` C); an answer that never comes
        (timeout, dropped, 5xx) is followed by the same look-up before any new POST, so the
        debtor exists once whatever the network does. Raises :class:`_JobFailed` with the reason.
        """
        doc_key = payload["Customer"][len(NEW_DEBTOR):]
        with self.store.read() as con:
            cur = con.execute("SELECT * FROM shop_documents WHERE doc_key = ?", [doc_key])
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        if not rows:
            raise _JobFailed(f"document {doc_key} is gone; cannot find or create its debtor")
        doc = rows[0]
        vat_key, email_key = debtor_keys(doc)
        key = vat_key or email_key
        if key is None:
            raise _JobFailed(f"document {doc_key} has neither a VAT number nor an e-mail address to find its debtor by")
        known = self.store.rows("SELECT account_id FROM push_debtors WHERE division = ? AND match_key = ?",
                                [division, key])
        if known:
            account_id = known[0][0]
        else:
            account_id = self._find_or_create_debtor(division, doc, key)
        payload["Customer"] = account_id
        with self.store.atomic() as con:
            con.execute("UPDATE push_jobs SET payload = ?, updated_at = ? WHERE job_id = ?",
                        [canonical_json(payload), _now(self.clock), job["job_id"]])
        return account_id

    def _find_debtor(self, division: int, doc: dict) -> dict | None:
        """The customer Exact holds with the document's VAT number, else its e-mail (None: none)."""
        other: tuple[str, str, dict] | None = None
        for field_, value in (("VATNumber", doc.get("vat_number")), ("Email", doc.get("customer_email"))):
            value = (value or "").strip()
            if not value:
                continue
            hits = [r for r in self.client.pages("crm/Accounts", division, {
                "$filter": f"{field_} eq {_quote(value)}", "$select": "ID,Code,Name,Status,Blocked"}).rows()
                if not r.get("Blocked")]
            if not hits:
                continue
            customers = sorted((r for r in hits if (r.get("Status") or "") == "C"),
                               key=lambda r: (r.get("Code") or "").strip().rjust(18))
            if customers:
                return customers[0]
            other = other or (field_, value, hits[0])
        if other is not None:
            field_, value, acc = other
            raise _JobFailed(f"account {(acc.get('Code') or '').strip()} ({acc.get('Name')}) has {field_} {value} "
                             f"in division {division} but is not a customer (status {acc.get('Status')!r}); make it "
                             f"a customer in Exact, then retry")
        return None

    def _record_debtor(self, division: int, key: str, row: dict, created: bool) -> str:
        account_id = row.get("ID")
        if not account_id:
            raise _JobFailed("Exact did not return an ID for the debtor")
        with self.store.atomic() as con:
            con.execute("INSERT OR REPLACE INTO push_debtors VALUES (?, ?, ?, ?, ?, ?)",
                        [division, key, account_id, (row.get("Code") or "").strip() or None, created,
                         _now(self.clock)])
            if created:
                Store.log_event(con, LOG_SOURCE, f"created debtor {(row.get('Code') or '').strip()} "
                                f"({row.get('Name')}) in division {division}", level="info", run_id=self.run_id)
        return account_id

    def _find_or_create_debtor(self, division: int, doc: dict, key: str) -> str:
        found = self._find_debtor(division, doc)
        if found is not None:
            return self._record_debtor(division, key, found, created=False)
        body: dict[str, Any] = {"Name": (doc.get("company") or doc.get("customer_name") or
                                         doc.get("customer_email") or doc.get("vat_number") or "")[:50],
                                "Status": "C"}
        # the country the reconciliation checks the account against: the VAT country, else billing
        for field_, value in (("Email", doc.get("customer_email")), ("VATNumber", doc.get("vat_number")),
                              ("Country", doc.get("vat_country") or doc.get("billing_country"))):
            if value and str(value).strip():
                body[field_] = str(value).strip()
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                data = self.client.post("crm/Accounts", division, body)
            except ExactApiError as e:
                last = e.message or str(e)
                if e.status in _FUNCTIONAL or (e.status is not None and e.status >= 500 and _validation(last)):
                    made = None if e.status in _FUNCTIONAL else self._created_meanwhile(division, doc, key)
                    if made is not None:
                        return made
                    raise _JobFailed(f"could not create the debtor: {last}") from None
                # the account may or may not exist now: look before posting again
                log.info("debtor POST for %s: %s; looking it up before any retry", key, last)
                if e.status is None or e.status >= 500:
                    self.clock.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
                made = self._created_meanwhile(division, doc, key)
                if made is not None:
                    return made
                continue
            row = (data or {}).get("d") if isinstance(data, dict) else None
            if isinstance(row, dict) and row.get("ID"):
                return self._record_debtor(division, key, row, created=True)
            made = self._created_meanwhile(division, doc, key)
            if made is not None:
                return made
        raise _JobFailed(f"gave up creating the debtor after {self.max_attempts} attempt(s): {last}")

    def _created_meanwhile(self, division: int, doc: dict, key: str) -> str | None:
        """After a POST whose outcome is not known: the debtor if Exact has it now, recorded as created."""
        found = self._find_debtor(division, doc)
        return None if found is None else self._record_debtor(division, key, found, created=True)


class _JobFailed(Exception):
    """A job cannot go on (its debtor cannot be found or created); the message says why."""


_TRANSIENT_WORDS = ("temporarily", "unavailable", "timeout", "time-out", "try again", "service", "internal server",
                    "overloaded", "maintenance")


def _validation(message: str) -> bool:
    """A 5xx that carries a business validation message (reference §6.2: "Mandatory: …",
    "Invalid: …", "Already processed"), not an outage (empty, or worded as one)."""
    text = (message or "").lower()
    return bool(text) and not any(w in text for w in _TRANSIENT_WORDS)
