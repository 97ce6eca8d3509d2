"""Mappings validated against pulled Exact data; plans that stop before any call."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from exactsync.mapping import read_mapping, save_mapping, validate_mapping
from exactsync.push import PlanError, Target, execute_plan, plan_targets

from .conftest import DIV, make_doc

D = Decimal


def test_mappings_round_trip_and_row_errors(make_env):
    env = make_env()
    vat = read_mapping(env.store, "vat", DIV)
    assert vat.height == 5 and vat["error"].null_count() == 5
    bad = pl.DataFrame([
        {"division": DIV, "country": "", "rate": D("21"), "treatment": "domestic", "vat_code": "XX"},
        {"division": DIV, "country": "", "rate": D("6"), "treatment": "domestic", "vat_code": "OLD"},
        {"division": DIV, "country": "", "rate": D("21"), "treatment": "oss", "vat_code": "5"},
        {"division": DIV, "country": "", "rate": D("21"), "treatment": "exempt", "vat_code": "1"},
        {"division": DIV, "country": "BE", "rate": D("19"), "treatment": "oss", "vat_code": "DE19"},
    ], schema_overrides={"rate": pl.Decimal(7, 4)})
    errors = validate_mapping(env.store, "vat", bad)["error"].to_list()
    assert "VAT code 'XX' does not exist in division 123456" in errors[0]
    assert "VAT code 'OLD' is blocked" in errors[1]
    assert "not a sales VAT code" in errors[2] and "needs a country" in errors[2]
    assert "is 9% in division 123456, not 21%" in errors[3]
    assert "OSS code for DE, not BE" in errors[4]
    res = save_mapping(env.store, "vat", bad, DIV)
    assert not res.saved and len(res.errors) == 5
    assert read_mapping(env.store, "vat", DIV).height == 5  # nothing replaced

    gl = pl.DataFrame([{"division": DIV, "line_type": "goods", "tax_class": "", "country": "", "gl_code": "1300"},
                       {"division": DIV, "line_type": "gift", "tax_class": "", "country": "", "gl_code": "9999"}])
    e = validate_mapping(env.store, "gl", gl)["error"].to_list()
    assert "G/L account '1300' is not a revenue account" in e[0]
    assert "line type 'gift'" in e[1] and "'9999' does not exist" in e[1]
    deb = pl.DataFrame([{"division": DIV, "country": "", "account_code": "2001"}])
    assert "not a customer" in validate_mapping(env.store, "debtor", deb)["error"][0]
    st = pl.DataFrame([{"division": DIV, "journal_code": "20", "debtor_strategy": "collective",
                        "create_debtors": False}])
    assert "journal '20' is not a sales journal" in validate_mapping(env.store, "settings", st)["error"][0]


def _no_entry_calls(env) -> bool:
    return not [c for c in env.app.calls(DIV) if "salesentry" in c["path"].lower()]


def test_unmapped_rate_stops_the_plan_before_any_call(make_env):
    env = make_env()
    env.add_docs([make_doc(7001), make_doc(7002, lines=[("goods", "6", "10.00", "0.60")])])
    env.app.clear_calls()
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:7001", "missing_in_exact"),
                                                   Target("woo:invoice:7002", "missing_in_exact")])
    assert not plan.ok
    assert plan.errors == ["no VAT code mapped for NL 6% domestic in division 123456"]
    with pytest.raises(PlanError, match="6% domestic"):
        execute_plan(env.store, env.settings, plan, client=env.client())
    assert env.app.calls() == [] and env.store.scalar("SELECT count(*) FROM push_jobs") == 0


def test_a_plan_names_every_missing_mapping_once_with_how_many_documents_it_holds(make_env):
    """No collective debtor for NL or FR, and no VAT code for FR 20 % OSS: one plan lists all three
    (not only the debtor, found first), each once, with the number of documents it holds back."""
    from exactsync.mapping import save_mapping

    env = make_env()
    only_de = pl.DataFrame([{"division": DIV, "country": "DE", "account_code": "1002"}])
    assert save_mapping(env.store, "debtor", only_de, DIV).saved
    env.add_docs([make_doc(7101), make_doc(7102),
                  make_doc(7103, country="FR", treatment="oss", lines=[("goods", "20", "50.00", "10.00")])])
    env.app.clear_calls()
    plan = plan_targets(env.store, env.settings, [Target(f"woo:invoice:{n}", "missing_in_exact")
                                                   for n in (7101, 7102, 7103)])
    assert plan.errors == [
        "no collective debtor mapped for NL in division 123456 (2 documents)",
        "no collective debtor mapped for FR in division 123456",
        "no VAT code mapped for FR 20% oss in division 123456",  # "20%", not "2E+1%"
    ]
    assert plan.jobs == [] and plan.summary().splitlines()[0].endswith("nothing can be pushed until the errors "
                                                                       "below are fixed")
    assert env.app.calls() == []


def test_closed_period_is_refused_naming_the_period(make_env):
    env = make_env()
    env.add_docs([make_doc(7003, day="2026-01-15")])
    env.app.clear_calls()
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:7003", "missing_in_exact")])
    assert not plan.ok
    assert plan.errors[0].startswith("2026-01 is closed for journal 70 in division 123456")
    with pytest.raises(PlanError, match="2026-01 is closed"):
        execute_plan(env.store, env.settings, plan, client=env.client())
    assert env.app.calls() == []


def test_plan_effect_calls_and_eta(make_env, clock):
    env = make_env()
    docs = [make_doc(8000 + i) for i in range(58)]
    docs.append(make_doc(8100, kind="credit_note", lines=[("goods", "21", "10.00", "2.10")]))
    docs.append(make_doc(8101, country="DE", treatment="oss",
                         lines=[("goods", "19", "50.00", "9.50"), ("shipping", "19", "5.00", "0.95")]))
    env.add_docs(docs)
    targets = [Target(d["doc_key"], "missing_in_exact") for d, _ in docs]
    # the pull just spent part of this clock minute: the ETA is at what the api_calls log says is left
    used = sum(1 for c in env.app.calls(DIV) if c["status"] != 429 and int(c["time"] // 60) == int(clock.time() // 60))
    assert 0 < used < 60 and 60 - used < 62
    plan = plan_targets(env.store, env.settings, targets, clock=clock)
    assert plan.ok and len(plan.jobs) == 60
    assert (plan.lookups, plan.posts, plan.calls) == (2, 60, 62)
    assert plan.remaining_by_division == {DIV: 60 - used}
    assert plan.eta_seconds == plan.reset_in == 60 - clock.time() % 60  # the rest goes after the reset
    assert "= 62;" in plan.summary() and f"{60 - used} left this minute" in plan.summary()
    clock.advance(60)  # a fresh minute: 60 of the 62 calls go now, 2 after the next reset
    assert plan_targets(env.store, env.settings, targets, clock=clock).eta_seconds == 55
    targets = targets[:50]
    assert plan_targets(env.store, env.settings, targets, clock=clock).eta_seconds == 0
    from exactsync.exact.ratelimit import Headroom

    live = Headroom(DIV, minutely_limit=60, minutely_remaining=10, minutely_reset=clock.time() + 20)
    assert plan_targets(env.store, env.settings, targets, clock=clock, headroom=live).eta_seconds == 20
    live.minutely_remaining = 0  # 52 calls after the reset in 20 s, 60 a minute
    assert plan_targets(env.store, env.settings, targets, clock=clock, headroom=live).eta_seconds == 20
    plan.calls_by_division = {DIV: 200}
    plan.remaining_by_division = {DIV: 5}
    assert plan.eta_seconds == plan.reset_in + 3 * 60  # 195 after the reset: 4 minutes' worth
    eff = {(r["period"], r["country"], r["vat_code"]): (r["net"], r["vat"]) for r in plan.effect().to_dicts()}
    assert eff[("2026-03", "NL", "2")] == (D("5790.00"), D("1215.90"))
    assert eff[("2026-03", "DE", "DE19")] == (D("55.00"), D("10.45"))
    # where the turnover lands: per revenue G/L account, adding up to the same net as the VAT view
    rev = {(r["period"], r["gl_code"]): (r["net"], r["jobs"]) for r in plan.revenue().to_dicts()}
    assert rev[("2026-03", "8010")] == (D("50.00"), 1) and rev[("2026-03", "8100")] == (D("5.00"), 1)
    assert sum(n for n, _ in rev.values()) == sum(r["net"] for r in plan.effect().to_dicts())
    assert "Revenue booked (net) per period, G/L account, currency:" in plan.summary()
    assert {r["gl_code"] for r in plan.as_dict()["revenue"]} == {"8000", "8010", "8100"}
    cn = next(j for j in plan.jobs if j.your_ref == "WC-CN-8100")
    assert cn.payload["SalesEntryLines"][0]["AmountFC"] == "-10.00"
    de = next(j for j in plan.jobs if j.your_ref == "WC-8101").payload
    gl = env.store.query("SELECT code, gl_id FROM exact_gl_accounts WHERE division = ?", [DIV])
    ids = dict(zip(gl["code"], gl["gl_id"]))
    assert [x["GLAccount"] for x in de["SalesEntryLines"]] == [ids["8010"], ids["8100"]]
    assert [x["VATCode"] for x in de["SalesEntryLines"]] == ["DE19", "DE19"]
    assert de["Journal"] == "70" and len(de["Customer"]) == 36
    # nothing sent while planning
    assert not [c for c in env.app.calls() if c["method"] == "POST" and "salesentry" in c["path"].lower()]


def test_a_code_blocked_in_exact_after_mapping_stops_the_plan_naming_it(make_env):
    env = make_env()
    env.add_docs([make_doc(7401, lines=[("goods", "9", "10.00", "0.90")]), make_doc(7402)])
    with env.app.lock:  # in Exact, someone blocks the 9 % code and, later, the sales journal
        div = env.app.divisions[DIV]
        next(v for v in div.vat_codes.rows.values() if v["Code"].strip() == "1")["IsBlocked"] = True
    env.pull()
    env.app.clear_calls()
    targets = [Target("woo:invoice:7401", "missing_in_exact"), Target("woo:invoice:7402", "missing_in_exact")]
    plan = plan_targets(env.store, env.settings, targets)
    assert plan.errors == ["VAT code '1' is blocked in division 123456"]
    assert "is blocked" in read_mapping(env.store, "vat", DIV).filter(pl.col("vat_code") == "1")["error"][0]
    with pytest.raises(PlanError, match="VAT code '1' is blocked"):
        execute_plan(env.store, env.settings, plan, client=env.client())
    with env.app.lock:
        next(j for j in div.journals.rows.values() if j["Code"].strip() == "70")["IsBlocked"] = True
    env.pull()
    env.app.clear_calls()
    plan = plan_targets(env.store, env.settings, targets[1:])
    assert plan.errors == ["journal '70' is blocked in division 123456"] and plan.jobs == []
    assert env.app.calls() == [] and env.store.scalar("SELECT count(*) FROM push_jobs") == 0


def test_cost_centre_mapping_is_validated(make_env):
    env = make_env()
    frame = pl.DataFrame([{"division": DIV, "country": "nl", "cost_center": "WEBSHOP-NL"},
                          {"division": DIV, "country": "DE", "cost_center": ""},
                          {"division": DIV, "country": "", "cost_center": "ALL"}])
    res = save_mapping(env.store, "cost_center", frame, DIV)
    assert not res.saved
    assert res.frame["country"].to_list() == ["NL", "DE", ""]  # cleaned
    assert res.frame["error"].to_list() == ["cost centre 'WEBSHOP-NL' is longer than 8 characters",
                                            "cost centre is missing", None]
    assert read_mapping(env.store, "cost_center", DIV).height == 0


def test_the_effect_keeps_currencies_apart(make_env):
    """Two documents for NL at code 2, one in EUR, one in GBP (its EUR base amounts given): the plan's
    effect has a row per currency, never 100 EUR + 80 GBP = 180."""
    env = make_env()
    eur = make_doc(8200)
    gbp, gbp_lines = make_doc(8201, lines=[("goods", "21", "80.00", "16.80")])
    gbp.update(currency="GBP", fx_rate=D("0.8"), net_base=D("100.00"), vat_base=D("21.00"), gross_base=D("121.00"))
    env.add_docs([eur, (gbp, gbp_lines)])
    plan = plan_targets(env.store, env.settings, [Target("woo:invoice:8200", "missing_in_exact"),
                                                  Target("woo:invoice:8201", "missing_in_exact")])
    assert plan.ok, plan.errors
    eff = {(r["country"], r["vat_code"], r["currency"]): (r["net"], r["jobs"]) for r in plan.effect().to_dicts()}
    assert eff == {("NL", "2", "EUR"): (D("100.00"), 1), ("NL", "2", "GBP"): (D("80.00"), 1)}
    assert " EUR " in plan.summary() and " GBP " in plan.summary()
