"""Plan a push: reconciliation results in, push jobs with full payloads out. Nothing is sent.

For each selected result:

* ``missing_in_exact`` → one ``create`` job (a sales entry; a credit note for a refund);
* ``amount_differs`` / ``vat_differs`` / ``customer_differs`` / ``currency_differs`` → a
  correction: one ``reverse`` job per live booked entry of the reference plus one ``rebook`` job
  (the correct entry), linked to each other (``pair_job_id``) and to the document;
* ``duplicated_in_exact`` → a ``reverse`` job for every extra entry (the proposed fix; nothing is
  ever deleted).

Any unknown or blocked code, missing mapping or closed period stops the plan: ``Plan.errors``
names it and :func:`~exactsync.push.execute.execute_plan` refuses a plan with errors.

Closed periods: an entry is dated like its document (a reversal like the entry it reverses). When
that period is closed for the journal, ``closed_period_date`` (CLI ``--closed-period-date``) books
the job on that date instead, which must fall in an open period (the reference's advice: a reversal
or correction in an open period, never an edit); ``Plan.moved`` lists every job it moved. Without it
the plan refuses, naming the period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Iterable, Sequence

import polars as pl

from exactsync.clock import SYSTEM_CLOCK, Clock
from exactsync.errors import EXIT_USAGE, ExactsyncError
from exactsync.mapping import Mappings, load_mappings
from exactsync.reconcile.constants import STATUS_ALIASES as RECONCILE_ALIASES, parse_statuses
from exactsync.money import ZERO, to_cents
from exactsync.push.payload import (
    EntryDraft,
    build_document_entry,
    build_reversal,
    correction_description,
    live_entries,
    payload_hash,
    payload_of,
)
from exactsync.reference import normalize_reference, reference_for

__all__ = [
    "Target",
    "PlannedJob",
    "Plan",
    "plan_push",
    "plan_targets",
    "load_targets",
    "target_runs",
    "missing_targets",
    "PushPlanError",
    "push_statuses",
    "job_id_for",
    "STATUS_ALIASES",
    "PUSHABLE_STATUSES",
    "LOOKUP_BATCH",
    "NEW_DEBTOR",
    "current_headroom",
    "debtor_keys",
    "format_eta",
]

CORRECTABLE = ("amount_differs", "vat_differs", "customer_differs", "currency_differs")
PUSHABLE_STATUSES = ("missing_in_exact", "duplicated_in_exact", *CORRECTABLE)
#: the short names of the statuses push acts on (``--status missing,amount``)
STATUS_ALIASES = {k: v for k, v in RECONCILE_ALIASES.items() if v in PUSHABLE_STATUSES}
#: YourRefs per lookup call (reference §9.2: ~40 with ``or``, within the 6,000-char URL limit).
LOOKUP_BATCH = 40
#: placeholder Customer of a payload whose debtor is created (look-up first) when executing
NEW_DEBTOR = "new-debtor:"
_SQL_NORM = r"regexp_replace(upper(regexp_replace(coalesce(your_ref, ''), '\s+', '', 'g')), '^(.*?)0*(\d+)$', '\1\2')"


class PushPlanError(ExactsyncError):
    """The selection cannot be planned (e.g. a period that is not a month, a year or a range)."""

    exit_code = EXIT_USAGE


_FIXES = f"push fixes: missing, amount, vat, duplicated, customer, currency (or {', '.join(PUSHABLE_STATUSES)})"


def push_statuses(statuses: Iterable[str] | None, *, pushable_only: bool = True) -> list[str]:
    """The reconciliation statuses named by ``statuses`` (short names such as ``missing`` or
    identifiers, any case; blanks ignored); [] for none. Unknown names raise :class:`PushPlanError`,
    and so, with ``pushable_only``, do statuses push does not act on (asked by status, they would
    only list every such row as skipped)."""
    wanted, unknown = parse_statuses(statuses, STATUS_ALIASES)
    if unknown:
        raise PushPlanError(f"unknown status {', '.join(map(repr, unknown))}; {_FIXES}")
    if pushable_only and (kept := [s for s in wanted if s not in PUSHABLE_STATUSES]):
        raise PushPlanError(f"push does not correct {', '.join(kept)} (a draft is processed in Exact, an entry "
                            f"booked in another period or only in Exact is looked at there); {_FIXES}")
    return wanted


@dataclass
class Target:
    """One reconciliation result selected for pushing."""

    doc_key: str | None
    status: str
    run_id: str | None = None
    result_key: str | None = None


@dataclass
class PlannedJob:
    job_id: str
    kind: str  # create | reverse | rebook
    division: int
    journal_code: str
    your_ref: str
    description: str
    entry_date: dt.date
    fin_year: int | None
    fin_period: int | None
    net: Decimal
    vat: Decimal
    payload: dict[str, Any]
    payload_hash: str
    doc_key: str | None = None
    shop: str | None = None
    run_id: str | None = None
    result_key: str | None = None
    reverses_entry_id: str | None = None
    reverses_entry_number: int | None = None
    pair_job_id: str | None = None
    existing_status: str | None = None  # status of the same job in push_jobs, if any
    debtor_key: str | None = None  # vat:… / email:… of a debtor to find or create when executing
    lines: list[dict] = field(default_factory=list)  # for the effect table: period, country, vat_code, net, vat

    @property
    def currency(self) -> str | None:
        """The entry's currency as sent (its lines'; None: the division's, when the payload names none)."""
        found = {ln.get("currency") for ln in self.lines if ln.get("currency")}
        return found.pop() if len(found) == 1 else self.payload.get("Currency")

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "lines"}
        d["currency"] = self.currency
        return d


@dataclass
class Plan:
    plan_id: str
    jobs: list[PlannedJob] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (doc_key or ref, reason)
    #: duplicates found in Exact: doc_key, your_ref, the entry kept, the entries proposed for reversal
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    lookups: int = 0
    posts: int = 0
    #: debtors to find in Exact (by VAT number, then e-mail) and create if absent
    new_debtors: int = 0
    #: their calls at most: one look-up per key the document has, plus one POST
    debtor_calls: int = 0
    minutely_limit: int = 60
    #: calls left in the current clock minute per division (absent = a fresh minute)
    minutely_remaining: int | None = None
    #: seconds until the current clock minute resets
    reset_in: float = 60.0
    calls_by_division: dict[int, int] = field(default_factory=dict)
    remaining_by_division: dict[int, int | None] = field(default_factory=dict)
    #: the date for jobs whose own period is closed (None: such jobs are refused)
    closed_period_date: dt.date | None = None
    #: jobs booked on ``closed_period_date``: job_id, kind, your_ref, the closed period, the new date
    moved: list[dict[str, Any]] = field(default_factory=list)
    #: YourRefs of documents with a VAT number whose new entry goes to a collective debtor
    collective_b2b: list[str] = field(default_factory=list)
    #: creates pushed before whose entry has been removed in Exact since: pushed again (job_id, your_ref, entry_number)
    removed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def collective_b2b_note(self) -> str | None:
        """A warning when B2B documents go to a collective debtor (None: none do)."""
        if not self.collective_b2b:
            return None
        refs = ", ".join(self.collective_b2b[:5]) + (" …" if len(self.collective_b2b) > 5 else "")
        return (f"{len(self.collective_b2b)} document(s) with a VAT number go to their country's collective debtor "
                f"({refs}): Exact's EU sales listing needs the customer's VAT number, and the next reconciliation "
                f"reports them as customer_differs. To book them on their own account, set the debtor strategy to "
                f"lookup (and create debtors) under Mappings → Journal & debtors")

    @property
    def moved_note(self) -> str | None:
        """One sentence on the jobs booked on ``closed_period_date`` (None: none were)."""
        if not self.moved:
            return None
        closed = ", ".join(sorted({m["closed_period"] for m in self.moved}))
        return f"{len(self.moved)} job(s) dated {self.closed_period_date}: their own period is closed ({closed})"

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def calls(self) -> int:
        return self.lookups + self.posts + self.debtor_calls

    @property
    def eta_seconds(self) -> float:
        """Time the calls take at the current headroom: the minute budget is the bottleneck.

        Per division (each has its own budget; divisions run one after the other): calls within
        what is left of this minute go at once, the rest ``minutely_limit`` per clock minute
        after the reset. HTTP time itself is not counted.
        """
        per_div = self.calls_by_division or ({0: self.calls} if self.calls else {})
        total = 0.0
        for div, calls in per_div.items():
            remaining = self.remaining_by_division.get(div, self.minutely_remaining)
            free = self.minutely_limit if remaining is None else max(0, remaining)
            if calls > free:
                minutes = math.ceil((calls - free) / max(1, self.minutely_limit))
                total += self.reset_in + 60.0 * (minutes - 1)
        return round(total, 1)

    def _totals(self, keys: tuple[str, ...], amounts: tuple[str, ...]) -> list[tuple[tuple, int, list]]:
        """(key, jobs, sums of ``amounts``) per distinct ``keys`` of the lines of jobs still to post."""
        acc: dict[tuple, list] = {}
        for ln in (ln for j in self.jobs if j.existing_status != "Synced" for ln in j.lines):
            a = acc.setdefault(tuple(ln.get(k) or "" for k in keys), [set(), *(ZERO for _ in amounts)])
            a[0].add(ln["job_id"])
            for i, k in enumerate(amounts, 1):
                a[i] += ln[k]
        return [(k, len(v[0]), v[1:]) for k, v in sorted(acc.items())]

    def effect(self) -> pl.DataFrame:
        """Net and VAT the plan adds, per period, country, VAT code and currency (sales sign; in the
        entries' own currency, so amounts of different currencies are never added together)."""
        schema = {"period": pl.String, "country": pl.String, "vat_code": pl.String, "currency": pl.String,
                  "jobs": pl.Int64, "net": pl.Decimal(18, 2), "vat": pl.Decimal(18, 2)}
        data = [{"period": k[0], "country": k[1], "vat_code": k[2], "currency": k[3] or None, "jobs": n,
                 "net": net, "vat": vat}
                for k, n, (net, vat) in self._totals(("period", "country", "vat_code", "currency"), ("net", "vat"))]
        return pl.DataFrame(data, schema=schema, orient="row")

    def revenue(self) -> pl.DataFrame:
        """Net the plan books per period, revenue G/L account and currency (sales sign): where the
        turnover lands, beside :meth:`effect`'s VAT view."""
        schema = {"period": pl.String, "gl_code": pl.String, "currency": pl.String, "jobs": pl.Int64,
                  "net": pl.Decimal(18, 2)}
        data = [{"period": k[0], "gl_code": k[1] or None, "currency": k[2] or None, "jobs": n, "net": net}
                for k, n, (net,) in self._totals(("period", "gl_code", "currency"), ("net",))]
        return pl.DataFrame(data, schema=schema, orient="row")

    def jobs_frame(self) -> pl.DataFrame:
        cols = ["job_id", "kind", "doc_key", "division", "your_ref", "description", "entry_date", "fin_year",
                "fin_period", "currency", "net", "vat", "reverses_entry_number", "pair_job_id", "existing_status"]
        rows = [{c: getattr(j, c) for c in cols} for j in self.jobs]
        schema = {"job_id": pl.String, "kind": pl.String, "doc_key": pl.String, "division": pl.Int64,
                  "your_ref": pl.String, "description": pl.String, "entry_date": pl.Date, "fin_year": pl.Int64,
                  "fin_period": pl.Int64, "currency": pl.String, "net": pl.Decimal(18, 2), "vat": pl.Decimal(18, 2),
                  "reverses_entry_number": pl.Int64, "pair_job_id": pl.String, "existing_status": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id, "ok": self.ok, "errors": self.errors,
            "skipped": [{"key": k, "reason": r} for k, r in self.skipped],
            "duplicates": self.duplicates,
            "jobs": [j.as_dict() for j in self.jobs],
            "effect": self.effect().to_dicts(),
            "revenue": self.revenue().to_dicts(),
            "calls": {"lookups": self.lookups, "posts": self.posts, "debtors": self.debtor_calls,
                      "total": self.calls},
            "eta_seconds": self.eta_seconds,
            "closed_period_date": self.closed_period_date.isoformat() if self.closed_period_date else None,
            "moved": self.moved,
            "collective_b2b": self.collective_b2b,
            "removed": self.removed,
        }

    def summary(self) -> str:
        kinds = defaultdict(int)
        for j in self.jobs:
            kinds[j.kind if j.existing_status != "Synced" else "already synced"] += 1
        lines = [f"Plan {self.plan_id}: {len(self.jobs)} job(s) " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                 if self.jobs else f"Plan {self.plan_id}: nothing can be pushed until the errors below are fixed"
                 if self.errors else f"Plan {self.plan_id}: nothing to push (no selected difference needs an entry)"]
        for e in self.errors:
            lines.append(f"  ERROR {e}")
        if self.skipped:
            lines.append(f"  {len(self.skipped)} result(s) skipped:")
            for key, why in self.skipped[:20]:
                lines.append(f"    {key}: {why}")
            if len(self.skipped) > 20:
                lines.append(f"    … and {len(self.skipped) - 20} more")
        if self.duplicates:
            lines.append(f"  {len(self.duplicates)} document(s) booked more than once in Exact (nothing is deleted; "
                         f"each extra entry gets a proposed reversal):")
            for d in self.duplicates[:20]:
                extra = ", ".join(str(n) for n in d["reversed"])
                lines.append(f"    {d['your_ref']}: entries {d['kept']}, {extra}; keep {d['kept']}, "
                             f"reverse {extra}")
            if len(self.duplicates) > 20:
                lines.append(f"    … and {len(self.duplicates) - 20} more")
        if self.moved_note:
            lines.append(f"  {self.moved_note}")
        if self.removed:
            refs = ", ".join(f"{r['your_ref']} (entry {r['entry_number']})" for r in self.removed[:5])
            lines.append(f"  {len(self.removed)} entr(y/ies) pushed before have been removed in Exact since and are "
                         f"pushed again: {refs}" + (" …" if len(self.removed) > 5 else ""))
        if self.collective_b2b_note:
            lines.append(f"  WARNING {self.collective_b2b_note}")
        from exactsync.labels import text_table
        from exactsync.views.base import fmt_money  # the amounts as `reconcile` shows them: 1,043.65

        def money(value: Any) -> str:
            return fmt_money(value, "")

        def cell(column: str, value: Any) -> str:
            if column in ("net", "vat"):
                return money(value)
            if column == "jobs":
                return f"{value:,}"
            return value or ("--" if column == "country" else "-")  # no country: a line without one

        for heading, frame, columns in (
                ("Effect on Exact (net / VAT) per period, country, VAT code, currency", self.effect(),
                 ("period", "country", "vat_code", "currency", "net", "vat", "jobs")),
                ("Revenue booked (net) per period, G/L account, currency", self.revenue(),
                 ("period", "gl_code", "currency", "net", "jobs"))):
            if frame.height:
                lines.append(f"  {heading}:")
                lines += text_table(columns, ([cell(c, r[c]) for c in columns] for r in frame.iter_rows(named=True)),
                                    right=("net", "vat", "jobs"), indent="    ")
        debtors = f" + ≤ {self.debtor_calls} for {self.new_debtors} new debtor(s)" if self.new_debtors else ""
        left = ", ".join(f"{'a fresh minute' if r is None else f'{r} left this minute'}"
                         for r in self.remaining_by_division.values()) or "a fresh minute"
        lines.append(f"  API calls: {self.lookups} look-up(s) + {self.posts} POST(s){debtors} = {self.calls}; "
                     f"ETA ≈ {format_eta(self.eta_seconds)} at {self.minutely_limit}/min ({left})")
        if self.jobs:
            # a table of its own, below the calls line: the currency beside the amounts (a currency
            # correction reverses in one and rebooks in another); "Already pushed" only when a job was
            shown = self.jobs[:50]
            columns = ["kind", "your_ref", "entry_date", "currency", "net", "vat", "description"]
            if any(j.existing_status for j in shown):
                columns.append("existing_status")
            lines += ["", f"  Jobs ({len(self.jobs)}):"]
            lines += text_table(columns, ([j.kind, j.your_ref, j.entry_date.isoformat(), j.currency or "", money(j.net),
                                           money(j.vat), j.description, j.existing_status or ""][:len(columns)]
                                          for j in shown), right=("net", "vat"), indent="    ")
            if len(self.jobs) > 50:
                lines.append(f"    … and {len(self.jobs) - 50} more job(s)")
        return "\n".join(lines)


def format_eta(seconds: float) -> str:
    if seconds <= 0:
        return "no wait"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def current_headroom(store: Any, division: int, clock: Clock | None = None) -> int | None:
    """Calls left in the current clock minute for ``division`` as Exact last reported it (the
    ``api_calls`` log: the lowest count reported this minute), or None when no call was made this
    minute (a fresh minute). Makes no call."""
    clock = clock or SYSTEM_CLOCK
    now = clock.time()
    minute_start = dt.datetime.fromtimestamp(now - now % 60, dt.timezone.utc).replace(tzinfo=None)
    left = store.scalar("SELECT min(rate_minutely_remaining) FROM api_calls WHERE system = 'exact' AND scope = ? "
                        "AND called_at >= ? AND called_at < ? + INTERVAL 1 MINUTE",
                        [str(division), minute_start, minute_start])
    return None if left is None else int(left)


def job_id_for(division: int, kind: str, your_ref: str, reverses_entry_id: str | None = None) -> str:
    """Deterministic: the same intent (division, kind, reference, entry) is the same job."""
    raw = f"{division}|{kind}|{normalize_reference(your_ref)}|{reverses_entry_id or ''}"
    return f"{kind[:3]}-{hashlib.sha1(raw.encode('utf-8')).hexdigest()[:16]}"


# --------------------------------------------------------------------------- targets


def _months(period: str | None) -> list[str] | None:
    """The months of ``YYYY-MM``, ``YYYY`` or ``YYYY-MM..YYYY-MM`` (None = no period given)."""
    if not period:
        return None
    p = period.strip()
    lo, _, hi = p.partition("..")
    lo, hi = lo.strip(), (hi or lo).strip()
    if len(lo) == 4:
        lo += "-01"
    if len(hi) == 4:
        hi += "-12"
    try:
        y, m = (int(x) for x in lo.split("-"))
        y2, m2 = (int(x) for x in hi.split("-"))
        if not (1 <= m <= 12 and 1 <= m2 <= 12 and len(lo) == len(hi) == 7):
            raise ValueError
    except ValueError:
        raise PushPlanError(f"period {period!r} is not YYYY-MM, YYYY or YYYY-MM..YYYY-MM") from None
    if (y, m) > (y2, m2):
        raise PushPlanError(f"period {period!r} ends before it starts: write the earlier month first")
    out = []
    while (y, m) <= (y2, m2) and len(out) < 1200:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def target_runs(store: Any, run_id: str | None = None, *, period: str | None = None,
                shop: str | None = None) -> list[Any]:
    """The reconciliation runs to take results from: ``run_id``, else the latest run of each month
    of ``period`` (months never reconciled are left out), else the latest run."""
    from exactsync.reconcile import latest_run, load_run

    if run_id is not None:
        return [load_run(store, run_id)]
    months = _months(period)
    if months is None:
        run = latest_run(store, shop=shop)
        return [run] if run is not None else []
    runs = [latest_run(store, month, shop=shop) for month in months]
    return [r for r in runs if r is not None]


def load_targets(
    store: Any,
    run_id: str | None = None,
    *,
    result_keys: Sequence[str] | None = None,
    statuses: Iterable[str] | None = None,
    period: str | None = None,
    shop: str | None = None,
) -> list[Target]:
    """Pushable results of reconciliation runs (see :func:`target_runs`), read through the
    reconciliation's public API (``exactsync.reconcile.differences``).

    ``statuses`` (aliases such as ``missing``, ``amount`` allowed) narrow the pushable statuses;
    ``result_keys`` picks results of ``run_id`` (or of the latest run).
    """
    from exactsync.reconcile import DiffFilters, count_differences, differences

    wanted = push_statuses(statuses, pushable_only=not result_keys)
    if result_keys:
        # chosen results: every one comes back (a status push does not act on is skipped, with why)
        filters = DiffFilters(statuses=wanted, include_ok=True, result_keys=[str(k) for k in result_keys])
    else:
        filters = DiffFilters(statuses=wanted or list(PUSHABLE_STATUSES), shops=[shop] if shop else ())
    out: list[Target] = []
    for run in target_runs(store, run_id, period=None if result_keys else period, shop=shop):
        n = count_differences(store, run.run_id, filters)
        if not n:
            continue
        frame = differences(store, run.run_id, filters, limit=n).sort("doc_key", "result_key", nulls_last=True)
        out.extend(Target(doc_key=r["doc_key"], status=r["status"], run_id=run.run_id, result_key=r["result_key"])
                   for r in frame.select("doc_key", "status", "result_key").iter_rows(named=True))
    return out


def missing_targets(store: Any, settings: Any, *, period: str | None = None, shop: str | None = None) -> list[Target]:
    """Shop documents whose reference has no live entry in the pulled Exact data.

    The fallback selection when no reconciliation run exists (status ``missing_in_exact`` only);
    the reconciliation's own results are preferred (:func:`load_targets`).
    """
    in_period = _period_filter(period)
    with store.read() as con:
        docs = _rows(con, "SELECT doc_key, shop, kind, doc_number, doc_date FROM shop_documents "
                          "ORDER BY doc_date, doc_key", [])
    docs = [d for d in docs if (not shop or d["shop"] == shop) and in_period(d["doc_date"])]
    by_div: dict[int, dict[str, dict]] = defaultdict(dict)
    for d in docs:
        div = _division_for(settings, d["shop"])
        if div is not None:
            by_div[div][_ref_of(settings, d)] = d
    out: list[Target] = []
    for div, refs in by_div.items():
        booked = _booked_entries(store, div, refs)
        for ref, d in refs.items():
            if not live_entries(booked.get(normalize_reference(ref), {}).get("entries", [])):
                out.append(Target(d["doc_key"], "missing_in_exact"))
    return out


def plan_push(
    store: Any,
    settings: Any,
    run_id: str | None = None,
    result_keys: Sequence[str] | None = None,
    statuses: Iterable[str] | None = None,
    *,
    period: str | None = None,
    shop: str | None = None,
    headroom: Any = None,
    clock: Clock | None = None,
    closed_period_date: dt.date | None = None,
) -> Plan:
    """Plan the push of reconciliation results (see the module docstring). Sends nothing."""
    targets = load_targets(store, run_id, result_keys=result_keys, statuses=statuses, period=period, shop=shop)
    return plan_targets(store, settings, targets, period=period, shop=shop, headroom=headroom, clock=clock,
                        closed_period_date=closed_period_date)


def _period_filter(period: str | None):
    if not period:
        return lambda d: True
    p = period.strip()
    if ".." in p:
        lo, hi = p.split("..", 1)
        return lambda d: lo <= d.strftime("%Y-%m")[: len(lo)] and d.strftime("%Y-%m")[: len(hi)] <= hi
    return lambda d: d.isoformat().startswith(p)


def _rows(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def plan_targets(
    store: Any,
    settings: Any,
    targets: Sequence[Target],
    *,
    period: str | None = None,
    shop: str | None = None,
    headroom: Any = None,
    clock: Clock | None = None,
    closed_period_date: dt.date | None = None,
) -> Plan:
    """Plan ``targets`` (see the module docstring). Sends nothing.

    The ETA uses ``headroom`` (a live client's :class:`~exactsync.exact.ratelimit.Headroom`) when
    given, else what the ``api_calls`` log says is left of the current minute.
    """
    clock = clock or SYSTEM_CLOCK
    now = clock.time()
    plan = Plan(plan_id=uuid.uuid4().hex[:12], minutely_limit=int(settings.exact.minutely_limit or 60),
                reset_in=round(60.0 - now % 60, 1), closed_period_date=closed_period_date)
    if headroom is not None:
        plan.minutely_limit = int(getattr(headroom, "minutely_limit", None) or plan.minutely_limit)
        plan.minutely_remaining = getattr(headroom, "minutely_remaining", None)
        reset = getattr(headroom, "minutely_reset", None)
        if reset is not None and reset > now:
            plan.reset_in = round(reset - now, 1)
    in_period = _period_filter(period)
    doc_keys = sorted({t.doc_key for t in targets if t.doc_key})
    with store.read() as con:
        docs = {r["doc_key"]: r for r in _rows(
            con, "SELECT * FROM shop_documents WHERE doc_key IN (SELECT unnest(?::VARCHAR[]))", [doc_keys])}
        vat_lines: dict[str, list[dict]] = defaultdict(list)
        for r in _rows(con, "SELECT * FROM shop_vat_lines WHERE doc_key IN (SELECT unnest(?::VARCHAR[])) "
                            "ORDER BY doc_key, line_no", [doc_keys]):
            vat_lines[r["doc_key"]].append(r)
        existing_jobs = {r["job_id"]: r for r in _rows(con, "SELECT job_id, status, exact_entry_number, removed_at "
                                                            "FROM push_jobs", [])}
        # the last correction of each document that landed in Exact, and when the targets' runs were made
        corrected = {r["doc_key"]: r for r in _rows(
            con, "SELECT doc_key, arg_max(job_id, synced_at) AS job_id, max(synced_at) AS synced_at "
                 "FROM push_jobs WHERE status = 'Synced' AND kind = 'rebook' AND doc_key IN "
                 "(SELECT unnest(?::VARCHAR[])) GROUP BY doc_key", [doc_keys])}
        run_ids = sorted({t.run_id for t in targets if t.run_id})
        run_times = {r["run_id"]: r["created_at"] for r in _rows(
            con, "SELECT run_id, created_at FROM recon_runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [run_ids])}
    mappings: dict[int, Mappings] = {}
    problems: list[str] = []
    by_division: dict[int, list[tuple[Target, dict]]] = defaultdict(list)
    for t in targets:
        if t.status not in PUSHABLE_STATUSES:
            plan.skipped.append((t.doc_key or t.result_key or "?", f"status {t.status} is not pushed"))
            continue
        doc = docs.get(t.doc_key or "")
        if doc is None:
            plan.skipped.append((t.doc_key or t.result_key or "?", "no shop document (nothing to push)"))
            continue
        if shop and doc["shop"] != shop:
            continue
        if not in_period(doc["doc_date"]):
            continue
        fix = corrected.get(doc["doc_key"]) if t.status in CORRECTABLE else None
        made = run_times.get(t.run_id or "")
        if fix and made is not None and fix["synced_at"] is not None and fix["synced_at"] >= made:
            # the run's difference was corrected after the run: pushing it again would correct twice
            plan.skipped.append((doc["doc_key"], f"already corrected in Exact after run {t.run_id} (job "
                                                 f"{fix['job_id']}); reconcile again to see where it stands"))
            continue
        division = _division_for(settings, doc["shop"])
        if division is None:
            problems.append(f"no Exact division configured for shop {doc['shop']!r}")
            continue
        by_division[division].append((t, doc))
    for division, items in sorted(by_division.items()):
        m = mappings[division] = load_mappings(store, division, default_journal=settings.exact.sales_journal)
        if not m.ref.pulled:
            problems.append(f"nothing pulled from Exact for division {division} yet (run `exactsync pull exact`)")
            continue
        jp = m.ref.journal_problem(m.journal_code)
        if jp:
            problems.append(jp)
            continue
        refs = {_ref_of(settings, doc): (t, doc) for t, doc in items}
        booked = _booked_entries(store, division, refs)
        for ref, (t, doc) in refs.items():
            problems.extend(_plan_one(plan, settings, m, t, doc, ref, vat_lines.get(doc["doc_key"], []),
                                      booked.get(normalize_reference(ref), {}), existing_jobs))
    _rearm_removed(plan, existing_jobs)
    # closed periods: refused up front, naming the period
    for j in plan.jobs:
        m = mappings[j.division]
        if j.fin_year is not None and (j.journal_code, j.fin_year, j.fin_period) in m.ref.closed:
            problems.append(f"{j.fin_year}-{j.fin_period:02d} is closed for journal {j.journal_code} in division "
                            f"{j.division} ({j.kind} {j.your_ref})" + (
                                f"; {closed_period_date} is not in an open period either" if closed_period_date
                                else "; give a date in an open period to book it there (push --closed-period-date, or the Push page)"))
    # one line per problem, with how many of the selected documents it holds back
    counts = Counter(problems)
    plan.errors = [p if n == 1 else f"{p} ({n} documents)" for p, n in counts.items()]
    todo = [j for j in plan.jobs if j.existing_status != "Synced"]
    plan.posts = len(todo)
    per_div: dict[int, set[str]] = defaultdict(set)  # division -> references
    debtors: dict[int, dict[str, int]] = defaultdict(dict)
    for j in todo:
        per_div[j.division].add(normalize_reference(j.your_ref))
        if j.debtor_key and str(j.payload.get("Customer", "")).startswith(NEW_DEBTOR):
            doc = docs.get(j.doc_key or "", {})
            debtors[j.division][j.debtor_key] = sum(1 for k in debtor_keys(doc) if k) + 1
    plan.new_debtors = sum(len(v) for v in debtors.values())
    plan.debtor_calls = sum(sum(v.values()) for v in debtors.values())
    for div in per_div:
        # as executed: reversals, then creates, then rebooks, each in batches of LOOKUP_BATCH jobs
        # with one look-up per batch
        groups = ({"reverse"}, {"create"}, {"rebook"})
        lookups = sum(math.ceil(sum(1 for j in todo if j.division == div and j.kind in g) / LOOKUP_BATCH)
                      for g in groups)
        plan.lookups += lookups
        plan.calls_by_division[div] = (lookups + sum(1 for j in todo if j.division == div)
                                       + sum(debtors[div].values()))
        plan.remaining_by_division[div] = (plan.minutely_remaining if headroom is not None
                                           else current_headroom(store, div, clock))
    return plan


def _division_for(settings: Any, shop: str) -> int | None:
    s = settings.shops.get(shop) if getattr(settings, "shops", None) else None
    if s is not None and s.division:
        return int(s.division)
    divs = list(settings.exact.divisions or [])
    return int(divs[0]) if divs else None


def _ref_of(settings: Any, doc: dict) -> str:
    s = settings.shops.get(doc["shop"]) if getattr(settings, "shops", None) else None
    return reference_for(s.reference_prefix if s else "", doc["kind"], doc["doc_number"])


def _booked_entries(store: Any, division: int, refs: dict[str, Any]) -> dict[str, dict]:
    """Entries (and their VAT lines) booked in Exact for these references, by normalized reference."""
    norm = sorted({normalize_reference(r) for r in refs})
    with store.read() as con:
        entries = _rows(con, f"""
            SELECT *, {_SQL_NORM} AS norm_ref FROM exact_entries
            WHERE division = ? AND {_SQL_NORM} IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY entry_number""", [division, norm])
        ids = [e["entry_id"] for e in entries]
        lines: dict[str, list[dict]] = defaultdict(list)
        for r in _rows(con, "SELECT * FROM exact_vat_lines WHERE division = ? AND entry_id IN "
                            "(SELECT unnest(?::VARCHAR[]))", [division, ids]):
            lines[r["entry_id"]].append(r)
    out: dict[str, dict] = defaultdict(lambda: {"entries": [], "lines": lines})
    for e in entries:
        out[e["norm_ref"]]["entries"].append(e)
    return out


def debtor_keys(doc: dict) -> tuple[str | None, str | None]:
    """(VAT number key, e-mail key) a document's own debtor is found by: ``vat:NL123…B01``
    (upper case, letters and digits only) and ``email:…`` (trimmed, lower case)."""
    vat = "".join(ch for ch in (doc.get("vat_number") or "").upper() if ch.isalnum())
    email = (doc.get("customer_email") or "").strip().lower()
    return (f"vat:{vat}" if vat else None), (f"email:{email}" if email else None)


def _customer(m: Mappings, doc: dict) -> tuple[str | None, str | None, str | None, bool]:
    """(account GUID or a NEW_DEBTOR placeholder, problem, debtor key to create, whether it is the
    country's collective debtor).

    Strategy ``lookup``: the pulled (or earlier created) customer with the document's VAT number,
    else with its e-mail address; else, with ``create_debtors``, one to find-or-create when
    executing; else the collective debtor of the country. Strategy ``collective``: the latter.
    """
    ref = m.ref
    country = (doc.get("vat_country") or doc.get("billing_country") or "").upper()
    if m.debtor_strategy == "lookup":
        vat_key, email_key = debtor_keys(doc)
        if vat_key:
            hit = ref.accounts_by_vat.get(vat_key[4:]) or m.known_debtors.get(vat_key)
            if hit:
                return (hit["account_id"] if isinstance(hit, dict) else hit[0]), None, None, False
        if email_key:
            hit = ref.accounts_by_email.get(email_key[6:]) or m.known_debtors.get(email_key)
            if hit:
                return (hit["account_id"] if isinstance(hit, dict) else hit[0]), None, None, False
        if m.create_debtors and (vat_key or email_key):
            # Not created while planning: execute looks it up in Exact first, and creates it once.
            return f"{NEW_DEBTOR}{doc['doc_key']}", None, vat_key or email_key, False
    code = m.collective_debtor(country)
    if code is None:
        return None, f"no collective debtor mapped for {country or 'any country'} in division {m.division}", None, True
    p = ref.account_problem(code)
    if p:
        return None, p, None, True
    return ref.accounts_by_code[code.strip()]["account_id"], None, None, True


def _in_open_period(plan: Plan, m: Mappings, draft: EntryDraft) -> tuple[EntryDraft, str | None]:
    """The draft dated ``plan.closed_period_date`` when its own period is closed for the journal
    (and that date has a period); returns it and the closed period it left (None: not moved)."""
    day = plan.closed_period_date
    if day is None or draft.fin_year is None or (draft.journal, draft.fin_year, draft.fin_period) not in m.ref.closed:
        return draft, None
    period = m.ref.period_for(day)
    if period is None:
        return draft, None
    return (replace(draft, entry_date=day, fin_year=period[0], fin_period=period[1]),
            f"{draft.fin_year}-{draft.fin_period:02d}")


def _job(plan: Plan, m: Mappings, draft: EntryDraft, kind: str, t: Target, doc: dict, existing: dict,
         reverses: dict | None = None, country: str | None = None) -> PlannedJob:
    draft, closed = _in_open_period(plan, m, draft)
    payload = payload_of(draft)
    jid = job_id_for(draft.division, kind, draft.your_ref, reverses["entry_id"] if reverses else None)
    prev = existing.get(jid)
    period = f"{draft.fin_year}-{draft.fin_period:02d}" if draft.fin_year is not None else "?"
    job = PlannedJob(
        job_id=jid, kind=kind, division=draft.division, journal_code=draft.journal, your_ref=draft.your_ref,
        description=draft.description, entry_date=draft.entry_date, fin_year=draft.fin_year,
        fin_period=draft.fin_period, net=draft.net, vat=draft.vat, payload=payload,
        payload_hash=payload_hash(payload), doc_key=doc["doc_key"], shop=doc["shop"], run_id=t.run_id,
        result_key=t.result_key, reverses_entry_id=reverses["entry_id"] if reverses else None,
        reverses_entry_number=reverses["entry_number"] if reverses else None,
        existing_status=prev["status"] if prev else None,
        lines=[{"job_id": jid, "period": period, "country": x.country or country, "vat_code": x.vat_code,
                "gl_code": x.gl_code, "currency": draft.currency, "net": x.amount, "vat": x.vat_amount}
               for x in draft.lines],
    )
    plan.jobs.append(job)
    if closed:
        plan.moved.append({"job_id": jid, "kind": kind, "your_ref": draft.your_ref, "closed_period": closed,
                           "entry_date": draft.entry_date.isoformat()})
    return job


def _plan_one(plan: Plan, settings: Any, m: Mappings, t: Target, doc: dict, ref: str, lines: list[dict],
              booked: dict, existing: dict) -> list[str]:
    country = (doc.get("vat_country") or "").upper() or None
    entries = booked.get("entries", [])
    entry_lines = booked.get("lines", {})
    if t.status == "duplicated_in_exact":
        live = live_entries(entries)
        if len(live) < 2:
            plan.skipped.append((doc["doc_key"], "no duplicate left in the pulled Exact data"))
            return []
        keep = _best_match(live, doc)
        problems = []
        for e in live:
            if e is keep:
                continue
            draft, p = build_reversal(e, entry_lines.get(e["entry_id"], []), m)
            problems.extend(p)
            if draft:
                for x in draft.lines:
                    x.country = country
                _job(plan, m, draft, "reverse", t, doc, existing, reverses=e, country=country)
        plan.duplicates.append({"doc_key": doc["doc_key"], "your_ref": ref, "kept": keep["entry_number"],
                                "kept_entry_id": keep["entry_id"],
                                "reversed": [e["entry_number"] for e in live if e is not keep]})
        return problems
    customer, cp, debtor_key, collective = _customer(m, doc)
    if cp:  # no job; the entry's other mappings are checked too, so one plan names every one missing
        _unused, p = build_document_entry(doc, lines, m, customer_id="", your_ref=ref)
        return [cp, *p]
    on_collective = collective and bool(debtor_keys(doc)[0])  # a B2B document on a collective debtor
    if t.status == "missing_in_exact":
        live = live_entries(entries)
        if live:
            plan.skipped.append((doc["doc_key"], f"Exact already holds entry {live[0]['entry_number']} for {ref}"))
            return []
        draft, p = build_document_entry(doc, lines, m, customer_id=customer, your_ref=ref)
        if draft:
            _job(plan, m, draft, "create", t, doc, existing).debtor_key = debtor_key
            if on_collective:
                plan.collective_b2b.append(ref)
        return p
    # a correction: reverse what is booked, book the correct entry
    live = live_entries(entries)
    if not live:
        plan.skipped.append((doc["doc_key"], f"no booked entry for {ref} in the pulled Exact data"))
        return []
    problems: list[str] = []
    reversals = []
    for e in live:
        draft, p = build_reversal(e, entry_lines.get(e["entry_id"], []), m)
        problems.extend(p)
        if draft:
            for x in draft.lines:
                x.country = country
            reversals.append(_job(plan, m, draft, "reverse", t, doc, existing, reverses=e, country=country))
    first = live[0]
    draft, p = build_document_entry(doc, lines, m, customer_id=customer, your_ref=ref,
                                    description=correction_description(first["entry_number"]))
    problems.extend(p)
    if draft and reversals:
        rebook = _job(plan, m, draft, "rebook", t, doc, existing, reverses=first)
        rebook.debtor_key = debtor_key
        if on_collective:
            plan.collective_b2b.append(ref)
        rebook.pair_job_id = reversals[0].job_id
        for r in reversals:
            r.pair_job_id = rebook.job_id
    return problems


def _rearm_removed(plan: Plan, existing: dict[str, dict]) -> None:
    """A ``create`` whose job was Synced earlier, for an entry an Exact pull since found removed
    (``removed_at``, exactsync.exact.pull): a job of its own, to be pushed again (look-up first, as
    always). Its id is the earlier one's with ``~<removed entry number>`` added, so that each
    removal is one new job."""
    for job in plan.jobs:
        if job.kind != "create":
            continue
        prev = existing.get(job.job_id)
        while prev is not None and prev["status"] == "Synced" and prev.get("removed_at") is not None:
            gone = prev["exact_entry_number"]
            # from the current id, not the first: Exact may give a re-pushed entry the removed one's
            # number again, and each removal must still be a job of its own (the id only grows, so
            # the loop ends with the jobs there are)
            job.job_id = f"{job.job_id}~{gone}"
            for line in job.lines:
                line["job_id"] = job.job_id
            plan.removed.append({"job_id": job.job_id, "your_ref": job.your_ref, "entry_number": gone})
            prev = existing.get(job.job_id)
            job.existing_status = prev["status"] if prev else None


def _best_match(entries: list[dict], doc: dict) -> dict:
    """The entry that books the document right (else the lowest entry number) is kept."""
    net, vat = to_cents(Decimal(doc["net"])), to_cents(Decimal(doc["vat"]))
    for e in entries:
        if e.get("net") is not None and to_cents(Decimal(e["net"])) == net and to_cents(Decimal(e["vat"])) == vat:
            return e
    return min(entries, key=lambda e: e["entry_number"] or 0)
