"""Pure payload pieces: cents, signs, VAT as the shop has it, and recognising our own entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from exactsync.mapping import ExactRefData, Mappings
from exactsync.push.payload import build_document_entry, find_existing, live_entries, payload_of

D = Decimal


def _mappings() -> Mappings:
    ref = ExactRefData(1)
    ref.vat_codes["2"] = {"code": "2", "percentage": D(21), "is_blocked": False, "vat_transaction_type": "B",
                          "oss_country": None}
    ref.gl_by_code["8000"] = {"code": "8000", "gl_id": "g-8000", "type": 110, "balance_type": "W", "is_blocked": False}
    ref.periods = [(2026, 3, dt.date(2026, 3, 1), dt.date(2026, 3, 31))]
    m = Mappings(1, ref, journal_code="70")
    m.vat[("", D("21.0000"), "domestic")] = "2"
    m.gl[("goods", "", "", "")] = "8000"
    return m


def _doc(net, vat, kind="invoice"):
    return {"doc_key": "s:invoice:1", "kind": kind, "doc_number": "1", "doc_date": dt.date(2026, 3, 5),
            "currency": "EUR", "net": D(net), "vat": D(vat), "vat_country": "NL", "treatment": "domestic"}


def _line(no, base, vat):
    return {"line_no": no, "line_type": "goods", "tax_class": None, "country": "NL", "rate": D(21),
            "treatment": "domestic", "base": D(base), "vat": D(vat)}


def test_lines_are_rounded_to_cents_and_add_up_to_the_document():
    doc = _doc("10.01", "2.10")
    lines = [_line(1, "3.3350", "0.7004"), _line(2, "6.6750", "1.3996")]
    draft, problems = build_document_entry(doc, lines, _mappings(), customer_id="c", your_ref="X-1")
    assert problems == []
    body = payload_of(draft)
    amounts = [D(x["AmountFC"]) for x in body["SalesEntryLines"]]
    vats = [D(x["VATAmountFC"]) for x in body["SalesEntryLines"]]
    assert sum(amounts) == D("10.01") and sum(vats) == D("2.10")
    assert body["VATAmountFC"] == "2.10" and body["ReportingPeriod"] == 3
    assert body["EntryDate"] == "2026-03-05T00:00:00"


def test_credit_note_is_negative_and_zero_lines_are_left_out():
    doc = _doc("-10.00", "-2.10", kind="credit_note")
    draft, problems = build_document_entry(doc, [_line(1, "-10", "-2.10"), _line(2, "0", "0")], _mappings(),
                                           customer_id="c", your_ref="X-CN-1")
    body = payload_of(draft)
    assert problems == [] and len(body["SalesEntryLines"]) == 1
    assert body["SalesEntryLines"][0]["AmountFC"] == "-10.00" and body["Description"].startswith("Credit note")


def test_a_reversal_found_by_its_amount_stands_for_one_entry_only():
    """Two duplicates of one amount, one reversal whose text was edited in Exact: it stood for the
    reversal of both, so the second duplicate was never reversed."""
    def e(n, amount, desc):
        return {"EntryID": f"ID{n}", "EntryNumber": n, "YourRef": "WC-9001", "AmountFC": Decimal(amount), "Description": desc}

    kept, d1, d2 = e(101, "121.00", "Order 9001"), e(102, "121.00", "Order 9001"), e(103, "121.00", "Order 9001")
    edited = e(104, "-121.00", "Storno dubbele boeking")
    entries = [kept, d1, d2, edited]
    assert find_existing("reverse", "WC-9001", 102, entries) is edited
    # once the job of 102 stands for it (Synced with its id), the job of 103 finds nothing: it posts
    assert find_existing("reverse", "WC-9001", 103, entries, taken={"id104"}) is None
    assert find_existing("reverse", "WC-9001", 103, entries + [e(105, "-121.00", "Reversal of entry 103")],
                         taken={"id104"})["EntryNumber"] == 105


def test_an_entry_and_its_exact_negation_cancel_whatever_their_text_says():
    """A reversal booked in Exact by hand: the reconciliation cancels the pair and finds the document
    missing, and the planner refused to push it ("Exact already holds entry 20")."""
    entries = [
        {"YourRef": "WC-7", "EntryNumber": 20, "Description": "Order 7", "gross": Decimal("121.00"),
         "net": Decimal("100.00"), "vat": Decimal("21.00"), "currency": "EUR"},
        {"YourRef": "WC-7", "EntryNumber": 21, "Description": "Creditering order 7", "gross": Decimal("-121.00"),
         "net": Decimal("-100.00"), "vat": Decimal("-21.00"), "currency": "EUR"},
    ]
    assert live_entries(entries) == []
    assert find_existing("create", "WC-7", None, entries) is None
    # not a negation (other VAT, other currency): both stay live
    other_vat = [entries[0], {**entries[1], "net": Decimal("-110.00"), "vat": Decimal("-11.00")}]
    assert len(live_entries(other_vat)) == 2
    assert len(live_entries([entries[0], {**entries[1], "currency": "USD"}])) == 2
    # one to one: two bookings and one negation leave one booking live
    twice = [entries[0], {**entries[0], "EntryNumber": 22}, entries[1]]
    assert [e["EntryNumber"] for e in live_entries(twice)] == [22]


def test_find_existing_tells_our_entries_apart():
    entries = [
        {"YourRef": "WC-1", "EntryNumber": 10, "Description": "Invoice 1"},
        {"YourRef": "wc-01", "EntryNumber": 11, "Description": "Reversal of entry 10"},
        {"YourRef": "WC-1", "EntryNumber": 12, "Description": "Correction of entry 10"},
        {"YourRef": "WC-2", "EntryNumber": 13, "Description": "Invoice 2"},
    ]
    assert [e["EntryNumber"] for e in live_entries(entries)] == [12, 13]
    assert find_existing("reverse", "WC-1", 10, entries)["EntryNumber"] == 11
    assert find_existing("rebook", "WC-1", 10, entries)["EntryNumber"] == 12
    assert find_existing("reverse", "WC-1", 12, entries) is None
    assert find_existing("create", "WC-1", None, entries)["EntryNumber"] == 12
    assert find_existing("create", "WC-3", None, entries) is None
    # a fully cancelled reference counts as absent for a new create
    assert find_existing("create", "WC-1", None, entries[:2]) is None


def test_the_gl_account_is_the_most_specific_row_treatment_first():
    m = _mappings()
    m.gl.update({("goods", "", "", "DE"): "8001", ("goods", "", "reduced", ""): "8002",
                 ("goods", "reverse_charge", "", ""): "8020", ("goods", "oss", "", "DE"): "8011",
                 ("shipping", "", "", ""): "8100"})
    assert m.gl_code("goods", None, "NL", "domestic") == "8000"  # nothing more specific: any
    assert m.gl_code("goods", None, "DE", "domestic") == "8001"  # country
    assert m.gl_code("goods", "reduced", "DE", "domestic") == "8002"  # tax class beats country
    assert m.gl_code("goods", "reduced", "DE", "reverse_charge") == "8020"  # treatment beats both
    assert m.gl_code("goods", None, "DE", "oss") == "8011" and m.gl_code("goods", None, "FR", "oss") == "8000"
    assert m.gl_code("adjustment", None, "DE", "reverse_charge") == "8020"  # an adjustment books as goods
    assert m.gl_code("fee", None, "NL", "domestic") is None


def test_a_line_is_booked_on_its_treatments_account_and_an_unmapped_one_is_named_with_it():
    m = _mappings()
    m.ref.gl_by_code["8020"] = {"code": "8020", "gl_id": "g-8020", "type": 110, "balance_type": "W", "is_blocked": False}
    m.ref.vat_codes["ICL"] = {"code": "ICL", "percentage": D(0), "is_blocked": False, "vat_transaction_type": "B",
                              "oss_country": None, "eu_sales_listing": "L"}
    m.vat[("", D("0.0000"), "reverse_charge")] = "ICL"
    m.gl[("goods", "reverse_charge", "", "")] = "8020"
    doc = {**_doc("100.00", "0.00"), "vat_country": "DE", "treatment": "reverse_charge"}
    rc = {**_line(1, "100", "0"), "country": "DE", "rate": D(0), "treatment": "reverse_charge"}
    draft, problems = build_document_entry(doc, [rc], m, customer_id="c", your_ref="X-2")
    assert problems == [] and [line.gl_code for line in draft.lines] == ["8020"]
    del m.gl[("goods", "", "", "")]
    _, problems = build_document_entry(_doc("10.00", "2.10"), [_line(1, "10", "2.10")], m, customer_id="c",
                                       your_ref="X-3")
    assert "no G/L account mapped for goods (domestic, NL) in division 1" in problems
