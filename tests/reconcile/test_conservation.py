"""Conservation (hypothesis): statuses partition all documents and entries, totals add up to the
cent, VAT per country equals an independent per-document sum, and a re-run gives the same rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recon_world import DIV, OTHER_DIV, D, Line, World, code_for

from exactsync.reconcile import results, run_reconciliation, vat_by_country
from exactsync.reference import normalize_reference

PERIOD_START, PERIOD_END = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
LINE_KINDS = [("domestic", "NL", D(21)), ("domestic", "NL", D(9)), ("oss", "DE", D(19)), ("oss", "BE", D(21)),
              ("oss", "FR", D("5.5")), ("reverse_charge", "DE", D(0)), ("export", "US", D(0))]
ACTIONS = ["none", "book", "book", "book", "twice", "reversed", "rebooked", "wrong_amount", "wrong_rate",
           "other_period", "draft", "customer", "currency", "cent", "other_division"]

amounts = st.integers(min_value=-2_000_00, max_value=50_000_00).map(lambda c: Decimal(c) / 100)
dates = st.sampled_from([dt.date(2026, 9, 30), dt.date(2026, 10, 1), dt.date(2026, 10, 15), dt.date(2026, 10, 31),
                         dt.date(2026, 11, 1)])
doc_spec = st.tuples(
    st.sampled_from(["woo", "mag"]), st.sampled_from(["invoice", "invoice", "credit_note"]), dates,
    st.lists(st.tuples(st.sampled_from(range(len(LINE_KINDS))), amounts), min_size=1, max_size=3),
    st.sampled_from(ACTIONS),
)
extra_spec = st.tuples(st.sampled_from(["MANUAL-1", "manual-01", None, "WC-999", "M2-5"]), dates, amounts,
                       st.sampled_from([DIV, OTHER_DIV]))


def build(specs, extras) -> World:
    w = World()
    for i, (shop, kind, date, line_specs, action) in enumerate(specs):
        sign = -1 if kind == "credit_note" else 1
        lines = []
        for k, amount in line_specs:
            treatment, country, rate = LINE_KINDS[k]
            base = abs(amount) * sign
            lines.append(Line(treatment, country, rate, base, (base * rate / 100).quantize(D("0.01"))))
        country = lines[0].country
        vat_number = "DE123456789" if lines[0].treatment == "reverse_charge" else None
        d = w.doc(1000 + i, date, lines, shop=shop, kind=kind, country=country, vat_number=vat_number)
        if action == "none":
            continue
        if action == "reversed":
            w.reverse(w.book(d))
        elif action == "rebooked":
            wrong = w.entry(w.reference(d), date, [(code_for(ln.treatment, ln.country, ln.rate), ln.base * 2, ln.vat * 2)
                                                   for ln in lines])
            w.reverse(wrong, date)
            w.book(d)
        elif action == "wrong_amount":
            w.entry(w.reference(d), date, [("2", d.net + 1, d.vat)])
        elif action == "wrong_rate":
            w.entry(w.reference(d), date, [("2", d.net, d.vat)])
        elif action == "other_period":
            w.book(d, date=date + dt.timedelta(days=40))
        elif action == "draft":
            w.book(d, status=20)
        elif action == "customer":
            w.book(d, customer="acc-fr")
        elif action == "currency":
            w.book(d, currency="GBP")
        elif action == "cent":
            w.entry(w.reference(d), date, [(code_for(ln.treatment, ln.country, ln.rate), ln.base, ln.vat)
                                           for ln in lines[:-1]]
                    + [(code_for(lines[-1].treatment, lines[-1].country, lines[-1].rate), lines[-1].base - D("0.01"),
                        lines[-1].vat)])
        elif action == "other_division":
            w.book(d, division=OTHER_DIV)
        else:
            w.book(d)
            if action == "twice":
                w.book(d)
    for ref, date, amount, division in extras:
        w.entry(ref, date, [("2", amount, (amount * D("0.21")).quantize(D("0.01")))], division=division)
    return w


def in_period(date) -> bool:
    return PERIOD_START <= date < PERIOD_END


def clear(store):
    with store.atomic() as con:
        for table in ("shop_documents", "shop_vat_lines", "exact_entries", "exact_vat_lines", "recon_runs",
                      "recon_result_rows", "recon_result_matched", "recon_result_vat", "recon_vat", "recon_vat_map"):
            con.execute(f"DELETE FROM {table}")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(doc_spec, max_size=12), extras=st.lists(extra_spec, max_size=4))
def test_statuses_partition_documents_and_entries_and_totals_add_up(store, specs, extras):
    clear(store)
    w = build(specs, extras)
    docs, entries, doc_lines = list(w.docs), list(w.entries), list(w.doc_lines)
    entry_lines = list(w.entry_lines)
    w.write(store, reference=not store.scalar("SELECT count(*) FROM exact_vat_codes"))
    run = run_reconciliation(store, w.settings(), "2026-10")
    rows = results(store, run.run_id)

    # --- the expected scope, computed independently in Python
    prefix = {"woo": "WC-", "mag": "M2-"}
    period_docs = {d["doc_key"]: d for d in docs if in_period(d["doc_date"])}
    period_keys = {(DIV, normalize_reference(prefix[d["shop"]] + ("CN-" if d["kind"] == "credit_note" else "")
                                             + d["doc_number"])) for d in period_docs.values()}
    scope_entries = {e["entry_id"]: e for e in entries
                     if in_period(e["entry_date"]) or (e["division"], normalize_reference(e["your_ref"])) in period_keys}

    # every in-period document exactly once; every entry in scope exactly once
    doc_rows = rows.filter(rows["result_key"].str.starts_with("doc:"))
    assert sorted(doc_rows["doc_key"].to_list()) == sorted(period_docs)
    assert rows["result_key"].n_unique() == rows.height
    seen = [e for ids in rows["entry_ids"].to_list() for e in ids]
    assert sorted(seen) == sorted(scope_entries)

    # totals to the cent: per status sums equal the grand totals, which equal the inputs
    for side, source in (("shop", period_docs.values()), ("exact", scope_entries.values())):
        for amount in ("net", "vat", "gross"):
            expected = sum((x[amount] for x in source), Decimal(0))
            col = rows[f"{side}_{amount}"].drop_nulls()
            assert sum(col.to_list(), Decimal(0)) == expected
            assert sum((s[f"{side}_{amount}"] for s in run.by_status.values()), Decimal(0)) == expected
            assert run.totals[f"{side}_{amount}"] == expected
    assert sum(run.counts.values()) == rows.height == run.totals["results"]
    assert run.totals["documents"] == len(period_docs) and run.totals["exact_entries"] == len(scope_entries)
    # deltas are exact minus shop on every row, except where the two are in two currencies
    for r in rows.iter_rows(named=True):
        if r["status"] == "currency_differs":
            assert (r["delta_net"], r["delta_vat"], r["delta_gross"]) == (None, None, None)
        else:
            assert r["delta_gross"] == r["exact_gross"] - (r["shop_gross"] or 0)
        assert (r["cause"] is None) == (r["status"] == "matched")

    # VAT per country: shop side equals an independent per-line sum of the in-period documents
    vat = vat_by_country(store, run.run_id)
    expect = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for ln in doc_lines:
        if ln["doc_key"] in period_docs:
            k = (ln["treatment"], ln["country"], ln["rate"])
            expect[k][0] += ln["base"]
            expect[k][1] += ln["vat"]
    got = {(r["treatment"], r["country"], r["rate"]): [r["shop_base"], r["shop_vat"]]
           for r in vat.iter_rows(named=True) if r["shop_documents"]}
    assert {k: v for k, v in got.items()} == {k: v for k, v in expect.items()}
    # Exact side: every VAT line of the entries in scope, booked in period or not, counted once
    total_vat = sum((ln["vat"] for ln in entry_lines if ln["entry_id"] in scope_entries), Decimal(0))
    assert sum(vat["exact_vat"].to_list() + vat["exact_other_period_vat"].to_list(), Decimal(0)) == total_vat

    # a re-run gives identical rows
    again = run_reconciliation(store, w.settings(), "2026-10")
    assert results(store, again.run_id).equals(rows)
    assert again.by_status == run.by_status
