"""The reconciliation engine: SQL in DuckDB over the canonical tables, saved as a run.

One run = one period (``YYYY-MM``), some divisions and shops, a tolerance. The steps (all SQL, in
one write transaction, temporary tables ``_rc_*`` on the run's connection):

1. **scope** — the shops (each maps to a division and a YourRef prefix through
   :class:`~exactsync.settings.ShopSettings`) and the divisions of the run;
2. **keys** — every shop document gets ``(division, exs_norm_ref(prefix + [CN-] + number))``,
   every Exact entry ``(division, exs_norm_ref(YourRef))`` (one rule: :mod:`.sqlref`). The store
   keeps the normalized parts on the rows (``shop_documents.ref_tail``, ``exact_entries.ref_norm``);
   a run joins the shop's normalized prefix to the tail where that is exact
   (:func:`~exactsync.reference.normalized_prefix`) and normalizes only what is missing;
3. **rows** — one result per shop document dated in the period; Exact entries join the row of the
   in-period document with their key (whatever period they are booked in). An Exact entry booked
   in the period whose key has no in-period document gets a row of its own: ``other_period`` when
   a document of another month carries the key, else ``only_in_exact`` (one row per reference;
   an entry without a reference is a row by itself);
4. **cancelled pairs** — within a row an entry and its exact negation (net, VAT, gross, currency)
   cancel; the entries left are *live*;
5. **checks** — presence, duplicates, currency, period, amounts, the VAT split per
   (treatment, OSS country, rate), the customer account, the entry status; tolerances per type;
6. **status** — the first condition in :data:`~.constants.PRECEDENCE`; every condition in ``flags``;
7. **save** — ``recon_runs``, ``recon_results``, ``recon_result_vat`` (rows with a difference),
   ``recon_vat`` (OSS-shaped totals) and ``recon_vat_map`` (the VAT code reading used).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb

from exactsync.clock import SYSTEM_CLOCK, Clock
from exactsync.errors import EXIT_USAGE, ExactsyncError
from exactsync.reconcile.constants import ENGINE_VERSION, PRECEDENCE, TOLERANCE_TYPES
from exactsync.reconcile.sqlref import MACRO, install_reference_macro, remove_reference_macro
from exactsync.reference import normalized_prefix

__all__ = [
    "check_divisions",
    "ReconcileError",
    "Tolerance",
    "RunSummary",
    "CUSTOMER_CHECKS",
    "parse_period",
    "resolve_period",
    "check_shop_names",
    "run_reconciliation",
    "summary_of",
    "exchange_of",
]

#: ``strict``: VAT number when the document has one, else the account's country against the
#: document's VAT country; ``vat_number``: only VAT numbers; ``off``: no customer check.
CUSTOMER_CHECKS = ("strict", "vat_number", "off")


class ReconcileError(ExactsyncError):
    """Bad parameters for a run (period, shop, division, tolerance)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Tolerance:
    """Largest difference per document that still counts as matched (document currency)."""

    net: Decimal = Decimal("0.01")
    vat: Decimal = Decimal("0.01")
    gross: Decimal = Decimal("0.01")

    @classmethod
    def of(cls, value: Any, default: Decimal = Decimal("0.01")) -> "Tolerance":
        """From a Tolerance, one amount for every type, or a mapping ``{type: amount}``."""
        if isinstance(value, Tolerance):
            return value
        if value is None:
            return cls(default, default, default)
        if isinstance(value, Mapping):
            unknown = set(value) - set(TOLERANCE_TYPES)
            if unknown:
                raise ReconcileError(f"unknown tolerance type(s) {', '.join(sorted(unknown))}; "
                                     f"known: {', '.join(TOLERANCE_TYPES)}")
            base = _amount(value.get("default", default)) if "default" in value else _amount(default)
            return cls(**{t: _amount(value.get(t, base)) for t in TOLERANCE_TYPES})
        amount = _amount(value)
        return cls(amount, amount, amount)

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @staticmethod
    def text(saved: Mapping[str, Any] | str | None) -> str:
        """A saved tolerance (:meth:`as_dict`, or its JSON) as "net / VAT / gross": ``0.01 / 0.01 / 0.01``."""
        try:
            tol = json.loads(saved or "{}") if isinstance(saved, str) else dict(saved or {})
            return " / ".join(str(tol[k]) for k in TOLERANCE_TYPES)
        except (ValueError, KeyError, TypeError):
            return str(saved or "")


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ReconcileError(f"tolerance {value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ReconcileError(f"tolerance {value!r} must be zero or a positive amount")
    return amount


@dataclass
class RunSummary:
    """What a run found: counts and amounts per status, totals, tolerated amounts."""

    run_id: str
    created_at: dt.datetime
    period: str
    divisions: list[int]
    shops: list[str]
    tolerance: dict[str, str]
    params: dict[str, Any]
    engine_version: str
    duration_ms: int | None
    #: status → {"count", "shop_net", "shop_vat", "shop_gross", "exact_net", "exact_vat", "exact_gross"}
    by_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: grand totals: documents, entries, shop_* and exact_* amounts
    totals: dict[str, Any] = field(default_factory=dict)
    #: tolerated differences, summed (net, vat, gross, rows)
    tolerated: dict[str, Any] = field(default_factory=dict)
    #: what the reader should know before trusting the run: shops or divisions not pulled since the
    #: period ended (their later documents or entries are not in it), saved with the run
    warnings: list[str] = field(default_factory=list)
    #: matched documents in another currency than their division's whose converted amounts differ
    #: from Exact's (the two systems' exchange rates): documents, currencies, net, vat, gross
    #: (Exact − shop, division currency); empty when there are none or the run predates it
    exchange: dict[str, Any] = field(default_factory=dict)

    def exchange_note(self) -> str | None:
        """The exchange-rate difference of the matched documents, as a sentence (None: none)."""
        x = self.exchange or {}
        if not x.get("documents"):
            return None
        cur = self.currency or "the division's currency"
        return (f"{x['documents']:,} matched document(s) in {', '.join(x.get('currencies') or []) or 'other currencies'} "
                f"agree in their own currency; in {cur}, Exact's amounts differ from the shop's by gross "
                f"{Decimal(x['gross']):,.2f} (net {Decimal(x['net']):,.2f}, VAT {Decimal(x['vat']):,.2f}): the two "
                f"systems' exchange rates, not a booking difference")

    @property
    def tolerance_text(self) -> str:
        """The run's tolerance as "net / VAT / gross"."""
        return Tolerance.text(self.tolerance)

    @property
    def currency(self) -> str | None:
        """The divisions' one currency (the ``*_dc`` amounts are in it); None when they differ or it is unknown."""
        found = {c for c in (self.params.get("division_currencies") or {}).values() if c}
        return found.pop() if len(found) == 1 else None

    @property
    def counts(self) -> dict[str, int]:
        return {k: v["count"] for k, v in self.by_status.items()}

    @property
    def differences(self) -> int:
        return sum(v["count"] for k, v in self.by_status.items() if k not in ("matched", "matched_within_tolerance"))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts"] = self.counts
        d["differences"] = self.differences
        d["currency"] = self.currency
        return d


def parse_period(period: str) -> tuple[dt.date, dt.date]:
    """``'2026-10'`` → (2026-10-01, 2026-11-01): first day and the day after the last."""
    text = str(period).strip()
    try:
        year, month = (int(x) for x in text.split("-"))
        start = dt.date(year, month, 1)
    except (ValueError, TypeError):
        raise ReconcileError(f"period {period!r} is not a month like 2026-10") from None
    if len(text) != 7 or not 1900 <= year <= 9998:
        raise ReconcileError(f"period {period!r} is not a month like 2026-10")
    end = start + dt.timedelta(days=calendar.monthrange(year, month)[1])
    return start, end


#: words a command line takes for a month, for cron jobs that should not compute dates themselves
PERIOD_WORDS = ("previous", "current")


def resolve_period(period: str, settings: Any = None, clock: Clock | None = None, *,
                   shops: Sequence[str] | None = None) -> str:
    """``'previous'`` / ``'current'`` → the month before this one / this month (``YYYY-MM``), in the
    shops' time zone (``shops.<name>.timezone``; document dates are taken in it, so a cron job at
    00:30 on 1 November in Amsterdam gets October, not September); ``shops``: only those shops'
    zones count (a run of one shop). Anything else is returned as given. Shops in different time
    zones make the word ambiguous: an error asking for the month."""
    word = str(period).strip().lower()
    if word not in PERIOD_WORDS:
        return period
    configured = getattr(settings, "shops", None) or {}
    zones = sorted({getattr(shop, "timezone", None) or "Europe/Amsterdam"
                    for name, shop in configured.items() if not shops or name in shops}) or ["Europe/Amsterdam"]
    if len(zones) > 1:
        raise ReconcileError(f"period {period!r}: the shops are in different time zones ({', '.join(zones)}); "
                             f"give the month, e.g. --period 2026-10")
    today = (clock or SYSTEM_CLOCK).now().astimezone(_zone(zones[0])).date()
    if word == "current":
        return f"{today:%Y-%m}"
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last_month:%Y-%m}"


# ----------------------------------------------------------------------------- freshness


def _zone(name: str | None) -> dt.tzinfo:
    """A shop's time zone (settings check the name when they load); the default for none."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(name or "Europe/Amsterdam")


def _freshness(con: duckdb.DuckDBPyConnection, settings: Any, shop_rows: Sequence[tuple], divisions: Sequence[int],
               period: str, end: dt.date, now: dt.datetime) -> list[str]:
    """Warnings for the shops and divisions of a run whose last successful pull (``sync_state``) is
    before the period ended (midnight after its last day, in the shop's time zone): documents or
    entries after that pull are not in the run. A period not over yet (``now``, naive UTC) gets one
    warning saying so instead. A store no pull ever wrote to (rows written directly, as tests and
    the bench do) gets none."""
    pulls: dict[tuple[str, str], dt.datetime | None] = {
        (src, scope): at for src, scope, at in con.execute("SELECT source, scope, last_success_at FROM sync_state").fetchall()}
    if not pulls:
        return []
    shops_cfg = dict(getattr(settings, "shops", {}) or {})
    zones = {r[0]: _zone(getattr(shops_cfg.get(r[0]), "timezone", None)) for r in shop_rows}

    def ended(zone: dt.tzinfo) -> dt.datetime:  # the period's end as naive UTC, like sync_state
        local = dt.datetime.combine(end, dt.time(0), tzinfo=zone)
        return local.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def when(at: dt.datetime) -> str:
        return f"{at:%Y-%m-%d %H:%M} UTC"

    if now < min((ended(z) for z in zones.values()), default=ended(_zone(None))):
        return [f"{period} is not over yet: this run shows what was pulled until now; reconcile it again "
                f"after the month has ended and everything is pulled"]

    out: list[str] = []
    for shop, *_ in shop_rows:
        times = [at for (src, _scope), at in pulls.items() if src.startswith(f"shop:{shop}:")]
        if not times or any(at is None for at in times):
            out.append(f"shop {shop} has not been pulled successfully (exactsync pull shop --shop {shop}): "
                       f"its documents may be missing from this run")
        elif min(times) < ended(zones[shop]):
            out.append(f"shop {shop} was last pulled {when(min(times))}, before {period} ended: documents "
                       f"after that are not in this run (pull it and reconcile again)")
    for division in divisions:
        at = pulls.get(("exact:transaction_lines", str(division)))
        division_zones = {zones[r[0]] for r in shop_rows if r[1] == division} or {_zone(None)}
        if at is None:
            out.append(f"Exact division {division} has not been pulled successfully "
                       f"(exactsync pull exact --division {division}): "
                       f"its entries may be missing from this run")
        elif at < max(ended(z) for z in division_zones):
            out.append(f"Exact division {division} was last pulled {when(at)}, before {period} ended: entries "
                       f"booked after that are not in this run (pull it and reconcile again)")
    return out


def _empty_sides(totals: Mapping[str, Any], period: str, shops: Sequence[str], divisions: Sequence[int]) -> list[str]:
    """Warnings for a run with nothing on one side: no shop document dated in the period, or no
    Exact entry at all (then every document shows as missing). Zero differences out of nothing
    must not read as a clean month."""
    out = []
    divs = ", ".join(map(str, divisions)) or "none"
    if not totals.get("documents"):
        out.append(f"no shop documents dated {period} in the store (shops: {', '.join(shops) or 'none'}): "
                   f"pull the shops (exactsync pull shop), or check the period and the shops' settings")
    if not totals.get("exact_entries"):
        out.append(f"no Exact entries for this run (divisions: {divs}): "
                   + ("every document shows as missing; " if totals.get("documents") else "")
                   + "pull Exact (exactsync pull exact) before pushing anything")
    return out


def _unreadable(con: duckdb.DuckDBPyConnection, shops: Sequence[str]) -> list[str]:
    """Warnings for shop documents the last pull could not read (``shop_rejects``): they are in no
    run until the shop is fixed and pulled again, whatever their date, so a month that looks clean
    may not be."""
    out = []
    rows = con.execute(
        "SELECT r.shop, d.doc_key IS NOT NULL AS earlier, count(*), arg_min(r.record_key || ': ' || r.message, r.doc_key) "
        "FROM shop_rejects r LEFT JOIN shop_documents d ON d.doc_key = r.doc_key "
        "WHERE r.shop IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL ORDER BY 1, 2", [list(shops)]).fetchall()
    for shop, earlier, n, first in rows:
        if earlier:  # read before, its latest change not: the run compares the version it has
            out.append(f"{shop}: the latest change of {n} document(s) could not be read at the last pull; this run "
                       f"compares the version pulled before (first: {first}); fix them in the shop and pull again — "
                       f"the sync log lists each")
        else:
            out.append(f"{shop}: {n} document(s) could not be read at the last pull and are in no reconciliation "
                       f"(first: {first}); fix them in the shop and pull again — the sync log lists each")
    return out


# ----------------------------------------------------------------------------- scope


def check_shop_names(names: Iterable[str], configured: Iterable[str], in_data: Iterable[str]) -> None:
    """A shop named on a command line must be configured or have documents in the store; else
    :class:`ReconcileError` (a usage error) listing the known ones."""
    known = set(configured) | set(in_data)
    for name in names:
        if name not in known:
            raise ReconcileError(f"unknown shop {name!r} (known: {', '.join(sorted(known)) or 'none'})")


def _pulled_divisions(con: duckdb.DuckDBPyConnection) -> set[int]:
    return {r[0] for r in con.execute(
        "SELECT division FROM exact_entries UNION SELECT division FROM exact_divisions").fetchall()}


def check_divisions(con: duckdb.DuckDBPyConnection, settings: Any, divisions: Iterable[int]) -> None:
    """Divisions named by a user must be known: configured (``exact.divisions``, a shop's
    ``division``) or pulled; else a :class:`ReconcileError` (usage, exit 2) naming the known ones."""
    configured: dict[str, Any] = dict(getattr(settings, "shops", {}) or {})
    exact_divs = {int(d) for d in (getattr(getattr(settings, "exact", None), "divisions", None) or [])}
    known = {s.division for s in configured.values() if s.division is not None} | exact_divs | _pulled_divisions(con)
    unknown = [d for d in sorted({int(d) for d in divisions}) if d not in known]
    if unknown:
        raise ReconcileError(f"unknown division {', '.join(map(str, unknown))}: neither configured nor pulled "
                             f"(known: {', '.join(map(str, sorted(known))) or 'none'})")


def _scope(con: duckdb.DuckDBPyConnection, settings: Any, divisions: Iterable[int] | None,
           shops: Iterable[str] | None) -> tuple[list[tuple[str, int | None, str, str]], list[int],
                                                  list[tuple[str, int, str]]]:
    """(shop, division, prefix, home_country) rows and the divisions of a run, and (shop, division,
    prefix) of the shops outside a run of some shops that book into one of its divisions: their
    entries are not the run's."""
    configured: dict[str, Any] = dict(getattr(settings, "shops", {}) or {})
    in_data = {r[0] for r in con.execute("SELECT DISTINCT shop FROM shop_documents").fetchall()}
    wanted_divs = sorted({int(d) for d in divisions}) if divisions is not None else None
    if shops is not None:
        names = list(dict.fromkeys(shops))
        check_shop_names(names, configured, in_data)
    elif configured:
        names = sorted(configured)
    else:
        names = sorted(in_data)

    exact_divs = {int(d) for d in (getattr(getattr(settings, "exact", None), "divisions", None) or [])}

    if wanted_divs is not None:
        check_divisions(con, settings, wanted_divs)
        divs = wanted_divs
    else:
        found = {s.division for n, s in configured.items() if n in names and s.division is not None}
        if shops is None:
            found |= exact_divs
        if not found:
            found = _pulled_divisions(con)
        divs = sorted(found)

    def place(name: str) -> tuple[int | None, str, str]:
        """(division, prefix, home country) a shop books with."""
        shop = configured.get(name)
        division = shop.division if shop is not None else None
        if division is None and len(divs) == 1:
            division = divs[0]  # an unconfigured shop next to exactly one division books there
        prefix = (shop.reference_prefix if shop is not None else "") or ""
        home = (shop.home_country if shop is not None else "") or "NL"
        return division, prefix, home

    rows = []
    for name in names:
        division, prefix, home = place(name)
        if wanted_divs is not None and shops is None and division not in wanted_divs:
            continue
        rows.append((name, division, prefix, home))
    # a run of some shops (--shop) may leave out others of its divisions; a run of all has none
    others = []
    if shops is not None:
        for name in sorted((set(configured) | in_data) - {r[0] for r in rows}):
            division, prefix, _home = place(name)
            if division in divs:
                others.append((name, division, prefix))
    return rows, divs, others


def _partial_scope(shop_rows: Sequence[tuple], others: Sequence[tuple[str, int, str]]) -> list[str]:
    """Warnings for a run of some of the shops of a division: what it leaves out, and the entries it
    cannot tell apart (another shop of the division books without a reference prefix)."""
    out = []
    for division in sorted({d for _n, d, _p in others}):
        inside = [r[0] for r in shop_rows if r[1] == division]
        outside = [n for n, d, _p in others if d == division]
        out.append(f"this run covers {', '.join(inside) or 'no shop'} of division {division}, not "
                   f"{', '.join(outside)}: their documents are in no row (nor in a push from this run) and Exact "
                   f"entries with their reference prefix are left out; reconcile without --shop for the whole division")
        for name, d, prefix in others:
            if d == division and not normalized_prefix(prefix)[0]:
                out.append(f"shop {name} books into division {division} without a reference prefix, so its entries "
                           f"cannot be told from this run's: those booked in the period show as only in Exact here "
                           f"(give each shop of a division its own shops.<name>.reference_prefix)")
    return out


# ----------------------------------------------------------------------------- SQL
#
# Speed (bench/reconcile.py: 1,000,000 documents in one month): the steps carry integer row ids
# and only the columns they need; sentences, flags and descriptive columns are built only for rows
# that are not a plain match; a matched document with one entry is saved slim
# (recon_result_matched, rebuilt by the recon_results view). The VAT split is compared from the
# line summaries the store keeps on every document and entry, bucket by bucket from the lines only
# where a row has several buckets or entries (see "cx").

_HELPERS = rf"""
CREATE OR REPLACE TEMP MACRO exs_country(c) AS
    CASE upper(trim(c)) WHEN 'EL' THEN 'GR' WHEN 'UK' THEN 'GB' ELSE nullif(upper(trim(c)), '') END;
CREATE OR REPLACE TEMP MACRO exs_vatno(v) AS
    CASE WHEN v IS NULL THEN NULL
         ELSE nullif(regexp_replace(regexp_replace(upper(v), '[^A-Z0-9]', '', 'g'), '^[A-Z]{{2}}', ''), '') END;
-- the treatment class a VAT bucket compares in: Exact's 0 % codes do not tell export, exempt and a
-- domestic 0 % rate apart (docs/reconcile.md, VAT split)
CREATE OR REPLACE TEMP MACRO exs_cmp_treatment(t, r) AS
    CASE WHEN t IN ('export', 'exempt') OR (t = 'domestic' AND r = 0) THEN 'zero_rated' ELSE t END;
CREATE OR REPLACE TEMP MACRO exs_cmp_country(t, c) AS
    CASE WHEN t = 'oss' THEN coalesce(c, '?') ELSE '' END;
-- two VAT buckets (treatment, OSS country, rate) are one (NULL when a part is unknown)
CREATE OR REPLACE TEMP MACRO exs_same_bucket(t1, c1, r1, t2, c2, r2) AS
    exs_cmp_treatment(t1, r1) = exs_cmp_treatment(t2, r2) AND exs_cmp_country(t1, c1) = exs_cmp_country(t2, c2) AND r1 = r2;
-- the VAT of a bucket's difference that its base difference at the bucket's rate does not explain,
-- in hundredths (100·ΔVAT − rate·Δbase, exact in DECIMAL): the VAT split's rule (docs/reconcile.md)
CREATE OR REPLACE TEMP MACRO exs_vat_unexplained(d_vat, d_base, rate) AS d_vat * 100 - d_base * rate;
-- the rate an Exact VAT line is read at: the mapping's, else the line's (rate at booking), else the code's
CREATE OR REPLACE TEMP MACRO exs_rate(source, code_rate, line_rate) AS
    CAST(CASE WHEN source = 'vat_code_map' AND code_rate IS NOT NULL THEN code_rate
              ELSE coalesce(line_rate, code_rate, 0) END AS DECIMAL(7,4));
-- a document's match key: its shop's normalized prefix joined to the normalized tail the store keeps
-- (exactsync.reference.normalized_prefix), else the whole YourRef normalized here
CREATE OR REPLACE TEMP MACRO exs_match_ref(p_joins, p_norm, ref_tail, prefix, kind, number) AS
    CASE WHEN p_joins AND ref_tail IS NOT NULL THEN p_norm || ref_tail
         ELSE {MACRO}(exs_doc_ref(prefix, kind, number)) END;
-- the entry's account is not the document's customer (docs/reconcile.md, Customer): mode is the
-- run's customer_check, acc_id NULL = an entry without an account, which is not judged
-- an amount in a sentence: two decimals, or all four when it has parts of a cent (exact, never rounded)
CREATE OR REPLACE TEMP MACRO exs_amt(x) AS
    CASE WHEN x = round(x, 2) THEN CAST(CAST(x AS DECIMAL(18,2)) AS VARCHAR) ELSE CAST(x AS VARCHAR) END;
-- a VAT bucket in a sentence: "OSS DE 19%", "domestic 5.5%", "reverse charge 0%"
CREATE OR REPLACE TEMP MACRO exs_bucket_text(t, c, r) AS
    CASE WHEN t = 'oss' THEN 'OSS' ELSE replace(t, '_', ' ') END || coalesce(' ' || c, '') || ' '
    || rtrim(rtrim(CAST(r AS VARCHAR), '0'), '.') || '%';
CREATE OR REPLACE TEMP MACRO exs_customer_bad(mode, acc_id, acc_vatno, acc_country, cust_vatno, cust_country) AS
    CASE WHEN mode = 'off' OR acc_id IS NULL THEN false
         WHEN cust_vatno IS NOT NULL THEN acc_vatno IS DISTINCT FROM cust_vatno
         WHEN mode = 'vat_number' THEN false
         WHEN acc_country IS NOT NULL AND cust_country IS NOT NULL THEN acc_country <> cust_country
         ELSE false END;
"""

#: condition bits of a row (``fl``), in the order ``flags`` lists them (PRECEDENCE order)
_FLAG_BITS: tuple[tuple[int, str], ...] = (
    (1, "only_in_exact"), (2, "other_period"), (4, "duplicated_in_exact"),  # rows of Exact entries
    (8, "missing_in_exact"), (16, "duplicated_in_exact"), (32, "currency_differs"), (64, "other_period"),
    (128, "amount_differs"), (256, "vat_differs"), (512, "customer_differs"), (1024, "draft"),
    (2048, "matched_within_tolerance"),
)
_FLAGS_SQL = ("list_filter([" + ", ".join(f"CASE WHEN f.fl & {bit} <> 0 THEN '{name}' END"
                                          for bit, name in _FLAG_BITS) + "], lambda x: x IS NOT NULL)")

#: shop VAT lines of some documents ({rids}: a query returning ``rid`` = doc_id)
_SHOP_LINES = """
    SELECT d.doc_id AS rid, d.shop, d.division, d.currency, l.treatment, exs_country(l.country) AS country,
           CAST(l.rate AS DECIMAL(7,4)) AS rate, l.base, l.vat
    FROM shop_vat_lines l
    JOIN (SELECT d.doc_id, d.doc_key, d.shop, d.division, d.currency FROM _rc_doc d SEMI JOIN ({rids}) q ON q.rid = d.doc_id) d
      ON d.doc_key = l.doc_key
"""

#: Exact VAT lines of some entries ({eids}: a query returning ``eid``), read through the VAT codes;
#: the country of a non-OSS code is the division's for domestic, else the customer account's
_EXACT_LINES = """
    SELECT coalesce(e.owner_id, o.rid) AS rid, e.eid, coalesce(e.shop, o.other_shop) AS shop, e.division,
           e.in_period, e.currency, coalesce(m.treatment, 'unknown') AS treatment,
           coalesce(m.country, CASE WHEN m.treatment = 'domestic' THEN d.country ELSE a.acc_country END) AS country,
           exs_rate(m.source, m.rate, l.vat_percentage) AS rate, l.base, l.vat, l.base_dc, l.vat_dc
    FROM exact_vat_lines l
    JOIN (SELECT e.* FROM _rc_e0 e SEMI JOIN ({eids}) q ON q.eid = e.eid) e
      ON e.division = l.division AND e.entry_id = l.entry_id
    LEFT JOIN _rc_orph o ON o.eid = e.eid
    LEFT JOIN _rc_vmap m ON m.division = l.division AND m.vat_code = trim(l.vat_code)
    LEFT JOIN _rc_divs d ON d.division = l.division
    LEFT JOIN _rc_acc a ON a.acc_id = e.acc_id
"""

#: the per-bucket comparison of some document rows ({rids}: a query returning ``rid``): shop lines
#: against the lines of every entry of the row (cancelled pairs included: they sum to zero);
#: only rows with VAT lines on both sides are compared
_CMP_SQL = """
WITH q AS MATERIALIZED ({rids}), s AS (
    SELECT rid, exs_cmp_treatment(treatment, rate) AS treatment, exs_cmp_country(treatment, country) AS country, rate,
           sum(base) AS base, sum(vat) AS vat
    FROM (""" + _SHOP_LINES.format(rids="SELECT rid FROM q") + """) GROUP BY ALL
), x AS (
    SELECT rid, exs_cmp_treatment(treatment, rate) AS treatment, exs_cmp_country(treatment, country) AS country, rate,
           sum(base) AS base, sum(vat) AS vat, sum(base_dc) AS base_dc, sum(vat_dc) AS vat_dc
    FROM (""" + _EXACT_LINES.format(eids="SELECT e.eid FROM _rc_e0 e SEMI JOIN q ON q.rid = e.owner_id") + """)
    GROUP BY ALL
), both_sides AS (
    SELECT rid FROM s INTERSECT SELECT rid FROM x
)
SELECT coalesce(s.rid, x.rid) AS rid,
       coalesce(s.treatment, x.treatment) AS treatment,
       nullif(coalesce(s.country, x.country), '') AS country,
       coalesce(s.rate, x.rate) AS rate,
       s.base AS shop_base, s.vat AS shop_vat, x.base AS exact_base, x.vat AS exact_vat,
       x.base_dc AS exact_base_dc, x.vat_dc AS exact_vat_dc,
       coalesce(x.base, 0) - coalesce(s.base, 0) AS delta_base,
       coalesce(x.vat, 0) - coalesce(s.vat, 0) AS delta_vat
FROM s FULL OUTER JOIN x
     ON x.rid = s.rid AND x.treatment = s.treatment AND x.country = s.country AND x.rate = s.rate
WHERE coalesce(s.rid, x.rid) IN (SELECT rid FROM both_sides)
"""

#: what a row's sentence and columns need of its entries, for a few entries ({eids}: a query returning eid)
_ENTRY_DETAIL = """
    SELECT e.eid, x.entry_number, x.entry_date, x.your_ref, x.net_dc, x.vat_dc, x.gross_dc,
           coalesce(p.start_date, x.entry_date) AS book_date
    FROM (SELECT * FROM _rc_e0 SEMI JOIN ({eids}) q USING (eid)) e
    JOIN exact_entries x ON x.rowid + 1 = e.eid
    LEFT JOIN exact_periods p ON p.division = x.division AND p.fin_year = x.fin_year AND p.fin_period = x.fin_period
"""

#: (name, SQL) in order; each builds the temporary table ``_rc_<name>``
_STEPS: list[tuple[str, str]] = [
    # divisions of the run, with the currency and home country used for their domestic VAT
    ("divs", """
    CREATE OR REPLACE TEMP TABLE _rc_divs AS
    SELECT d.division,
           coalesce(nullif(x.currency, ''), s.base_currency) AS currency,
           coalesce(exs_country(x.country), s.home, 'NL') AS country
    FROM (SELECT unnest($divisions::INTEGER[]) AS division) d
    LEFT JOIN exact_divisions x ON x.division = d.division
    LEFT JOIN (
        SELECT r.division, min(exs_country(r.home)) AS home, min(sd.base_currency) AS base_currency
        FROM _rc_shops r LEFT JOIN (SELECT shop, any_value(base_currency) AS base_currency
                                    FROM shop_documents GROUP BY shop) sd ON sd.shop = r.shop
        GROUP BY r.division
    ) s ON s.division = d.division
    """),
    # the customer accounts of those divisions, read once
    ("acc", """
    CREATE OR REPLACE TEMP TABLE _rc_acc AS
    SELECT a.rowid + 1 AS acc_id, a.division, a.account_id, a.code AS acc_code, exs_country(a.country) AS acc_country,
           a.vat_number AS acc_vat, exs_vatno(a.vat_number) AS acc_vatno
    FROM exact_accounts a WHERE a.division IN (SELECT division FROM _rc_divs)
    """),
    # the reading of every VAT code of the run's divisions: vat_code_map first, then exact_vat_codes
    ("vmap", """
    CREATE OR REPLACE TEMP TABLE _rc_vmap AS
    SELECT m.division, trim(m.vat_code) AS vat_code, exs_country(m.country) AS country, m.rate,
           m.treatment, 'vat_code_map' AS source
    FROM vat_code_map m WHERE m.division IN (SELECT division FROM _rc_divs)
    UNION ALL
    SELECT c.division, trim(c.code) AS vat_code,
           CASE WHEN exs_country(c.oss_country) IS NOT NULL THEN exs_country(c.oss_country)
                WHEN upper(coalesce(c.eu_sales_listing, '')) IN ('L', 'S', 'T') THEN NULL
                WHEN coalesce(c.percentage, 0) <> 0 THEN d.country END AS country,
           c.percentage AS rate,
           CASE WHEN exs_country(c.oss_country) IS NOT NULL THEN 'oss'
                WHEN upper(coalesce(c.eu_sales_listing, '')) IN ('L', 'S', 'T') THEN 'reverse_charge'
                WHEN coalesce(c.percentage, 0) <> 0 THEN 'domestic'
                ELSE 'export' END AS treatment,
           'exact_vat_codes' AS source
    FROM exact_vat_codes c JOIN _rc_divs d ON d.division = c.division
    WHERE NOT EXISTS (SELECT 1 FROM vat_code_map m WHERE m.division = c.division AND trim(m.vat_code) = trim(c.code))
    """),
    # the shop documents of the period (one result row each); doc_id > 0 is the row id
    ("doc", f"""
    CREATE OR REPLACE TEMP TABLE _rc_doc AS
    SELECT d.rowid + 1 AS doc_id, d.doc_key, d.shop, s.division, d.currency,
           exs_vatno(d.vat_number) AS cust_vatno,
           exs_country(coalesce(d.vat_country, d.ship_country, d.billing_country)) AS cust_country,
           d.net, d.vat, d.gross,
           exs_match_ref(s.p_joins, s.p_norm, d.ref_tail, s.prefix, d.kind, d.doc_number) AS ref,
           -- the summary of its VAT lines (exactsync/store/summaries.py); NULL: read the lines
           d.lines_n AS s_n, d.lines_single AS s_single, d.lines_treatment AS s_treatment,
           exs_country(d.lines_country) AS s_country, d.lines_rate AS s_rate, d.lines_base AS s_base,
           d.lines_vat AS s_vat
    FROM shop_documents d JOIN _rc_shops s ON s.shop = d.shop
    WHERE d.doc_date >= $start AND d.doc_date < $end
"""),
    # keys shared by several of them, each with its owner (the lowest doc_key): candidates first by an
    # integer hash of the key (a collision only adds a candidate), then exactly
    ("key", """
    CREATE OR REPLACE TEMP TABLE _rc_key AS
    WITH h AS (
        SELECT doc_id, hash(division, ref) AS h FROM _rc_doc WHERE ref IS NOT NULL AND division IS NOT NULL
    ), c AS (
        SELECT h.doc_id FROM h SEMI JOIN (SELECT h FROM h GROUP BY h HAVING count(*) > 1) s ON s.h = h.h
    )
    SELECT d.division, d.ref, count(*) AS docs, arg_min(d.doc_id, d.doc_key) AS owner_id,
           arg_min(d.shop, d.doc_key) AS owner_shop
    FROM _rc_doc d SEMI JOIN c ON c.doc_id = d.doc_id
    GROUP BY d.division, d.ref HAVING count(*) > 1
    """),
    # documents that share their key with a lower one, which takes the entries
    ("dup", """
    CREATE OR REPLACE TEMP TABLE _rc_dup AS
    SELECT d.doc_id, k.owner_id
    FROM _rc_doc d JOIN _rc_key k ON k.division = d.division AND k.ref = d.ref
    WHERE d.doc_id <> k.owner_id
    """),
    # Exact entries of the run's divisions that join a document of the period or are booked in it
    ("e0", f"""
    CREATE OR REPLACE TEMP TABLE _rc_e0 AS
    WITH e AS (
        SELECT e.rowid + 1 AS eid, e.division, e.entry_id, e.currency, a.acc_id,
               -- an open entry that exactsync itself posted (a Synced push job) is booked as intended:
               -- it is not a draft; only open entries made elsewhere are (docs/reconcile.md)
               CASE WHEN coalesce(e.status, 50) < 50 AND e.entry_id IN (
                        SELECT lower(exact_entry_id) FROM push_jobs
                        WHERE status = 'Synced' AND exact_entry_id IS NOT NULL)
                    THEN 50 ELSE e.status END AS status,
               e.net, e.vat, e.gross,
               coalesce(e.net_dc = e.net AND e.vat_dc = e.vat AND e.gross_dc = e.gross, false) AS dc_same,
               coalesce(e.ref_norm, {MACRO}(e.your_ref)) AS ref,
               coalesce(p.start_date, e.entry_date) AS book_date,
               -- the summary of its VAT lines, its one code read like a line's (see _EXACT_LINES)
               e.lines_n AS x_n, e.lines_single AS x_single, coalesce(m.treatment, 'unknown') AS x_treatment,
               m.country AS x_mcountry, exs_rate(m.source, m.rate, e.lines_rate) AS x_rate,
               e.lines_base AS x_base, e.lines_vat AS x_vat, e.lines_base_dc AS x_base_dc, e.lines_vat_dc AS x_vat_dc
        FROM exact_entries e
        LEFT JOIN exact_periods p
               ON p.division = e.division AND p.fin_year = e.fin_year AND p.fin_period = e.fin_period
        LEFT JOIN _rc_acc a ON a.division = e.division AND a.account_id = e.customer_id
        LEFT JOIN _rc_vmap m ON m.division = e.division AND m.vat_code = e.lines_code
        WHERE e.division IN (SELECT division FROM _rc_divs)
    ), s AS (
        SELECT e.* EXCLUDE (ref, book_date), CASE WHEN k.owner_id IS NULL THEN e.ref END AS oref,
               coalesce(e.book_date >= $start AND e.book_date < $end, false) AS in_period, k.owner_id,
               k.owner_shop AS shop
        FROM e LEFT JOIN (
            -- the document that takes the entries of each key
            SELECT d.division, d.ref, d.doc_id AS owner_id, d.shop AS owner_shop
            FROM _rc_doc d ANTI JOIN _rc_dup u ON u.doc_id = d.doc_id
            WHERE d.ref IS NOT NULL AND d.division IS NOT NULL
        ) k ON k.division = e.division AND k.ref = e.ref
    )
    SELECT * FROM s WHERE owner_id IS NOT NULL OR in_period
    """),
    # entries booked in the period without a document of the period: one row per reference (or
    # per entry without one), rid < 0, linked to a document of another month with the key, if any
    ("orph", f"""
    CREATE OR REPLACE TEMP TABLE _rc_orph AS
    WITH o AS (
        SELECT eid, division, entry_id, oref AS ref,
               CASE WHEN oref IS NULL THEN 'exact:' || division || ':entry:' || entry_id
                    ELSE 'exact:' || division || ':' || oref END AS ekey
        FROM _rc_e0 WHERE owner_id IS NULL
    ), od AS (
        SELECT s.division, exs_match_ref(s.p_joins, s.p_norm, d.ref_tail, s.prefix, d.kind, d.doc_number) AS ref,
               d.doc_key, d.shop, d.rowid + 1 AS doc_row
        FROM shop_documents d JOIN _rc_shops s ON s.shop = d.shop
        WHERE NOT (d.doc_date >= $start AND d.doc_date < $end) AND s.division IS NOT NULL
    ), okey AS (
        SELECT od.division, od.ref, min(od.doc_key) AS owner, arg_min(od.shop, od.doc_key) AS owner_shop,
               arg_min(od.doc_row, od.doc_key) AS owner_row
        FROM od SEMI JOIN o ON o.division = od.division AND o.ref = od.ref
        GROUP BY od.division, od.ref
    ), ek AS (
        SELECT ekey, -row_number() OVER (ORDER BY ekey) AS ekey_id FROM (SELECT DISTINCT ekey FROM o)
    )
    SELECT o.eid, ek.ekey_id AS rid, o.ekey, o.division, o.ref, okey.owner AS other_owner, okey.owner_row AS other_row,
           okey.owner_shop AS other_shop
    FROM o JOIN ek USING (ekey)
    LEFT JOIN okey ON okey.division = o.division AND okey.ref = o.ref
    """),
    # rows with more than one entry (the only ones that can hold a cancelled pair)
    ("multi", """
    CREATE OR REPLACE TEMP TABLE _rc_multi AS
    SELECT rid, count(*) AS n_entries FROM (
        SELECT owner_id AS rid FROM _rc_e0 WHERE owner_id IS NOT NULL
        UNION ALL SELECT rid FROM _rc_orph
    ) GROUP BY rid HAVING count(*) > 1
    """),
    # the Exact side of those rows: an entry and its exact negation (a reversal) cancel, first with
    # first by booking date; amounts always include every entry (pairs sum to zero)
    ("grpm", f"""
    CREATE OR REPLACE TEMP TABLE _rc_grpm AS
    WITH e AS (
        SELECT e.*, m.rid,
               CASE WHEN gross > 0 OR (gross = 0 AND net > 0) THEN 1
                    WHEN gross < 0 OR (gross = 0 AND net < 0) THEN -1 ELSE 0 END AS sgn
        FROM (SELECT e.*, e.owner_id AS row_id FROM _rc_e0 e SEMI JOIN _rc_multi m ON m.rid = e.owner_id
              UNION ALL
              SELECT e.*, o.rid AS row_id FROM _rc_e0 e JOIN (SELECT * FROM _rc_orph SEMI JOIN _rc_multi USING (rid)) o
                   ON o.eid = e.eid) e
        JOIN _rc_multi m ON m.rid = e.row_id
    ), e1 AS (
        SELECT e.*, x.* EXCLUDE (eid) FROM e JOIN ({_ENTRY_DETAIL.format(eids="SELECT eid FROM e")}) x ON x.eid = e.eid
    ), w AS (
        SELECT e1.*,
               row_number() OVER (PARTITION BY rid, currency, sgn * net, sgn * vat, sgn * gross, sgn
                                  ORDER BY book_date, entry_date, entry_number, entry_id) AS pair_rn,
               count(*) FILTER (WHERE sgn = 1)
                   OVER (PARTITION BY rid, currency, sgn * net, sgn * vat, sgn * gross) AS n_pos,
               count(*) FILTER (WHERE sgn = -1)
                   OVER (PARTITION BY rid, currency, sgn * net, sgn * vat, sgn * gross) AS n_neg
        FROM e1
    ), c AS (
        SELECT w.*, (sgn <> 0 AND pair_rn <= least(n_pos, n_neg)) AS cancelled, d.currency AS doc_currency,
               d.doc_id IS NOT NULL AND exs_customer_bad($customer_check, a.acc_id, a.acc_vatno, a.acc_country,
                                                         d.cust_vatno, d.cust_country) AS customer_bad
        FROM w LEFT JOIN _rc_doc d ON d.doc_id = w.rid LEFT JOIN _rc_acc a ON a.acc_id = w.acc_id
    )
    SELECT rid,
           list_sort(list(entry_id)) AS entry_ids,
           list_sort(list(entry_number)) AS entry_numbers,
           coalesce(min(entry_date) FILTER (WHERE NOT cancelled), min(entry_date)) AS entry_date,
           coalesce(min(book_date) FILTER (WHERE NOT cancelled), min(book_date)) AS book_date,
           arg_min(your_ref, entry_id) AS your_ref,
           count(*) AS entry_count,
           count(*) FILTER (WHERE NOT cancelled) AS live_n,
           count(*) FILTER (WHERE NOT cancelled AND in_period) AS live_in_period,
           sum(net) AS exact_net, sum(vat) AS exact_vat, sum(gross) AS exact_gross,
           sum(net_dc) AS exact_net_dc, sum(vat_dc) AS exact_vat_dc, sum(gross_dc) AS exact_gross_dc,
           coalesce(min(currency) FILTER (WHERE NOT cancelled), min(currency)) AS exact_currency,
           coalesce(bool_or(NOT cancelled AND currency IS DISTINCT FROM doc_currency), false) AS currency_bad,
           coalesce(bool_or(NOT cancelled AND coalesce(status, 50) < 50), false) AS has_draft,
           coalesce(bool_or(NOT cancelled AND customer_bad), false) AS customer_bad,
           min(entry_number) FILTER (WHERE NOT cancelled AND coalesce(status, 50) < 50) AS draft_entry,
           any_value(acc_id) FILTER (WHERE NOT cancelled) AS acc_id
    FROM c GROUP BY rid
    """),
    # The VAT split. Every document and entry carries a summary of its VAT lines (their sums and,
    # when they all fall in one bucket, that bucket). A document and its one entry with a single
    # bucket each are compared in "fin"; every other row with VAT lines on both sides (several
    # buckets, several entries, no summary) is compared bucket by bucket from its lines here.
    ("cx", """
    CREATE OR REPLACE TEMP TABLE _rc_cx AS
    SELECT doc_id AS rid FROM _rc_doc WHERE s_n IS NULL OR (s_n > 0 AND NOT s_single)
    UNION
    SELECT owner_id FROM _rc_e0 WHERE owner_id IS NOT NULL AND (x_n IS NULL OR (x_n > 0 AND NOT x_single))
    UNION
    SELECT rid FROM _rc_multi WHERE rid > 0
    """),
    ("cmp", "CREATE OR REPLACE TEMP TABLE _rc_cmp AS " + _CMP_SQL.format(rids="SELECT rid FROM _rc_cx")),
    # the VAT split differs (docs/reconcile.md, VAT split): base moved from one bucket to another, or
    # VAT that the base differences at the buckets' rates do not explain (u = 100·ΔVAT − rate·Δbase:
    # summed over the row, and in each bucket that both sides have); a wrong amount booked with its
    # VAT at the right rate is an amount difference only
    ("split", """
    CREATE OR REPLACE TEMP TABLE _rc_split AS
    SELECT rid,
           (bool_or(delta_base > $tol_net) AND bool_or(delta_base < -$tol_net))
           OR abs(sum(exs_vat_unexplained(delta_vat, delta_base, rate))) > $tol_vat * 100
           OR coalesce(bool_or(abs(exs_vat_unexplained(delta_vat, delta_base, rate)) > $tol_vat * 100)
                           FILTER (WHERE shop_base IS NOT NULL AND exact_base IS NOT NULL), false) AS split_bad,
           bool_or(delta_base <> 0 OR delta_vat <> 0) AS split_nonzero
    FROM _rc_cmp GROUP BY rid
    """),
    # every row: the checks (bits ``fl``), the status, and what a slim matched row saves
    ("fin", """
    CREATE OR REPLACE TEMP TABLE _rc_fin AS
    WITH g AS (
        -- rows with one entry: the entry itself
        SELECT e.owner_id AS rid, e.eid, e.entry_id, e.in_period, e.net, e.vat, e.gross, e.dc_same, e.currency,
               coalesce(e.status, 50) < 50 AS draft, e.acc_id, e.x_n, e.x_single, e.x_treatment, e.x_mcountry,
               e.x_rate, e.x_base, e.x_vat
        FROM _rc_e0 e ANTI JOIN _rc_multi m ON m.rid = e.owner_id
        WHERE e.owner_id IS NOT NULL
    ), c AS (
        SELECT d.doc_id AS rid, d.doc_key, d.shop, d.division, d.currency,
               d.net AS shop_net, d.vat AS shop_vat, d.gross AS shop_gross,
               CASE WHEN m.rid IS NOT NULL THEN m.exact_net ELSE g.net END AS exact_net,
               CASE WHEN m.rid IS NOT NULL THEN m.exact_vat ELSE g.vat END AS exact_vat,
               CASE WHEN m.rid IS NOT NULL THEN m.exact_gross ELSE g.gross END AS exact_gross,
               g.eid AS single_eid, g.entry_id AS single_entry_id,
               CASE WHEN m.rid IS NOT NULL THEN m.entry_count WHEN g.eid IS NOT NULL THEN 1 ELSE 0 END AS entry_count,
               CASE WHEN m.rid IS NOT NULL THEN m.live_n WHEN g.eid IS NOT NULL THEN 1 ELSE 0 END AS live,
               CASE WHEN m.rid IS NOT NULL THEN m.live_in_period ELSE CAST(g.in_period AS INTEGER) END AS live_in_period,
               CASE WHEN m.rid IS NOT NULL THEN m.currency_bad
                    ELSE coalesce(g.currency IS DISTINCT FROM d.currency AND g.eid IS NOT NULL, false) END AS currency_bad,
               coalesce(m.has_draft, g.draft, false) AS has_draft,
               CASE WHEN m.rid IS NOT NULL THEN m.customer_bad
                    ELSE exs_customer_bad($customer_check, a.acc_id, a.acc_vatno, a.acc_country,
                                          d.cust_vatno, d.cust_country) END AS customer_bad,
               g.dc_same, v.currency AS division_currency,
               -- the VAT split (4: compared, 2: it differs, 1: any difference): rows of _rc_cx bucket by
               -- bucket (_rc_split), a document and its one entry with one bucket each here by the same
               -- rule (one bucket on both sides: its unexplained VAT; two: base moved across, or the
               -- VAT the two buckets' base does not explain)
               CASE WHEN cx.rid IS NOT NULL
                        THEN CASE WHEN sp.rid IS NOT NULL THEN 4 ELSE 0 END + CASE WHEN sp.split_bad THEN 2 ELSE 0 END
                             + CASE WHEN sp.split_nonzero THEN 1 ELSE 0 END
                    WHEN NOT (coalesce(d.s_n, 0) > 0 AND coalesce(g.x_n, 0) > 0) THEN 0
                    WHEN d.s_single AND g.x_single
                         AND exs_same_bucket(d.s_treatment, d.s_country, d.s_rate, g.x_treatment, g.x_mcountry, g.x_rate)
                        THEN 4 + CASE WHEN abs(exs_vat_unexplained(g.x_vat - d.s_vat, g.x_base - d.s_base, d.s_rate)) > $tol_vat * 100
                                      THEN 2 ELSE 0 END
                             + CASE WHEN g.x_base <> d.s_base OR g.x_vat <> d.s_vat THEN 1 ELSE 0 END
                    ELSE 4 + CASE WHEN (d.s_base > $tol_net AND g.x_base > $tol_net) OR (d.s_base < -$tol_net AND g.x_base < -$tol_net)
                                       OR abs(exs_vat_unexplained(g.x_vat, g.x_base, g.x_rate)
                                              + exs_vat_unexplained(-d.s_vat, -d.s_base, d.s_rate)) > $tol_vat * 100
                                  THEN 2 ELSE 0 END
                         + CASE WHEN d.s_base <> 0 OR d.s_vat <> 0 OR g.x_base <> 0 OR g.x_vat <> 0 THEN 1 ELSE 0 END
               END AS split_bits
        FROM _rc_doc d
        LEFT JOIN g ON g.rid = d.doc_id
        LEFT JOIN _rc_grpm m ON m.rid = d.doc_id
        LEFT JOIN _rc_acc a ON a.acc_id = g.acc_id
        LEFT JOIN _rc_divs v ON v.division = d.division
        LEFT JOIN _rc_cx cx ON cx.rid = d.doc_id
        LEFT JOIN _rc_split sp ON sp.rid = d.doc_id
    ), d AS (
        SELECT c.* EXCLUDE (split_bits), split_bits & 4 <> 0 AS split_compared, split_bits & 2 <> 0 AS split_bad,
               split_bits & 1 <> 0 AS split_nonzero,
               coalesce(exact_net, 0) - shop_net AS d_net, coalesce(exact_vat, 0) - shop_vat AS d_vat,
               coalesce(exact_gross, 0) - shop_gross AS d_gross
        FROM c
    ), f AS (
        SELECT d.*,
               live = 0 AS f_missing,
               live > 1 AS f_duplicated,
               live > 0 AND currency_bad AS f_currency,
               live > 0 AND live_in_period = 0 AS f_other_period,
               live > 0 AND NOT currency_bad
                   AND (abs(d_net) > $tol_net OR (abs(d_gross) > $tol_gross AND abs(d_vat) <= $tol_vat)) AS f_amount,
               -- VAT: from the split where both sides have VAT lines, else the documents' VAT amounts
               live > 0 AND NOT currency_bad AND CASE WHEN split_compared THEN split_bad ELSE abs(d_vat) > $tol_vat END AS f_vat,
               live > 0 AND customer_bad AS f_customer,
               live > 0 AND $flag_draft AND has_draft AS f_draft,
               live > 0 AND NOT currency_bad
                   AND (d_net <> 0 OR d_vat <> 0 OR d_gross <> 0 OR split_nonzero) AS f_nonzero
        FROM d
    ), s AS (
        SELECT f.*,
               CASE
                   WHEN f_missing THEN 'missing_in_exact'
                   WHEN f_duplicated THEN 'duplicated_in_exact'
                   WHEN f_currency THEN 'currency_differs'
                   WHEN f_other_period THEN 'other_period'
                   WHEN f_amount THEN 'amount_differs'
                   WHEN f_vat THEN 'vat_differs'
                   WHEN f_customer THEN 'customer_differs'
                   WHEN f_draft THEN 'draft'
                   WHEN f_nonzero THEN 'matched_within_tolerance'
                   ELSE 'matched'
               END AS status
        FROM f
    )
    SELECT rid, true AS is_doc, doc_key, rid AS doc_row, shop, division,
           shop_net, shop_vat, shop_gross, exact_net, exact_vat, exact_gross,
           single_eid, single_entry_id, entry_count, live, status,
           CASE WHEN f_missing THEN 8 ELSE 0 END | CASE WHEN f_duplicated THEN 16 ELSE 0 END
           | CASE WHEN f_currency THEN 32 ELSE 0 END | CASE WHEN f_other_period THEN 64 ELSE 0 END
           | CASE WHEN f_amount THEN 128 ELSE 0 END | CASE WHEN f_vat THEN 256 ELSE 0 END
           | CASE WHEN f_customer THEN 512 ELSE 0 END | CASE WHEN f_draft THEN 1024 ELSE 0 END
           -- within tolerance: amounts that differ by no more than it, on a row with one live entry
           | CASE WHEN f_nonzero AND NOT f_amount AND NOT f_vat AND live = 1 THEN 2048 ELSE 0 END AS fl,
           -- saved slim (recon_result_matched): matched, one entry, division-currency amounts as booked
           (status = 'matched' AND single_eid IS NOT NULL AND currency = division_currency AND dc_same) AS slim
    FROM s
    """),
    # the rows of Exact entries without a document of the period
    ("fin_exact", """
    INSERT INTO _rc_fin BY NAME
    WITH o AS (
        SELECT rid, any_value(other_owner) AS doc_key, any_value(other_row) AS doc_row, any_value(division) AS division
        FROM _rc_orph GROUP BY rid
    ), g AS (
        SELECT o.rid, e.eid, e.entry_id, e.net, e.vat, e.gross
        FROM _rc_orph o JOIN _rc_e0 e ON e.eid = o.eid
        WHERE o.rid NOT IN (SELECT rid FROM _rc_multi)
    )
    SELECT o.rid, false AS is_doc, o.doc_key, o.doc_row, o.division,
           CASE WHEN m.rid IS NOT NULL THEN m.exact_net ELSE g.net END AS exact_net,
           CASE WHEN m.rid IS NOT NULL THEN m.exact_vat ELSE g.vat END AS exact_vat,
           CASE WHEN m.rid IS NOT NULL THEN m.exact_gross ELSE g.gross END AS exact_gross,
           g.eid AS single_eid, g.entry_id AS single_entry_id,
           coalesce(m.entry_count, 1) AS entry_count, coalesce(m.live_n, 1) AS live,
           CASE WHEN o.doc_key IS NULL THEN 'only_in_exact' ELSE 'other_period' END AS status,
           CASE WHEN o.doc_key IS NULL THEN 1 ELSE 2 END | CASE WHEN coalesce(m.live_n, 1) > 1 THEN 4 ELSE 0 END AS fl,
           false AS slim
    FROM o LEFT JOIN g ON g.rid = o.rid LEFT JOIN _rc_grpm m ON m.rid = o.rid
    """),
]

#: after "e0", in a run of some of the shops of a division (``_rc_others`` not empty): entries of
#: the period that no document of the run takes and whose reference carries the prefix of a shop
#: outside the run (and not the longer prefix of a shop inside it) are that shop's, not the run's
_LEAVE_OTHER_SHOPS = """
DELETE FROM _rc_e0 e WHERE e.owner_id IS NULL AND e.oref IS NOT NULL AND EXISTS (
    SELECT 1 FROM _rc_others o
    WHERE o.division = e.division AND starts_with(e.oref, o.p_norm) AND NOT EXISTS (
        SELECT 1 FROM _rc_shops i
        WHERE i.division = o.division AND length(i.p_norm) > length(o.p_norm) AND starts_with(e.oref, i.p_norm)))
"""

#: steps whose joins are written with the table to hash on the right (DuckDB would otherwise hash
#: the wide side when both have a million rows)
_FIXED_BUILD_SIDE = frozenset({"e0"})

_TEMP_TABLES = tuple(f"_rc_{name}" for name, _ in reversed(_STEPS)) + ("_rc_sd", "_rc_shops", "_rc_others")

#: matched documents with one entry: key, entry and amounts (the recon_results view rebuilds the rest)
_INSERT_MATCHED = """
INSERT INTO recon_result_matched BY NAME
SELECT $run_id AS run_id, doc_key, shop, division, single_entry_id AS entry_id,
       shop_net AS net, shop_vat AS vat, shop_gross AS gross
FROM _rc_fin WHERE slim
"""

#: what the saved rows that are not slim show of their shop documents (read once, by row id)
_SAVED_DOCS = """
CREATE OR REPLACE TEMP TABLE _rc_sd AS
SELECT sd.rowid + 1 AS doc_row, sd.shop, sd.treatment, sd.kind, sd.doc_number, sd.doc_date, sd.vat_number,
       sd.base_currency, sd.net_base, sd.vat_base, sd.gross_base, sd.vat_country, sd.currency
FROM shop_documents sd SEMI JOIN (SELECT doc_row FROM _rc_fin WHERE NOT slim) f ON f.doc_row = sd.rowid + 1
"""

#: every other row with all its columns, sentence and flags
_INSERT_RESULTS = f"""
INSERT INTO recon_result_rows BY NAME
WITH f AS (SELECT * FROM _rc_fin WHERE NOT slim),
d AS (SELECT d.doc_id, d.ref FROM _rc_doc d SEMI JOIN f ON f.rid = d.doc_id),
kd AS (SELECT kd.doc_id, kd.doc_key FROM _rc_doc kd SEMI JOIN _rc_dup k ON k.owner_id = kd.doc_id),
st AS (
    SELECT rid, string_agg(exs_bucket_text(treatment, country, rate)
                           || ': shop ' || coalesce(exs_amt(shop_base), '-') || ' / '
                           || coalesce(exs_amt(shop_vat), '-') || ', Exact '
                           || coalesce(exs_amt(exact_base), '-') || ' / ' || coalesce(exs_amt(exact_vat), '-'),
                           '; ' ORDER BY treatment, country, rate) AS split_text
    FROM _rc_cmp SEMI JOIN f USING (rid)
    -- only the buckets the sentence names are formatted (a row with none has no split_text)
    WHERE abs(delta_base) > $tol_net OR abs(delta_vat) > $tol_vat
    GROUP BY rid
),
e AS (SELECT e.*, x.* EXCLUDE (eid) FROM _rc_e0 e JOIN ({_ENTRY_DETAIL.format(eids='SELECT single_eid AS eid FROM f')}) x ON x.eid = e.eid),
o AS (SELECT rid, any_value(ekey) AS ekey, any_value(ref) AS ref FROM _rc_orph SEMI JOIN f USING (rid) GROUP BY rid),
-- shop documents the last pull could not read (shop_rejects), by the key an entry would match them with
rj AS (
    SELECT s.division, exs_match_ref(s.p_joins, s.p_norm, NULL, s.prefix, r.kind, r.doc_number) AS ref,
           arg_min(r.shop || ' could not read ' || r.record_key || ' at its last pull (' || r.message || ')', r.doc_key)
               AS unreadable
    FROM shop_rejects r JOIN _rc_shops s ON s.shop = r.shop
    WHERE s.division IS NOT NULL
    GROUP BY ALL
),
x AS (
    SELECT f.* EXCLUDE (shop), sd.shop, sd.treatment, sd.kind, sd.doc_number, sd.doc_date,
           CASE WHEN f.is_doc THEN sd.currency END AS currency, exs_country(sd.vat_country) AS vat_country,
           coalesce(f.exact_net, 0) - coalesce(f.shop_net, 0) AS d_net,
           coalesce(f.exact_vat, 0) - coalesce(f.shop_vat, 0) AS d_vat,
           coalesce(f.exact_gross, 0) - coalesce(f.shop_gross, 0) AS d_gross,
           f.fl & 2048 <> 0 AS tolerated, v.currency AS division_currency,
           -- the YourRef exactsync writes for it (exactsync.reference.reference_for), as typed
           exs_doc_ref(sh.prefix, sd.kind, sd.doc_number) AS push_ref,
           sd.vat_number, sd.base_currency, sd.net_base, sd.vat_base, sd.gross_base,
           coalesce(d.ref, o.ref) AS ref, o.ekey,
           CASE WHEN m.rid IS NOT NULL THEN m.entry_ids WHEN e.eid IS NOT NULL THEN [e.entry_id]
                ELSE []::VARCHAR[] END AS entry_ids,
           CASE WHEN m.rid IS NOT NULL THEN m.entry_numbers WHEN e.eid IS NOT NULL THEN [e.entry_number]
                ELSE []::INTEGER[] END AS entry_numbers,
           coalesce(m.entry_date, e.entry_date) AS entry_date, coalesce(m.your_ref, e.your_ref) AS your_ref,
           strftime(coalesce(m.book_date, e.book_date), '%Y-%m') AS book_month,
           coalesce(m.exact_currency, e.currency) AS exact_currency,
           coalesce(m.exact_net_dc, e.net_dc) AS exact_net_dc, coalesce(m.exact_vat_dc, e.vat_dc) AS exact_vat_dc,
           coalesce(m.exact_gross_dc, e.gross_dc) AS exact_gross_dc,
           coalesce(m.draft_entry, CASE WHEN coalesce(e.status, 50) < 50 THEN e.entry_number END) AS draft_entry,
           a.acc_code, a.acc_country, a.acc_vat, st.split_text, kd.doc_key AS key_owner, rj.unreadable
    FROM f
    LEFT JOIN d ON d.doc_id = f.rid
    LEFT JOIN o ON o.rid = f.rid
    LEFT JOIN _rc_sd sd ON sd.doc_row = f.doc_row
    LEFT JOIN e ON e.eid = f.single_eid
    LEFT JOIN _rc_grpm m ON m.rid = f.rid
    LEFT JOIN _rc_acc a ON a.acc_id = coalesce(e.acc_id, m.acc_id)
    LEFT JOIN st ON st.rid = f.rid
    LEFT JOIN _rc_dup k ON k.doc_id = f.rid
    LEFT JOIN kd ON kd.doc_id = k.owner_id
    LEFT JOIN _rc_divs v ON v.division = f.division
    LEFT JOIN _rc_shops sh ON sh.shop = sd.shop AND f.is_doc
    LEFT JOIN rj ON rj.division = f.division AND rj.ref = o.ref AND NOT f.is_doc
), y AS (
    SELECT x.*,
           -- the reference as it is typed (Exact's YourRef, else the one exactsync would write), not the match key
           coalesce(your_ref, push_ref, ref) AS shown_ref,
           CASE WHEN NOT is_doc THEN NULL
                WHEN currency = division_currency OR division_currency IS NULL THEN shop_net
                WHEN base_currency = division_currency THEN net_base END AS shop_net_dc,
           CASE WHEN NOT is_doc THEN NULL
                WHEN currency = division_currency OR division_currency IS NULL THEN shop_vat
                WHEN base_currency = division_currency THEN vat_base END AS shop_vat_dc,
           CASE WHEN NOT is_doc THEN NULL
                WHEN currency = division_currency OR division_currency IS NULL THEN shop_gross
                WHEN base_currency = division_currency THEN gross_base END AS shop_gross_dc
    FROM x
)
SELECT $run_id AS run_id,
       CASE WHEN is_doc THEN 'doc:' || doc_key ELSE ekey END AS result_key,
       doc_key, shop, kind, doc_number, doc_date, division,
       shown_ref AS your_ref,
       entry_ids, entry_numbers,
       entry_date, status, CASE WHEN status = 'matched' THEN NULL ELSE status END AS cause,
       {_FLAGS_SQL.replace('f.fl', 'fl')} AS flags,
       CASE status
           WHEN 'matched' THEN NULL
           WHEN 'only_in_exact' THEN
               CASE WHEN ref IS NULL THEN 'Exact entry without a reference (YourRef); no shop document can match it'
                    WHEN unreadable IS NOT NULL
                        THEN 'no shop document with reference ' || shown_ref || ' in the store: ' || unreadable
                             || '; fix it in the shop and pull again (see the sync log)'
                    ELSE 'no shop document with reference ' || shown_ref || ' in the shops of this division' END
               || CASE WHEN live = 0 THEN ' (booked and reversed: nets to zero)' ELSE '' END
           WHEN 'other_period' THEN
               CASE WHEN NOT is_doc
                    THEN 'booked in this period for shop document ' || doc_key || ' dated ' || CAST(doc_date AS VARCHAR)
                    ELSE 'document dated ' || CAST(doc_date AS VARCHAR) || ', booked in period ' || coalesce(book_month, '?') END
           WHEN 'missing_in_exact' THEN
               CASE WHEN division IS NULL THEN 'the shop has no Exact division configured'
                    WHEN ref IS NULL THEN 'the document has no number to build a reference from'
                    WHEN key_owner IS NOT NULL THEN 'reference ' || shown_ref || ' is also used by ' || key_owner || ', which takes its entries'
                    WHEN coalesce(entry_count, 0) > 0 THEN 'booked and reversed in Exact (' || entry_count || ' entries cancel out)'
                    ELSE 'no Exact entry with reference ' || shown_ref END
           WHEN 'duplicated_in_exact' THEN live || ' entries with reference ' || shown_ref || ' are live in Exact'
           WHEN 'currency_differs' THEN 'document in ' || currency || ', booked in ' || coalesce(exact_currency, '?')
           WHEN 'amount_differs' THEN 'net differs by ' || exs_amt(d_net) || ', VAT by ' || exs_amt(d_vat)
                                    || ', gross by ' || exs_amt(d_gross)
           WHEN 'vat_differs' THEN
               CASE WHEN abs(d_vat) > $tol_vat THEN 'VAT differs by ' || exs_amt(d_vat) || '. ' ELSE '' END
               || coalesce('VAT split: ' || split_text, '')
           WHEN 'customer_differs' THEN 'booked on account ' || coalesce(acc_code, '?') || ' ('
               || coalesce(acc_country, 'no country') || coalesce(', ' || acc_vat, '') || '); the document is for '
               || coalesce(vat_country, 'no country') || coalesce(', ' || vat_number, '')
           WHEN 'draft' THEN 'entry ' || coalesce(CAST(draft_entry AS VARCHAR), '?') || ' is open (Status 20), not processed'
           WHEN 'matched_within_tolerance' THEN 'within tolerance: net ' || exs_amt(d_net) || ', VAT '
               || exs_amt(d_vat) || ', gross ' || exs_amt(d_gross)
       END AS detail,
       currency, exact_currency, division_currency,
       vat_country, treatment,
       shop_net, shop_vat, shop_gross,
       coalesce(exact_net, 0) AS exact_net, coalesce(exact_vat, 0) AS exact_vat, coalesce(exact_gross, 0) AS exact_gross,
       -- a row booked in another currency has no delta in the document's: its two sides are in two
       -- currencies (the division-currency deltas below compare them)
       CASE WHEN status <> 'currency_differs' THEN d_net END AS delta_net,
       CASE WHEN status <> 'currency_differs' THEN d_vat END AS delta_vat,
       CASE WHEN status <> 'currency_differs' THEN d_gross END AS delta_gross,
       shop_net_dc, shop_vat_dc, shop_gross_dc,
       coalesce(exact_net_dc, 0) AS exact_net_dc, coalesce(exact_vat_dc, 0) AS exact_vat_dc,
       coalesce(exact_gross_dc, 0) AS exact_gross_dc,
       -- a document without amounts in the division's currency has no DC delta (not Exact's whole amount)
       CASE WHEN NOT (is_doc AND shop_net_dc IS NULL) THEN coalesce(exact_net_dc, 0) - coalesce(shop_net_dc, 0) END
           AS delta_net_dc,
       CASE WHEN NOT (is_doc AND shop_vat_dc IS NULL) THEN coalesce(exact_vat_dc, 0) - coalesce(shop_vat_dc, 0) END
           AS delta_vat_dc,
       CASE WHEN NOT (is_doc AND shop_gross_dc IS NULL) THEN coalesce(exact_gross_dc, 0) - coalesce(shop_gross_dc, 0) END
           AS delta_gross_dc,
       CASE WHEN tolerated THEN d_net ELSE 0 END AS tolerated_net,
       CASE WHEN tolerated THEN d_vat ELSE 0 END AS tolerated_vat,
       CASE WHEN tolerated THEN d_gross ELSE 0 END AS tolerated_gross,
       coalesce(entry_count, 0) AS entry_count, live AS live_count
FROM y
"""

#: the per-bucket comparison of every other row that is not matched (the drill-down shows it): a
#: document and its one entry, one bucket each, straight from their line summaries
_MORE_CMP = """
INSERT INTO _rc_cmp BY NAME
WITH f AS (
    SELECT rid, single_eid FROM _rc_fin
    WHERE status <> 'matched' AND is_doc AND single_eid IS NOT NULL AND rid NOT IN (SELECT rid FROM _rc_cx)
), p AS (
    SELECT f.rid, exs_cmp_treatment(d.s_treatment, d.s_rate) AS st, exs_cmp_country(d.s_treatment, d.s_country) AS sc,
           d.s_rate AS sr, d.s_base AS sb, d.s_vat AS sv,
           exs_cmp_treatment(e.x_treatment, e.x_rate) AS xt, exs_cmp_country(e.x_treatment, e.x_mcountry) AS xc,
           e.x_rate AS xr, e.x_base AS xb, e.x_vat AS xv, e.x_base_dc AS xbd, e.x_vat_dc AS xvd
    FROM f
    JOIN (SELECT d.* FROM _rc_doc d SEMI JOIN f ON f.rid = d.doc_id) d ON d.doc_id = f.rid
    JOIN (SELECT e.* FROM _rc_e0 e SEMI JOIN f ON f.single_eid = e.eid) e ON e.eid = f.single_eid
    WHERE d.s_n > 0 AND e.x_n > 0
), q AS (SELECT p.*, (st = xt AND sc = xc AND sr = xr) AS same FROM p)
SELECT rid, st AS treatment, nullif(sc, '') AS country, sr AS rate, sb AS shop_base, sv AS shop_vat,
       CASE WHEN same THEN xb END AS exact_base, CASE WHEN same THEN xv END AS exact_vat,
       CASE WHEN same THEN xbd END AS exact_base_dc, CASE WHEN same THEN xvd END AS exact_vat_dc,
       CASE WHEN same THEN xb ELSE 0 END - sb AS delta_base, CASE WHEN same THEN xv ELSE 0 END - sv AS delta_vat
FROM q
UNION ALL
SELECT rid, xt, nullif(xc, ''), xr, NULL, NULL, xb, xv, xbd, xvd, xb, xv FROM q WHERE NOT same
"""

#: the per-bucket comparison of every row that is not matched, in document currency and in the
#: division's: Exact's DC amounts of the bucket's lines (from the lines in "cmp", from the entry's
#: summary in "more_cmp"); the shop's bucket amounts when the document
#: is in the division currency, else its base-currency amounts when that is the division currency
#: and the document has one bucket (they are the bucket's), else unknown (no DC delta); no rounding
_INSERT_RESULT_VAT = """
INSERT INTO recon_result_vat BY NAME
WITH c AS MATERIALIZED (
    SELECT c.*, f.doc_key, f.doc_row, f.division, f.status = 'currency_differs' AS two_currencies
    FROM _rc_cmp c JOIN _rc_fin f ON f.rid = c.rid
    WHERE f.status <> 'matched' AND f.is_doc
), n AS (
    SELECT rid, count(*) FILTER (WHERE shop_base IS NOT NULL) AS shop_buckets FROM c GROUP BY rid
), k AS (
    SELECT c.*, sd.net_base, sd.vat_base,
           -- 1: the shop bucket's own amounts, 2: the document's base-currency amounts, 0: unknown
           CASE WHEN sd.currency = v.currency OR v.currency IS NULL OR n.shop_buckets = 0 THEN 1
                WHEN sd.base_currency = v.currency AND n.shop_buckets = 1 THEN 2 ELSE 0 END AS shop_dc
    FROM c JOIN n ON n.rid = c.rid
    LEFT JOIN _rc_sd sd ON sd.doc_row = c.doc_row
    LEFT JOIN _rc_divs v ON v.division = c.division
), y AS (
    SELECT k.*,
           CASE WHEN shop_base IS NULL THEN NULL WHEN shop_dc = 1 THEN shop_base WHEN shop_dc = 2 THEN net_base END
               AS shop_base_dc,
           CASE WHEN shop_vat IS NULL THEN NULL WHEN shop_dc = 1 THEN shop_vat WHEN shop_dc = 2 THEN vat_base END
               AS shop_vat_dc
    FROM k
)
SELECT $run_id AS run_id, 'doc:' || doc_key AS result_key, treatment, country, rate, shop_base, shop_vat,
       exact_base, exact_vat,
       CASE WHEN NOT two_currencies THEN delta_base END AS delta_base,
       CASE WHEN NOT two_currencies THEN delta_vat END AS delta_vat,
       shop_base_dc, shop_vat_dc, exact_base_dc, exact_vat_dc,
       CASE WHEN shop_dc > 0 THEN coalesce(exact_base_dc, 0) - coalesce(shop_base_dc, 0) END AS delta_base_dc,
       CASE WHEN shop_dc > 0 THEN coalesce(exact_vat_dc, 0) - coalesce(shop_vat_dc, 0) END AS delta_vat_dc
FROM y
"""

#: VAT per country and rate (OSS shape): documents and entries with one VAT bucket from their
#: summary, the others from their lines
_INSERT_VAT = """
INSERT INTO recon_vat BY NAME
WITH shop AS (
    SELECT shop, division, currency, s_treatment AS treatment, s_country AS country, s_rate AS rate,
           sum(s_base) AS base, sum(s_vat) AS vat, count(*) AS documents
    FROM _rc_doc WHERE s_single GROUP BY ALL
    UNION ALL
    SELECT shop, division, currency, treatment, country, rate, sum(base), sum(vat), count(DISTINCT rid)
    FROM (""" + _SHOP_LINES.format(rids="SELECT doc_id AS rid FROM _rc_doc WHERE s_n IS NULL OR (s_n > 0 AND NOT s_single)") + """) GROUP BY ALL
), ex AS (
    SELECT coalesce(e.shop, o.other_shop) AS shop, e.in_period, e.division, e.currency, e.x_treatment AS treatment,
           coalesce(e.x_mcountry, CASE WHEN e.x_treatment = 'domestic' THEN d.country ELSE a.acc_country END) AS country,
           e.x_rate AS rate, sum(e.x_base) AS base, sum(e.x_vat) AS vat, count(*) AS documents
    FROM (SELECT * FROM _rc_e0 WHERE x_single) e
    LEFT JOIN _rc_orph o ON o.eid = e.eid
    LEFT JOIN _rc_divs d ON d.division = e.division
    LEFT JOIN _rc_acc a ON a.acc_id = e.acc_id
    GROUP BY ALL
    UNION ALL
    SELECT shop, in_period, division, currency, treatment, country, rate, sum(base), sum(vat), count(DISTINCT eid)
    FROM (""" + _EXACT_LINES.format(eids="SELECT eid FROM _rc_e0 WHERE x_n IS NULL OR (x_n > 0 AND NOT x_single)") + """) GROUP BY ALL
)
SELECT $run_id AS run_id, 'shop' AS scope, shop, division, currency, treatment, country, rate,
       sum(base) AS base, sum(vat) AS vat, sum(documents) AS documents
FROM shop GROUP BY ALL
UNION ALL
SELECT $run_id, CASE WHEN in_period THEN 'exact' ELSE 'exact_other_period' END, shop, division, currency, treatment,
       country, rate, sum(base), sum(vat), sum(documents)
FROM ex GROUP BY ALL
"""

_INSERT_VMAP = """
INSERT INTO recon_vat_map BY NAME
SELECT $run_id AS run_id, division, vat_code, country, rate, treatment, source FROM _rc_vmap
"""

_SAVE_STEPS = (("more_cmp", _MORE_CMP), ("ins_matched", _INSERT_MATCHED), ("sd", _SAVED_DOCS),
               ("ins_rows", _INSERT_RESULTS),
               ("ins_rvat", _INSERT_RESULT_VAT), ("ins_vat", _INSERT_VAT), ("ins_vmap", _INSERT_VMAP))

#: per status: rows and amounts, with what the totals add up (one scan of the run's rows); the
#: amounts in document currency (summed as they are, whatever the currency) and in the division's
#: (``*_dc``: what the totals mean when documents come in several currencies), with the documents
#: that have no division-currency amount (``dc_unknown``, left out of the ``*_dc`` sums)
_SUMMARY_SELECT = """
SELECT status, count(*) AS count,
       coalesce(sum(shop_net), 0), coalesce(sum(shop_vat), 0), coalesce(sum(shop_gross), 0),
       coalesce(sum(exact_net), 0), coalesce(sum(exact_vat), 0), coalesce(sum(exact_gross), 0),
       coalesce(sum(delta_gross), 0),
       count(*) FILTER (WHERE shop_gross IS NOT NULL), coalesce(sum(entry_count), 0),
       coalesce(sum(tolerated_net), 0), coalesce(sum(tolerated_vat), 0), coalesce(sum(tolerated_gross), 0),
       count(*) FILTER (WHERE tolerated_net <> 0 OR tolerated_vat <> 0 OR tolerated_gross <> 0),
       coalesce(sum(shop_net_dc), 0), coalesce(sum(shop_vat_dc), 0), coalesce(sum(shop_gross_dc), 0),
       coalesce(sum(exact_net_dc), 0), coalesce(sum(exact_vat_dc), 0), coalesce(sum(exact_gross_dc), 0),
       coalesce(sum(delta_gross_dc), 0),
       count(*) FILTER (WHERE shop_gross IS NOT NULL AND shop_gross_dc IS NULL)
FROM {source} GROUP BY status
"""

_AMOUNT_KEYS = ("shop_net", "shop_vat", "shop_gross", "exact_net", "exact_vat", "exact_gross")
_DC_KEYS = tuple(f"{k}_dc" for k in _AMOUNT_KEYS)


def _summary(con: duckdb.DuckDBPyConnection, source: str,
             params: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    zero = Decimal("0")
    by_status: dict[str, dict[str, Any]] = {
        s: {"count": 0, **{k: zero for k in _AMOUNT_KEYS}, "delta_gross": zero,
            **{k: zero for k in _DC_KEYS}, "delta_gross_dc": zero, "dc_unknown": 0} for s in PRECEDENCE}
    totals: dict[str, Any] = {"documents": 0, "exact_entries": 0, "results": 0, **{k: zero for k in _AMOUNT_KEYS},
                              **{k: zero for k in _DC_KEYS}, "dc_unknown": 0}
    tolerated: dict[str, Any] = {"net": zero, "vat": zero, "gross": zero, "rows": 0}
    for row in con.execute(_SUMMARY_SELECT.format(source=source), params).fetchall():
        by_status[row[0]] = {"count": row[1], **dict(zip(_AMOUNT_KEYS, row[2:8])), "delta_gross": row[8],
                             **dict(zip(_DC_KEYS, row[15:21])), "delta_gross_dc": row[21], "dc_unknown": row[22]}
        totals["documents"] += row[9]
        totals["exact_entries"] += row[10]
        totals["results"] += row[1]
        totals["dc_unknown"] += row[22]
        for k, v in zip(_AMOUNT_KEYS + _DC_KEYS, (*row[2:8], *row[15:21])):
            totals[k] += v
        for k, v in zip(("net", "vat", "gross", "rows"), row[11:15]):
            tolerated[k] += v
    return by_status, totals, tolerated


def exchange_of(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """What :attr:`RunSummary.exchange` holds, from a saved run's rows: its matched documents in a
    currency other than their division's (saved as full rows, never slim) whose amounts in the
    division's currency differ from Exact's. ``{}`` when there are none."""
    n, currencies, net, vat, gross = con.execute("""
        SELECT count(*), list_sort(list(DISTINCT currency)), sum(delta_net_dc), sum(delta_vat_dc), sum(delta_gross_dc)
        FROM recon_result_rows
        WHERE run_id = ? AND status = 'matched' AND doc_key IS NOT NULL AND division_currency IS NOT NULL
          AND currency IS DISTINCT FROM division_currency
          AND (delta_net_dc <> 0 OR delta_vat_dc <> 0 OR delta_gross_dc <> 0)""", [run_id]).fetchall()[0]
    if not n:
        return {}
    return {"documents": n, "currencies": list(currencies), "net": net, "vat": vat, "gross": gross}


def summary_of(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(by_status, totals, tolerated) of a saved run, computed from its result rows."""
    return _summary(con, "(SELECT * FROM recon_result_amounts WHERE run_id = ?)", [run_id])


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _new_run_id(created_at: dt.datetime) -> str:
    return f"{created_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"


def run_reconciliation(
    store: Any,
    settings: Any,
    period: str,
    *,
    divisions: Sequence[int] | None = None,
    shops: Sequence[str] | None = None,
    tolerance: Any = None,
    customer_check: str = "strict",
    flag_draft: bool = True,
    clock: Clock | None = None,
    timings: dict[str, float] | None = None,
) -> RunSummary:
    """Reconcile ``period`` and save the run; returns its summary (see the module docstring).

    ``tolerance``: one amount for net, VAT and gross, or ``{"net": …, "vat": …, "gross": …}``;
    default ``settings.reconcile.tolerance``. ``customer_check``: one of :data:`CUSTOMER_CHECKS`.
    ``flag_draft``: an open (Status 20) entry is a difference (``draft``) when nothing else differs.
    ``timings``: when given, filled with wall seconds per step and for the commit (bench/reconcile.py
    prints them).
    """
    start, end = parse_period(period)
    period = f"{start:%Y-%m}"
    if customer_check not in CUSTOMER_CHECKS:
        raise ReconcileError(f"customer_check must be one of {', '.join(CUSTOMER_CHECKS)}")
    default_tol = getattr(getattr(settings, "reconcile", None), "tolerance", Decimal("0.01"))
    tol = Tolerance.of(tolerance, Decimal(str(default_tol)))
    clock = clock or SYSTEM_CLOCK
    created_at = clock.now().replace(tzinfo=None)
    run_id = _new_run_id(created_at)
    began = time.perf_counter()
    timings = {} if timings is None else timings

    with store.atomic() as con:
        shop_rows, divs, others = _scope(con, settings, divisions, shops)
        install_reference_macro(con)
        con.execute("SET preserve_insertion_order = false")  # this connection only; reads ORDER BY
        try:
            for statement in _HELPERS.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute("CREATE OR REPLACE TEMP TABLE _rc_shops (shop VARCHAR, division INTEGER, prefix VARCHAR, home VARCHAR, "
                        "p_norm VARCHAR, p_joins BOOLEAN)")
            if shop_rows:
                con.executemany("INSERT INTO _rc_shops VALUES (?, ?, ?, ?, ?, ?)",
                                [[*r, *normalized_prefix(r[2])] for r in shop_rows])
            other_prefixes = [(d, normalized_prefix(p)[0]) for _n, d, p in others if normalized_prefix(p)[0]]
            if other_prefixes:
                con.execute("CREATE OR REPLACE TEMP TABLE _rc_others (division INTEGER, p_norm VARCHAR)")
                con.executemany("INSERT INTO _rc_others VALUES (?, ?)", other_prefixes)
            params = {
                "start": start, "end": end, "divisions": divs,
                "tol_net": tol.net, "tol_vat": tol.vat, "tol_gross": tol.gross,
                "customer_check": customer_check, "flag_draft": bool(flag_draft), "run_id": run_id,
            }
            for name, step in _STEPS:
                t0 = time.perf_counter()
                if name in _FIXED_BUILD_SIDE:
                    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
                con.execute(step, {k: v for k, v in params.items() if f"${k}" in step})
                if name in _FIXED_BUILD_SIDE:
                    con.execute("RESET disabled_optimizers")
                if name == "e0" and other_prefixes:
                    con.execute(_LEAVE_OTHER_SHOPS)
                timings[name] = time.perf_counter() - t0
            for name, step in _SAVE_STEPS:
                t0 = time.perf_counter()
                con.execute(step, {k: v for k, v in params.items() if f"${k}" in step})
                timings[name] = time.perf_counter() - t0
            t0 = time.perf_counter()
            by_status, totals, tolerated = summary_of(con, run_id)  # the saved rows, as a reopened run sums them
            exchange = exchange_of(con, run_id)
            timings["summary"] = time.perf_counter() - t0
            currencies = {str(d): c for d, c in con.execute("SELECT division, currency FROM _rc_divs ORDER BY division").fetchall()}
            duration_ms = int((time.perf_counter() - began) * 1000)
            run_params = {"period": period, "start": start.isoformat(), "end": end.isoformat(),
                          "divisions": divs, "shops": [r[0] for r in shop_rows],
                          "shop_divisions": {r[0]: r[1] for r in shop_rows},
                          "reference_prefixes": {r[0]: r[2] for r in shop_rows},
                          "tolerance": tol.as_dict(), "customer_check": customer_check, "flag_draft": bool(flag_draft),
                          "division_currencies": currencies}
            warnings = _freshness(con, settings, shop_rows, divs, period, end, created_at) + _empty_sides(
                totals, period, [r[0] for r in shop_rows], divs) + _unreadable(con, [r[0] for r in shop_rows]) + _partial_scope(
                shop_rows, others)
            summary = {"by_status": by_status, "totals": totals, "tolerated": tolerated, "warnings": warnings,
                       "exchange": exchange}
            con.execute(
                "INSERT INTO recon_runs (run_id, created_at, period, divisions, shops, tolerance, params, summary, "
                "engine_version, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, created_at, period, divs, [r[0] for r in shop_rows], json.dumps(tol.as_dict()),
                 json.dumps(_jsonable(run_params)), json.dumps(_jsonable(summary)), ENGINE_VERSION, duration_ms],
            )
            for name in _TEMP_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {name}")
        finally:
            remove_reference_macro(con)
        committing = time.perf_counter()
    # DuckDB's commit, with the checkpoint it starts when the write-ahead log passes its threshold
    timings["commit"] = time.perf_counter() - committing

    return RunSummary(
        run_id=run_id, created_at=created_at, period=period, divisions=divs, shops=[r[0] for r in shop_rows],
        tolerance=tol.as_dict(), params=_jsonable(run_params), engine_version=ENGINE_VERSION,
        duration_ms=duration_ms, by_status=by_status, totals=totals, tolerated=tolerated, warnings=warnings,
        exchange=exchange,
    )
