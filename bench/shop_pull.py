"""Pull N WooCommerce orders (default 100,000) from the loopback sandbox into a fresh DuckDB file.

Prints wall time, API calls and rows. Usage: ``python bench/shop_pull.py [N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from exactsync.sandbox.server import serve
from exactsync.sandbox.woocommerce import DEMO_KEY, create_app, generate_scenario
from exactsync.settings import Secret, ShopSettings
from exactsync.shops.woocommerce import pull_woocommerce
from exactsync.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    t0 = time.perf_counter()
    scenario = generate_scenario(args.n, seed=42)
    for o in scenario["orders"]:  # every order counts, so the call count is ⌈N/100⌉ list calls
        if o["status"] not in ("completed", "processing"):
            o["status"] = "completed"
    app = create_app(scenario)
    t_gen = time.perf_counter() - t0
    srv = serve(app)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "bench.duckdb")
            shop = ShopSettings(name="bench", kind="woocommerce", url=srv.url, consumer_key=Secret(DEMO_KEY[0]),
                                consumer_secret=Secret(DEMO_KEY[1]), concurrency=args.concurrency)
            t1 = time.perf_counter()
            result = pull_woocommerce(store, shop)
            wall = time.perf_counter() - t1
            lines = store.scalar("SELECT count(*) FROM shop_vat_lines")
            order_calls = store.scalar("SELECT count(*) FROM api_calls WHERE path LIKE '/wp-json/wc/v3/orders%'")
            t2 = time.perf_counter()
            result2 = pull_woocommerce(store, shop)
            wall2 = time.perf_counter() - t2
    finally:
        srv.stop()
    print(f"orders generated+loaded   {args.n:>9,}  in {t_gen:6.2f} s")
    print(f"full pull                 {wall:9.2f} s  ({args.n / wall:,.0f} orders/s, concurrency {args.concurrency})")
    print(f"  api calls               {result.calls:>9,}  (order list calls {order_calls:,}; ⌈N/100⌉ = {-(-args.n // 100):,})")
    print(f"  documents / vat lines   {result.documents:>9,} / {lines:,}   errors {result.errors}")
    print(f"incremental pull (no-op)  {wall2:9.2f} s  calls {result2.calls}, documents {result2.documents}")


if __name__ == "__main__":
    main()
