"""Malformed records: each one gives one clear sync_log row, the rest of the page is stored.

The sandbox serves only well-formed lines, so an httpx2.MockTransport wraps the real sandbox
(over HTTP) and mutates rows of the first TransactionLines page before the client parses it.
"""

from __future__ import annotations

import json
from decimal import Decimal

import httpx2

from exactsync.exact.pull import pull_exact
from exact.conftest import DIV, scenario_with_lines

ODD = "Zoë 🧾 \u202eRTL\u202c e\u0301 \x00 end"


def _mutate(rows: list) -> None:
    del rows[0]["EntryID"]  # missing field
    rows[1]["AmountFC"] = "twelve"  # wrong type
    rows[2]["AmountDC"] = 10**30  # huge number
    rows[3]["Description"] = "\ud800 broken"  # lone surrogate (invalid unicode)
    rows[4]["Description"] = ODD  # odd but valid unicode: stored as is
    rows[5]["EntryNumber"] = 10**20  # out of INTEGER range
    rows[6]["Date"] = "yesterday"  # not a date
    rows[7] = "not an object"
    rows[8]["VATPercentage"] = True  # boolean where a number belongs


def mutating_transport(base_url: str) -> httpx2.MockTransport:
    real = httpx2.Client(base_url=base_url, timeout=10)
    state = {"done": False}

    def handler(request: httpx2.Request) -> httpx2.Response:
        upstream = real.send(httpx2.Request(request.method, request.url, headers=request.headers,
                                            content=request.content))
        upstream.read()
        if "sync/Financial/TransactionLines" in request.url.path and not state["done"]:
            state["done"] = True
            data = json.loads(upstream.content)
            _mutate(data["d"]["results"])
            return httpx2.Response(upstream.status_code, headers=upstream.headers,
                                   content=json.dumps(data).encode())  # ensure_ascii keeps "\ud800" escaped
        return httpx2.Response(upstream.status_code, headers=upstream.headers, content=upstream.content)

    transport = httpx2.MockTransport(handler)
    transport.real = real  # closed by the test
    return transport


def test_malformed_records_are_logged_one_by_one(make_env):
    env = make_env(scenario_with_lines(1500))
    transport = mutating_transport(env.url)
    try:
        with env.client(transport=transport) as client:
            res = pull_exact(env.store, env.settings, DIV, client=client)
    finally:
        transport.real.close()
    assert res.complete and res.record_errors == 8
    assert res.lines_upserted == 1500 - 8
    assert env.store.scalar("SELECT count(*) FROM exact_transaction_lines") == 1500 - 8
    errors = [r[0] for r in env.store.rows(
        "SELECT message FROM sync_log WHERE level = 'error' ORDER BY log_id")]
    assert len(errors) == 8
    joined = "\n".join(errors)
    for expected in ("EntryID: missing", "AmountFC: not an amount", "larger than the largest amount",
                     "invalid unicode", "EntryNumber: 100000000000000000000 is out of range", "Date: not a date",
                     "record is a str", "VATPercentage: not a number (boolean)"):
        assert expected in joined
    assert env.store.scalar("SELECT count(*) FROM exact_transaction_lines WHERE description = ?", [ODD]) == 1
    # the cursor moved past the bad rows: a second pull does not see them again
    assert pull_exact(env.store, env.settings, DIV, client=env.client()).record_errors == 0


def test_amounts_are_decimal_not_float(make_env):
    env = make_env()
    pull_exact(env.store, env.settings, DIV, client=env.client())
    amount = env.store.scalar("SELECT amount_fc FROM exact_transaction_lines WHERE line_number = 0 "
                              "AND your_ref = 'WC-1008'")
    assert amount == Decimal("39.99") and isinstance(amount, Decimal)
