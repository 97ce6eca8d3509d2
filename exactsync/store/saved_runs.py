"""Saved runs stay as they were when the documents and entries they read change.

A run saves a matched document with one entry *slim* (``recon_result_matched``, migration 0310):
its key, shop, division, entry id and amounts. The ``recon_results`` view reads the rest of such a
row from the store: the document's kind, number, date, currency, VAT country and treatment from
``shop_documents``, the entry's YourRef, number and date from ``exact_entries``.

So before a writer changes one of those fields, or removes the document or the entry, the slim rows
that read it are written out in full to ``recon_result_rows`` (exactly what the view showed until
then) and dropped from ``recon_result_matched``. A reopened run then shows what it showed when it
was saved, whatever later pulls did. Nothing is written when nothing a saved row shows changes: a
re-pull of unchanged documents costs one join of the incoming keys, and none at all while no run is
saved.

Writers call these inside their own transaction, before the change (documents) or around it
(entries, which the Exact derive deletes and writes again):

* :func:`keep_runs_for_documents` — documents about to be upserted (only changed fields count);
* :func:`keep_runs_for_removed_documents` — documents about to be deleted;
* :func:`snapshot_entries` / :func:`keep_runs_for_entries` — before and after entries are derived again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb

from exactsync.store.migrations.m0310_recon_slim_results import VIEW as SLIM_VIEW

__all__ = [
    "DOCUMENT_FIELDS",
    "ENTRY_FIELDS",
    "keep_runs_for_documents",
    "keep_runs_for_removed_documents",
    "snapshot_entries",
    "keep_runs_for_entries",
]

#: what a slim row shows of its document and of its entry (the recon_results view)
DOCUMENT_FIELDS = ("kind", "doc_number", "doc_date", "currency", "vat_country", "treatment")
ENTRY_FIELDS = ("your_ref", "entry_number", "entry_date")

_KEYS = "_saved_runs_keys"
_OLD_ENTRIES = "_saved_runs_old_entries"

#: a slim row written out in full: the slim half of the recon_results view (migration 0310), its
#: entry fields read from ``{entries}``, for the slim rows ``{which}``
_SLIM_HALF = SLIM_VIEW.split("UNION ALL BY NAME", 1)[1]
_WRITE_OUT = ("INSERT INTO recon_result_rows BY NAME" + _SLIM_HALF.replace("LEFT JOIN exact_entries e", "LEFT JOIN {entries} e")
              + "WHERE {which}")


def _any_saved(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT EXISTS (SELECT 1 FROM recon_result_matched)").fetchall()[0][0])


def _write_out(con: duckdb.DuckDBPyConnection, which: str, *, entries: str = "exact_entries") -> int:
    """Write the slim rows ``which`` (SQL over ``m``) out in full; returns how many."""
    n = con.execute(_WRITE_OUT.replace("{entries}", entries).replace("{which}", which)).fetchall()[0][0]
    if n:
        con.execute(f"DELETE FROM recon_result_matched m WHERE {which}")
    return int(n)


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {table}")


_BY_DOC = f"EXISTS (SELECT 1 FROM {_KEYS} k WHERE k.doc_key = m.doc_key)"


def keep_runs_for_documents(con: duckdb.DuckDBPyConnection, docs: Sequence[Mapping[str, Any]]) -> int:
    """Before ``docs`` (rows of shop_documents: ``doc_key`` and the fields) are upserted: write out
    the slim rows of documents whose saved picture would change. Returns the rows written out."""
    if not docs or not _any_saved(con):
        return 0
    columns = ("doc_key", *DOCUMENT_FIELDS)
    incoming = ", ".join(f"unnest(${c}::{'DATE' if c == 'doc_date' else 'VARCHAR'}[]) AS {c}" for c in columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_KEYS} AS SELECT n.doc_key FROM (SELECT {incoming}) n "
        f"JOIN shop_documents d ON d.doc_key = n.doc_key "
        f"WHERE ({', '.join('d.' + c for c in DOCUMENT_FIELDS)}) IS DISTINCT FROM "
        f"({', '.join('n.' + c for c in DOCUMENT_FIELDS)})",
        {c: [d.get(c) for d in docs] for c in columns})
    try:
        return _write_out(con, _BY_DOC)
    finally:
        _drop(con, _KEYS)


def keep_runs_for_removed_documents(con: duckdb.DuckDBPyConnection, doc_keys: Iterable[str]) -> int:
    """Before the documents ``doc_keys`` are deleted: write out their slim rows."""
    keys = list(doc_keys)
    if not keys or not _any_saved(con):
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_KEYS} AS SELECT DISTINCT unnest(?::VARCHAR[]) AS doc_key", [keys])
    try:
        return _write_out(con, _BY_DOC)
    finally:
        _drop(con, _KEYS)


def snapshot_entries(con: duckdb.DuckDBPyConnection, where: str, params: Mapping[str, Any] | None = None) -> None:
    """Before the entries ``where`` (SQL over ``e``, exact_entries) are deleted and derived again:
    keep what saved runs show of those of them that a slim row reads."""
    _drop(con, _OLD_ENTRIES)
    if not _any_saved(con):
        return
    con.execute(
        f"CREATE TEMP TABLE {_OLD_ENTRIES} AS SELECT e.division, e.entry_id, {', '.join('e.' + c for c in ENTRY_FIELDS)} "
        f"FROM exact_entries e SEMI JOIN recon_result_matched m ON m.division = e.division AND m.entry_id = e.entry_id "
        f"WHERE {where}", dict(params or {}))


def keep_runs_for_entries(con: duckdb.DuckDBPyConnection) -> int:
    """After the entries of :func:`snapshot_entries` are derived again: write out, with the fields
    they had, the slim rows of entries that are gone or now show something else."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
                       [_OLD_ENTRIES]).fetchall()[0][0]:
        return 0
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_KEYS} AS SELECT o.division, o.entry_id FROM {_OLD_ENTRIES} o "
            f"LEFT JOIN exact_entries e ON e.division = o.division AND e.entry_id = o.entry_id "
            f"WHERE e.entry_id IS NULL OR ({', '.join('o.' + c for c in ENTRY_FIELDS)}) IS DISTINCT FROM "
            f"({', '.join('e.' + c for c in ENTRY_FIELDS)})")
        return _write_out(con, f"EXISTS (SELECT 1 FROM {_KEYS} k WHERE k.division = m.division AND k.entry_id = m.entry_id)",
                          entries=_OLD_ENTRIES)
    finally:
        _drop(con, _KEYS, _OLD_ENTRIES)
