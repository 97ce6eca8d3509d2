"""Rate limits against the sandbox with one FakeClock: waiting for resets, 429s, the daily stop."""

from __future__ import annotations

import datetime as dt

import pytest

from exactsync.exact.ratelimit import DailyLimitReached, RateLimiter, parse_rate_headers
from exactsync.exact.pull import pull_exact
from exact.conftest import DIV, scenario_with_lines


def _minute(t: float) -> int:
    return int(t // 60)


def test_minute_budget_spent_waits_for_the_reset(make_env, clock):
    env = make_env(scenario_with_lines(5000, minutely=4))
    with env.client() as client:
        res = pull_exact(env.store, env.settings, DIV, client=client)
    calls = env.api_calls()
    assert res.complete and res.lines_upserted == 5000
    assert all(c["status"] == 200 for c in calls)  # never ran into a 429
    per_minute: dict[int, int] = {}
    for c in calls:
        per_minute[_minute(c["time"])] = per_minute.get(_minute(c["time"]), 0) + 1
    assert max(per_minute.values()) == 4 and len(per_minute) >= len(calls) // 4
    # every call after a spent minute waited until the reset
    for prev, nxt in zip(calls, calls[1:]):
        if prev["minutely_remaining"] == 0:
            assert nxt["time"] >= (_minute(prev["time"]) + 1) * 60
    assert client.limiter.headroom(DIV).waits >= 3


def test_429_storm_no_request_before_the_reset(make_env, clock):
    env = make_env(scenario_with_lines(3000))
    env.app.set_faults(seed=3, rate_429=0.4)
    with env.client() as client:
        res = pull_exact(env.store, env.settings, DIV, client=client)
    calls = env.api_calls()
    rejected = [i for i, c in enumerate(calls) if c["status"] == 429]
    assert rejected, "the storm produced no 429"
    for i in rejected:
        if i + 1 < len(calls):
            assert calls[i + 1]["time"] >= (_minute(calls[i]["time"]) + 1) * 60
    assert res.complete and res.lines_upserted == 3000
    assert env.store.scalar("SELECT count(*) FROM exact_transaction_lines") == 3000


def test_daily_budget_spent_stops_cleanly_and_resumes(make_env, clock):
    env = make_env(scenario_with_lines(5000, daily=10))
    with env.client() as client:
        with pytest.raises(DailyLimitReached) as info:
            pull_exact(env.store, env.settings, DIV, client=client)
        assert "2026-06-02 00:00 UTC" in str(info.value)
        assert info.value.exit_code == 3
        calls = env.api_calls()
        assert len(calls) == 10 and all(c["status"] == 200 for c in calls)  # stopped before a 429
        stored = env.store.scalar("SELECT count(*) FROM exact_transaction_lines")
        assert 0 < stored < 5000
        assert env.store.scalar("SELECT count(*) FROM sync_log WHERE level = 'warning' AND message LIKE '%daily%'") == 1
        # the next day the pull resumes from the cursor
        clock.set(dt.datetime(2026, 6, 2, 0, 0, 30, tzinfo=dt.timezone.utc))
        env.app.clear_calls()
        res = pull_exact(env.store, env.settings, DIV, client=client)
    assert res.complete
    assert res.lines_upserted == 5000 - stored
    assert env.store.scalar("SELECT count(*) FROM exact_transaction_lines") == 5000
    assert env.store.scalar("SELECT count(DISTINCT line_id) FROM exact_transaction_lines") == 5000
    assert env.store.scalar("SELECT sum(line_count) FROM exact_entries") == 5000


def test_headers_parsed_as_epoch_ms_and_429_without_headers():
    from exactsync.clock import FakeClock

    clock = FakeClock(1_790_000_010.0)
    limiter = RateLimiter(clock, margin=0.5)
    limiter.after_response(1, 200, {"X-RateLimit-Minutely-Remaining": "0",
                                    "X-RateLimit-Minutely-Reset": "1790000040000",
                                    "X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "1790035200000"})
    h = limiter.headroom(1)
    assert (h.minutely_remaining, h.minutely_reset, h.daily_remaining) == (0, 1_790_000_040.0, 12)
    limiter.before_call(1)
    assert clock.time() == 1_790_000_040.5
    limiter.after_response(1, 429, {})  # a 429 with no headers: wait for the next clock minute
    limiter.before_call(1)
    assert clock.time() == (1_790_000_040 // 60 + 1) * 60 + 0.5
    assert parse_rate_headers({"X-RateLimit-Reset": "12"})["daily_reset"] is None  # not epoch ms
    limiter.before_call(None)  # current/Me is never limited


def test_a_call_whose_answer_never_came_still_counts_against_the_minute():
    """A dropped answer brings no headers: the limiter counts the call itself, so the next call
    waits for the reset instead of running into a 429."""
    from exactsync.clock import FakeClock

    clock = FakeClock(1_790_000_010.0)
    limiter = RateLimiter(clock, margin=0.5)
    limiter.after_response(1, 200, {"X-RateLimit-Minutely-Remaining": "1",
                                    "X-RateLimit-Minutely-Reset": "1790000040000"})
    limiter.before_call(1)  # the last call of this minute; its answer is lost
    assert clock.time() == 1_790_000_010.0
    limiter.before_call(1)
    assert clock.time() == 1_790_000_040.5
