"""AppTest over every page of the dashboard, against a small demo month (numbers from its manifest)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from demo_support import prepare_demo

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))


@pytest.fixture(scope="session")
def demo_month(tmp_path_factory):
    month = prepare_demo(tmp_path_factory.mktemp("demo-ui"), orders=300)
    yield month
    month.stop()


@pytest.fixture
def demo(demo_month, monkeypatch):
    monkeypatch.setenv("EXACTSYNC_CONFIG", str(demo_month.config))
    monkeypatch.chdir(ROOT)
    from streamlit import cache_data

    cache_data.clear()
    return demo_month


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[store]\npath = "app.duckdb"\n')
    monkeypatch.setenv("EXACTSYNC_CONFIG", str(cfg))
    monkeypatch.chdir(ROOT)
    return tmp_path


def run_page(page: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if page != "overview.py":
        at.switch_page(f"pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def walk_text(node) -> list[str]:
    """Every string the page rendered (values, labels, table cells), for secret scans."""
    out: list[str] = []
    for attr in ("value", "label", "body", "help", "placeholder"):
        try:
            v = getattr(node, attr, None)
        except Exception:  # noqa: BLE001 - some elements have no such value
            continue
        if v is None or callable(v):
            continue
        if hasattr(v, "to_string"):
            out.append(v.to_string())
        else:
            out.append(str(v))
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            out.extend(walk_text(child))
    return out


def page_text(at: AppTest) -> str:
    return "\n".join(walk_text(at.main) + walk_text(at.sidebar))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# --------------------------------------------------------------------------- structure


def test_every_page_is_listed_in_navigation():
    text = (ROOT / "app.py").read_text()
    for page in PAGES:
        assert f"pages/{page}" in text, f"{page} is not reachable from st.navigation"


def test_pages_stay_thin():
    """Pages never build SQL or import the store: they call exactsync.views and the library."""
    for page in PAGES:
        text = (ROOT / "pages" / page).read_text()
        assert "SELECT" not in text and "duckdb" not in text, page


def test_config_present_decides_demo_mode(tmp_path):
    from exactsync.ui import config_present

    assert not config_present(tmp_path, env={})
    assert config_present(tmp_path, env={"EXACTSYNC_CONFIG": "x.toml"})
    assert not config_present(tmp_path, env={"EXACTSYNC_CONFIG": "x.toml", "EXACTSYNC_DEMO": "1"})
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[auth]\nredirect_uri = "x"\n')
    assert not config_present(tmp_path, env={}), "an [auth] section alone is not an exactsync configuration"
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[exact]\nclient_secret = "s3cr3t-value"\n')
    assert config_present(tmp_path, env={})
    (tmp_path / ".streamlit" / "secrets.toml").unlink()
    (tmp_path / "exactsync.toml").write_text("")
    assert config_present(tmp_path, env={})


def test_binds_to_loopback_by_default():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    assert "--server.address $(HOST)" in (ROOT / "Makefile").read_text()
    assert "HOST   ?= 127.0.0.1" in (ROOT / "Makefile").read_text()


def test_pages_show_what_another_process_committed_at_the_next_view(demo):
    """The cached reads key on the store's version: a run made, then deleted, by the CLI (another
    process, which cannot clear the dashboard's cache) shows and goes at the next view, not after
    the cache's five minutes."""
    import subprocess
    import sys

    cli = [sys.executable, "-m", "exactsync", "--config", str(demo.config)]
    at = run_page("runs.py")
    before = at.dataframe[0].value["run_id"].to_list()
    made = subprocess.run([*cli, "reconcile", "--period", demo.period, "--json"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert made.returncode in (0, 1), made.stderr  # 1: the demo month has differences
    run_id = json.loads(made.stdout)["run_id"]
    at.run()
    assert at.dataframe[0].value["run_id"].to_list() == [run_id, *before]
    gone = subprocess.run([*cli, "runs", "delete", run_id, "--yes"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert gone.returncode == 0, gone.stderr
    at.run()
    assert at.dataframe[0].value["run_id"].to_list() == before


def test_status_page_on_an_empty_store(app_env):
    at = run_page("status.py")
    assert at.title[0].value == "Status"
    assert metrics(at)["Shop documents"] == "0"
    assert any("Nothing pulled yet" in i.value for i in at.info)
    assert any("app.duckdb" in c.value for c in at.caption)
    assert {"No reconciliation run saved yet.", "Nothing pushed yet."} <= {i.value for i in at.info}
    assert [x.value for x in at.success] == ["No errors in the sync log in the last 7 days."]


def test_status_page_says_the_newest_error_of_the_sync_log(app_env):
    from exactsync.store import Store

    store = Store.open(app_env / "app.duckdb")
    with store.atomic() as con:
        Store.log_event(con, "shop:woo:orders", "order 7: total is not a number", record_key="woo:7")
    at = run_page("status.py")
    (warning,) = [w.value for w in at.warning if "sync log" in w.value]
    assert warning.startswith("1 error(s) in the sync log in the last 7 days; the newest, ")
    assert "shop:woo:orders: order 7: total is not a number. The *Sync log* has them all" in warning
    assert not at.success


def test_empty_store_asks_for_a_pull(app_env):
    at = run_page("overview.py")
    assert any("No reconciliation for this period yet" in i.value for i in at.info)
    assert at.button(key="refresh").label == "Pull & reconcile"


def test_auth_gate_shows_sign_in_when_auth_is_configured(app_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "oidc-secret-value",
                          "server_metadata_url": "https://login.example.com/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    labels = [b.label for b in at.button]
    assert "Sign in" in labels or "Sign out" in labels  # AppTest runs with a stub user
    assert "oidc-secret-value" not in page_text(at)


def test_oauth_redirect_with_a_foreign_state_is_refused(app_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["code"] = "auth-code-never-shown"
    at.query_params["state"] = "not-issued-here"
    at.run()
    assert not at.exception
    assert any("does not belong to a connection started here" in e.value for e in at.error)
    assert "code" not in at.query_params
    assert "auth-code-never-shown" not in page_text(at)


def test_first_start_without_configuration_runs_the_demo(tmp_path, monkeypatch):
    """No exactsync.toml, no EXACTSYNC_CONFIG, no secrets: the demo starts, pulls, reconciles. The
    dashboard serves on another port than 8501 here (`make run PORT=8599`): Exact's consent page
    then sends the browser back to that port, not to the demo's default."""
    from urllib.parse import parse_qs, urlsplit

    import httpx2
    from streamlit import config as st_config

    from exactsync.demo import generate_demo
    from exactsync.ui import config_present
    from exactsync.ui.demo import stop_demos

    monkeypatch.chdir(ROOT)
    assert not config_present(), "this test needs a checkout without exactsync.toml / secrets.toml"
    demo_dir = tmp_path / "demo"
    generate_demo(demo_dir, orders=120)  # small month; start_demo reuses a complete scenario
    monkeypatch.setenv("EXACTSYNC_DEMO_DIR", str(demo_dir))
    port, address = st_config.get_option("server.port"), st_config.get_option("server.address")
    st_config.set_option("server.port", 8599)
    st_config.set_option("server.address", "127.0.0.1")
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        assert any("Demo data — sandbox, not your administration" in w.value for w in at.warning)
        manifest = json.loads((demo_dir / "manifest.json").read_text())
        assert metrics(at)["Documents"] == f"{manifest['counts']['documents']:,}"
        assert (demo_dir / "data" / "exactsync.duckdb").exists()

        at.switch_page("pages/connections.py").run()
        assert not at.exception and not any("sends the browser back" in w.value for w in at.warning)
        at.button(key="connect_exact").click().run()
        url = at.session_state["authorize_url"]
        query = parse_qs(urlsplit(url).query)
        assert query["redirect_uri"] == ["http://127.0.0.1:8599/"]
        form = {"client_id": query["client_id"][0], "redirect_uri": "http://127.0.0.1:8599/",
                "response_type": "code", "allow": "1", "state": query["state"][0]}
        consent = httpx2.post(url.split("?")[0], data=form, timeout=30)  # the user presses "Allow"
        assert consent.status_code == 302 and consent.headers["location"].startswith("http://127.0.0.1:8599/?code=")
        # the files on disk keep the default, for `exactsync demo run` and the CLI
        assert 'redirect_uri = "http://127.0.0.1:8501/"' in (demo_dir / "exactsync.toml").read_text()
    finally:
        st_config.set_option("server.port", port)
        st_config.set_option("server.address", address)
        stop_demos()


def test_connections_warns_when_exact_would_redirect_to_another_port(app_env):
    """A configured redirect URI on this machine at another port than the dashboard's: Connect Exact
    would land elsewhere after consent, so the page says so (and not for a public host name)."""
    from exactsync.views import redirect_mismatch

    assert redirect_mismatch("http://127.0.0.1:8501/", "http://127.0.0.1:8501/") is None
    assert redirect_mismatch("http://localhost:8501/", "http://127.0.0.1:8501/") is None
    assert redirect_mismatch("https://books.example.com/exact", "http://127.0.0.1:8501/") is None
    assert redirect_mismatch("", "http://127.0.0.1:8501/") is None
    assert "serve the dashboard on port 8500" in redirect_mismatch("http://[::1]:8500/", "http://127.0.0.1:8501/")

    (app_env / "exactsync.toml").write_text('[store]\npath = "app.duckdb"\n[exact]\nclient_id = "x"\n'
                                            'redirect_uri = "http://localhost:8502/"\n')
    at = run_page("connections.py")
    warning = next(w.value for w in at.warning if "sends the browser back" in w.value)
    assert "http://localhost:8502/" in warning and "http://localhost:8502/" != "http://127.0.0.1:8501/"
    assert "serve the dashboard on port 8502" in warning


# --------------------------------------------------------------------------- the demo month


def _difference_sums(store, run_id: str, shop: str | None = None, division: int = 700001):
    """Σ |Δgross| and Σ ΔVAT over a run's differences of one division (the sidebar's) in its currency
    (the demo has GBP and SEK documents beside EUR ones), summed here in Decimal from its rows."""
    from decimal import Decimal

    from exactsync.reconcile import results

    rows = results(store, run_id)
    amount, vat = Decimal(0), Decimal(0)
    for r in rows.iter_rows(named=True):
        if r["status"] in ("matched", "matched_within_tolerance") or (shop and r["shop"] != shop) \
                or r["division"] != division:
            continue
        if r["currency"] not in (None, "EUR"):
            assert r["shop_gross_dc"] is not None  # Magento's base currency is EUR: every document has EUR amounts
        amount += abs(r["delta_gross_dc"])
        vat += r["delta_vat_dc"]
    return amount, vat


def test_overview_tiles_match_the_demo_manifest(demo):
    from exactsync import views

    from collections import Counter

    at = run_page("overview.py")
    m = metrics(at)
    # the sidebar's division, 700001 (the shops'): the demo's other administration, 700002, has
    # only-in-Exact entries of its own, counted when it is picked (see the test below)
    statuses = Counter(demo.manifest["counts"]["expected_status"]) - Counter(
        c["expected_status"] for c in demo.manifest["cases"] if c["division"] != 700001)
    assert statuses["only_in_exact"] < demo.manifest["counts"]["expected_status"]["only_in_exact"]
    total = sum(statuses.values())
    documents = demo.manifest["counts"]["documents"]  # the shop's; the Exact-only rows are differences too
    matched = statuses.get("matched", 0) + statuses.get("matched_within_tolerance", 0)
    assert documents == total - statuses["only_in_exact"] < total
    assert m["Documents"] == f"{documents:,}"
    assert m["Differences"] == f"{total - matched:,}"
    assert m["Matched"] == f"{matched / documents:.1%}"
    helps = {x.label: x.help for x in at.metric}
    assert f"also count {statuses['only_in_exact']} Exact entries without a shop document" in helps["Documents"]
    run_id = next(c.value for c in at.caption if c.value.startswith("Run ")).split(" ")[1]
    amount, vat = _difference_sums(demo.store(), run_id)
    assert amount > 0
    assert m["Amount of differences"] == views.fmt_money(amount, "€")
    assert m["VAT difference"] == views.fmt_money(vat, "€")
    assert any(b.label == "Pull & reconcile" for b in at.button)
    assert any(w.value.startswith("**Demo data — sandbox, not your administration") for w in at.warning)
    # the run's warning about the unreadable order keeps the shop's name as it is spelled
    assert any(w.value.startswith("woo-demo: 1 document(s) could not be read") for w in at.warning), \
        [w.value for w in at.warning]
    assert any(label.startswith("Last pull · woo-demo") for label in m)
    assert any(label.startswith("Last pull · magento-demo") for label in m)
    assert any(label.startswith("Last pull · Exact") for label in m)
    assert at.sidebar.selectbox(key="period").value == demo.period
    assert at.sidebar.selectbox(key="division").value == 700001
    assert len(at.get("plotly_chart")) == 2  # amounts by status and cause; differences by day
    # the status chart draws the differences; the matched documents are a caption beside it
    ok = statuses.get("matched", 0) + statuses.get("matched_within_tolerance", 0)
    assert any(c.value.startswith(f"Matched and within tolerance, not drawn: {ok:,} documents, €") for c in at.caption)
    # the demo's GBP / SEK documents: matched, their EUR amounts apart by exchange rates (said, not hidden)
    from exactsync.reconcile import load_run

    note = load_run(demo.store(), run_id).exchange_note()
    assert note and [c.value for c in at.caption if c.value.startswith("Exchange rates: ")] == [f"Exchange rates: {note}."]

    drawn = json.loads(at.get("plotly_chart")[0].proto.spec)
    labels = {y for trace in drawn["data"] for y in trace.get("y", [])}
    assert "Missing in Exact" in labels and "Matched" not in labels
    # a status has one colour on both charts (each used to colour by order of appearance)
    by_day = json.loads(at.get("plotly_chart")[1].proto.spec)
    colours = [{t["name"]: t["marker"]["color"] for t in chart["data"]} for chart in (drawn, by_day)]
    shared = colours[0].keys() & colours[1].keys()
    assert "Missing in Exact" in shared and len(shared) >= 5
    assert {k: colours[0][k] for k in shared} == {k: colours[1][k] for k in shared} == \
        {k: views.status_colours()[k] for k in shared}
    assert len(set(colours[0].values())) == len(colours[0])  # no two statuses alike
    # differences are counted in whole numbers: no tick at 1.5
    axis = by_day["layout"]["yaxis"]
    assert (axis["tick0"], axis["tickformat"]) == (0, ",d") and isinstance(axis["dtick"], int) and axis["dtick"] >= 1
    per_status = at.dataframe[0].value
    assert int(per_status["Documents"].sum()) == total
    assert int(per_status.loc[per_status["Status"] == "Missing in Exact", "Documents"].sum()) == \
        demo.expected("missing_in_exact")


def test_overview_honours_the_shop_picker(demo):
    from exactsync import views

    at = run_page("overview.py")
    at.sidebar.selectbox(key="shop").select("woo-demo").run()
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    cases = [c for c in demo.manifest["cases"] if c["shop"] == "woo-demo"]
    differing = [c for c in cases if c["expected_status"] not in ("matched", "matched_within_tolerance")]
    assert m["Documents"] == f"{demo.manifest['totals']['woo-demo']['documents']:,}"
    assert m["Differences"] == f"{len(differing):,}"
    assert not [c for c in at.caption if c.value.startswith("Exchange rates: ")]  # the run's, not the shop's
    run_id = next(c.value for c in at.caption if c.value.startswith("Run ")).split(" ")[1]
    amount, vat = _difference_sums(demo.store(), run_id, shop="woo-demo")
    assert m["Amount of differences"] == views.fmt_money(amount, "€")
    assert m["VAT difference"] == views.fmt_money(vat, "€")


def test_differences_filter_missing_and_select_for_push(demo):
    at = run_page("differences.py")
    missing = demo.expected("missing_in_exact")
    assert missing > 0
    at.multiselect(key="f_status").select("missing_in_exact").run()
    assert not at.exception
    assert any(c.value.startswith(f"{missing:,} difference(s)") for c in at.caption)
    table = at.dataframe[0].value
    assert len(table) == min(missing, 50)
    assert set(table["status"]) == {"Missing in Exact"}
    at.button(key="select_all").click().run()
    assert len(at.session_state["push_selection"]) == missing
    # drill-down: the shop side is there, the Exact side says there is no entry
    assert any("No entry in Exact" in c.value for c in at.caption)


def test_differences_ticked_rows_join_the_push_selection(demo):
    """Ticking rows of the grid (st.dataframe, multi-row selection) and *Add … ticked* builds the
    push selection from exactly those rows; the Push page then plans exactly them."""
    at = run_page("differences.py")
    at.multiselect(key="f_status").select("missing_in_exact").run()
    table = at.dataframe[0].value
    assert len(table) >= 2
    assert at.button(key="add_ticked").disabled
    at.session_state["diff_table"] = {"selection": {"rows": [0, 1]}}  # what the grid sends for two ticks
    at.run()
    add = at.button(key="add_ticked")
    assert add.label == "Add 2 ticked row(s) to the push selection" and not add.disabled
    add.click().run()
    assert not at.exception, [e.value for e in at.exception]
    ticked = set(table["result_key"].iloc[:2])
    assert at.session_state["push_selection"] == ticked
    assert any("2 selected for push" in c.value for c in at.caption)
    assert any(link.label == "Review the push of 2 selected →" for link in at.get("page_link"))
    at.switch_page("pages/push.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert metrics(at)["Entries to create"] == "2"
    entries = next(d.value for d in at.dataframe if "doc_key" in d.value.columns)
    assert {f"doc:{k}" for k in entries["doc_key"]} == ticked


def test_differences_filters_by_cause_country_and_amount(demo):
    from exactsync import views

    def shown(at) -> int:
        return int(next(c.value for c in at.caption if "difference(s)" in c.value).split(" ")[0].replace(",", ""))

    at = run_page("differences.py")
    total = shown(at)
    # "Found": the rows on which an amount differs, as their status or besides it (the demo's
    # documents booked twice with other amounts); the status filter: their cause
    at.multiselect(key="f_found").select("amount_differs").run()
    found = at.dataframe[0].value
    by_cause = demo.manifest["counts"]["by_cause"]
    assert shown(at) == by_cause["amount_differs"] + by_cause["duplicated_in_exact"] == len(found)
    assert set(found["status"]) == {views.status_label("amount_differs"), views.status_label("duplicated_in_exact")}
    twice = found[found["status"] == views.status_label("duplicated_in_exact")]
    assert set(twice["also"]) == {"Amount differs"}  # booked twice at the right rates: not also a VAT difference
    at.multiselect(key="f_found").unselect("amount_differs").run()
    at.multiselect(key="f_status").select("amount_differs").run()
    assert shown(at) == by_cause["amount_differs"]
    assert set(at.dataframe[0].value["status"]) == {views.status_label("amount_differs")}
    # the drill-down of the first row: both sides, with VAT codes and G/L accounts, and the cause
    assert any(md.value.startswith(f"**{views.status_label('amount_differs')}** · cause: "
                                   f"**{views.cause_label('amount_differs')}** · net differs by") for md in at.markdown)
    heads = [md.value for md in at.markdown]
    assert "##### Shop document" in heads and "##### Exact entry" in heads
    fields = next(d.value for d in at.dataframe if "field" in d.value.columns)  # the document, field by field
    assert {"Shop document key", "Document number", "Document date", "VAT country", "Gross"} <= set(fields["field"])
    columns = [set(d.value.columns) for d in at.dataframe]
    assert any({"vat_code", "gl_account_code"} <= c for c in columns), columns
    assert any({"rate", "base", "vat"} <= c and "vat_code" not in c for c in columns), columns
    lines = next(d for d in at.dataframe if "gl_account_code" in d.value.columns)
    labels = {k: v.get("label") for k, v in json.loads(lines.proto.columns).items()}
    assert (labels["gl_account_code"], labels["vat_code"], labels["vat_percentage"]) == ("G/L account code", "VAT code",
                                                                                      "VAT %")
    # the Exact lines are named by the entry numbers of the entry table beside them, not by the
    # 36-character entry id, and treatments are in words on both sides
    entries = next(d.value for d in at.dataframe if "journal_code" in d.value.columns)
    assert lines.value.columns[0] == "entry_number" and "entry_id" not in lines.value.columns
    assert set(lines.value["entry_number"]) <= set(entries["entry_number"]) and lines.value["entry_number"].notna().all()
    shop_lines = next(d.value for d in at.dataframe if {"rate", "base"} <= set(d.value.columns) and "vat_code" not in d.value.columns)
    words = {label for _, label in views.TREATMENT_SECTIONS}
    assert set(lines.value["treatment"].dropna()) | set(shop_lines["treatment"].dropna()) <= words, (lines.value, shop_lines)
    assert set(fields[fields["field"] == "VAT treatment"]["value"]) <= words | {""}, fields

    at.multiselect(key="f_status").unselect("amount_differs").run()
    country = "DE"
    at.multiselect(key="f_country").select(country).run()
    assert 0 < shown(at) < total
    assert set(at.dataframe[0].value["country"]) == {country}
    at.multiselect(key="f_country").unselect(country).run()
    at.number_input(key="f_amount").set_value(50.0).run()
    assert 0 < shown(at) < total
    assert (at.dataframe[0].value["difference"].map(lambda d: abs(float(d))) >= 50).all()


def test_differences_search_finds_a_document_matched_or_not(demo):
    """The search box finds one document by its number or reference: a difference, and a matched
    document too (labelled so), so that "nothing found" means the run does not hold it."""
    import polars as pl

    from exactsync import views
    from exactsync.reconcile import latest_run, results

    rows = results(demo.store(), latest_run(demo.store()).run_id)
    matched = rows.filter((pl.col("status") == "matched") & pl.col("doc_number").is_not_null()).row(0, named=True)
    missing = rows.filter(pl.col("status") == "missing_in_exact").row(0, named=True)

    def caption(at) -> str:
        return next(c.value for c in at.caption if "selected for push" in c.value)

    at = run_page("differences.py")
    everything = caption(at).split(" · ")[0]
    at.text_input(key="f_search").input(missing["doc_number"]).run()
    shown = at.dataframe[0].value
    assert missing["your_ref"] in set(shown["reference"]), shown
    assert views.status_label("missing_in_exact") in set(shown["status"])
    assert caption(at).startswith(f"{len(shown):,} result(s) for “{missing['doc_number']}” (matched documents included)")
    at.text_input(key="f_search").input(matched["your_ref"]).run()
    shown = at.dataframe[0].value
    assert list(shown["status"]) == [views.status_label("matched")] and list(shown["reference"]) == [matched["your_ref"]]
    at.text_input(key="f_search").input("no-such-document-42").run()
    assert caption(at).startswith("0 result(s) for “no-such-document-42”")
    at.text_input(key="f_search").input("").run()
    assert caption(at).split(" · ")[0] == everything and everything.endswith("difference(s)")


def test_differences_show_the_division_currency_difference_when_a_row_is_in_another(demo):
    """The list is sorted by the difference in the division's currency; a page with a GBP or SEK row
    shows that difference beside the row's own, headed with the currency. An all-EUR page does not."""
    from decimal import Decimal

    from exactsync import views
    from exactsync.reconcile import latest_run, results

    rows = {r["your_ref"]: r for r in results(demo.store(), latest_run(demo.store()).run_id).iter_rows(named=True)}
    at = run_page("differences.py")
    at.multiselect(key="f_found").select("currency_differs").run()
    config = json.loads(at.dataframe[0].proto.columns)
    shown = at.dataframe[0].value
    assert set(shown["currency"]) - {"EUR"}, "the demo's currency cases are GBP / SEK documents"
    assert config["difference_dc"]["label"] == "Difference (EUR)" and not config["difference_dc"].get("hidden")
    for ref, dc in zip(shown["reference"], shown["difference_dc"]):
        assert Decimal(str(dc)) == rows[ref]["delta_gross_dc"].quantize(Decimal("0.01"))
    at.multiselect(key="f_found").unselect("currency_differs").select("missing_in_exact").run()
    assert set(at.dataframe[0].value["currency"]) == {"EUR"}
    assert json.loads(at.dataframe[0].proto.columns)["difference_dc"]["hidden"]
    assert views.status_label("missing_in_exact") in set(at.dataframe[0].value["status"])


def test_differences_never_sends_more_than_a_page(demo):
    at = run_page("differences.py")
    total = int(at.caption[0].value.split(" ")[0].replace(",", ""))
    assert len(at.dataframe[0].value) == min(total, 50)

    config = json.loads(at.dataframe[0].proto.columns)  # headed for a reader, money with separators
    assert {k: config[k]["label"] for k in ("status", "reference", "difference", "detail")} == {
        "status": "Status", "reference": "Reference (YourRef)", "difference": "Difference", "detail": "Explanation"}
    assert config["exact_gross"]["type_config"]["format"] == "%,.2f" and config["result_key"]["hidden"]


def test_vat_per_country_sections(demo):
    at = run_page("vat.py")
    headers = [h.value for h in at.main.subheader]
    assert headers[:4] == ["Domestic", "EU distance sales (OSS)", "Intra-EU B2B (reverse charge)",
                           "Export outside the EU"], headers  # domestic / OSS / reverse charge / export apart
    assert len(at.get("plotly_chart")) == len(headers)  # a chart per treatment

    config = json.loads(at.dataframe[0].proto.columns)  # money: Decimal in the frame, two decimals shown
    assert config["shop_vat"]["type_config"]["format"] == "%,.2f"
    assert config["rate"]["type_config"].get("format") is None  # a rate is not money
    assert (config["shop_vat"]["label"], config["delta_vat"]["label"], config["rate"]["label"]) == \
        ("Shop VAT", "Δ VAT", "Rate %")  # headed for a reader, not with the frame's names
    from decimal import Decimal as _D

    assert all(isinstance(v, _D) for v in at.dataframe[0].value["shop_vat"])  # Decimal values, not float
    domestic = at.dataframe[0].value
    assert "NL" in set(domestic["country"])
    countries = set().union(*(set(d.value["country"]) for d in at.dataframe))
    assert {"DE", "FR", "BE"} <= countries
    # the shop side adds up to the manifest's VAT per currency (both shops, every treatment)
    from decimal import Decimal

    expected: dict[str, Decimal] = {}
    for totals in demo.manifest["totals"].values():
        for currency, vat in totals["vat"].items():
            expected[currency] = expected.get(currency, Decimal(0)) + Decimal(vat)
    got: dict[str, Decimal] = {}
    for d in at.dataframe:
        for currency, vat in zip(d.value["currency"], d.value["shop_vat"]):
            got[currency] = got.get(currency, Decimal(0)) + Decimal(str(vat))
    assert got == expected
    # the demo sells to Sweden in SEK: the OSS section says those rows are not converted to EUR
    oss = next(d.value for d in at.dataframe if "SE" in set(d.value["country"]) and "SEK" in set(d.value["currency"]))
    assert len(oss)
    assert any(c.value.startswith("Rows in SEK are in their own currency. The OSS return is filed in EUR")
               for c in at.caption)


def _vat_sums(at: AppTest, column: str) -> dict:
    from decimal import Decimal

    got: dict[str, Decimal] = {}
    for d in at.dataframe:
        for currency, vat in zip(d.value["currency"], d.value[column]):
            got[currency] = got.get(currency, Decimal(0)) + Decimal(str(vat))
    return got


def test_vat_per_country_honours_the_shop_picker(demo):
    """A picked shop: its own documents (the manifest's VAT per currency for that shop) against the
    Exact entries matched to them; Exact bookings of no shop are named, not hidden. The shops' Exact
    sides and those bookings add up to the all-shops table."""
    from decimal import Decimal

    at = run_page("vat.py")
    all_exact = _vat_sums(at, "exact_vat")
    exact_parts: dict[str, Decimal] = {}
    for shop in ("woo-demo", "magento-demo"):
        at.sidebar.selectbox(key="shop").select(shop).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(f"shop **{shop}**" in c.value for c in at.caption)
        expected = {cur: Decimal(v) for cur, v in demo.manifest["totals"][shop]["vat"].items()}
        assert _vat_sums(at, "shop_vat") == expected, shop
        for cur, v in _vat_sums(at, "exact_vat").items():
            exact_parts[cur] = exact_parts.get(cur, Decimal(0)) + v
    outside = [c for c in demo.manifest["cases"] if c["shop"] is None and c["division"] == 700001]
    note = next(i.value for i in at.info if i.value.startswith("Not in this shop's table"))
    assert f"*Only in Exact*: {len(outside):,} reference(s)" in note
    from exactsync import views

    run_id = next(c.value for c in at.caption if c.value.startswith("Run ")).split(" ")[1]
    for r in views.vat_outside_shops(demo.store(), run_id, division=700001).iter_rows(named=True):
        exact_parts[r["currency"]] = exact_parts.get(r["currency"], Decimal(0)) + r["exact_vat"]
    assert {k: v for k, v in exact_parts.items() if v} == {k: v for k, v in all_exact.items() if v}


# ---- an independent reading of VAT per shop, from the lines of the run's own rows (the oracle)

def _country(expr: str) -> str:
    """The engine's country normalisation (EL → GR, UK → GB, blank → NULL) as a SQL expression."""
    return (f"CASE upper(trim({expr})) WHEN 'EL' THEN 'GR' WHEN 'UK' THEN 'GB' "
            f"ELSE nullif(upper(trim({expr})), '') END")


def _shop_vat_sql(store: Store, run_id: str, *, shop: str | None, division: int | None) -> tuple[str, list]:
    from exactsync.views.base import period_bounds
    from exactsync.views.recon import run_info

    run = run_info(store, run_id)
    start, end = period_bounds(run["period"]) if run is not None else period_bounds("1970-01")
    where, params = ["run_id = ?", "shop IS NULL" if shop is None else "shop = ?"], [run_id]
    if shop is not None:
        params.append(shop)
    if division is not None:
        where.append("division = ?")
        params.append(int(division))
    results = f"SELECT * FROM recon_results WHERE {' AND '.join(where)}"
    sql = f"""
        WITH res AS ({results}),
        docs AS (SELECT doc_key, division, currency FROM res WHERE starts_with(result_key, 'doc:')),
        svat AS (
            SELECT 'shop' AS scope, d.division, d.currency, l.treatment, {_country('l.country')} AS country,
                   CAST(l.rate AS DECIMAL(7,4)) AS rate, sum(l.base) AS base, sum(l.vat) AS vat,
                   count(DISTINCT l.doc_key) AS documents
            FROM shop_vat_lines l JOIN docs d ON d.doc_key = l.doc_key
            GROUP BY ALL
        ),
        ids AS (SELECT DISTINCT division, unnest(entry_ids) AS entry_id FROM res),
        ent AS (
            SELECT e.division, e.entry_id, e.currency, e.customer_id,
                   coalesce(coalesce(p.start_date, e.entry_date) >= ? AND coalesce(p.start_date, e.entry_date) < ?,
                            false) AS in_period
            FROM ids JOIN exact_entries e ON e.division = ids.division AND e.entry_id = ids.entry_id
            LEFT JOIN exact_periods p ON p.division = e.division AND p.fin_year = e.fin_year
                                     AND p.fin_period = e.fin_period
        ),
        home AS (  -- the division's country, for domestic codes without one (the engine's rule)
            SELECT d.division, coalesce({_country('x.country')}, s.country, 'NL') AS country
            FROM (SELECT DISTINCT division FROM ent) d
            LEFT JOIN exact_divisions x ON x.division = d.division
            LEFT JOIN (SELECT division, mode(country) AS country FROM recon_vat
                       WHERE run_id = ? AND scope = 'shop' AND treatment = 'domestic' GROUP BY division) s
                   ON s.division = d.division
        ),
        evat AS (
            SELECT CASE WHEN e.in_period THEN 'exact' ELSE 'exact_other_period' END AS scope, e.division,
                   e.currency, coalesce(m.treatment, 'unknown') AS treatment,
                   coalesce(m.country, CASE WHEN m.treatment = 'domestic' THEN h.country
                                            ELSE {_country('a.country')} END) AS country,
                   CAST(CASE WHEN m.source = 'vat_code_map' AND m.rate IS NOT NULL THEN m.rate
                             ELSE coalesce(l.vat_percentage, m.rate, 0) END AS DECIMAL(7,4)) AS rate,
                   sum(l.base) AS base, sum(l.vat) AS vat, count(DISTINCT e.entry_id) AS documents
            FROM exact_vat_lines l
            JOIN ent e ON e.division = l.division AND e.entry_id = l.entry_id
            LEFT JOIN recon_vat_map m ON m.run_id = ? AND m.division = l.division AND m.vat_code = trim(l.vat_code)
            LEFT JOIN home h ON h.division = l.division
            LEFT JOIN exact_accounts a ON a.division = e.division AND a.account_id = e.customer_id
            GROUP BY ALL
        )
        SELECT * FROM svat UNION ALL BY NAME SELECT * FROM evat
    """
    return sql, [*params, start, end, run_id, run_id]




def test_saved_vat_per_shop_equals_the_lines_of_the_shops_rows(demo):
    """The run's saved VAT table per shop (recon_vat.shop) equals, row by row (scope, division,
    currency, treatment, country, rate), the VAT lines of the documents and Exact entries the run gave
    that shop, read independently here; per shop + no shop = the whole saved table."""
    import polars as pl

    from exactsync import views

    store = demo.store()
    run_id = views.latest_run_info(store)["run_id"]
    key = ["scope", "division", "currency", "treatment", "country", "rate"]

    def total(df):
        return (df.cast({"division": pl.Int64, "documents": pl.Int64}).group_by(key)
                .agg(pl.col("base").sum(), pl.col("vat").sum(), pl.col("documents").sum())
                .sort(key, nulls_last=True).rows())

    parts = []
    for shop in (*demo.settings.shops, None):
        saved = views.shop_vat_rows(store, run_id, shop=shop)
        sql, params = _shop_vat_sql(store, run_id, shop=shop, division=None)
        oracle = store.query(sql, params).select(list(saved.columns))
        assert total(saved) == total(oracle), shop
        parts.append(saved)
        if shop is not None:
            assert saved.height > 0 and set(saved["scope"]) >= {"shop", "exact"}
    whole = store.query("SELECT scope, division, currency, treatment, country, rate, base, vat, documents "
                        "FROM recon_vat WHERE run_id = ?", [run_id])
    assert total(pl.concat(parts)) == total(whole)
    assert parts[0].schema["vat"] == pl.Decimal(18, 4)  # money stays Decimal
    woo = views.vat_table(store, run_id, shop="woo-demo")
    assert int(woo["shop_documents"].sum()) >= demo.manifest["totals"]["woo-demo"]["documents"] - 5


def test_push_flow_up_to_the_confirmation(demo):
    at = run_page("differences.py")
    at.multiselect(key="f_status").select("missing_in_exact").run()
    at.button(key="select_all").click().run()
    missing = demo.expected("missing_in_exact")
    at.switch_page("pages/push.py").run()
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    assert int(m["Entries to create"].replace(",", "")) == missing
    assert int(m["API calls"].replace(",", "")) >= missing
    assert m["Estimated time"] and m["Left out"] == "0"
    # effect on totals = the missing documents' own net and VAT (Decimal, to the cent)
    from decimal import Decimal

    from exactsync import views
    from exactsync.reconcile import results

    store = demo.store()
    rows = results(store, views.latest_run_info(store, period=demo.period, division=700001)["run_id"])
    gone = rows.filter(rows["status"] == "missing_in_exact")
    effect = next(d.value for d in at.dataframe if {"period", "country", "vat_code", "jobs"} <= set(d.value.columns))
    entries = next(d for d in at.dataframe if "kind" in d.value.columns)
    labels = {k: v.get("label") for k, v in json.loads(entries.proto.columns).items()}
    assert labels["currency"] == "Currency" and labels["your_ref"] == "YourRef" and labels["net"] == "Net"
    assert sum(Decimal(str(x)) for x in effect["net"]) == sum(gone["shop_net"])
    assert sum(Decimal(str(x)) for x in effect["vat"]) == sum(gone["shop_vat"])
    # and per revenue G/L account: the same net, on the demo's accounts
    revenue = next(d.value for d in at.dataframe if {"gl_code", "jobs"} <= set(d.value.columns))
    assert sum(Decimal(str(x)) for x in revenue["net"]) == sum(gone["shop_net"])
    assert set(revenue["gl_code"]) <= {"8000", "8010", "8020", "8100"}
    # the payload preview shows what is POSTed, for exactly these documents

    payloads = [json.loads(c.value) for c in at.code]
    assert len(payloads) == min(missing, 5)
    refs = {p["YourRef"] for p in payloads}
    assert refs <= {c["reference"] for c in demo.manifest["cases"] if c["expected_status"] == "missing_in_exact"}
    opener = at.button(key="push_open")
    assert opener.label == f"Push {missing:,} entries…" and not opener.disabled
    opener.click().run()
    assert not at.exception
    confirm = at.button(key="confirm_push")
    assert confirm.label == f"Push {missing:,} now"
    assert any("creates" in md.value and f"**{missing:,}**" in md.value for md in at.markdown)
    at.button(key="cancel_push").click().run()
    assert "push_confirmed" not in at.session_state
    assert demo.store().scalar("SELECT count(*) FROM push_jobs") == 0, "nothing is sent before the confirmation"


def test_push_books_a_closed_period_on_the_date_given(demo):
    """October closed for the sales journal: the plan refuses, naming it; a date in November books there."""
    store = demo.store()
    journal = str(demo_settings_journal(demo))
    store.execute("INSERT OR REPLACE INTO exact_journal_status VALUES (700001, ?, 2026, 10, 1)", [journal])
    try:
        at = run_page("differences.py")
        at.multiselect(key="f_status").select("missing_in_exact").run()
        at.button(key="select_all").click().run()
        at.switch_page("pages/push.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(f"2026-10 is closed for journal {journal}" in e.value for e in at.error)
        assert at.button(key="push_open").disabled
        at.date_input(key="closed_period_date").set_value(dt.date(2026, 11, 2)).run()
        assert not at.exception and not at.error
        missing = demo.expected("missing_in_exact")
        assert any(f"dated 2026-11-02: their own period is closed (2026-10)" in i.value for i in at.info)
        assert not at.button(key="push_open").disabled
        effect = next(d.value for d in at.dataframe if {"period", "country", "vat_code", "jobs"} <= set(d.value.columns))
        assert set(effect["period"]) == {"2026-11"} and int(effect["jobs"].sum()) >= missing
    finally:
        store.execute("DELETE FROM exact_journal_status WHERE division = 700001 AND journal_code = ? "
                      "AND fin_year = 2026 AND fin_period = 10", [journal])
    assert store.scalar("SELECT count(*) FROM push_jobs") == 0


def test_push_warns_when_b2b_documents_go_to_a_collective_debtor(demo):
    """Strategy collective on the demo: correcting the planted amount and VAT differences books the
    B2B ones (with a VAT number) on a collective debtor; the Push page warns and still allows it."""
    import polars as pl

    from exactsync import mapping

    store = demo.store()
    before = mapping.read_mapping(store, "settings", 700001).drop("error")
    collective = before.with_columns(pl.lit("collective").alias("debtor_strategy"))
    assert mapping.save_mapping(store, "settings", collective, 700001).saved
    try:
        at = run_page("differences.py")
        at.multiselect(key="f_status").select("amount_differs").select("vat_differs").run()
        at.button(key="select_all").click().run()
        at.switch_page("pages/push.py").run()
        assert not at.exception, [e.value for e in at.exception]
        warned = [w.value for w in at.warning if "with a VAT number go to their country's collective debtor" in w.value]
        assert warned and "Mappings → Journal & debtors" in warned[0]
        assert not at.button(key="push_open").disabled
    finally:
        assert mapping.save_mapping(store, "settings", before, 700001).saved
    at = run_page("differences.py")
    at.multiselect(key="f_status").select("amount_differs").select("vat_differs").run()
    at.button(key="select_all").click().run()
    at.switch_page("pages/push.py").run()
    assert not [w for w in at.warning if "collective debtor" in w.value]  # the demo's lookup strategy
    assert store.scalar("SELECT count(*) FROM push_jobs") == 0


def demo_settings_journal(demo) -> str:
    from exactsync.settings import load_settings

    return load_settings(demo.config).exact.sales_journal


def test_sync_log_shows_api_calls_redacted(demo):
    at = run_page("sync_log.py")
    m = metrics(at)
    assert m["Synced"] == "0" and m["Error"] == "0"
    calls = [c.value for c in at.caption if "call(s)" in c.value]
    assert calls and int(calls[0].split(" ")[0].replace(",", "")) > 0
    text = page_text(at)
    shop = demo.settings.shops["woo-demo"]
    assert shop.consumer_secret.get() not in text and shop.consumer_key.get() not in text


def test_connections_never_render_secrets(demo):
    at = run_page("connections.py")
    text = page_text(at)
    assert "configured ✓" in text
    s = demo.settings
    for secret in (s.exact.client_secret.get(), s.shops["woo-demo"].consumer_secret.get(),
                   s.shops["woo-demo"].consumer_key.get(), s.shops["magento-demo"].token.get()):
        assert secret and secret not in text
    assert metrics(at)["Connection"] == "connected"
    at.button(key="test_exact").click().run()
    assert not at.exception
    assert any(x.value.startswith("Connected as Demo Boekhouder") for x in at.success)
    headroom = [d.value for d in at.dataframe if "division" in d.value.columns and len(d.value.columns) > 2]
    assert headroom, "rate-limit headroom is shown"
    for name, kind in (("woo-demo", "WooCommerce"), ("magento-demo", "Magento")):
        at.button(key=f"test_shop_{name}").click().run()
        assert not at.exception
        assert any(x.value.startswith(f"{name}: {kind} answered") for x in at.success), name
    text = page_text(at)
    for secret in (s.exact.client_secret.get(), s.shops["woo-demo"].consumer_secret.get(),
                   s.shops["magento-demo"].token.get()):
        assert secret not in text


def test_connections_token_age_and_the_30_day_warning(app_env, monkeypatch):
    """An Exact connection refreshed 27 days ago: token age shown, the refresh token's days left and
    the warning before the 30-day end; no token, secret or client secret on the page."""
    import time

    now = time.time()
    token_file = app_env / "exact_token.json"
    secrets = {"access_token": "access-token-never-shown-7f3a", "refresh_token": "refresh-token-never-shown-91c2"}
    token_file.write_text(json.dumps({**secrets, "token_type": "bearer", "expires_in": 600,
                                      "expires_at": int(now - 3 * 3600) + 600, "issued_at": now - 3 * 3600,
                                      "refreshed_at": now - 27 * 86400, "connected_at": now - 60 * 86400}))
    (app_env / "exactsync.toml").write_text(
        '[store]\npath = "app.duckdb"\n[exact]\nclient_id = "client-id-1234"\ndivisions = [123456]\n'
        f'token_file = "{token_file}"\n')
    monkeypatch.setenv("EXACTSYNC_EXACT__CLIENT_SECRET", "client-secret-never-shown-5d")
    at = run_page("connections.py")
    m = metrics(at)
    assert m["Connection"] == "connected"
    assert m["Token age"] == "3 h"
    assert m["Refresh token valid"] == "3.0 days"
    assert any("refresh token expires in 3.0 days" in w.value for w in at.warning), [w.value for w in at.warning]
    text = page_text(at)
    assert "configured ✓" in text and "client-id-1234" in text  # the client id is not a secret
    for secret in (*secrets.values(), "client-secret-never-shown-5d"):
        assert secret not in text
    # 30 days without a refresh: expired, reconnect
    data = json.loads(token_file.read_text())
    token_file.write_text(json.dumps({**data, "refreshed_at": now - 31 * 86400}))
    at = run_page("connections.py")
    assert any("refresh token has expired" in w.value for w in at.warning)
    # not connected at all
    token_file.unlink()
    at = run_page("connections.py")
    assert metrics(at)["Connection"] == "not connected" and metrics(at)["Token age"] == "—"
    assert any(w.value.startswith("Not connected to Exact Online") for w in at.warning)
    assert at.button(key="test_exact").disabled


def test_mappings_explain_the_offending_row_and_save_nothing(demo):
    """A VAT code Exact does not know: *Validate and save* marks that row's *Error* column with the
    reason, says nothing was saved, and the stored mapping is unchanged."""
    from exactsync import mapping

    store = demo.store()
    before = mapping.read_mapping(store, "vat", 700001)
    at = run_page("mappings.py")
    original = at.dataframe[0].value
    row = 3
    at.session_state["map_edit_vat"] = {"edited_rows": {row: {"vat_code": "NOPE9"}}, "added_rows": [],
                                        "deleted_rows": []}
    at.button(key="map_save_vat").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.value.startswith("1 row(s) need a fix") for e in at.error), [e.value for e in at.error]
    shown = at.dataframe[0].value
    assert shown["vat_code"].iloc[row] == "NOPE9"
    assert "VAT code 'NOPE9' does not exist in division 700001" in shown["error"].iloc[row]
    assert (shown["error"].drop(index=row) == "").all(), "only the offending row carries a message"
    assert len(shown) == len(original)
    assert mapping.read_mapping(store, "vat", 700001).equals(before), "nothing was saved"


def test_mappings_page_suggests_the_missing_debtors_from_the_books(demo):
    """No debtor mapped: *Suggest* reads them from the matched documents' entries (with the evidence),
    *Add* puts them in the table for review, *Validate and save* stores them; the debtors then
    resolve like the demo's own mapping for every country."""
    from exactsync import mapping

    store = demo.store()
    original = mapping.read_mapping(store, "debtor", 700001)
    before = mapping.load_mappings(store, 700001)
    with store.atomic() as con:
        con.execute("DELETE FROM map_debtors WHERE division = 700001")
    try:
        at = run_page("mappings.py")
        at.button(key="map_suggest_debtor").click().run()
        assert not at.exception, [e.value for e in at.exception]
        suggested = next(d.value for d in at.dataframe if "evidence" in d.value.columns)
        assert set(suggested.columns) >= {"country", "account_code", "evidence"} and len(suggested) > 3
        assert all(" of " in e and "matched document(s)" in e for e in suggested["evidence"])
        assert mapping.read_mapping(store, "debtor", 700001).height == 0  # nothing saved by suggesting
        at.button(key="map_add_debtor").click().run()
        editor = next(d.value for d in at.dataframe if "account_code" in d.value.columns and "error" in d.value.columns)
        assert len(editor) == len(suggested) and (editor["error"] == "").all()
        at.button(key="map_save_debtor").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(s.value == f"Saved {len(suggested)} row(s)." for s in at.success), [s.value for s in at.success]
        after = mapping.load_mappings(store, 700001)
        countries = [r[0] for r in store.rows("SELECT DISTINCT upper(vat_country) FROM shop_documents")]
        assert {c: after.collective_debtor(c) for c in countries} == {c: before.collective_debtor(c) for c in countries}
    finally:
        assert mapping.save_mapping(store, "debtor", original.drop("error"), 700001).saved


def test_mappings_page_maps_a_gl_account_per_treatment(demo):
    """The G/L tab keys a row by treatment too (a choice list, empty = any): a typo is explained,
    an export row is saved and then wins over the catch-all for export lines only."""
    from exactsync import mapping, views

    store = demo.store()
    before = mapping.read_mapping(store, "gl", 700001)
    config = views.mapping_columns("gl", 700001)["treatment"]
    assert config["type_config"]["options"][:2] == ["any", "domestic"] and "mixed" not in config["type_config"]["options"]
    at = run_page("mappings.py")
    editor = next(d.value for d in at.dataframe if "gl_code" in d.value.columns)
    assert set(editor["treatment"]) == {"any", "domestic", "oss"}  # a row for any treatment says so
    row = {"line_type": "goods", "treatment": "b2b", "tax_class": "", "country": "", "gl_code": "8100"}
    at.session_state["map_edit_gl"] = {"edited_rows": {}, "added_rows": [row], "deleted_rows": []}
    at.button(key="map_save_gl").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = next(d.value for d in at.dataframe if "gl_code" in d.value.columns)
    assert "treatment 'b2b' is not one of domestic" in shown["error"].iloc[-1]
    assert mapping.read_mapping(store, "gl", 700001).equals(before), "nothing was saved"
    try:
        # fixed in the same session: saved, and neither the banner nor the error of the attempt before stays
        at.session_state["map_edit_gl"] = {"edited_rows": {before.height: {"treatment": "export"}}, "added_rows": [],
                                           "deleted_rows": []}  # the row the error is on, mended
        at.button(key="map_save_gl").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(s.value == f"Saved {before.height + 1} row(s)." for s in at.success), [s.value for s in at.success]
        assert not [e.value for e in at.error if "need a fix" in e.value], [e.value for e in at.error]
        shown = next(d.value for d in at.dataframe if "gl_code" in d.value.columns)
        assert (shown["error"].fillna("") == "").all() and len(shown) == before.height + 1
        m = mapping.load_mappings(store, 700001)
        assert m.gl_code("goods", None, "US", "export") == "8100"
        assert m.gl_code("goods", None, "DE", "reverse_charge") == "8020"
    finally:
        assert mapping.save_mapping(store, "gl", before.drop("error"), 700001).saved


def test_mappings_page_lists_every_kind(demo):
    from exactsync.views import demo_mapping_frames

    at = run_page("mappings.py")
    assert [t.label for t in at.tabs] == ["VAT codes", "G/L accounts", "Cost centres", "Debtors", "Journal & debtors"]
    seeded = demo_mapping_frames(700001)
    vat_editor = at.dataframe[0].value  # editors read back as frames (AppTest cannot edit them)
    assert len(vat_editor) == seeded["vat"].height
    assert (vat_editor["error"] == "").all()  # blank cells, not "None"
    assert not at.error


def test_status_page_counts_the_demo(demo):
    from exactsync.reconcile import latest_run

    at = run_page("status.py")
    assert metrics(at)["Shop documents"] == f"{demo.manifest['counts']['documents']:,}"
    newest = demo.store().applied_migrations()[-1]  # the number shown (it fits), the name in its help
    version = next(m for m in at.metric if m.label == "Schema version")
    assert version.value == newest.split("_")[0] and newest in version.help
    # the newest runs, newest first, and the push jobs by status (an Error says where to look)
    runs = next(d.value for d in at.dataframe if "differences" in d.value.columns)
    assert runs["run_id"].iloc[0] == latest_run(demo.store()).run_id
    saved = demo.store().scalar("SELECT count(*) FROM recon_runs")
    caption = next(c.value for c in at.caption if c.value.endswith("*Runs & export* reopens any of them."))
    assert caption.startswith(f"The newest {len(runs)} of {saved:,}; ") == (saved > len(runs))
    jobs = dict(demo.store().rows("SELECT status, count(*) FROM push_jobs GROUP BY status"))
    shown = metrics(at)
    assert {k: shown[k] for k in jobs} == {k: f"{n:,}" for k, n in jobs.items()}
    assert ("Nothing pushed yet." in {i.value for i in at.info}) == (not jobs)
    assert any("push job(s) in Error" in w.value for w in at.warning) == bool(jobs.get("Error"))
    errors = demo.store().scalar("SELECT count(*) FROM sync_log WHERE level = 'error' AND logged_at >= ?",
                                 [dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=7)])
    assert any(w.value.startswith(f"{errors:,} error(s) in the sync log in the last 7 days; the newest")
               for w in at.warning) == bool(errors)


def test_runs_page_reopens_a_run(demo):
    from exactsync.reconcile import run_reconciliation

    store = demo.store()
    newer = run_reconciliation(store, demo.settings, demo.period)  # a newer run than the one to reopen
    # the Overview of the newer run says what changed since the one before it (nothing: same data)
    at = run_page("overview.py")
    assert any(c.value.startswith("Since the previous run of this period (") and
               f"0 difference(s) resolved, 0 new, {newer.differences:,} still open" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    at = run_page("runs.py")
    runs = at.dataframe[0].value
    assert len(runs) >= 2
    old = runs["run_id"].iloc[-1]
    at.selectbox(key="runs_pick").select(old).run()
    at.button(key="reopen").click().run()
    assert at.session_state["run_id"] == old
    assert any(f"Showing saved run {old} on every page." == i.value for i in at.info)
    # every page shows that run as it was
    at.switch_page("pages/overview.py").run()
    assert next(c.value for c in at.caption if c.value.startswith("Run ")).startswith(f"Run {old} ")
    at.switch_page("pages/vat.py").run()
    assert next(c.value for c in at.caption if c.value.startswith("Run ")).startswith(f"Run {old} ")
    assert at.sidebar.selectbox(key="period").value == runs["period"].iloc[-1]  # the sidebar follows the run
    at.switch_page("pages/runs.py").run()
    at.button(key="newest").click().run()
    assert "run_id" not in at.session_state
    at.button(key="export").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (download,) = at.get("download_button")
    assert download.label.endswith(".xlsx")
    _run, _fmt, name, data = at.session_state["export_file"]
    assert data[:2] == b"PK" and len(data) > 2000  # an xlsx (zip) file
    at.radio(key="export_fmt").set_value("csv").run()
    assert not at.get("download_button")  # the xlsx prepared before is not offered as the csv
    at.button(key="export").click().run()
    _run, _fmt, name, data = at.session_state["export_file"]
    assert name.endswith(".csv") and data.count(b"\n") >= 2
    at.radio(key="export_fmt").set_value("zip").run()
    at.button(key="export").click().run()
    _run, _fmt, name, data = at.session_state["export_file"]
    import io
    import zipfile

    assert name.endswith(".zip") and "differences.csv" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    other = next(r for r in runs["run_id"] if r != _run)
    at.selectbox(key="runs_pick").select(other).run()
    assert not at.get("download_button")  # prepared for another run


def test_a_reopened_run_gives_way_to_a_new_pull_and_to_another_period(demo):
    """Reopened on Runs & export, an old run stayed on every page after *Pull & reconcile* made a
    new one, and when another month was picked in the sidebar."""
    from exactsync.reconcile import run_reconciliation

    store = demo.store()
    run_reconciliation(store, demo.settings, demo.period)
    old = store.scalar("SELECT min(run_id) FROM recon_runs WHERE period = ?", [demo.period])
    at = run_page("runs.py")
    at.selectbox(key="runs_pick").select(old).run()
    at.button(key="reopen").click().run()
    at.switch_page("pages/overview.py").run()
    assert next(c.value for c in at.caption if c.value.startswith("Run ")).startswith(f"Run {old} ")
    at.button(key="refresh").click().run()
    assert not at.exception, [e.value for e in at.exception]
    newest = store.scalar("SELECT max(run_id) FROM recon_runs WHERE period = ?", [demo.period])
    assert newest != old and "run_id" not in at.session_state
    assert next(c.value for c in at.caption if c.value.startswith("Run ")).startswith(f"Run {newest} ")

    at.session_state["run_id"] = old  # reopened again, then another month picked
    at.run()
    assert next(c.value for c in at.caption if c.value.startswith("Run ")).startswith(f"Run {old} ")
    others = [p for p in at.sidebar.selectbox(key="period").options if p != demo.period]
    assert others, "the demo has more than one period to pick"
    at.sidebar.selectbox(key="period").select(others[0]).run()
    assert not at.exception and "run_id" not in at.session_state
    assert not any(c.value.startswith(f"Run {old} ") for c in at.caption)


def test_vat_sections_never_leave_a_treatment_out():
    from exactsync.views import TREATMENT_SECTIONS, treatment_sections

    got = treatment_sections(["export", "unknown", "domestic", "something_new", None])
    assert [t for t, _ in got] == ["domestic", "export", "unknown", "something_new"]
    assert dict(got)["unknown"] == dict(TREATMENT_SECTIONS)["unknown"]


def test_every_treatment_a_run_can_show_has_words():
    """The drill-down and the XLSX sheets showed reverse_charge, oss and zero_rated as codes."""
    from exactsync.labels import treatment_label
    from exactsync.vat import TREATMENTS

    for code in (*TREATMENTS, "unknown", "zero_rated"):
        assert "_" not in treatment_label(code) and treatment_label(code) != code, code
    assert treatment_label("zero_rated") == "Zero-rated (export, exempt or 0 %)"
    assert (treatment_label("something_new"), treatment_label(None)) == ("something_new", None)


def test_mapping_frame_round_trip_keeps_decimals():
    import pandas as pd

    from exactsync.views import mapping_frame

    edited = pd.DataFrame([{"division": None, "country": "de", "rate": 19.0, "treatment": "oss", "vat_code": "OSS19",
                            "error": None},
                           {"division": None, "country": None, "rate": None, "treatment": None, "vat_code": None,
                            "error": None}])
    out = mapping_frame("vat", edited, 700001)
    assert out.height == 1
    row = out.row(0, named=True)
    from decimal import Decimal

    assert row["division"] == 700001 and row["rate"] == Decimal("19") and row["vat_code"] == "OSS19"


def test_connect_exact_through_the_apps_own_redirect(demo):
    """Connect Exact → the sandbox's consent page → Exact's redirect back to the app with
    ?code=…&state=… → the app checks the state, exchanges the code and cleans the URL."""
    from urllib.parse import parse_qs, urlsplit

    import httpx2

    at = run_page("connections.py")
    at.button(key="connect_exact").click().run()
    url = at.session_state["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    ex = demo.settings.exact
    assert url.startswith(ex.base_url) and query["redirect_uri"] == [ex.redirect_uri]
    form = {"client_id": ex.client_id, "redirect_uri": ex.redirect_uri, "response_type": "code", "allow": "1",
            "state": query["state"][0]}
    consent = httpx2.post(f"{ex.base_url}/api/oauth2/auth", data=form, timeout=30)  # the user presses "Allow"
    back = parse_qs(urlsplit(consent.headers["location"]).query)

    arrival = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)  # a new browser session
    arrival.query_params["code"] = back["code"][0]
    arrival.query_params["state"] = back["state"][0]
    arrival.run()
    assert not arrival.exception, [e.value for e in arrival.exception]
    assert any(s.value.startswith("Connected to Exact Online") for s in arrival.success)
    assert "code" not in arrival.query_params
    assert back["code"][0] not in page_text(arrival)
    # the same answer a second time is refused: a state is single-use
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    again.query_params["code"] = back["code"][0]
    again.query_params["state"] = back["state"][0]
    again.run()
    assert any("does not belong to a connection started here" in e.value for e in again.error)


@pytest.mark.parametrize("config", ['[store]\npath = "/proc/no-such-dir/x.duckdb"\n', "[store\npath = 1\n"],
                         ids=["store-cannot-open", "broken-toml"])
def test_a_failing_page_shows_a_message_not_a_traceback(app_env, config):
    """A store that cannot be opened, or a broken config: every page says so in words."""
    (app_env / "exactsync.toml").write_text(config)
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()
        if page != "overview.py":
            at.switch_page(f"pages/{page}").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.error, page
        assert all("Traceback" not in e.value for e in at.error)


def test_overview_pull_and_reconcile_makes_a_new_run(demo):
    """The button pulls every source and reconciles under st.status; the page then shows the new run."""
    store = demo.store()
    before = store.scalar("SELECT count(*) FROM recon_runs")
    at = run_page("overview.py")
    old_caption = next(c.value for c in at.caption if c.value.startswith("Run "))
    at.button(key="refresh").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert store.scalar("SELECT count(*) FROM recon_runs") == before + 1
    new_caption = next(c.value for c in at.caption if c.value.startswith("Run "))
    assert new_caption != old_caption
    assert metrics(at)["Documents"] == f"{demo.manifest['counts']['documents']:,}"


def test_overview_pull_and_reconcile_goes_on_past_a_shop_that_refuses(demo):
    """WooCommerce revoked the key: Magento and Exact are still pulled, the run is still made, and the
    page says which shop could not be read and why (until a later pull reads it)."""
    from exactsync.sandbox.woocommerce.auth import Authenticator

    woo = demo.servers["woocommerce"].app
    store = demo.store()
    runs, pulls = store.scalar("SELECT count(*) FROM recon_runs"), store.scalar("SELECT count(*) FROM sync_log")
    at = run_page("overview.py")
    keys, woo.auth = woo.auth, Authenticator([], woo.clock)  # every key is now unknown
    try:
        at.button(key="refresh").click().run()
    finally:
        woo.auth = keys
    assert not at.exception, [e.value for e in at.exception]
    assert store.scalar("SELECT count(*) FROM recon_runs") == runs + 1
    shown = [e.value for e in at.error]
    assert len(shown) == 1 and re.match(r"Some sources could not be pulled \(\d\d:\d\d UTC\)", shown[0]), shown
    assert "woo-demo: WooCommerce refused" in shown[0] and "magento" not in shown[0], shown
    newer = store.rows("SELECT source, level FROM sync_log ORDER BY log_id OFFSET ?", [pulls])
    assert ("shop:woo-demo", "error") in newer and ("shop:magento-demo", "info") in newer, newer
    # the message belongs to the run that pull made: on the Push page too, not over an older run
    made = store.scalar("SELECT max(run_id) FROM recon_runs")
    older = store.scalar("SELECT max(run_id) FROM recon_runs WHERE run_id < ?", [made])
    at.switch_page("pages/push.py").run()
    assert [e.value for e in at.error if e.value.startswith("Some sources")] == shown
    at.session_state["run_id"] = older  # reopened on Runs & export
    at.switch_page("pages/overview.py").run()
    assert not at.error and next(c.value for c in at.caption if c.value.startswith("Run ")).startswith(f"Run {older} ")
    at.session_state["run_id"] = made
    at.run()
    assert [e.value for e in at.error] == shown
    del at.session_state["run_id"]
    # the key works again: the next pull clears the message
    at.button(key="refresh").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_overview_says_when_a_shop_was_read_from_the_start(demo):
    """The woo-demo cursors were saved under another time zone: Pull & reconcile re-reads that shop
    from the start and says so above the run (an info, not an error); the next pull says nothing."""
    store = demo.store()
    saved = json.loads(store.scalar("SELECT detail FROM sync_state WHERE source = 'shop:woo-demo:orders'"))
    zone = saved["settings"]["timezone"]
    saved["settings"]["timezone"] = "UTC"
    with store.atomic() as con:
        con.execute("UPDATE sync_state SET detail = ? WHERE source LIKE 'shop:woo-demo:%'", [json.dumps(saved)])
    at = run_page("overview.py")
    at.button(key="refresh").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    note = (f"woo-demo: settings changed since the last pull (timezone: UTC → {zone}): orders and refunds re-read "
            "from the start")
    assert [i.value for i in at.info] == [note]
    assert store.scalar("SELECT count(*) FROM sync_log WHERE source = 'shop:woo-demo' AND message = ?",
                        [note.split(": ", 1)[1]]) >= 1
    at.button(key="refresh").click().run()
    assert not at.exception and [i.value for i in at.info] == []


def test_sync_log_retries_the_failed_jobs(demo):
    """Exact refuses a push (the journal is blocked in Exact, a business validation error): the jobs
    are Error on the Sync log; once unblocked, *Retry all failed* syncs them."""
    from exactsync import views

    store, settings = demo.store(), demo.settings
    run = views.latest_run_info(store)
    keys = views.pushable_keys(store, run["run_id"], views.DiffFilters(statuses=("missing_in_exact",)))
    preview = views.plan(store, settings, run["run_id"], keys)
    exact = demo.servers["exact"].app
    journal = exact.divisions[700001].journal_by_code[settings.exact.sales_journal]
    with exact.lock:
        journal["IsBlocked"] = True  # blocked in Exact after we pulled it
    try:
        result = views.execute_push(store, settings, preview)
    finally:
        with exact.lock:
            journal["IsBlocked"] = False
    assert result.counts["error"] == len(keys) > 0

    n = len(keys)
    assert n >= 2
    at = run_page("sync_log.py")
    assert metrics(at)["Error"] == str(n)
    jobs = at.dataframe[0].value
    assert set(jobs["status"]) == {"Error"} and jobs["last_error"].str.len().min() > 0  # the details
    assert set(jobs["currency"]) == {"EUR"}  # beside the amounts, as the Push page and the CLI show them
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["currency"]["label"] == "Currency"
    assert (config["net"]["label"], config["net"]["type_config"]["format"]) == ("Net", "%,.2f")  # money, as elsewhere
    # retry selected: only the picked job is retried
    assert at.button(key="retry_selected").disabled
    failed = at.multiselect(key="retry_pick").options
    assert len(failed) == n
    at.multiselect(key="retry_pick").select(failed[0]).run()
    assert at.button(key="retry_selected").label == "Retry 1 selected"
    at.button(key="retry_selected").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Retried 1 job(s): 1 synced") for s in at.success)
    at.run()
    assert metrics(at)["Error"] == str(n - 1) and metrics(at)["Synced"] == "1"
    # retry all failed: the rest
    assert at.button(key="retry_all").label == f"Retry all {n - 1} failed"
    at.button(key="retry_all").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith(f"Retried {n - 1} job(s)") for s in at.success)
    at.run()
    assert metrics(at)["Error"] == "0" and metrics(at)["Synced"] == str(n)


def test_vat_chart_keeps_currencies_apart():
    """A bar adds one country's VAT in one currency: SE in EUR and SE in SEK are two bars."""
    from decimal import Decimal as D

    import polars as pl

    from exactsync.views import vat_chart_frame

    t = pl.DataFrame({"country": ["SE", "SE", "DE"], "currency": ["EUR", "SEK", "EUR"],
                      "shop_vat": [D("1.00"), D("10.00"), D("2.00")], "exact_vat": [D("1.50"), D("10.00"), D("2.00")]})
    bars = {(r["country"], r["side"]): r["vat"] for r in vat_chart_frame(t).iter_rows(named=True)}
    assert bars[("SE SEK", "Shop")] == 10.0 and bars[("SE EUR", "Exact")] == 1.5 and ("SE", "Shop") not in bars
    one = vat_chart_frame(t.filter(pl.col("currency") == "EUR"))
    assert set(one["country"]) == {"SE", "DE"}  # one currency: plain country names


def test_money_tiles_with_and_without_a_known_currency():
    from decimal import Decimal as D

    from exactsync.views import currency_symbol, fmt_money

    assert fmt_money(D("-1234.5"), currency_symbol("EUR")) == "€ -1,234.50"
    assert fmt_money(D("3"), currency_symbol("GBP")) == "GBP 3.00"
    assert fmt_money(D("3"), currency_symbol(None)) == "3.00"  # a run whose divisions' currency is unknown
    assert fmt_money(None, "€") == "—"


def test_differences_rows_without_a_shop_document_show_the_entrys_date_and_currency(demo):
    """An Exact-only row has no shop document: the grid shows its entry's date and currency and a
    shop amount of 0, not empty "None" cells."""
    at = run_page("differences.py")
    at.multiselect(key="f_status").select("only_in_exact").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == demo.expected("only_in_exact", division=700001)  # the sidebar's division
    assert table["date"].notna().all() and table["currency"].notna().all(), table[["date", "currency"]]
    assert (table["shop_gross"].map(float) == 0).all()
    assert (table["difference"].map(float) == table["exact_gross"].map(float)).all()
    assert not table["shop"].isna().any()


def test_overview_and_differences_follow_the_division_picked(demo):
    """The demo's second administration (700002) has only a few Exact entries of its own: picked in
    the sidebar, the Overview counts them alone, and Differences lists them alone (both used to show
    every division's rows whatever the picker said)."""
    other = [c for c in demo.manifest["cases"] if c["division"] == 700002]
    assert other and {c["expected_status"] for c in other} == {"only_in_exact"}
    at = run_page("overview.py", division=700002)
    assert at.sidebar.selectbox(key="division").value == 700002
    m = metrics(at)
    assert (m["Documents"], m["Matched"], m["Differences"]) == ("0", "—", str(len(other)))  # no share of nothing
    assert next(c.value for c in at.caption if c.value.startswith("Run ")).endswith(" · division 700002")
    at.switch_page("pages/differences.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert sorted(table["reference"]) == sorted(c["reference"] for c in other)


def test_overview_shows_the_runs_warnings(app_env, monkeypatch):
    """A run made while a shop had not been pulled since the month ended says so on the Overview."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "reconcile"))
    from recon_world import World
    from test_runs import PERIOD, _pulled, month

    from exactsync.reconcile import run_reconciliation
    from exactsync.store import Store

    store = Store.open(app_env / "app.duckdb")
    w = World()
    month(w)
    w.write(store)
    _pulled(store, {"shop:woo:orders@": dt.datetime(2026, 10, 20, 8, 0)})
    run = run_reconciliation(store, w.settings(), PERIOD)
    assert run.warnings
    at = run_page("overview.py")
    shown = [x.value for x in at.warning]
    assert any(v.startswith("Shop woo was last pulled 2026-10-20 08:00 UTC, before 2026-10 ended") for v in shown), shown
    # the Push page repeats them above a plan made from that run
    from exactsync.reconcile import DiffFilters, differences

    missing = differences(store, run.run_id, DiffFilters(statuses=["missing_in_exact"]))["result_key"].to_list()
    at = run_page("push.py", push_selection=set(missing))
    shown = [x.value for x in at.warning]
    assert any(v.startswith("The run this plan comes from: shop woo was last pulled") for v in shown), shown


def test_the_drill_down_names_an_entry_without_a_reference_by_its_number():
    import polars as pl

    from exactsync.views import result_title

    rows = pl.DataFrame([
        {"result_key": "exact:700001:entry:962a91ac-0000", "status": "Only in Exact (no shop document)",
         "reference": None, "shop": None, "exact_entries": "26102136"},
        {"result_key": "doc:woo:invoice:1", "status": "Matched", "reference": "WC-1", "shop": "woo", "exact_entries": "1"},
    ])
    assert result_title(rows, "exact:700001:entry:962a91ac-0000") == \
        "entry 26102136 (no reference) · Only in Exact (no shop document) · Exact only"
    assert result_title(rows, "doc:woo:invoice:1") == "WC-1 · Matched · woo"


def test_date_columns_show_the_day_only():
    """A date showed as "2026-10-07 00:00:00" in the drill-down and the Push page's entries."""
    import polars as pl

    from exactsync.ui import labelled

    frame = pl.DataFrame({"entry_date": [dt.date(2026, 10, 7)], "entry_number": [26000001]})
    config = labelled(frame, {"entry_date": "Entry date", "entry_number": "Entry number"})
    assert (config["entry_date"]["type_config"]["type"], config["entry_date"]["type_config"]["format"]) == (
        "date", "YYYY-MM-DD")
    assert config["entry_date"]["label"] == "Entry date"
    assert config["entry_number"]["type_config"]["type"] == "number"


def test_tables_head_their_columns_in_words(demo):
    """Connections' headroom and the Mappings editor's debtor column were headed with raw names
    (calls_left_today, account_code)."""
    at = run_page("connections.py")
    configs = [d.proto.columns for d in at.dataframe]
    assert any('"Calls left today"' in c for c in configs), configs
    at.switch_page("pages/mappings.py").run()
    assert not at.exception
    configs = [d.proto.columns for d in at.dataframe]
    assert any('"Debtor account"' in c for c in configs) and any('"Sales journal"' in c for c in configs), configs
