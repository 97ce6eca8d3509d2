"""Reading saved runs: reopen one as it was, page through its differences, drill down, VAT per country.

A run's rows never change after it is saved, so every function here shows the run "as of" the
moment it ran. Only :func:`document_detail` also reads the current shop document and Exact
entries (the source rows, which later pulls may have changed; ``recorded`` shows what the run saw).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from exactsync.reconcile.constants import (OK_STATUSES, PRECEDENCE, STATUS_ALIASES, cause_label, parse_statuses,
                                           status_label)
from exactsync.reconcile.engine import ReconcileError, RunSummary

__all__ = [
    "DiffFilters",
    "load_run",
    "latest_run",
    "find_run",
    "resolve_statuses",
    "list_runs",
    "count_runs",
    "delete_run",
    "runs_beyond",
    "results",
    "differences",
    "count_differences",
    "amounts_by_status",
    "differences_by_day",
    "rows_filter",
    "vat_by_country",
    "document_detail",
    "vat_code_reading",
    "RunChanges",
    "compare_runs",
]


def _run_row_to_summary(row: tuple) -> RunSummary:
    (run_id, created_at, period, divisions, shops, tolerance, params, summary, engine_version, duration_ms) = row
    summary = json.loads(summary or "{}")

    def dec(d: dict[str, Any]) -> dict[str, Any]:
        return {k: (Decimal(v) if isinstance(v, str) and k not in ("status",) else v) for k, v in d.items()}

    return RunSummary(
        run_id=run_id, created_at=created_at, period=period, divisions=list(divisions or []),
        shops=list(shops or []), tolerance=json.loads(tolerance or "{}"), params=json.loads(params or "{}"),
        engine_version=engine_version, duration_ms=duration_ms,
        by_status={k: dec(v) for k, v in summary.get("by_status", {}).items()},
        totals=dec(summary.get("totals", {})), tolerated=dec(summary.get("tolerated", {})),
        warnings=list(summary.get("warnings") or []),
        exchange={k: (Decimal(v) if k in ("net", "vat", "gross") else v)
                  for k, v in (summary.get("exchange") or {}).items()},
    )


_RUN_COLUMNS = "run_id, created_at, period, divisions, shops, tolerance, params, summary, engine_version, duration_ms"


def load_run(store: Any, run_id: str) -> RunSummary:
    """The saved summary of a run (raises :class:`ReconcileError` for an unknown id)."""
    rows = store.rows(f"SELECT {_RUN_COLUMNS} FROM recon_runs WHERE run_id = ?", [run_id])
    if not rows:
        raise ReconcileError(f"no reconciliation run {run_id!r}")
    return _run_row_to_summary(rows[0])


def latest_run(store: Any, period: str | None = None, *, division: int | None = None,
               shop: str | None = None) -> RunSummary | None:
    """The newest run (optionally of a period, including a division / shop), or ``None``."""
    where, params = ["TRUE"], []
    if period:
        where.append("period = ?")
        params.append(period)
    if division is not None:
        where.append("list_contains(divisions, ?)")
        params.append(int(division))
    if shop:
        where.append("list_contains(shops, ?)")
        params.append(shop)
    rows = store.rows(f"SELECT {_RUN_COLUMNS} FROM recon_runs WHERE {' AND '.join(where)} "
                      "ORDER BY created_at DESC, run_id DESC LIMIT 1", params)
    return _run_row_to_summary(rows[0]) if rows else None


def find_run(store: Any, ref: str | None = "latest", *, period: str | None = None) -> RunSummary:
    """The run ``ref`` names: ``latest`` (of ``period``, if given), a run id, or the unique start of one.

    Raises :class:`ReconcileError` with what to do when none or several runs fit.
    """
    ref = (ref or "latest").strip()
    of = f" for {period}" if period else ""
    if ref.lower() == "latest":
        run = latest_run(store, period)
        if run is None:
            raise ReconcileError(f"no reconciliation run saved{of}: `exactsync reconcile --period "
                                 f"{period or 'YYYY-MM'}` saves one")
        return run
    where, params = ["starts_with(run_id, ?)"], [ref]
    if period:
        where.append("period = ?")
        params.append(period)
    ids = [r[0] for r in store.rows(f"SELECT run_id FROM recon_runs WHERE {' AND '.join(where)} "
                                    "ORDER BY created_at DESC, run_id DESC LIMIT 6", params)]
    if ref in ids or len(ids) == 1:
        return load_run(store, ref if ref in ids else ids[0])
    if not ids:
        raise ReconcileError(f"no reconciliation run {ref!r}{of} (`exactsync runs` lists them)")
    shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
    raise ReconcileError(f"{ref!r} is the start of several runs{of} ({shown}): give more of the id")


def resolve_statuses(names: Sequence[str] | str | None) -> list[str]:
    """Status identifiers from what a user typed: identifiers or short names (``missing``, ``amount``,
    …, :data:`~exactsync.reconcile.constants.STATUS_ALIASES`), a list or one comma-separated text."""
    if isinstance(names, str):
        names = names.split(",")
    wanted, unknown = parse_statuses(names)
    if unknown:
        short = ", ".join(dict.fromkeys(STATUS_ALIASES))
        raise ReconcileError(f"unknown status {', '.join(map(repr, unknown))}: use {short} or one of "
                             f"{', '.join(PRECEDENCE)}")
    return wanted


def _of_period(period: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of runs of ``period``; none without one."""
    return ("WHERE period = ?", [period]) if period else ("", [])


def count_runs(store: Any, *, period: str | None = None) -> int:
    """How many runs are saved (of ``period``, if given)."""
    where, params = _of_period(period)
    return int(store.scalar(f"SELECT count(*) FROM recon_runs {where}", params))


def list_runs(store: Any, *, period: str | None = None, limit: int = 50, offset: int = 0) -> pl.DataFrame:
    """Saved runs, newest first: id, time, period, scope, counts (``differences``: results that
    are neither matched nor matched within tolerance)."""
    where, params = _of_period(period)
    return store.query(
        f"""SELECT run_id, created_at, period, divisions, shops, tolerance, engine_version, duration_ms,
                   CAST(json_extract(summary, '$.totals.documents') AS BIGINT) AS documents,
                   CAST(json_extract(summary, '$.totals.results') AS BIGINT) AS results,
                   CAST(json_extract(summary, '$.totals.results') AS BIGINT)
                   - coalesce(CAST(json_extract(summary, '$.by_status.matched.count') AS BIGINT), 0)
                   - coalesce(CAST(json_extract(summary, '$.by_status.matched_within_tolerance.count') AS BIGINT), 0)
                       AS differences
            FROM recon_runs {where} ORDER BY created_at DESC, run_id DESC LIMIT ? OFFSET ?""",
        [*params, int(limit), int(offset)],
    )


def delete_run(store: Any, run_id: str) -> None:
    """Remove a run and all its rows."""
    with store.atomic() as con:
        for table in ("recon_result_rows", "recon_result_matched", "recon_result_vat", "recon_vat", "recon_vat_map",
                      "recon_runs"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])


def runs_beyond(store: Any, keep: int, *, period: str | None = None) -> pl.DataFrame:
    """The runs older than the newest ``keep`` of their period (of ``period`` only, if given),
    oldest first: what :func:`delete_run` may remove to keep the file small. Nothing is removed here."""
    if keep < 0:
        raise ReconcileError("keep must be 0 or more runs per period")
    where, params = _of_period(period)
    return store.query(
        f"""SELECT run_id, created_at, period FROM (
                SELECT run_id, created_at, period,
                       row_number() OVER (PARTITION BY period ORDER BY created_at DESC, run_id DESC) AS newest
                FROM recon_runs {where})
            WHERE newest > ? ORDER BY created_at, run_id""", [*params, int(keep)])


@dataclass(frozen=True)
class DiffFilters:
    """Filters for :func:`differences` (all optional; empty = everything that differs)."""

    statuses: Sequence[str] = ()
    causes: Sequence[str] = ()
    #: rows on which any of these conditions was found: as their status or besides it (``flags``)
    conditions: Sequence[str] = ()
    shops: Sequence[str] = ()
    divisions: Sequence[int] = ()
    countries: Sequence[str] = ()
    #: smallest |delta gross| in the division's currency (a row without amounts in it: in its own)
    min_amount: Decimal | str | None = None
    #: free text in the reference, document number or detail; a search looks for a document, so it
    #: finds matched ones too ("not found" then means not in the run)
    search: str | None = None
    #: include matched and matched-within-tolerance rows (always with ``statuses`` or ``search``)
    include_ok: bool = False
    date_from: Any = None
    date_to: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: only these results (``result_key``); the status filters still apply
    result_keys: Sequence[str] = ()


#: how large a difference is: in the division's currency, so that 1,000 SEK is not larger than 500
#: EUR; a document without amounts in that currency by its own delta
_SIZE = "abs(coalesce(delta_gross_dc, delta_gross))"


def _where(run_id: str, f: DiffFilters | None) -> tuple[str, list[Any]]:
    # list_contains(?, col), not col IN (SELECT unnest(?)): DuckDB folds it for the view's slim
    # branch (status is the constant 'matched'), so a filter without matched rows never reads them
    f = f or DiffFilters()
    where, params = ["run_id = ?"], [run_id]
    if f.statuses:
        where.append("list_contains(?::VARCHAR[], status)")
        params.append(list(f.statuses))
    elif not (f.include_ok or f.search):
        where.append("NOT list_contains(?::VARCHAR[], status)")
        params.append(list(OK_STATUSES))
    if f.result_keys:
        keys = [str(k) for k in f.result_keys]
        # a short list as a plain filter (pushed into the scans); a long one as a semi-join
        where.append("list_contains(?::VARCHAR[], result_key)" if len(keys) <= 64
                     else "result_key IN (SELECT unnest(?::VARCHAR[]))")
        params.append(keys)
    if f.causes:
        where.append("list_contains(?::VARCHAR[], cause)")
        params.append(list(f.causes))
    if f.conditions:
        where.append("list_has_any(flags, ?::VARCHAR[])")
        params.append(list(f.conditions))
    if f.shops:
        where.append("list_contains(?::VARCHAR[], shop)")
        params.append(list(f.shops))
    if f.divisions:
        where.append("list_contains(?::INTEGER[], division)")
        params.append([int(d) for d in f.divisions])
    if f.countries:
        where.append("list_contains(?::VARCHAR[], vat_country)")
        params.append([c.upper() for c in f.countries])
    if f.min_amount not in (None, ""):
        where.append(f"{_SIZE} >= ?")
        params.append(Decimal(str(f.min_amount)))
    if f.search:
        where.append("(your_ref ILIKE ? OR doc_number ILIKE ? OR doc_key ILIKE ? OR detail ILIKE ?)")
        params += [f"%{f.search}%"] * 4
    if f.date_from is not None:
        where.append("coalesce(doc_date, entry_date) >= ?")
        params.append(f.date_from)
    if f.date_to is not None:
        where.append("coalesce(doc_date, entry_date) <= ?")
        params.append(f.date_to)
    return " AND ".join(where), params


_DIFF_COLUMNS = """result_key, status, cause, shop, doc_key, doc_number, kind, doc_date, division, your_ref,
    entry_numbers, entry_date, vat_country, treatment, currency, exact_currency, shop_net, shop_vat, shop_gross, exact_net,
    exact_vat, exact_gross, delta_net, delta_vat, delta_gross, delta_gross_dc, tolerated_gross, flags, detail"""


def results(store: Any, run_id: str) -> pl.DataFrame:
    """Every result row of a run (ordered by result_key)."""
    return store.query("SELECT * EXCLUDE (run_id) FROM recon_results WHERE run_id = ? ORDER BY result_key", [run_id])


def differences(store: Any, run_id: str, filters: DiffFilters | None = None, limit: int = 100,
                offset: int = 0) -> pl.DataFrame:
    """One page of a run's differences (or, with ``include_ok``, any rows), largest first (in the
    division's currency)."""
    where, params = _where(run_id, filters)
    frame = store.query(
        f"SELECT {_DIFF_COLUMNS} FROM recon_results WHERE {where} "
        f"ORDER BY {_SIZE} DESC, result_key LIMIT ? OFFSET ?", [*params, int(limit), int(offset)])
    return frame.with_columns(
        pl.col("status").map_elements(status_label, return_dtype=pl.String).alias("status_label"),
        pl.col("cause").map_elements(cause_label, return_dtype=pl.String, skip_nulls=False).alias("cause_label"),
        pl.struct("status", "flags").map_elements(_also_found, return_dtype=pl.String).alias("also_label"),
    ) if frame.height else frame.with_columns(pl.lit(None, pl.String).alias("status_label"),
                                              pl.lit(None, pl.String).alias("cause_label"),
                                              pl.lit(None, pl.String).alias("also_label"))


def _also_found(row: dict[str, Any]) -> str:
    """The conditions found on a row besides its status (which is the first of them by precedence),
    as labels: "VAT differs (rate, code or country)" beside an amount that differs, say."""
    return "; ".join(status_label(c) for c in dict.fromkeys(row["flags"] or ()) if c != row["status"])


def count_differences(store: Any, run_id: str, filters: DiffFilters | None = None) -> int:
    where, params = _where(run_id, filters)
    return int(store.scalar(f"SELECT count(*) FROM recon_results WHERE {where}", params))


def rows_filter(run_id: str, shop: str | None = None, division: int | None = None) -> tuple[str, list[Any]]:
    """``(where, params)``: the SQL condition on a run's rows (``recon_results``,
    ``recon_result_amounts``, ``recon_vat``), of one shop and / or one division when given."""
    where, params = ["run_id = ?"], [run_id]
    if shop:
        where.append("shop = ?")
        params.append(shop)
    if division is not None:
        where.append("division = ?")
        params.append(int(division))
    return " AND ".join(where), params


def amounts_by_status(store: Any, run_id: str, *, shop: str | None = None, division: int | None = None) -> pl.DataFrame:
    """Per status (and cause): rows, shop and Exact amounts (document currency, as they add up) and
    their gross in the division's currency (``*_gross_dc``; ``amount`` = the shop's, else Exact's),
    deltas, tolerated amounts; of one shop and / or division when given."""
    where, params = rows_filter(run_id, shop, division)
    frame = store.query(
        f"""SELECT status, cause, count(*) AS documents,
                   coalesce(sum(shop_net), 0) AS shop_net, coalesce(sum(shop_vat), 0) AS shop_vat,
                   coalesce(sum(shop_gross), 0) AS shop_gross, sum(exact_net) AS exact_net,
                   sum(exact_vat) AS exact_vat, sum(exact_gross) AS exact_gross,
                   sum(delta_gross) AS delta_gross, sum(tolerated_gross) AS tolerated_gross,
                   -- the gross amount in the division's currency (the rows' own currencies differ)
                   sum(shop_gross_dc) AS shop_gross_dc, sum(exact_gross_dc) AS exact_gross_dc,
                   coalesce(sum(shop_gross_dc), sum(exact_gross_dc)) AS amount
            FROM recon_result_amounts WHERE {where} GROUP BY status, cause ORDER BY documents DESC, status""", params)
    if not frame.height:
        return frame.with_columns(pl.lit(None, pl.String).alias("status_label"), pl.lit(None, pl.String).alias("cause_label"))
    return frame.with_columns(
        pl.col("status").map_elements(status_label, return_dtype=pl.String).alias("status_label"),
        pl.col("cause").map_elements(cause_label, return_dtype=pl.String, skip_nulls=False).alias("cause_label"),
    )


def differences_by_day(store: Any, run_id: str, *, shop: str | None = None, division: int | None = None) -> pl.DataFrame:
    """Differences per day (document date, else entry date) and status (of one shop / division)."""
    where, params = rows_filter(run_id, shop, division)
    frame = store.query(
        f"""SELECT coalesce(doc_date, entry_date) AS day, status, count(*) AS differences,
                   sum(delta_gross) AS delta_gross
            FROM recon_results WHERE {where} AND status NOT IN ('matched', 'matched_within_tolerance')
            GROUP BY ALL ORDER BY day, status""", params)
    return frame.with_columns(
        pl.col("status").map_elements(status_label, return_dtype=pl.String).alias("status_label")
    ) if frame.height else frame.with_columns(pl.lit(None, pl.String).alias("status_label"))


def vat_by_country(store: Any, run_id: str, *, division: int | None = None, shop: str | None = None) -> pl.DataFrame:
    """VAT per (division, treatment, country, rate, currency), shop vs Exact, in the shape of the OSS
    return: one per division, as each division is an administration that files its own.

    ``exact`` = entries booked in the period; ``exact_other_period`` = entries of in-period
    documents booked in other periods (shown apart, never mixed into the period's Exact total).
    ``shop``: one shop's documents and the Exact entries of them (entries of no shop document are
    then left out: :func:`exactsync.views.vat_outside_shops` counts them).
    """
    where, params = rows_filter(run_id, shop, division)  # recon_vat has the run's shop and division too
    return store.query(
        f"""SELECT division, treatment, country, rate, currency,
                   coalesce(sum(base) FILTER (WHERE scope = 'shop'), 0) AS shop_base,
                   coalesce(sum(vat) FILTER (WHERE scope = 'shop'), 0) AS shop_vat,
                   coalesce(sum(base) FILTER (WHERE scope = 'exact'), 0) AS exact_base,
                   coalesce(sum(vat) FILTER (WHERE scope = 'exact'), 0) AS exact_vat,
                   coalesce(sum(base) FILTER (WHERE scope = 'exact'), 0)
                       - coalesce(sum(base) FILTER (WHERE scope = 'shop'), 0) AS delta_base,
                   coalesce(sum(vat) FILTER (WHERE scope = 'exact'), 0)
                       - coalesce(sum(vat) FILTER (WHERE scope = 'shop'), 0) AS delta_vat,
                   coalesce(sum(base) FILTER (WHERE scope = 'exact_other_period'), 0) AS exact_other_period_base,
                   coalesce(sum(vat) FILTER (WHERE scope = 'exact_other_period'), 0) AS exact_other_period_vat,
                   CAST(coalesce(sum(documents) FILTER (WHERE scope = 'shop'), 0) AS BIGINT) AS shop_documents,
                   CAST(coalesce(sum(documents) FILTER (WHERE scope = 'exact'), 0) AS BIGINT) AS exact_entries
            FROM recon_vat WHERE {where}
            GROUP BY division, treatment, country, rate, currency
            ORDER BY division, CASE treatment WHEN 'domestic' THEN 0 WHEN 'oss' THEN 1 WHEN 'reverse_charge' THEN 2
                                    WHEN 'export' THEN 3 ELSE 4 END, treatment, country NULLS LAST, rate, currency""",
        params)


def vat_code_reading(store: Any, run_id: str) -> pl.DataFrame:
    """How each Exact VAT code was read in a run: (division, code) → (country, rate, treatment, source)."""
    return store.query("SELECT division, vat_code, country, rate, treatment, source FROM recon_vat_map "
                       "WHERE run_id = ? ORDER BY division, vat_code", [run_id])


def document_detail(store: Any, run_id: str, result_key: str) -> dict[str, Any] | None:
    """One result: what the run recorded, the shop document with its VAT lines, the Exact entries
    with their VAT lines (current source rows), and the run's per-rate comparison; None if unknown."""
    rec = store.query("SELECT * EXCLUDE (run_id) FROM recon_results WHERE run_id = ? AND result_key = ?",
                      [run_id, result_key])
    if not rec.height:
        return None
    row = rec.row(0, named=True)
    shop = shop_lines = exact = exact_lines = None
    if row["doc_key"]:
        shop = store.query("SELECT * FROM shop_documents WHERE doc_key = ?", [row["doc_key"]])
        shop_lines = store.query("SELECT * FROM shop_vat_lines WHERE doc_key = ? ORDER BY line_no", [row["doc_key"]])
        if not shop.height:
            shop = None
    ids = list(row["entry_ids"] or [])
    if ids:
        exact = store.query(
            "SELECT * FROM exact_entries WHERE division = ? AND entry_id IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY entry_date, entry_number", [row["division"], ids])
        exact_lines = store.query(
            """SELECT l.*, m.treatment, m.country AS mapped_country, m.rate AS mapped_rate
               FROM exact_vat_lines l
               LEFT JOIN recon_vat_map m ON m.run_id = ? AND m.division = l.division AND m.vat_code = trim(l.vat_code)
               WHERE l.division = ? AND l.entry_id IN (SELECT unnest(?::VARCHAR[]))
               ORDER BY l.entry_id, l.vat_code, l.gl_account_code""", [run_id, row["division"], ids])
    comparison = store.query(
        "SELECT treatment, country, rate, shop_base, shop_vat, exact_base, exact_vat, delta_base, delta_vat, "
        "shop_base_dc, shop_vat_dc, exact_base_dc, exact_vat_dc, delta_base_dc, delta_vat_dc "
        "FROM recon_result_vat WHERE run_id = ? AND result_key = ? ORDER BY treatment, country, rate",
        [run_id, result_key])
    return {
        "result_key": result_key,
        "status": row["status"],
        "status_label": status_label(row["status"]),
        "cause": row["cause"],
        "cause_label": cause_label(row["cause"]),
        "explanation": row["detail"],
        "flags": list(row["flags"] or []),
        "recorded": row,
        "shop": shop,
        "shop_lines": shop_lines,
        "exact": exact,
        "exact_lines": exact_lines,
        "vat_comparison": comparison,
    }


@dataclass(frozen=True)
class RunChanges:
    """What changed between a run and the run of the same period before it, difference by difference
    (a row's ``result_key``): after a push and a new pull, which differences are gone and which came."""

    run_id: str
    previous_run_id: str
    #: when the previous run was made (naive UTC, as saved)
    previous_created_at: dt.datetime
    #: differences of the previous run that this run no longer has (matched now, or gone)
    resolved: int
    #: differences this run has that the previous one did not
    new: int
    #: differences in both runs; ``changed``: of those, how many with another status
    still: int
    changed: int
    #: the options the previous run was made with where they differ from this run's ("tolerance
    #: 0.01 (now 0.05)", "drafts flagged (now not)"): then some changes come from the options
    other_options: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"previous_run_id": self.previous_run_id, "previous_created_at": self.previous_created_at.isoformat(),
                "resolved": self.resolved, "new": self.new, "still": self.still, "changed": self.changed,
                "other_options": list(self.other_options)}

    def sentence(self) -> str:
        when = f"{self.previous_created_at:%Y-%m-%d %H:%M} UTC"
        return (f"Since the previous run of this period ({self.previous_run_id}, {when}): {self.resolved:,} "
                f"difference(s) resolved, {self.new:,} new, {self.still:,} still open"
                + (f" ({self.changed:,} with another status)" if self.changed else "")
                + (f"; that run had other options ({'; '.join(self.other_options)}), so some of this comes from "
                   "them, not from the shops or Exact" if self.other_options else ""))


def compare_runs(store: Any, run_id: str, previous_run_id: str | None = None) -> RunChanges | None:
    """The differences of ``run_id`` against ``previous_run_id`` (default: the newest earlier run of
    the same period, divisions and shops), or None when there is no such run. Only rows that differ are compared:
    they are all saved in full (``recon_result_rows``), so this reads no more than those."""
    run = load_run(store, run_id)
    if previous_run_id is None:
        # the same scope: a run of one shop says nothing of what another shop's run resolved
        rows = store.rows("SELECT run_id FROM recon_runs WHERE period = ? AND divisions = ?::INTEGER[] "
                          "AND shops = ?::VARCHAR[] AND (created_at < ? OR (created_at = ? AND run_id < ?)) "
                          "ORDER BY created_at DESC, run_id DESC LIMIT 1",
                          [run.period, list(run.divisions), list(run.shops), run.created_at, run.created_at, run_id])
        if not rows:
            return None
        previous_run_id = rows[0][0]
    previous = load_run(store, previous_run_id)  # an unknown id: ReconcileError
    ok = list(OK_STATUSES)
    resolved, new, still, changed = store.rows(
        """WITH a AS (SELECT result_key, status FROM recon_result_rows WHERE run_id = ? AND status NOT IN (SELECT unnest(?))),
                b AS (SELECT result_key, status FROM recon_result_rows WHERE run_id = ? AND status NOT IN (SELECT unnest(?)))
           SELECT count(*) FILTER (WHERE b.result_key IS NULL), count(*) FILTER (WHERE a.result_key IS NULL),
                  count(*) FILTER (WHERE a.result_key IS NOT NULL AND b.result_key IS NOT NULL),
                  count(*) FILTER (WHERE a.result_key IS NOT NULL AND b.result_key IS NOT NULL AND a.status <> b.status)
           FROM a FULL OUTER JOIN b USING (result_key)""",
        [previous_run_id, ok, run_id, ok])[0]
    return RunChanges(run_id=run_id, previous_run_id=previous_run_id, previous_created_at=previous.created_at,
                      resolved=int(resolved), new=int(new), still=int(still), changed=int(changed),
                      other_options=_other_options(previous, run))


def _other_options(before: Any, now: Any) -> tuple[str, ...]:
    """The options of run ``before`` that differ from run ``now``'s, in words (see RunChanges)."""
    from exactsync.reconcile.engine import Tolerance

    out = []
    tol_before, tol_now = Tolerance.text(before.tolerance), Tolerance.text(now.tolerance)
    if tol_before != tol_now:
        out.append(f"tolerance {tol_before} (now {tol_now})")
    p_before, p_now = before.params or {}, now.params or {}
    if p_before.get("customer_check") != p_now.get("customer_check"):
        out.append(f"customer check {p_before.get('customer_check') or 'strict'} (now {p_now.get('customer_check')})")
    if p_before.get("flag_draft", True) != p_now.get("flag_draft", True):
        out.append("drafts flagged (now not)" if p_before.get("flag_draft", True) else "drafts not flagged (now they are)")
    return tuple(out)
