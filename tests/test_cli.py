"""The CLI skeleton: help, status (human and --json), --config, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from click.testing import CliRunner

from exactsync.cli.main import cli, load_commands
from exactsync.errors import EXIT_BUSY, EXIT_CONFIG

load_commands()


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_help_lists_commands():
    r = run("--help")
    assert r.exit_code == 0
    for word in ("status", "pull", "exact", "sandbox", "demo", "--config", "--json"):
        assert word in r.output


def test_status_json_with_config(tmp_path):
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n')
    r = run("--config", str(cfg), "--json", "status")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["path"] == str(tmp_path / "s.duckdb")
    assert info["schema_version"] == "0001_canonical" or info["migrations"] >= 1
    assert info["tables"]["shop_documents"] == 0
    assert info["pulls"] == []
    assert str(cfg) in info["config_sources"]


def test_status_human(tmp_path):
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n')
    r = run("--config", str(cfg), "status")
    assert r.exit_code == 0
    assert "Schema version:" in r.output and "shop_documents" in r.output and "none yet" in r.output


def test_status_shows_pull_times_in_utc(tmp_path):
    """Times are UTC at rest; the status says so (as the dashboard's sidebar does)."""
    import datetime as dt

    from exactsync.store import Store

    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n')
    store = Store.open(tmp_path / "s.duckdb")
    with store.atomic() as con:
        Store.set_cursor(con, "shop:woo:orders", "", "c1")
        Store.set_cursor(con, "shop:m2:creditmemos", "", "c1")
        Store.set_cursor(con, "exact:deleted", "700001", "c1")
        Store.set_cursor(con, "exact:reference", "700001", None)
        con.execute("UPDATE sync_state SET last_success_at = ?", [dt.datetime(2026, 11, 30, 22, 5, 9, 123456)])
    del store
    r = run("--config", str(cfg), "status")
    assert r.exit_code == 0
    assert "2026-11-30 22:05:09 UTC" in r.output
    # what was pulled, in words: not shop:woo:orders, exact:deleted and a bare 700001 beside it
    pulls = r.output.split("Last pulls:\n")[1].split("\n\n")[0].splitlines()
    assert [p.split("  2026")[0].strip() for p in pulls] == [
        "Exact deletions (division 700001)", "Exact reference data (division 700001)", "m2 credit memos",
        "woo orders"], r.output
    assert "shop:" not in r.output and "exact:" not in r.output
    info = json.loads(run("--config", str(cfg), "--json", "status").output)  # --json keeps the identifiers
    assert {(p["source"], p["scope"]) for p in info["pulls"]} == {
        ("shop:woo:orders", ""), ("shop:m2:creditmemos", ""), ("exact:deleted", "700001"), ("exact:reference", "700001")}


def test_bad_config_exit_code_and_no_traceback(tmp_path):
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[exact]\nclinet_id = "x"\n')
    r = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert r.exit_code == EXIT_CONFIG
    assert "unknown setting" in r.output and "Traceback" not in r.output


def test_console_script_busy_database_exit_code(tmp_path):
    """A real `exactsync` process waiting on a locked file ends with a message and exit code 4."""
    db = tmp_path / "busy.duckdb"
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text(f'[store]\npath = "{db.name}"\nlock_timeout = 0.5\n')
    from exactsync.store import Store

    Store.open(db)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(8)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        r = subprocess.run([sys.executable, "-m", "exactsync", "--config", str(cfg), "status"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == EXIT_BUSY, r.stderr
        assert "in use by process" in r.stderr and "Traceback" not in r.stderr
    finally:
        holder.kill()
        holder.communicate()


def test_progress_in_a_log_is_whole_lines_one_per_tenth(capsys, monkeypatch):
    """Cron mail and log files get whole lines (no carriage-return redraws), only the first, one per
    tenth of the total and the last; a terminal gets the one redrawn bar."""
    import exactsync.cli.main as main

    report = main.Ctx().progress("pull")
    for i in range(1, 2001):
        report(i, 2000, "orders")
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0] == "pull: [--------------------] 1/2000 orders"
    assert lines[-1] == "pull: [####################] 2000/2000 orders"
    assert len(lines) == 11 and "pull: [##########----------] 1000/2000 orders" in lines

    # without a total: a line per stage, within one at most one per 30 s
    report = main.Ctx().progress("pull")
    report(0, None, "reference data")  # a stage starting: no count yet
    for i in range(500):
        report(i, None, "pages")
    assert capsys.readouterr().err.splitlines() == ["pull: reference data…", "pull: pages…"]
    main.end_progress_line()  # the job's end: the count the stage ended on
    assert capsys.readouterr().err.splitlines() == ["pull: 499 pages"]
    for done in (1000, 2000, 8830):
        report(done, None, "transaction lines")
    report(0, None, "deletions")  # the next stage: first where the last one ended
    assert capsys.readouterr().err.splitlines() == ["pull: 1000 transaction lines", "pull: 8830 transaction lines",
                                                    "pull: deletions…"]
    main.end_progress_line()
    assert capsys.readouterr().err == ""  # nothing left to say

    monkeypatch.setattr(main, "_stderr_is_tty", lambda: True)
    report = main.Ctx().progress("pull")
    for i in range(1, 4):
        report(i, 3, "shops")
    err = capsys.readouterr().err
    assert err.count("\r") == 3 and err.endswith("\n") and err.count("\n") == 1

    report = main.Ctx(json=True).progress("pull")  # --json: nothing on stderr
    report(1, 1, "done")
    assert capsys.readouterr().err == ""


def test_an_error_can_carry_its_own_exit_code():
    from exactsync.errors import EXIT_AUTH, EXIT_FAILURE, ExactsyncError

    assert ExactsyncError("x").exit_code == EXIT_FAILURE
    e = ExactsyncError("refused", exit_code=EXIT_AUTH)
    assert e.exit_code == EXIT_AUTH and str(e) == "refused" and ExactsyncError.exit_code == EXIT_FAILURE


def _cfg(tmp_path, text: str = "") -> str:
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n' + text)
    return str(cfg)


def test_exact_commands_without_the_app_registration_say_which_settings_first(tmp_path):
    """No client id / secret: exit 5 naming them and where they go, before any token is looked at."""
    from exactsync.errors import EXIT_CONFIG

    cfg = _cfg(tmp_path, '[exact]\nbase_url = "http://127.0.0.1:9"\ndivisions = [1]\n')
    for command in (["pull", "exact"], ["exact", "test"], ["--json", "exact", "test"], ["push", "--yes"],
                    ["push", "retry"], ["exact", "connect"]):
        r = run("--config", cfg, *command)
        assert r.exit_code == EXIT_CONFIG, (command, r.output)
        assert "missing setting(s) exact.client_id, exact.client_secret" in r.output, (command, r.output)
        assert "EXACTSYNC_EXACT__CLIENT_ID" in r.output and "secrets.toml" in r.output, (command, r.output)
        assert "again" not in r.output and "not connected" not in r.output.lower(), (command, r.output)


def test_never_connected_is_not_told_to_connect_again(tmp_path):
    from exactsync.errors import EXIT_AUTH

    cfg = _cfg(tmp_path, '[exact]\nbase_url = "http://127.0.0.1:9"\nclient_id = "id"\nclient_secret = "s"\n'
                         'divisions = [1]\ntoken_file = "t.json"\n')
    for command in (["pull", "exact"], ["exact", "test"]):
        r = run("--config", cfg, *command)
        assert r.exit_code == EXIT_AUTH, (command, r.output)
        assert "exactsync exact connect" in r.output and "again" not in r.output, (command, r.output)


def test_a_division_typed_on_the_command_line_must_be_known(tmp_path):
    """As reconcile --division: neither configured nor pulled is a usage error naming the known ones."""
    from exactsync.errors import EXIT_USAGE

    cfg = _cfg(tmp_path, '[exact]\ndivisions = [1, 2]\n')
    for command in (["pull", "exact", "--division", "999"], ["mappings", "show", "--division", "999"],
                    ["mappings", "set", "--division", "999", "--journal", "70"],
                    ["mappings", "suggest", "--division", "999"],
                    ["reconcile", "--period", "2026-10", "--division", "999"]):
        r = run("--config", cfg, *command)
        assert r.exit_code == EXIT_USAGE, (command, r.output)
        assert "unknown division 999: neither configured nor pulled (known: 1, 2)" in r.output, (command, r.output)
    assert run("--config", cfg, "mappings", "show", "--division", "2").exit_code == 0


def test_push_dry_run_and_yes_together_is_a_usage_error(tmp_path):
    from exactsync.errors import EXIT_USAGE

    r = CliRunner().invoke(cli, ["--config", _cfg(tmp_path), "push", "--period", "2026-10", "--dry-run", "--yes"])
    assert r.exit_code == EXIT_USAGE, r.output
    assert "choose one of --dry-run and --yes" in r.output


def test_sandbox_serve_names_a_busy_port_in_one_line(tmp_path):
    import shutil
    import socket
    from pathlib import Path

    shutil.copy(Path(__file__).parent / "sandbox" / "data" / "exact_small.json", tmp_path / "exact.json")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        r = CliRunner().invoke(cli, ["sandbox", "serve", "--scenario", str(tmp_path), "--exact-port", str(port)])
    assert r.exit_code == 1, r.output  # as `demo run` for a busy port
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert f"port {port} for the exact sandbox is already in use on 127.0.0.1" in r.output, r.output
    assert "--exact-port" in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_a_missing_shop_setting_is_named_with_where_it_goes(tmp_path):
    """The URL goes in exactsync.toml (or its variable), the credentials in secrets.toml (or theirs)."""
    cfg = _cfg(tmp_path, '[shops.w]\nkind = "woocommerce"\nconsumer_key = "ck"\nconsumer_secret = "cs"\n'
                         '[shops.m]\nkind = "magento"\n')
    r = run("--config", cfg, "pull", "shop", "--shop", "w")
    assert r.exit_code == EXIT_CONFIG, r.output
    assert ("shop 'w' cannot be pulled: shops.w.url is not set. Put it in exactsync.toml under [shops.w] or in "
            "EXACTSYNC_SHOPS__W__URL.") in r.output, r.output
    assert "secrets.toml" not in r.output
    r = run("--config", cfg, "pull", "shop", "--shop", "m")
    assert r.exit_code == EXIT_CONFIG, r.output
    assert ("shops.m.url, shops.m.token are not set. Put shops.m.url in exactsync.toml under [shops.m] or in "
            "EXACTSYNC_SHOPS__M__URL. Put shops.m.token in .streamlit/secrets.toml under [shops.m] or in "
            "EXACTSYNC_SHOPS__M__TOKEN.") in r.output, r.output


def _log_world(tmp_path):
    """A configuration and a store whose sync log holds pulls and pushes of several days and levels."""
    import datetime as dt

    from exactsync.store import Store

    cfg = tmp_path / "exactsync.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n[shops.woo-demo]\nkind = "woocommerce"\ndivision = 1\n')
    store = Store.open(tmp_path / "s.duckdb")
    rows = [  # (days ago, source, level, record, message)
        (9, "shop:woo-demo", "error", "order 7", "order 7: an error of last week"),
        (3, "shop:woo-demo", "info", None, "pulled 254 documents (1 errors) in 5 calls"),
        (3, "shop:woo-demo", "error", "order 10244", "order 10244: total 61.50 differs from its lines"),
        (2, "shop:magento-demo", "warning", "invoice 9", "invoice 9: a line without a tax class"),
        (1, "exact", "info", "700001", "pulled division 700001: 1784 lines"),
        (0, "push", "error", "cre-1", "create WC-1 failed: Invalid: Invoice to (Type)"),
    ]
    now = dt.datetime(2026, 12, 4, 12, 0, 0)
    with store.atomic() as con:
        for days, source, level, record, message in rows:
            Store.log_event(con, source, message, level=level, record_key=record)
            con.execute("UPDATE sync_log SET logged_at = ? WHERE log_id = (SELECT max(log_id) FROM sync_log)",
                        [now - dt.timedelta(days=days)])
    del store
    return cfg


def test_log_lists_the_sync_log_newest_first_under_headings(tmp_path):
    """`pull shop` and the README said "see the sync log", but no command listed it."""
    cfg = _log_world(tmp_path)
    r = run("--config", str(cfg), "log")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["When", "(UTC)", "Level", "Source", "Record", "Message"], r.output
    assert [x.split()[2] for x in lines[1:]] == ["error", "info", "warning", "error", "info", "error"]  # newest first
    assert re.fullmatch(r"2026-12-04 12:00:00  error +push +cre-1 +create WC-1 failed: Invalid: Invoice to \(Type\)",
                        lines[1]), r.output
    # --source: the start of a source; --level: that level and worse; --since: from that day (UTC)
    out = run("--config", str(cfg), "log", "--source", "shop:woo-demo").output
    assert "magento" not in out and "push" not in out and out.count("shop:woo-demo") == 3
    out = run("--config", str(cfg), "log", "--source", "shop").output
    assert len(out.splitlines()) == 5 and "magento-demo" in out
    out = run("--config", str(cfg), "log", "--level", "warning").output
    assert [x.split()[2] for x in out.splitlines()[1:]] == ["error", "warning", "error", "error"], out
    out = run("--config", str(cfg), "log", "--level", "ERROR", "--since", "2026-12-01").output
    assert [x.split()[3] for x in out.splitlines()[1:]] == ["push", "shop:woo-demo"], out
    out = run("--config", str(cfg), "log", "--limit", "2").output
    assert len(out.splitlines()) == 4 and out.splitlines()[-1].startswith("… and 4 older (--limit N to see them")
    assert "No rows in the sync log with that selection." in run("--config", str(cfg), "log", "--source", "nope").output
    # --json: the rows as stored, for programs
    data = json.loads(run("--config", str(cfg), "--json", "log", "--source", "push").output)
    assert data["total"] == 1 and data["rows"][0]["source"] == "push" and data["rows"][0]["level"] == "error"
    assert data["rows"][0]["logged_at"] == "2026-12-04T12:00:00" and data["rows"][0]["record_key"] == "cre-1"
    for bad in (["--limit", "0"], ["--level", "debug"], ["--since", "yesterday"]):
        r = CliRunner().invoke(cli, ["--config", str(cfg), "log", *bad])
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "exactsync.toml").write_text('[store]\npath = "e.duckdb"\n')
    assert run("--config", str(empty / "exactsync.toml"), "log").output.strip() == "No rows in the sync log yet."


def test_pull_shop_names_the_command_that_lists_the_record_errors(tmp_path, monkeypatch):
    """`pull shop` said "see the sync log"; now it says which command shows it."""
    import exactsync.cli.pull_shop_cmd as pull_shop_cmd
    from exactsync.shops.base import PullResult

    cfg = _log_world(tmp_path)
    monkeypatch.setattr(pull_shop_cmd, "pull_shops", lambda store, shops, **_: (
        [PullResult(shop="woo-demo", source="woocommerce", run_id="r1", documents=254, errors=1, calls=5)], []))
    r = run("--config", str(cfg), "pull", "shop")
    assert r.exit_code == 3, r.output
    assert "woo-demo: 254 documents, 0 VAT lines, 5 calls: 1 record error(s), see the sync log " \
           "(`exactsync log --source shop:woo-demo`)" in r.output
