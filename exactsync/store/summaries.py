"""Line summaries: every document's and every entry's VAT lines, summed, kept on its own row.

The reconciliation compares a document's VAT split with its entry's. Most documents and entries
have their VAT lines in one bucket (one treatment, country and rate; one VAT code), so the store
keeps, on the row itself, what their lines add up to; the reconciliation then reads the lines
only of documents and entries with several buckets (and of rows with several entries). A month
of a million documents is reconciled without touching its million-and-a-half VAT lines.

``shop_documents``: ``lines_n`` (VAT lines), ``lines_single`` (all in one bucket: same treatment,
country and rate), ``lines_treatment``/``lines_country``/``lines_rate`` (that bucket, as stored on
the lines), ``lines_base``/``lines_vat`` (sums). ``exact_entries``: ``lines_n``, ``lines_single``
(one VAT code and one VAT percentage), ``lines_code``, ``lines_rate`` (the lines'
``vat_percentage``, NULL when they carry none), ``lines_base``, ``lines_vat`` and, from migration
0350, ``lines_base_dc``, ``lines_vat_dc`` (the same in the division's currency).

With them, the normalized match reference (migration 0340_match_refs, exactsync/reconcile/sqlref.py):
``shop_documents.ref_tail`` is ``exs_norm_ref([CN-]<doc_number>)``, the document's YourRef after the
shop's prefix, and ``exact_entries.ref_norm`` is ``exs_norm_ref(your_ref)``; NULL: the reconciliation
normalizes that row itself.

``lines_n IS NULL`` means "not summarized": the reconciliation reads that row's lines, so a
missing summary costs time, never correctness. The one writer keeps them current: every
``Store.upsert_rows`` into the four tables refreshes the rows it touched, the Exact derive
refreshes the entries it re-derived (in the same transaction as the lines). Code that changes VAT
lines with its own SQL must call :func:`refresh_shop_summaries` / :func:`refresh_entry_summaries`.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

__all__ = ["refresh_shop_summaries", "refresh_entry_summaries", "SHOP_COLUMNS", "ENTRY_COLUMNS"]

#: the summary columns (added by migration 0320_line_summaries)
SHOP_COLUMNS = ("lines_n", "lines_single", "lines_treatment", "lines_country", "lines_rate", "lines_base",
                "lines_vat")
ENTRY_COLUMNS = ("lines_n", "lines_single", "lines_code", "lines_rate", "lines_base", "lines_vat",
                 "lines_base_dc", "lines_vat_dc")  # the last two: migration 0350

_SHOP = """
UPDATE shop_documents d
SET lines_n = s.n, lines_single = s.single, lines_treatment = s.treatment, lines_country = s.country,
    lines_rate = s.rate, lines_base = s.base, lines_vat = s.vat{refs}
FROM (
    SELECT k.doc_key, count(l.doc_key) AS n,
           count(l.doc_key) > 0 AND min(l.treatment) = max(l.treatment)
               AND min(coalesce(l.country, '')) = max(coalesce(l.country, '')) AND min(l.rate) = max(l.rate) AS single,
           min(l.treatment) AS treatment, nullif(min(coalesce(l.country, '')), '') AS country, min(l.rate) AS rate,
           coalesce(sum(l.base), 0) AS base, coalesce(sum(l.vat), 0) AS vat
    FROM ({keys}) k LEFT JOIN shop_vat_lines l ON l.doc_key = k.doc_key
    GROUP BY k.doc_key
) s
WHERE d.doc_key = s.doc_key
"""

_ENTRY = """
UPDATE exact_entries e
SET lines_n = s.n, lines_single = s.single, lines_code = s.code, lines_rate = s.rate,
    lines_base = s.base, lines_vat = s.vat{dc}{refs}
FROM (
    SELECT k.division, k.entry_id, count(l.entry_id) AS n,
           count(l.entry_id) > 0 AND min(trim(l.vat_code)) = max(trim(l.vat_code))
               AND (count(l.vat_percentage) = 0
                    OR (count(l.vat_percentage) = count(l.entry_id) AND min(l.vat_percentage) = max(l.vat_percentage)))
               AS single,
           min(trim(l.vat_code)) AS code, min(l.vat_percentage) AS rate,
           coalesce(sum(l.base), 0) AS base, coalesce(sum(l.vat), 0) AS vat,
           coalesce(sum(l.base_dc), 0) AS base_dc, coalesce(sum(l.vat_dc), 0) AS vat_dc
    FROM ({keys}) k LEFT JOIN exact_vat_lines l ON l.division = k.division AND l.entry_id = k.entry_id
    GROUP BY k.division, k.entry_id
) s
WHERE e.division = s.division AND e.entry_id = s.entry_id
"""


#: set only where the table has the column: migrations 0320 and 0340 run before the later columns
#: exist (the match references come with 0340, the entries' division-currency sums with 0350)
_SHOP_REF = ",\n    ref_tail = exs_norm_ref(exs_ref_tail(d.kind, d.doc_number))"
_ENTRY_REF = ", ref_norm = exs_norm_ref(e.your_ref)"
_ENTRY_DC = ", lines_base_dc = s.base_dc, lines_vat_dc = s.vat_dc"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                      "AND database_name = current_database()", [table]).fetchall()}


def _macros(con: duckdb.DuckDBPyConnection, refs: bool) -> None:
    if refs:
        from exactsync.reconcile.sqlref import install_reference_macro  # the reference rule, in SQL

        install_reference_macro(con)


def refresh_shop_summaries(con: duckdb.DuckDBPyConnection, doc_keys: Sequence[str] | None = None) -> None:
    """Recompute the line summaries of these documents (``None``: of every document)."""
    refs = "ref_tail" in _columns(con, "shop_documents")
    _macros(con, refs)
    sql = _SHOP.replace("{refs}", _SHOP_REF if refs else "")
    if doc_keys is None:
        con.execute(sql.format(keys="SELECT doc_key FROM shop_documents"))
    elif doc_keys:
        con.execute(sql.format(keys="SELECT DISTINCT unnest(?::VARCHAR[]) AS doc_key"), [list(doc_keys)])


def refresh_entry_summaries(con: duckdb.DuckDBPyConnection, entries: Sequence[tuple[int, str]] | None = None, *,
                            where: str | None = None, params: dict | None = None) -> None:
    """Recompute the line summaries of these (division, entry_id) entries; ``where``: a condition on
    ``exact_entries e`` instead (with named ``params``); neither: every entry."""
    columns = _columns(con, "exact_entries")
    refs = "ref_norm" in columns
    _macros(con, refs)
    sql = _ENTRY.replace("{refs}", _ENTRY_REF if refs else "").replace(
        "{dc}", _ENTRY_DC if "lines_base_dc" in columns else "")
    if where is not None:
        con.execute(sql.format(keys=f"SELECT e.division, e.entry_id FROM exact_entries e WHERE {where}"),
                    params or {})
    elif entries is None:
        con.execute(sql.format(keys="SELECT division, entry_id FROM exact_entries"))
    elif entries:
        con.execute(sql.format(keys="SELECT DISTINCT unnest(?::INTEGER[]) AS division, unnest(?::VARCHAR[]) AS entry_id"),
                    [[int(d) for d, _ in entries], [str(e) for _, e in entries]])
