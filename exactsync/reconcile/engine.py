"""The reconciliation engine: SQL in DuckDB over the canonical tables, saved as a run.

One run = one period (``YYYY-MM``), some divisions and shops, a tolerance. The steps (all SQL, in
one write transaction, temporary tables ``_rc_*`` on the run's connection):

1. **scope** — the shops (each maps to a division and a YourRef prefix through
   :class:`~exactsync.settings.ShopSettings`) and the divisions of the run;
2. **keys** — every shop document gets ``(division, exs_norm_ref(prefix + [CN-] + number))``,
   every Exact entry ``(division, exs_norm_ref(YourRef))`` (one rule: :mod:`.sqlref`);
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
from exactsync.reference import CREDIT_MARKER

__all__ = [
    "ReconcileError",
    "Tolerance",
    "RunSummary",
    "CUSTOMER_CHECKS",
    "parse_period",
    "run_reconciliation",
    "summary_of",
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
        return d


def parse_period(period: str) -> tuple[dt.date, dt.date]:
    """``'2026-10'`` → (2026-10-01, 2026-11-01): first day and the day after the last."""
    text = str(period).strip()
    try:
        year, month = (int(x) for x in text.split("-"))
        start = dt.date(year, month, 1)
    except (ValueError, TypeError):
        raise ReconcileError(f"period {period!r} is not a month like 2026-10") from None
    if len(text) != 7:
        raise ReconcileError(f"period {period!r} is not a month like 2026-10")
    end = start + dt.timedelta(days=calendar.monthrange(year, month)[1])
    return start, end


# ----------------------------------------------------------------------------- scope


def _scope(con: duckdb.DuckDBPyConnection, settings: Any, divisions: Iterable[int] | None,
           shops: Iterable[str] | None) -> tuple[list[tuple[str, int | None, str, str]], list[int]]:
    """(shop, division, prefix, home_country) rows and the divisions of a run."""
    configured: dict[str, Any] = dict(getattr(settings, "shops", {}) or {})
    in_data = {r[0] for r in con.execute("SELECT DISTINCT shop FROM shop_documents").fetchall()}
    wanted_divs = sorted({int(d) for d in divisions}) if divisions is not None else None
    if shops is not None:
        names = list(dict.fromkeys(shops))
        for name in names:
            if name not in configured and name not in in_data:
                known = ", ".join(sorted(set(configured) | in_data)) or "none"
                raise ReconcileError(f"unknown shop {name!r} (known: {known})")
    elif configured:
        names = sorted(configured)
    else:
        names = sorted(in_data)

    if wanted_divs is not None:
        divs = wanted_divs
    else:
        found = {s.division for n, s in configured.items() if n in names and s.division is not None}
        if shops is None:
            found |= {int(d) for d in (getattr(getattr(settings, "exact", None), "divisions", None) or [])}
        if not found:
            found = {r[0] for r in con.execute(
                "SELECT division FROM exact_entries UNION SELECT division FROM exact_divisions").fetchall()}
        divs = sorted(found)

    rows = []
    for name in names:
        shop = configured.get(name)
        division = shop.division if shop is not None else None
        if division is None and len(divs) == 1:
            division = divs[0]  # an unconfigured shop next to exactly one division books there
        if wanted_divs is not None and shops is None and division not in wanted_divs:
            continue
        prefix = (shop.reference_prefix if shop is not None else "") or ""
        home = (shop.home_country if shop is not None else "") or "NL"
        rows.append((name, division, prefix, home))
    return rows, divs


# ----------------------------------------------------------------------------- SQL

_HELPERS = r"""
CREATE OR REPLACE TEMP MACRO exs_country(c) AS
    CASE upper(trim(c)) WHEN 'EL' THEN 'GR' WHEN 'UK' THEN 'GB' ELSE nullif(upper(trim(c)), '') END;
CREATE OR REPLACE TEMP MACRO exs_vatno(v) AS
    nullif(regexp_replace(regexp_replace(upper(coalesce(v, '')), '[^A-Z0-9]', '', 'g'), '^[A-Z]{2}', ''), '');
CREATE OR REPLACE TEMP MACRO exs_cmp_treatment(t) AS
    CASE WHEN t IN ('export', 'exempt') THEN 'zero_rated' ELSE t END;
CREATE OR REPLACE TEMP MACRO exs_money(x) AS CAST(x AS DECIMAL(18,4));
"""

_STEPS: list[str] = [
    # divisions of the run, with the currency and home country used for their domestic VAT
    """
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
    """,
    # shop documents of the shops in scope, with their key; in_period = dated in the month
    f"""
    CREATE OR REPLACE TEMP TABLE _rc_doc AS
    SELECT row_number() OVER () AS doc_id, d.doc_key, d.shop, d.kind, d.doc_number, d.doc_date, d.currency, d.base_currency,
           d.vat_country, d.billing_country, d.ship_country, d.vat_number, d.treatment, d.customer_name,
           d.net, d.vat, d.gross, d.net_base, d.vat_base, d.gross_base,
           s.division,
           {MACRO}(s.prefix || CASE WHEN d.kind = 'credit_note' THEN $marker ELSE '' END || d.doc_number) AS ref,
           (d.doc_date >= $start AND d.doc_date < $end) AS in_period
    FROM shop_documents d JOIN _rc_shops s ON s.shop = d.shop
    """,
    # the owner of each key among the in-period documents, and among documents of other months
    """
    CREATE OR REPLACE TEMP TABLE _rc_key AS
    SELECT division, ref, min(doc_key) AS owner, arg_min(doc_id, doc_key) AS owner_id, count(*) AS docs
    FROM _rc_doc WHERE in_period AND ref IS NOT NULL AND division IS NOT NULL GROUP BY division, ref
    """,
    """
    CREATE OR REPLACE TEMP TABLE _rc_okey AS
    SELECT division, ref, min(doc_key) AS owner
    FROM _rc_doc WHERE NOT in_period AND ref IS NOT NULL AND division IS NOT NULL GROUP BY division, ref
    """,
    # Exact entries in scope, their row (result_key) and whether a reversal cancels them
    f"""
    CREATE OR REPLACE TEMP TABLE _rc_ent AS
    WITH e AS (
        SELECT e.division, e.entry_id, e.entry_number, e.journal_code, e.your_ref, e.entry_date, e.fin_year,
               e.fin_period, e.currency, e.customer_id, e.customer_code,
               -- an open entry that exactsync itself posted (a Synced push job) is booked as intended:
               -- it is not a draft; only open entries made elsewhere are (docs/reconcile.md)
               CASE WHEN coalesce(e.status, 50) < 50 AND e.entry_id IN (
                        SELECT lower(exact_entry_id) FROM push_jobs
                        WHERE status = 'Synced' AND exact_entry_id IS NOT NULL)
                    THEN 50 ELSE e.status END AS status,
               e.net, e.vat, e.gross, e.net_dc, e.vat_dc, e.gross_dc,
               {MACRO}(e.your_ref) AS ref,
               coalesce(p.start_date, e.entry_date) AS book_date
        FROM exact_entries e
        LEFT JOIN exact_periods p
               ON p.division = e.division AND p.fin_year = e.fin_year AND p.fin_period = e.fin_period
        WHERE e.division IN (SELECT division FROM _rc_divs)
    ), s AS (
        SELECT e.*, coalesce(e.book_date >= $start AND e.book_date < $end, false) AS in_period,
               k.owner AS doc_owner, k.owner_id,
               CASE WHEN k.owner IS NULL THEN o.owner END AS other_owner
        FROM e
        LEFT JOIN _rc_key k ON k.division = e.division AND k.ref = e.ref
        LEFT JOIN _rc_okey o ON o.division = e.division AND o.ref = e.ref
    ), r AS (
        SELECT s.*,
               CASE WHEN doc_owner IS NOT NULL THEN NULL
                    WHEN ref IS NULL THEN 'exact:' || division || ':entry:' || entry_id
                    ELSE 'exact:' || division || ':' || ref END AS ekey,
               CASE WHEN gross > 0 OR (gross = 0 AND net > 0) THEN 1
                    WHEN gross < 0 OR (gross = 0 AND net < 0) THEN -1 ELSE 0 END AS sgn
        FROM s WHERE doc_owner IS NOT NULL OR in_period
    ), ek AS (
        SELECT ekey, -row_number() OVER (ORDER BY ekey) AS ekey_id
        FROM (SELECT DISTINCT ekey FROM r WHERE ekey IS NOT NULL)
    ), r2 AS (
        SELECT r.*, coalesce(r.owner_id, ek.ekey_id) AS rid FROM r LEFT JOIN ek ON ek.ekey = r.ekey
    ), cnt AS (
        SELECT rid, count(*) AS n_entries FROM r2 GROUP BY rid
    ), r3 AS (
        SELECT r2.*, cnt.n_entries FROM r2 JOIN cnt USING (rid)
    ), w AS (
        -- a reference with one entry cannot hold a cancelled pair: only the others are ranked
        SELECT r3.*,
               row_number() OVER (PARTITION BY rid, currency, sgn * net, sgn * vat, sgn * gross, sgn
                                  ORDER BY book_date, entry_date, entry_number, entry_id) AS pair_rn,
               count(*) FILTER (WHERE sgn = 1)
                   OVER (PARTITION BY rid, currency, sgn * net, sgn * vat, sgn * gross) AS n_pos,
               count(*) FILTER (WHERE sgn = -1)
                   OVER (PARTITION BY rid, currency, sgn * net, sgn * vat, sgn * gross) AS n_neg
        FROM r3 WHERE n_entries > 1
    )
    SELECT r3.*, false AS cancelled FROM r3 WHERE n_entries = 1
    UNION ALL BY NAME
    SELECT w.* EXCLUDE (pair_rn, n_pos, n_neg),
           (sgn <> 0 AND pair_rn <= least(n_pos, n_neg)) AS cancelled
    FROM w
    """,
    # the reading of every VAT code of the run's divisions: vat_code_map first, then exact_vat_codes
    """
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
    """,
    # Exact VAT per entry and (treatment, country, rate); country of a non-OSS code: the division's
    # for domestic, else the customer account's country
    """
    CREATE OR REPLACE TEMP TABLE _rc_evat AS
    SELECT e.rid, e.division, e.entry_id, e.in_period, e.currency,
           coalesce(m.treatment, 'unknown') AS treatment,
           coalesce(m.country, CASE WHEN m.treatment = 'domestic' THEN d.country ELSE exs_country(a.country) END)
               AS country,
           CAST(CASE WHEN m.source = 'vat_code_map' AND m.rate IS NOT NULL THEN m.rate
                     ELSE coalesce(l.vat_percentage, m.rate, 0) END AS DECIMAL(7,4)) AS rate,
           sum(l.base) AS base, sum(l.vat) AS vat
    FROM exact_vat_lines l
    JOIN _rc_ent e ON e.division = l.division AND e.entry_id = l.entry_id
    LEFT JOIN _rc_vmap m ON m.division = l.division AND m.vat_code = trim(l.vat_code)
    LEFT JOIN _rc_divs d ON d.division = l.division
    LEFT JOIN exact_accounts a ON a.division = e.division AND a.account_id = e.customer_id
    GROUP BY ALL
    """,
    # shop VAT per in-period document and (treatment, country, rate)
    """
    CREATE OR REPLACE TEMP TABLE _rc_svat AS
    SELECT d.doc_id AS rid, d.division, d.currency, l.treatment, exs_country(l.country) AS country,
           CAST(l.rate AS DECIMAL(7,4)) AS rate, sum(l.base) AS base, sum(l.vat) AS vat
    FROM shop_vat_lines l JOIN _rc_doc d ON d.doc_key = l.doc_key AND d.in_period
    GROUP BY ALL
    """,
    # the VAT split compared per document: (treatment class, OSS country, rate)
    """
    CREATE OR REPLACE TEMP TABLE _rc_cmp AS
    WITH s AS (
        SELECT rid, exs_cmp_treatment(treatment) AS treatment,
               CASE WHEN treatment = 'oss' THEN coalesce(country, '?') ELSE '' END AS country, rate,
               sum(base) AS base, sum(vat) AS vat
        FROM _rc_svat GROUP BY ALL
    ), x AS (
        SELECT rid, exs_cmp_treatment(treatment) AS treatment,
               CASE WHEN treatment = 'oss' THEN coalesce(country, '?') ELSE '' END AS country, rate,
               sum(base) AS base, sum(vat) AS vat
        FROM _rc_evat WHERE rid > 0 GROUP BY ALL
    ), both_sides AS (
        SELECT rid FROM s INTERSECT SELECT rid FROM x
    )
    SELECT coalesce(s.rid, x.rid) AS rid,
           coalesce(s.treatment, x.treatment) AS treatment,
           nullif(coalesce(s.country, x.country), '') AS country,
           coalesce(s.rate, x.rate) AS rate,
           s.base AS shop_base, s.vat AS shop_vat, x.base AS exact_base, x.vat AS exact_vat,
           coalesce(x.base, 0) - coalesce(s.base, 0) AS delta_base,
           coalesce(x.vat, 0) - coalesce(s.vat, 0) AS delta_vat
    FROM s FULL OUTER JOIN x
         ON x.rid = s.rid AND x.treatment = s.treatment AND x.country = s.country AND x.rate = s.rate
    WHERE coalesce(s.rid, x.rid) IN (SELECT rid FROM both_sides)
    """,
    """
    CREATE OR REPLACE TEMP TABLE _rc_split AS
    SELECT rid,
           bool_or(abs(delta_base) > $tol_net OR abs(delta_vat) > $tol_vat) AS split_bad,
           bool_or(delta_base <> 0 OR delta_vat <> 0) AS split_nonzero,
           string_agg(treatment || coalesce(' ' || country, '') || ' ' || CAST(CAST(rate AS DOUBLE) AS VARCHAR)
                      || '%: shop ' || coalesce(CAST(shop_base AS VARCHAR), '-') || ' / ' || coalesce(CAST(shop_vat AS VARCHAR), '-')
                      || ', Exact ' || coalesce(CAST(exact_base AS VARCHAR), '-') || ' / ' || coalesce(CAST(exact_vat AS VARCHAR), '-'),
                      '; ' ORDER BY treatment, country, rate)
               FILTER (WHERE abs(delta_base) > $tol_net OR abs(delta_vat) > $tol_vat) AS split_text
    FROM _rc_cmp GROUP BY rid
    """,
    # per row: the Exact side summed (cancelled pairs sum to zero), live entries, checks
    """
    CREATE OR REPLACE TEMP TABLE _rc_grp AS
    WITH x AS (
        SELECT e.*, d.currency AS doc_currency,
               a.code AS acc_code, a.name AS acc_name, exs_country(a.country) AS acc_country, a.vat_number AS acc_vat,
               CASE
                   WHEN $customer_check = 'off' OR d.doc_key IS NULL OR a.account_id IS NULL THEN false
                   WHEN exs_vatno(d.vat_number) IS NOT NULL THEN exs_vatno(a.vat_number) IS DISTINCT FROM exs_vatno(d.vat_number)
                   WHEN $customer_check = 'vat_number' THEN false
                   WHEN exs_country(a.country) IS NOT NULL
                        AND exs_country(coalesce(d.vat_country, d.ship_country, d.billing_country)) IS NOT NULL
                       THEN exs_country(a.country) <> exs_country(coalesce(d.vat_country, d.ship_country, d.billing_country))
                   ELSE false
               END AS customer_bad
        FROM _rc_ent e
        LEFT JOIN _rc_doc d ON d.doc_id = e.owner_id
        LEFT JOIN exact_accounts a ON a.division = e.division AND a.account_id = e.customer_id
    )
    SELECT rid, ekey, division, other_owner, [entry_id] AS entry_ids, [entry_number] AS entry_numbers, entry_date,
           strftime(book_date, '%Y-%m') AS book_month, your_ref, ref, 1 AS entry_count, 1 AS live_count,
           CAST(in_period AS INTEGER) AS live_in_period, net AS exact_net, vat AS exact_vat, gross AS exact_gross,
           net_dc AS exact_net_dc, vat_dc AS exact_vat_dc, gross_dc AS exact_gross_dc, currency AS exact_currency,
           currency IS DISTINCT FROM doc_currency AS currency_bad, coalesce(status, 50) < 50 AS has_draft,
           customer_bad, CASE WHEN coalesce(status, 50) < 50 THEN entry_number END AS draft_entry,
           acc_code, acc_country, acc_vat
    FROM x WHERE n_entries = 1
    UNION ALL BY NAME
    SELECT rid,
           any_value(ekey) AS ekey,
           any_value(division) AS division,
           any_value(other_owner) AS other_owner,
           list_sort(list(entry_id)) AS entry_ids,
           list_sort(list(entry_number)) AS entry_numbers,
           coalesce(min(entry_date) FILTER (WHERE NOT cancelled), min(entry_date)) AS entry_date,
           strftime(coalesce(min(book_date) FILTER (WHERE NOT cancelled), min(book_date)), '%Y-%m') AS book_month,
           arg_min(your_ref, entry_id) AS your_ref,
           min(ref) AS ref,
           count(*) AS entry_count,
           count(*) FILTER (WHERE NOT cancelled) AS live_count,
           count(*) FILTER (WHERE NOT cancelled AND in_period) AS live_in_period,
           sum(net) AS exact_net, sum(vat) AS exact_vat, sum(gross) AS exact_gross,
           sum(net_dc) AS exact_net_dc, sum(vat_dc) AS exact_vat_dc, sum(gross_dc) AS exact_gross_dc,
           coalesce(min(currency) FILTER (WHERE NOT cancelled), min(currency)) AS exact_currency,
           coalesce(bool_or(NOT cancelled AND currency IS DISTINCT FROM doc_currency), false) AS currency_bad,
           coalesce(bool_or(NOT cancelled AND coalesce(status, 50) < 50), false) AS has_draft,
           coalesce(bool_or(NOT cancelled AND customer_bad), false) AS customer_bad,
           min(entry_number) FILTER (WHERE NOT cancelled AND coalesce(status, 50) < 50) AS draft_entry,
           any_value(acc_code) FILTER (WHERE NOT cancelled) AS acc_code,
           any_value(acc_country) FILTER (WHERE NOT cancelled) AS acc_country,
           any_value(acc_vat) FILTER (WHERE NOT cancelled) AS acc_vat
    FROM x WHERE n_entries > 1 GROUP BY rid
    """,
    # one row per in-period document and per Exact-only (or other-period) reference
    """
    CREATE OR REPLACE TEMP TABLE _rc_rows AS
    SELECT d.doc_id AS rid, 'doc:' || d.doc_key AS result_key, 'doc' AS row_kind, d.doc_key, d.shop, d.kind, d.doc_number, d.doc_date,
           d.division, d.ref, d.currency, d.base_currency, d.vat_country, d.vat_number, d.treatment,
           d.net AS shop_net, d.vat AS shop_vat, d.gross AS shop_gross,
           d.net_base, d.vat_base, d.gross_base, k.owner AS key_owner
    FROM _rc_doc d LEFT JOIN _rc_key k ON k.division = d.division AND k.ref = d.ref
    WHERE d.in_period
    UNION ALL
    SELECT g.rid, g.ekey, 'exact', o.doc_key, o.shop, o.kind, o.doc_number, o.doc_date,
           g.division, g.ref, NULL, NULL, o.vat_country, o.vat_number, o.treatment,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM _rc_grp g LEFT JOIN _rc_doc o ON o.doc_key = g.other_owner
    WHERE g.rid < 0
    """,
    # checks, status, cause, flags, deltas and a sentence for each row
    """
    CREATE OR REPLACE TEMP VIEW _rc_final AS
    WITH j AS (
        SELECT r.*, g.* EXCLUDE (rid, ekey, division, ref),
               coalesce(g.live_count, 0) AS live_n,
               v.currency AS division_currency,
               coalesce(sp.split_bad, false) AS split_bad, coalesce(sp.split_nonzero, false) AS split_nonzero,
               sp.split_text,
               coalesce(g.exact_net, 0) - coalesce(r.shop_net, 0) AS d_net,
               coalesce(g.exact_vat, 0) - coalesce(r.shop_vat, 0) AS d_vat,
               coalesce(g.exact_gross, 0) - coalesce(r.shop_gross, 0) AS d_gross,
               CASE WHEN r.row_kind = 'exact' THEN NULL
                    WHEN r.currency = v.currency OR v.currency IS NULL THEN r.shop_net
                    WHEN r.base_currency = v.currency THEN r.net_base END AS shop_net_dc,
               CASE WHEN r.row_kind = 'exact' THEN NULL
                    WHEN r.currency = v.currency OR v.currency IS NULL THEN r.shop_vat
                    WHEN r.base_currency = v.currency THEN r.vat_base END AS shop_vat_dc,
               CASE WHEN r.row_kind = 'exact' THEN NULL
                    WHEN r.currency = v.currency OR v.currency IS NULL THEN r.shop_gross
                    WHEN r.base_currency = v.currency THEN r.gross_base END AS shop_gross_dc
        FROM _rc_rows r
        LEFT JOIN _rc_grp g ON g.rid = r.rid
        LEFT JOIN _rc_divs v ON v.division = r.division
        LEFT JOIN _rc_split sp ON sp.rid = r.rid
    ), c AS (
        SELECT j.*,
               (row_kind = 'doc' AND live_n = 0) AS f_missing,
               (row_kind = 'doc' AND live_n > 1) AS f_duplicated,
               (row_kind = 'doc' AND live_n > 0 AND currency_bad) AS f_currency,
               (row_kind = 'doc' AND live_n > 0 AND live_in_period = 0) AS f_other_period,
               (row_kind = 'doc' AND live_n > 0 AND NOT currency_bad
                    AND (abs(d_net) > $tol_net OR (abs(d_gross) > $tol_gross AND abs(d_vat) <= $tol_vat))) AS f_amount,
               (row_kind = 'doc' AND live_n > 0 AND NOT currency_bad
                    AND (abs(d_vat) > $tol_vat OR split_bad)) AS f_vat,
               (row_kind = 'doc' AND live_n > 0 AND customer_bad) AS f_customer,
               (row_kind = 'doc' AND live_n > 0 AND $flag_draft AND has_draft) AS f_draft,
               (row_kind = 'doc' AND live_n > 0 AND NOT currency_bad
                    AND (d_net <> 0 OR d_vat <> 0 OR d_gross <> 0 OR split_nonzero)) AS f_nonzero
        FROM j
    ), s AS (
        SELECT c.*,
               CASE
                   WHEN row_kind = 'exact' AND doc_key IS NULL THEN 'only_in_exact'
                   WHEN row_kind = 'exact' THEN 'other_period'
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
               END AS status,
               (f_nonzero AND NOT f_amount AND NOT f_vat AND live_n = 1) AS tolerated
        FROM c
    )
    SELECT s.*,
           CASE WHEN status = 'matched' THEN NULL ELSE status END AS cause,
           list_filter([
               CASE WHEN row_kind = 'exact' AND doc_key IS NULL THEN 'only_in_exact' END,
               CASE WHEN row_kind = 'exact' AND doc_key IS NOT NULL THEN 'other_period' END,
               CASE WHEN row_kind = 'exact' AND live_n > 1 THEN 'duplicated_in_exact' END,
               CASE WHEN f_missing THEN 'missing_in_exact' END,
               CASE WHEN f_duplicated THEN 'duplicated_in_exact' END,
               CASE WHEN f_currency THEN 'currency_differs' END,
               CASE WHEN f_other_period THEN 'other_period' END,
               CASE WHEN f_amount THEN 'amount_differs' END,
               CASE WHEN f_vat THEN 'vat_differs' END,
               CASE WHEN f_customer THEN 'customer_differs' END,
               CASE WHEN f_draft THEN 'draft' END,
               CASE WHEN tolerated THEN 'matched_within_tolerance' END
           ], lambda x: x IS NOT NULL) AS flags,
           CASE status
               WHEN 'only_in_exact' THEN
                   CASE WHEN ref IS NULL THEN 'Exact entry without a reference (YourRef); no shop document can match it'
                        ELSE 'no shop document with reference ' || ref || ' in the shops of this division' END
                   || CASE WHEN live_n = 0 THEN ' (booked and reversed: nets to zero)' ELSE '' END
               WHEN 'other_period' THEN
                   CASE WHEN row_kind = 'exact'
                        THEN 'booked in this period for shop document ' || doc_key || ' dated ' || CAST(doc_date AS VARCHAR)
                        ELSE 'document dated ' || CAST(doc_date AS VARCHAR) || ', booked in period ' || coalesce(book_month, '?') END
               WHEN 'missing_in_exact' THEN
                   CASE WHEN division IS NULL THEN 'the shop has no Exact division configured'
                        WHEN ref IS NULL THEN 'the document has no number to build a reference from'
                        WHEN key_owner IS DISTINCT FROM doc_key THEN 'reference ' || ref || ' is also used by ' || key_owner || ', which takes its entries'
                        WHEN coalesce(entry_count, 0) > 0 THEN 'booked and reversed in Exact (' || entry_count || ' entries cancel out)'
                        ELSE 'no Exact entry with reference ' || ref END
               WHEN 'duplicated_in_exact' THEN live_n || ' entries with reference ' || ref || ' are live in Exact'
               WHEN 'currency_differs' THEN 'document in ' || currency || ', booked in ' || coalesce(exact_currency, '?')
               WHEN 'amount_differs' THEN 'net differs by ' || CAST(d_net AS VARCHAR) || ', VAT by ' || CAST(d_vat AS VARCHAR)
                                        || ', gross by ' || CAST(d_gross AS VARCHAR)
               WHEN 'vat_differs' THEN
                   CASE WHEN abs(d_vat) > $tol_vat THEN 'VAT differs by ' || CAST(d_vat AS VARCHAR) || '. ' ELSE '' END
                   || coalesce('VAT split: ' || split_text, '')
               WHEN 'customer_differs' THEN 'booked on account ' || coalesce(acc_code, '?') || ' ('
                   || coalesce(acc_country, 'no country') || coalesce(', ' || acc_vat, '') || '); the document is for '
                   || coalesce(exs_country(vat_country), 'no country') || coalesce(', ' || vat_number, '')
               WHEN 'draft' THEN 'entry ' || coalesce(CAST(draft_entry AS VARCHAR), '?') || ' is open (Status 20), not processed'
               WHEN 'matched_within_tolerance' THEN 'within tolerance: net ' || CAST(d_net AS VARCHAR) || ', VAT '
                   || CAST(d_vat AS VARCHAR) || ', gross ' || CAST(d_gross AS VARCHAR)
           END AS detail
    FROM s
    """,
]

_INSERT_RESULTS = """
INSERT INTO recon_results BY NAME
SELECT $run_id AS run_id, result_key, doc_key, shop, kind, doc_number, doc_date, division,
       coalesce(your_ref, ref) AS your_ref, coalesce(entry_ids, []::VARCHAR[]) AS entry_ids,
       coalesce(entry_numbers, []::INTEGER[]) AS entry_numbers, entry_date,
       status, cause, flags, detail, currency, exact_currency, division_currency,
       exs_country(vat_country) AS vat_country, treatment,
       shop_net, shop_vat, shop_gross,
       coalesce(exact_net, 0) AS exact_net, coalesce(exact_vat, 0) AS exact_vat, coalesce(exact_gross, 0) AS exact_gross,
       d_net AS delta_net, d_vat AS delta_vat, d_gross AS delta_gross,
       shop_net_dc, shop_vat_dc, shop_gross_dc,
       coalesce(exact_net_dc, 0) AS exact_net_dc, coalesce(exact_vat_dc, 0) AS exact_vat_dc,
       coalesce(exact_gross_dc, 0) AS exact_gross_dc,
       coalesce(exact_net_dc, 0) - coalesce(shop_net_dc, 0) AS delta_net_dc,
       coalesce(exact_vat_dc, 0) - coalesce(shop_vat_dc, 0) AS delta_vat_dc,
       coalesce(exact_gross_dc, 0) - coalesce(shop_gross_dc, 0) AS delta_gross_dc,
       CASE WHEN tolerated THEN d_net ELSE 0 END AS tolerated_net,
       CASE WHEN tolerated THEN d_vat ELSE 0 END AS tolerated_vat,
       CASE WHEN tolerated THEN d_gross ELSE 0 END AS tolerated_gross,
       coalesce(entry_count, 0) AS entry_count, live_n AS live_count
FROM _rc_final
"""

_INSERT_RESULT_VAT = """
INSERT INTO recon_result_vat BY NAME
SELECT $run_id AS run_id, f.result_key, c.treatment, c.country, c.rate, c.shop_base, c.shop_vat,
       c.exact_base, c.exact_vat, c.delta_base, c.delta_vat
FROM _rc_cmp c
JOIN _rc_doc d ON d.doc_id = c.rid
JOIN recon_results f ON f.run_id = $run_id AND f.result_key = 'doc:' || d.doc_key
WHERE f.status <> 'matched'
"""

_INSERT_VAT = """
INSERT INTO recon_vat BY NAME
SELECT $run_id AS run_id, 'shop' AS scope, division, currency, treatment, country, rate,
       sum(base) AS base, sum(vat) AS vat, count(DISTINCT rid) AS documents
FROM _rc_svat GROUP BY ALL
UNION ALL
SELECT $run_id, CASE WHEN in_period THEN 'exact' ELSE 'exact_other_period' END, division, currency, treatment,
       country, rate, sum(base), sum(vat), count(DISTINCT entry_id)
FROM _rc_evat GROUP BY ALL
"""

_INSERT_VMAP = """
INSERT INTO recon_vat_map BY NAME
SELECT $run_id AS run_id, division, vat_code, country, rate, treatment, source FROM _rc_vmap
"""

_SUMMARY_BY_STATUS = """
SELECT status, count(*) AS count,
       coalesce(sum(shop_net), 0), coalesce(sum(shop_vat), 0), coalesce(sum(shop_gross), 0),
       coalesce(sum(exact_net), 0), coalesce(sum(exact_vat), 0), coalesce(sum(exact_gross), 0),
       coalesce(sum(delta_gross), 0)
FROM recon_results WHERE run_id = ? GROUP BY status
"""

_SUMMARY_TOTALS = """
SELECT count(*) FILTER (WHERE shop_gross IS NOT NULL), coalesce(sum(entry_count), 0),
       coalesce(sum(shop_net), 0), coalesce(sum(shop_vat), 0), coalesce(sum(shop_gross), 0),
       coalesce(sum(exact_net), 0), coalesce(sum(exact_vat), 0), coalesce(sum(exact_gross), 0),
       coalesce(sum(tolerated_net), 0), coalesce(sum(tolerated_vat), 0), coalesce(sum(tolerated_gross), 0),
       count(*) FILTER (WHERE tolerated_net <> 0 OR tolerated_vat <> 0 OR tolerated_gross <> 0)
FROM recon_results WHERE run_id = ?
"""

_AMOUNT_KEYS = ("shop_net", "shop_vat", "shop_gross", "exact_net", "exact_vat", "exact_gross")


def summary_of(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(by_status, totals, tolerated) of a saved run, computed from its result rows."""
    by_status: dict[str, dict[str, Any]] = {s: {"count": 0, **{k: Decimal("0") for k in _AMOUNT_KEYS},
                                               "delta_gross": Decimal("0")} for s in PRECEDENCE}
    for row in con.execute(_SUMMARY_BY_STATUS, [run_id]).fetchall():
        by_status[row[0]] = {"count": row[1], **dict(zip(_AMOUNT_KEYS, row[2:8])), "delta_gross": row[8]}
    t = con.execute(_SUMMARY_TOTALS, [run_id]).fetchall()[0]
    totals = {"documents": t[0], "exact_entries": t[1], "results": sum(v["count"] for v in by_status.values()),
              **dict(zip(_AMOUNT_KEYS, t[2:8]))}
    tolerated = {"net": t[8], "vat": t[9], "gross": t[10], "rows": t[11]}
    return by_status, totals, tolerated


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
) -> RunSummary:
    """Reconcile ``period`` and save the run; returns its summary (see the module docstring).

    ``tolerance``: one amount for net, VAT and gross, or ``{"net": …, "vat": …, "gross": …}``;
    default ``settings.reconcile.tolerance``. ``customer_check``: one of :data:`CUSTOMER_CHECKS`.
    ``flag_draft``: an open (Status 20) entry is a difference (``draft``) when nothing else differs.
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

    with store.atomic() as con:
        shop_rows, divs = _scope(con, settings, divisions, shops)
        install_reference_macro(con)
        try:
            for statement in _HELPERS.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute("CREATE OR REPLACE TEMP TABLE _rc_shops (shop VARCHAR, division INTEGER, prefix VARCHAR, home VARCHAR)")
            if shop_rows:
                con.executemany("INSERT INTO _rc_shops VALUES (?, ?, ?, ?)", [list(r) for r in shop_rows])
            params = {
                "start": start, "end": end, "marker": CREDIT_MARKER, "divisions": divs,
                "tol_net": tol.net, "tol_vat": tol.vat, "tol_gross": tol.gross,
                "customer_check": customer_check, "flag_draft": bool(flag_draft), "run_id": run_id,
            }
            for step in _STEPS:
                if "TEMP VIEW" in step:  # a view cannot take parameters: validated values inlined
                    for k in ("tol_net", "tol_vat", "tol_gross"):
                        step = step.replace(f"${k}", f"CAST('{Decimal(params[k])}' AS DECIMAL(18,4))")
                    step = step.replace("$flag_draft", "true" if params["flag_draft"] else "false")
                con.execute(step, {k: v for k, v in params.items() if f"${k}" in step})
            for step in (_INSERT_RESULTS, _INSERT_RESULT_VAT, _INSERT_VAT, _INSERT_VMAP):
                con.execute(step, {"run_id": run_id})
            by_status, totals, tolerated = summary_of(con, run_id)
            duration_ms = int((time.perf_counter() - began) * 1000)
            run_params = {"period": period, "start": start.isoformat(), "end": end.isoformat(),
                          "divisions": divs, "shops": [r[0] for r in shop_rows],
                          "shop_divisions": {r[0]: r[1] for r in shop_rows},
                          "reference_prefixes": {r[0]: r[2] for r in shop_rows},
                          "tolerance": tol.as_dict(), "customer_check": customer_check, "flag_draft": bool(flag_draft)}
            summary = {"by_status": by_status, "totals": totals, "tolerated": tolerated}
            con.execute(
                "INSERT INTO recon_runs (run_id, created_at, period, divisions, shops, tolerance, params, summary, "
                "engine_version, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, created_at, period, divs, [r[0] for r in shop_rows], json.dumps(tol.as_dict()),
                 json.dumps(_jsonable(run_params)), json.dumps(_jsonable(summary)), ENGINE_VERSION, duration_ms],
            )
            con.execute("DROP VIEW IF EXISTS _rc_final")
            for name in ("_rc_rows", "_rc_grp", "_rc_split", "_rc_cmp", "_rc_svat", "_rc_evat",
                         "_rc_vmap", "_rc_ent", "_rc_okey", "_rc_key", "_rc_doc", "_rc_divs", "_rc_shops"):
                con.execute(f"DROP TABLE IF EXISTS {name}")
        finally:
            remove_reference_macro(con)

    return RunSummary(
        run_id=run_id, created_at=created_at, period=period, divisions=divs, shops=[r[0] for r in shop_rows],
        tolerance=tol.as_dict(), params=_jsonable(run_params), engine_version=ENGINE_VERSION,
        duration_ms=duration_ms, by_status=by_status, totals=totals, tolerated=tolerated,
    )
