"""Exact sandbox rate limits, their headers, 429s, daily reset and the hourly error budget."""

from __future__ import annotations

import datetime as dt

from exactsync.sandbox.exact import create_app

DIV = 123456
JOURNALS = f"/api/v1/{DIV}/financial/Journals"
MINUTELY = {"X-RateLimit-Minutely-Limit", "X-RateLimit-Minutely-Remaining", "X-RateLimit-Minutely-Reset"}
DAILY = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


def _rl_headers(resp) -> set[str]:
    return {k for k in resp.headers.keys() if k.lower().startswith("x-ratelimit")}


def _norm(names: set[str]) -> set[str]:
    return {n.lower() for n in names}


def test_headers_on_division_calls_not_on_me(exact_http, exact_clock):
    now = exact_clock.time()
    r = exact_http.get(JOURNALS)
    assert r.status_code == 200
    assert _rl_headers(r) == _norm(MINUTELY | DAILY)
    assert r.headers["X-RateLimit-Limit"] == "5000"
    assert r.headers["X-RateLimit-Remaining"] == "4999"
    assert r.headers["X-RateLimit-Minutely-Remaining"] == "59"
    minute_end = (int(now // 60) + 1) * 60_000
    assert int(r.headers["X-RateLimit-Minutely-Reset"]) == minute_end
    midnight = dt.datetime(2026, 6, 2, tzinfo=dt.timezone.utc).timestamp() * 1000
    assert int(r.headers["X-RateLimit-Reset"]) == midnight
    me = exact_http.get("/api/v1/current/Me")
    assert me.status_code == 200 and not _rl_headers(me)
    again = exact_http.get(JOURNALS)
    assert again.headers["X-RateLimit-Remaining"] == "4998"  # Me did not count


def test_minutely_429_empty_body_only_minutely_headers(exact_local, exact_clock):
    for i in range(60):
        r = exact_local.get(JOURNALS)
        assert r.status_code == 200, i
    assert r.headers["X-RateLimit-Minutely-Remaining"] == "0"
    blocked = exact_local.get(JOURNALS)
    assert blocked.status_code == 429
    assert blocked.content == b""
    assert "retry-after" not in blocked.headers
    assert _rl_headers(blocked) == _norm(MINUTELY)
    # another division has its own counters
    assert exact_local.get("/api/v1/654321/financial/Journals").status_code == 200
    exact_clock.set((int(exact_clock.time() // 60) + 1) * 60)
    assert exact_local.get(JOURNALS).status_code == 200


def test_daily_limit_and_reset(exact_scenario, exact_clock, exact_make_client):
    exact_scenario["limits"]["daily"] = 5
    app = create_app(exact_scenario, clock=exact_clock)
    c = exact_make_client(app)
    for _ in range(5):
        assert c.get(JOURNALS).status_code == 200
    blocked = c.get(JOURNALS)
    assert blocked.status_code == 429 and blocked.content == b""
    assert _rl_headers(blocked) == _norm(DAILY)
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    exact_clock.set(dt.datetime(2026, 6, 2, 0, 0, 1, tzinfo=dt.timezone.utc))
    c = exact_make_client(app)  # new token: the old one expired overnight
    r = c.get(JOURNALS)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "4"


def test_error_budget_blocks_endpoint_for_an_hour(exact_app, exact_local, exact_clock, exact_make_client):
    bad = f"/api/v1/{DIV}/salesentry/SalesEntries(guid'00000000-0000-0000-0000-000000000001')"
    for _ in range(10):
        assert exact_local.get(bad).status_code == 404
    # the endpoint is blocked now, also for good requests; other endpoints still work
    blocked = exact_local.get(f"/api/v1/{DIV}/salesentry/SalesEntries", params={"$select": "EntryID"})
    assert blocked.status_code == 429 and blocked.content == b""
    assert exact_local.get(JOURNALS).status_code == 200
    exact_clock.advance(1800)
    fresh = exact_make_client(exact_app)
    assert fresh.get(f"/api/v1/{DIV}/salesentry/SalesEntries", params={"$select": "EntryID"}).status_code == 429
    exact_clock.advance(1801)
    fresh = exact_make_client(exact_app)
    assert fresh.get(f"/api/v1/{DIV}/salesentry/SalesEntries", params={"$select": "EntryID"}).status_code == 200


def test_error_budget_status_configurable(exact_scenario, exact_clock, exact_make_client):
    exact_scenario["limits"].update(error_budget=3, error_block_status=403)
    app = create_app(exact_scenario, clock=exact_clock)
    c = exact_make_client(app)
    for _ in range(3):
        assert c.get(f"/api/v1/{DIV}/nope/Nothing").status_code == 404
    r = c.get(f"/api/v1/{DIV}/nope/Nothing")
    assert r.status_code == 403
    assert r.json()["error"]["message"]["value"] == "API rate limit exceeded"


def test_unknown_endpoint_404_and_method_405(exact_local):
    assert exact_local.get(f"/api/v1/{DIV}/foo/Bar").status_code == 404
    r = exact_local.put(f"/api/v1/{DIV}/financialtransaction/TransactionLines", json={})
    assert r.status_code == 405
    assert exact_local.post(f"/api/v1/{DIV}/vat/VATCodes", json={}).status_code == 405
    assert exact_local.get("/api/v1/999999/financial/Journals").status_code == 403
