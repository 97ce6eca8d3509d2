"""Pulling Exact over real HTTP from the sandbox: call budgets, derived entries, deletions."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from exactsync.exact.pull import pull_exact
from exact.conftest import DIV, scenario_with_lines


def _ids(env) -> list[str]:
    return [r[0] for r in env.store.rows("SELECT line_id FROM exact_transaction_lines WHERE division = ?", [DIV])]


def test_full_pull_call_budget_and_second_pull_costs_one_call(make_env):
    env = make_env(scenario_with_lines(5000))
    with env.client() as client:
        first = pull_exact(env.store, env.settings, DIV, client=client)
        calls = env.api_calls()
        tl_calls = [c for c in calls if c["endpoint"] == "sync/Financial/TransactionLines"]
        assert len(tl_calls) == math.ceil(5000 / 1000)
        assert len(calls) <= math.ceil(5000 / 1000) + 10  # + reference data and sync/Deleted
        assert first.calls == len(calls) and first.complete
        assert first.lines_upserted == 5000 and len(set(_ids(env))) == 5000
        # every sales entry counted once, though the lines of some straddle two pages
        entries = env.store.scalar("SELECT count(*) FROM exact_entries WHERE division = ?", [DIV])
        assert first.entries_derived == entries > 0 and not first.rederived_all
        assert "derived_ids" not in first.as_dict()
        # the client's own call log agrees with the sandbox's
        assert env.store.scalar("SELECT count(*) FROM api_calls WHERE scope = ?", [str(DIV)]) == len(calls)

        env.app.clear_calls()
        second = pull_exact(env.store, env.settings, DIV, client=client)
        assert len(env.api_calls()) == 1 and second.calls == 1
        assert second.lines_upserted == 0 and second.entries_derived == 0
        assert second.as_dict()["entries_derived"] == 0 and not second.rederived_all

        # a full pull refreshes the reference data: every entry of the division is derived again
        third = pull_exact(env.store, env.settings, DIV, client=client, full=True)
        assert third.reference_refreshed and third.rederived_all and third.entries_derived == entries
        assert third.as_dict()["entries_derived"] == entries and "rederived" not in third.as_dict()


def test_entries_are_derived_in_sales_sign(make_env):
    env = make_env()
    pull_exact(env.store, env.settings, DIV, client=env.client())
    rows = {r[0]: r[1:] for r in env.store.rows(
        "SELECT your_ref, net, vat, gross, type, currency, gross_dc, customer_name FROM exact_entries "
        "WHERE division = ? AND your_ref <> 'WC-1003'", [DIV])}
    assert rows["WC-1002"][:3] == (Decimal("82.64"), Decimal("17.36"), Decimal("100.00"))
    assert rows["WC-R-55"][:4] == (Decimal("-82.64"), Decimal("-17.36"), Decimal("-100.00"), 21)
    assert rows["WC-1007"][4:6] == ("USD", Decimal("276.00"))  # 300 USD at 0.92
    assert rows["WC-1001"][6] == "Webshop particulier NL"
    # both bookings of WC-1003 are there (duplicates are for reconciliation to find)
    assert env.store.scalar("SELECT count(*) FROM exact_entries WHERE your_ref = 'WC-1003'") == 2
    # VAT lines per code: the VAT GL lines are not counted a second time
    vat = env.store.rows(
        "SELECT v.vat_code, v.base, v.vat, v.vat_percentage FROM exact_vat_lines v JOIN exact_entries e "
        "USING (division, entry_id) WHERE e.your_ref = 'WC-1005'")
    assert vat == [("BE21", Decimal("45.00"), Decimal("9.45"), Decimal("21"))]
    totals = env.store.rows(
        "SELECT e.entry_id FROM exact_entries e JOIN exact_vat_lines v USING (division, entry_id) "
        "GROUP BY e.entry_id, e.net, e.vat HAVING sum(v.base) <> e.net OR sum(v.vat) <> e.vat")
    assert totals == []


def test_edits_and_deletions_are_applied(make_env, clock):
    env = make_env()
    client = env.client()
    pull_exact(env.store, env.settings, DIV, client=client)
    entry_id, n_lines = env.store.rows(
        "SELECT entry_id, line_count FROM exact_entries WHERE your_ref = 'WC-1004'")[0]
    # delete one booked entry in Exact and edit another through the API
    client.delete(f"salesentry/SalesEntries(guid'{entry_id}')", DIV)
    env.app.clear_calls()
    res = pull_exact(env.store, env.settings, DIV, client=client, full=True)
    assert res.deleted_polled and res.lines_deleted == n_lines
    assert env.store.scalar("SELECT count(*) FROM exact_entries WHERE entry_id = ?", [entry_id]) == 0
    assert env.store.scalar("SELECT count(*) FROM exact_transaction_lines WHERE entry_id = ?", [entry_id]) == 0
    assert env.store.scalar("SELECT count(*) FROM exact_vat_lines WHERE entry_id = ?", [entry_id]) == 0


def test_deleted_is_polled_again_after_the_interval(make_env, clock):
    env = make_env()
    client = env.client()
    pull_exact(env.store, env.settings, DIV, client=client)
    assert not pull_exact(env.store, env.settings, DIV, client=client).deleted_polled
    clock.advance(3601)
    env.app.clear_calls()
    res = pull_exact(env.store, env.settings, DIV, client=client)
    assert res.deleted_polled and res.calls == 2
    assert [c["endpoint"] for c in env.api_calls()] == ["sync/Financial/TransactionLines", "sync/Deleted"]


def test_division_move_triggers_a_resync(make_env, clock):
    env = make_env()
    client = env.client()
    pull_exact(env.store, env.settings, DIV, client=client)
    env.app.move_division(DIV)
    # a change after the move has a LOWER timestamp than our cursor
    entry_id = env.store.scalar("SELECT entry_id FROM exact_entries WHERE your_ref = 'WC-1004'")
    client.delete(f"salesentry/SalesEntries(guid'{entry_id}')", DIV)
    res = pull_exact(env.store, env.settings, DIV, client=client, full=True)
    assert res.reference_refreshed and res.cursor < 100_000
    assert env.store.scalar("SELECT count(*) FROM exact_entries WHERE entry_id = ?", [entry_id]) == 0
    assert env.store.scalar("SELECT count(*) FROM sync_log WHERE message LIKE '%was moved%'") == 1
