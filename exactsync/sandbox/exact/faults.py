"""Fault injection and the call log of the Exact sandbox (sandbox-only features).

Faults are drawn from a seeded ``random.Random``, so a run with the same seed and the same call
sequence fails the same way. One-shot counters (``drop_next``, ``fail_next``) make single
failures exact in tests.
"""

from __future__ import annotations

import collections
import random
from typing import Any

__all__ = ["Faults", "CallLog", "FAULT_KEYS"]

FAULT_KEYS = {
    "seed": int,
    "drop_after_commit": float,  # rate: POST (see drop_methods) committed, answer never arrives
    "drop_methods": list,
    "error_5xx": float,  # rate of injected 5xx before the work is done
    "status_5xx": int,
    "rate_429": float,  # rate of injected 429 (empty body)
    "latency_ms": int,  # added wall-clock latency per API call
    "latency_rate": float,
    "drop_next": int,  # the next N committed writes are dropped
    "fail_next": int,  # the next N API calls answer status_5xx
}


class Faults:
    def __init__(self, config: dict | None = None) -> None:
        self.seed = 0
        self.drop_after_commit = 0.0
        self.drop_methods = ["POST"]
        self.error_5xx = 0.0
        self.status_5xx = 503
        self.rate_429 = 0.0
        self.latency_ms = 0
        self.latency_rate = 1.0
        self.drop_next = 0
        self.fail_next = 0
        self.rng = random.Random(0)
        self.configure(**(config or {}))

    def configure(self, **kw: Any) -> None:
        for k, v in kw.items():
            if k not in FAULT_KEYS:
                raise ValueError(f"unknown fault setting {k!r}; known: {', '.join(sorted(FAULT_KEYS))}")
            conv = FAULT_KEYS[k]
            setattr(self, k, [str(m).upper() for m in v] if conv is list else conv(v))
        if "seed" in kw:
            self.rng = random.Random(self.seed)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in FAULT_KEYS}

    def before(self) -> tuple[str | None, float]:
        """-> (injected failure "5xx" | "429" | None, latency seconds) for one API call."""
        latency = 0.0
        if self.latency_ms and self.rng.random() < self.latency_rate:
            latency = self.latency_ms / 1000
        if self.fail_next > 0:
            self.fail_next -= 1
            return "5xx", latency
        if self.error_5xx and self.rng.random() < self.error_5xx:
            return "5xx", latency
        if self.rate_429 and self.rng.random() < self.rate_429:
            return "429", latency
        return None, latency

    def drop(self, method: str, status: int) -> bool:
        if method not in self.drop_methods or not 200 <= status < 300:
            return False
        if self.drop_next > 0:
            self.drop_next -= 1
            return True
        return bool(self.drop_after_commit) and self.rng.random() < self.drop_after_commit


class CallLog:
    """Every request the sandbox answered (secrets never recorded: no bodies, no OAuth queries)."""

    def __init__(self, maxlen: int = 200_000) -> None:
        self.entries: collections.deque[dict] = collections.deque(maxlen=maxlen)
        self.seq = 0

    def add(self, **entry: Any) -> None:
        self.seq += 1
        entry["seq"] = self.seq
        self.entries.append(entry)

    def get(self, division: int | None = None) -> list[dict]:
        if division is None:
            return [dict(e) for e in self.entries]
        return [dict(e) for e in self.entries if e.get("division") == division]

    def clear(self) -> None:
        self.entries.clear()
