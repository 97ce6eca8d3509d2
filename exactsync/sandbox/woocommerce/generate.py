"""Generate WooCommerce scenarios in author form (demo data, benchmarks, volume tests)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

__all__ = ["DEMO_KEY", "DEMO_READONLY_KEY", "TAX_RATES", "generate_scenario", "make_key"]


def make_key(seed: str) -> tuple[str, str]:
    """A deterministic ``ck_``/``cs_`` + 40 hex pair."""
    h = hashlib.sha256(seed.encode()).hexdigest()
    h2 = hashlib.sha256((seed + "/secret").encode()).hexdigest()
    return "ck_" + h[:40], "cs_" + h2[:40]


DEMO_KEY = make_key("exactsync-demo-read-write")
DEMO_READONLY_KEY = make_key("exactsync-demo-read")

#: id, country, rate, name, class  (NL shop registered for OSS)
TAX_RATES: list[dict[str, Any]] = [
    {"id": 1, "country": "NL", "rate": "21.0000", "name": "BTW", "class": "standard", "shipping": True},
    {"id": 2, "country": "NL", "rate": "9.0000", "name": "BTW laag", "class": "reduced-rate", "shipping": False},
    {"id": 3, "country": "NL", "rate": "0.0000", "name": "BTW 0", "class": "zero-rate", "shipping": False},
    {"id": 4, "country": "DE", "rate": "19.0000", "name": "MwSt", "class": "standard", "shipping": True},
    {"id": 5, "country": "DE", "rate": "7.0000", "name": "MwSt ermäßigt", "class": "reduced-rate", "shipping": False},
    {"id": 6, "country": "BE", "rate": "21.0000", "name": "BTW", "class": "standard", "shipping": True},
    {"id": 7, "country": "BE", "rate": "6.0000", "name": "BTW verlaagd", "class": "reduced-rate", "shipping": False},
    {"id": 8, "country": "FR", "rate": "20.0000", "name": "TVA", "class": "standard", "shipping": True},
    {"id": 9, "country": "FR", "rate": "5.5000", "name": "TVA réduite", "class": "reduced-rate", "shipping": False},
]
_STD = {"NL": 1, "DE": 4, "BE": 6, "FR": 8}
_RED = {"NL": 2, "DE": 5, "BE": 7, "FR": 9}
_NAMES = ["Jansen", "de Vries", "Müller", "Dubois", "Peeters", "Smith", "Bakker", "Schmidt", "Martin", "Visser"]
_PRODUCTS = [("T-shirt", "19.95", False), ("Hoodie", "49.00", False), ("Mok", "8.50", False),
             ("Boek", "24.99", True), ("Koffiebonen 1kg", "17.40", True), ("Poster", "12.00", False)]


def generate_scenario(n_orders: int, *, seed: int = 1, start: dt.datetime | None = None, days: int = 365,
                      decimals: int = 2, refund_share: float = 0.05) -> dict:
    """A scenario with ``n_orders`` orders spread over ``days`` from ``start`` (naive UTC).

    Mix: ~70 % domestic NL, ~15 % OSS (DE/BE/FR B2C), ~5 % intra-EU B2B (VAT number, no tax),
    ~5 % export (US/CH/GB, no tax), some prices incl. tax, some coupons/fees, ~5 % refunds.
    """
    rng = random.Random(seed)
    start = start or dt.datetime(2025, 1, 1)
    step = days * 86400 / max(n_orders, 1)
    orders = []
    for i in range(n_orders):
        oid = 1000 + i
        created = start + dt.timedelta(seconds=int(i * step + rng.random() * step * 0.5))
        roll = rng.random()
        vat_number = None
        if roll < 0.70:
            country, kind = "NL", "domestic"
        elif roll < 0.85:
            country, kind = rng.choice(["DE", "BE", "FR"]), "oss"
        elif roll < 0.90:
            country, kind = rng.choice(["DE", "BE", "FR"]), "b2b"
            vat_number = f"{country}{rng.randrange(10**8, 10**9)}"
        else:
            country, kind = rng.choice(["US", "CH", "GB"]), "export"
        items = []
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            name, price, reduced = rng.choice(_PRODUCTS)
            rate = None
            if kind in ("domestic", "oss"):
                rate = (_RED if reduced else _STD)[country]
            items.append({"name": name, "qty": rng.choice([1, 1, 2, 3]), "price": price, "tax_rate": rate,
                          "tax_class": "reduced-rate" if reduced else "", "product_id": _PRODUCTS.index((name, price, reduced)) + 10})
        ship_rate = _STD.get(country) if kind in ("domestic", "oss") else None
        order: dict[str, Any] = {
            "id": oid,
            "status": rng.choices(["completed", "processing", "cancelled", "pending"], [80, 12, 5, 3])[0],
            "created": created.isoformat(),
            "currency": "EUR" if country != "US" or rng.random() < 0.5 else "USD",
            "billing": {"first_name": "Klant", "last_name": rng.choice(_NAMES), "country": country,
                        "email": f"klant{oid}@example.com", "company": "Firma BV" if kind == "b2b" else ""},
            "shipping": {"first_name": "Klant", "last_name": "X", "country": country},
            "items": items,
            "shipping_lines": [{"method": "flat_rate", "title": "Verzending", "total": "4.95", "tax_rate": ship_rate}],
        }
        if kind == "domestic" and rng.random() < 0.2:
            order["prices_include_tax"] = True
        if rng.random() < 0.1:
            order["coupons"] = [{"code": "KORTING10", "type": "percent", "amount": 10}]
        if vat_number:
            order["vat_number"] = vat_number
            order["vat_exempt"] = True
        if order["status"] in ("completed", "processing") and rng.random() < refund_share:
            when = (created + dt.timedelta(days=rng.randint(1, 20))).isoformat()
            if rng.random() < 0.5:
                order["refunds"] = [{"created": when, "reason": "Retour", "items": [{"line": 0, "qty": 1}]}]
            else:
                order["refunds"] = [{"created": when, "reason": "Korting achteraf", "amount": "5.00"}]
        orders.append(order)
    ck, cs = DEMO_KEY
    rk, rs = DEMO_READONLY_KEY
    return {
        "store": {"decimals": decimals, "timezone": "Europe/Amsterdam", "base_country": "NL", "currency": "EUR"},
        "keys": [
            {"consumer_key": ck, "consumer_secret": cs, "permission": "read_write", "description": "exactsync demo"},
            {"consumer_key": rk, "consumer_secret": rs, "permission": "read", "description": "read only"},
        ],
        "tax_rates": TAX_RATES,
        "orders": orders,
    }
