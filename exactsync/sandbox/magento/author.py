"""Expand compact "author" orders into full Magento 2 order / invoice / credit-memo JSON.

An author order names items, prices, tax percents, a destination and which invoices and credit
memos exist; this module computes everything Magento would store (row totals, tax, discounts,
``discount_tax_compensation_amount``, base and order currency twins, applied taxes, counters,
state) following shop-apis.md §B6–§B11. See ``docs/sandbox-magento.md`` for the author format.

Amounts are ``Decimal`` here; :func:`exactsync.sandbox.magento.app.to_wire` turns them into JSON
numbers with at most 4 decimals.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = ["AuthorError", "Ids", "expand_order", "make_invoice", "make_creditmemo", "to_decimal", "fmt_time", "deep_merge"]

Q2 = Decimal("0.01")
Q4 = Decimal("0.0001")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


class AuthorError(ValueError):
    """The scenario's author data cannot be expanded."""


def r2(x: Decimal) -> Decimal:
    return x.quantize(Q2, rounding=ROUND_HALF_UP)  # PHP round(): half away from zero


def r4(x: Decimal) -> Decimal:
    return x.quantize(Q4, rounding=ROUND_HALF_UP)


def to_decimal(v: Any, default: Decimal | None = None) -> Decimal:
    if v is None or v == "":
        if default is None:
            raise AuthorError("missing amount")
        return default
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    try:
        amount = Decimal(str(v))
    except InvalidOperation:
        raise AuthorError(f"{v!r} is not an amount") from None
    if not amount.is_finite():
        raise AuthorError(f"{v!r} is not an amount")
    return amount


def fmt_time(v: Any) -> str:
    """Normalise to Magento's ``YYYY-MM-DD HH:MM:SS`` (UTC, no offset)."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%d %H:%M:%S")
    s = str(v).strip().replace("T", " ")
    if s.endswith("Z"):
        s = s[:-1]
    parsed = dt.datetime.fromisoformat(s)
    return fmt_time(parsed)


def deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a scenario ``patch`` (used to plant malformed records); ``{"$delete": true}`` drops a key."""
    for k, v in patch.items():
        if isinstance(v, dict) and v.get("$delete"):
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            deep_merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)
    return target


class Ids:
    """Entity-id sequences of one sandbox (orders, order items, invoices, memos, addresses...)."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def take(self, kind: str, wanted: Any = None) -> int:
        if wanted is not None:
            n = int(wanted)
            self.next[kind] = max(self.next.get(kind, 1), n + 1)
            return n
        n = self.next.get(kind, 1)
        self.next[kind] = n + 1
        return n


# --- amounts of one chargeable row ------------------------------------------------------------

_AMOUNT_KEYS = ("row_total", "tax_amount", "discount_amount", "discount_tax_compensation_amount")


def _row_amounts(price: Decimal, qty: Decimal, rate: Decimal, discount: Decimal, incl: bool, f: Decimal) -> dict[str, Decimal]:
    """Row amounts in one currency (``f`` = base→that currency factor), row-based tax rounding."""
    d = r2(discount * f)
    if incl:
        pin = r2(price * f)
        row_incl = r2(pin * qty)
        full_tax = r2(row_incl * rate / (HUNDRED + rate))
        tax = r2((row_incl - d) * rate / (HUNDRED + rate))
        row_total = row_incl - full_tax
        unit = r4(pin * HUNDRED / (HUNDRED + rate))
        comp = full_tax - tax
        price_incl = pin
    else:
        unit = r2(price * f)
        row_total = r2(unit * qty)
        tax = r2((row_total - d) * rate / HUNDRED)
        comp = ZERO
        price_incl = r2(unit * (HUNDRED + rate) / HUNDRED)
    return {
        "price": unit,
        "original_price": unit,
        "price_incl_tax": price_incl,
        "row_total": row_total,
        "row_total_incl_tax": row_total + tax + comp,
        "tax_amount": tax,
        "discount_amount": d,
        "discount_tax_compensation_amount": comp,
    }


def _zero_amounts() -> dict[str, Decimal]:
    return {k: ZERO for k in ("price", "original_price", "price_incl_tax", "row_total", "row_total_incl_tax", "tax_amount", "discount_amount", "discount_tax_compensation_amount")}


def _with_base(order_amt: dict[str, Decimal], base_amt: dict[str, Decimal]) -> dict[str, Decimal]:
    out = dict(order_amt)
    for k, v in base_amt.items():
        out[f"base_{k}"] = v
    return out


def _address(a: dict[str, Any] | None, kind: str, ids: Ids, order_id: int, customer: dict[str, Any]) -> dict[str, Any] | None:
    if a is None:
        return None
    country = a.get("country") or a.get("country_id")
    if not country:
        raise AuthorError(f"{kind} address needs a country")
    street = a.get("street", "Main Street 1")
    out: dict[str, Any] = {
        "address_type": kind,
        "city": a.get("city", "City"),
        "company": a.get("company"),
        "country_id": country,
        "email": customer.get("email"),
        "entity_id": ids.take("address"),
        "firstname": a.get("firstname", customer.get("firstname", "Jane")),
        "lastname": a.get("lastname", customer.get("lastname", "Doe")),
        "parent_id": order_id,
        "postcode": a.get("postcode", "1000 AA"),
        "region": a.get("region"),
        "region_code": a.get("region_code"),
        "region_id": a.get("region_id", 0),
        "street": street if isinstance(street, list) else [street],
        "telephone": a.get("telephone", "0123456789"),
    }
    if a.get("vat_id"):
        out["vat_id"] = a["vat_id"]
        out["vat_is_valid"] = int(a.get("vat_is_valid", 1))
        out["vat_request_id"] = a.get("vat_request_id", f"WAPIAAAA{order_id:06d}")
        out["vat_request_date"] = a.get("vat_request_date", "")
        out["vat_request_success"] = int(a.get("vat_request_success", 1))
    return {k: v for k, v in out.items() if v is not None}


def _rate_code(country: str, percent: Decimal, rates: list[dict[str, Any]]) -> str:
    for r in rates:
        if r.get("tax_country_id") == country and to_decimal(r.get("rate"), ZERO) == percent:
            return str(r["code"])
    return f"{country}-{percent.normalize():f}%"


# --- the order ---------------------------------------------------------------------------------


def expand_order(a: dict[str, Any], store: dict[str, Any], rates: list[dict[str, Any]], ids: Ids) -> dict[str, Any]:
    """Build the order JSON (without invoices/credit memos applied; see :func:`make_invoice`)."""
    order_id = ids.take("order", a.get("id") or a.get("entity_id"))
    created = fmt_time(a.get("created_at", "2025-01-15 10:00:00"))
    base_cur = store.get("base_currency", "EUR")
    cur = a.get("currency", base_cur)
    f = to_decimal(a.get("base_to_order_rate"), Decimal("1"))
    incl = bool(a.get("prices_include_tax", store.get("prices_include_tax", False)))
    customer = a.get("customer") or {}
    billing_a = a.get("billing") or {"country": store.get("country", "NL")}
    shipping_a = a.get("shipping", billing_a) if not a.get("virtual") else None
    dest = (shipping_a or billing_a).get("country") or (shipping_a or billing_a).get("country_id")
    store_id = int(a.get("store_id", 1))

    rows: list[dict[str, Any]] = []
    charge_rows: list[dict[str, Any]] = []  # rows that carry amounts

    def new_row(item: dict[str, Any], ptype: str, sku: str, name: str, qty: Decimal, parent: dict[str, Any] | None) -> dict[str, Any]:
        row = {
            "item_id": ids.take("order_item"),
            "order_id": order_id,
            "parent_item_id": parent["item_id"] if parent else None,
            "quote_item_id": ids.take("quote_item"),
            "store_id": store_id,
            "created_at": created,
            "updated_at": created,
            "product_id": int(item.get("product_id", 1000 + len(rows))),
            "product_type": ptype,
            "sku": sku,
            "name": name,
            "is_virtual": 1 if ptype in ("virtual", "downloadable") else 0,
            "is_qty_decimal": 0,
            "qty_ordered": qty,
            "qty_invoiced": ZERO,
            "qty_refunded": ZERO,
            "qty_shipped": ZERO,
            "qty_canceled": ZERO,
            "no_discount": 0,
            "free_shipping": 0,
            "weight": to_decimal(item.get("weight"), Decimal("1")),
            "row_weight": to_decimal(item.get("weight"), Decimal("1")) * qty,
        }
        if parent is not None:
            row["parent_item"] = {k: v for k, v in parent.items() if k != "parent_item"}
        rows.append(row)
        return row

    def charge(row: dict[str, Any], item: dict[str, Any], qty: Decimal) -> None:
        rate = to_decimal(item.get("tax_percent"), ZERO)
        price = to_decimal(item.get("price_incl_tax") if incl and "price_incl_tax" in item else item.get("price"))
        disc = to_decimal(item.get("discount"), ZERO)
        amounts = _with_base(_row_amounts(price, qty, rate, disc, incl, f), _row_amounts(price, qty, rate, disc, incl, Decimal("1")))
        row.update(amounts)
        row["tax_percent"] = rate
        row["discount_percent"] = ZERO
        row["_rate"] = rate
        charge_rows.append(row)

    def zero(row: dict[str, Any]) -> None:
        row.update(_with_base(_zero_amounts(), _zero_amounts()))
        row["tax_percent"] = ZERO

    for item in a.get("items", []):
        ptype = item.get("type", "simple")
        qty = to_decimal(item.get("qty"), Decimal("1"))
        sku = str(item.get("sku") or f"SKU-{len(rows) + 1}")
        name = item.get("name", sku)
        if ptype == "configurable":
            parent = new_row(item, "configurable", sku, name, qty, None)
            charge(parent, item, qty)
            child = new_row(item, "simple", sku, item.get("child_name", f"{name} ({sku})"), qty, parent)
            zero(child)
            child["product_id"] = parent["product_id"] + 500
            if item.get("child_price_quirk"):  # 2.2.8–2.3.x: the child's price (only) populated
                child["price"] = parent["price"]
                child["base_price"] = parent["base_price"]
            parent["_children"] = [child]
        elif ptype == "bundle" and item.get("children"):
            parent = new_row(item, "bundle", sku, name, qty, None)
            zero(parent)
            parent["price"] = sum((to_decimal(c.get("price")) * to_decimal(c.get("qty"), Decimal("1")) for c in item["children"]), ZERO)
            parent["base_price"] = parent["price"]
            parent["_children"] = []
            for c in item["children"]:
                cq = qty * to_decimal(c.get("qty"), Decimal("1"))
                child = new_row(c, c.get("type", "simple"), str(c.get("sku")), c.get("name", c.get("sku")), cq, parent)
                charge(child, c, cq)
                child["_bundle_qty"] = to_decimal(c.get("qty"), Decimal("1"))
                parent["_children"].append(child)
        else:
            row = new_row(item, ptype, sku, name, qty, None)
            charge(row, item, qty)

    # shipping
    ship_in = a.get("shipping_amount", 0)
    ship_rate = to_decimal(a.get("shipping_tax_percent"), max((r["_rate"] for r in charge_rows), default=ZERO))
    ship_incl = bool(a.get("shipping_includes_tax", incl))
    ship = _with_base(
        _row_amounts(to_decimal(ship_in, ZERO), Decimal("1"), ship_rate, ZERO, ship_incl, f),
        _row_amounts(to_decimal(ship_in, ZERO), Decimal("1"), ship_rate, ZERO, ship_incl, Decimal("1")),
    )
    if shipping_a is None:
        ship = {k: ZERO for k in ship}

    def tot(key: str, prefix: str = "") -> Decimal:
        return sum((r[prefix + key] for r in charge_rows), ZERO)

    order: dict[str, Any] = {
        "entity_id": order_id,
        "increment_id": str(a.get("increment_id") or f"{store.get('order_prefix', '')}{order_id:09d}"),
        "store_id": store_id,
        "store_name": store.get("store_name", "Main Website\nMain Website Store\nDefault Store View"),
        "created_at": created,
        "updated_at": created,
        "customer_id": customer.get("id"),
        "customer_is_guest": 0 if customer.get("id") else 1,
        "customer_group_id": int(customer.get("group_id", 1 if customer.get("id") else 0)),
        "customer_email": customer.get("email", f"customer{order_id}@example.com"),
        "customer_firstname": customer.get("firstname", "Jane"),
        "customer_lastname": customer.get("lastname", "Doe"),
        "customer_taxvat": customer.get("taxvat"),
        "base_currency_code": base_cur,
        "global_currency_code": base_cur,
        "store_currency_code": base_cur,
        "order_currency_code": cur,
        "base_to_global_rate": Decimal("1"),
        "base_to_order_rate": f,
        "store_to_base_rate": ZERO,
        "store_to_order_rate": ZERO,
        "is_virtual": 1 if shipping_a is None else 0,
        "email_sent": 1,
        "quote_id": ids.take("quote"),
        "protect_code": f"{order_id:06x}",
        "remote_ip": "127.0.0.1",
        "total_qty_ordered": sum((r["qty_ordered"] for r in rows if r["parent_item_id"] is None), ZERO),
        "total_item_count": len(rows),
        "weight": sum((r["row_weight"] for r in rows if r["parent_item_id"] is None), ZERO),
        "discount_description": a.get("coupon_code"),
        "coupon_code": a.get("coupon_code"),
        "shipping_description": "Flat Rate - Fixed" if shipping_a is not None else None,
    }
    for p in ("", "base_"):
        subtotal = tot("row_total", p)
        item_tax = tot("tax_amount", p)
        disc = tot("discount_amount", p)
        comp = tot("discount_tax_compensation_amount", p)
        sub_incl = subtotal + item_tax + comp
        order[f"{p}subtotal"] = subtotal
        order[f"{p}subtotal_incl_tax"] = sub_incl
        order[f"{p}tax_amount"] = item_tax + ship[f"{p}tax_amount"]
        order[f"{p}shipping_amount"] = ship[f"{p}row_total"]
        order[f"{p}shipping_tax_amount"] = ship[f"{p}tax_amount"]
        order[f"{p}shipping_incl_tax"] = ship[f"{p}row_total"] + ship[f"{p}tax_amount"]
        order[f"{p}shipping_discount_amount"] = ZERO
        order[f"{p}discount_amount"] = -disc
        order[f"{p}discount_tax_compensation_amount"] = comp
        order[f"{p}shipping_discount_tax_compensation_amount"] = ZERO
        order[f"{p}grand_total"] = subtotal + ship[f"{p}row_total"] - disc + item_tax + ship[f"{p}tax_amount"] + comp
        order[f"{p}total_due"] = order[f"{p}grand_total"]
        for k in ("total_invoiced", "total_paid", "total_refunded", "total_online_refunded", "total_offline_refunded", "total_canceled",
                  "subtotal_invoiced", "subtotal_refunded", "tax_invoiced", "tax_refunded", "shipping_invoiced", "shipping_refunded",
                  "discount_invoiced", "discount_refunded", "adjustment_positive", "adjustment_negative"):
            order[f"{p}{k}"] = None
    order["discount_amount"] = order["discount_amount"] if order["discount_amount"] != 0 else ZERO

    billing = _address(billing_a, "billing", ids, order_id, customer)
    order["billing_address"] = billing
    order["billing_address_id"] = billing["entity_id"] if billing else None
    order["payment"] = {
        "method": a.get("payment_method", "checkmo"),
        "amount_ordered": order["grand_total"],
        "base_amount_ordered": order["base_grand_total"],
        "shipping_amount": order["shipping_amount"],
        "base_shipping_amount": order["base_shipping_amount"],
        "account_status": None,
        "additional_information": [a.get("payment_title", "Check / Money order")],
        "cc_last4": None,
        "entity_id": ids.take("payment"),
        "parent_id": order_id,
    }
    order["status_histories"] = []

    # applied taxes: one per rate (code from the scenario's tax rates for the destination)
    by_rate: dict[Decimal, list[Decimal]] = {}
    for r in charge_rows:
        if r["tax_amount"] != 0 or r["discount_tax_compensation_amount"] != 0:
            acc = by_rate.setdefault(r["_rate"], [ZERO, ZERO])
            acc[0] += r["tax_amount"]
            acc[1] += r["base_tax_amount"]
    if ship["tax_amount"] != 0:
        acc = by_rate.setdefault(ship_rate, [ZERO, ZERO])
        acc[0] += ship["tax_amount"]
        acc[1] += ship["base_tax_amount"]

    def applied(rate: Decimal, amount: Decimal, base_amount: Decimal) -> dict[str, Any]:
        code = _rate_code(dest, rate, rates)
        return {
            "code": code, "title": code, "percent": rate, "amount": amount, "base_amount": base_amount,
            "extension_attributes": {"rates": [{"code": code, "title": code, "percent": rate}]},
        }

    item_taxes = []
    for r in charge_rows:
        if r["tax_amount"] != 0 or r["discount_tax_compensation_amount"] != 0:
            item_taxes.append({
                "type": "product", "item_id": r["item_id"], "associated_item_id": None,
                "applied_taxes": [applied(r["_rate"], r["tax_amount"], r["base_tax_amount"])],
            })
    if ship["tax_amount"] != 0:
        item_taxes.append({
            "type": "shipping", "item_id": None, "associated_item_id": None,
            "applied_taxes": [applied(ship_rate, ship["tax_amount"], ship["base_tax_amount"])],
        })
    ext: dict[str, Any] = {
        "applied_taxes": [applied(rate, v[0], v[1]) for rate, v in sorted(by_rate.items())],
        "item_applied_taxes": item_taxes,
        "converting_from_quote": False,
    }
    if shipping_a is not None:
        saddr = _address(shipping_a, "shipping", ids, order_id, customer)
        ext["shipping_assignments"] = [{
            "shipping": {
                "address": saddr,
                "method": "flatrate_flatrate",
                "total": {k: order[k] for k in ("shipping_amount", "base_shipping_amount", "shipping_incl_tax", "base_shipping_incl_tax",
                                                  "shipping_tax_amount", "base_shipping_tax_amount", "shipping_discount_amount",
                                                  "base_shipping_discount_amount")},
            },
            "items": [_public_item(r) for r in rows],
        }]
    order["extension_attributes"] = ext

    state = "new"
    order["state"] = state
    order["status"] = "pending"
    # private bookkeeping used by invoices/credit memos (stripped before serving)
    order["_rows"] = rows
    order["_charge_rows"] = charge_rows
    order["_ship"] = ship
    order["_ship_rate"] = ship_rate
    order["_state_override"] = a.get("state")
    order["_status_override"] = a.get("status")
    order["items"] = None  # filled by refresh_items()
    refresh_items(order)
    return order


def _public_item(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if not k.startswith("_")}
    if "parent_item" in out:
        out["parent_item"] = {k: v for k, v in out["parent_item"].items() if not k.startswith("_")}
    return out


def refresh_items(order: dict[str, Any]) -> None:
    order["items"] = [_public_item(r) for r in order["_rows"]]


# --- invoices and credit memos ----------------------------------------------------------------

_DOC_AMOUNTS = ("row_total", "tax_amount", "discount_amount", "discount_tax_compensation_amount")


def _pick_qty(order: dict[str, Any], spec: Any, counter: str) -> dict[int, Decimal]:
    """Quantities per top-level row item_id: ``None``/"all" = everything left, else ``{sku: qty}``."""
    out: dict[int, Decimal] = {}
    tops = [r for r in order["_rows"] if r["parent_item_id"] is None]
    for r in tops:
        left = r["qty_ordered"] - r[counter]
        if spec in (None, "all"):
            q = left
        else:
            if not isinstance(spec, dict):
                raise AuthorError("items must be 'all' or {sku: qty}")
            if r["sku"] not in spec:
                continue
            q = to_decimal(spec[r["sku"]])
        if q > left:
            raise AuthorError(f"order {order['increment_id']}: {counter} qty {q} for {r['sku']} exceeds what is left ({left})")
        if q > 0:
            out[r["item_id"]] = q
    if isinstance(spec, dict):
        known = {r["sku"] for r in tops}
        unknown = set(spec) - known
        if unknown:
            raise AuthorError(f"order {order['increment_id']}: unknown sku(s) {sorted(unknown)}")
    return out


def _portion(r: dict[str, Any], q: Decimal, done_qty: Decimal, done: dict[str, Decimal]) -> dict[str, Decimal]:
    """Amounts of ``q`` units of a charged row; the last portion takes the remainder (no drift)."""
    out: dict[str, Decimal] = {}
    last = done_qty + q >= r["qty_ordered"]
    for p in ("", "base_"):
        for k in _DOC_AMOUNTS:
            full = r[p + k]
            out[p + k] = full - done.get(p + k, ZERO) if last else r2(full * q / r["qty_ordered"])
        out[p + "price"] = r[p + "price"]
        out[p + "price_incl_tax"] = r[p + "price_incl_tax"]
        out[p + "row_total_incl_tax"] = out[p + "row_total"] + out[p + "tax_amount"] + out[p + "discount_tax_compensation_amount"]
    return out


def _doc_rows(order: dict[str, Any], qtys: dict[int, Decimal], counter: str, tally_key: str, doc_id: int, ids: Ids) -> list[dict[str, Any]]:
    rows_by_id = {r["item_id"]: r for r in order["_rows"]}
    items: list[dict[str, Any]] = []
    for top_id, q in qtys.items():
        top = rows_by_id[top_id]
        group = [top] + top.get("_children", [])
        for r in group:
            rq = q if r is top or top["product_type"] == "configurable" else q * r.get("_bundle_qty", Decimal("1"))
            if r in order["_charge_rows"]:
                tally = r.setdefault(tally_key, {})
                amounts = _portion(r, rq, r[counter], tally)
                for k in (p + a for p in ("", "base_") for a in _DOC_AMOUNTS):
                    tally[k] = tally.get(k, ZERO) + amounts[k]
            else:
                amounts = {}
                for p in ("", "base_"):
                    for k in _DOC_AMOUNTS + ("price_incl_tax", "row_total_incl_tax"):
                        amounts[p + k] = ZERO
                    amounts[p + "price"] = r.get(p + "price", ZERO)
            r[counter] = r[counter] + rq
            item = {
                "entity_id": ids.take("doc_item"),
                "parent_id": doc_id,
                "order_item_id": r["item_id"],
                "product_id": r["product_id"],
                "sku": r["sku"],
                "name": r["name"],
                "qty": rq,
            }
            item.update(amounts)
            items.append(item)
    return items


def _ship_portion(order: dict[str, Any], amount: Any, tally_key: str) -> dict[str, Decimal]:
    """Shipping on a document: ``True``/"all" = what is left, a number = that amount (base currency, excl. tax)."""
    ship = order["_ship"]
    tally = order.setdefault(tally_key, {})
    out: dict[str, Decimal] = {}
    for p in ("", "base_"):
        full, full_tax = ship[p + "row_total"], ship[p + "tax_amount"]
        left, left_tax = full - tally.get(p + "amt", ZERO), full_tax - tally.get(p + "tax", ZERO)
        if amount is True or amount == "all":
            a, t = left, left_tax
        elif not amount:
            a, t = ZERO, ZERO
        else:
            f = order["base_to_order_rate"] if p == "" else Decimal("1")
            a = r2(to_decimal(amount) * f)
            if a > left:
                raise AuthorError(f"order {order['increment_id']}: shipping {a} exceeds what is left ({left})")
            t = left_tax if a == left else (r2(full_tax * a / full) if full else ZERO)
        out[p + "amt"], out[p + "tax"] = a, t
    for p in ("", "base_"):
        tally[p + "amt"] = tally.get(p + "amt", ZERO) + out[p + "amt"]
        tally[p + "tax"] = tally.get(p + "tax", ZERO) + out[p + "tax"]
    return out


def _totals(doc: dict[str, Any], items: list[dict[str, Any]], ship: dict[str, Decimal]) -> None:
    for p in ("", "base_"):
        sub = sum((i[p + "row_total"] for i in items), ZERO)
        tax = sum((i[p + "tax_amount"] for i in items), ZERO)
        disc = sum((i[p + "discount_amount"] for i in items), ZERO)
        comp = sum((i[p + "discount_tax_compensation_amount"] for i in items), ZERO)
        doc[p + "subtotal"] = sub
        doc[p + "subtotal_incl_tax"] = sub + tax + comp
        doc[p + "shipping_amount"] = ship[p + "amt"]
        doc[p + "shipping_tax_amount"] = ship[p + "tax"]
        doc[p + "shipping_incl_tax"] = ship[p + "amt"] + ship[p + "tax"]
        doc[p + "tax_amount"] = tax + ship[p + "tax"]
        # Invoice/credit-memo totals collectors store the discount negative, like the order.
        doc[p + "discount_amount"] = -disc
        doc[p + "discount_tax_compensation_amount"] = comp
        doc[p + "shipping_discount_tax_compensation_amnt"] = ZERO
        doc[p + "grand_total"] = sub + ship[p + "amt"] + tax + ship[p + "tax"] - disc + comp


def _doc_header(order: dict[str, Any], doc_id: int, inc: str, created: str) -> dict[str, Any]:
    return {
        "entity_id": doc_id,
        "increment_id": inc,
        "order_id": order["entity_id"],
        "store_id": order["store_id"],
        "base_currency_code": order["base_currency_code"],
        "global_currency_code": order["global_currency_code"],
        "store_currency_code": order["store_currency_code"],
        "order_currency_code": order["order_currency_code"],
        "base_to_global_rate": order["base_to_global_rate"],
        "base_to_order_rate": order["base_to_order_rate"],
        "store_to_base_rate": order["store_to_base_rate"],
        "store_to_order_rate": order["store_to_order_rate"],
        "billing_address_id": order.get("billing_address_id"),
        "shipping_address_id": (
            order["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]["entity_id"]
            if order["extension_attributes"].get("shipping_assignments") else None
        ),
        "email_sent": 1,
        "created_at": created,
        "updated_at": created,
    }


def make_invoice(order: dict[str, Any], spec: dict[str, Any], ids: Ids, store: dict[str, Any], default_time: str) -> dict[str, Any]:
    """Create an invoice on ``order`` (mutates the order's counters and totals)."""
    inv_id = ids.take("invoice", spec.get("id") or spec.get("entity_id"))
    inc = str(spec.get("increment_id") or f"{store.get('invoice_prefix', '')}{inv_id:09d}")
    created = fmt_time(spec.get("created_at") or default_time)
    qtys = _pick_qty(order, spec.get("items"), "qty_invoiced")
    first = not order.get("_invoiced_any")
    ship = _ship_portion(order, spec.get("shipping", first), "_ship_invoiced")
    items = _doc_rows(order, qtys, "qty_invoiced", "_inv_tally", inv_id, ids)
    if not items and ship["amt"] == 0:
        raise AuthorError(f"order {order['increment_id']}: invoice {inc} invoices nothing")
    inv = _doc_header(order, inv_id, inc, created)
    _totals(inv, items, ship)
    state = int(spec.get("state", 2))
    inv.update({
        "state": state,
        "total_qty": sum((i["qty"] for i in items if _top(order, i)), ZERO),
        "transaction_id": spec.get("transaction_id"),
        "can_void_flag": 0,
        "is_used_for_refund": 0,
        "items": items,
        "comments": [],
    })
    order["_invoiced_any"] = True
    if state != 3:
        for p in ("", "base_"):
            _add(order, p + "total_invoiced", inv[p + "grand_total"])
            _add(order, p + "subtotal_invoiced", inv[p + "subtotal"])
            _add(order, p + "tax_invoiced", inv[p + "tax_amount"])
            _add(order, p + "shipping_invoiced", inv[p + "shipping_amount"])
            _add(order, p + "discount_invoiced", -inv[p + "discount_amount"])
            if state == 2:
                _add(order, p + "total_paid", inv[p + "grand_total"])
                order[p + "total_due"] = order[p + "grand_total"] - order[p + "total_paid"]
    for k, v in (spec.get("patch") or {}).items():
        deep_merge(inv, {k: v})
    _bump(order, created)
    return inv


def make_creditmemo(order: dict[str, Any], spec: dict[str, Any], ids: Ids, store: dict[str, Any], default_time: str) -> dict[str, Any]:
    """Create a credit memo on ``order`` (offline refund unless ``invoice_id`` is given)."""
    cm_id = ids.take("creditmemo", spec.get("id") or spec.get("entity_id"))
    inc = str(spec.get("increment_id") or f"{store.get('creditmemo_prefix', '')}{cm_id:09d}")
    created = fmt_time(spec.get("created_at") or default_time)
    full = bool(spec.get("full"))
    qtys = _pick_qty(order, spec.get("items", "all" if full else {}), "qty_refunded")
    ship = _ship_portion(order, True if full else spec.get("shipping", 0), "_ship_refunded")
    items = _doc_rows(order, qtys, "qty_refunded", "_cm_tally", cm_id, ids)
    cm = _doc_header(order, cm_id, inc, created)
    _totals(cm, items, ship)
    f = order["base_to_order_rate"]
    for p, fac in (("", f), ("base_", Decimal("1"))):
        pos = r2(to_decimal(spec.get("adjustment_positive"), ZERO) * fac)
        neg = r2(to_decimal(spec.get("adjustment_negative"), ZERO) * fac)
        cm[p + "adjustment_positive"] = pos
        cm[p + "adjustment_negative"] = neg
        cm[p + "adjustment"] = pos - neg
        cm[p + "grand_total"] = cm[p + "grand_total"] + pos - neg
    if not items and ship["amt"] == 0 and cm["adjustment"] == 0:
        raise AuthorError(f"order {order['increment_id']}: credit memo {inc} refunds nothing")
    state = int(spec.get("state", 2))
    cm.update({
        "invoice_id": spec.get("invoice_id"),
        "state": state,
        "creditmemo_status": None,
        "transaction_id": spec.get("transaction_id"),
        "items": items,
        "comments": [],
    })
    if state != 3:
        for p in ("", "base_"):
            _add(order, p + "total_refunded", cm[p + "grand_total"])
            _add(order, p + ("total_online_refunded" if spec.get("invoice_id") else "total_offline_refunded"), cm[p + "grand_total"])
            _add(order, p + "subtotal_refunded", cm[p + "subtotal"])
            _add(order, p + "tax_refunded", cm[p + "tax_amount"])
            _add(order, p + "shipping_refunded", cm[p + "shipping_amount"])
            _add(order, p + "discount_refunded", -cm[p + "discount_amount"])
            _add(order, p + "adjustment_positive", cm[p + "adjustment_positive"])
            _add(order, p + "adjustment_negative", cm[p + "adjustment_negative"])
    for k, v in (spec.get("patch") or {}).items():
        deep_merge(cm, {k: v})
    _bump(order, created)
    return cm


def _top(order: dict[str, Any], item: dict[str, Any]) -> bool:
    for r in order["_rows"]:
        if r["item_id"] == item["order_item_id"]:
            return r["parent_item_id"] is None
    return True


def _add(order: dict[str, Any], key: str, v: Decimal) -> None:
    order[key] = (order.get(key) or ZERO) + v


def _bump(order: dict[str, Any], when: str) -> None:
    if when > order["updated_at"]:
        order["updated_at"] = when
    refresh_state(order)
    refresh_items(order)


def refresh_state(order: dict[str, Any]) -> None:
    """Workflow state from counters (§B6): new → processing → complete/closed."""
    if order.get("_state_override"):
        order["state"] = order["_state_override"]
        order["status"] = order.get("_status_override") or order["_state_override"]
        return
    paid = order.get("total_paid") or ZERO
    refunded = order.get("total_refunded") or ZERO
    fully_invoiced = all(r["qty_invoiced"] >= r["qty_ordered"] for r in order["_rows"] if r["parent_item_id"] is None)
    if paid > 0 and refunded >= paid and fully_invoiced:
        state = "closed"
    elif order.get("total_invoiced") is not None and fully_invoiced:
        state = "complete" if order.get("_shipped") or order.get("is_virtual") else "processing"
    elif order.get("total_invoiced") is not None:
        state = "processing"
    else:
        state = "new"
    order["state"] = state
    order["status"] = order.get("_status_override") or {"new": "pending"}.get(state, state)
