"""Magento 2 invoices / credit memos (wire JSON) → canonical ``shop_documents`` + ``shop_vat_lines``.

Rules (shop-apis.md §B6–§B9, docs/magento.md):

* The order gives country, VAT number, customer and the items' tax percent; the document (invoice
  or credit memo) gives the amounts, in order currency and ``base_*``.
* Item rows: book rows without a parent, except a bundle parent whose children carry the
  amounts (then book the children); configurable children are never booked (their amounts are 0).
* Goods net = ``row_total - discount_amount + discount_tax_compensation_amount`` (discount netted),
  VAT = ``tax_amount``; shipping net = ``shipping_amount``; credit-memo ``adjustment_positive -
  adjustment_negative`` becomes one 'adjustment' line without VAT.
* Document totals come from the header (``grand_total``, ``tax_amount``); a rounding gap of at most
  :data:`ROUNDING_TOLERANCE` between the items and the header is absorbed in the largest line,
  anything larger is a per-record error.
* Sales sign: invoices positive, credit memos negative.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from exactsync.shops.base import RecordError, ShopDocument, VatLine, check_totals, doc_key, money
from exactsync.vat import classify_treatment, document_treatment

__all__ = ["ROUNDING_TOLERANCE", "INVOICE_STATES", "CREDITMEMO_STATES", "booked_item_ids", "build_document", "parse_time"]

ROUNDING_TOLERANCE = Decimal("0.05")
INVOICE_STATES = {1: "open", 2: "paid", 3: "canceled"}
CREDITMEMO_STATES = {1: "open", 2: "refunded", 3: "canceled"}
ZERO = Decimal(0)


def parse_time(value: Any, what: str, key: str) -> dt.datetime:
    """Magento ``YYYY-MM-DD HH:MM:SS`` (UTC, no offset) → naive UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise RecordError(key, f"{what} is missing")
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("T", " "))
    except ValueError:
        raise RecordError(key, f"{what} is not a date-time: {value[:30]!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _int(value: Any, what: str, key: str) -> int:
    if isinstance(value, bool):
        raise RecordError(key, f"{what} is not an id: {value!r}")
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise RecordError(key, f"{what} is not an id: {str(value)[:30]!r}") from None


def booked_item_ids(order_items: list[dict[str, Any]]) -> set[int]:
    """Order item ids whose amounts are booked (the parent/child rule of §B7)."""
    children: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for it in order_items:
        if it.get("parent_item_id") is not None:
            children[it["parent_item_id"]].append(it)
    booked: set[int] = set()
    for it in order_items:
        if it.get("parent_item_id") is not None:
            continue
        kids = children.get(it.get("item_id"), [])
        parent_total = money(it.get("row_total"), "item row_total")
        kids_carry = any(money(k.get("row_total"), "item row_total") != 0 for k in kids)
        if it.get("product_type") == "bundle" and kids and parent_total == 0 and kids_carry:
            booked.update(int(k["item_id"]) for k in kids)
        else:
            booked.add(int(it["item_id"]))
    return booked


def _tax_codes(order: dict[str, Any]) -> tuple[dict[int, str], str | None, Decimal | None]:
    """Applied-tax code per order item id, plus the shipping tax code and percent."""
    ext = order.get("extension_attributes") or {}
    per_item: dict[int, str] = {}
    ship_code: str | None = None
    ship_pct: Decimal | None = None
    for entry in ext.get("item_applied_taxes") or []:
        taxes = entry.get("applied_taxes") or []
        if not taxes:
            continue
        code = "+".join(str(t.get("code", "")) for t in taxes)
        if entry.get("type") == "shipping":
            ship_code = code
            ship_pct = sum((money(t.get("percent"), "shipping tax percent") for t in taxes), ZERO)
        elif entry.get("item_id") is not None:
            per_item[int(entry["item_id"])] = code
    return per_item, ship_code, ship_pct


def _shipping_address(order: dict[str, Any]) -> dict[str, Any]:
    ext = order.get("extension_attributes") or {}
    for sa in ext.get("shipping_assignments") or []:
        addr = ((sa or {}).get("shipping") or {}).get("address")
        if addr:
            return addr
    return {}


class _Acc:
    """Accumulates VAT lines keyed by (type, tax class, rate) in document and base currency."""

    def __init__(self) -> None:
        self.lines: dict[tuple[str, str, Decimal], list[Decimal]] = {}

    def add(self, line_type: str, tax_class: str, rate: Decimal, net: Decimal, vat: Decimal, net_b: Decimal, vat_b: Decimal) -> None:
        acc = self.lines.setdefault((line_type, tax_class, rate), [ZERO, ZERO, ZERO, ZERO])
        acc[0] += net
        acc[1] += vat
        acc[2] += net_b
        acc[3] += vat_b


def _absorb(lines: dict[tuple[str, str, Decimal], list[Decimal]], index: int, target: Decimal, key: str, what: str) -> None:
    """Put a small rounding gap between Σ lines and the header total into the largest line."""
    gap = target - sum((v[index] for v in lines.values()), ZERO)
    if gap == 0:
        return
    if abs(gap) > ROUNDING_TOLERANCE or not lines:
        raise RecordError(
            key, f"items do not add up to the document {what}",
            f"document {what} {target}, items {target - gap} (gap {gap})",
        )
    biggest = max(lines, key=lambda k: (k[0] != "adjustment", abs(lines[k][0]), abs(lines[k][1])))
    lines[biggest][index] += gap


def build_document(
    doc: dict[str, Any],
    kind: str,
    order: dict[str, Any] | None,
    *,
    shop: str,
    home_country: str,
    timezone: str,
    pulled_at: dt.datetime,
    rate_countries: dict[str, str] | None = None,
) -> tuple[ShopDocument, list[VatLine], list[str]]:
    """One invoice (``kind='invoice'``) or credit memo (``'credit_note'``) → rows + warnings.

    ``rate_countries``: applied-tax code → the rate's ``tax_country_id`` (§B10). A line taxed at a
    rate of another country than the ship-to one (a shop under the EU distance-sale threshold
    charging its home VAT) is that country's VAT; without it, the ship-to country's.
    """
    if not isinstance(doc, dict):
        raise RecordError(f"{shop}:{kind}:?", "record is not an object")
    entity_id = _int(doc.get("entity_id"), "entity_id", f"{shop}:{kind}:?")
    key = doc_key(shop, kind, entity_id)
    number = doc.get("increment_id")
    if not number:
        raise RecordError(key, "increment_id is missing")
    order_id = _int(doc.get("order_id"), "order_id", key)
    if order is None:
        raise RecordError(key, f"order {order_id} of this document was not found in the shop")
    sign = Decimal(1) if kind == "invoice" else Decimal(-1)
    warnings: list[str] = []

    def m(src: dict[str, Any], field: str) -> Decimal:
        return money(src.get(field), field, key)

    def has_base(src: dict[str, Any], field: str) -> bool:
        return src.get(f"base_{field}") is not None

    # --- order facts ---------------------------------------------------------------------------
    billing = order.get("billing_address") or {}
    shipping = _shipping_address(order)
    billing_country = (billing.get("country_id") or None) if isinstance(billing, dict) else None
    ship_country = shipping.get("country_id") or None
    vat_country = ship_country or billing_country
    vat_number = billing.get("vat_id") or shipping.get("vat_id") or order.get("customer_taxvat") or None
    vat_valid = billing.get("vat_is_valid") if billing.get("vat_id") else shipping.get("vat_is_valid")
    vat_for_class = vat_number
    if vat_number and vat_valid is not None and str(vat_valid) in ("0", "False", "false"):
        vat_for_class = None
        warnings.append(f"VAT number {vat_number} was not valid (vat_is_valid=0); not treated as reverse charge")
    items_by_id: dict[int, dict[str, Any]] = {}
    order_items = order.get("items")
    if not isinstance(order_items, list):
        raise RecordError(key, f"order {order_id} has no items list")
    for it in order_items:
        if not isinstance(it, dict) or it.get("item_id") is None:
            raise RecordError(key, f"order {order_id} has an item without item_id")
        items_by_id[_int(it["item_id"], "order item_id", key)] = it
    try:
        booked = booked_item_ids(order_items)
    except RecordError as e:
        raise RecordError(key, e.message, e.detail) from None
    try:
        item_codes, ship_code, ship_pct = _tax_codes(order)
    except RecordError as e:  # the order's taxes: named by this document
        raise RecordError(key, e.message, e.detail) from None

    # --- lines ----------------------------------------------------------------------------------
    acc = _Acc()
    discount_net = ZERO
    base_known = True
    doc_items = doc.get("items")
    if not isinstance(doc_items, list):
        raise RecordError(key, "items is not a list")
    for it in doc_items:
        if not isinstance(it, dict):
            raise RecordError(key, "an item is not an object")
        oid = _int(it.get("order_item_id"), "item order_item_id", key)
        oi = items_by_id.get(oid)
        if oi is None:
            raise RecordError(key, f"item refers to order item {oid}, which order {order_id} does not have")
        if oid not in booked:
            continue
        rate = money(oi.get("tax_percent"), "order item tax_percent", key)
        net = m(it, "row_total") - m(it, "discount_amount") + m(it, "discount_tax_compensation_amount")
        vat = m(it, "tax_amount")
        if all(has_base(it, f) for f in ("row_total", "tax_amount")):
            net_b = m(it, "base_row_total") - m(it, "base_discount_amount") + m(it, "base_discount_tax_compensation_amount")
            vat_b = m(it, "base_tax_amount")
        else:
            base_known, net_b, vat_b = False, ZERO, ZERO
        discount_net += m(it, "discount_amount") - m(it, "discount_tax_compensation_amount")
        acc.add("goods", item_codes.get(oid, ""), rate, net, vat, net_b, vat_b)

    ship_net, ship_vat = m(doc, "shipping_amount"), m(doc, "shipping_tax_amount")
    if ship_net != 0 or ship_vat != 0:
        if ship_pct is not None:
            rate = ship_pct
        elif ship_vat == 0:
            rate = ZERO
        else:
            rate = (ship_vat * 100 / ship_net).quantize(Decimal("0.01")) if ship_net else ZERO
        acc.add("shipping", ship_code or "", rate, ship_net, ship_vat,
                m(doc, "base_shipping_amount"), m(doc, "base_shipping_tax_amount"))
        base_known = base_known and has_base(doc, "shipping_amount")
    if kind == "credit_note":
        adj = m(doc, "adjustment_positive") - m(doc, "adjustment_negative")
        adj_b = m(doc, "base_adjustment_positive") - m(doc, "base_adjustment_negative")
        if adj != 0:
            acc.add("adjustment", "", ZERO, adj, ZERO, adj_b, ZERO)

    gross, vat_total = m(doc, "grand_total"), m(doc, "tax_amount")
    if doc.get("grand_total") is None:
        raise RecordError(key, "grand_total is missing")
    _absorb(acc.lines, 0, gross - vat_total, key, "net amount")
    _absorb(acc.lines, 1, vat_total, key, "tax amount")
    base_known = base_known and doc.get("base_grand_total") is not None
    if base_known:
        gross_b, vat_b_total = m(doc, "base_grand_total"), m(doc, "base_tax_amount")
        _absorb(acc.lines, 2, gross_b - vat_b_total, key, "base net amount")
        _absorb(acc.lines, 3, vat_b_total, key, "base tax amount")

    # --- treatments -----------------------------------------------------------------------------
    def line_country(code: str) -> str | None:
        """The country of the rate(s) a line was taxed at, when they name one; else the document's."""
        countries = {(rate_countries or {}).get(c) for c in code.split("+")} if code else {None}
        return countries.pop() if len(countries) == 1 and None not in countries else vat_country

    goods_treatments = [
        classify_treatment(home_country, line_country(code), vat_for_class, v[1])
        for (lt, code, _), v in acc.lines.items() if lt != "adjustment"
    ]
    doc_treatment = document_treatment(goods_treatments) if goods_treatments else classify_treatment(
        home_country, vat_country, vat_for_class, vat_total)
    lines: list[VatLine] = []
    for no, ((lt, tax_class, rate), v) in enumerate(sorted(acc.lines.items(), key=lambda kv: (_ORDER[kv[0][0]], kv[0][2], kv[0][1])), 1):
        country = vat_country if lt == "adjustment" else line_country(tax_class)
        treatment = doc_treatment if lt == "adjustment" else classify_treatment(home_country, country, vat_for_class, v[1])
        lines.append(VatLine(key, no, lt, tax_class, country, rate, treatment, sign * v[0], sign * v[1]))

    # --- header ---------------------------------------------------------------------------------
    created = parse_time(doc.get("created_at"), "created_at", key)
    modified = parse_time(doc.get("updated_at") or doc.get("created_at"), "updated_at", key)
    try:
        local_date = created.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(timezone)).date()
    except (KeyError, ValueError):
        local_date = created.date()
    state = doc.get("state")
    states = INVOICE_STATES if kind == "invoice" else CREDITMEMO_STATES
    status = states.get(state, str(state)) if isinstance(state, int) else str(state or "")
    currency = doc.get("order_currency_code") or order.get("order_currency_code") or ""
    base_currency = doc.get("base_currency_code") or order.get("base_currency_code")
    if currency and base_currency and currency == base_currency:
        fx = Decimal(1)
    else:
        fx = money(doc.get("base_to_order_rate", order.get("base_to_order_rate")), "base_to_order_rate", key) or None
    first = billing.get("firstname") or order.get("customer_firstname") or ""
    last = billing.get("lastname") or order.get("customer_lastname") or ""
    net = sum((ln.base for ln in lines), ZERO)
    document = ShopDocument(
        doc_key=key,
        shop=shop,
        source="magento",
        kind=kind,
        source_id=str(entity_id),
        doc_number=str(number),
        order_id=str(order_id),
        order_number=str(order.get("increment_id") or order_id),
        doc_date=local_date,
        created_at=created,
        modified_at=modified,
        currency=currency,
        base_currency=base_currency,
        fx_rate=fx,
        customer_ref=str(order["customer_id"]) if order.get("customer_id") is not None else None,
        customer_name=(f"{first} {last}".strip() or None),
        customer_email=order.get("customer_email"),
        company=billing.get("company") or None,
        billing_country=billing_country,
        ship_country=ship_country,
        vat_country=vat_country,
        vat_number=vat_number,
        treatment=doc_treatment,
        net=net,
        vat=sign * vat_total,
        gross=sign * gross,
        net_base=sign * sum((v[2] for v in acc.lines.values()), ZERO) if base_known else None,
        vat_base=sign * m(doc, "base_tax_amount") if base_known else None,
        gross_base=sign * m(doc, "base_grand_total") if base_known else None,
        shipping_net=sign * ship_net,
        discount_net=sign * discount_net,
        status=status,
        pulled_at=pulled_at,
    )
    check_totals(document, lines)
    return document, lines, warnings


_ORDER = {"goods": 0, "shipping": 1, "fee": 2, "adjustment": 3}
