"""Writing documents keeps what the reconciliation reads off each row current: line summaries and
the normalized reference (exactsync/store/summaries.py), refreshed once per batch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from exactsync.shops.base import ShopDocument, VatLine, write_documents

SUMMARY = ("SELECT doc_key, lines_n, lines_single, lines_treatment, lines_country, lines_rate, lines_base, "
           "lines_vat, ref_tail FROM shop_documents ORDER BY doc_key")


def doc(number: str, net: str, vat: str, kind: str = "invoice") -> ShopDocument:
    n, v = D(net), D(vat)
    return ShopDocument(
        doc_key=f"woo:{kind}:{number}", shop="woo", source="woocommerce", kind=kind, source_id=number,
        doc_number=number, order_id=number, order_number=number, doc_date=dt.date(2026, 10, 5),
        created_at=None, modified_at=None, currency="EUR", base_currency="EUR", fx_rate=D(1),
        customer_ref=None, customer_name="Klant", customer_email=None, company=None, billing_country="NL",
        ship_country="NL", vat_country="NL", vat_number=None, treatment="domestic", net=n, vat=v, gross=n + v,
        net_base=n, vat_base=v, gross_base=n + v, shipping_net=D(0), discount_net=D(0), status="completed",
        pulled_at=dt.datetime(2026, 11, 2))


def line(number: str, no: int, rate: str, base: str, vat: str, country: str = "NL", kind: str = "invoice") -> VatLine:
    return VatLine(doc_key=f"woo:{kind}:{number}", line_no=no, line_type="goods", tax_class="standard",
                   country=country, rate=D(rate), treatment="domestic", base=D(base), vat=D(vat))


def test_summaries_and_references_follow_every_rewrite(store):
    with store.atomic() as con:
        write_documents(con, [doc("0010", "100", "21"), doc("11", "4", "0.84", "credit_note")],
                        [line("0010", 1, "21", "100", "21"), line("11", 1, "21", "4", "0.84", kind="credit_note")])
    assert store.rows(SUMMARY) == [
        ("woo:credit_note:11", 1, True, "domestic", "NL", D("21"), D("4"), D("0.84"), "CN-11"),
        ("woo:invoice:0010", 1, True, "domestic", "NL", D("21"), D("100"), D("21"), "10"),
    ]
    # the same invoice pulled again with two rates, the credit note without lines: both follow
    with store.atomic() as con:
        write_documents(con, [doc("0010", "110", "21.90"), doc("11", "4", "0.84", "credit_note")],
                        [line("0010", 1, "21", "100", "21"), line("0010", 2, "9", "10", "0.90")])
    assert store.rows(SUMMARY) == [
        ("woo:credit_note:11", 0, False, None, None, None, D("0"), D("0"), "CN-11"),
        ("woo:invoice:0010", 2, False, "domestic", "NL", D("9"), D("110"), D("21.90"), "10"),
    ]
