"""Mappings suggested from what Exact booked for matched documents: on the demo month pulled from
the sandboxes over HTTP and reconciled (no mappings saved), against the demo's own booking rules."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import polars as pl
import pytest
from click.testing import CliRunner
from demo_support import prepare_demo

from exactsync.cli.main import cli, load_commands
from exactsync.demo.exact_side import gl_for
from exactsync.demo.mappings import demo_mapping_frames
from exactsync.demo.model import Line
from exactsync.mapping import MappingError, load_mappings, read_mapping, save_mapping
from exactsync.mapping_suggest import SUGGESTED_KINDS, suggest_mapping, with_suggestions

load_commands()
Q4 = Decimal("0.0001")


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    m = prepare_demo(tmp_path_factory.mktemp("suggest"), orders=300, mappings=False)
    yield m
    m.stop()


@pytest.fixture
def division(month):
    return next(s.division for s in month.settings.shops.values())


@pytest.fixture
def fresh(month, division):
    """The month's store with no mapping (each test starts from none)."""
    store = month.store()
    with store.atomic() as con:
        for table in ("map_vat_codes", "map_gl_accounts", "map_debtors", "map_cost_centers", "push_settings"):
            con.execute(f"DELETE FROM {table}")
    return store


def matched_docs(store, division) -> list[str]:
    return [r[0] for r in store.rows(
        "SELECT doc_key FROM recon_results WHERE division = ? AND status = 'matched' AND len(entry_ids) = 1",
        [division])]


def save_suggested(store, division):
    for kind in SUGGESTED_KINDS:
        s = suggest_mapping(store, kind, division)
        assert s.documents > 0 and s.frame.height > 0, (kind, s.message)
        result = save_mapping(store, kind, with_suggestions(store, s).drop("error"), division)
        assert result.saved, (kind, result.errors)  # every suggested code is a valid one in Exact
    return load_mappings(store, division)


def test_suggested_vat_codes_and_debtors_book_like_the_demo_does(fresh, division):
    got = save_suggested(fresh, division)
    store = fresh
    docs = matched_docs(store, division)
    truth = demo_mapping_frames(division)  # the rules the demo's Exact side booked by
    expected_vat = {(r["country"], Decimal(r["rate"]).quantize(Q4), r["treatment"]): r["vat_code"]
                    for r in truth["vat"].iter_rows(named=True)}

    def demo_vat(country, rate, treatment):
        return expected_vat.get((country, rate, treatment)) or expected_vat.get(("", rate, treatment))

    buckets = store.rows("SELECT DISTINCT upper(country), rate, treatment FROM shop_vat_lines "
                         "WHERE doc_key IN (SELECT unnest(?::VARCHAR[])) AND (base <> 0 OR vat <> 0)", [docs])
    assert len(buckets) > 10
    for country, rate, treatment in buckets:
        rate = Decimal(rate).quantize(Q4)
        assert got.vat_code(country, rate, treatment) == demo_vat(country, rate, treatment), (country, rate, treatment)

    demo_debtors = {r["country"]: r["account_code"] for r in truth["debtor"].iter_rows(named=True)}
    consumer_countries = {r[0] for r in store.rows(
        "SELECT DISTINCT upper(vat_country) FROM shop_documents WHERE doc_key IN (SELECT unnest(?::VARCHAR[])) "
        "AND coalesce(vat_number, '') = ''", [docs])}
    assert len(consumer_countries) > 5
    for country in consumer_countries:
        assert got.collective_debtor(country) == demo_debtors.get(country, demo_debtors[""]), country


def test_suggested_gl_accounts_book_every_line_as_exact_did(fresh, division):
    got = save_suggested(fresh, division)
    docs = matched_docs(fresh, division)
    # the demo's Exact side books a line by its line type and treatment (exactsync.demo.exact_side.gl_for):
    # a mapping keyed by treatment learns exactly that, with no row per country
    s = suggest_mapping(fresh, "gl", division)
    assert s.frame.height == 0  # all saved by save_suggested: nothing left to suggest
    rows = read_mapping(fresh, "gl", division)
    assert set(rows["country"].to_list()) == {""}, rows
    # the account most goods went to for any treatment, and one row per treatment booked otherwise
    assert sorted((r["line_type"], r["treatment"], r["gl_code"]) for r in rows.iter_rows(named=True)) == [
        ("goods", "", "8010"), ("goods", "domestic", "8000"), ("goods", "export", "8020"),
        ("goods", "reverse_charge", "8020"), ("shipping", "", "8100")]
    lines = fresh.rows(
        "SELECT DISTINCT l.doc_key, l.line_type, upper(coalesce(nullif(l.country, ''), d.vat_country)), l.rate, "
        "l.treatment FROM shop_vat_lines l JOIN shop_documents d USING (doc_key) "
        "WHERE l.doc_key IN (SELECT unnest(?::VARCHAR[])) AND l.base <> 0", [docs])
    treatments = {t for *_, t in lines}
    assert {"domestic", "oss", "reverse_charge"} <= treatments and len(lines) > 100
    for _doc, line_type, country, _rate, treatment in lines:
        want = gl_for(Line(line_type, country, Decimal(0), treatment, Decimal(1), Decimal(0)))
        assert got.gl_code(line_type, None, country, treatment) == want, (line_type, treatment, country)


def test_stored_rows_are_kept_and_only_what_they_miss_is_suggested(fresh, division):
    mine = pl.DataFrame([{"division": division, "country": "DE", "account_code": "10001"}],
                        schema={"division": pl.Int64, "country": pl.String, "account_code": pl.String})
    assert save_mapping(fresh, "debtor", mine, division).saved
    s = suggest_mapping(fresh, "debtor", division)
    rows = {r["country"]: r for r in s.frame.iter_rows(named=True)}
    assert "DE" not in rows and "" in rows  # DE is mapped (even if the books say otherwise): left alone
    assert rows[""]["evidence"].split(" of ")[0].replace(",", "").isdigit()
    merged = with_suggestions(fresh, s)
    assert merged.filter(pl.col("country") == "DE")["account_code"].to_list() == ["10001"]
    assert merged.height == s.frame.height + 1 and merged["error"].null_count() == merged.height


def test_nothing_to_learn_from_without_a_run_and_unknown_kinds(fresh, division, tmp_path):
    from exactsync.store import Store

    empty = Store.open(tmp_path / "empty.duckdb")
    s = suggest_mapping(empty, "vat", division)
    assert s.documents == 0 and s.frame.height == 0 and s.message.startswith("No matched documents to learn from")
    with pytest.raises(MappingError, match="no suggestions for mapping kind 'settings'"):
        suggest_mapping(fresh, "settings", division)


def test_cli_suggest_then_save_makes_the_push_plan_whole(month, fresh, division):
    cfg = ["--config", str(month.config)]
    runner = CliRunner()
    period = month.period
    r = runner.invoke(cli, [*cfg, "push", "--period", period, "--status", "missing"], catch_exceptions=False)
    assert r.exit_code == 1 and "no VAT code mapped" in r.output, r.output  # nothing mapped yet
    # what to do, on the command line too (not only the dashboard's page)
    assert "fix the mappings (`exactsync mappings suggest --save` adds the rows" in r.output, r.output
    assert "`exactsync mappings set` the journal and debtors; or the dashboard's Mappings page)" in r.output

    r = runner.invoke(cli, [*cfg, "mappings", "suggest", "--division", str(division)], catch_exceptions=False)
    assert r.exit_code == 0 and "Nothing saved" in r.output, r.output
    assert "matched document(s)" in r.output and read_mapping(fresh, "vat", division).height == 0
    # headings and treatments in words, rates with two decimals (not gl_code, reverse_charge, 9.0000)
    assert "G/L account" in r.output and "Debtor account" in r.output and "VAT treatment" in r.output, r.output
    assert "Intra-EU B2B (reverse charge)" in r.output and "Evidence" in r.output
    for raw in ("gl_code", "account_code", "reverse_charge", "vat_code", "9.0000", "21.0000"):
        assert raw not in r.output, raw
    assert re.search(r"\n  \(any\) +21\.00  Domestic +2 +\d+ of \d+ matched document\(s\)\n", r.output), r.output

    r = runner.invoke(cli, [*cfg, "--json", "mappings", "suggest", "--division", str(division), "--save"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert all(out[kind]["saved"] and not out[kind]["errors"] for kind in SUGGESTED_KINDS), out
    assert read_mapping(fresh, "vat", division).height == len(out["vat"]["rows"])

    r = runner.invoke(cli, [*cfg, "push", "--period", period, "--status", "missing"], catch_exceptions=False)
    assert r.exit_code == 0 and "ERROR" not in r.output, r.output
    assert "(dry run: nothing sent; add --yes to execute)" in r.output

    r = runner.invoke(cli, [*cfg, "mappings", "suggest", "--division", str(division)], catch_exceptions=False)
    assert r.output.count("Nothing to suggest") == 3, r.output
    r = runner.invoke(cli, [*cfg, "mappings", "show", "vat", "--division", str(division)], catch_exceptions=False)
    assert r.exit_code == 0 and "(any)" in r.output and "EU distance sales (OSS)" in r.output, r.output
    assert r.output.splitlines()[1].split() == ["Country", "Rate", "%", "VAT", "treatment", "VAT", "code", "Error"]
    assert " oss " not in r.output and ".0000" not in r.output
    assert json.loads(runner.invoke(cli, [*cfg, "--json", "mappings", "show", "vat", "--division", str(division)]
                                    ).output)["vat"][0]["rate"].endswith(".0000")  # --json: the raw values


def test_mappings_show_says_any_for_every_empty_key(month, fresh, division):
    assert save_mapping(fresh, "gl", demo_mapping_frames(division)["gl"], division).saved
    cfg = ["--config", str(month.config)]
    r = CliRunner().invoke(cli, [*cfg, "mappings", "show", "gl", "--division", str(division)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    goods_any = next(line.split() for line in r.output.splitlines() if line.split()[:1] == ["goods"]
                     and "8020" in line)
    assert goods_any == ["goods", "(any)", "(any)", "(any)", "8020"], r.output
    # the demo has two divisions: without --division the command line must say which (usage, exit 2)
    r = CliRunner().invoke(cli, [*cfg, "mappings", "show", "gl"])
    assert r.exit_code == 2 and "which division? pass --division N (exact.divisions: " in r.output, r.output


def test_gl_suggestions_mend_a_mapping_keyed_by_country_only(fresh, division):
    """A mapping from before G/L rows had a treatment (one account per country): German OSS sales
    and German B2B supplies share the DE row. The suggestions add the treatment rows that make
    every matched line book on the account Exact used, and leave the stored rows as they are."""
    old = pl.DataFrame([
        {"division": division, "line_type": "goods", "tax_class": "", "country": "", "gl_code": "8020"},
        {"division": division, "line_type": "goods", "tax_class": "", "country": "DE", "gl_code": "8010"},
        {"division": division, "line_type": "shipping", "tax_class": "", "country": "", "gl_code": "8100"}])
    assert save_mapping(fresh, "gl", old, division).saved
    s = suggest_mapping(fresh, "gl", division)
    proposed = {(r["line_type"], r["treatment"], r["country"]): r["gl_code"] for r in s.frame.iter_rows(named=True)}
    assert proposed[("goods", "reverse_charge", "")] == "8020" and proposed[("goods", "domestic", "")] == "8000"
    assert ("goods", "", "DE") not in proposed and ("shipping", "", "") not in proposed  # stored: kept
    assert save_mapping(fresh, "gl", with_suggestions(fresh, s), division).saved
    m = load_mappings(fresh, division)
    for _doc, line_type, country, _rate, treatment in fresh.rows(
            "SELECT DISTINCT l.doc_key, l.line_type, upper(coalesce(nullif(l.country, ''), d.vat_country)), l.rate, "
            "l.treatment FROM shop_vat_lines l JOIN shop_documents d USING (doc_key) "
            "WHERE l.doc_key IN (SELECT unnest(?::VARCHAR[])) AND l.base <> 0", [matched_docs(fresh, division)]):
        want = gl_for(Line(line_type, country, Decimal(0), treatment, Decimal(1), Decimal(0)))
        assert m.gl_code(line_type, None, country, treatment) == want, (line_type, treatment, country)


def test_mappings_set_changes_the_push_settings_named_and_keeps_the_rest(month, fresh, division):
    """The debtor strategy and debtor creation could only be set on the dashboard's Mappings page."""
    cfg = ["--config", str(month.config)]
    runner = CliRunner()
    r = runner.invoke(cli, [*cfg, "mappings", "set", "--division", str(division), "--debtor-strategy", "lookup",
                            "--create-debtors"])
    assert r.exit_code == 0 and f"settings (division {division}) saved: journal {month.settings.exact.sales_journal}, " \
        "debtor strategy lookup, creates debtors" in r.output, r.output
    m = load_mappings(fresh, division)
    assert (m.journal_code, m.debtor_strategy, m.create_debtors) == (str(month.settings.exact.sales_journal), "lookup", True)

    r = runner.invoke(cli, [*cfg, "mappings", "set", "--division", str(division), "--no-create-debtors"])
    assert r.exit_code == 0, r.output
    m = load_mappings(fresh, division)
    assert (m.debtor_strategy, m.create_debtors) == ("lookup", False)  # the strategy stays as set before
    r = runner.invoke(cli, [*cfg, "mappings", "show", "settings", "--division", str(division)])
    assert r.output.splitlines()[1].split() == ["Sales", "journal", "Debtor", "strategy", "Create", "debtors", "Error"]
    assert r.output.splitlines()[2].split() == [str(month.settings.exact.sales_journal), "lookup", "no"], r.output

    r = runner.invoke(cli, [*cfg, "--json", "mappings", "set", "--division", str(division), "--journal", "999"])
    assert r.exit_code == 1 and json.loads(r.output)["errors"] == [f"journal '999' does not exist in division {division}"]
    assert load_mappings(fresh, division).journal_code == str(month.settings.exact.sales_journal)  # nothing saved

    r = runner.invoke(cli, [*cfg, "mappings", "set", "--division", str(division)])
    assert r.exit_code == 2 and "nothing to set" in r.output
