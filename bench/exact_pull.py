"""Pull 100,000 Exact transaction lines from the sandbox over loopback HTTP into DuckDB.

Prints calls used and rows/s (nothing is asserted). Limits are raised for the bench.
Run: .venv/bin/python bench/exact_pull.py [n_lines]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exactsync.clock import FakeClock  # noqa: E402
from exactsync.exact.pull import pull_exact  # noqa: E402
from tests.exact.conftest import DIV, START, Env, scenario_with_lines  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    scenario = scenario_with_lines(n, minutely=10**9, daily=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        env = Env(Path(tmp), scenario, FakeClock(START))
        env.connect()
        print(f"sandbox with {n:,} transaction lines ready in {time.perf_counter() - t0:.1f} s ({env.url})")
        try:
            with env.client() as client:
                t0 = time.perf_counter()
                first = pull_exact(env.store, env.settings, DIV, client=client)
                elapsed = time.perf_counter() - t0
                print(f"full pull: {first.lines_upserted:,} lines, {first.entries_derived:,} entries derived, "
                      f"{first.calls} calls ({first.pages} pages of lines), {elapsed:.1f} s, "
                      f"{first.lines_upserted / elapsed:,.0f} rows/s")
                t0 = time.perf_counter()
                second = pull_exact(env.store, env.settings, DIV, client=client)
                print(f"second pull (no change): {second.calls} call(s), {time.perf_counter() - t0:.2f} s")
            size = env.settings.store.path.stat().st_size / 1e6
            print(f"database: {size:.1f} MB, entries: {env.store.scalar('SELECT count(*) FROM exact_entries'):,}")
        finally:
            env.stop()


if __name__ == "__main__":
    main()
