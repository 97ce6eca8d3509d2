"""Several shops pulled on their own: missing keys refused before any call, one failing shop does not
stop the others (library, CLI), each failure in the sync log once. Sandboxes over real HTTP."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from exactsync.cli.main import cli, load_commands
from exactsync.errors import EXIT_AUTH, EXIT_CONFIG, EXIT_FAILURE, EXIT_PARTIAL, SourceFailure, exit_code_of
from exactsync.sandbox.magento import create_app as magento_app
from exactsync.sandbox.server import serve
from exactsync.sandbox.woocommerce import create_app as woo_app
from exactsync.settings import Secret, SettingsError, ShopSettings
from exactsync.shops import runner
from exactsync.shops.magento import pull_magento
from exactsync.shops.runner import pull_shops
from exactsync.shops.woocommerce import pull_woocommerce
from exactsync.store import Store

load_commands()
DATA = Path(__file__).parents[1] / "sandbox" / "data"
WOO = json.loads((DATA / "woocommerce_small.json").read_text(encoding="utf-8"))
CK, CS = WOO["keys"][0]["consumer_key"], WOO["keys"][0]["consumer_secret"]
M2 = json.loads((DATA / "magento_small.json").read_text(encoding="utf-8"))
M2_TOKEN = "itok-small-1"


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "shops.duckdb")


@pytest.fixture
def servers():
    woo, m2 = serve(woo_app(copy.deepcopy(WOO))), serve(magento_app(copy.deepcopy(M2)))
    yield woo.url, m2.url
    woo.stop()
    m2.stop()


def woo(url: str, ck: str = CK, cs: str = CS) -> ShopSettings:
    return ShopSettings(name="woo", kind="woocommerce", url=url, consumer_key=Secret(ck), consumer_secret=Secret(cs))


def m2(url: str, token: str = M2_TOKEN) -> ShopSettings:
    return ShopSettings(name="m2", kind="magento", url=url, token=Secret(token))


def errors(store) -> list[tuple[str, str]]:
    return store.rows("SELECT source, message FROM sync_log WHERE level = 'error' ORDER BY log_id")


@pytest.mark.parametrize("make, pull, names", [
    (lambda: woo("http://shop.invalid", cs=""), pull_woocommerce, ["consumer_secret"]),
    (lambda: woo("", ck="", cs=""), pull_woocommerce, ["url", "consumer_key", "consumer_secret"]),
    (lambda: m2("http://shop.invalid", token=""), pull_magento, ["token"]),
])
def test_missing_url_or_credentials_are_refused_before_any_call(store, make, pull, names):
    calls = []
    transport = httpx2.MockTransport(lambda request: calls.append(request) or httpx2.Response(500))
    shop = make()
    with pytest.raises(SettingsError) as e:
        pull(store, shop, transport=transport)
    assert calls == []  # an empty key would have gone out as an empty header
    message = str(e.value)
    assert all(f"shops.{shop.name}.{n}" in message for n in names), message
    secrets = [n for n in names if n != "url"]
    assert all(f"EXACTSYNC_SHOPS__{shop.name.upper()}__{n.upper()}" in message for n in secrets), message
    assert e.value.exit_code == EXIT_CONFIG
    assert errors(store) == [(f"shop:{shop.name}", message)]


def test_one_shop_refused_does_not_stop_the_next(store, servers):
    woo_url, m2_url = servers
    results, failures = pull_shops(store, [woo(woo_url, ck="ck_wrong"), m2(m2_url)])
    assert [r.shop for r in results] == ["m2"] and results[0].documents > 0
    assert [(f.source, f.exit_code) for f in failures] == [("woo", EXIT_AUTH)]
    assert "Consumer key is invalid" in failures[0].message
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE shop = 'm2'") == results[0].documents
    # the connector logged its refusal; the runner did not log it a second time
    assert [source for source, _ in errors(store)] == ["shop:woo"]


def test_an_unexpected_error_is_reported_logged_and_the_next_shop_pulled(store, servers, monkeypatch):
    woo_url, m2_url = servers
    real = runner.puller

    def broken(kind):
        if kind == "woocommerce":
            def boom(*_a, **_k):
                raise RuntimeError("a bug, not the shop")
            return boom
        return real(kind)

    monkeypatch.setattr(runner, "puller", broken)
    results, failures = pull_shops(store, [woo(woo_url), m2(m2_url)])
    assert [r.shop for r in results] == ["m2"]
    assert failures == [SourceFailure("woo", "unexpected error (RuntimeError: a bug, not the shop)", EXIT_FAILURE)]
    assert errors(store) == [("shop:woo", "unexpected error (RuntimeError: a bug, not the shop)")]


def test_exit_code_of_several_sources():
    auth, config = SourceFailure("a", "x", EXIT_AUTH), SourceFailure("b", "y", EXIT_CONFIG)
    assert exit_code_of([], 2) == 0
    assert exit_code_of([auth], 1) == EXIT_PARTIAL  # another source was pulled
    assert exit_code_of([auth, auth], 0) == EXIT_AUTH  # all failed alike: their code
    assert exit_code_of([auth, config], 0) == EXIT_PARTIAL


def _config(tmp_path, woo_url, m2_url, *, woo_key: bool = True) -> str:
    keys = f'consumer_key = "{CK}"\nconsumer_secret = "{CS}"\n' if woo_key else ""
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text(f'[store]\npath = "cli.duckdb"\n[shops.woo]\nkind = "woocommerce"\nurl = "{woo_url}"\n{keys}'
                   f'[shops.m2]\nkind = "magento"\nurl = "{m2_url}"\n')
    return str(cfg)


def test_cli_pulls_every_shop_it_can_and_says_which_it_could_not(tmp_path, servers, monkeypatch):
    for var in ("EXACTSYNC_SHOPS__M2__TOKEN", "EXACTSYNC_SHOPS__WOO__CONSUMER_KEY", "EXACTSYNC_SHOPS__WOO__CONSUMER_SECRET"):
        monkeypatch.delenv(var, raising=False)
    cfg = _config(tmp_path, *servers)
    r = CliRunner().invoke(cli, ["--config", cfg, "pull", "shop"], catch_exceptions=False)
    assert r.exit_code == EXIT_PARTIAL, r.output
    assert "woo: 12 documents" in r.output
    assert "m2: not pulled. shop 'm2' cannot be pulled: shops.m2.token is not set." in r.output
    assert "EXACTSYNC_SHOPS__M2__TOKEN" in r.output
    assert Store.open(tmp_path / "cli.duckdb").scalar("SELECT count(*) FROM shop_documents WHERE shop = 'woo'") == 12

    r = CliRunner().invoke(cli, ["--config", _config(tmp_path, *servers, woo_key=False), "--json", "pull", "shop"],
                           catch_exceptions=False)
    assert r.exit_code == EXIT_CONFIG, r.output  # both failed for their settings
    out = json.loads(r.output)
    assert out["results"] == [] and [f["source"] for f in out["failures"]] == ["woo", "m2"]

    monkeypatch.setenv("EXACTSYNC_SHOPS__M2__TOKEN", M2_TOKEN)
    r = CliRunner().invoke(cli, ["--config", cfg, "pull", "shop", "--shop", "m2"], catch_exceptions=False)
    assert r.exit_code == 0 and "m2: " in r.output and "not pulled" not in r.output, r.output


def test_cli_one_shop_that_fails_is_a_plain_error_with_its_own_exit_code(tmp_path, servers, monkeypatch):
    monkeypatch.delenv("EXACTSYNC_SHOPS__M2__TOKEN", raising=False)
    r = CliRunner().invoke(cli, ["--config", _config(tmp_path, *servers), "pull", "shop", "--shop", "m2"],
                           catch_exceptions=False)
    assert r.exit_code == EXIT_CONFIG, r.output
    assert "shops.m2.token is not set" in r.output and "not pulled" not in r.output


def test_cli_resync_rereads_every_shop_from_the_start(tmp_path, servers):
    cfg = tmp_path / "exactsync.toml"
    woo_url, m2_url = servers
    cfg.write_text(f'[store]\npath = "cli.duckdb"\n[shops.woo]\nkind = "woocommerce"\nurl = "{woo_url}"\n'
                   f'consumer_key = "{CK}"\nconsumer_secret = "{CS}"\n'
                   f'[shops.m2]\nkind = "magento"\nurl = "{m2_url}"\ntoken = "{M2_TOKEN}"\n')
    store_file = tmp_path / "cli.duckdb"

    def pull(*args: str) -> tuple[list[str], str]:
        before = Store.open(store_file).scalar("SELECT coalesce(max(call_id), 0) FROM api_calls") if store_file.exists() else 0
        r = CliRunner().invoke(cli, ["--config", str(cfg), "pull", "shop", *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        paths = [p for (p,) in Store.open(store_file).rows("SELECT path FROM api_calls WHERE call_id > ? ORDER BY call_id",
                                                           [before])]
        incremental = [p for p in paths if "modified_after=" in p or "&after=" in p or "condition_type%5D=gteq" in p]
        return incremental, r.output

    assert pull()[0] == []  # the first pull has no cursor
    incremental, _ = pull()
    assert any("modified_after=" in p for p in incremental) and any("gteq" in p for p in incremental)
    incremental, output = pull("--resync")
    assert incremental == []  # neither shop was asked for changes only
    assert "woo: 12 documents" in output and "m2: 11 documents" in output
    assert Store.open(store_file).rows("SELECT shop, count(*) FROM shop_documents GROUP BY shop ORDER BY shop") == [
        ("m2", 11), ("woo", 12)]  # upserted, not doubled
    help_text = CliRunner().invoke(cli, ["pull", "shop", "--help"]).output
    assert "--resync" in help_text and "from the start" in help_text


def test_cli_an_unknown_shop_is_a_usage_error_and_no_shops_a_settings_one(tmp_path, servers):
    from exactsync.errors import EXIT_USAGE

    cfg = _config(tmp_path, *servers)
    r = CliRunner().invoke(cli, ["--config", cfg, "pull", "shop", "--shop", "nosuch"])
    assert r.exit_code == EXIT_USAGE and "unknown shop 'nosuch' (configured: m2, woo)" in r.output, r.output
    empty = tmp_path / "empty.toml"
    empty.write_text('[store]\npath = "e.duckdb"\n')
    r = CliRunner().invoke(cli, ["--config", str(empty), "pull", "shop"])
    assert r.exit_code == EXIT_CONFIG and "no shops configured" in r.output, r.output
