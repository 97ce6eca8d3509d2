"""The demo's WooCommerce shop: author-form orders for the sandbox and the documents they make.

Amounts are computed with the sandbox's own model (:mod:`exactsync.sandbox.woocommerce.model`) and
then read the way the wire shows them (line totals with 2 decimals, raw line taxes, ``tax_lines``
per rate), so the expected documents are exactly what a correct connector reads. Orders whose
incl.-tax rounding would leave a gap between the lines and the total are booked excl. tax instead,
and every refund carries an explicit ``amount`` equal to its lines: the demo keeps rounding
questions out of the non-planted documents (planted rounding cases live on the Exact side).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exactsync.demo.model import ZERO, Doc, Line, OrderSpec, cents, merge_lines
from exactsync.demo.rates import EU_RATES, HOME
from exactsync.sandbox.woocommerce.generate import DEMO_KEY, DEMO_READONLY_KEY
from exactsync.sandbox.woocommerce.model import Order, Refund, TaxRate, fmt_money, fmt_raw
from exactsync.vat import classify_treatment

__all__ = ["WooShop", "SHOP_NAME", "PREFIX", "tax_rate_table"]

SHOP_NAME = "woo-demo"
PREFIX = "WC-"
FIRST_ORDER_ID = 10001
_DP = 2


def tax_rate_table() -> list[dict[str, Any]]:
    """One standard and one reduced-rate row per EU country (ids 1, 2 for NL, 3, 4 for BE …)."""
    rows = []
    for n, (country, (std, red)) in enumerate(EU_RATES.items()):
        label = "BTW" if country in ("NL", "BE") else "MwSt" if country in ("DE", "AT") else "VAT"
        rows.append({"id": 2 * n + 1, "country": country, "rate": f"{std:.4f}", "name": f"{label} {country}",
                     "class": "standard", "shipping": True, "priority": 1})
        rows.append({"id": 2 * n + 2, "country": country, "rate": f"{red:.4f}", "name": f"{label} {country} laag",
                     "class": "reduced-rate", "shipping": False, "priority": 1})
    return rows


class WooShop:
    """Turns :class:`OrderSpec` into Woo author orders and expected documents."""

    name = SHOP_NAME
    prefix = PREFIX

    def __init__(self, month: Any, n_orders: int) -> None:
        self.month = month
        self.table = tax_rate_table()
        self.rates = {r["id"]: TaxRate.from_author(r) for r in self.table}
        self.rate_id = {(r["country"], r["class"]): r["id"] for r in self.table}
        self.next_order = FIRST_ORDER_ID
        # refunds live in the same id space as orders (WordPress posts): after the month's orders
        self.next_refund = FIRST_ORDER_ID + n_orders + 1000

    def scenario_header(self) -> dict[str, Any]:
        ck, cs = DEMO_KEY
        rk, rs = DEMO_READONLY_KEY
        return {
            "store": {"decimals": _DP, "timezone": "Europe/Amsterdam", "base_country": HOME, "currency": "EUR"},
            "keys": [
                {"consumer_key": ck, "consumer_secret": cs, "permission": "read_write", "description": "exactsync demo"},
                {"consumer_key": rk, "consumer_secret": rs, "permission": "read", "description": "read only"},
            ],
            "tax_rates": self.table,
        }

    # --- one order ------------------------------------------------------------------------------
    def build(self, spec: OrderSpec) -> tuple[dict[str, Any], list[Doc]]:
        oid = self.next_order
        self.next_order += 1
        a = self._author(spec, oid, incl=spec.incl_tax)
        order = self._order(a, spec)
        c = order.compute(self.rates)
        lines, gross = self._order_lines(c, spec)
        if spec.incl_tax and gross != sum((ln.base + ln.vat for ln in lines), ZERO):
            a = self._author(spec, oid, incl=False)  # keep rounding gaps out of the demo's clean docs
            order = self._order(a, spec)
            c = order.compute(self.rates)
            lines, gross = self._order_lines(c, spec)
        docs: list[Doc] = []
        if not spec.counts:
            return a, docs
        inv = Doc(SHOP_NAME, "woocommerce", "invoice", str(oid), str(oid), PREFIX, str(oid),
                  self.month.local_date(spec.created), "EUR", Decimal(1), spec.buyer.account, lines)
        docs.append(inv)
        if spec.refund:
            refund_author, cn_lines = self._refund(spec, order, lines, c)
            if refund_author is not None:
                a["refunds"] = [refund_author]
                rid = refund_author["id"]
                docs.append(Doc(SHOP_NAME, "woocommerce", "credit_note", str(rid), str(rid), PREFIX, str(oid),
                                self.month.local_date(spec.refund_at), "EUR", Decimal(1), spec.buyer.account,
                                cn_lines))
        if spec.plan is not None:
            target = next((d for d in docs if d.kind == spec.plan.target), None)
            if target is not None:
                target.plan = spec.plan
        return a, docs

    def _status(self, spec: OrderSpec) -> str:
        if spec.status == "paid":
            return "completed" if spec.index % 7 else "processing"
        return {"refunded": "refunded", "cancelled": "cancelled", "pending": "pending", "failed": "failed"}[spec.status]

    def _author(self, spec: OrderSpec, oid: int, *, incl: bool) -> dict[str, Any]:
        b = spec.buyer
        taxed = b.treatment in ("domestic", "oss")
        items = []
        for it in spec.items:
            cls = "reduced-rate" if it.product.tax_class == "reduced" else "standard"
            rid = self.rate_id[(b.country, cls)] if taxed else None
            price = it.product.price
            if incl and rid is not None:
                price = cents(price * (1 + self.rates[rid].rate / 100))
            items.append({
                "name": it.product.name + (f" - {it.variant}" if it.variant else ""),
                "qty": it.qty, "price": f"{price}", "tax_rate": rid,
                "tax_class": "" if cls == "standard" else cls, "product_id": it.product.product_id,
                "variation_id": (it.product.product_id * 100 + 1 + it.product.variants.index(it.variant)) if it.variant else 0,
                "sku": it.sku,
            })
        a: dict[str, Any] = {
            "id": oid,
            "status": self._status(spec),
            "created": spec.created.isoformat(),
            "currency": "EUR",
            "billing": {"first_name": b.first, "last_name": b.last, "company": b.company, "city": b.city,
                        "country": b.country, "email": b.email},
            "shipping": {"first_name": b.first, "last_name": b.last, "company": b.company, "city": b.city,
                         "country": b.country},
            "items": items,
            "payment_method": "ideal" if b.country == HOME else "stripe",
            "payment_method_title": "iDEAL" if b.country == HOME else "Credit card",
        }
        if spec.shipping:
            a["shipping_lines"] = [{"method": "flat_rate", "title": "Verzending", "total": f"{spec.shipping}",
                                    "tax_rate": self.rate_id[(b.country, "standard")] if taxed else None}]
        else:
            a["shipping_lines"] = [{"method": "free_shipping", "title": "Gratis verzending", "total": "0.00",
                                    "tax_rate": None}]
        if incl:
            a["prices_include_tax"] = True
        if spec.coupon:
            a["coupons"] = [{"code": "WELKOM10", "type": "percent", "amount": 10}]
        if b.vat_number:
            a["vat_number"] = b.vat_number
            a["vat_exempt"] = True
        return a

    def _order(self, a: dict[str, Any], spec: OrderSpec) -> Order:
        return Order(id=a["id"], status=a["status"], created=spec.created, modified=spec.created, author=a,
                     decimals=_DP)

    def _line(self, line_type: str, rid: int | None, base: Decimal, vat: Decimal, spec: OrderSpec) -> Line:
        b = spec.buyer
        rate = self.rates[rid].rate if rid is not None else ZERO
        country = self.rates[rid].country if rid is not None else b.country
        treatment = classify_treatment(HOME, country, b.vat_number or None, vat)
        return Line(line_type, country, rate.normalize() if rate else ZERO, treatment, base, vat)

    def _order_lines(self, c: dict, spec: OrderSpec) -> tuple[list[Line], Decimal]:
        groups: dict[tuple, list[Decimal]] = {}
        for it in c["items"]:
            rid = next((r for r, t in it["taxes"].items() if t != 0), None)
            groups.setdefault(("goods", rid), [ZERO, ZERO])[0] += Decimal(fmt_money(it["total"], _DP))
        for sh in c["shipping"]:
            rid = next((r for r, t in sh["taxes"].items() if t != 0), None)
            groups.setdefault(("shipping", rid), [ZERO, ZERO])[0] += Decimal(fmt_money(sh["total"], _DP))
        for tl in c["tax_lines"]:
            if ("goods", tl["rate_id"]) in groups:
                groups[("goods", tl["rate_id"])][1] += tl["tax_total"]
            if ("shipping", tl["rate_id"]) in groups:
                groups[("shipping", tl["rate_id"])][1] += tl["shipping_tax_total"]
        lines = [self._line(t, rid, base, vat, spec) for (t, rid), (base, vat) in groups.items() if base or vat]
        return merge_lines(lines), Decimal(fmt_money(c["total"], _DP))

    # --- refunds --------------------------------------------------------------------------------
    def _refund(self, spec: OrderSpec, order: Order, order_lines: list[Line], c: dict) -> tuple[dict | None, list[Line]]:
        kind = spec.refund
        nonzero = [ln for ln in order_lines if ln.base + ln.vat != 0]
        if kind == "amount" and len(nonzero) != 1:
            kind = "item"  # amount-only refunds only where the allocation is unambiguous (one VAT line)
        if kind == "shipping" and not spec.shipping:
            kind = "item"
        rid = self.next_refund
        self.next_refund += 1
        author: dict[str, Any] = {"id": rid, "created": spec.refund_at.isoformat()}
        if kind == "amount":
            ln = nonzero[0]
            amount = cents((ln.base + ln.vat) * spec.refund_fraction)
            if amount <= 0:
                return None, []
            vat = cents(amount * ln.rate / (100 + ln.rate)) if ln.rate else ZERO
            author.update({"reason": "Compensation (amount only)", "amount": f"{amount}"})
            return author, [Line(ln.line_type, ln.country, ln.rate, ln.treatment, -(amount - vat), -vat)]
        if kind == "full":
            author.update({"reason": "Order returned", "items": [{"line": i, "qty": it.qty}
                                                                  for i, it in enumerate(spec.items)],
                           "shipping": bool(spec.shipping)})
        elif kind == "shipping":
            author.update({"reason": "Shipping refunded (late delivery)", "shipping": True})
        else:
            author.update({"reason": "Item returned", "items": [{"line": 0, "qty": 1}]})
        refund = Refund(id=rid, order_id=order.id, created=spec.refund_at, author=author)
        rc = refund.compute(order, self.rates)
        groups: dict[tuple, list[Decimal]] = {}
        for part, rows in (("goods", rc["items"]), ("shipping", rc["shipping"])):
            for row in rows:
                taxes = {r: Decimal(fmt_raw(t)) for r, t in row["taxes"].items()}
                r_id = next((r for r, t in taxes.items() if t != 0), None)
                g = groups.setdefault((part, r_id), [ZERO, ZERO])
                g[0] += Decimal(fmt_money(row["total"], _DP))
                g[1] += sum(taxes.values(), ZERO)
        lines = [self._line(t, r_id, base, cents(vat), spec) for (t, r_id), (base, vat) in groups.items()
                 if base or vat]
        lines = merge_lines(lines)
        total = sum((ln.base + ln.vat for ln in lines), ZERO)
        if total >= 0:
            return None, []
        author["amount"] = f"{-total}"
        return author, lines

