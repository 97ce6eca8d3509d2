"""One reference rule: the SQL macro agrees with exactsync.reference.normalize_reference."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactsync.reconcile.sqlref import MACRO, install_reference_macro, remove_reference_macro
from exactsync.reference import CREDIT_MARKER, normalize_reference, normalized_prefix, reference_for

TRICKY = [
    None, "", " ", "\t\n", "0", "00", "000", "007", "WC-1234", " wc-1234 ", "wc - 00012", "M2-000000123",
    "m2-123", "M2-CN-0007", "WC-CN-0", "WC-12340", "abc", "ABC-", "12a", "a0b00", "x\x1cy 01", "wc-1\x0b2",
    "WC\x1f-09", "Straße 007", "ﬁ-01", "ｗｃ-１２", "١٢٣", "x\u00a0y 01", "WC-\u2003001", "é-0001", "ß",
    "MANUAL-202610-001", "CN-", "--0--0", "9" * 30, "0" * 30 + "1", "a\u0000b",
    "\x85", "\u2003", " \u00a0 ",  # only (Unicode) spaces: no reference, not an error
]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    install_reference_macro(c)
    yield c
    remove_reference_macro(c)
    c.close()


def sql_norm(con, values):
    con.execute("CREATE OR REPLACE TEMP TABLE refs (i INTEGER, r VARCHAR)")
    con.executemany("INSERT INTO refs VALUES (?, ?)", list(enumerate(values)))
    return [row[0] for row in con.execute(f"SELECT {MACRO}(r) FROM refs ORDER BY i").fetchall()]


def test_tricky_inputs_agree(con):
    assert sql_norm(con, TRICKY) == [normalize_reference(v) for v in TRICKY]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(
    st.text(alphabet=st.sampled_from(list("wcWC-mM20 1\t09aZ\x0b\x1cCN")), max_size=14),
    st.text(max_size=10),
), min_size=1, max_size=30))
def test_generated_inputs_agree(con, values):
    assert sql_norm(con, values) == [normalize_reference(v) for v in values]


PREFIXES = ["", "WC-", "wc -", "M2", "SHOP1", "S 1", "ｗｃ", "١", "X\u00a0", "CN-"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PREFIXES) | st.text(alphabet=st.sampled_from(list("wW-1 0\u00a0١")), max_size=5),
       st.text(alphabet=st.sampled_from(list("0123 -abCN\u00a0١")), max_size=8))
def test_prefix_joins_to_the_normalized_tail(prefix, tail):
    """The store keeps normalize(tail); a run joins the shop's prefix to it wherever that is exact."""
    p, joins = normalized_prefix(prefix)
    whole, part = normalize_reference(prefix + tail), normalize_reference(tail)
    if joins and part is not None:
        assert whole == p + part
    if prefix and not joins:
        assert p[-1].isdigit()  # the trailing number could run into the prefix: normalized whole


def test_a_digit_at_the_end_of_the_prefix_does_not_join():
    assert normalized_prefix("SHOP1") == ("SHOP1", False)
    assert normalize_reference("SHOP1" + "007") == "SHOP1007" != "SHOP1" + normalize_reference("007")
    assert normalized_prefix(" wc - ") == ("WC-", True)
    assert normalized_prefix(None) == ("", True)


def test_tail_and_doc_ref_macros(con):
    rows = con.execute("SELECT exs_ref_tail('credit_note', ' 12 '), exs_ref_tail('invoice', '12'), "
                       "exs_doc_ref('WC-', 'credit_note', '0012'), exs_doc_ref('WC-', 'invoice', NULL)").fetchall()
    assert rows == [(CREDIT_MARKER + "12", "12", "WC-" + CREDIT_MARKER + "0012", None)]
    assert reference_for("WC-", "credit_note", "0012") == rows[0][2]
