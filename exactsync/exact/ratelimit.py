"""Per-division rate limiting driven by Exact's response headers (exact-online-api.md §3).

Exact allows 60 calls per clock minute and 5,000 per UTC day per app and division, and reports
what is left on every division-scoped response: ``X-RateLimit-Minutely-Remaining/-Reset`` and
``X-RateLimit-Remaining/-Reset`` (resets in epoch **milliseconds**). On a minutely 429 only the
minutely headers come back, on a daily 429 only the daily ones; the body is empty.

:class:`RateLimiter` never sends while the minute budget is spent: it sleeps (on the injected
clock) until the reset plus a small margin. A spent daily budget raises :class:`DailyLimitReached`
with the UTC time it resets, so a pull stops cleanly and the next run resumes from its cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Mapping

from exactsync.clock import SYSTEM_CLOCK, Clock
from exactsync.errors import EXIT_PARTIAL, ExactsyncError

__all__ = ["RateLimiter", "Headroom", "DailyLimitReached", "parse_rate_headers"]

log = logging.getLogger(__name__)

# Sanity window for epoch-ms resets (as ossobv/exactonline does): 2021 … year 2286.
_MIN_RESET_MS = 1_600_000_000_000
_MAX_RESET_MS = 9_999_999_999_999


class DailyLimitReached(ExactsyncError):
    """The division's daily call budget is spent; work resumes after ``resume_at`` (UTC)."""

    exit_code = EXIT_PARTIAL

    def __init__(self, division: int | None, resume_at: dt.datetime | None) -> None:
        self.division = division
        self.resume_at = resume_at
        when = resume_at.strftime("%Y-%m-%d %H:%M UTC") if resume_at else "the next UTC midnight"
        super().__init__(
            f"Exact's daily API limit for division {division} is used up; the pull stopped cleanly and "
            f"resumes from where it stopped when you run it again after {when}."
        )


@dataclass
class Headroom:
    """What is left of a division's budget, as last reported by Exact (None = not yet known)."""

    division: int | None
    minutely_limit: int | None = None
    minutely_remaining: int | None = None
    minutely_reset: float | None = None  # epoch seconds
    daily_limit: int | None = None
    daily_remaining: int | None = None
    daily_reset: float | None = None  # epoch seconds
    waits: int = 0
    waited_seconds: float = 0.0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        for k in ("minutely_reset", "daily_reset"):
            if d[k] is not None:
                d[k] = dt.datetime.fromtimestamp(d[k], dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"
        return d


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _reset(headers: Mapping[str, str], name: str) -> float | None:
    ms = _int(headers, name)
    if ms is None or not _MIN_RESET_MS < ms < _MAX_RESET_MS:
        return None
    return ms / 1000.0


def parse_rate_headers(headers: Mapping[str, str]) -> dict[str, float | int | None]:
    """The six X-RateLimit-* headers as numbers (resets in epoch seconds); missing ones None."""
    headers = {str(k).lower(): v for k, v in headers.items()}
    return {
        "daily_limit": _int(headers, "x-ratelimit-limit"),
        "daily_remaining": _int(headers, "x-ratelimit-remaining"),
        "daily_reset": _reset(headers, "x-ratelimit-reset"),
        "minutely_limit": _int(headers, "x-ratelimit-minutely-limit"),
        "minutely_remaining": _int(headers, "x-ratelimit-minutely-remaining"),
        "minutely_reset": _reset(headers, "x-ratelimit-minutely-reset"),
    }


class RateLimiter:
    """Headroom per division; :meth:`before_call` waits or raises, :meth:`after_response` learns."""

    def __init__(self, clock: Clock | None = None, *, margin: float = 1.0) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.margin = margin
        self._state: dict[int | None, Headroom] = {}
        self._lock = threading.Lock()

    def headroom(self, division: int | None) -> Headroom:
        with self._lock:
            return self._state.setdefault(division, Headroom(division))

    def snapshot(self) -> dict[int | None, dict]:
        with self._lock:
            return {k: v.as_dict() for k, v in self._state.items()}

    def before_call(self, division: int | None) -> None:
        """Block until a call to ``division`` may be sent; raise when today's budget is spent."""
        if division is None:  # current/Me and friends: not division-scoped, not limited
            return
        h = self.headroom(division)
        now = self.clock.time()
        if h.daily_remaining is not None and h.daily_remaining <= 0:
            if h.daily_reset is None or now < h.daily_reset:
                raise DailyLimitReached(division, _utc(h.daily_reset))
            h.daily_remaining = None  # a new day
        if h.minutely_remaining is not None and h.minutely_remaining <= 0:
            reset = h.minutely_reset if h.minutely_reset is not None else (now // 60 + 1) * 60
            wait = reset + self.margin - now
            if wait > 0:
                log.info("Exact minute budget of division %s spent; waiting %.1f s for the reset.", division, wait)
                h.waits += 1
                h.waited_seconds += wait
                self.clock.sleep(wait)
            h.minutely_remaining = None  # unknown until the next response tells us
        # This call counts whether or not its answer arrives (a dropped answer brings no headers):
        # count it here; the next response's headers overwrite the estimate with Exact's number.
        with self._lock:
            if h.minutely_remaining is not None:
                h.minutely_remaining -= 1
            if h.daily_remaining is not None:
                h.daily_remaining -= 1

    def after_response(self, division: int | None, status: int, headers: Mapping[str, str]) -> None:
        """Record the headers of a response (and what a 429 means)."""
        if division is None:
            return
        values = parse_rate_headers(headers)
        h = self.headroom(division)
        with self._lock:
            for key, value in values.items():
                if value is not None:
                    setattr(h, key, value)
        if status != 429:
            return
        now = self.clock.time()
        daily_hit = values["daily_remaining"] is not None and values["daily_remaining"] <= 0
        if daily_hit:
            h.daily_remaining = 0
            if h.daily_reset is None:
                h.daily_reset = (now // 86400 + 1) * 86400
            return
        # A minutely 429 (or one without headers, e.g. an injected storm): wait for the minute reset.
        h.minutely_remaining = 0
        if values["minutely_reset"] is None or values["minutely_reset"] <= now:
            h.minutely_reset = (now // 60 + 1) * 60


def _utc(epoch: float | None) -> dt.datetime | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)
