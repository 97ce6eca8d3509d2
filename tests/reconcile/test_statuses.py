"""Every status and cause, built from canonical rows, and the precedence between them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from recon_world import DIV, OTHER_DIV, D, Line, World, export, icl, nl, oss

from exactsync.reconcile import (
    CAUSES,
    PRECEDENCE,
    STATUSES,
    ReconcileError,
    document_detail,
    results,
    run_reconciliation,
)

PERIOD = "2026-10"


def reconcile(store, w: World, period: str = PERIOD, **kw):
    w.write(store)
    run = run_reconciliation(store, kw.pop("settings", None) or w.settings(), period, **kw)
    rows = {r["result_key"]: r for r in results(store, run.run_id).iter_rows(named=True)}
    return run, rows


def status_of(rows, key):
    return rows[key]["status"], rows[key]["cause"]


def test_constants_cover_the_fixed_list():
    assert set(STATUSES) == set(PRECEDENCE) == {
        "matched", "matched_within_tolerance", "amount_differs", "vat_differs", "missing_in_exact",
        "only_in_exact", "duplicated_in_exact", "other_period", "currency_differs", "customer_differs", "draft"}
    assert "matched" not in CAUSES and set(CAUSES) == set(STATUSES) - {"matched"}


def test_matched_invoice_and_credit_note(store):
    w = World()
    w.book(w.doc(1001))
    cn = w.doc(1002, kind="credit_note")
    w.book(cn)
    run, rows = reconcile(store, w)
    assert status_of(rows, "doc:woo:invoice:1001") == ("matched", None)
    assert status_of(rows, "doc:woo:credit_note:1002") == ("matched", None)
    assert rows["doc:woo:credit_note:1002"]["your_ref"] == "WC-CN-1002"
    assert rows["doc:woo:credit_note:1002"]["exact_gross"] == D("-121.00")
    assert run.counts["matched"] == 2 and run.differences == 0


def test_reference_normalization_matches_typing_differences(store):
    w = World()
    d = w.doc("000123", shop="mag")
    w.entry(" m2-123 ", lines=[("2", D(100), D(21))])
    _, rows = reconcile(store, w)
    assert status_of(rows, "doc:mag:invoice:000123") == ("matched", None)


def test_stored_match_references_follow_the_rows_and_any_prefix(store):
    """The store keeps each row's normalized reference (refreshed on every write); a prefix ending
    in a digit cannot be joined to a normalized tail, so that shop's references are normalized whole."""
    w = World(prefixes={"woo": "SHOP1", "mag": "M2-"})
    w.doc("007", shop="woo")
    w.entry("shop1007", lines=[("2", D(100), D(21))])  # SHOP1 + 007, not SHOP1 + 7
    w.doc("000124", shop="mag", kind="credit_note", lines=[Line("domestic", "NL", D(21), D(-100), D(-21))])
    w.entry("M2-CN-124", lines=[("2", D(-100), D(-21))])
    _, rows = reconcile(store, w)
    assert status_of(rows, "doc:woo:invoice:007") == ("matched", None)
    assert status_of(rows, "doc:mag:credit_note:000124") == ("matched", None)
    assert store.rows("SELECT doc_key, ref_tail FROM shop_documents ORDER BY 1") == [
        ("mag:credit_note:000124", "CN-124"), ("woo:invoice:007", "7")]
    assert sorted(store.rows("SELECT ref_norm FROM exact_entries")) == [("M2-CN-124",), ("SHOP1007",)]
    w.doc("007", shop="woo")
    w.docs[0]["doc_number"] = "a 08"  # the same document renumbered by the shop: its reference follows
    w.write(store)
    assert store.scalar("SELECT ref_tail FROM shop_documents WHERE doc_key = 'woo:invoice:007'") == "A8"


def test_missing_in_exact(store):
    w = World()
    w.doc(1)
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:1"]
    assert (r["status"], r["cause"]) == ("missing_in_exact", "missing_in_exact")
    assert r["exact_gross"] == 0 and r["delta_gross"] == D("-121.00") and r["entry_ids"] == []
    assert "WC-1" in r["detail"]


def test_missing_document_shows_the_yourref_a_push_would_write(store):
    """Not the normalized match key (M2-123): what an accountant can search Exact for, and push writes."""
    w = World()
    w.doc("000000123", shop="mag")
    w.doc("0042", shop="mag", kind="credit_note")
    _, rows = reconcile(store, w)
    assert rows["doc:mag:invoice:000000123"]["your_ref"] == "M2-000000123"
    assert rows["doc:mag:credit_note:0042"]["your_ref"] == "M2-CN-0042"
    assert rows["doc:mag:invoice:000000123"]["status"] == "missing_in_exact"


def test_only_in_exact_per_reference_and_per_unreferenced_entry(store):
    w = World()
    w.entry("MANUAL-7")
    w.entry("MANUAL-7")  # two entries, one reference → one row with both entries
    w.entry(None)
    w.entry("  ")
    _, rows = reconcile(store, w)
    assert status_of(rows, f"exact:{DIV}:MANUAL-7") == ("only_in_exact", "only_in_exact")
    assert len(rows[f"exact:{DIV}:MANUAL-7"]["entry_ids"]) == 2
    no_ref = [k for k in rows if ":entry:" in k]
    assert len(no_ref) == 2 and all(rows[k]["status"] == "only_in_exact" for k in no_ref)
    assert rows[f"exact:{DIV}:MANUAL-7"]["shop_gross"] is None
    # the sentence names the reference as it is typed in Exact, not the match key
    w.entry("manual-0042")
    _, rows = reconcile(store, w)
    assert rows[f"exact:{DIV}:MANUAL-42"]["detail"] == (
        "no shop document with reference manual-0042 in the shops of this division")


def test_same_reference_in_another_division_does_not_match(store):
    w = World()
    d = w.doc(55)
    w.book(d)
    w.entry("WC-55", division=OTHER_DIV)
    _, rows = reconcile(store, w)
    assert status_of(rows, "doc:woo:invoice:55") == ("matched", None)
    assert status_of(rows, f"exact:{OTHER_DIV}:WC-55") == ("only_in_exact", "only_in_exact")


def test_duplicated_in_exact(store):
    w = World()
    d = w.doc(2)
    w.book(d)
    w.book(d)
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:2"]
    assert (r["status"], r["cause"]) == ("duplicated_in_exact", "duplicated_in_exact")
    assert r["live_count"] == 2 and len(r["entry_ids"]) == 2
    assert r["detail"] == "2 entries with reference WC-2 are live in Exact"


def test_reversal_pair_cancels_and_rebooking_matches(store):
    w = World()
    d = w.doc(3)
    wrong = w.entry("WC-3", lines=[("2", D(200), D(42))])
    w.reverse(wrong, "2026-10-12")
    w.book(d, date="2026-10-12")
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:3"]
    assert (r["status"], r["entry_count"], r["live_count"]) == ("matched", 3, 1)


def test_reversed_without_rebooking_is_missing(store):
    w = World()
    d = w.doc(4)
    e = w.book(d)
    w.reverse(e)
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:4"]
    assert r["status"] == "missing_in_exact" and "cancel out" in r["detail"]


def test_duplicate_left_after_a_reversal_of_one_of_three(store):
    w = World()
    d = w.doc(5)
    first = w.book(d)
    w.book(d)
    w.book(d)
    w.reverse(first)
    _, rows = reconcile(store, w)
    assert rows["doc:woo:invoice:5"]["status"] == "duplicated_in_exact"
    assert rows["doc:woo:invoice:5"]["live_count"] == 2


def test_booked_in_another_period_both_directions(store):
    w = World()
    later = w.doc(6, "2026-10-30")
    w.book(later, date="2026-11-02")  # October document, booked in November
    earlier = w.doc(7, "2026-09-29")
    w.book(earlier, date="2026-10-01")  # September document, booked in October
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:6"]
    assert (r["status"], r["cause"]) == ("other_period", "other_period")
    assert "2026-11" in r["detail"] and r["exact_gross"] == D("121.00")
    rev = rows[f"exact:{DIV}:WC-7"]
    assert rev["status"] == "other_period" and rev["doc_key"] == "woo:invoice:7"
    assert rev["shop_gross"] is None and rev["exact_gross"] == D("121.00")
    # the September run sees the same pair from the other side
    run_sep = run_reconciliation(store, w.settings(), "2026-09")
    sep = {r["result_key"]: r for r in results(store, run_sep.run_id).iter_rows(named=True)}
    assert sep["doc:woo:invoice:7"]["status"] == "other_period"


def test_exact_period_comes_from_financial_period(store):
    from exactsync.store import Store

    w = World()
    d = w.doc(8, "2026-10-31")
    w.book(d, date="2026-10-31")
    w.write(store)
    with store.atomic() as con:  # entry dated 31 Oct but booked in financial period 11
        con.execute("UPDATE exact_entries SET fin_period = 11")
        Store.upsert_rows(con, "exact_periods", [
            {"division": DIV, "fin_year": 2026, "fin_period": m, "start_date": __import__("datetime").date(2026, m, 1),
             "end_date": None} for m in (10, 11)])
    run = run_reconciliation(store, w.settings(), PERIOD)
    rows = {r["result_key"]: r for r in results(store, run.run_id).iter_rows(named=True)}
    assert rows["doc:woo:invoice:8"]["status"] == "other_period"


def test_currency_differs(store):
    w = World()
    d = w.doc(9, currency="USD", base_currency="EUR", fx=D("1.10"),
              lines=[Line("export", "US", D(0), D("110.00"), D(0))], country="US")
    w.entry("WC-9", lines=[("EXP", D(100), D(0))], currency="EUR", customer="acc-us")
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:9"]
    assert (r["status"], r["cause"]) == ("currency_differs", "currency_differs")
    assert "USD" in r["detail"] and "EUR" in r["detail"]
    # division currency: the shop's base amounts (100.0000) against Exact's 100.00 → no difference there
    assert r["shop_gross_dc"] == D("100.0000") and r["delta_gross_dc"] == 0
    # in the document's currency there is no difference to state: 100 EUR − 110 USD means nothing
    assert (r["shop_gross"], r["exact_gross"]) == (D("110.00"), D("100.00"))
    assert (r["delta_net"], r["delta_vat"], r["delta_gross"]) == (None, None, None)


def test_amount_differs(store):
    w = World()
    d = w.doc(10, lines=[nl("100"), nl("10")])  # shipping line not booked
    w.entry("WC-10", lines=[("2", D(100), D(21))])
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:10"]
    assert (r["status"], r["cause"]) == ("amount_differs", "amount_differs")
    assert r["delta_net"] == D("-10.00") and r["delta_vat"] == D("-2.10") and r["delta_gross"] == D("-12.10")
    assert r["detail"] == "net differs by -10.00, VAT by -2.10, gross by -12.10"


def test_vat_differs_total_rate_country_and_treatment(store):
    w = World()
    total = w.doc(11)  # net right, VAT wrong
    w.entry("WC-11", lines=[("2", D(100), D(9))])
    rate = w.doc(12, lines=[nl("50", 9), nl("50")])  # same totals, wrong rate code
    w.entry("WC-12", lines=[("2", D(100), D("15.00"))])
    country = w.doc(13, lines=[oss("BE", "100", "21")], country="BE")  # OSS BE booked domestic NL
    w.entry("WC-13", lines=[("2", D(100), D(21))], customer="acc-be")
    oss_country = w.doc(14, lines=[oss("DE", "100", "19")], country="DE")  # booked as OSS FR (wrong country)
    w.entry("WC-14", lines=[("FRH", D(100), D(19))], customer="acc-de")
    b2b = w.doc(15, lines=[icl("DE", "100")], country="DE", vat_number="DE123456789")  # ICL booked as export
    w.entry("WC-15", lines=[("EXP", D(100), D(0))], customer="acc-b2b-de1")
    _, rows = reconcile(store, w)
    for n in (11, 12, 13, 14, 15):
        r = rows[f"doc:woo:invoice:{n}"]
        assert (r["status"], r["cause"]) == ("vat_differs", "vat_differs"), (n, r["detail"])
    assert rows["doc:woo:invoice:11"]["detail"].startswith("VAT differs by -12.00. ")
    # the sentence an accountant reads: cents, rates as typed, buckets in words
    assert rows["doc:woo:invoice:12"]["detail"] == (
        "VAT split: domestic 9%: shop 50.00 / 4.50, Exact - / -; domestic 21%: shop 50.00 / 10.50, Exact 100.00 / 15.00")
    assert "OSS DE 19%: shop 100.00 / 19.00" in rows["doc:woo:invoice:14"]["detail"]
    assert "reverse charge 0%: shop 100.00 / 0.00" in rows["doc:woo:invoice:15"]["detail"]


def test_the_vat_split_sentence_names_only_the_buckets_that_differ(store):
    w = World()
    w.doc(18, lines=[nl("100"), nl("50", 9)])  # 21 % right, 9 % with 50 cents too much VAT
    w.entry("WC-18", lines=[("2", D(100), D(21)), ("1", D(50), D("5.00"))])
    w.doc(19, lines=[nl("100"), nl("50", 9)])  # both buckets right, within a cent of each
    w.entry("WC-19", lines=[("2", D("100.01"), D(21)), ("1", D(50), D("4.50"))])
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:18"]
    assert r["status"] == "vat_differs"
    assert r["detail"] == "VAT differs by 0.50. VAT split: domestic 9%: shop 50.00 / 4.50, Exact 50.00 / 5.00"
    ok = rows["doc:woo:invoice:19"]
    assert ok["status"] == "matched_within_tolerance" and "VAT split" not in ok["detail"]


def test_a_wrong_amount_at_the_right_rate_is_not_also_a_vat_difference(store):
    """Engine 5: VAT differs when the VAT split does not follow the base — base moved from one bucket
    to another, or VAT that the base differences at the buckets' rates do not explain (in the row,
    or in a bucket both sides have). A wrong amount booked with its VAT at the right rate, a bucket
    left out or a duplicate is an amount difference only; the flags say so."""
    w = World()
    w.doc(30)  # one bucket: 10 too much, with 21 % of it
    w.entry("WC-30", lines=[("2", D(110), D("23.10"))])
    w.doc(31, lines=[nl("100"), nl("50", 9)])  # two buckets: 10 too much at 9 %, its VAT at 9 %
    w.entry("WC-31", lines=[("2", D(100), D(21)), ("1", D(60), D("5.40"))])
    w.doc(32, lines=[nl("100"), nl("50", 9)])  # the 9 % line not booked
    w.entry("WC-32", lines=[("2", D(100), D(21))])
    d = w.doc(33)  # booked twice, both right
    w.book(d)
    w.book(d)
    w.doc(38)  # 10 too much, its VAT a cent off (within tolerance of 21 % of 10)
    w.entry("WC-38", lines=[("2", D(110), D("23.11"))])
    # and what stays a VAT difference
    w.doc(34, lines=[nl("100"), oss("BE", "50", "21")], country="BE")  # OSS BE 21 % booked as domestic 21 %
    w.entry("WC-34", lines=[("2", D(150), D("31.50"))], customer="acc-be")
    w.doc(35, lines=[nl("100"), nl("50", 9)])  # base right, the 9 % VAT booked on the 21 % line
    w.entry("WC-35", lines=[("2", D(100), D("25.50")), ("1", D(50), D(0))])
    w.doc(36)  # an extra VAT-only line on another code
    w.entry("WC-36", lines=[("2", D(100), D(21)), ("1", D(0), D(5))])
    w.doc(37, lines=[oss("DE", "100", "19")], country="DE")  # the whole document on OSS FR 20 %, VAT at 20 %
    w.entry("WC-37", lines=[("FRH", D(100), D(20))], customer="acc-de")
    _, rows = reconcile(store, w)

    def found(n):
        r = rows[f"doc:woo:invoice:{n}"]
        return r["status"], r["flags"]

    assert found(30) == ("amount_differs", ["amount_differs"])
    assert found(31) == ("amount_differs", ["amount_differs"])
    assert found(32) == ("amount_differs", ["amount_differs"])
    assert found(33) == ("duplicated_in_exact", ["duplicated_in_exact", "amount_differs"])
    assert found(38) == ("amount_differs", ["amount_differs"])
    assert found(34) == ("vat_differs", ["vat_differs"])
    assert found(35) == ("vat_differs", ["vat_differs"])  # the VAT total is right: only the buckets tell
    assert rows["doc:woo:invoice:35"]["delta_vat"] == 0
    assert found(36) == ("vat_differs", ["vat_differs"])
    assert found(37) == ("vat_differs", ["vat_differs"])  # base moved from OSS DE 19 % to OSS FR 20 %


def test_export_and_exempt_compare_as_zero_rated(store):
    w = World()
    d = w.doc(16, lines=[export("US", "100")], country="US")
    w.entry("WC-16", lines=[("EXP", D(100), D(0))], customer="acc-us")
    e = w.doc(17, lines=[Line("exempt", "NL", D(0), D(50), D(0))])
    w.entry("WC-17", lines=[("EXP", D(50), D(0))])
    _, rows = reconcile(store, w)
    assert rows["doc:woo:invoice:16"]["status"] == "matched"
    assert rows["doc:woo:invoice:17"]["status"] == "matched"


def test_a_domestic_zero_rate_compares_as_zero_rated(store):
    """A Magento credit memo's adjustment fee is a domestic 0 % line; Exact's 0 % codes read as
    zero-rated, so a correct booking is matched, not "VAT differs" (reverse charge stays apart)."""
    w = World()
    fee = Line("domestic", "NL", D(0), D("-5.00"), D(0), line_type="adjustment")
    w.doc(18, kind="credit_note", lines=[nl("-50"), fee])
    w.entry("WC-CN-18", lines=[("2", D(-50), D("-10.50")), ("EXP", D("-5.00"), D(0))])
    w.doc(19, kind="credit_note", lines=[nl("-100"), fee])  # the fee booked on the reverse-charge code
    w.entry("WC-CN-19", lines=[("2", D(-100), D(-21)), ("ICL", D("-5.00"), D(0))])
    _, rows = reconcile(store, w)
    assert rows["doc:woo:credit_note:18"]["status"] == "matched"
    assert (rows["doc:woo:credit_note:19"]["status"], rows["doc:woo:credit_note:19"]["cause"]) == (
        "vat_differs", "vat_differs")


def test_customer_differs_by_country_and_by_vat_number(store):
    w = World()
    b2c = w.doc(18, lines=[oss("DE", "100", "19")], country="DE")
    w.book(b2c, customer="acc-nl")  # German consumer booked on the Dutch collective debtor
    b2b = w.doc(19, lines=[icl("DE", "100")], country="DE", vat_number="DE 123.456.789")
    w.book(b2b, customer="acc-b2b-de2")  # another German company
    ok = w.doc(20, lines=[icl("DE", "100")], country="DE", vat_number="de123456789")
    w.book(ok, customer="acc-b2b-de1")
    _, rows = reconcile(store, w)
    assert status_of(rows, "doc:woo:invoice:18") == ("customer_differs", "customer_differs")
    assert status_of(rows, "doc:woo:invoice:19") == ("customer_differs", "customer_differs")
    assert "20002" in rows["doc:woo:invoice:19"]["detail"]
    assert status_of(rows, "doc:woo:invoice:20") == ("matched", None)


def test_customer_check_modes(store):
    w = World()
    b2c = w.doc(21, lines=[oss("DE", "100", "19")], country="DE")
    w.book(b2c, customer="acc-nl")
    w.write(store)
    for mode, expected in (("strict", "customer_differs"), ("vat_number", "matched"), ("off", "matched")):
        run = run_reconciliation(store, w.settings(), PERIOD, customer_check=mode)
        assert results(store, run.run_id)["status"].to_list() == [expected], mode
    with pytest.raises(ReconcileError):
        run_reconciliation(store, w.settings(), PERIOD, customer_check="email")


def test_draft_and_its_policy(store):
    w = World()
    d = w.doc(22)
    w.book(d, status=20)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    r = results(store, run.run_id).row(0, named=True)
    assert (r["status"], r["cause"]) == ("draft", "draft") and "Status 20" in r["detail"]
    run = run_reconciliation(store, w.settings(), PERIOD, flag_draft=False)
    assert results(store, run.run_id)["status"].to_list() == ["matched"]


def test_open_entry_posted_by_exactsync_is_matched_not_draft(store):
    """An entry exactsync pushed (a Synced push job names it) is open in Exact but booked as intended."""
    import datetime as dt

    w = World()
    mine, theirs = w.doc(24), w.doc(25)
    mine_id = w.book(mine, status=20)
    w.book(theirs, status=20)
    w.write(store)
    now = dt.datetime(2026, 11, 1)
    with store.atomic() as con:
        con.execute(
            "INSERT INTO push_jobs (job_id, run_id, doc_key, kind, division, journal_code, your_ref, payload, payload_hash, "
            "status, exact_entry_id, created_at, updated_at) VALUES "
            "('j1', 'r', 'x', 'create', ?, '70', 'ref', '{}', 'h', 'Synced', ?, ?, ?), "
            "('j2', 'r', 'y', 'create', ?, '70', 'ref', '{}', 'h', 'Error', ?, ?, ?)",
            [DIV, mine_id.upper(), now, now, DIV, "00000000-0000-0000-0000-000000000000", now, now])
    run = run_reconciliation(store, w.settings(), PERIOD)
    rows = {r["doc_number"]: r for r in results(store, run.run_id).iter_rows(named=True)}
    assert rows[mine.number]["status"] == "matched" and rows[mine.number]["flags"] == []
    assert rows[theirs.number]["status"] == "draft"


def test_matched_within_tolerance_is_totalled(store):
    w = World()
    a = w.doc(23)
    w.entry("WC-23", lines=[("2", D("99.99"), D(21))])  # net one cent lower
    b = w.doc(24)
    w.entry("WC-24", lines=[("2", D(100), D("21.01"))])  # VAT one cent higher
    c = w.doc(25)
    w.entry("WC-25", lines=[("2", D(100), D("21.02"))])  # two cents: beyond the default
    run, rows = reconcile(store, w)
    assert status_of(rows, "doc:woo:invoice:23") == ("matched_within_tolerance", "matched_within_tolerance")
    assert status_of(rows, "doc:woo:invoice:24") == ("matched_within_tolerance", "matched_within_tolerance")
    assert rows["doc:woo:invoice:23"]["tolerated_gross"] == D("-0.01")
    assert rows["doc:woo:invoice:24"]["tolerated_vat"] == D("0.01")
    assert status_of(rows, "doc:woo:invoice:25") == ("vat_differs", "vat_differs")
    assert run.tolerated == {"net": D("-0.01"), "vat": D("0.01"), "gross": D("0"), "rows": 2}


def test_tolerance_per_difference_type(store):
    w = World()
    w.doc(26)
    w.entry("WC-26", lines=[("2", D(100), D("21.05"))])
    w.doc(27)
    w.entry("WC-27", lines=[("2", D("100.05"), D(21))])
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD, tolerance={"vat": "0.05", "gross": "0.05"})
    got = dict(results(store, run.run_id).select("doc_key", "status").iter_rows())
    assert got == {"woo:invoice:26": "matched_within_tolerance", "woo:invoice:27": "amount_differs"}
    assert run.tolerance == {"net": "0.01", "vat": "0.05", "gross": "0.05"}
    run = run_reconciliation(store, w.settings(tolerance=D("0.10")), PERIOD)
    assert set(results(store, run.run_id)["status"]) == {"matched_within_tolerance"}
    run = run_reconciliation(store, w.settings(), PERIOD, tolerance=0)
    assert set(results(store, run.run_id)["status"]) == {"vat_differs", "amount_differs"}
    for bad in ("-1", "abc", {"vatt": 1}):
        with pytest.raises(ReconcileError):
            run_reconciliation(store, w.settings(), PERIOD, tolerance=bad)


def test_shops_sharing_a_division_are_told_apart_by_prefix(store):
    w = World()
    woo = w.doc(500, shop="woo")
    mag = w.doc(500, shop="mag")
    w.book(woo)
    w.book(mag, customer="acc-be")  # wrong account only on the Magento one
    _, rows = reconcile(store, w)
    assert rows["doc:woo:invoice:500"]["status"] == "matched"
    assert rows["doc:mag:invoice:500"]["status"] == "customer_differs"
    assert rows["doc:mag:invoice:500"]["your_ref"] == "M2-500"


def test_two_documents_with_one_reference(store):
    w = World(prefixes={"woo": "", "mag": ""})
    a = w.doc(600, shop="woo")
    w.doc(600, shop="mag")
    w.book(a)
    _, rows = reconcile(store, w)
    assert rows["doc:mag:invoice:600"]["status"] == "matched"  # "mag:…" sorts first and owns the key
    assert rows["doc:woo:invoice:600"]["status"] == "missing_in_exact"
    assert "also used by mag:invoice:600" in rows["doc:woo:invoice:600"]["detail"]


def test_scope_filters_by_shop_and_division(store):
    w = World(shop_divisions={"woo": DIV, "mag": OTHER_DIV})
    w.book(w.doc(1, shop="woo"))
    m = w.doc(2, shop="mag")
    w.book(m, division=OTHER_DIV)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD, shops=["mag"])
    assert run.shops == ["mag"] and run.divisions == [OTHER_DIV]
    assert results(store, run.run_id)["result_key"].to_list() == ["doc:mag:invoice:2"]
    run = run_reconciliation(store, w.settings(), PERIOD, divisions=[DIV])
    assert run.shops == ["woo"]
    assert results(store, run.run_id)["result_key"].to_list() == ["doc:woo:invoice:1"]
    with pytest.raises(ReconcileError, match="unknown shop"):
        run_reconciliation(store, w.settings(), PERIOD, shops=["nope"])
    with pytest.raises(ReconcileError, match="2026-10"):
        run_reconciliation(store, w.settings(), "oct 2026")


def test_a_run_of_one_shop_leaves_out_the_entries_of_the_other_shops_of_its_division(store):
    """woo and mag book into one division with their prefixes: a run of woo alone must not call mag's
    entries "only in Exact" (nor an entry of another month of mag "booked in another period"); an
    entry no prefix names stays, and the run says what it covers."""
    w = World()
    w.book(w.doc(1, shop="woo"))
    w.book(w.doc(2, shop="mag"))
    w.book(w.doc(3, shop="mag", date="2026-09-30"), date="2026-10-02")  # mag's September, booked in October
    w.entry("M2-77")  # mag's reference, no document anywhere
    w.entry("WC-88")  # woo's reference, no document: woo's own difference
    w.entry("MANUAL-1")  # nobody's prefix
    run, rows = reconcile(store, w, shops=["woo"])
    assert sorted(rows) == ["doc:woo:invoice:1", f"exact:{DIV}:MANUAL-1", f"exact:{DIV}:WC-88"], sorted(rows)
    assert rows[f"exact:{DIV}:WC-88"]["status"] == "only_in_exact"
    assert [x for x in run.warnings if x.startswith("this run covers")] == [
        f"this run covers woo of division {DIV}, not mag: their documents are in no row (nor in a push from this "
        "run) and Exact entries with their reference prefix are left out; reconcile without --shop for the whole "
        "division"]
    assert run.totals["exact_entries"] == 3  # woo's entry, WC-88 and MANUAL-1

    whole, rows = reconcile(store, w)  # both shops: every entry is in the run, mag's with their own rows
    assert rows[f"exact:{DIV}:M2-77"]["status"] == "only_in_exact" and whole.totals["exact_entries"] == 6
    assert not [x for x in whole.warnings if x.startswith("this run covers")]


def test_a_longer_prefix_inside_the_run_keeps_its_entries(store):
    """Prefixes that nest (W- outside the run, W-NL- inside): an entry with the longer one is the run's."""
    w = World(prefixes={"woo": "W-NL-", "mag": "W-"})
    w.entry("W-NL-5")  # woo's
    w.entry("W-6")  # mag's
    run, rows = reconcile(store, w, shops=["woo"])
    assert sorted(rows) == [f"exact:{DIV}:W-NL-5"], sorted(rows)
    assert run.totals["exact_entries"] == 1


def test_a_shop_of_the_division_without_a_prefix_is_named_in_the_warning(store):
    w = World(prefixes={"woo": "WC-", "mag": ""})
    w.book(w.doc(1, shop="woo"))
    w.entry("500")  # mag's, or nobody's: it cannot be told
    run, rows = reconcile(store, w, shops=["woo"])
    assert rows[f"exact:{DIV}:500"]["status"] == "only_in_exact"
    assert (f"shop mag books into division {DIV} without a reference prefix, so its entries cannot be told from this "
            "run's: those booked in the period show as only in Exact here (give each shop of a division its own "
            "shops.<name>.reference_prefix)") in run.warnings


# ----------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    "faults, expected",
    [
        ({"duplicate", "currency", "period", "amount", "customer", "draft"}, "duplicated_in_exact"),
        ({"currency", "period", "amount", "customer", "draft"}, "currency_differs"),
        ({"period", "amount", "vat", "customer", "draft"}, "other_period"),
        ({"amount", "vat", "customer", "draft"}, "amount_differs"),
        ({"vat", "customer", "draft", "cent"}, "vat_differs"),
        ({"customer", "draft", "cent"}, "customer_differs"),
        ({"draft", "cent"}, "draft"),
        ({"cent"}, "matched_within_tolerance"),
        (set(), "matched"),
    ],
)
def test_precedence(store, faults, expected):
    w = World()
    d = w.doc(700, lines=[nl("100"), nl("20", 9)], country="NL")
    net, vat21, vat9 = D(100), D(21), D("1.80")
    lines = [("2", net, vat21), ("1", D(20), vat9)]
    if "amount" in faults:
        lines = [("2", D(150), vat21), ("1", D(20), vat9)]
    if "vat" in faults:
        lines = [("2", lines[0][1] + D(20), vat21 + vat9)]  # everything at the high-rate code
    if "cent" in faults:
        lines = [(c, b, v) for c, b, v in lines]
        lines[0] = (lines[0][0], lines[0][1] - D("0.01"), lines[0][2])
    kw = {"customer": "acc-de" if "customer" in faults else "acc-nl",
          "status": 20 if "draft" in faults else 50,
          "currency": "USD" if "currency" in faults else "EUR",
          "date": "2026-11-03" if "period" in faults else "2026-10-10"}
    w.entry("WC-700", lines=lines, **kw)
    if "duplicate" in faults:
        w.entry("WC-700", lines=lines, **kw)
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:700"]
    assert r["status"] == expected, r["detail"]
    assert r["cause"] == (None if expected == "matched" else expected)
    # the winner is the first flag; the others stay visible in flags
    if expected not in ("matched",):
        assert r["flags"][0] == expected


def test_missing_wins_over_everything_and_flags_show_the_rest(store):
    w = World()
    d = w.doc(701)
    e = w.entry("WC-701", lines=[("2", D(500), D(21))], status=20, customer="acc-de")
    w.reverse(e)
    _, rows = reconcile(store, w)
    assert rows["doc:woo:invoice:701"]["status"] == "missing_in_exact"
    assert rows["doc:woo:invoice:701"]["flags"] == ["missing_in_exact"]


def test_deltas_in_document_and_division_currency(store):
    w = World()
    d = w.doc(800, currency="USD", base_currency="EUR", fx=D("1.25"),
              lines=[Line("export", "US", D(0), D("125.00"), D(0))], country="US")
    w.entry("WC-800", lines=[("EXP", D("125.00"), D(0))], currency="USD", fx=D("0.792"), customer="acc-us")
    _, rows = reconcile(store, w)
    r = rows["doc:woo:invoice:800"]
    assert r["status"] == "matched"
    assert (r["currency"], r["division_currency"]) == ("USD", "EUR")
    assert r["shop_gross_dc"] == D("100.0000") and r["exact_gross_dc"] == D("99.00")
    assert r["delta_gross_dc"] == D("-1.00") and r["delta_gross"] == 0


def test_vat_split_deltas_in_document_and_division_currency(store):
    w = World()
    # in the division currency: the DC columns are the document-currency ones
    w.doc(810, lines=[nl("50", 9), nl("50")])
    w.entry("WC-810", lines=[("2", D(100), D("15.00"))])
    # a USD document with its base amounts in EUR, one bucket: OSS DE booked as OSS FR, at 0.8
    w.doc(811, currency="USD", base_currency="EUR", fx=D("1.25"), lines=[oss("DE", "125.00", "19")], country="DE")
    w.entry("WC-811", lines=[("FRH", D("125.00"), D("23.75"))], currency="USD", fx=D("0.8"), customer="acc-de")
    # a USD document with two buckets: its EUR base amounts cannot be split without rounding
    w.doc(812, currency="USD", base_currency="EUR", fx=D("1.25"),
          lines=[oss("DE", "100.00", "19"), oss("DE", "25.00", "7")], country="DE")
    w.entry("WC-812", lines=[("DEH", D("125.00"), D("23.75"))], currency="USD", fx=D("0.8"), customer="acc-de")
    run, rows = reconcile(store, w)
    assert {rows[f"doc:woo:invoice:{n}"]["status"] for n in (810, 811, 812)} == {"vat_differs"}

    def buckets(n: int) -> dict:
        frame = document_detail(store, run.run_id, f"doc:woo:invoice:{n}")["vat_comparison"]
        return {(r["treatment"], r["country"], r["rate"]): r for r in frame.iter_rows(named=True)}

    for r in buckets(810).values():
        assert (r["shop_base_dc"], r["shop_vat_dc"], r["exact_base_dc"], r["exact_vat_dc"]) == (
            r["shop_base"], r["shop_vat"], r["exact_base"], r["exact_vat"])
        assert (r["delta_base_dc"], r["delta_vat_dc"]) == (r["delta_base"], r["delta_vat"])

    one = buckets(811)
    de, fr = one[("oss", "DE", D(19))], one[("oss", "FR", D(20))]
    assert (de["shop_base"], de["shop_base_dc"], de["shop_vat_dc"]) == (D("125.00"), D(100), D("19.00"))
    assert de["exact_base_dc"] is None and de["delta_base_dc"] == D(-100) and de["delta_vat_dc"] == D("-19.00")
    assert (fr["shop_base_dc"], fr["exact_base_dc"], fr["exact_vat_dc"]) == (None, D("100.00"), D("19.00"))
    assert (fr["delta_base_dc"], fr["delta_vat_dc"]) == (D("100.00"), D("19.00"))

    two = buckets(812)
    assert set(two) == {("oss", "DE", D(19)), ("oss", "DE", D(7))}
    for r in two.values():
        assert r["shop_base_dc"] is None and r["delta_base_dc"] is None and r["delta_vat_dc"] is None
    assert two[("oss", "DE", D(19))]["exact_base_dc"] == D("100.00")
    assert two[("oss", "DE", D(7))]["exact_base_dc"] is None

    # the drill-down shows the division-currency columns only where they say something else
    from exactsync.views.recon import document_detail as drill_down

    assert "delta_base_dc" not in drill_down(store, run.run_id, "doc:woo:invoice:810")["comparison"].columns
    assert "delta_base_dc" in drill_down(store, run.run_id, "doc:woo:invoice:811")["comparison"].columns


def test_run_totals_in_the_division_currency_leave_out_what_has_no_amount_in_it(store):
    """Documents in EUR, in GBP with EUR base amounts and in USD with USD base amounts (no EUR
    amount at all): the run's ``*_dc`` totals add EUR only, count the USD document apart, and the
    USD document has no DC delta (it used to get Exact's whole DC amount as its delta)."""
    w = World()
    w.book(w.doc(900, lines=[nl("100")]))  # EUR, matched
    w.doc(901, currency="GBP", base_currency="EUR", fx=D("0.8"), lines=[nl("80")])  # missing, EUR base 100
    w.doc(902, currency="USD", base_currency="USD", fx=D(1), lines=[Line("export", "US", D(0), D("50.00"), D(0))],
          country="US")
    w.entry("WC-902", lines=[("EXP", D("50.00"), D(0))], currency="USD", fx=D("0.9"), customer="acc-us")
    run, rows = reconcile(store, w)
    usd = rows["doc:woo:invoice:902"]
    assert usd["shop_gross_dc"] is None and usd["exact_gross_dc"] == D("45.00")
    assert usd["delta_gross_dc"] is None
    t = run.totals
    assert t["shop_gross"] == D("121.00") + D("96.80") + D("50.00")  # three currencies added: meaningless
    assert t["shop_gross_dc"] == D("121.00") + D("121.00")  # EUR only: the GBP document's EUR base amounts
    assert t["exact_gross_dc"] == D("121.00") + D("45.00")
    assert t["dc_unknown"] == 1 and run.by_status[usd["status"]]["dc_unknown"] == 1
    assert run.by_status["missing_in_exact"]["shop_gross_dc"] == D("121.00")
    assert run.currency == "EUR" and run.params["division_currencies"][str(DIV)] == "EUR"
    # the saved run says the same, and so do the amounts a dashboard adds
    from exactsync.reconcile import load_run

    assert load_run(store, run.run_id).totals["shop_gross_dc"] == t["shop_gross_dc"]
    amounts = store.query("SELECT sum(shop_gross_dc) AS s, sum(delta_gross_dc) AS d, count(delta_gross_dc) AS n "
                          "FROM recon_result_amounts WHERE run_id = ?", [run.run_id]).row(0, named=True)
    assert amounts["s"] == t["shop_gross_dc"] and amounts["n"] == 2
