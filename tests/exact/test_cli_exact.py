"""`exactsync exact connect|test` and `exactsync pull exact` against the sandbox (real clock)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exactsync.cli.main import cli, load_commands
from exact.conftest import DIV, DIV2, small_scenario

load_commands()


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _config(tmp_path, env, base_url=None) -> str:
    ex = env.settings.exact
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text(
        f'[store]\npath = "cli.duckdb"\n[exact]\nbase_url = "{base_url or env.url}"\nclient_id = "{ex.client_id}"\n'
        f'client_secret = "{ex.client_secret.get()}"\nredirect_uri = "{ex.redirect_uri}"\n'
        f'divisions = [{DIV}, {DIV2}]\ntoken_file = "cli_token.json"\n')
    return str(cfg)


@pytest.fixture
def cli_env(make_env):
    return make_env(clock_=None, connect=False)  # the CLI runs on the real clock


def test_connect_test_pull_and_second_pull(cli_env, tmp_path):
    cfg = _config(tmp_path, cli_env)
    r = run("--config", cfg, "exact", "connect", "--sandbox-approve")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cli_token.json").exists()

    r = run("--config", cfg, "--json", "exact", "test")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["user"]["UserName"] == "demo@example.com"
    assert [d["division"] for d in info["divisions"]] == [DIV, DIV2]
    assert all(d["accessible"] for d in info["divisions"])
    assert info["divisions"][0]["can_post_sales_entries"] is True
    assert info["divisions"][0]["rate_limit"]["daily_remaining"] < 5000
    assert info["auth"]["refresh_days_left"] > 29 and info["auth"]["warning"] is None
    r = run("--config", cfg, "exact", "test")  # for people: yes / no, not True / False
    assert r.exit_code == 0 and f"Division {DIV}: " in r.output, r.output
    assert "post sales entries: yes;" in r.output and "True" not in r.output, r.output

    r = run("--config", cfg, "pull", "exact")
    assert r.exit_code == 0, r.output
    assert f"Division {DIV}:" in r.output and f"Division {DIV2}:" in r.output
    from exactsync.store import Store

    entries = Store.open(tmp_path / "cli.duckdb").scalar("SELECT count(*) FROM exact_entries WHERE division = ?", [DIV])
    assert f"Division {DIV}: 34 lines, 0 deleted, {entries} sales entries new or changed" in r.output and entries > 0
    # a log (not a terminal) gets whole progress lines and no blank ones between the divisions
    assert "\n\n" not in r.stderr and f"Exact {DIV}: reference data…\n" in r.stderr
    assert f"Exact {DIV}: 34 transaction lines\n" in r.stderr

    r = run("--config", cfg, "--json", "pull", "exact")
    assert r.exit_code == 0, r.output
    assert [res["calls"] for res in json.loads(r.output)["results"]] == [1, 1]

    r = run("--config", cfg, "--json", "pull", "exact", "--division", str(DIV2), "--full")
    assert r.exit_code == 0
    (res,) = json.loads(r.output)["results"]
    assert res["division"] == DIV2 and res["reference_refreshed"] and res["deleted_polled"]


def test_not_connected_exits_6(cli_env, tmp_path):
    r = run("--config", _config(tmp_path, cli_env), "pull", "exact")
    assert r.exit_code == 6
    assert "exactsync exact connect" in r.output


def test_sandbox_approve_refuses_a_real_host(cli_env, tmp_path):
    r = run("--config", _config(tmp_path, cli_env, "https://start.exactonline.nl"), "exact", "connect",
            "--sandbox-approve")
    assert r.exit_code == 1 and "loopback" in r.output


def test_sandbox_approve_passes_on_why_the_sandbox_refused(cli_env, tmp_path):
    """A redirect URI the sandbox's app registration does not have: its reason is said, not only a status."""
    cfg = Path(_config(tmp_path, cli_env))
    cfg.write_text(cfg.read_text().replace(cli_env.settings.exact.redirect_uri, "http://127.0.0.1:8599/"))
    r = run("--config", str(cfg), "exact", "connect", "--sandbox-approve")
    assert r.exit_code == 1 and "the sandbox consent form answered 401 without a redirect: Error The redirect_uri " \
        "does not match the registered redirect URI." in r.output, r.output
    assert cli_env.settings.exact.client_secret.get() not in r.output


def test_connect_with_pasted_redirect_url(cli_env, tmp_path):
    with cli_env.app.lock:
        code = cli_env.app.oauth.grant_code()
    url = f"{cli_env.settings.exact.redirect_uri}?code={code}"
    r = CliRunner().invoke(cli, ["--config", _config(tmp_path, cli_env), "exact", "connect"], input=url + "\n")
    assert r.exit_code == 0, r.output
    assert "/api/oauth2/auth?client_id=" in r.output
    assert code not in r.output


def test_daily_limit_exit_code_and_message(make_env, tmp_path):
    scenario = small_scenario()
    scenario["limits"]["daily"] = 3
    env = make_env(scenario, clock_=None, connect=False)
    cfg = _config(tmp_path, env)
    assert run("--config", cfg, "exact", "connect", "--sandbox-approve").exit_code == 0
    r = run("--config", cfg, "pull", "exact", "--division", str(DIV))
    assert r.exit_code == 3
    assert "daily API limit" in r.output and "UTC" in r.output


def test_a_division_without_access_is_reported_and_the_others_are_pulled(cli_env, tmp_path):
    from exactsync.store import Store

    cfg = _config(tmp_path, cli_env)
    # configured (so not a usage error), but the user has no access to them
    Path(cfg).write_text(Path(cfg).read_text().replace(f"divisions = [{DIV}, {DIV2}]",
                                                       f"divisions = [{DIV}, {DIV2}, 999999, 999998]"))
    assert run("--config", cfg, "exact", "connect", "--sandbox-approve").exit_code == 0
    r = run("--config", cfg, "pull", "exact", "--division", "999", "--division", str(DIV))
    assert r.exit_code == 2, r.output  # neither configured nor pulled: a usage error, nothing pulled
    assert f"unknown division 999: neither configured nor pulled (known: {', '.join(map(str, sorted([DIV, DIV2, 999998, 999999])))})" in r.output
    r = run("--config", cfg, "pull", "exact", "--division", "999999", "--division", str(DIV))
    assert r.exit_code == 3, r.output  # partial: one division pulled, one not
    assert f"Division {DIV}: 34 lines" in r.output
    assert "Division 999999: not pulled. Exact answered 403" in r.output
    store = Store.open(tmp_path / "cli.duckdb")
    assert store.scalar("SELECT count(*) FROM exact_entries WHERE division = ?", [DIV]) > 0
    logged = store.rows("SELECT level, record_key, message FROM sync_log WHERE level = 'error'")
    assert [(lvl, key) for lvl, key, _ in logged] == [("error", "999999")]
    assert logged[0][2].startswith("division 999999 not pulled: Exact answered 403")

    r = run("--config", cfg, "--json", "pull", "exact", "--division", "999999", "--division", "999998")
    assert r.exit_code == 1, r.output  # every division failed alike: that failure's own code
    out = json.loads(r.output)
    assert out["results"] == [] and [f["source"] for f in out["failures"]] == ["Division 999999", "Division 999998"]


def test_not_connected_says_so_once(cli_env, tmp_path):
    r = run("--config", _config(tmp_path, cli_env), "pull", "exact")
    assert r.exit_code == 6
    assert r.output.count("Not connected") + r.output.count("not connected") == 1, r.output


def test_connect_without_the_client_secret_says_where_it_belongs(cli_env, tmp_path, monkeypatch):
    monkeypatch.delenv("EXACTSYNC_EXACT__CLIENT_SECRET", raising=False)
    cfg = Path(_config(tmp_path, cli_env))
    cfg.write_text("".join(line for line in cfg.read_text().splitlines(keepends=True)
                           if not line.startswith("client_secret")))
    r = run("--config", str(cfg), "exact", "connect", "--sandbox-approve")
    assert r.exit_code == 5, r.output
    assert "missing setting(s) exact.client_secret: register the app" in r.output
    assert "EXACTSYNC_EXACT__CLIENT_SECRET" in r.output and "*" not in r.output  # readable, nothing masked


def test_a_rejected_client_secret_exits_5_and_stops_the_other_division(cli_env, tmp_path):
    """The client secret changed in the settings after connecting (say, a typo in a new secret):
    the first refresh is refused, `pull exact` exits 5 (settings) and says which setting to check,
    neither division is asked for anything, and neither secret appears in the output."""
    cfg = Path(_config(tmp_path, cli_env))
    assert run("--config", str(cfg), "exact", "connect", "--sandbox-approve").exit_code == 0
    good = cli_env.settings.exact.client_secret.get()
    cfg.write_text(cfg.read_text().replace(f'client_secret = "{good}"', 'client_secret = "typo-in-the-secret"'))
    cli_env.expire_access_token(tmp_path / "cli_token.json")
    r = run("--config", str(cfg), "pull", "exact")
    assert r.exit_code == 5, r.output
    assert "check exact.client_id / client_secret" in r.output
    assert good not in r.output and "typo-in-the-secret" not in r.output
    assert not cli_env.api_calls(DIV) and not cli_env.api_calls(DIV2)
    assert len(cli_env.token_calls()) == 2  # the code exchange and one refused refresh: DIV2 did not try again
