"""The demo's Magento 2 shop: author-form orders (invoices, credit memos) and their documents.

Amounts come from the sandbox's own expansion (:mod:`exactsync.sandbox.magento.author`), read
the way the Magento connector reads them (goods net = row total − discount + discount tax
compensation, per item tax percent; shipping at its applied rate; header totals authoritative).
Some orders are placed in a GBP or SEK store view (``base_to_order_rate``); base amounts (EUR)
are kept beside the document amounts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from exactsync.demo.model import ZERO, Doc, Line, OrderSpec, cents, merge_lines
from exactsync.demo.rates import EU_RATES, HOME
from exactsync.sandbox.magento.author import Ids, expand_order, make_creditmemo, make_invoice
from exactsync.vat import classify_treatment

__all__ = ["MagentoShop", "SHOP_NAME", "PREFIX", "DEMO_TOKEN", "tax_rate_table"]

SHOP_NAME = "magento-demo"
PREFIX = "M2-"
#: the demo integration token (sandbox only; deterministic so exactsync.toml can name it)
DEMO_TOKEN = "itok-demo-" + hashlib.sha256(b"exactsync-demo-magento").hexdigest()[:32]


def tax_rate_table() -> list[dict[str, Any]]:
    rows = []
    n = 1
    for country, (std, red) in EU_RATES.items():
        for pct in dict.fromkeys((std, red)):
            rows.append({"id": n, "code": f"{country}-{pct.normalize():f}", "tax_country_id": country,
                         "rate": f"{pct.normalize():f}"})
            n += 1
    return rows


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


class MagentoShop:
    name = SHOP_NAME
    prefix = PREFIX

    def __init__(self, month: Any) -> None:
        self.month = month
        self.table = tax_rate_table()
        self.rates = [{"id": r["id"], "code": r["code"], "tax_country_id": r["tax_country_id"],
                       "rate": Decimal(r["rate"])} for r in self.table]
        self.store = {"base_currency": "EUR", "country": HOME, "order_prefix": "", "invoice_prefix": "",
                      "creditmemo_prefix": ""}
        self.ids = Ids()  # scratch ids for the computation (entity ids are given explicitly)
        self.next_order = 1
        self.next_invoice = 1
        self.next_memo = 1

    def scenario_header(self) -> dict[str, Any]:
        store = dict(self.store)
        store.update({"tokens": [DEMO_TOKEN], "integration_as_bearer": True, "store_codes": {"default": 1},
                      "overflow": "last_page", "default_page_size": 20, "max_page_size": 300,
                      "store_name": "Main Website\nDemo Store\nDefault Store View"})
        return {"store": store, "tax_rates": self.table, "tax_rules": []}

    def build(self, spec: OrderSpec) -> tuple[dict[str, Any], list[Doc]]:
        oid = self.next_order
        self.next_order += 1
        a = self._author(spec, oid, incl=spec.incl_tax)
        docs = self._docs(spec, a)
        if docs is None:
            a = self._author(spec, oid, incl=False)  # rounding gap: book excl. tax instead
            docs = self._docs(spec, a)
            assert docs is not None, f"magento demo order {oid} does not add up"
        # commit the document ids
        for d in docs:
            if d.kind == "invoice":
                self.next_invoice += 1
            else:
                self.next_memo += 1
        if spec.plan is not None:
            target = next((d for d in docs if d.kind == spec.plan.target), None)
            if target is not None:
                target.plan = spec.plan
        return a, docs

    # --- author form ----------------------------------------------------------------------------
    def _author(self, spec: OrderSpec, oid: int, *, incl: bool) -> dict[str, Any]:
        b = spec.buyer
        items = []
        for it in spec.items:
            rate = b.rate(it.product.tax_class)
            row: dict[str, Any] = {"sku": it.sku, "name": it.product.name, "qty": it.qty,
                                   "tax_percent": f"{rate.normalize():f}", "product_id": it.product.product_id}
            if incl:
                row["price_incl_tax"] = f"{cents(it.product.price * (1 + rate / 100))}"
            else:
                row["price"] = f"{it.product.price}"
            if it.variant:
                row.update({"type": "configurable", "child_name": f"{it.product.name} {it.variant}"})
            if spec.coupon:
                gross = it.product.price * it.qty * ((1 + rate / 100) if incl else 1)
                row["discount"] = f"{cents(gross / 10)}"
            items.append(row)
        billing: dict[str, Any] = {"country": b.country, "city": b.city, "firstname": b.first, "lastname": b.last}
        if b.company:
            billing["company"] = b.company
        if b.vat_number:
            billing.update({"vat_id": b.vat_number, "vat_is_valid": 1})
        a: dict[str, Any] = {
            "id": oid,
            "increment_id": f"{oid:09d}",
            "created_at": _fmt(spec.created),
            "customer": {"email": b.email, "firstname": b.first, "lastname": b.last},
            "billing": billing,
            "items": items,
            "shipping_amount": f"{spec.shipping}",
            "shipping_tax_percent": f"{b.ship_rate.normalize():f}",
        }
        if incl:
            a["prices_include_tax"] = True
        if spec.coupon:
            a["coupon_code"] = "WELKOM10"
        if spec.currency != "EUR":
            a["currency"] = spec.currency
            a["base_to_order_rate"] = f"{spec.fx}"
        if spec.status == "cancelled":
            a["state"] = a["status"] = "canceled"
            return a
        if spec.status in ("pending", "failed"):
            return a  # never invoiced: state new / status pending
        a["invoices"] = [{"id": self.next_invoice, "increment_id": f"{self.next_invoice:09d}",
                          "created_at": _fmt(spec.created + dt.timedelta(minutes=1))}]
        if spec.refund:
            memo: dict[str, Any] = {"id": self.next_memo, "increment_id": f"{self.next_memo:09d}",
                                    "created_at": _fmt(spec.refund_at)}
            if spec.refund == "full":
                memo["full"] = True
            elif spec.refund == "shipping" and spec.shipping:
                memo["shipping"] = True
            else:
                memo["items"] = {spec.items[0].sku: 1}
            a["creditmemos"] = [memo]
        return a

    # --- documents ------------------------------------------------------------------------------
    def _docs(self, spec: OrderSpec, a: dict[str, Any]) -> list[Doc] | None:
        order = expand_order(a, self.store, self.rates, self.ids)
        docs: list[Doc] = []
        for inv_spec in a.get("invoices", []):
            inv = make_invoice(order, inv_spec, self.ids, self.store, order["created_at"])
            d = self._doc(spec, order, inv, "invoice")
            if d is None:
                return None
            docs.append(d)
        for cm_spec in a.get("creditmemos", []):
            cm = make_creditmemo(order, cm_spec, self.ids, self.store, order["created_at"])
            d = self._doc(spec, order, cm, "credit_note")
            if d is None:
                return None
            docs.append(d)
        return docs

    def _doc(self, spec: OrderSpec, order: dict, doc: dict, kind: str) -> Doc | None:
        b = spec.buyer
        sign = Decimal(1) if kind == "invoice" else Decimal(-1)
        rates = {r["item_id"]: r.get("tax_percent", ZERO) for r in order["_rows"]}
        charged = {r["item_id"] for r in order["_charge_rows"]}
        lines: list[Line] = []
        base_lines: list[Line] = []

        def add(line_type: str, rate: Decimal, net: Decimal, vat: Decimal, net_b: Decimal, vat_b: Decimal) -> None:
            if not (net or vat):
                return
            r = rate.normalize() if rate else ZERO
            t = classify_treatment(HOME, b.country, b.vat_number or None, vat)
            lines.append(Line(line_type, b.country, r, t, sign * net, sign * vat))
            base_lines.append(Line(line_type, b.country, r, t, sign * net_b, sign * vat_b))

        for it in doc["items"]:
            if it["order_item_id"] not in charged:
                continue
            net = it["row_total"] - it["discount_amount"] + it["discount_tax_compensation_amount"]
            net_b = it["base_row_total"] - it["base_discount_amount"] + it["base_discount_tax_compensation_amount"]
            add("goods", rates[it["order_item_id"]], net, it["tax_amount"], net_b, it["base_tax_amount"])
        ship_rate = order["_ship_rate"] if doc["shipping_tax_amount"] else ZERO
        add("shipping", ship_rate, doc["shipping_amount"], doc["shipping_tax_amount"], doc["base_shipping_amount"],
            doc["base_shipping_tax_amount"])
        lines, base_lines = merge_lines(lines), merge_lines(base_lines)
        net = sum((ln.base for ln in lines), ZERO) * sign
        vat = sum((ln.vat for ln in lines), ZERO) * sign
        if net != doc["grand_total"] - doc["tax_amount"] or vat != doc["tax_amount"]:
            return None
        foreign = spec.currency != "EUR"
        when = dt.datetime.fromisoformat(doc["created_at"])
        return Doc(SHOP_NAME, "magento", kind, str(doc["entity_id"]), str(doc["increment_id"]), PREFIX,
                   str(order["increment_id"]), self.month.local_date(when), spec.currency, spec.fx,
                   b.account, lines, base_lines if foreign else None)
