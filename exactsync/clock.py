"""Injectable clocks.

Every piece that reads the time (token expiry, rate-limit windows, sandboxes, incremental cursors)
takes a ``clock`` so tests and benchmarks can share one simulated clock between a sandbox and a
client. ``clock.now()`` returns an aware UTC datetime, ``clock.time()`` epoch seconds,
``clock.sleep(s)`` waits (a fake clock just advances).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
import time as _time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Clock", "SystemClock", "FakeClock", "FileClock", "SYSTEM_CLOCK", "utcnow"]


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


class _SimulatedClock(Clock):
    """Time that moves only when someone sleeps or advances it (``advance`` is the subclass's)."""

    def monotonic(self) -> float:
        return self.time()

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _seconds(when: float | dt.datetime) -> float:
        return when.timestamp() if isinstance(when, dt.datetime) else float(when)


class FakeClock(_SimulatedClock):
    """A settable clock. ``sleep`` advances it instead of waiting; thread-safe."""

    def __init__(self, start: float | dt.datetime = 1_790_000_000.0) -> None:
        self._t = self._seconds(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds

    def set(self, when: float | dt.datetime) -> None:
        with self._lock:
            self._t = self._seconds(when)


class FileClock(_SimulatedClock):
    """A simulated clock shared by processes through ``path`` (epoch seconds as text).

    Like :class:`FakeClock`, time moves only when someone sleeps or advances it, but every
    process that opens the same file sees the same time: reads take a shared ``flock``,
    ``advance`` an exclusive one (read, add, write), so two processes never lose an advance.
    ``start`` (re)sets the file; without it an existing file is used as it is (a new one starts
    at the real time).
    """

    _WIDTH = 32

    def __init__(self, path: str | Path, start: float | dt.datetime | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # flock does not exclude threads sharing one descriptor
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if start is not None:
            self.set(start)
        elif os.fstat(self._fd).st_size == 0:
            self.set(_time.time())

    def _read(self) -> float:
        raw = os.pread(self._fd, self._WIDTH, 0).decode("ascii").strip()
        if not raw:
            raise ValueError(f"the clock file {self.path} is empty")
        return float(raw)

    def _write(self, value: float) -> None:
        os.pwrite(self._fd, repr(float(value)).ljust(self._WIDTH).encode("ascii"), 0)

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        """This thread and this file's other users kept out (``LOCK_SH`` to read, ``LOCK_EX`` to write)."""
        with self._lock:
            fcntl.flock(self._fd, mode)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def time(self) -> float:
        with self._locked(fcntl.LOCK_SH):
            return self._read()

    def advance(self, seconds: float) -> None:
        with self._locked(fcntl.LOCK_EX):
            self._write(self._read() + seconds)

    def set(self, when: float | dt.datetime) -> None:
        value = self._seconds(when)
        with self._locked(fcntl.LOCK_EX):
            self._write(value)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


SYSTEM_CLOCK = SystemClock()


def utcnow() -> dt.datetime:
    """Naive UTC now, the form timestamps take at rest in DuckDB."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
