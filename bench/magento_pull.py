"""Pull N generated Magento invoices (+ credit memos) from the sandbox over HTTP; print timings."""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from exactsync.sandbox.magento import create_app
from exactsync.sandbox.server import serve
from exactsync.settings import Secret, ShopSettings
from exactsync.shops.magento import pull_magento
from exactsync.store import Store

COUNTRIES = [("NL", 21), ("DE", 19), ("BE", 21), ("FR", 20), ("AT", 20), ("US", 0)]


def scenario(n: int, seed: int = 1) -> dict:
    rnd = random.Random(seed)
    orders = []
    for i in range(1, n + 1):
        country, rate = rnd.choice(COUNTRIES)
        day = 1 + i * 28 // (n + 1)
        when = f"2025-02-{day:02d} {rnd.randrange(24):02d}:{rnd.randrange(60):02d}:00"
        items = [{"sku": f"SKU-{k}", "qty": rnd.randint(1, 3), "price": rnd.randint(100, 9999) / 100, "tax_percent": rate}
                 for k in range(rnd.randint(1, 4))]
        o = {"id": i, "created_at": when, "billing": {"country": country}, "items": items,
             "shipping_amount": 4.95, "invoices": [{}]}
        if rnd.random() < 0.1:
            o["creditmemos"] = [{"items": {"SKU-0": 1}}]
        orders.append(o)
    return {"store": {"base_currency": "EUR", "tokens": ["bench-token"]}, "orders": orders}


def main(n: int) -> None:
    t0 = time.perf_counter()
    app = create_app(scenario(n))
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d, serve(app) as srv:
        store = Store.open(Path(d) / "bench.duckdb")
        shop = ShopSettings(name="bench", kind="magento", url=srv.url, token=Secret("bench-token"), page_size=300)
        t2 = time.perf_counter()
        result = pull_magento(store, shop)
        t3 = time.perf_counter()
    print(f"orders            {n}")
    print(f"scenario expand   {t1 - t0:.2f} s")
    print(f"pull              {t3 - t2:.2f} s  ({result.documents} documents, {result.vat_lines} VAT lines, "
          f"{result.calls} calls, {result.errors} errors)")
    print(f"documents / s     {result.documents / (t3 - t2):.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
