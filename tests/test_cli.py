"""The CLI skeleton: help, status (human and --json), --config, exit codes."""

from __future__ import annotations

import json
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
        con.execute("UPDATE sync_state SET last_success_at = ?", [dt.datetime(2026, 11, 30, 22, 5, 9, 123456)])
    del store
    r = run("--config", str(cfg), "status")
    assert r.exit_code == 0
    assert "shop:woo:orders" in r.output and "2026-11-30 22:05:09 UTC" in r.output


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
