"""A saved run reopens exactly as it was, after the documents and entries it read change.

Matched documents are saved slim (their descriptive fields are read from the store), so the writers
write such rows out in full before they change what the rows show (exactsync/store/saved_runs.py).
The changes here go through the real writers: the shop writer (an upsert of a corrected document),
the WooCommerce connector's removal of an order that left the booked statuses, and the Exact derive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from recon_world import DIV, World, oss

from exactsync.exact.derive import derive_entries
from exactsync.reconcile import results, run_reconciliation
from exactsync.shops.base import DOCUMENT_COLUMNS, VAT_LINE_COLUMNS, ShopDocument, VatLine, write_documents
from exactsync.shops.woocommerce import _drop_orders
from exactsync.store.saved_runs import keep_runs_for_entries, snapshot_entries

PERIOD = "2026-10"


def month(w: World) -> dict[int, str]:
    entries = {n: w.book(w.doc(n, f"2026-10-0{n}")) for n in (1, 2, 3)}
    entries[4] = w.book(w.doc(4, "2026-10-04", [oss("DE", "200", "19")], country="DE"), customer="acc-de")
    w.doc(5, "2026-10-05")  # missing in Exact: a full row from the start
    return entries


def shop_document(store, number: int, **changes) -> tuple[ShopDocument, list[VatLine]]:
    """Document ``number`` as the store has it (and its VAT lines), with ``changes``."""
    key = f"woo:invoice:{number}"
    row = store.query(f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM shop_documents WHERE doc_key = ?", [key])
    doc = dataclasses.replace(ShopDocument(**row.row(0, named=True)), **changes)
    lines = store.query(f"SELECT {', '.join(VAT_LINE_COLUMNS)} FROM shop_vat_lines WHERE doc_key = ?", [key])
    return doc, [VatLine(**ln) for ln in lines.iter_rows(named=True)]


def slim_rows(store, run_id: str) -> set[str]:
    return {k for (k,) in store.rows("SELECT doc_key FROM recon_result_matched WHERE run_id = ?", [run_id])}


def test_a_run_reopens_as_it_was_after_its_documents_change_or_go(store):
    w = World()
    month(w)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    before = results(store, run.run_id)
    assert slim_rows(store, run.run_id) == {f"woo:invoice:{n}" for n in (1, 2, 3, 4)}

    # written again unchanged (a re-pull): the run stays slim
    doc1, lines1 = shop_document(store, 1)
    with store.atomic() as con:
        write_documents(con, [doc1], lines1)
    assert slim_rows(store, run.run_id) == {f"woo:invoice:{n}" for n in (1, 2, 3, 4)}

    # November: document 2 is corrected (its number and VAT country; the amounts stay), order 3 is cancelled
    doc2, lines2 = shop_document(store, 2, doc_number="2-A", vat_country="BE",
                                 modified_at=dt.datetime(2026, 11, 20, 9))
    with store.atomic() as con:
        write_documents(con, [doc2], lines2)
        _drop_orders(con, "woo", ["3"], "pull-1", "shop:woo")
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '3'") == 0
    assert store.scalar("SELECT doc_number FROM shop_documents WHERE doc_key = 'woo:invoice:2'") == "2-A"

    after = results(store, run.run_id)
    assert after.equals(before), "a reopened run shows what it showed when it was saved"
    assert slim_rows(store, run.run_id) == {"woo:invoice:1", "woo:invoice:4"}  # only the two that changed moved
    row2 = after.filter(after["doc_key"] == "woo:invoice:2").row(0, named=True)
    assert (row2["doc_number"], row2["vat_country"], row2["status"]) == ("2", "NL", "matched")
    assert after.filter(after["doc_key"] == "woo:invoice:3")["kind"].to_list() == ["invoice"]

    # a new run sees the store as it is now
    now = results(store, run_reconciliation(store, w.settings(), PERIOD).run_id)
    assert "woo:invoice:3" not in now["doc_key"].to_list()
    assert now.filter(now["doc_key"] == "woo:invoice:2")["doc_number"].to_list() == ["2-A"]


def test_a_run_reopens_as_it_was_after_its_entries_are_derived_again(store):
    w = World()
    entries = month(w)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    before = results(store, run.run_id)

    # the entry of document 1 has no transaction lines left in the store (deleted in Exact): the derive
    # removes it; the entry of document 4 gets another YourRef
    with store.atomic() as con:
        derive_entries(con, DIV, [entries[1]])
        snapshot_entries(con, "e.entry_id = $id", {"id": entries[4]})
        con.execute("UPDATE exact_entries SET your_ref = 'WC-0004' WHERE entry_id = ?", [entries[4]])
        keep_runs_for_entries(con)
    assert store.scalar("SELECT count(*) FROM exact_entries WHERE entry_id = ?", [entries[1]]) == 0

    after = results(store, run.run_id)
    assert after.equals(before)
    assert slim_rows(store, run.run_id) == {"woo:invoice:2", "woo:invoice:3"}
    assert after.filter(after["doc_key"] == "woo:invoice:1")["entry_ids"].to_list() == [[entries[1]]]
