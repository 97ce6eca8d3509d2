"""The demo month: deterministic files, planted cases, sandboxes serving it, pipeline into DuckDB."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest

from exactsync.demo import generate_demo
from exactsync.demo.bootstrap import run_demo_pipeline, start_demo
from exactsync.demo.model import CAUSES
from exactsync.reconcile import results, run_reconciliation
from exactsync.reference import normalize_reference
from exactsync.sandbox.woocommerce.generate import DEMO_KEY
from exactsync.settings import load_settings
from exactsync.store import Store

FILES = ("exact.json", "woocommerce.json", "magento.json", "manifest.json", "exactsync.toml")
ORDERS = 300


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, orders=ORDERS, seed=11)
    return out


@pytest.fixture(scope="module")
def manifest(demo_dir) -> dict:
    return json.loads((demo_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A 300-order demo, served on free ports, connected and pulled into a DuckDB file."""
    base = tmp_path_factory.mktemp("demo-run")
    env = start_demo(base, orders=ORDERS, seed=11, ports={"exact": 0, "woocommerce": 0, "magento": 0})
    try:
        store = Store.open(env.settings.store.path, lock_timeout=30)
        summary = run_demo_pipeline(env, store)
        yield env, store, summary
    finally:
        env.stop()


def test_start_from_a_relative_directory(tmp_path, monkeypatch):
    """`exactsync demo run` defaults to --dir demo: a directory relative to where it is started."""
    monkeypatch.chdir(tmp_path)
    env = start_demo("demo", orders=100, seed=11, ports={"exact": 0, "woocommerce": 0, "magento": 0}, connect=False)
    try:
        assert env.settings.store.path == tmp_path / "demo" / "data" / env.settings.store.path.name
    finally:
        env.stop()


def test_demo_run_says_what_it_pulled_and_what_it_skipped(tmp_path):
    """`exactsync demo run --no-serve`: the sandboxes' addresses, the store, and per shop the documents
    pulled — with the records the shop could not read (the planted unreadable order), not hidden."""
    from click.testing import CliRunner

    from exactsync.cli.main import cli, load_commands

    load_commands()
    r = CliRunner().invoke(cli, ["demo", "run", "--dir", str(tmp_path / "d"), "--orders", "100", "--no-serve"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.output.splitlines() if x.startswith("pulled: ")]
    config = tmp_path / "d" / "exactsync.toml"
    assert "woo-demo " in line and (f" documents (1 record(s) skipped: see the sync log, `exactsync --config {config} "
                                    "log --source shop:woo-demo`)") in line, line
    assert "magento-demo " in line and "magento-demo 0 documents" not in line
    # the command it names lists the record the shop could not read
    r = CliRunner().invoke(cli, ["--config", str(config), "log", "--source", "shop:woo-demo", "--level", "error"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (row,) = r.output.splitlines()[1:]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  error  shop:woo-demo  order \d+ +order \d+: total ", row), r.output


def test_same_seed_same_files_other_seed_other_files(tmp_path, demo_dir):
    again = tmp_path / "again"
    generate_demo(again, orders=ORDERS, seed=11)
    for name in FILES:
        assert (again / name).read_bytes() == (demo_dir / name).read_bytes(), name
    other = tmp_path / "other"
    generate_demo(other, orders=ORDERS, seed=12)
    assert (other / "woocommerce.json").read_bytes() != (demo_dir / "woocommerce.json").read_bytes()
    assert not list(demo_dir.glob(".*.tmp"))


def test_countries_currencies_and_every_planted_cause(manifest):
    countries = set()
    for t in manifest["totals"].values():
        countries |= set(t["countries"])
    eu = countries & set(manifest["countries"]["eu"])
    assert len(eu) >= 10
    assert countries & {"US", "CH", "NO", "GB"}
    assert set(manifest["totals"]["magento-demo"]["gross"]) >= {"EUR"} and len(
        manifest["totals"]["magento-demo"]["gross"]) >= 2  # a second currency
    causes = {c["expected_cause"] for c in manifest["cases"]}
    assert set(CAUSES) | {"only_in_exact"} <= causes
    for cause in CAUSES:
        assert manifest["counts"]["by_cause"][cause] >= 3, cause
    for c in manifest["cases"]:
        assert {"doc_key", "reference", "shop", "doc_number", "expected_status", "expected_cause", "note"} <= set(c)
    shop_cases = [c for c in manifest["cases"] if c["shop"]]
    assert len({c["doc_key"] for c in shop_cases}) == len(shop_cases)  # one cause per planted document
    counts = manifest["counts"]
    assert sum(counts["expected_status"].values()) == counts["documents"] + counts["expected_status"]["only_in_exact"]
    assert counts["documents"] == sum(t["documents"] for t in manifest["totals"].values())
    assert manifest["period"] == "2026-10" and manifest["seed"] == 11


def test_toml_points_at_default_ports(demo_dir):
    s = load_settings(demo_dir / "exactsync.toml", env={}, cwd=demo_dir)
    assert s.demo is True
    assert s.exact.base_url == "http://127.0.0.1:8701"
    assert s.shop("woo-demo").url == "http://127.0.0.1:8702"
    assert s.shop("magento-demo").url == "http://127.0.0.1:8703"
    assert s.shop("woo-demo").reference_prefix == "WC-" and s.shop("magento-demo").reference_prefix == "M2-"
    assert s.store.path == demo_dir / "data" / "exactsync.duckdb"
    assert s.exact.divisions == [700001, 700002]
    assert s.shop("woo-demo").consumer_key.get() == DEMO_KEY[0]
    assert "sandbox" in (demo_dir / "exactsync.toml").read_text(encoding="utf-8").lower()


def test_each_sandbox_serves_the_month_over_http(pipeline, manifest):
    env, _store, _ = pipeline
    woo_t = env.manifest["totals"]["woo-demo"]
    mag_t = env.manifest["totals"]["magento-demo"]
    ck, cs = DEMO_KEY
    with httpx2.Client(timeout=10) as http:
        r = http.get(f"{env.urls['woocommerce']}/wp-json/wc/v3/orders", auth=(ck, cs),
                     headers={"x-forwarded-proto": "https"}, params={"per_page": 1})
        assert r.status_code == 200
        assert int(r.headers["x-wp-total"]) == woo_t["orders"]
        r = http.get(f"{env.urls['woocommerce']}/wp-json/wc/v3/orders", auth=(ck, cs),
                     headers={"x-forwarded-proto": "https"},
                     params={"per_page": 1, "status": "completed,processing,refunded"})
        # every booked order is an invoice, but for the planted one the connector cannot read
        assert int(r.headers["x-wp-total"]) == woo_t["invoices"] + len(env.manifest["unreadable"]["woo-demo"])

        bearer = {"Authorization": f"Bearer {env.settings.shop('magento-demo').token.get()}"}
        for path, key in (("invoices", "invoices"), ("creditmemos", "credit_notes")):
            r = http.get(f"{env.urls['magento']}/rest/V1/{path}", headers=bearer,
                         params={"searchCriteria[pageSize]": 1})
            assert r.status_code == 200
            assert r.json()["total_count"] == mag_t[key]

        from exactsync.exact.oauth import TokenStore

        token = TokenStore.from_settings(env.settings).access_token()
        r = http.get(f"{env.urls['exact']}/api/v1/700001/salesentry/SalesEntries/$count",
                     headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert int(r.text) == env.manifest["divisions"]["700001"]["entries"]


def test_pull_matches_manifest_and_planted_cases_hold(pipeline):
    env, store, summary = pipeline
    m = env.manifest
    for shop, t in m["totals"].items():
        assert summary["shops"][shop] == {"documents": t["documents"], "errors": len(m["unreadable"].get(shop, []))}
        for currency, gross in t["gross"].items():
            got = store.scalar("SELECT sum(gross) FROM shop_documents WHERE shop = ? AND currency = ?", [shop, currency])
            assert got == Decimal(gross), (shop, currency)
    assert summary["exact"][700001]["entries"] == m["divisions"]["700001"]["entries"]
    assert summary["exact"][700001]["errors"] == 0

    docs = store.rows("SELECT doc_key, doc_number, kind, shop, currency, net, vat, gross, doc_date FROM shop_documents")
    prefix = {name: s["reference_prefix"] for name, s in m["shops"].items()}
    entries: dict[str, list[tuple]] = {}
    for row in store.rows("SELECT your_ref, currency, net, vat, gross, status, fin_year, fin_period, customer_code, "
                          "entry_number FROM exact_entries WHERE division = 700001"):
        entries.setdefault(normalize_reference(row[0]) or "", []).append(row)
    planted = {c["doc_key"]: c for c in m["cases"] if c["doc_key"]}
    seen_causes = set()
    for doc_key, number, kind, shop, currency, net, vat, gross, doc_date in docs:
        ref = normalize_reference(f"{prefix[shop]}{'CN-' if kind == 'credit_note' else ''}{number}")
        found = entries.get(ref, [])
        case = planted.get(doc_key)
        cause = case["expected_cause"] if case else None
        if case is None or case["expected_status"] == "matched":
            if case is not None:  # wrong entry, its reversal, the correct one
                assert len(found) == 3 and sum(e[4] for e in found) == gross
                continue
            assert len(found) == 1, doc_key
            e = found[0]
            assert (e[1], e[2], e[3], e[4], e[5]) == (currency, net, vat, gross, 50), doc_key
            assert (e[6], e[7]) == (doc_date.year, doc_date.month), doc_key
            continue
        seen_causes.add(cause)
        if cause == "missing_in_exact":
            assert found == []
        elif cause == "duplicated_in_exact":
            assert len(found) == 2 and found[0][4] == found[1][4] == gross
        elif cause == "draft":
            assert len(found) == 1 and found[0][5] == 20 and found[0][4] == gross
        elif cause == "other_period":
            assert len(found) == 1 and (found[0][6], found[0][7]) != (doc_date.year, doc_date.month)
            assert found[0][4] == gross
        elif cause == "currency_differs":
            assert len(found) == 1 and found[0][1] == "EUR" != currency
        elif cause == "matched_within_tolerance":
            assert len(found) == 1 and abs(found[0][4] - gross) == Decimal("0.01")
        elif cause == "amount_differs":
            assert len(found) == 1 and abs(found[0][4] - gross) > Decimal("0.01")
        elif cause in ("vat_differs", "customer_differs"):
            assert len(found) == 1 and found[0][4] == gross and found[0][1] == currency
    assert seen_causes >= set(CAUSES)
    only = [c for c in m["cases"] if c["expected_status"] == "only_in_exact" and c["division"] == 700001]
    for c in only:
        if c["reference"]:
            assert c["reference"].upper().startswith(("MANUAL-", "WC-"))
            assert len(entries.get(normalize_reference(c["reference"]), [])) == 1
    assert store.scalar("SELECT count(*) FROM exact_entries WHERE division = 700002") == 3


@pytest.fixture(scope="module")
def reconciled(pipeline):
    """The pulled demo month reconciled for its period: (env, store, run, rows by result key)."""
    env, store, _summary = pipeline
    run = run_reconciliation(store, env.settings, env.manifest["period"])
    rows = {r["result_key"]: r for r in results(store, run.run_id).iter_rows(named=True)}
    return env, store, run, rows


def _case_key(store, case: dict) -> str:
    """The result key of a planted case (docs/reconcile.md, "Result keys")."""
    if case["doc_key"]:
        return f"doc:{case['doc_key']}"
    if case["reference"]:
        return f"exact:{case['division']}:{normalize_reference(case['reference'])}"
    entry_id = store.scalar("SELECT entry_id FROM exact_entries WHERE division = ? AND entry_number = ?",
                            [case["division"], case["entry_number"]])
    assert entry_id, case
    return f"exact:{case['division']}:entry:{entry_id}"


def test_reconciliation_finds_every_planted_case_and_nothing_else(reconciled):
    env, store, run, rows = reconciled
    m = env.manifest
    planted = {_case_key(store, c): c for c in m["cases"]}
    assert len(planted) == len(m["cases"])  # one row per case
    wrong = {key: (c["expected_status"], c["expected_cause"], c["variant"], rows.get(key, {}).get("status"),
                   rows.get(key, {}).get("cause"), rows.get(key, {}).get("detail"))
             for key, c in planted.items()
             if key not in rows or (rows[key]["status"], rows[key]["cause"]) != (c["expected_status"], c["expected_cause"])}
    assert wrong == {}
    # every document that is not planted is matched; no row exists that is neither a document nor a case
    flagged = {key: (r["status"], r["detail"]) for key, r in rows.items()
               if key not in planted and (r["status"], r["cause"]) != ("matched", None)}
    assert flagged == {}
    assert all(key.startswith("doc:") for key in rows.keys() - planted.keys())
    docs = store.scalar("SELECT count(*) FROM shop_documents WHERE strftime(doc_date, '%Y-%m') = ?", [m["period"]])
    assert docs == m["counts"]["documents"] == sum(1 for key in rows if key.startswith("doc:"))
    assert {k: v for k, v in run.counts.items() if v} == m["counts"]["expected_status"]


def test_the_order_the_shop_could_not_read_is_explained(reconciled):
    """The planted unreadable Woo order: skipped by the pull with a record error, its entry only in
    Exact, and the sentence and the run's warning say why (not "no shop document")."""
    env, store, run, rows = reconciled
    (case,) = [c for c in env.manifest["cases"] if c["variant"] == "unreadable"]
    row = rows[_case_key(store, case)]
    assert (row["status"], row["your_ref"]) == ("only_in_exact", case["reference"])
    assert f"in the store: woo-demo could not read order {case['order_id']} at its last pull (total " in row["detail"]
    assert row["detail"].endswith("; fix it in the shop and pull again (see the sync log)")
    assert [w for w in run.warnings if "could not be read" in w] == [
        w for w in run.warnings if w.startswith(f"woo-demo: 1 document(s) could not be read at the last pull and are "
                                                f"in no reconciliation (first: order {case['order_id']}: total ")]
    assert any("could not be read" in w for w in run.warnings)


def test_reconciliation_conserves_the_demo_month(reconciled):
    env, store, run, rows = reconciled
    m = env.manifest
    # shop side, per currency: the rows, the documents of the period and the generator's totals agree
    by_rows: dict[str, Decimal] = {}
    for r in rows.values():
        if r["shop_gross"] is not None:
            by_rows[r["currency"]] = by_rows.get(r["currency"], Decimal(0)) + r["shop_gross"]
    in_store = dict(store.rows("SELECT currency, sum(gross) FROM shop_documents "
                               "WHERE strftime(doc_date, '%Y-%m') = ? GROUP BY currency", [m["period"]]))
    generated: dict[str, Decimal] = {}
    for t in m["totals"].values():
        for currency, gross in t["gross"].items():
            generated[currency] = generated.get(currency, Decimal(0)) + Decimal(gross)
    assert by_rows == in_store == generated
    assert set(by_rows) >= {"EUR", "GBP"}
    # Exact side: every pulled entry is in exactly one row, and the rows carry their gross to the cent
    listed = [e for r in rows.values() for e in r["entry_ids"]]
    assert len(listed) == len(set(listed))
    entries = dict(store.rows("SELECT entry_id, gross FROM exact_entries"))
    assert set(listed) == set(entries)
    assert len(entries) == sum(d["entries"] for d in m["divisions"].values())
    exact_total = sum(entries.values(), Decimal(0))
    assert sum((r["exact_gross"] for r in rows.values()), Decimal(0)) == exact_total == run.totals["exact_gross"]
    assert run.totals["shop_gross"] == sum(by_rows.values(), Decimal(0))


def test_cli_generate_writes_the_files(tmp_path):
    from click.testing import CliRunner

    from exactsync.cli.main import cli, load_commands

    load_commands()
    out = tmp_path / "cli-demo"
    result = CliRunner().invoke(cli, ["--json", "demo", "generate", "--out", str(out), "--orders", "200",
                                      "--seed", "3", "--period", "2026-11"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["orders"] == 200 and data["period"] == "2026-11"
    assert all((out / name).exists() for name in FILES)
    bad = CliRunner().invoke(cli, ["demo", "generate", "--out", str(out), "--period", "2026-13"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output


def test_the_pipeline_saves_push_mappings_so_the_demo_plans_without_errors(reconciled, pipeline):
    """`exactsync demo run` seeds the demo's push mappings as the dashboard's first start does: a push
    of every correctable difference of the demo month plans without a mapping error (none sent)."""
    from exactsync.mapping import read_mapping
    from exactsync.push.plan import plan_push

    env, store, run, rows = reconciled
    assert pipeline[2]["mappings"] == {700001: []}
    assert read_mapping(store, "debtor", 700001).height > 0
    statuses = ("missing_in_exact", "amount_differs", "vat_differs", "duplicated_in_exact")
    plan = plan_push(store, env.settings, run.run_id, statuses=statuses)
    assert plan.errors == []
    wanted = sum(1 for r in rows.values() if r["status"] in statuses)
    assert len(plan.jobs) >= wanted > 0
    assert store.scalar("SELECT count(*) FROM push_jobs") == 0  # planning sends and claims nothing


@pytest.mark.timeout(90)  # without the check, `demo run` would serve on another port until stopped
def test_demo_run_refuses_a_taken_port_instead_of_serving_elsewhere(tmp_path):
    """`exactsync demo run` keeps serving for commands that read DIR/exactsync.toml, which name the
    default ports: with one of them taken (another demo run), it stops with a clear message instead
    of serving on another port while those commands reach the other process. A run that only pulls
    (--no-serve), and start_demo itself, take a free port instead."""
    import socket

    from click.testing import CliRunner

    from exactsync.cli.main import cli, load_commands
    from exactsync.demo.generate import DEFAULT_PORTS
    from exactsync.errors import ExactsyncError

    load_commands()
    generate_demo(tmp_path / "demo", orders=100, seed=11)
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        taken.bind(("127.0.0.1", DEFAULT_PORTS["woocommerce"]))
    except OSError:
        pass  # already taken by something else: the same situation
    else:
        taken.listen()
    try:
        r = CliRunner().invoke(cli, ["demo", "run", "--dir", str(tmp_path / "demo"), "--orders", "100"])
        assert r.exit_code == 1, r.output
        # the woocommerce port, taken here; or another default port, when a demo of another test
        # process holds it (tests run two at a time): the first taken one is named
        named = re.search(r"port (\d+) for the (\w+) sandbox is already in use", r.output)
        assert named and int(named.group(1)) == DEFAULT_PORTS[named.group(2)], r.output
        assert "exactsync.toml" in r.output
        assert "Traceback" not in r.output
        with pytest.raises(ExactsyncError, match="already in use"):
            start_demo(tmp_path / "demo", ports={"exact": 0, "magento": 0}, connect=False, fixed_ports=True)
        env = start_demo(tmp_path / "demo", ports={"exact": 0, "magento": 0}, connect=False)
        try:
            assert env.urls["woocommerce"] != f"http://127.0.0.1:{DEFAULT_PORTS['woocommerce']}"
        finally:
            env.stop()
    finally:
        taken.close()


def test_matched_documents_in_other_currencies_explain_their_exchange_difference(reconciled, tmp_path):
    """The demo's GBP and SEK documents match in their own currency, but their EUR amounts (the shop's
    conversion) differ from Exact's by cents: the run says so, with the amounts, everywhere it
    shows its totals, instead of leaving the matched row's two EUR totals unexplained."""
    from exactsync.reconcile import export_run, load_run

    env, store, run, rows = reconciled
    fx = [r for r in rows.values()
          if r["status"] == "matched" and r["currency"] != "EUR" and r["delta_gross_dc"] not in (None, 0)]
    assert fx, "the demo month has foreign-currency documents converted differently"
    assert all(r["delta_gross"] == 0 and r["delta_net"] == 0 and r["delta_vat"] == 0 for r in fx)
    want = {"documents": len(fx), "currencies": sorted({r["currency"] for r in fx}),
            "net": sum(r["delta_net_dc"] for r in fx), "vat": sum(r["delta_vat_dc"] for r in fx),
            "gross": sum(r["delta_gross_dc"] for r in fx)}
    assert run.exchange == want
    matched = run.by_status["matched"]
    assert matched["exact_gross_dc"] - matched["shop_gross_dc"] == want["gross"]  # all of the matched rows' gap
    assert load_run(store, run.run_id).exchange == want  # reopened as it was
    note = run.exchange_note()
    assert f"{len(fx)} matched document(s) in {', '.join(want['currencies'])}" in note
    assert f"by gross {want['gross']:,.2f}" in note and "exchange rates" in note

    import openpyxl

    book = openpyxl.load_workbook(export_run(store, run.run_id, tmp_path / "run.xlsx"), read_only=True)
    cells = [c for row in book["Summary"].iter_rows(values_only=True) for c in row]
    assert "Exchange rates" in cells and note in cells


def test_a_currency_correction_names_the_currency_of_each_job(reconciled):
    """The demo's currency cases are booked in EUR for GBP / SEK documents: the plan reverses each in
    EUR and rebooks it in the document's currency. Every job line says which, so a reversal of 82.95
    beside a rebooking of 931.87 reads as EUR against SEK, not as a tenfold correction."""
    from exactsync.push.plan import plan_push

    env, store, run, rows = reconciled
    plan = plan_push(store, env.settings, run.run_id, statuses=("currency_differs",))
    cases = {r["doc_key"]: r for r in rows.values() if r["status"] == "currency_differs"}
    assert plan.errors == [] and {j.doc_key for j in plan.jobs} == set(cases)
    for j in plan.jobs:
        assert j.currency == (cases[j.doc_key]["currency"] if j.kind == "rebook" else cases[j.doc_key]["exact_currency"])
        assert re.search(rf"\n +{j.kind} +{re.escape(j.your_ref)} +{j.entry_date} +{j.currency} +{j.net:,.2f} ",
                         plan.summary()), plan.summary()
    assert {j.currency for j in plan.jobs if j.kind == "rebook"} >= {"GBP", "SEK"}
    assert plan.jobs_frame()["currency"].to_list() == [j.currency for j in plan.jobs]
    assert [d["currency"] for d in plan.as_dict()["jobs"]] == [j.currency for j in plan.jobs]
