"""`make run`'s server: the dashboard answers /_stcore/health on loopback, and a browser sees it."""

from __future__ import annotations

import pytest

from demo_support import root_conftest

_c = root_conftest()
CHROMIUM_ARGS = _c.CHROMIUM_ARGS
free_port = _c.free_port
start_streamlit = _c.start_streamlit
stop_process = _c.stop_process
wait_healthy = _c.wait_healthy


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    cfg = tmp / "exactsync.toml"
    cfg.write_text('[store]\npath = "run.duckdb"\n')
    port = free_port()
    proc = start_streamlit(port, env={"EXACTSYNC_CONFIG": str(cfg)})
    try:
        seconds = wait_healthy(port, proc, timeout=90)
        yield port, seconds
    finally:
        stop_process(proc)


def test_health_within_90_seconds_on_loopback(dashboard):
    import httpx2

    port, seconds = dashboard
    assert seconds < 90
    r = httpx2.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5)
    assert r.status_code == 200 and r.text == "ok"


@pytest.mark.browser
def test_browser_opens_the_dashboard(dashboard, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    port, _ = dashboard
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            # a page's URL opened first on a new server (a bookmark): the app's own navigation, not
            # Streamlit's listing of the pages/ files ("app", "connections", …)
            first = browser.new_page()
            first.goto(f"http://127.0.0.1:{port}/differences", wait_until="domcontentloaded")
            first.get_by_role("heading", name="Differences").wait_for(timeout=60_000)
            first.get_by_text("No reconciliation for this period yet").wait_for(timeout=30_000)
            nav = first.get_by_test_id("stSidebarNav")
            nav.get_by_text("Month-end").wait_for(timeout=30_000)
            assert nav.get_by_text("Runs & export").count() == 1
            assert nav.get_by_text("app", exact=True).count() == 0 and nav.get_by_text("sync log", exact=True).count() == 0
            assert first.url.endswith("/differences")
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
            page.get_by_text("No reconciliation for this period yet").wait_for(timeout=30_000)
            out = tmp_path / "overview.png"
            page.screenshot(path=str(out))
            assert out.stat().st_size > 1000
        finally:
            browser.close()
