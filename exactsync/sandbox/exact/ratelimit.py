"""Rate limits and the hourly error budget of the Exact sandbox (exact-online-api.md §3).

Counters are per (client_id, division): a clock-minute window and a UTC-day window. Resets are
epoch milliseconds: the end of the current clock minute and the next 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

from exactsync.sandbox.exact.state import Settings

__all__ = ["RateLimiter", "Verdict"]


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]
    which: str | None = None  # "minutely" | "daily" when refused
    minutely_remaining: int = 0
    daily_remaining: int = 0


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.minute: dict[tuple[str, int], tuple[int, int]] = {}  # key -> (minute number, count)
        self.day: dict[tuple[str, int], tuple[int, int]] = {}
        self.errors: dict[tuple[str, int, str, int], int] = {}
        self.blocked: dict[tuple[str, int, str], float] = {}

    def _counts(self, key: tuple[str, int], now: float) -> tuple[int, int, int, int]:
        minute, day = int(now // 60), int(now // 86400)
        m = self.minute.get(key)
        d = self.day.get(key)
        mc = m[1] if m and m[0] == minute else 0
        dc = d[1] if d and d[0] == day else 0
        return minute, day, mc, dc

    def _headers(self, now: float, mc: int, dc: int, which: str = "both") -> dict[str, str]:
        minute, day = int(now // 60), int(now // 86400)
        h: dict[str, str] = {}
        if which in ("both", "daily"):
            h["X-RateLimit-Limit"] = str(self.s.daily)
            h["X-RateLimit-Remaining"] = str(max(0, self.s.daily - dc))
            h["X-RateLimit-Reset"] = str((day + 1) * 86400 * 1000)
        if which in ("both", "minutely"):
            h["X-RateLimit-Minutely-Limit"] = str(self.s.minutely)
            h["X-RateLimit-Minutely-Remaining"] = str(max(0, self.s.minutely - mc))
            h["X-RateLimit-Minutely-Reset"] = str((minute + 1) * 60 * 1000)
        return h

    def take(self, client_id: str, division: int, now: float) -> Verdict:
        """Count one call, or refuse it (daily first, then minutely)."""
        key = (client_id, division)
        minute, day, mc, dc = self._counts(key, now)
        if dc >= self.s.daily:
            return Verdict(False, self._headers(now, mc, dc, "daily"), "daily", self.s.minutely - mc, 0)
        if mc >= self.s.minutely:
            return Verdict(False, self._headers(now, mc, dc, "minutely"), "minutely", 0, self.s.daily - dc)
        mc, dc = mc + 1, dc + 1
        self.minute[key] = (minute, mc)
        self.day[key] = (day, dc)
        return Verdict(True, self._headers(now, mc, dc), None, self.s.minutely - mc, self.s.daily - dc)

    def peek_headers(self, client_id: str, division: int, now: float) -> dict[str, str]:
        _, _, mc, dc = self._counts((client_id, division), now)
        return self._headers(now, mc, dc)

    # --- error budget ----------------------------------------------------------------------
    def is_blocked(self, client_id: str, division: int, endpoint: str, now: float) -> bool:
        until = self.blocked.get((client_id, division, endpoint))
        return until is not None and now < until

    def record_error(self, client_id: str, division: int, endpoint: str, now: float) -> None:
        hour = int(now // 3600)
        key = (client_id, division, endpoint, hour)
        self.errors[key] = self.errors.get(key, 0) + 1
        if self.errors[key] >= self.s.error_budget:
            self.blocked[(client_id, division, endpoint)] = now + self.s.error_block_seconds
            self.errors[key] = 0
