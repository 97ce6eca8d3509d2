"""Push 1,000 entries against the Exact sandbox's minute limit on a simulated clock shared by
sandbox and client (real HTTP on 127.0.0.1), then the same under the fault mix.

Prints the achieved call rate as a fraction of the minute limit (target ≥ 95 %: calls per clock
minute / 60, averaged over every minute of the run but the last, partial one), the number of
429s received (target 0 without injected faults) and, under faults, the duplicates (target 0).

    .venv/bin/python bench/push.py [--n 1000]
"""

from __future__ import annotations

import argparse
import collections
import copy
import datetime as dt
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from push.conftest import DIV, START, Env, make_doc, small_scenario  # noqa: E402

from exactsync.clock import FakeClock  # noqa: E402
from exactsync.push import Target, execute_plan, plan_targets  # noqa: E402


def run(n: int, faults: dict | None) -> dict:
    clock = FakeClock(START)
    scenario = copy.deepcopy(small_scenario())
    scenario["limits"] = {"minutely": 60, "daily": 100000}
    with tempfile.TemporaryDirectory() as tmp:
        env = Env(Path(tmp), scenario, clock)
        try:
            env.connect()
            env.pull()
            env.save_mappings()
            docs = [make_doc(40000 + i, day=f"2026-{3 + i % 9:02d}-{1 + i % 28:02d}") for i in range(n)]
            env.add_docs(docs)
            plan = plan_targets(env.store, env.settings, [Target(d["doc_key"], "missing_in_exact") for d, _ in docs])
            assert plan.ok, plan.errors
            if faults:
                env.app.set_faults(**faults)
            env.app.clear_calls()
            wall = time.monotonic()
            t0 = clock.time()
            with env.client() as client:
                out = execute_plan(env.store, env.settings, plan, client=client)
            sim = clock.time() - t0
            calls = [c for c in env.app.calls(DIV) if c["path"].startswith("/api/v1/")]
            per_minute = collections.Counter(int(c["time"] // 60) for c in calls)
            done = sorted(per_minute)[:-1]  # every clock minute but the last (partial) one
            rate = sum(per_minute[m] for m in done) / (60 * len(done)) if done else None
            refs = collections.Counter(e["YourRef"] for e in env.entries() if (e["YourRef"] or "").startswith("WC-4"))
            return {
                "entries": len(refs), "duplicates": sum(v - 1 for v in refs.values() if v > 1),
                "synced": out.synced, "posted": out.posted, "found_existing": out.found_existing,
                "api_calls": len(calls), "status_429": sum(1 for c in calls if c["status"] == 429),
                "simulated_minutes": round(sim / 60, 2),
                "rate_of_limit": round(rate, 4) if rate is not None else None,
                "minutes_used": len(per_minute),
                "wall_seconds": round(time.monotonic() - wall, 1),
            }
        finally:
            env.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    clean = run(args.n, None)
    print(f"clean:  {clean['entries']} entries, {clean['api_calls']} calls in {clean['simulated_minutes']} simulated min"
          f" -> {clean['rate_of_limit'] * 100:.1f}% of the 60/min limit (target >= 95%), "
          f"{clean['status_429']} x 429 (target 0), wall {clean['wall_seconds']} s")
    mix = run(args.n, {"seed": 9, "drop_after_commit": 0.10, "error_5xx": 0.05, "status_5xx": 500,
                       "rate_429": 0.05})
    print(f"faults: {mix['entries']} entries, {mix['duplicates']} duplicates (target 0), {mix['synced']} synced, "
          f"{mix['found_existing']} found after a lost answer, {mix['api_calls']} calls, "
          f"{mix['status_429']} x 429 (injected), {mix['rate_of_limit'] * 100:.1f}% of the limit, "
          f"wall {mix['wall_seconds']} s")
    print(json.dumps({"clean": clean, "faults": mix}, default=str))


if __name__ == "__main__":
    main()
