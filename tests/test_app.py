"""AppTest over every page of the dashboard (content asserted, not just 'no exception')."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[store]\npath = "app.duckdb"\n')
    monkeypatch.setenv("EXACTSYNC_CONFIG", str(cfg))
    monkeypatch.chdir(ROOT)
    return tmp_path


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    if page != "status.py":
        at.switch_page(f"pages/{page}").run()
    return at


def test_every_page_is_listed_in_navigation():
    text = (ROOT / "app.py").read_text()
    for page in PAGES:
        assert f"pages/{page}" in text, f"{page} is not reachable from st.navigation"


def test_status_page_shows_store(app_env):
    at = run_page("status.py")
    assert not at.exception
    assert at.title[0].value == "Status"
    labels = {m.label: m.value for m in at.metric}
    assert labels["Shop documents"] == "0" and labels["Schema version"].startswith("0001") or labels["Schema version"]
    assert any("Nothing pulled yet" in i.value for i in at.info)
    assert any("app.duckdb" in c.value for c in at.caption)
