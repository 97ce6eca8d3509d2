"""Benchmark: generate the demo month (default 50,000 orders; pass N for more, e.g. 1000000).

Prints the time, orders per second, file sizes and peak memory. Never asserted in tests.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from exactsync.demo import generate_demo


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        summary = generate_demo(Path(tmp), orders=orders, seed=2026)
        took = time.perf_counter() - t
        sizes = {p.name: p.stat().st_size for p in Path(tmp).iterdir() if p.is_file()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"demo generate: {orders} orders -> {summary.documents} documents, {summary.entries} Exact entries, "
          f"{summary.cases} planted cases")
    print(f"  {took:.1f} s ({orders / took:,.0f} orders/s), peak RSS {peak_mb:,.0f} MB")
    print("  files: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items())))
    print(f"  1,000,000 orders would take about {1_000_000 / (orders / took) / 60:.1f} min")


if __name__ == "__main__":
    main()
