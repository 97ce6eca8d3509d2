"""Derive ``exact_entries`` and ``exact_vat_lines`` from raw transaction lines (SQL in DuckDB).

Only entries of sales journals count: journals of type 20 (sales) or 21 (return invoices) in
``exact_journals``, or, for a journal not (yet) known, lines whose ``Type`` is 20/21.

Line roles inside an entry (TransactionLines are debit-positive, exact-online-api.md §5.8):

* **receivable** — ``LineNumber`` 0 (the sync header line) or a GL account of type 20 (AR):
  gives the gross (``AmountFC``; an invoice's receivable is a debit, so already sales sign);
* **VAT** — a GL account of type 24, or one that is some VAT code's ``GLToPay``: these carry the
  VAT a second time and are *not* added to net or VAT (their DC amount gives ``vat_dc``);
* **revenue** — every other line: net = −Σ ``AmountFC``, VAT = −Σ ``AmountVATFC``; per VAT code
  and revenue GL account they form ``exact_vat_lines`` (base = −``AmountVATBaseFC`` when the line
  has a VAT code and a base, else −``AmountFC``).

Signs flip once, here, so both tables are in sales sign (credit notes negative).
"""

from __future__ import annotations

import duckdb

from exactsync.store.saved_runs import keep_runs_for_entries, snapshot_entries
from exactsync.store.summaries import refresh_entry_summaries

__all__ = ["derive_entries", "derive_all"]

_AFFECTED = "_exact_affected_entries"

_LINES = """
    WITH vat_gl AS (
        SELECT DISTINCT gl_to_pay AS gl_id FROM exact_vat_codes WHERE division = $div AND gl_to_pay IS NOT NULL
    ),
    sales_journals AS (
        SELECT code FROM exact_journals WHERE division = $div AND type IN (20, 21)
    ),
    known_journals AS (
        SELECT code FROM exact_journals WHERE division = $div
    ),
    lines AS (
        SELECT t.*,
               CASE
                   WHEN t.line_number = 0 OR g.type = 20 THEN 'ar'
                   WHEN g.type = 24 OR t.gl_account_id IN (SELECT gl_id FROM vat_gl) THEN 'vat'
                   ELSE 'rev'
               END AS role
        FROM exact_transaction_lines t
        LEFT JOIN exact_gl_accounts g ON g.division = t.division AND g.gl_id = t.gl_account_id
        WHERE t.division = $div
          AND ({scope})
          AND (t.journal_code IN (SELECT code FROM sales_journals)
               OR (t.journal_code NOT IN (SELECT code FROM known_journals) AND t.type IN (20, 21)))
    )
"""

_ENTRIES = """
    INSERT INTO exact_entries BY NAME
    SELECT
        l.division,
        l.entry_id,
        arg_min(l.journal_code, l.line_number) AS journal_code,
        arg_min(l.entry_number, l.line_number) AS entry_number,
        arg_min(l.your_ref, l.line_number) AS your_ref,
        arg_min(l.description, l.line_number) AS description,
        arg_min(l.entry_date, l.line_number) AS entry_date,
        arg_min(l.fin_year, l.line_number) AS fin_year,
        arg_min(l.fin_period, l.line_number) AS fin_period,
        arg_min(l.currency, l.line_number) AS currency,
        arg_min(l.exchange_rate, l.line_number) AS fx_rate,
        arg_min(l.account_id, l.line_number) FILTER (WHERE l.account_id IS NOT NULL) AS customer_id,
        arg_min(l.account_code, l.line_number) FILTER (WHERE l.account_code IS NOT NULL) AS customer_code,
        NULL AS customer_name,
        COALESCE(-sum(l.amount_fc) FILTER (WHERE l.role = 'rev'), 0) AS net,
        COALESCE(-sum(l.vat_amount_fc) FILTER (WHERE l.role = 'rev'), 0) AS vat,
        COALESCE(sum(l.amount_fc) FILTER (WHERE l.role = 'ar'), 0) AS gross,
        COALESCE(-sum(l.amount_dc) FILTER (WHERE l.role = 'rev'), 0) AS net_dc,
        COALESCE(-sum(l.amount_dc) FILTER (WHERE l.role = 'vat'), 0) AS vat_dc,
        COALESCE(sum(l.amount_dc) FILTER (WHERE l.role = 'ar'), 0) AS gross_dc,
        max(l.status) AS status,
        arg_min(l.type, l.line_number) AS type,
        count(*) AS line_count,
        max(l.modified_at) AS modified_at,
        max(l.pulled_at) AS pulled_at
    FROM lines l
    GROUP BY l.division, l.entry_id
"""

_VAT_LINES = """
    INSERT INTO exact_vat_lines BY NAME
    SELECT
        l.division,
        l.entry_id,
        COALESCE(l.vat_code, '') AS vat_code,
        COALESCE(l.gl_account_code, '') AS gl_account_code,
        -sum(CASE WHEN l.vat_code IS NOT NULL AND l.vat_base_fc IS NOT NULL THEN l.vat_base_fc
                  ELSE COALESCE(l.amount_fc, 0) END) AS base,
        -sum(COALESCE(l.vat_amount_fc, 0)) AS vat,
        -sum(COALESCE(l.amount_dc, 0)) AS base_dc,
        round(-sum(COALESCE(l.vat_amount_fc, 0)) * COALESCE(any_value(l.exchange_rate), 1), 2) AS vat_dc,
        max(l.vat_percentage) AS vat_percentage
    FROM lines l
    WHERE l.role = 'rev'
    GROUP BY l.division, l.entry_id, COALESCE(l.vat_code, ''), COALESCE(l.gl_account_code, '')
"""

_NAMES = """
    UPDATE exact_entries e SET customer_name = a.name
    FROM exact_accounts a
    WHERE e.division = $div AND a.division = e.division AND a.account_id = e.customer_id AND ({scope_e})
"""


def _run(con: duckdb.DuckDBPyConnection, division: int, scope: str, scope_e: str) -> int:
    params = {"div": division}
    snapshot_entries(con, f"e.division = $div AND ({scope_e})", params)  # what saved runs show of them
    con.execute(f"DELETE FROM exact_entries e WHERE e.division = $div AND ({scope_e})", params)
    con.execute(f"DELETE FROM exact_vat_lines e WHERE e.division = $div AND ({scope_e})", params)
    con.execute(_LINES.format(scope=scope) + _ENTRIES, params)
    con.execute(_LINES.format(scope=scope) + _VAT_LINES, params)
    con.execute(_NAMES.format(scope_e=scope_e), params)
    refresh_entry_summaries(con, where=f"e.division = $div AND ({scope_e})", params=params)
    keep_runs_for_entries(con)
    return con.execute(f"SELECT count(*) FROM exact_entries e WHERE e.division = $div AND ({scope_e})",
                       params).fetchall()[0][0]


def derive_entries(con: duckdb.DuckDBPyConnection, division: int, entry_ids: set[str] | list[str],
                   written: set[str] | None = None) -> int:
    """Re-derive the given entries (inside the caller's transaction); returns entries written.
    ``written``, when given, gets their ids (a pull counts each entry once across its pages)."""
    ids = sorted({e for e in entry_ids if e})
    if not ids:
        return 0
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_AFFECTED} (entry_id VARCHAR PRIMARY KEY)")
    con.execute(f"DELETE FROM {_AFFECTED}")
    con.executemany(f"INSERT INTO {_AFFECTED} VALUES (?)", [[i] for i in ids]) if len(ids) < 50 else _bulk(con, ids)
    scope = f"t.entry_id IN (SELECT entry_id FROM {_AFFECTED})"
    scope_e = f"e.entry_id IN (SELECT entry_id FROM {_AFFECTED})"
    n = _run(con, division, scope, scope_e)
    if written is not None:
        written.update(r[0] for r in con.execute(
            f"SELECT e.entry_id FROM exact_entries e WHERE e.division = ? AND {scope_e}", [division]).fetchall())
    con.execute(f"DELETE FROM {_AFFECTED}")
    return n


def _bulk(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    import polars as pl

    frame = pl.DataFrame({"entry_id": ids}, schema={"entry_id": pl.String()})
    con.register("_exact_ids_frame", frame)
    try:
        con.execute(f"INSERT INTO {_AFFECTED} SELECT entry_id FROM _exact_ids_frame")
    finally:
        con.unregister("_exact_ids_frame")


def derive_all(con: duckdb.DuckDBPyConnection, division: int) -> int:
    """Re-derive every entry of a division (after reference data changed)."""
    return _run(con, division, "TRUE", "TRUE")
