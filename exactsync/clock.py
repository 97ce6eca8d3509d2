"""Injectable clocks.

Every piece that reads the time (token expiry, rate-limit windows, sandboxes, incremental cursors)
takes a ``clock`` so tests and benchmarks can share one simulated clock between a sandbox and a
client. ``clock.now()`` returns an aware UTC datetime, ``clock.time()`` epoch seconds,
``clock.sleep(s)`` waits (a fake clock just advances).
"""

from __future__ import annotations

import datetime as dt
import threading
import time as _time

__all__ = ["Clock", "SystemClock", "FakeClock", "SYSTEM_CLOCK", "utcnow"]


class Clock:
    """Real time. Subclass and override ``time``/``sleep`` for tests."""

    def time(self) -> float:
        return _time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), tz=dt.timezone.utc)

    def monotonic(self) -> float:
        return _time.monotonic()


class SystemClock(Clock):
    pass


class FakeClock(Clock):
    """A settable clock. ``sleep`` advances it instead of waiting; thread-safe."""

    def __init__(self, start: float | dt.datetime = 1_790_000_000.0) -> None:
        if isinstance(start, dt.datetime):
            start = start.timestamp()
        self._t = float(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._t

    def monotonic(self) -> float:
        return self.time()

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds

    def set(self, when: float | dt.datetime) -> None:
        with self._lock:
            self._t = when.timestamp() if isinstance(when, dt.datetime) else float(when)


SYSTEM_CLOCK = SystemClock()


def utcnow() -> dt.datetime:
    """Naive UTC now, the form timestamps take at rest in DuckDB."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
