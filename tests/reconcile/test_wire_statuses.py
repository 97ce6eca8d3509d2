"""Every status and cause, from sandbox wire data: orders, refunds, invoices, credit memos and sales
entries as the three APIs return them.

One month (2026-10) is written in the sandboxes' own author forms (docs/sandbox-woocommerce.md,
docs/sandbox-magento.md, docs/sandbox-exact.md §7): a WooCommerce shop ``woo`` (YourRef ``WC-``)
and a Magento 2 shop ``mag`` (``M2-``) booking into Exact division 610001, plus a second division
610002 that no shop books into. The three sandboxes are served over real HTTP on 127.0.0.1, pulled
with the real connectors into a DuckDB file and reconciled once (module scope); every document and
every Exact-only reference then has its own test id with the status and cause it must get.

Amounts are written out by hand (what the shop computes, what the integration booked), so a
connector that reads the wire wrongly shows up here as a status that is not the expected one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from exactsync.demo.bootstrap import connect_sandbox_exact
from exactsync.exact.pull import pull_exact
from exactsync.reconcile import STATUSES, results, run_reconciliation
from exactsync.sandbox.exact import create_app as exact_app
from exactsync.sandbox.magento import create_app as magento_app
from exactsync.sandbox.server import serve
from exactsync.sandbox.woocommerce import create_app as woo_app
from exactsync.settings import ExactSettings, Secret, Settings, ShopSettings, StoreSettings
from exactsync.shops.magento import pull_magento
from exactsync.shops.woocommerce import pull_woocommerce
from exactsync.store import Store

D = Decimal
PERIOD = "2026-10"
DIV, DIV2 = 610001, 610002
CK, CS = "ck_" + "1a" * 20, "cs_" + "2b" * 20
MAG_TOKEN = "itok-wire-statuses"
CLIENT_ID = "{6a1c0e2d-0000-4c9d-8e6f-00000000a11e}"
CLIENT_SECRET = "sandbox-wire-secret"
REDIRECT_URI = "http://127.0.0.1:8599/"

# ----------------------------------------------------------------------------------- WooCommerce

#: tax-rate ids of the Woo store
NL21, NL9, DE19, BE21, FR20 = 1, 2, 3, 4, 5
WOO_TAX_RATES = [
    {"id": NL21, "country": "NL", "rate": "21.0000", "name": "BTW", "class": "standard", "shipping": True},
    {"id": NL9, "country": "NL", "rate": "9.0000", "name": "BTW laag", "class": "reduced-rate", "shipping": False},
    {"id": DE19, "country": "DE", "rate": "19.0000", "name": "MwSt", "class": "standard", "shipping": True},
    {"id": BE21, "country": "BE", "rate": "21.0000", "name": "BTW", "class": "standard", "shipping": True},
    {"id": FR20, "country": "FR", "rate": "20.0000", "name": "TVA", "class": "standard", "shipping": True},
]


def woo(oid: int, created: str, country: str, items: list[tuple], *, shipping: tuple | None = None,
        vat_number: str | None = None, currency: str = "EUR", status: str = "completed",
        refunds: list[dict] | None = None) -> dict:
    """A Woo author order; ``items`` = [(price, qty, tax_rate id or None)], ``shipping`` = (total, rate)."""
    reduced = {NL9}
    order: dict = {
        "id": oid, "status": status, "created": created, "currency": currency,
        "billing": {"first_name": "Kim", "last_name": f"Klant {oid}", "country": country,
                    "email": f"kim.{oid}@example.test", "company": "Firma" if vat_number else ""},
        "shipping": {"first_name": "Kim", "last_name": f"Klant {oid}", "country": country},
        "items": [{"name": f"Product {oid}-{n}", "qty": qty, "price": price, "tax_rate": rate,
                   "tax_class": "reduced-rate" if rate in reduced else "", "product_id": 100 + n,
                   "sku": f"SKU-{oid}-{n}"} for n, (price, qty, rate) in enumerate(items)],
        "shipping_lines": [{"method": "flat_rate", "title": "PostNL", "total": shipping[0], "tax_rate": shipping[1]}]
        if shipping else [],
    }
    if vat_number:
        order.update({"vat_number": vat_number, "vat_exempt": True})
    if refunds:
        order["refunds"] = refunds
    return order


WOO_ORDERS = [
    # matched: NL 21 % and 9 % goods and shipping
    woo(1001, "2026-10-02T09:00:00Z", "NL", [("50.00", 2, NL21), ("20.00", 1, NL9)], shipping=("5.00", NL21)),
    # matched invoice, its refund (one item back) matched as a credit note
    woo(1002, "2026-10-03T10:00:00Z", "NL", [("30.00", 2, NL21)],
        refunds=[{"id": 9002, "created": "2026-10-08T10:00:00Z", "reason": "Retour", "items": [{"line": 0, "qty": 1}]}]),
    woo(1003, "2026-10-04T11:00:00Z", "NL", [("40.00", 1, NL21)]),  # Exact VAT one cent higher
    woo(1004, "2026-10-05T12:00:00Z", "NL", [("15.00", 2, NL21)]),  # booked with twice the amount
    woo(1005, "2026-10-06T13:00:00Z", "NL", [("20.00", 1, NL9)]),  # 9 % goods on the 21 % code
    woo(1006, "2026-10-07T14:00:00Z", "FR", [("50.00", 1, FR20)]),  # FR OSS booked on the AT OSS code
    woo(1007, "2026-10-08T15:00:00Z", "DE", [("200.00", 1, None)], vat_number="DE123456789"),  # ICL as export
    woo(1008, "2026-10-09T08:00:00Z", "NL", [("10.00", 1, NL21)]),  # never booked
    woo(1009, "2026-10-10T08:00:00Z", "NL", [("10.00", 2, NL21)],  # invoice booked, refund never booked
        refunds=[{"id": 9009, "created": "2026-10-12T08:00:00Z", "reason": "Retour", "items": [{"line": 0, "qty": 1}]}]),
    woo(1010, "2026-10-11T08:00:00Z", "NL", [("25.00", 1, NL21)]),  # booked twice
    woo(1011, "2026-10-30T10:00:00Z", "NL", [("60.00", 1, NL21)]),  # booked on 2 November
    woo(1012, "2026-09-28T10:00:00Z", "NL", [("70.00", 1, NL21)]),  # September sale booked on 1 October
    woo(1013, "2026-10-13T16:00:00Z", "US", [("100.00", 1, None)], currency="USD"),  # USD booked in EUR
    woo(1014, "2026-10-14T16:00:00Z", "US", [("80.00", 1, None)], currency="USD"),  # USD booked in USD: matched
    woo(1015, "2026-10-15T09:00:00Z", "DE", [("150.00", 1, None)], vat_number="DE123456789"),  # other B2B account
    woo(1016, "2026-10-16T09:00:00Z", "NL", [("35.00", 1, NL21)]),  # entry left open
    woo(1017, "2026-10-17T09:00:00Z", "NL", [("45.00", 1, NL21)]),  # booked double, reversed, rebooked
    woo(1018, "2026-10-18T09:00:00Z", "DE", [("19.00", 1, DE19)], shipping=("10.00", DE19)),  # OSS DE matched
    woo(1019, "2026-10-19T09:00:00Z", "BE", [("300.00", 1, None)], vat_number="BE0412345678"),  # ICL matched
    woo(1020, "2026-10-20T09:00:00Z", "NL", [("99.00", 1, NL21)], status="cancelled"),  # not a sale
    # a full refund booked twice (a duplicated credit note); the invoice itself matched
    woo(1021, "2026-10-21T09:00:00Z", "NL", [("12.00", 1, NL21)], status="refunded",
        refunds=[{"id": 9021, "created": "2026-10-22T09:00:00Z", "reason": "Retour", "items": [{"line": 0, "qty": 1}]}]),
    # the first order of the month: 00:25 on 1 October in Amsterdam is still 30 September in UTC
    woo(1022, "2026-09-30T22:25:00Z", "NL", [("11.00", 1, NL21)]),
    # 23:30 UTC on 31 October is 00:30 on 1 November in Amsterdam (winter time since 25 October): a
    # November sale that the integration booked on its UTC date, in October
    woo(1023, "2026-10-31T23:30:00Z", "NL", [("13.00", 1, NL21)]),
    woo(1024, "2026-10-23T09:00:00Z", "NL", [("14.00", 1, NL21)]),  # YourRef typed " wc-01024": matched
    woo(1025, "2026-10-26T09:00:00Z", "NL", [("16.00", 1, NL21)]),  # dated in October, reported in November
]

WOO_SCENARIO = {
    "store": {"decimals": 2, "timezone": "Europe/Amsterdam", "base_country": "NL", "currency": "EUR",
              "prices_include_tax": False},
    "keys": [{"consumer_key": CK, "consumer_secret": CS, "permission": "read", "description": "wire test"}],
    "tax_rates": WOO_TAX_RATES,
    "tax_classes": [{"slug": "standard", "name": "Standard"}, {"slug": "reduced-rate", "name": "Reduced rate"}],
    "orders": WOO_ORDERS,
}

# ----------------------------------------------------------------------------------- Magento 2


def mag(oid: int, created: str, country: str, items: list[tuple], *, shipping: tuple = ("0", "0"),
        invoice: int | None = None, memo: dict | None = None, vat_number: str | None = None,
        currency: str | None = None, fx: str | None = None, invoice_number: str | None = None) -> dict:
    """A Magento author order; ``items`` = [(price, qty, tax percent)] in base currency (EUR).

    ``invoice`` = the invoice's entity id (increment id 100000000 + id unless ``invoice_number``);
    ``memo`` = a credit memo spec with an ``id`` (increment id 200000000 + id). The sandbox computes
    the amounts (row rounding, order currency = base × ``fx``), as Magento does.
    """
    billing: dict = {"country": country, "city": "Stad", "firstname": "Sam", "lastname": f"Koper {oid}"}
    if vat_number:
        billing.update({"company": "Zaak B.V.", "vat_id": vat_number, "vat_is_valid": 1})
    order: dict = {
        "id": oid, "increment_id": f"{500000000 + oid}", "created_at": created,
        "customer": {"email": f"sam.{oid}@example.test", "firstname": "Sam", "lastname": f"Koper {oid}"},
        "billing": billing,
        "items": [{"sku": f"M-{oid}-{n}", "name": f"Artikel {oid}-{n}", "qty": qty, "price": price, "tax_percent": pct}
                  for n, (price, qty, pct) in enumerate(items)],
        "shipping_amount": shipping[0], "shipping_tax_percent": shipping[1],
    }
    if currency:
        order.update({"currency": currency, "base_to_order_rate": fx})
    if invoice is not None:
        at = (dt.datetime.fromisoformat(created) + dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
        order["invoices"] = [{"id": invoice, "increment_id": invoice_number or f"{100000000 + invoice}",
                              "created_at": at}]
    if memo is not None:
        order["creditmemos"] = [{**memo, "increment_id": f"{200000000 + memo['id']}"}]
    return order


MAG_ORDERS = [
    # matched: NL 21 % and 9 % goods and shipping
    mag(1, "2026-10-02 09:00:00", "NL", [("25.00", 2, "21"), ("20.00", 1, "9")], shipping=("5.00", "21"), invoice=1),
    # matched invoice and a matched credit memo for one item
    mag(2, "2026-10-03 09:00:00", "NL", [("10.00", 2, "21")], invoice=2,
        memo={"id": 2, "created_at": "2026-10-09 09:00:00", "items": {"M-2-0": 1}}),
    mag(3, "2026-10-04 09:00:00", "NL", [("30.00", 1, "21")], invoice=3),  # Exact net one cent lower
    # invoice matched; credit memo for one item booked with twice the amount
    mag(4, "2026-10-05 09:00:00", "NL", [("10.00", 3, "21")], invoice=4,
        memo={"id": 4, "created_at": "2026-10-10 09:00:00", "items": {"M-4-0": 1}}),
    mag(5, "2026-10-06 09:00:00", "NL", [("40.00", 1, "21")], shipping=("5.00", "21"), invoice=5),  # shipping not booked
    mag(6, "2026-10-07 09:00:00", "BE", [("100.00", 1, "21")], invoice=6),  # BE OSS booked as domestic NL 21 %
    mag(7, "2026-10-08 09:00:00", "NL", [("15.00", 1, "21")], invoice=7),  # never booked
    # invoice matched; credit memo never booked
    mag(8, "2026-10-09 09:00:00", "NL", [("20.00", 2, "21")], invoice=8,
        memo={"id": 8, "created_at": "2026-10-11 09:00:00", "items": {"M-8-0": 1}}),
    mag(9, "2026-10-10 09:00:00", "NL", [("22.00", 1, "21")], invoice=9),  # booked twice
    mag(10, "2026-10-01 08:00:00", "NL", [("33.00", 1, "21")], invoice=10),  # booked on 30 September (closed)
    mag(11, "2026-10-12 09:00:00", "GB", [("100.00", 1, "0")], invoice=11, currency="GBP", fx="0.8650"),  # in EUR
    mag(12, "2026-10-13 09:00:00", "GB", [("50.00", 1, "0")], invoice=12, currency="GBP", fx="0.8650"),  # matched
    mag(13, "2026-10-14 09:00:00", "DE", [("50.00", 1, "19")], invoice=13),  # DE consumer booked on the NL debtor
    # invoice matched; full credit memo left open in Exact (draft)
    mag(14, "2026-10-15 09:00:00", "NL", [("20.00", 1, "21")], invoice=14,
        memo={"id": 14, "created_at": "2026-10-16 09:00:00", "full": True}),
    mag(15, "2026-10-16 09:00:00", "NL", [("60.00", 1, "21")], invoice=15),  # booked double, reversed, rebooked
    mag(16, "2026-10-17 09:00:00", "FR", [("500.00", 1, "0")], invoice=16, vat_number="FR40123456789"),  # ICL matched
    mag(17, "2026-10-18 09:00:00", "NL", [("18.00", 1, "21")]),  # never invoiced: not a sale
    mag(18, "2026-10-19 09:00:00", "NL", [("24.00", 1, "21")], invoice=18),  # left open in Exact (draft)
    # invoice matched; credit memo booked double, reversed and rebooked
    mag(19, "2026-10-20 09:00:00", "NL", [("16.00", 2, "21")], invoice=19,
        memo={"id": 19, "created_at": "2026-10-21 09:00:00", "items": {"M-19-0": 1}}),
    # invoiced at 23:30 Amsterdam time on 31 October (22:30 UTC): October, booked on the 31st
    mag(20, "2026-10-31 22:20:00", "NL", [("21.00", 1, "21")], invoice=20),
    # increment id with leading zeros, booked as "M2-21": the same reference
    mag(21, "2026-10-22 09:00:00", "NL", [("26.00", 1, "21")], invoice=21, invoice_number="000000021"),
    # GBP invoice and a GBP credit memo for one item, both booked in GBP: matched
    mag(22, "2026-10-23 09:00:00", "GB", [("30.00", 2, "0")], invoice=22, currency="GBP", fx="0.8650",
        memo={"id": 22, "created_at": "2026-10-27 09:00:00", "items": {"M-22-0": 1}}),
    mag(23, "2026-10-24 09:00:00", "NL", [("30.00", 1, "9")], invoice=23),  # 9 % goods on the 21 % code
    mag(24, "2026-10-24 10:00:00", "FR", [("40.00", 1, "20")], invoice=24),  # FR OSS booked on the AT OSS code
]

MAG_SCENARIO = {
    "store": {"base_currency": "EUR", "country": "NL", "tokens": [MAG_TOKEN], "integration_as_bearer": True,
              "store_codes": {"default": 1}, "overflow": "last_page", "input_limits": False},
    "tax_rates": [{"id": 1, "code": "NL-21", "tax_country_id": "NL", "rate": 21},
                  {"id": 2, "code": "NL-9", "tax_country_id": "NL", "rate": 9},
                  {"id": 3, "code": "DE-19", "tax_country_id": "DE", "rate": 19},
                  {"id": 4, "code": "BE-21", "tax_country_id": "BE", "rate": 21}],
    "tax_rules": [],
    "orders": MAG_ORDERS,
}


def minv(n: int) -> str:
    return f"M2-{100000000 + n}"


def mcn(n: int) -> str:
    return f"M2-CN-{200000000 + n}"


# ----------------------------------------------------------------------------------- Exact Online

NL_DEBTOR, DE_DEBTOR, BE_DEBTOR, FR_DEBTOR, US_DEBTOR, GB_DEBTOR = "10001", "10002", "10003", "10004", "10005", "10006"
ACME_DE, SCHULZ_DE, HOP_BE, LUMIERE_FR = "20001", "20002", "20003", "20004"
NO_REF_ENTRY = "6e000000-0000-4000-8000-00000000a001"

_numbers = iter(range(26_700_001, 26_800_000))


def entry(ref: str | None, date: str, customer: str, *lines: tuple, status: int = 50, currency: str | None = None,
          rate: str | None = None, description: str | None = None, **extra) -> dict:
    """A sales entry in journal 70; ``lines`` = [(GL, net, VAT code, VAT amount)] in sales sign."""
    e = {"journal": "70", "customer": customer, "date": date, "your_ref": ref, "entry_number": next(_numbers),
         "status": status, "description": description or f"Verkoop {ref}",
         "lines": [{"gl": gl, "amount": net, "vat_code": code, "vat_amount": vat, "description": "Omzet"}
                   for gl, net, code, vat in lines]}
    if currency:
        e.update({"currency": currency, "rate": rate})
    e.update(extra)
    return e


def reversal_of(e: dict, date: str) -> dict:
    """The reversing entry of ``e``: same YourRef and customer, every line negated (Exact's own shape)."""
    lines = [(ln["gl"], _neg(ln["amount"]), ln["vat_code"], _neg(ln["vat_amount"])) for ln in e["lines"]]
    return entry(e["your_ref"], date, e["customer"], *lines, description=f"Reversal of entry {e['entry_number']}")


def _neg(amount: str) -> str:
    return f"{-D(amount)}"


WOO_WRONG = entry("WC-1017", "2026-10-17", NL_DEBTOR, ("8000", "90.00", "2", "18.90"))
MAG_WRONG = entry(minv(15), "2026-10-16", NL_DEBTOR, ("8000", "120.00", "2", "25.20"))
MAG_CN_WRONG = entry(mcn(19), "2026-10-21", NL_DEBTOR, ("8000", "-32.00", "2", "-6.72"))

ENTRIES = [
    # --- WooCommerce
    entry("WC-1001", "2026-10-02", NL_DEBTOR, ("8000", "100.00", "2", "21.00"), ("8000", "20.00", "1", "1.80"),
          ("8100", "5.00", "2", "1.05")),
    entry("WC-1002", "2026-10-03", NL_DEBTOR, ("8000", "60.00", "2", "12.60")),
    entry("WC-CN-9002", "2026-10-08", NL_DEBTOR, ("8000", "-30.00", "2", "-6.30")),
    entry("WC-1003", "2026-10-04", NL_DEBTOR, ("8000", "40.00", "2", "8.41")),
    entry("WC-1004", "2026-10-05", NL_DEBTOR, ("8000", "60.00", "2", "12.60")),
    entry("WC-1005", "2026-10-06", NL_DEBTOR, ("8000", "20.00", "2", "1.80")),
    entry("WC-1006", "2026-10-07", FR_DEBTOR, ("8010", "50.00", "ATH", "10.00")),
    entry("WC-1007", "2026-10-08", ACME_DE, ("8020", "200.00", "EXP", "0")),
    entry("WC-1009", "2026-10-10", NL_DEBTOR, ("8000", "20.00", "2", "4.20")),
    entry("WC-1010", "2026-10-11", NL_DEBTOR, ("8000", "25.00", "2", "5.25")),
    entry("WC-1010", "2026-10-11", NL_DEBTOR, ("8000", "25.00", "2", "5.25")),
    entry("WC-1011", "2026-11-02", NL_DEBTOR, ("8000", "60.00", "2", "12.60")),
    entry("WC-1012", "2026-10-01", NL_DEBTOR, ("8000", "70.00", "2", "14.70")),
    entry("WC-1013", "2026-10-13", US_DEBTOR, ("8020", "100.00", "EXP", "0")),
    entry("WC-1014", "2026-10-14", US_DEBTOR, ("8020", "80.00", "EXP", "0"), currency="USD", rate="0.92"),
    entry("WC-1015", "2026-10-15", SCHULZ_DE, ("8020", "150.00", "ICL", "0")),
    entry("WC-1016", "2026-10-16", NL_DEBTOR, ("8000", "35.00", "2", "7.35"), status=20),
    WOO_WRONG,
    reversal_of(WOO_WRONG, "2026-10-19"),
    entry("WC-1017", "2026-10-19", NL_DEBTOR, ("8000", "45.00", "2", "9.45")),
    entry("WC-1018", "2026-10-18", DE_DEBTOR, ("8010", "19.00", "DEH", "3.61"), ("8100", "10.00", "DEH", "1.90")),
    entry("WC-1019", "2026-10-19", HOP_BE, ("8020", "300.00", "ICL", "0")),
    entry("WC-1021", "2026-10-21", NL_DEBTOR, ("8000", "12.00", "2", "2.52")),
    entry("WC-CN-9021", "2026-10-22", NL_DEBTOR, ("8000", "-12.00", "2", "-2.52")),
    entry("WC-CN-9021", "2026-10-23", NL_DEBTOR, ("8000", "-12.00", "2", "-2.52")),
    entry("WC-1022", "2026-10-01", NL_DEBTOR, ("8000", "11.00", "2", "2.31")),
    entry("WC-1023", "2026-10-31", NL_DEBTOR, ("8000", "13.00", "2", "2.73")),
    entry(" wc-01024", "2026-10-23", NL_DEBTOR, ("8000", "14.00", "2", "2.94")),
    entry("WC-1025", "2026-10-26", NL_DEBTOR, ("8000", "16.00", "2", "3.36"), year=2026, period=11),
    # --- Magento
    entry(minv(1), "2026-10-02", NL_DEBTOR, ("8000", "50.00", "2", "10.50"), ("8000", "20.00", "1", "1.80"),
          ("8100", "5.00", "2", "1.05")),
    entry(minv(2), "2026-10-03", NL_DEBTOR, ("8000", "20.00", "2", "4.20")),
    entry(mcn(2), "2026-10-09", NL_DEBTOR, ("8000", "-10.00", "2", "-2.10")),
    entry(minv(3), "2026-10-04", NL_DEBTOR, ("8000", "29.99", "2", "6.30")),
    entry(minv(4), "2026-10-05", NL_DEBTOR, ("8000", "30.00", "2", "6.30")),
    entry(mcn(4), "2026-10-10", NL_DEBTOR, ("8000", "-20.00", "2", "-4.20")),
    entry(minv(5), "2026-10-06", NL_DEBTOR, ("8000", "40.00", "2", "8.40")),
    entry(minv(6), "2026-10-07", BE_DEBTOR, ("8000", "100.00", "2", "21.00")),
    entry(minv(8), "2026-10-09", NL_DEBTOR, ("8000", "40.00", "2", "8.40")),
    entry(minv(9), "2026-10-10", NL_DEBTOR, ("8000", "22.00", "2", "4.62")),
    entry(minv(9), "2026-10-12", NL_DEBTOR, ("8000", "22.00", "2", "4.62")),
    entry(minv(10), "2026-09-30", NL_DEBTOR, ("8000", "33.00", "2", "6.93")),
    entry(minv(11), "2026-10-12", GB_DEBTOR, ("8020", "100.00", "EXP", "0")),
    entry(minv(12), "2026-10-13", GB_DEBTOR, ("8020", "43.25", "EXP", "0"), currency="GBP", rate="1.156069"),
    entry(minv(13), "2026-10-14", NL_DEBTOR, ("8010", "50.00", "DEH", "9.50")),
    entry(minv(14), "2026-10-15", NL_DEBTOR, ("8000", "20.00", "2", "4.20")),
    entry(mcn(14), "2026-10-16", NL_DEBTOR, ("8000", "-20.00", "2", "-4.20"), status=20),
    MAG_WRONG,
    reversal_of(MAG_WRONG, "2026-10-18"),
    entry(minv(15), "2026-10-18", NL_DEBTOR, ("8000", "60.00", "2", "12.60")),
    entry(minv(16), "2026-10-17", LUMIERE_FR, ("8020", "500.00", "ICL", "0")),
    entry(minv(18), "2026-10-19", NL_DEBTOR, ("8000", "24.00", "2", "5.04"), status=20),
    entry(minv(19), "2026-10-20", NL_DEBTOR, ("8000", "32.00", "2", "6.72")),
    MAG_CN_WRONG,
    reversal_of(MAG_CN_WRONG, "2026-10-22"),
    entry(mcn(19), "2026-10-22", NL_DEBTOR, ("8000", "-16.00", "2", "-3.36")),
    entry(minv(20), "2026-10-31", NL_DEBTOR, ("8000", "21.00", "2", "4.41")),
    entry("M2-21", "2026-10-22", NL_DEBTOR, ("8000", "26.00", "2", "5.46")),
    entry(minv(22), "2026-10-23", GB_DEBTOR, ("8020", "51.90", "EXP", "0"), currency="GBP", rate="1.156069"),
    entry(mcn(22), "2026-10-27", GB_DEBTOR, ("8020", "-25.95", "EXP", "0"), currency="GBP", rate="1.156069"),
    entry(minv(23), "2026-10-24", NL_DEBTOR, ("8000", "30.00", "2", "2.70")),
    entry(minv(24), "2026-10-24", FR_DEBTOR, ("8010", "40.00", "ATH", "8.00")),
    # --- Exact only: a manual correction, an entry without YourRef
    entry("MANUAL-2026-10-001", "2026-10-20", NL_DEBTOR, ("8000", "50.00", "2", "10.50"),
          description="Handmatige correctie"),
    entry(None, "2026-10-25", NL_DEBTOR, ("8000", "-15.00", "2", "-3.15"), description="Coulance", id=NO_REF_ENTRY),
]


def division_610001() -> dict:
    vat = [
        {"code": "2", "description": "BTW hoog 21%", "percentage": 21, "type": "E", "vat_transaction_type": "B",
         "gl_to_pay": "1500"},
        {"code": "1", "description": "BTW laag 9%", "percentage": 9, "type": "E", "vat_transaction_type": "B",
         "gl_to_pay": "1500"},
        {"code": "ICL", "description": "ICL 0% verlegd", "percentage": 0, "type": "B", "vat_transaction_type": "S",
         "eu_sales_listing": "L", "gl_to_pay": "1500"},
        {"code": "EXP", "description": "Export 0%", "percentage": 0, "type": "E", "vat_transaction_type": "S",
         "gl_to_pay": "1500"},
    ]
    for code, country, pct in (("DEH", "DE", 19), ("BEH", "BE", 21), ("FRH", "FR", 20), ("ATH", "AT", 20)):
        vat.append({"code": code, "description": f"OSS {country} {pct}%", "percentage": pct, "type": "E",
                    "vat_transaction_type": "S", "oss_country": country, "gl_to_pay": "1510"})
    accounts = [{"code": code, "name": f"Webshop particulieren {c}", "country": c, "status": "C"}
                for code, c in ((NL_DEBTOR, "NL"), (DE_DEBTOR, "DE"), (BE_DEBTOR, "BE"), (FR_DEBTOR, "FR"),
                                (US_DEBTOR, "US"), (GB_DEBTOR, "GB"))]
    accounts += [{"code": code, "name": name, "country": c, "vat_number": vatno, "status": "C"}
                 for code, name, c, vatno in ((ACME_DE, "ACME Handels GmbH", "DE", "DE123456789"),
                                              (SCHULZ_DE, "Bürobedarf Schulz KG", "DE", "DE987654321"),
                                              (HOP_BE, "Brouwerij Hop BV", "BE", "BE0412345678"),
                                              (LUMIERE_FR, "Maison Lumière SARL", "FR", "FR40123456789"))]
    return {
        "code": DIV, "description": "Webwinkel B.V.", "currency": "EUR", "country": "NL",
        "vat_number": "NL859000001B01",
        "gl_accounts": [{"code": "1300", "description": "Debiteuren", "type": 20},
                        {"code": "1500", "description": "Te betalen btw", "type": 24},
                        {"code": "1510", "description": "Te betalen btw OSS", "type": 24},
                        {"code": "8000", "description": "Omzet NL", "type": 110},
                        {"code": "8010", "description": "Omzet OSS", "type": 110},
                        {"code": "8020", "description": "Omzet ICL/export", "type": 110},
                        {"code": "8100", "description": "Verzendkosten", "type": 110}],
        "ar_gl_account": "1300",
        "vat_codes": vat,
        "journals": [{"code": "70", "description": "Verkoopboek", "type": 20}],
        "periods": {"years": [2026]},
        "closed_periods": [{"journal": "70", "year": 2026, "period": 9}],
        "accounts": accounts,
        "entries": ENTRIES,
    }


def division_610002() -> dict:
    """A second administration no shop books into: its WC-1001 must not match woo's WC-1001."""
    return {
        "code": DIV2, "description": "Holding B.V.", "currency": "EUR", "country": "NL",
        "gl_accounts": [{"code": "1300", "description": "Debiteuren", "type": 20},
                        {"code": "1500", "description": "Te betalen btw", "type": 24},
                        {"code": "8000", "description": "Omzet advies", "type": 110}],
        "ar_gl_account": "1300",
        "vat_codes": [{"code": "21", "description": "BTW 21%", "percentage": 21, "type": "E",
                       "vat_transaction_type": "B", "gl_to_pay": "1500"}],
        "journals": [{"code": "70", "description": "Verkopen", "type": 20}],
        "periods": {"years": [2026]},
        "accounts": [{"code": "1", "name": "Intercompany", "country": "NL", "status": "C"}],
        "entries": [entry("WC-1001", "2026-10-05", "1", ("8000", "250.00", "21", "52.50"), entry_number=700001)],
    }


EXACT_SCENARIO = {
    "seed": 5,
    "app": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT_URI},
    "user": {"user_name": "wire@example.test", "current_division": DIV},
    "divisions": [division_610001(), division_610002()],
}

# ----------------------------------------------------------------------------------- expectations

#: (test id, result key, status); cause = status except for matched (None)
EXPECTED: list[tuple[str, str, str]] = [
    # WooCommerce
    ("woo-invoice-matched", "doc:woo:invoice:1001", "matched"),
    ("woo-invoice-matched-with-refund", "doc:woo:invoice:1002", "matched"),
    ("woo-credit-note-matched", "doc:woo:credit_note:9002", "matched"),
    ("woo-within-tolerance-vat-cent", "doc:woo:invoice:1003", "matched_within_tolerance"),
    ("woo-amount-differs-line-doubled", "doc:woo:invoice:1004", "amount_differs"),
    ("woo-vat-differs-wrong-rate", "doc:woo:invoice:1005", "vat_differs"),
    ("woo-vat-differs-wrong-oss-country", "doc:woo:invoice:1006", "vat_differs"),
    ("woo-vat-differs-reverse-charge-as-export", "doc:woo:invoice:1007", "vat_differs"),
    ("woo-invoice-missing", "doc:woo:invoice:1008", "missing_in_exact"),
    ("woo-invoice-matched-refund-missing", "doc:woo:invoice:1009", "matched"),
    ("woo-credit-note-missing", "doc:woo:credit_note:9009", "missing_in_exact"),
    ("woo-duplicated", "doc:woo:invoice:1010", "duplicated_in_exact"),
    ("woo-other-period-booked-next-month", "doc:woo:invoice:1011", "other_period"),
    ("woo-other-period-exact-row", f"exact:{DIV}:WC-1012", "other_period"),
    ("woo-currency-differs-usd-in-eur", "doc:woo:invoice:1013", "currency_differs"),
    ("woo-usd-matched", "doc:woo:invoice:1014", "matched"),
    ("woo-customer-differs-other-b2b", "doc:woo:invoice:1015", "customer_differs"),
    ("woo-draft", "doc:woo:invoice:1016", "draft"),
    ("woo-reversal-pair-rebooked", "doc:woo:invoice:1017", "matched"),
    ("woo-oss-matched", "doc:woo:invoice:1018", "matched"),
    ("woo-reverse-charge-matched", "doc:woo:invoice:1019", "matched"),
    ("woo-refunded-invoice-matched", "doc:woo:invoice:1021", "matched"),
    ("woo-credit-note-duplicated", "doc:woo:credit_note:9021", "duplicated_in_exact"),
    ("woo-first-minutes-of-month-matched", "doc:woo:invoice:1022", "matched"),
    ("woo-november-sale-booked-in-october", f"exact:{DIV}:WC-1023", "other_period"),
    ("woo-reference-typed-differently-matched", "doc:woo:invoice:1024", "matched"),
    ("woo-other-period-reporting-period", "doc:woo:invoice:1025", "other_period"),
    # Magento
    ("mag-invoice-matched", "doc:mag:invoice:1", "matched"),
    ("mag-invoice-matched-with-memo", "doc:mag:invoice:2", "matched"),
    ("mag-credit-memo-matched", "doc:mag:credit_note:2", "matched"),
    ("mag-within-tolerance-net-cent", "doc:mag:invoice:3", "matched_within_tolerance"),
    ("mag-invoice-matched-memo-wrong", "doc:mag:invoice:4", "matched"),
    ("mag-credit-memo-amount-differs", "doc:mag:credit_note:4", "amount_differs"),
    ("mag-amount-differs-shipping-missing", "doc:mag:invoice:5", "amount_differs"),
    ("mag-vat-differs-oss-as-domestic", "doc:mag:invoice:6", "vat_differs"),
    ("mag-invoice-missing", "doc:mag:invoice:7", "missing_in_exact"),
    ("mag-invoice-matched-memo-missing", "doc:mag:invoice:8", "matched"),
    ("mag-credit-memo-missing", "doc:mag:credit_note:8", "missing_in_exact"),
    ("mag-duplicated", "doc:mag:invoice:9", "duplicated_in_exact"),
    ("mag-other-period-booked-previous-closed-month", "doc:mag:invoice:10", "other_period"),
    ("mag-currency-differs-gbp-in-eur", "doc:mag:invoice:11", "currency_differs"),
    ("mag-gbp-matched", "doc:mag:invoice:12", "matched"),
    ("mag-customer-differs-country", "doc:mag:invoice:13", "customer_differs"),
    ("mag-invoice-matched-memo-draft", "doc:mag:invoice:14", "matched"),
    ("mag-credit-memo-draft", "doc:mag:credit_note:14", "draft"),
    ("mag-reversal-pair-rebooked", "doc:mag:invoice:15", "matched"),
    ("mag-reverse-charge-matched", "doc:mag:invoice:16", "matched"),
    ("mag-draft", "doc:mag:invoice:18", "draft"),
    ("mag-invoice-matched-memo-reversed", "doc:mag:invoice:19", "matched"),
    ("mag-credit-memo-reversal-pair-rebooked", "doc:mag:credit_note:19", "matched"),
    ("mag-last-hour-of-month-matched", "doc:mag:invoice:20", "matched"),
    ("mag-increment-id-leading-zeros-matched", "doc:mag:invoice:21", "matched"),
    ("mag-gbp-invoice-with-memo-matched", "doc:mag:invoice:22", "matched"),
    ("mag-gbp-credit-memo-matched", "doc:mag:credit_note:22", "matched"),
    ("mag-vat-differs-wrong-rate", "doc:mag:invoice:23", "vat_differs"),
    ("mag-vat-differs-wrong-oss-country", "doc:mag:invoice:24", "vat_differs"),
    # Exact only
    ("exact-only-manual-reference", f"exact:{DIV}:MANUAL-2026-10-1", "only_in_exact"),
    ("exact-only-without-reference", f"exact:{DIV}:entry:{NO_REF_ENTRY}", "only_in_exact"),
    ("exact-only-other-division", f"exact:{DIV2}:WC-1001", "only_in_exact"),
]

#: result keys of the reversal pairs (3 entries, 1 live)
REVERSALS = ("doc:woo:invoice:1017", "doc:mag:invoice:15", "doc:mag:credit_note:19")


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory):
    """The month served over HTTP, pulled with the connectors into DuckDB, reconciled once."""
    tmp: Path = tmp_path_factory.mktemp("wire")
    apps = {"exact": exact_app(EXACT_SCENARIO), "woocommerce": woo_app(WOO_SCENARIO),
            "magento": magento_app(MAG_SCENARIO)}
    servers = {}
    try:
        for name, app in apps.items():
            servers[name] = serve(app)
        shops = {
            "woo": ShopSettings(name="woo", kind="woocommerce", url=servers["woocommerce"].url,
                                consumer_key=Secret(CK), consumer_secret=Secret(CS), division=DIV,
                                reference_prefix="WC-", concurrency=1, timeout=10),
            "mag": ShopSettings(name="mag", kind="magento", url=servers["magento"].url, token=Secret(MAG_TOKEN),
                                division=DIV, reference_prefix="M2-", timeout=10),
        }
        settings = Settings(
            store=StoreSettings(path=tmp / "exactsync.duckdb", lock_timeout=30),
            exact=ExactSettings(base_url=servers["exact"].url, client_id=CLIENT_ID,
                                client_secret=Secret(CLIENT_SECRET), redirect_uri=REDIRECT_URI,
                                divisions=[DIV, DIV2], token_file=tmp / "exact_token.json", timeout=10),
            shops=shops,
        )
        store = Store.open(settings.store.path, lock_timeout=30)
        connect_sandbox_exact(settings)
        pulls = {"woo": pull_woocommerce(store, shops["woo"]), "mag": pull_magento(store, shops["mag"])}
        for division in (DIV, DIV2):
            pulls[division] = pull_exact(store, settings, division, full=True)
    finally:
        for server in servers.values():
            server.stop()
    run = run_reconciliation(store, settings, PERIOD)
    rows = {r["result_key"]: r for r in results(store, run.run_id).iter_rows(named=True)}
    return store, run, rows, pulls


def test_pulls_are_clean(reconciled):
    store, _run, _rows, pulls = reconciled
    assert (pulls["woo"].errors, pulls["woo"].documents) == (0, 27)  # 25 orders - 1 cancelled + 3 refunds
    assert (pulls["mag"].errors, pulls["mag"].documents) == (0, 29)  # 23 invoices + 6 credit memos
    for division in (DIV, DIV2):
        assert pulls[division].complete and pulls[division].record_errors == 0, division
    assert store.scalar("SELECT count(*) FROM exact_entries WHERE division = ?", [DIV]) == len(ENTRIES)
    assert store.scalar("SELECT count(*) FROM sync_log WHERE level = 'error'") == 0


@pytest.mark.parametrize(("result_key", "status"), [(k, s) for _id, k, s in EXPECTED],
                         ids=[i for i, _k, _s in EXPECTED])
def test_status_and_cause(reconciled, result_key, status):
    _store, _run, rows, _pulls = reconciled
    assert result_key in rows, f"no result row {result_key}"
    row = rows[result_key]
    assert (row["status"], row["cause"]) == (status, None if status == "matched" else status), row["detail"]
    if status != "matched":
        assert row["flags"][0] == status, row["flags"]


def test_nothing_else_is_flagged_and_every_status_is_covered(reconciled):
    _store, run, rows, _pulls = reconciled
    assert set(rows) == {k for _id, k, _s in EXPECTED}
    assert {s for _id, _k, s in EXPECTED} == set(STATUSES)
    want: dict[str, int] = {}
    for _id, _k, s in EXPECTED:
        want[s] = want.get(s, 0) + 1
    assert {k: v for k, v in run.counts.items() if v} == want


@pytest.mark.parametrize("result_key", REVERSALS)
def test_reversal_pairs_cancel_and_leave_one_live_entry(reconciled, result_key):
    _store, _run, rows, _pulls = reconciled
    row = rows[result_key]
    assert (row["entry_count"], row["live_count"]) == (3, 1)
    assert row["exact_gross"] == row["shop_gross"] and row["delta_gross"] == 0


def test_amounts_as_read_from_the_wire(reconciled):
    """A few rows in detail: the connectors' amounts, the deltas and the sentence."""
    _store, run, rows, _pulls = reconciled
    r = rows["doc:woo:invoice:1001"]
    assert (r["shop_net"], r["shop_vat"], r["shop_gross"]) == (D("125.00"), D("23.85"), D("148.85"))
    assert r["exact_gross"] == D("148.85") and r["your_ref"] == "WC-1001"
    r = rows["doc:woo:credit_note:9002"]
    assert (r["shop_gross"], r["exact_gross"], r["your_ref"]) == (D("-36.30"), D("-36.30"), "WC-CN-9002")
    r = rows["doc:woo:invoice:1003"]
    assert (r["delta_net"], r["delta_vat"], r["delta_gross"]) == (0, D("0.01"), D("0.01"))
    assert r["tolerated_vat"] == D("0.01")
    r = rows["doc:mag:credit_note:4"]
    assert (r["shop_gross"], r["exact_gross"], r["delta_gross"]) == (D("-12.10"), D("-24.20"), D("-12.10"))
    r = rows["doc:mag:invoice:12"]
    assert (r["currency"], r["shop_gross"], r["exact_gross"]) == ("GBP", D("43.25"), D("43.25"))
    r = rows["doc:mag:invoice:11"]
    assert (r["currency"], r["exact_currency"]) == ("GBP", "EUR") and "GBP" in r["detail"]
    r = rows["doc:mag:invoice:5"]
    assert (r["delta_net"], r["delta_vat"]) == (D("-5.00"), D("-1.05"))
    r = rows["doc:woo:invoice:1011"]
    assert "2026-11" in r["detail"]
    r = rows["doc:woo:invoice:1025"]
    assert "2026-11" in r["detail"] and r["entry_date"] == dt.date(2026, 10, 26)
    r = rows["doc:mag:credit_note:22"]
    assert (r["currency"], r["shop_gross"], r["exact_gross"]) == ("GBP", D("-25.95"), D("-25.95"))
    r = rows[f"exact:{DIV}:WC-1012"]
    assert r["shop_gross"] is None and r["exact_gross"] == D("84.70") and "woo:invoice:1012" in r["detail"]
    r = rows["doc:woo:invoice:1015"]
    assert "20002" in r["detail"]
    assert rows["doc:woo:invoice:1022"]["doc_date"] == dt.date(2026, 10, 1)
    assert rows["doc:mag:invoice:20"]["doc_date"] == dt.date(2026, 10, 31)
    assert "woo:invoice:1023 dated 2026-11-01" in rows[f"exact:{DIV}:WC-1023"]["detail"]
    # conservation: the rows partition the documents and entries of the run
    assert run.totals["shop_gross"] == sum((r["shop_gross"] or 0 for r in rows.values()), D(0))
    assert run.totals["exact_gross"] == sum((r["exact_gross"] for r in rows.values()), D(0))


@pytest.mark.parametrize(("result_key", "bucket"), [
    ("doc:woo:invoice:1005", {("domestic", None, D(9)), ("domestic", None, D(21))}),
    ("doc:woo:invoice:1006", {("oss", "FR", D(20)), ("oss", "AT", D(20))}),
    ("doc:woo:invoice:1007", {("reverse_charge", None, D(0)), ("zero_rated", None, D(0))}),
    ("doc:mag:invoice:6", {("oss", "BE", D(21)), ("domestic", None, D(21))}),
    ("doc:mag:invoice:23", {("domestic", None, D(9)), ("domestic", None, D(21))}),
    ("doc:mag:invoice:24", {("oss", "FR", D(20)), ("oss", "AT", D(20))}),
], ids=["woo-wrong-rate", "woo-wrong-oss-country", "woo-reverse-charge-as-export", "mag-oss-as-domestic",
        "mag-wrong-rate", "mag-wrong-oss-country"])
def test_vat_differs_names_the_buckets(reconciled, result_key, bucket):
    """The per-bucket comparison saved with the run shows the shop's bucket and Exact's, each one-sided."""
    store, run, rows, _pulls = reconciled
    got = store.rows("SELECT treatment, country, rate, shop_base, exact_base FROM recon_result_vat "
                     "WHERE run_id = ? AND result_key = ?", [run.run_id, result_key])
    assert {(t, c, D(r).normalize() if r else D(0)) for t, c, r, _s, _e in got} == {
        (t, c, r.normalize()) for t, c, r in bucket}
    assert all((s is None) != (e is None) for *_x, s, e in got), got  # each bucket on one side only
    assert rows[result_key]["delta_vat"] == 0 and rows[result_key]["delta_net"] == 0
