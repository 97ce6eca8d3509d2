"""Saved runs (reopen as of), dashboard reads, VAT per country, exports and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from decimal import Decimal

import polars as pl
import pytest
from click.testing import CliRunner
from recon_world import DIV, OTHER_DIV, D, World, icl, nl, oss

from exactsync.clock import FakeClock
from exactsync.reconcile import (
    DiffFilters,
    ReconcileError,
    amounts_by_status,
    count_differences,
    count_runs,
    delete_run,
    differences,
    differences_by_day,
    document_detail,
    export_run,
    latest_run,
    list_runs,
    load_run,
    results,
    run_reconciliation,
    runs_beyond,
    vat_by_country,
    vat_code_reading,
)

PERIOD = "2026-10"


def month(w: World) -> None:
    w.book(w.doc(1, "2026-10-01"))
    w.book(w.doc(2, "2026-10-02", [oss("DE", "200", "19")], country="DE"), customer="acc-de")
    w.book(w.doc(3, "2026-10-02", [icl("DE", "300")], country="DE", vat_number="DE123456789"))
    w.doc(4, "2026-10-03")  # missing
    w.entry("WC-5", "2026-10-04", [("2", D(10), D("2.10"))])  # only in Exact (no doc 5)
    d6 = w.doc(6, "2026-10-05", [nl("50"), nl("50", 9)])
    w.entry("WC-6", "2026-10-05", [("2", D(100), D(15))])  # vat differs


def test_run_is_saved_and_reopens_as_it_was(store):
    w = World()
    month(w)
    w.write(store)
    clock = FakeClock(dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.timezone.utc).timestamp())
    first = run_reconciliation(store, w.settings(), PERIOD, clock=clock)
    before = results(store, first.run_id)
    assert first.created_at == dt.datetime(2026, 11, 3, 8, 0)
    assert load_run(store, first.run_id).by_status == first.by_status
    assert load_run(store, first.run_id).params["tolerance"] == {"net": "0.01", "vat": "0.01", "gross": "0.01"}

    # the missing document gets booked, and a mapping changes: a new run differs, the old one does not
    w.book(w.doc(4, "2026-10-03"))
    w.write(store)
    with store.atomic() as con:
        con.execute("INSERT INTO vat_code_map VALUES (?, 'EXP', NULL, 0, 'exempt', 'test')", [DIV])
    clock.advance(3600)
    second = run_reconciliation(store, w.settings(), PERIOD, clock=clock)
    assert second.counts["missing_in_exact"] == 0 and first.counts["missing_in_exact"] == 1
    assert results(store, first.run_id).equals(before)
    assert latest_run(store).run_id == second.run_id
    assert latest_run(store, PERIOD, division=DIV, shop="woo").run_id == second.run_id
    assert latest_run(store, "2026-09") is None
    reading = {r["vat_code"]: r for r in vat_code_reading(store, second.run_id).iter_rows(named=True)
               if r["division"] == DIV}
    assert reading["EXP"]["treatment"] == "exempt" and reading["EXP"]["source"] == "vat_code_map"
    assert reading["DEH"] == {**reading["DEH"], "country": "DE", "treatment": "oss", "source": "exact_vat_codes"}
    assert reading["ICL"]["treatment"] == "reverse_charge" and reading["2"]["country"] == "NL"
    first_reading = {r["vat_code"]: r["treatment"] for r in vat_code_reading(store, first.run_id).iter_rows(named=True)}
    assert first_reading["EXP"] == "export"
    runs = list_runs(store)
    assert runs["run_id"].to_list() == [second.run_id, first.run_id]
    assert runs["differences"].to_list() == [second.differences, first.differences]
    from exactsync import views

    shown = views.runs_page(store).rows
    assert shown["tolerance_text"].to_list() == ["0.01 / 0.01 / 0.01"] * 2
    delete_run(store, first.run_id)
    with pytest.raises(ReconcileError):
        load_run(store, first.run_id)
    assert results(store, first.run_id).height == 0


def test_dashboard_reads(store):
    w = World()
    month(w)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    assert count_differences(store, run.run_id) == 3
    page = differences(store, run.run_id, limit=2)
    assert page.height == 2 and page["status_label"].null_count() == 0
    assert page["delta_gross"].abs().to_list() == sorted(page["delta_gross"].abs().to_list(), reverse=True)
    rest = differences(store, run.run_id, limit=2, offset=2)
    assert rest.height == 1 and not set(rest["result_key"]) & set(page["result_key"])
    only = differences(store, run.run_id, DiffFilters(statuses=["vat_differs"]))
    assert only["doc_key"].to_list() == ["woo:invoice:6"]
    assert differences(store, run.run_id, DiffFilters(search="WC-5"))["status"].to_list() == ["only_in_exact"]
    assert count_differences(store, run.run_id, DiffFilters(include_ok=True)) == 6
    assert count_differences(store, run.run_id, DiffFilters(countries=["de"], include_ok=True)) == 2
    assert count_differences(store, run.run_id, DiffFilters(min_amount="100")) == 1

    by_status = amounts_by_status(store, run.run_id)
    assert dict(by_status.select("status", "documents").iter_rows()) == {
        "matched": 3, "missing_in_exact": 1, "only_in_exact": 1, "vat_differs": 1}
    days = differences_by_day(store, run.run_id)
    assert days["day"].to_list() == [dt.date(2026, 10, 3), dt.date(2026, 10, 4), dt.date(2026, 10, 5)]

    detail = document_detail(store, run.run_id, "doc:woo:invoice:6")
    assert detail["status"] == "vat_differs" and "VAT split" in detail["explanation"]
    assert detail["shop"].height == 1 and detail["shop_lines"].height == 2
    assert detail["exact"].height == 1 and detail["exact_lines"]["treatment"].to_list() == ["domestic"]
    assert detail["vat_comparison"].height == 2
    only_exact = document_detail(store, run.run_id, f"exact:{DIV}:WC-5")
    assert only_exact["shop"] is None and only_exact["exact"].height == 1
    assert document_detail(store, run.run_id, "doc:nope") is None


def test_vat_by_country_is_oss_shaped_and_equals_a_per_document_sum(store):
    w = World()
    month(w)
    w.book(w.doc(7, "2026-10-07", [oss("DE", "100", "19"), oss("DE", "40", "7")], country="DE"), customer="acc-de")
    w.book(w.doc(8, "2026-10-08", [oss("BE", "80", "21")], country="BE"), customer="acc-be")
    w.book(w.doc(9, "2026-10-09", kind="credit_note", lines=[oss("DE", "-100", "19")], country="DE"),
           customer="acc-de")
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    vat = vat_by_country(store, run.run_id)
    rows = {(r["treatment"], r["country"], r["rate"]): r for r in vat.iter_rows(named=True)}
    de19 = rows[("oss", "DE", D(19))]
    assert (de19["shop_base"], de19["shop_vat"]) == (D("200"), D("38.00"))  # 200 + 100 − 100
    assert (de19["exact_base"], de19["exact_vat"]) == (D("200"), D("38.00")) and de19["delta_vat"] == 0
    assert rows[("oss", "DE", D(7))]["shop_vat"] == D("2.80")
    assert rows[("oss", "BE", D(21))]["exact_vat"] == D("16.80")
    rc = rows[("reverse_charge", "DE", D(0))]
    assert rc["shop_base"] == D(300) and rc["exact_base"] == D(300)  # Exact's country from the account
    treatments = vat["treatment"].to_list()
    assert treatments.index("domestic") < treatments.index("oss") < treatments.index("reverse_charge")
    # independent sum straight from the canonical tables
    expect = store.rows("""SELECT sum(l.vat) FROM shop_vat_lines l JOIN shop_documents d USING (doc_key)
                           WHERE d.doc_date BETWEEN '2026-10-01' AND '2026-10-31' AND l.country = 'DE'
                             AND l.treatment = 'oss'""")[0][0]
    assert sum(vat.filter((pl.col("country") == "DE") & (pl.col("treatment") == "oss"))["shop_vat"].to_list()) == expect


def test_exports(store, tmp_path):
    w = World()
    month(w)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)

    xlsx = export_run(store, run.run_id, tmp_path / "out" / "run.xlsx")
    with zipfile.ZipFile(xlsx) as z:
        assert z.testzip() is None
        book = z.read("xl/workbook.xml").decode()
        names = z.namelist()
    for sheet in ("Summary", "Differences", "VAT per country", "VAT domestic", "VAT OSS", "VAT reverse charge",
                  "VAT codes"):
        assert f'name="{sheet}"' in book
    assert sum(1 for n in names if n.startswith("xl/worksheets/sheet")) == 7

    csv = export_run(store, run.run_id, tmp_path / "run.csv")
    back = pl.read_csv(csv, infer_schema=False)
    assert back.height == 6 and {"status", "cause", "delta_gross", "flags", "entry_ids"} <= set(back.columns)
    assert sum(Decimal(x) for x in back["shop_gross"].drop_nulls()) == run.totals["shop_gross"]

    archive = export_run(store, run.run_id, tmp_path / "run.zip")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["differences.csv", "results.csv", "summary.csv", "vat_by_country.csv",
                                        "vat_codes.csv"]
        assert "only_in_exact" in z.read("differences.csv").decode()

    with pytest.raises(ReconcileError):
        export_run(store, run.run_id, tmp_path / "run.pdf")
    with pytest.raises(ReconcileError):
        export_run(store, "no-such-run", tmp_path / "x.xlsx")


def _cli_month(tmp_path):
    """The CLI (commands loaded), a configuration for one shop and a store holding the month."""
    return _cli_world(tmp_path)[:3]


def _cli_world(tmp_path):
    """:func:`_cli_month` and the world that wrote the month (to book more of it)."""
    from exactsync.cli.main import cli, load_commands

    load_commands()
    cfg, store, w = _cli_setup(tmp_path, [DIV])
    month(w)
    w.write(store)
    return cli, cfg, store, w


def test_cli_reconcile(tmp_path):
    cli, cfg, store = _cli_month(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["--config", str(cfg), "reconcile", "--period", PERIOD, "--json",
                            "--export", str(tmp_path / "r.xlsx")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["counts"]["missing_in_exact"] == 1 and data["differences"] == 3
    assert data["totals"]["shop_gross"] == str(run_total(store, data["run_id"]))
    assert (tmp_path / "r.xlsx").exists()
    assert data["since_previous"] is None  # the period's first run
    r = runner.invoke(cli, ["--config", str(cfg), "reconcile", "--period", PERIOD, "--shop", "woo",
                            "--division", str(DIV), "--tolerance", "0.05"], catch_exceptions=False)
    assert r.exit_code == 0 and "Missing in Exact" in r.output and "Total" in r.output
    second = latest_run(store, PERIOD).run_id
    assert (f"The 3 difference(s), largest first, with why: exactsync runs show {second} --differences"
            in r.output), r.output
    assert (f"Since the previous run of this period ({data['run_id']}, " in r.output
            and "0 difference(s) resolved, 0 new, 3 still open" in r.output), r.output
    # the table adds amounts of one currency: the division's (EUR here), and says so
    assert "shop gross (EUR)" in r.output and "Exact gross (EUR)" in r.output
    dc_total = store.scalar("SELECT sum(shop_gross_dc) FROM recon_results WHERE run_id = ("
                            "SELECT run_id FROM recon_runs ORDER BY created_at DESC LIMIT 1)")
    assert f"{dc_total:,.2f}" in next(line for line in r.output.splitlines() if line.strip().startswith("Total"))
    r = runner.invoke(cli, ["--config", str(cfg), "reconcile", "--period", "2026-13"], catch_exceptions=False)
    assert r.exit_code == 2 and "2026-10" in r.output


def run_total(store, run_id):
    return store.scalar("SELECT sum(shop_gross) FROM recon_results WHERE run_id = ?", [run_id])


def test_a_matched_row_keeps_its_saved_amounts_after_the_document_changes(store):
    """Matched rows are saved slim (recon_result_matched): key, entry and amounts. A later pull that
    changes the document does not change the old run's row; the new run sees the change."""
    w = World()
    d = w.doc(1, "2026-10-01")
    w.book(d)
    w.write(store)
    first = run_reconciliation(store, w.settings(), PERIOD)
    before = results(store, first.run_id).row(0, named=True)
    assert before["status"] == "matched" and before["shop_gross"] == D("121.0000")
    assert store.scalar("SELECT count(*) FROM recon_result_matched WHERE run_id = ?", [first.run_id]) == 1
    assert store.scalar("SELECT count(*) FROM recon_result_rows WHERE run_id = ?", [first.run_id]) == 0
    # the order is edited in the shop: the document now says 242 (the entry still 121)
    with store.atomic() as con:
        con.execute("UPDATE shop_documents SET net = 200, vat = 42, gross = 242 WHERE doc_key = ?", [before["doc_key"]])
    second = run_reconciliation(store, w.settings(), PERIOD)
    after = results(store, first.run_id).row(0, named=True)
    assert after == before  # every column of the saved row, as it was
    assert results(store, second.run_id).row(0, named=True)["status"] == "amount_differs"
    assert amounts_by_status(store, first.run_id)["shop_gross"].to_list() == [D("121.0000")]


def test_timings_cover_every_step_and_the_commit(store):
    """bench/reconcile.py prints these: one figure per step, the save steps and DuckDB's commit."""
    w = World()
    month(w)
    w.write(store)
    timings: dict[str, float] = {}
    run_reconciliation(store, w.settings(), PERIOD, timings=timings)
    assert {"doc", "e0", "fin", "summary", "ins_matched", "ins_rows", "ins_vat", "commit"} <= set(timings)
    assert all(v >= 0 for v in timings.values())
    assert list(timings)[-1] == "commit"


def test_an_unknown_division_is_an_error_not_an_empty_run(store):
    """`--division 70001` (a digit short) used to save an empty run that then showed as the latest."""
    w = World()
    month(w)
    w.write(store)
    with pytest.raises(ReconcileError, match=rf"unknown division 999: neither configured nor pulled \(known: {DIV}[,)]"):
        run_reconciliation(store, w.settings(), PERIOD, divisions=[999])
    assert list_runs(store).height == 0
    assert run_reconciliation(store, w.settings(), PERIOD, divisions=[DIV]).counts["matched"] > 0


def test_a_run_saved_before_it_recorded_its_currency_reads_the_divisions(store):
    """Runs before engine version 3 have no division_currencies: the dashboard labels their amounts
    with the divisions' currency as pulled; a new run carries its own."""
    from exactsync import views

    w = World()
    month(w)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD, divisions=[DIV])
    assert views.run_info(store, run.run_id)["currency"] == run.currency == "EUR"
    store.execute("UPDATE recon_runs SET params = json_object('period', ?) WHERE run_id = ?", [PERIOD, run.run_id])
    assert load_run(store, run.run_id).currency is None
    assert views.run_info(store, run.run_id)["currency"] == "EUR"


def test_differences_are_sized_in_the_division_currency(store):
    """A SEK document missing in Exact (1,210 SEK = 110 EUR by its base amounts) and an EUR one
    (121 EUR): the EUR one is the larger difference, and a 120 minimum keeps only it."""
    from recon_world import D, nl

    w = World()
    w.doc(960, currency="SEK", base_currency="EUR", fx=D(11), lines=[nl("1000")])  # missing, 1,210 SEK
    w.doc(961, lines=[nl("100")])  # missing, 121 EUR
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    page = differences(store, run.run_id)
    assert page["doc_key"].to_list() == ["woo:invoice:961", "woo:invoice:960"]
    assert page["delta_gross_dc"].to_list() == [D("-121.0000"), D("-110.0000")]
    assert differences(store, run.run_id, DiffFilters(min_amount="120"))["doc_key"].to_list() == ["woo:invoice:961"]


def test_period_words_for_cron_are_months_in_the_shops_time_zone():
    from types import SimpleNamespace

    from exactsync.clock import FakeClock
    from exactsync.reconcile import resolve_period

    # 00:30 on 1 November in Amsterdam is still 31 October in UTC
    clock = FakeClock(dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.timezone.utc))
    amsterdam = SimpleNamespace(shops={"woo": SimpleNamespace(timezone="Europe/Amsterdam")})
    assert resolve_period("previous", amsterdam, clock) == "2026-10"
    assert resolve_period("current", amsterdam, clock) == "2026-11"
    utc = SimpleNamespace(shops={"woo": SimpleNamespace(timezone="UTC")})
    assert resolve_period("previous", utc, clock) == "2026-09"
    january = FakeClock(dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.timezone.utc))
    assert resolve_period("Previous", amsterdam, january) == "2026-12"  # across the year
    assert resolve_period("2026-10", amsterdam, clock) == "2026-10"  # a month stays as given
    both = SimpleNamespace(shops={"woo": SimpleNamespace(timezone="Europe/Amsterdam"),
                                  "m2": SimpleNamespace(timezone="America/New_York")})
    with pytest.raises(ReconcileError, match="different time zones"):
        resolve_period("previous", both, clock)
    # a run of one shop (--shop): only its zone counts
    assert resolve_period("previous", both, clock, shops=["woo"]) == "2026-10"
    assert resolve_period("previous", both, clock, shops=["m2"]) == "2026-09"


def test_cli_reconcile_and_push_take_previous_for_the_month_before(tmp_path):
    cli, cfg, _ = _cli_month(tmp_path)
    clock = tmp_path / "clock"
    clock.write_text(str(dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.timezone.utc).timestamp()))
    runner = CliRunner()
    r = runner.invoke(cli, ["--config", str(cfg), "--simulated-clock", str(clock), "reconcile", "--period", "previous",
                            "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output[r.output.index("{"):])
    assert data["period"] == PERIOD and data["counts"]["missing_in_exact"] == 1
    r = runner.invoke(cli, ["--config", str(cfg), "--simulated-clock", str(clock), "push", "--period", "previous",
                            "--dry-run"], catch_exceptions=False)
    assert re.search(rf"Selected from reconciliation run {data['run_id']} \({PERIOD}\)", r.output), r.output
    # the run is stamped by the command's clock (here the simulated one), like the push's jobs
    assert data["run_id"].startswith("20261103T0800")


def _pulled(store, when: dict[str, dt.datetime]) -> None:
    """sync_state rows as the pulls write them: source/scope → last success (naive UTC)."""
    with store.atomic() as con:
        for key, at in when.items():
            source, _, scope = key.partition("@")
            con.execute("INSERT OR REPLACE INTO sync_state (source, scope, last_success_at, last_attempt_at) "
                        "VALUES (?, ?, ?, ?)", [source, scope, at, at])


def test_a_run_warns_of_shops_and_divisions_not_pulled_since_the_period_ended(store):
    from exactsync.reconcile import load_run
    from recon_world import OTHER_DIV

    w = World()
    month(w)
    w.write(store)
    settings = w.settings()
    assert run_reconciliation(store, settings, PERIOD).warnings == []  # no pull ever: rows written directly

    after = dt.datetime(2026, 11, 2, 6, 0)
    _pulled(store, {
        "shop:woo:orders@": dt.datetime(2026, 11, 1, 9, 0), "shop:woo:refunds@": dt.datetime(2026, 10, 30, 14, 2),
        # 00:30 on 1 November in Amsterdam: after the period ended there, though still 31 October in UTC
        "shop:mag:invoices@": dt.datetime(2026, 10, 31, 23, 30), "shop:mag:creditmemos@": after,
        f"exact:transaction_lines@{DIV}": dt.datetime(2026, 10, 31, 12, 0),
        f"exact:transaction_lines@{OTHER_DIV}": after,
    })
    run = run_reconciliation(store, settings, PERIOD)
    assert run.warnings == [
        "shop woo was last pulled 2026-10-30 14:02 UTC, before 2026-10 ended: documents after that are not in "
        "this run (pull it and reconcile again)",
        f"Exact division {DIV} was last pulled 2026-10-31 12:00 UTC, before 2026-10 ended: entries booked after "
        f"that are not in this run (pull it and reconcile again)",
    ]
    assert load_run(store, run.run_id).warnings == run.warnings  # saved with the run
    with zipfile.ZipFile(export_run(store, run.run_id, store.path.parent / "run.zip")) as z:
        summary_csv = z.read("summary.csv").decode()
    assert summary_csv.count("\nwarning,") == 2 and "shop woo was last pulled" in summary_csv  # and in its export

    _pulled(store, {"shop:woo:refunds@": after, f"exact:transaction_lines@{DIV}": after})
    assert run_reconciliation(store, settings, PERIOD).warnings == []
    with store.atomic() as con:
        con.execute("DELETE FROM sync_state WHERE source LIKE 'shop:mag:%'")
    assert run_reconciliation(store, settings, PERIOD).warnings == [
        "shop mag has not been pulled successfully (exactsync pull shop --shop mag): its documents may be "
        "missing from this run"]
    # a month in progress (mid-October, Amsterdam): one warning that it is not over, not one per shop
    mid_month = FakeClock(dt.datetime(2026, 10, 15, 12, 0, tzinfo=dt.timezone.utc))
    assert run_reconciliation(store, settings, PERIOD, clock=mid_month).warnings == [
        "2026-10 is not over yet: this run shows what was pulled until now; reconcile it again after the "
        "month has ended and everything is pulled"]


def test_cli_reconcile_prints_the_runs_warnings_and_push_repeats_them(tmp_path):
    cli, cfg, store = _cli_month(tmp_path)
    _pulled(store, {"shop:woo:orders@": dt.datetime(2026, 10, 20, 8, 0),
                    f"exact:transaction_lines@{DIV}": dt.datetime(2026, 10, 25, 8, 0)})
    r = CliRunner().invoke(cli, ["--config", str(cfg), "reconcile", "--period", PERIOD], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "WARNING: shop woo was last pulled 2026-10-20 08:00 UTC, before 2026-10 ended" in r.output
    r = CliRunner().invoke(cli, ["--config", str(cfg), "--json", "reconcile", "--period", PERIOD], catch_exceptions=False)
    assert json.loads(r.output)["warnings"][0].startswith("shop woo was last pulled")
    # push: the warnings of the run its plan comes from, under the line that names the run
    r = CliRunner().invoke(cli, ["--config", str(cfg), "push", "--period", PERIOD, "--dry-run"], catch_exceptions=False)
    assert re.search(r"Selected from reconciliation run \S+ \(2026-10\)\.\nWARNING: the 2026-10 run: shop woo was "
                     r"last pulled 2026-10-20 08:00 UTC.*\nWARNING: the 2026-10 run: Exact division "
                     rf"{DIV} was last pulled 2026-10-25 08:00 UTC, before 2026-10 ended", r.output), r.output


def test_compare_runs_says_which_differences_were_resolved_and_which_are_new(store):
    """The month: doc 4 missing, WC-5 only in Exact, doc 6 VAT differs. Then doc 4 gets booked and
    a new document 9 comes without an entry: the next run has 1 resolved, 1 new, 2 still open."""
    from exactsync.reconcile import compare_runs

    w = World()
    month(w)
    w.write(store)
    first = run_reconciliation(store, w.settings(), PERIOD)
    assert compare_runs(store, first.run_id) is None  # nothing before it
    w.book(w.doc(4, "2026-10-03"))
    w.doc(9, "2026-10-09")
    w.write(store)
    one_shop = run_reconciliation(store, w.settings(), PERIOD, shops=["mag"])  # another scope: not compared
    assert compare_runs(store, one_shop.run_id) is None
    second = run_reconciliation(store, w.settings(), PERIOD)
    changes = compare_runs(store, second.run_id)
    assert (changes.previous_run_id, changes.resolved, changes.new, changes.still, changes.changed) == \
        (first.run_id, 1, 1, 2, 0)
    assert changes.sentence().startswith(f"Since the previous run of this period ({first.run_id}, ")
    assert "1 difference(s) resolved, 1 new, 2 still open" in changes.sentence()
    back = compare_runs(store, first.run_id, second.run_id)  # any two runs, either way round
    assert (back.resolved, back.new, back.still) == (1, 1, 2)
    assert compare_runs(store, run_reconciliation(store, w.settings(), "2026-09").run_id) is None  # another period
    assert changes.other_options == () and "other options" not in changes.sentence()
    # other options: the sentence says so (a run that does not flag drafts has not "resolved" them)
    no_drafts = compare_runs(store, run_reconciliation(store, w.settings(), PERIOD, flag_draft=False).run_id)
    assert no_drafts.previous_run_id == second.run_id and no_drafts.other_options == ("drafts flagged (now not)",)
    assert no_drafts.sentence().endswith("; that run had other options (drafts flagged (now not)), so some of this "
                                         "comes from them, not from the shops or Exact")
    wider = compare_runs(store, run_reconciliation(store, w.settings(), PERIOD, tolerance="0.05",
                                                   flag_draft=False).run_id)
    assert wider.other_options == ("tolerance 0.01 / 0.01 / 0.01 (now 0.05 / 0.05 / 0.05)",)


def test_cli_explains_the_exchange_difference_of_matched_documents_in_another_currency(tmp_path):
    """A GBP invoice booked in GBP with the same amounts is matched; Exact converts it at its own rate,
    the shop at its own, so the EUR totals of the matched row differ. The CLI says why, with the
    amounts; a month all in EUR says nothing of the kind."""
    cli, cfg, store = _cli_month(tmp_path)
    r = CliRunner().invoke(cli, ["--config", str(cfg), "reconcile", "--period", PERIOD], catch_exceptions=False)
    assert r.exit_code == 0 and "Exchange rates" not in r.output
    assert load_run(store, latest_run(store, PERIOD).run_id).exchange == {}

    w = World(prefixes={"woo": "WC-"}, shop_divisions={"woo": DIV})
    gbp = w.doc(70, "2026-10-12", currency="GBP", fx=D("0.85"), country="GB")  # 100 + 21 GBP = 142.3529 EUR
    w.book(gbp, customer=None, fx=D("1.1765"))  # Exact: 117.65 + 24.71 = 142.36 EUR
    w.write(store, reference=False)
    r = CliRunner().invoke(cli, ["--config", str(cfg), "--json", "reconcile", "--period", PERIOD], catch_exceptions=False)
    data = json.loads(r.output)
    row = results(store, data["run_id"]).filter(pl.col("doc_key") == gbp.doc_key).row(0, named=True)
    assert row["status"] == "matched" and row["delta_gross"] == 0
    assert data["exchange"] == {"documents": 1, "currencies": ["GBP"], "net": str(row["delta_net_dc"]),
                                "vat": str(row["delta_vat_dc"]), "gross": str(row["delta_gross_dc"])}
    assert D(data["exchange"]["gross"]) == D("142.36") - (D(121) / D("0.85")).quantize(D("0.0001"))
    r = CliRunner().invoke(cli, ["--config", str(cfg), "reconcile", "--period", PERIOD], catch_exceptions=False)
    assert ("Exchange rates: 1 matched document(s) in GBP agree in their own currency; in EUR, Exact's amounts "
            "differ from the shop's by gross 0.01 (net 0.00, VAT 0.00): the two systems' exchange rates, not a "
            "booking difference") in r.output


def test_a_run_with_nothing_on_one_side_warns_instead_of_reading_as_a_clean_month(store):
    """Nothing pulled: 0 documents, 0 differences — which must not look like a reconciled month. Only
    documents (Exact not pulled): every document is missing, and the run says why before a push."""
    w = World()
    settings = w.settings()
    run = run_reconciliation(store, settings, PERIOD)
    assert run.differences == 0 and run.warnings == [
        f"no shop documents dated {PERIOD} in the store (shops: mag, woo): pull the shops (exactsync pull shop), "
        "or check the period and the shops' settings",
        f"no Exact entries for this run (divisions: {DIV}, {OTHER_DIV}): pull Exact (exactsync pull exact) before "
        "pushing anything"]
    w.doc(1, "2026-10-01")
    w.write(store, reference=False)
    run = run_reconciliation(store, settings, PERIOD)
    assert run.counts["missing_in_exact"] == 1
    assert run.warnings == [f"no Exact entries for this run (divisions: {DIV}, {OTHER_DIV}): every document shows "
                            "as missing; pull Exact (exactsync pull exact) before pushing anything"]
    w.book(w.doc(2, "2026-10-02"))
    w.write(store, reference=False)
    assert run_reconciliation(store, settings, PERIOD).warnings == []


def _cli_setup(tmp_path, divisions):
    """(config file, store, world) for the CLI tests: shop woo (prefix WC-) booking into DIV."""
    from exactsync.store import Store

    cfg = tmp_path / "exactsync.toml"
    cfg.write_text(f'[store]\npath = "s.duckdb"\n[exact]\ndivisions = [{", ".join(map(str, divisions))}]\n'
                   f'[shops.woo]\nkind = "woocommerce"\ndivision = {DIV}\nreference_prefix = "WC-"\n')
    return cfg, Store.open(tmp_path / "s.duckdb"), World(prefixes={"woo": "WC-"}, shop_divisions={"woo": DIV})


def test_cli_runs_lists_reopens_and_exports_a_saved_run_as_it_was(tmp_path):
    """`runs` lists saved runs; `runs show` reopens one with its differences as they were when it ran,
    after the month was booked further; `runs export` writes that run, not today's data."""
    cli, cfg, store, w = _cli_world(tmp_path)
    runner = CliRunner()

    def run(*args, code=0):
        r = runner.invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
        assert r.exit_code == code, r.output
        return r.output

    assert "No reconciliation run saved (`exactsync reconcile --period YYYY-MM` saves one)." in run("runs")
    assert "no reconciliation run saved for 2026-10" in run("runs", "show", "--period", PERIOD, code=2)
    first = json.loads(run("--json", "reconcile", "--period", PERIOD))["run_id"]
    w.book(w.doc(4, "2026-10-03"))  # the missing document gets booked
    w.write(store)
    second = json.loads(run("--json", "reconcile", "--period", PERIOD))["run_id"]

    listed = run("runs")
    assert listed.index(second) < listed.index(first)  # newest first
    assert re.search(rf"{first}\s+\S+ \S+ 2026-10\s+5\s+3\s+{DIV} · woo", listed), listed
    assert re.search(rf"{second}\s+\S+ \S+ 2026-10\s+5\s+2\s+{DIV} · woo", listed), listed
    assert "… and 1 more (--limit N to see them)" in run("runs", "--limit", "1")
    assert json.loads(run("--json", "runs", "--period", "2026-09")) == {"total": 0, "runs": []}

    # the first run, reopened: the document was missing then, whatever Exact holds now
    shown = run("runs", "show", first, "--differences")
    assert f"Run {first} · period 2026-10" in shown and "(saved: shown as it was then)" in shown
    assert re.search(r"Missing in Exact\s+1 ", shown) and "3 result(s) that differ:" in shown
    heading = shown.split("3 result(s) that differ:\n")[1].splitlines()[0]
    assert heading.split()[:4] == ["status", "reference", "shop", "date"]  # one division: no column for it
    line = next(x for x in shown.splitlines() if x.strip().startswith("Missing in Exact") and "WC-4" in x)
    assert "woo" in line and "2026-10-03" in line and "no Exact entry with reference WC-4" in line
    assert "Missing in Exact" not in run("runs", "show", "latest", "--differences")  # booked since
    assert "No result with that selection." in run("runs", "show", second, "--status", "missing")
    found = run("runs", "show", second, "--search", "WC-4").split("with that selection:")[1]  # booked now: matched
    assert re.search(r"\n  Matched\s+WC-4\s+woo\s+2026-10-03", found) and "1 result(s)" in run("runs", "show", second, "--search", "WC-4")
    data = json.loads(run("--json", "runs", "show", first[:-2], "--status", "missing,only"))
    assert data["run_id"] == first and data["rows_total"] == 2 and data["differences"] == 3  # the run's count stays
    assert sorted(d["status"] for d in data["rows"]) == ["missing_in_exact", "only_in_exact"]
    assert data["since_previous"] is None
    assert json.loads(run("--json", "runs", "show"))["since_previous"]["resolved"] == 1
    matched = run("runs", "show", first, "--status", "matched", "--limit", "1").split("with that selection:")[1]
    assert re.search(r"\n  Matched\s+WC-\d", matched) and "… and 2 more (--limit N to see them)" in matched

    # a document in another currency than the division's: its difference in EUR too (the list's order)
    gbp = w.doc(60, "2026-10-12", currency="GBP", base_currency="EUR", fx=D("0.8"), country="GB")
    w.entry(w.reference(gbp), "2026-10-12", [("2", D(125), D("26.25"))], currency="EUR")  # booked in EUR
    w.write(store)
    third = json.loads(run("--json", "reconcile", "--period", PERIOD))["run_id"]
    row = differences(store, third, DiffFilters(statuses=["currency_differs"])).row(0, named=True)
    line = next(x for x in run("runs", "show", third, "--status", "currency").splitlines() if "WC-60" in x)
    assert row["delta_gross"] is None  # EUR against GBP: no difference in the document's currency
    assert re.search(rf"\s- GBP  \(= {row['delta_gross_dc']:,.2f} EUR\) document in GBP, booked in EUR", line), line
    assert "(= " not in next(x for x in run("runs", "show", third, "--status", "only").splitlines() if "WC-5" in x)

    # VAT per country, OSS-shaped: treatments apart, shop beside Exact, to the cent of the run
    vat = run("runs", "show", first, "--vat")
    want = vat_by_country(store, first)
    oss_de = want.filter((pl.col("treatment") == "oss") & (pl.col("country") == "DE")).row(0, named=True)
    block = vat.split("EU distance sales (OSS):")[1].split("\n\n")[0]
    assert re.search(rf"\n  DE\s+19.00 EUR\s+{oss_de['shop_base']:,.2f}\s+{oss_de['shop_vat']:,.2f}\s+"
                     rf"{oss_de['exact_base']:,.2f}\s+{oss_de['exact_vat']:,.2f}", block), vat
    assert "Domestic:" in vat and "Intra-EU B2B (reverse charge):" in vat
    assert vat.index("Domestic:") < vat.index("EU distance sales (OSS):")
    data = json.loads(run("--json", "runs", "show", first, "--vat"))
    assert len(data["vat_by_country"]) == want.height

    # what cannot be found is said, with what to do
    assert "is the start of several runs" in run("runs", "show", "2", code=2)
    assert "no reconciliation run 'nope'" in run("runs", "show", "nope", code=2)
    assert "unknown status 'nosuchstatus'" in run("runs", "show", "--status", "nosuchstatus", code=2)

    out = tmp_path / "first.csv"
    assert f"Exported run {first} (period 2026-10" in run("runs", "export", first, str(out))
    back = pl.read_csv(out, infer_schema=False)
    assert back.filter(pl.col("doc_key").str.ends_with(":4"))["status"].to_list() == ["missing_in_exact"]
    assert (tmp_path / "latest.xlsx").exists() is False
    run("runs", "export", "latest", str(tmp_path / "latest.xlsx"), "--period", PERIOD)
    assert zipfile.is_zipfile(tmp_path / "latest.xlsx")


def test_cli_runs_show_names_the_division_of_each_difference_in_a_run_over_several(tmp_path):
    """WC-1 only in Exact in the holding's division (700002-like) read as wrong beside WC-1 of the
    shop's own division: in a run over several divisions each difference says its division."""
    from exactsync.cli.main import cli, load_commands
    from exactsync.store import Store

    load_commands()
    cfg, store, w = _cli_setup(tmp_path, [DIV, OTHER_DIV])
    w.book(w.doc(1, "2026-10-01"))
    w.doc(2, "2026-10-02")  # missing in its own division
    w.entry("WC-1", "2026-10-01", division=OTHER_DIV)  # the same reference, booked in the other one
    w.write(store)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(cfg), "reconcile", "--period", PERIOD]).exit_code == 0
    r = runner.invoke(cli, ["--config", str(cfg), "runs", "show", "--differences"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    listed = r.output.split("2 result(s) that differ:\n")[1].splitlines()
    assert listed[0].split()[:5] == ["status", "reference", "shop", "division", "date"], r.output
    assert re.search(rf"^  Only in Exact \(no shop document\) +WC-1 +- +{OTHER_DIV} +2026-10-01 ",
                     next(x for x in listed if "WC-1 " in x)), r.output
    assert re.search(rf"^  Missing in Exact +WC-2 +woo +{DIV} +2026-10-02 ",
                     next(x for x in listed if "WC-2" in x)), r.output
    data = json.loads(runner.invoke(cli, ["--config", str(cfg), "--json", "runs", "show", "--differences"]).output)
    assert sorted(d["division"] for d in data["rows"]) == sorted([DIV, OTHER_DIV])


def test_cli_status_shows_the_newest_runs_and_the_push_jobs(tmp_path):
    """`status` answers "where are we" for an integrator: the newest runs with their differences,
    and push jobs by status, with what to do about jobs in Error."""
    cli, cfg, store = _cli_month(tmp_path)
    runner = CliRunner()

    def run(*args):
        r = runner.invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    out = run("status")
    assert "Reconciliation runs:\n  none yet (`exactsync reconcile --period YYYY-MM`)" in out
    assert "Push jobs: none yet" in out
    ids = [json.loads(run("--json", "reconcile", "--period", PERIOD))["run_id"] for _ in range(4)]
    with store.atomic() as con:
        for i, status in enumerate(("Synced", "Error", "Error")):
            con.execute("INSERT INTO push_jobs (job_id, kind, division, journal_code, your_ref, payload, payload_hash, "
                        "status, created_at, updated_at) VALUES (?, 'create', ?, '70', ?, '{}', 'h', ?, now(), now())",
                        [f"j{i}", DIV, f"WC-{i}", status])
    out = run("status")
    assert "Reconciliation runs (3 newest of 4):" in out
    shown = [line for line in out.splitlines() if line.startswith(f"  {PERIOD}  ")]
    assert [line.split()[1] for line in shown] == ids[:0:-1]  # newest first, the oldest left out
    assert all("5 documents, 3 differences" in line for line in shown)
    assert "Push jobs: 2 Error, 1 Synced" in out and "`exactsync push jobs --status Error` says why" in out
    info = json.loads(run("--json", "status"))
    assert info["runs_total"] == 4 and [r["run_id"] for r in info["runs"]] == ids[:0:-1]
    assert info["push_jobs"] == {"Error": 2, "Synced": 1}

    # a failed night of cron shows at a glance: the newest errors of the sync log, newest first
    from exactsync.store import Store

    assert "Errors in the sync log, last 7 days: none" in out
    with store.atomic() as con:
        for i in range(7):
            Store.log_event(con, "shop:woo:orders", f"order {i}: total is not a number", record_key=f"woo:{i}")
        Store.log_event(con, "shop:woo:orders", "pulled 5 documents, 7 errors", level="info")
        Store.log_event(con, "shop:woo:orders", "an error of last month")
        con.execute("UPDATE sync_log SET logged_at = logged_at - INTERVAL 8 DAY WHERE message = 'an error of last month'")
    out = run("status")
    assert "Errors in the sync log, last 7 days: 7, the newest:" in out
    assert "(`exactsync log --level error` lists them all; the dashboard's Sync log has their details)" in out
    assert "an error of last month" not in out
    listed = [line for line in out.splitlines() if "total is not a number" in line]
    assert len(listed) == 5 and "shop:woo:orders woo:6: order 6: total is not a number" in listed[0]
    assert "pulled 5 documents" not in out  # only errors
    assert json.loads(run("--json", "status"))["errors_total"] == 7


def test_cli_runs_prune_and_delete_say_first_and_delete_only_with_yes(tmp_path):
    """Runs add up (the dashboard's button makes one each time): `runs prune` keeps the newest runs
    of each period, `runs delete` the ones named. Both list what would go and delete only with --yes;
    a name that fits no run deletes nothing at all."""
    cli, cfg, store = _cli_month(tmp_path)
    runner = CliRunner()

    def run(*args, code=0):
        r = runner.invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
        assert r.exit_code == code, r.output
        return r.output

    ids = [json.loads(run("--json", "reconcile", "--period", PERIOD))["run_id"] for _ in range(4)]
    other = json.loads(run("--json", "reconcile", "--period", "2026-09"))["run_id"]
    said = run("runs", "prune", "--keep", "2")
    assert "Would delete 2 run(s):" in said and ids[0] in said and ids[1] in said and ids[2] not in said
    assert "(nothing deleted: add --yes" in said and count_runs(store) == 5
    assert json.loads(run("--json", "runs", "prune", "--keep", "2"))["would_delete"][0]["run_id"] == ids[0]
    assert "Deleted 2 run(s):" in run("runs", "prune", "--keep", "2", "--yes")
    assert [r["run_id"] for r in list_runs(store).iter_rows(named=True)] == [other, ids[3], ids[2]]
    assert results(store, ids[0]).height == 0 and results(store, ids[3]).height == 6  # its rows went with it
    assert "Nothing to prune: no period has more than 2 run(s)." in run("runs", "prune", "--keep", "2")

    assert "no reconciliation run 'nope'" in run("runs", "delete", ids[2], "nope", "--yes", code=2)
    assert count_runs(store) == 3  # the one that was found is not deleted either
    assert "Would delete 1 run(s)" in run("runs", "delete", ids[2]) and count_runs(store) == 3
    assert "Deleted 2 run(s)" in run("runs", "delete", ids[2], other, "--yes")
    assert [r["run_id"] for r in list_runs(store).iter_rows(named=True)] == [ids[3]]
    with pytest.raises(ReconcileError):
        runs_beyond(store, -1)


def test_differences_say_and_filter_what_else_was_found_beside_the_status(store):
    """A row has one status, the first of its findings by precedence; ``also_label`` names the others
    and ``DiffFilters(conditions=…)`` finds a row by any of them. A wrong amount booked with its VAT
    at the right rate is not also a VAT difference (engine 5); VAT the base does not explain is."""
    w = World()
    month(w)
    d = w.doc(7, "2026-10-06")  # 100 + 21, booked with 90 + 18.90 (21 % of 90) on the German customer's account
    w.entry(w.reference(d), "2026-10-06", [("2", D(90), D("18.90"))], customer="acc-de")
    d = w.doc(8, "2026-10-06")  # 100 + 21, booked with 90 + 21: the VAT of 100 on a base of 90
    w.entry(w.reference(d), "2026-10-06", [("2", D(90), D(21))])
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    row = differences(store, run.run_id, DiffFilters(search="WC-7")).row(0, named=True)
    assert (row["status"], row["flags"]) == ("amount_differs", ["amount_differs", "customer_differs"])
    assert row["also_label"] == "Customer differs"
    row = differences(store, run.run_id, DiffFilters(search="WC-8")).row(0, named=True)
    assert (row["status"], row["flags"]) == ("amount_differs", ["amount_differs", "vat_differs"])
    assert row["also_label"] == "VAT differs (rate, code or country)"
    assert differences(store, run.run_id, DiffFilters(statuses=["customer_differs"])).height == 0
    found = differences(store, run.run_id, DiffFilters(conditions=["customer_differs"]))
    assert found["doc_key"].to_list() == ["woo:invoice:7"]
    vat = differences(store, run.run_id, DiffFilters(conditions=["vat_differs"]))
    assert sorted(vat["doc_key"].to_list()) == ["woo:invoice:6", "woo:invoice:8"]
    assert set(vat.filter(vat["doc_key"] == "woo:invoice:6")["also_label"]) == {""}
    assert count_differences(store, run.run_id, DiffFilters(conditions=["vat_differs", "missing_in_exact"])) == 3


def test_cli_runs_show_found_lists_rows_by_any_finding_and_says_the_others(tmp_path):
    """`runs show --found customer` finds the document whose status is the amount (the first
    finding), and its line names what else was found: the Differences page's Found filter."""
    cli, cfg, store, w = _cli_world(tmp_path)
    d = w.doc(7, "2026-10-06")  # 100 + 21 booked with 90 + 21 (VAT that the base of 90 does not explain)
    w.entry(w.reference(d), "2026-10-06", [("2", D(90), D(21))], customer="acc-de")
    w.write(store)
    runner = CliRunner()

    def run(*args, code=0):
        r = runner.invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
        assert r.exit_code == code, r.output
        return r.output

    run_id = json.loads(run("--json", "reconcile", "--period", PERIOD))["run_id"]
    assert "No result with that selection." in run("runs", "show", run_id, "--status", "customer")
    shown = run("runs", "show", run_id, "--found", "customer")
    line = next(x for x in shown.splitlines() if "WC-7" in x)
    assert "1 result(s) with that selection" in shown and line.strip().startswith("Amount differs")
    assert line.endswith("(also found: VAT differs (rate, code or country); Customer differs)"), line
    data = json.loads(run("--json", "runs", "show", run_id, "--found", "vat,missing"))
    assert sorted(r["doc_key"] for r in data["rows"]) == ["woo:invoice:4", "woo:invoice:6", "woo:invoice:7"]
    assert "also_label" not in data["rows"][0]
    assert "unknown status 'custmer'" in run("runs", "show", run_id, "--found", "custmer", code=2)


def test_cli_bad_periods_and_export_paths_are_clear_errors(tmp_path):
    """A year out of range, a month that does not exist, an export path that cannot be written: one
    line saying so (never a traceback); a path known to be bad is refused before the run is made."""
    cli, cfg, store = _cli_month(tmp_path)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["--config", str(cfg), *args])

    for args in (["reconcile", "--period", "9999-12"], ["runs", "show", "--period", "2026-13"],
                 ["runs", "--period", "0000-01"]):
        r = run(*args)
        assert r.exit_code == 2 and "is not a month like 2026-10" in r.output, (args, r.output)
    assert run("runs", "--limit", "0").exit_code == 2

    (tmp_path / "a-file").write_text("")
    r = run("reconcile", "--period", PERIOD, "--export", str(tmp_path / "a-file" / "r.xlsx"))
    assert r.exit_code == 2 and "a-file is a file, not a folder" in r.output, r.output
    assert store.scalar("SELECT count(*) FROM recon_runs") == 0  # refused before the work

    r = run("reconcile", "--period", PERIOD, "--export", "/proc/r.xlsx")  # passes the check, cannot be written
    assert r.exit_code == 1 and "cannot write the export /proc/r.xlsx" in r.output, r.output
    saved = latest_run(store, PERIOD).run_id
    assert f"(the run {saved} is saved: `exactsync runs export {saved} FILE` writes it again)" in r.output
    assert isinstance(r.exception, SystemExit), r.exception  # a message, not an uncaught error
    r = run("runs", "export", saved, "/proc/r.csv")
    assert r.exit_code == 1 and "cannot write the export /proc/r.csv" in r.output and ".partial" not in r.output

    good = tmp_path / "out" / "r.xlsx"
    good.parent.mkdir()
    good.write_bytes(b"last month's export")
    assert run("runs", "export", saved, str(good)).exit_code == 0
    assert good.read_bytes()[:2] == b"PK" and sorted(p.name for p in good.parent.iterdir()) == ["r.xlsx"]


def test_vat_per_country_keeps_each_division_apart(store, tmp_path):
    """Two administrations in one run: each files its own return, so their VAT is never added up (the
    export and `runs show --vat` used to add the other division's bookings into one table)."""
    import openpyxl

    from exactsync.reconcile import export_run

    w = World()
    w.book(w.doc(1, "2026-10-05"))  # NL 21 %: 100 + 21 in DIV
    w.entry("HOLDING-1", "2026-10-06", division=OTHER_DIV)  # NL 21 %: 100 + 21 in the other division
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    assert sorted(run.divisions) == sorted([DIV, OTHER_DIV])
    vat = vat_by_country(store, run.run_id).filter(pl.col("treatment") == "domestic")
    got = {r["division"]: (r["shop_vat"], r["exact_vat"]) for r in vat.iter_rows(named=True)}
    assert got == {DIV: (D(21), D(21)), OTHER_DIV: (D(0), D(21))}
    one = vat_by_country(store, run.run_id, division=OTHER_DIV)
    assert one["division"].to_list() == [OTHER_DIV] and one["exact_vat"].to_list() == [D(21)]

    sheet = _sheet_rows(openpyxl.load_workbook(export_run(store, run.run_id, tmp_path / "r.xlsx"))["VAT domestic"])
    assert sorted((r["Division"], r["Exact VAT"]) for r in sheet) == sorted([(DIV, 21), (OTHER_DIV, 21)])


def _sheet_rows(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:] if any(v is not None for v in r)]
