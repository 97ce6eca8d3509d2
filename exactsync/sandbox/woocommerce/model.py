"""WooCommerce sandbox data: store settings, tax rates, and orders kept in compact "author" form.

An order is stored as the author wrote it (see docs/sandbox-woocommerce.md) and expanded into the
full wc/v3 JSON only when served, so 100,000 orders stay cheap in memory. Amounts are computed with
``Decimal`` at WooCommerce's internal precision (6 decimals) and formatted with ``dp`` on output.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["Store", "TaxRate", "Order", "Refund", "parse_when", "fmt_money", "fmt_raw", "fmt_date"]

_P6 = Decimal("0.000001")
ZERO = Decimal(0)
EMPTY_ADDRESS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country")


def D(value: Any) -> Decimal:
    if value is None or value == "":
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


def fmt_money(value: Decimal, dp: int) -> str:
    """``wc_format_decimal(value, dp)``: rounded half-up, fixed decimals, no exponent."""
    q = Decimal(1).scaleb(-dp)
    out = value.quantize(q, rounding=ROUND_HALF_UP)
    if out == 0:
        out = abs(out)  # no "-0.00"
    return f"{out:f}"


def fmt_raw(value: Decimal) -> str:
    """A stored, unrounded amount as WooCommerce keeps it: up to 6 decimals, no trailing zeros."""
    v = value.quantize(_P6, rounding=ROUND_HALF_UP).normalize()
    if v == 0:
        return "0"
    return f"{v:f}"


def fmt_date(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value is not None else None


def parse_when(value: Any) -> dt.datetime:
    """Author date → naive UTC. Naive input is UTC; an offset or ``Z`` is honoured."""
    if isinstance(value, dt.datetime):
        d = value
    else:
        d = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if d.tzinfo is not None:
        d = d.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return d.replace(microsecond=0)


def _round(value: Decimal, dp: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)


@dataclass
class TaxRate:
    id: int
    country: str
    state: str
    rate: Decimal
    name: str
    priority: int
    compound: bool
    shipping: bool
    order: int
    tax_class: str  # slug; "standard" for the standard class
    postcodes: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)

    @classmethod
    def from_author(cls, d: dict) -> "TaxRate":
        return cls(
            id=int(d["id"]),
            country=str(d.get("country", "")).upper(),
            state=str(d.get("state", "")).upper(),
            rate=D(d["rate"]),
            name=str(d.get("name", "Tax")),
            priority=int(d.get("priority", 1)),
            compound=bool(d.get("compound", False)),
            shipping=bool(d.get("shipping", True)),
            order=int(d.get("order", 0)),
            tax_class=str(d.get("class", "standard")) or "standard",
            postcodes=list(d.get("postcodes", [])),
            cities=list(d.get("cities", [])),
        )

    @property
    def rate_code(self) -> str:
        parts = [self.country, self.state, (self.name or "TAX"), str(self.priority)]
        return "-".join(p for p in parts if p).upper()

    @property
    def rate_percent(self) -> int | float:
        return int(self.rate) if self.rate == self.rate.to_integral_value() else float(self.rate)

    def to_json(self, base_url: str) -> dict:
        return {
            "id": self.id,
            "country": self.country,
            "state": self.state,
            "postcode": self.postcodes[0] if self.postcodes else "",
            "city": self.cities[0] if self.cities else "",
            "postcodes": self.postcodes,
            "cities": self.cities,
            "rate": f"{self.rate.quantize(Decimal('0.0001')):f}",
            "name": self.name,
            "priority": self.priority,
            "compound": self.compound,
            "shipping": self.shipping,
            "order": self.order,
            "class": self.tax_class,
            "_links": {
                "self": [{"href": f"{base_url}/wp-json/wc/v3/taxes/{self.id}"}],
                "collection": [{"href": f"{base_url}/wp-json/wc/v3/taxes"}],
            },
        }


@dataclass
class Store:
    decimals: int = 2
    timezone: str = "Europe/Amsterdam"
    base_country: str = "NL"
    currency: str = "EUR"
    prices_include_tax: bool = False
    refund_bumps_modified: bool = True
    assume_https: bool = False
    wc_version: str = "9.4.2"
    extra_statuses: list[str] = field(default_factory=list)

    @classmethod
    def from_author(cls, d: dict) -> "Store":
        return cls(
            decimals=int(d.get("decimals", 2)),
            timezone=str(d.get("timezone", "Europe/Amsterdam")),
            base_country=str(d.get("base_country", "NL")).upper(),
            currency=str(d.get("currency", "EUR")),
            prices_include_tax=bool(d.get("prices_include_tax", False)),
            refund_bumps_modified=bool(d.get("refund_bumps_modified", True)),
            assume_https=bool(d.get("assume_https", False)),
            wc_version=str(d.get("wc_version", "9.4.2")),
            extra_statuses=list(d.get("extra_statuses", [])),
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, utc: dt.datetime | None) -> dt.datetime | None:
        if utc is None:
            return None
        return utc.replace(tzinfo=dt.timezone.utc).astimezone(self.tz).replace(tzinfo=None)


@dataclass
class Refund:
    """A refund in author form plus what the sandbox derived from it."""

    id: int
    order_id: int
    created: dt.datetime  # naive UTC
    author: dict
    created_local: dt.datetime | None = None
    _computed: dict | None = None

    def compute(self, order: "Order", rates: dict[int, TaxRate]) -> dict:
        if self._computed is not None:
            return self._computed
        oc = order.compute(rates)
        a = self.author
        items = []
        gross = ZERO
        for spec in a.get("items", []) or []:
            idx = int(spec.get("line", 0))
            if idx < 0 or idx >= len(oc["items"]):
                continue
            src = oc["items"][idx]
            qty = int(spec.get("qty", src["qty"]))
            share = Decimal(qty) / Decimal(src["qty"]) if src["qty"] else Decimal(1)
            total = -(D(spec["total"]) if "total" in spec else src["total"] * share)
            taxes = {rid: -(t * share) for rid, t in src["taxes"].items()}
            if "total" in spec and src["total"]:
                taxes = {rid: -(t * D(spec["total"]) / src["total"]) for rid, t in src["taxes"].items()}
            items.append({"src": src, "qty": -qty, "total": total, "taxes": taxes})
            gross += total + sum(taxes.values(), ZERO)
        ships = []
        if a.get("shipping"):
            for src in oc["shipping"]:
                taxes = {rid: -t for rid, t in src["taxes"].items()}
                ships.append({"src": src, "total": -src["total"], "taxes": taxes})
                gross += -src["total"] + sum(taxes.values(), ZERO)
        fees = []
        if a.get("fees"):
            for src in oc["fees"]:
                taxes = {rid: -t for rid, t in src["taxes"].items()}
                fees.append({"src": src, "total": -src["total"], "taxes": taxes})
                gross += -src["total"] + sum(taxes.values(), ZERO)
        amount = D(a["amount"]) if "amount" in a else -gross
        self._computed = {"items": items, "shipping": ships, "fees": fees, "amount": amount}
        return self._computed

    def to_json(self, order: "Order", rates: dict[int, TaxRate], dp: int, base_url: str, with_parent: bool) -> dict:
        c = self.compute(order, rates)
        a = self.author
        n = 0

        def next_id() -> int:
            nonlocal n
            n += 1
            return self.id * 1000 + n

        def taxes_json(taxes: dict[int, Decimal]) -> list[dict]:
            return [{"id": rid, "total": fmt_raw(t), "subtotal": fmt_raw(t)} for rid, t in taxes.items()]

        line_items = []
        for it in c["items"]:
            src = it["src"]
            tax = sum(it["taxes"].values(), ZERO)
            line_items.append(
                {
                    "id": next_id(),
                    "name": src["name"],
                    "product_id": src["product_id"],
                    "variation_id": src["variation_id"],
                    "quantity": it["qty"],
                    "tax_class": src["tax_class"],
                    "subtotal": fmt_money(it["total"], dp),
                    "subtotal_tax": fmt_money(tax, dp),
                    "total": fmt_money(it["total"], dp),
                    "total_tax": fmt_money(tax, dp),
                    "taxes": taxes_json(it["taxes"]),
                    "meta_data": [{"id": next_id(), "key": "_refunded_item_id", "value": str(src["id"]),
                                   "display_key": "_refunded_item_id", "display_value": str(src["id"])}],
                    "sku": src["sku"],
                    "price": float(it["total"] / it["qty"]) if it["qty"] else 0.0,
                }
            )
        shipping_lines = []
        for sh in c["shipping"]:
            src = sh["src"]
            shipping_lines.append(
                {
                    "id": next_id(), "method_title": src["title"], "method_id": src["method_id"],
                    "instance_id": src["instance_id"], "total": fmt_money(sh["total"], dp),
                    "total_tax": fmt_money(sum(sh["taxes"].values(), ZERO), dp), "taxes": taxes_json(sh["taxes"]),
                    "meta_data": [{"id": next_id(), "key": "_refunded_item_id", "value": str(src["id"]),
                                   "display_key": "_refunded_item_id", "display_value": str(src["id"])}],
                }
            )
        fee_lines = []
        for fe in c["fees"]:
            src = fe["src"]
            fee_lines.append(
                {
                    "id": next_id(), "name": src["name"], "tax_class": src["tax_class"],
                    "tax_status": src["tax_status"], "total": fmt_money(fe["total"], dp),
                    "total_tax": fmt_money(sum(fe["taxes"].values(), ZERO), dp), "taxes": taxes_json(fe["taxes"]),
                    "meta_data": [{"id": next_id(), "key": "_refunded_item_id", "value": str(src["id"]),
                                   "display_key": "_refunded_item_id", "display_value": str(src["id"])}],
                }
            )
        out: dict[str, Any] = {"id": self.id}
        if with_parent:
            out["parent_id"] = self.order_id
        out.update(
            {
                "date_created": fmt_date(self.created_local),
                "date_created_gmt": fmt_date(self.created),
                "amount": fmt_money(c["amount"], dp),
                "reason": str(a.get("reason", "")),
                "refunded_by": int(a.get("refunded_by", 1)),
                "refunded_payment": bool(a.get("refunded_payment", False)),
                "meta_data": list(a.get("meta", [])),
                "line_items": line_items,
                "shipping_lines": shipping_lines,
                "tax_lines": [],
                "fee_lines": fee_lines,
                "_links": {
                    "self": [{"href": f"{base_url}/wp-json/wc/v3/orders/{self.order_id}/refunds/{self.id}"}],
                    "collection": [{"href": f"{base_url}/wp-json/wc/v3/orders/{self.order_id}/refunds"}],
                    "up": [{"href": f"{base_url}/wp-json/wc/v3/orders/{self.order_id}"}],
                },
            }
        )
        return out


@dataclass
class Order:
    """One order: author form + index fields (naive UTC and local datetimes)."""

    id: int
    status: str
    created: dt.datetime
    modified: dt.datetime
    author: dict
    refunds: list[Refund] = field(default_factory=list)
    meta: list[dict] = field(default_factory=list)
    created_local: dt.datetime | None = None
    modified_local: dt.datetime | None = None
    decimals: int = 2  # the store's price decimals: tax totals are rounded to these
    store_incl: bool = False
    _computed: dict | None = None

    def invalidate(self) -> None:
        self._computed = None
        for r in self.refunds:
            r._computed = None

    # -- amounts ----------------------------------------------------------------------------
    def compute(self, rates: dict[int, TaxRate]) -> dict:
        """Line amounts at 6-decimal precision (excl. tax) and taxes per rate id."""
        if self._computed is not None:
            return self._computed
        a = self.author
        incl = bool(a.get("prices_include_tax", self.store_incl))
        n = 0

        def next_id() -> int:
            nonlocal n
            n += 1
            return self.id * 1000 + n

        def rate_of(spec: dict) -> tuple[int | None, Decimal]:
            rid = spec.get("tax_rate")
            if rid is None:
                return None, ZERO
            r = rates.get(int(rid))
            return int(rid), (r.rate if r else D(spec.get("rate", 0)))

        raw_items = a.get("items", []) or []
        entered = [D(it.get("price", 0)) * int(it.get("qty", 1)) for it in raw_items]
        discounts = [D(it.get("discount", 0)) for it in raw_items]
        coupon_parts: list[tuple[dict, list[Decimal]]] = []
        for cp in a.get("coupons", []) or []:
            ctype = cp.get("type", "percent")
            amount = D(cp.get("amount", 0))
            parts = [ZERO] * len(raw_items)
            if ctype == "percent":
                parts = [(e * amount / 100).quantize(_P6) for e in entered]
            elif ctype == "fixed_product":
                parts = [min(e, amount * int(it.get("qty", 1))) for e, it in zip(entered, raw_items)]
            else:  # fixed_cart: spread pro rata over the entered line amounts
                total_entered = sum(entered, ZERO)
                if total_entered:
                    parts = [(amount * e / total_entered).quantize(_P6) for e in entered]
                    if parts:
                        parts[-1] += amount - sum(parts, ZERO)
            coupon_parts.append((cp, parts))
            discounts = [d + p for d, p in zip(discounts, parts)]

        items = []
        for it, ent, disc in zip(raw_items, entered, discounts):
            rid, pct = rate_of(it)
            f = 1 + pct / 100
            qty = int(it.get("qty", 1))
            if incl:
                subtotal = (ent / f).quantize(_P6)
                total = ((ent - disc) / f).quantize(_P6)
                sub_tax = ent - subtotal
                tot_tax = (ent - disc) - total
            else:
                subtotal = ent
                total = ent - disc
                sub_tax = (subtotal * pct / 100).quantize(_P6)
                tot_tax = (total * pct / 100).quantize(_P6)
            item_id = int(it["id"]) if "id" in it else next_id()
            items.append(
                {
                    "id": item_id, "name": str(it.get("name", "Product")), "qty": qty,
                    "product_id": int(it.get("product_id", 0)), "variation_id": int(it.get("variation_id", 0)),
                    "sku": it.get("sku", f"SKU-{it.get('product_id', 0)}"),
                    "tax_class": str(it.get("tax_class", "")),
                    "subtotal": subtotal, "total": total, "subtotal_tax": sub_tax, "total_tax": tot_tax,
                    "entered_gross": (ent - disc) if incl else None,
                    "taxes": {rid: tot_tax} if rid is not None else {},
                    "subtaxes": {rid: sub_tax} if rid is not None else {},
                    "meta": list(it.get("meta", [])),
                }
            )
        shipping = []
        for sh in a.get("shipping_lines", []) or []:
            rid, pct = rate_of(sh)
            total = D(sh.get("total", 0))
            tax = (total * pct / 100).quantize(_P6)
            shipping.append(
                {
                    "id": next_id(), "title": str(sh.get("title", "Flat rate")),
                    "method_id": str(sh.get("method", "flat_rate")), "instance_id": str(sh.get("instance_id", "1")),
                    "total": total, "taxes": {rid: tax} if rid is not None else {},
                }
            )
        fees = []
        for fe in a.get("fees", []) or []:
            rid, pct = rate_of(fe)
            total = D(fe.get("total", 0))
            tax = (total * pct / 100).quantize(_P6)
            fees.append(
                {
                    "id": next_id(), "name": str(fe.get("name", "Fee")), "tax_class": str(fe.get("tax_class", "")),
                    "tax_status": "taxable" if rid is not None else "none",
                    "total": total, "taxes": {rid: tax} if rid is not None else {},
                }
            )
        # tax lines: one per rate id actually used, rounded per rate like wc_round_tax_total.
        dp = self.decimals
        per_rate: dict[int, list[Decimal]] = {}
        for it in items + fees:
            for rid, t in it["taxes"].items():
                per_rate.setdefault(rid, [ZERO, ZERO])[0] += t
        for sh in shipping:
            for rid, t in sh["taxes"].items():
                per_rate.setdefault(rid, [ZERO, ZERO])[1] += t
        tax_lines = []
        for rid, (cart, ship) in per_rate.items():
            tax_lines.append({"id": next_id(), "rate_id": rid, "tax_total": _round(cart, dp), "shipping_tax_total": _round(ship, dp)})
        coupons = []
        for cp, parts in coupon_parts:
            disc_net = ZERO
            disc_tax = ZERO
            for it, p in zip(items, parts):
                pct = ZERO
                rid = next(iter(it["taxes"]), None)
                if rid is not None and rid in rates:
                    pct = rates[rid].rate
                net = (p / (1 + pct / 100)) if incl else p
                disc_net += net
                disc_tax += (p - net) if incl else net * pct / 100
            coupons.append(
                {
                    "id": next_id(), "code": str(cp.get("code", "coupon")), "discount": disc_net, "discount_tax": disc_tax,
                    "discount_type": cp.get("type", "percent"), "nominal_amount": cp.get("amount", 0),
                    "free_shipping": bool(cp.get("free_shipping", False)),
                }
            )
        cart_tax = sum((t["tax_total"] for t in tax_lines), ZERO)
        shipping_tax = sum((t["shipping_tax_total"] for t in tax_lines), ZERO)
        shipping_total = sum((_round(s["total"], dp) for s in shipping), ZERO)
        if incl and items:
            # What the customer saw: entered gross prices; parts rounded separately may differ by a cent.
            total = _round(sum((i["entered_gross"] for i in items), ZERO), dp) + sum(
                (_round(x["total"], dp) for x in fees), ZERO
            ) + shipping_total + shipping_tax + sum(
                (_round(sum(x["taxes"].values(), ZERO), dp) for x in fees), ZERO
            )
        else:
            total = (
                sum((_round(i["total"], dp) for i in items), ZERO)
                + sum((_round(x["total"], dp) for x in fees), ZERO)
                + shipping_total + cart_tax + shipping_tax
            )
        self._computed = {
            "incl": incl, "items": items, "shipping": shipping, "fees": fees, "tax_lines": tax_lines,
            "coupons": coupons, "cart_tax": cart_tax, "shipping_tax": shipping_tax, "shipping_total": shipping_total,
            "discount_total": sum((i["subtotal"] - i["total"] for i in items), ZERO),
            "discount_tax": sum((i["subtotal_tax"] - i["total_tax"] for i in items), ZERO),
            "total": total, "total_tax": cart_tax + shipping_tax,
        }
        return self._computed

    def refunded_total(self, rates: dict[int, TaxRate]) -> Decimal:
        return sum((r.compute(self, rates)["amount"] for r in self.refunds), ZERO)

    # -- JSON ---------------------------------------------------------------------------------
    def to_json(self, store: Store, rates: dict[int, TaxRate], dp: int, base_url: str) -> dict:
        c = self.compute(rates)
        a = self.author
        billing = {k: "" for k in EMPTY_ADDRESS}
        billing.update({"email": "", "phone": ""})
        billing.update(a.get("billing", {}) or {})
        shipping_addr = {k: "" for k in EMPTY_ADDRESS}
        shipping_addr["phone"] = ""
        shipping_addr.update(a.get("shipping", {}) or {})

        def taxes_json(taxes: dict, subtaxes: dict | None = None) -> list[dict]:
            out = []
            for rid, t in taxes.items():
                entry = {"id": rid, "total": fmt_raw(t)}
                if subtaxes is not None:
                    entry["subtotal"] = fmt_raw(subtaxes.get(rid, t))
                out.append(entry)
            return out

        line_items = [
            {
                "id": i["id"], "name": i["name"], "product_id": i["product_id"], "variation_id": i["variation_id"],
                "quantity": i["qty"], "tax_class": i["tax_class"],
                "subtotal": fmt_money(i["subtotal"], dp), "subtotal_tax": fmt_money(i["subtotal_tax"], dp),
                "total": fmt_money(i["total"], dp), "total_tax": fmt_money(i["total_tax"], dp),
                "taxes": taxes_json(i["taxes"], i["subtaxes"]), "meta_data": i["meta"], "sku": i["sku"],
                "price": float(i["total"] / i["qty"]) if i["qty"] else 0.0,
                "image": {"id": "", "src": ""}, "parent_name": None,
            }
            for i in c["items"]
        ]
        tax_lines = []
        for t in c["tax_lines"]:
            r = rates.get(t["rate_id"])
            legacy = bool(a.get("legacy_tax_lines", False))
            tax_lines.append(
                {
                    "id": t["id"], "rate_code": r.rate_code if r else f"X-{t['rate_id']}", "rate_id": t["rate_id"],
                    "label": r.name if r else "Tax", "compound": r.compound if r else False,
                    "tax_total": fmt_money(t["tax_total"], dp), "shipping_tax_total": fmt_money(t["shipping_tax_total"], dp),
                    "rate_percent": None if (legacy or r is None) else r.rate_percent, "meta_data": [],
                }
            )
        shipping_lines = [
            {
                "id": s["id"], "method_title": s["title"], "method_id": s["method_id"], "instance_id": s["instance_id"],
                "total": fmt_money(s["total"], dp), "total_tax": fmt_money(sum(s["taxes"].values(), ZERO), dp),
                "taxes": taxes_json(s["taxes"]), "meta_data": [],
            }
            for s in c["shipping"]
        ]
        fee_lines = [
            {
                "id": f["id"], "name": f["name"], "tax_class": f["tax_class"], "tax_status": f["tax_status"],
                "amount": fmt_money(f["total"], dp),
                "total": fmt_money(f["total"], dp), "total_tax": fmt_money(sum(f["taxes"].values(), ZERO), dp),
                "taxes": taxes_json(f["taxes"]), "meta_data": [],
            }
            for f in c["fees"]
        ]
        coupon_lines = [
            {
                "id": cp["id"], "code": cp["code"], "discount": fmt_money(cp["discount"], dp),
                "discount_tax": fmt_money(cp["discount_tax"], dp), "discount_type": cp["discount_type"],
                "nominal_amount": cp["nominal_amount"], "free_shipping": cp["free_shipping"], "meta_data": [],
            }
            for cp in c["coupons"]
        ]
        refunds = [
            {"id": r.id, "reason": str(r.author.get("reason", "")), "total": fmt_money(-r.compute(self, rates)["amount"], dp)}
            for r in sorted(self.refunds, key=lambda r: (r.created, r.id), reverse=True)
        ]
        paid = parse_when(a["paid"]) if a.get("paid") else (self.created if self.status in ("processing", "completed", "refunded") else None)
        completed = parse_when(a["completed"]) if a.get("completed") else (self.created if self.status == "completed" else None)
        meta = list(self.meta)
        order_key = "wc_order_" + hashlib.sha1(f"order-{self.id}".encode()).hexdigest()[:13]
        links: dict[str, Any] = {
            "self": [{"href": f"{base_url}/wp-json/wc/v3/orders/{self.id}"}],
            "collection": [{"href": f"{base_url}/wp-json/wc/v3/orders"}],
        }
        customer_id = int(a.get("customer_id", 0))
        if customer_id:
            links["customer"] = [{"href": f"{base_url}/wp-json/wc/v3/customers/{customer_id}"}]
        out = {
            "id": self.id,
            "parent_id": int(a.get("parent_id", 0)),
            "status": self.status,
            "currency": str(a.get("currency", store.currency)),
            "version": store.wc_version,
            "prices_include_tax": c["incl"],
            "date_created": fmt_date(self.created_local),
            "date_modified": fmt_date(self.modified_local),
            "discount_total": fmt_money(c["discount_total"], dp),
            "discount_tax": fmt_money(c["discount_tax"], dp),
            "shipping_total": fmt_money(c["shipping_total"], dp),
            "shipping_tax": fmt_money(c["shipping_tax"], dp),
            "cart_tax": fmt_money(c["cart_tax"], dp),
            "total": fmt_money(c["total"], dp),
            "total_tax": fmt_money(c["total_tax"], dp),
            "customer_id": customer_id,
            "order_key": order_key,
            "billing": billing,
            "shipping": shipping_addr,
            "payment_method": str(a.get("payment_method", "bacs")),
            "payment_method_title": str(a.get("payment_method_title", "Direct bank transfer")),
            "transaction_id": str(a.get("transaction_id", "")),
            "customer_ip_address": "",
            "customer_user_agent": "",
            "created_via": str(a.get("created_via", "checkout")),
            "customer_note": str(a.get("customer_note", "")),
            "date_completed": fmt_date(store.local(completed)),
            "date_paid": fmt_date(store.local(paid)),
            "cart_hash": "",
            "number": str(a.get("number", self.id)),
            "meta_data": meta,
            "line_items": line_items,
            "tax_lines": tax_lines,
            "shipping_lines": shipping_lines,
            "fee_lines": fee_lines,
            "coupon_lines": coupon_lines,
            "refunds": refunds,
            "payment_url": f"{base_url}/checkout/order-pay/{self.id}/?pay_for_order=true&key={order_key}",
            "is_editable": self.status in ("pending", "on-hold", "auto-draft"),
            "needs_payment": self.status in ("pending", "failed"),
            "needs_processing": True,
            "date_created_gmt": fmt_date(self.created),
            "date_modified_gmt": fmt_date(self.modified),
            "date_completed_gmt": fmt_date(completed),
            "date_paid_gmt": fmt_date(paid),
            "currency_symbol": {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}.get(str(a.get("currency", store.currency)), ""),
            "_links": links,
        }
        raw = a.get("raw")
        if isinstance(raw, dict):
            _deep_merge(out, raw)
        return out


def _deep_merge(target: dict, patch: dict) -> None:
    """``raw`` overrides in the author form: dicts merge, anything else replaces."""
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            _deep_merge(target[k], v)
        else:
            target[k] = v
