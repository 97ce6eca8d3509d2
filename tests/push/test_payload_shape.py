"""Payloads follow the reference (exact-online-api.md §5.1, §5.2, §9.3, §9.5): ``Journal`` is the
journal code, ``Customer`` and ``GLAccount`` are GUIDs of what was pulled, line ``AmountFC`` is net,
VAT codes exist (unblocked, sales) in the division; revenue G/L per tax class / country, shipping
and fee G/L, cost centre per country. Then the sandbox books exactly those lines."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import polars as pl

from exactsync.mapping import save_mapping
from exactsync.push import Target, execute_plan, plan_targets

from .conftest import DIV, make_doc, mapping_frames

D = Decimal
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEADER = {"Journal", "Customer", "EntryDate", "YourRef", "Description", "ReportingYear", "ReportingPeriod",
          "Currency", "VATAmountFC", "SalesEntryLines"}
LINE = {"GLAccount", "AmountFC", "VATCode", "VATAmountFC", "Description", "CostCenter"}


def test_payloads_follow_the_reference_and_are_booked_as_sent(make_env):
    env = make_env()
    gl = pl.concat([mapping_frames()["gl"], pl.DataFrame([
        {"division": DIV, "line_type": "goods", "tax_class": "books", "country": "", "gl_code": "8020"},
        {"division": DIV, "line_type": "fee", "tax_class": "", "country": "", "gl_code": "8100"}])])
    assert save_mapping(env.store, "gl", gl, DIV).saved
    cc = pl.DataFrame([{"division": DIV, "country": "NL", "cost_center": "CC-NL"},
                       {"division": DIV, "country": "", "cost_center": "CC-ALL"}])
    assert save_mapping(env.store, "cost_center", cc, DIV).saved
    nl = make_doc(7501, lines=[("goods", "21", "100.00", "21.00"), ("goods", "9", "20.00", "1.80"),
                               ("shipping", "21", "4.13", "0.87"), ("fee", "21", "1.00", "0.21")])
    nl[1][1]["tax_class"] = "books"
    docs = [nl,
            make_doc(7502, country="DE", treatment="oss", lines=[("goods", "19", "50.00", "9.50"),
                                                                ("shipping", "19", "5.00", "0.95")]),
            make_doc(7503, country="DE", treatment="reverse_charge", lines=[("goods", "0", "500.00", "0.00")]),
            make_doc(7504, country="US", treatment="export", lines=[("goods", "0", "300.00", "0.00")]),
            make_doc(7505, kind="credit_note", lines=[("goods", "21", "10.00", "2.10")])]
    env.add_docs(docs)
    plan = plan_targets(env.store, env.settings, [Target(d["doc_key"], "missing_in_exact") for d, _ in docs])
    assert plan.ok, plan.errors

    journals = {r["code"]: r for r in env.store.query("SELECT * FROM exact_journals WHERE division = ?", [DIV]).to_dicts()}
    accounts = {r["account_id"]: r for r in env.store.query("SELECT * FROM exact_accounts WHERE division = ?",
                                                            [DIV]).to_dicts()}
    gls = {r["gl_id"]: r for r in env.store.query("SELECT * FROM exact_gl_accounts WHERE division = ?", [DIV]).to_dicts()}
    gl_id = {r["code"]: i for i, r in gls.items()}
    vat_codes = {r["code"].strip(): r for r in env.store.query("SELECT * FROM exact_vat_codes WHERE division = ?",
                                                               [DIV]).to_dicts()}
    by_doc = {d["doc_key"]: d for d, _ in docs}
    for job in plan.jobs:
        body = json.loads(json.dumps(job.payload))  # what goes on the wire
        doc = by_doc[job.doc_key]
        assert set(body) == HEADER and all(set(x) == LINE for x in body["SalesEntryLines"])
        assert body["Journal"] == "70" and not GUID.match(body["Journal"]) and journals["70"]["type"] == 20
        assert GUID.match(body["Customer"]) and accounts[body["Customer"]]["status"] == "C"
        assert body["EntryDate"] == f"{doc['doc_date'].isoformat()}T00:00:00"
        assert (body["ReportingYear"], body["ReportingPeriod"]) == (doc["doc_date"].year, doc["doc_date"].month)
        lines = body["SalesEntryLines"]
        for x in lines:
            assert GUID.match(x["GLAccount"]) and gls[x["GLAccount"]]["type"] == 110
            code = vat_codes[x["VATCode"]]
            assert not code["is_blocked"] and code["vat_transaction_type"] in ("S", "B")
            assert all(isinstance(x[k], str) for k in ("AmountFC", "VATAmountFC"))  # decimal strings, no float
        assert sum(D(x["AmountFC"]) for x in lines) == doc["net"]  # AmountFC is net
        assert sum(D(x["VATAmountFC"]) for x in lines) == D(body["VATAmountFC"]) == doc["vat"]
    bodies = {j.your_ref: j.payload for j in plan.jobs}
    assert [(x["GLAccount"], x["VATCode"], x["CostCenter"]) for x in bodies["WC-7501"]["SalesEntryLines"]] == [
        (gl_id["8000"], "2", "CC-NL"), (gl_id["8020"], "1", "CC-NL"),  # goods by tax class 'books'
        (gl_id["8100"], "2", "CC-NL"), (gl_id["8100"], "2", "CC-NL")]  # shipping and fee G/L
    assert [(x["GLAccount"], x["VATCode"], x["CostCenter"]) for x in bodies["WC-7502"]["SalesEntryLines"]] == [
        (gl_id["8010"], "DE19", "CC-ALL"), (gl_id["8100"], "DE19", "CC-ALL")]  # goods G/L per country
    assert [x["VATCode"] for x in bodies["WC-7503"]["SalesEntryLines"]] == ["ICL"]
    assert [x["VATCode"] for x in bodies["WC-7504"]["SalesEntryLines"]] == ["EXP"]
    assert bodies["WC-CN-7505"]["SalesEntryLines"][0]["AmountFC"] == "-10.00"

    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client)
    assert (out.synced, out.exit_code) == (5, 0)
    with env.app.lock:
        booked_lines = [dict(x) for x in env.app.divisions[DIV].entry_lines.rows.values()]
    for ref, body in bodies.items():
        [entry] = env.entries(ref)
        assert (entry["Journal"].strip(), entry["Customer"]) == ("70", body["Customer"])
        assert entry["AmountFC"] == sum(D(x["AmountFC"]) + D(x["VATAmountFC"]) for x in body["SalesEntryLines"])
        assert entry["Type"] == (21 if ref.startswith("WC-CN-") else 20)
        got = sorted((x["GLAccount"], x["VATCode"].strip(), x["AmountFC"], x["VATAmountFC"], x["CostCenter"])
                     for x in booked_lines if x["EntryID"] == entry["EntryID"])
        sent = sorted((x["GLAccount"], x["VATCode"], D(x["AmountFC"]), D(x["VATAmountFC"]), x["CostCenter"])
                      for x in body["SalesEntryLines"])
        assert got == sent
