"""The reference rule of :mod:`exactsync.reference` as a DuckDB macro, for matching in SQL.

There is one definition: :func:`exactsync.reference.normalize_reference`. The macro
``exs_norm_ref(ref)`` is generated from it:

* a reference that is already normal (printable ASCII, no spaces, no lower case, no leading zero
  in its trailing number: almost all of them) is returned as it is;
* other pure-ASCII references run the same steps in SQL — remove
  whitespace (the ASCII characters Python's ``\\s`` matches, listed from Python itself), upper-case,
  drop leading zeros of the trailing number, empty → NULL; tests check both agree on tricky and on
  generated inputs;
* anything else (non-ASCII, NUL) goes to the Python function itself, registered as a UDF, so
  Unicode upper-casing and Unicode whitespace follow Python exactly.

``exs_doc_ref(prefix, kind, number)`` is :func:`exactsync.reference.reference_for` (the YourRef a
push writes) and ``exs_ref_tail(kind, number)`` its part after the prefix: the store keeps every
document's ``exs_norm_ref(exs_ref_tail(…))`` and every entry's ``exs_norm_ref(YourRef)``
(exactsync/store/summaries.py), so a reconciliation does not normalize a million references.
"""

from __future__ import annotations

import re

import duckdb

from exactsync.reference import CREDIT_MARKER, normalize_reference

__all__ = ["install_reference_macro", "remove_reference_macro", "SQL_WHITESPACE", "MACRO", "UDF", "DOC_REF", "REF_TAIL"]

MACRO = "exs_norm_ref"
UDF = "exs_norm_ref_py"
DOC_REF = "exs_doc_ref"
REF_TAIL = "exs_ref_tail"

#: the ASCII characters (except NUL) that Python's ``\s`` matches, as an RE2 class
SQL_WHITESPACE = "[" + "".join(f"\\x{c:02x}" for c in range(1, 128) if re.match(r"\s", chr(c))) + "]+"


def _py(ref: str) -> str | None:
    return normalize_reference(ref)


def install_reference_macro(con: duckdb.DuckDBPyConnection) -> None:
    """Define ``exs_norm_ref(VARCHAR) → VARCHAR`` on this connection (temporary)."""
    try:
        # "special": the function itself may answer NULL (a reference of only Unicode spaces)
        con.create_function(UDF, _py, ["VARCHAR"], "VARCHAR", side_effects=False, null_handling="special")
    except duckdb.Error as e:  # already there on a nested use of the same connection
        if "already" not in str(e).lower():
            raise
    con.execute(
        f"""
        CREATE OR REPLACE TEMP MACRO {MACRO}(r) AS
            CASE
                WHEN r IS NULL THEN NULL
                -- fast path: printable ASCII without spaces or lower case, no leading zero in the number
                WHEN regexp_full_match(r, '[!-`{{-~]*') AND NOT regexp_matches(r, '(^|[^0-9])0[0-9]+$') THEN nullif(r, '')
                WHEN regexp_full_match(r, '[\\x01-\\x7f]*') THEN
                    nullif(regexp_replace(upper(regexp_replace(r, '{SQL_WHITESPACE}', '', 'g')),
                                          '^(.*?)0*([0-9]+)$', '\\1\\2'), '')
                ELSE {UDF}(r)
            END
        """
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP MACRO {REF_TAIL}(kind, number) AS
            CASE WHEN kind = 'credit_note' THEN '{CREDIT_MARKER}' ELSE '' END || trim(number)
    """)
    con.execute(f"CREATE OR REPLACE TEMP MACRO {DOC_REF}(prefix, kind, number) AS prefix || {REF_TAIL}(kind, number)")


def remove_reference_macro(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the macro and the UDF (a UDF keeps Python objects alive until removed)."""
    try:
        for name in (DOC_REF, REF_TAIL, MACRO):
            con.execute(f"DROP MACRO IF EXISTS {name}")
    except duckdb.Error:  # an aborted transaction: the temp macro goes with the connection
        pass
    try:
        con.remove_function(UDF)
    except duckdb.Error:
        pass
