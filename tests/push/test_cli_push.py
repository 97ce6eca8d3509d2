"""`exactsync push` through the CLI against the Exact sandbox over real HTTP: the dry-run plan, the
executed push with progress and ETA, the exit codes (0 success, 3 partial, 1 failure), `push jobs`
and `push retry` of one job or of all failed ones.

The CLI runs in-process (click's CliRunner) with the hidden ``--simulated-clock``: the sandbox and
the CLI share one :class:`~exactsync.clock.FileClock`, so rate-limit minutes and token lifetimes
agree and no test waits on the wall clock.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from exactsync.cli.main import cli, load_commands
from exactsync.clock import FileClock
from exactsync.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from exactsync.push import list_jobs
from exactsync.reconcile import DiffFilters, differences, run_reconciliation

from .conftest import DIV, START, make_doc, write_config

load_commands()


@pytest.fixture
def cli_env(make_env, tmp_path):
    clock = FileClock(tmp_path / "clock", start=START)
    env = make_env(clock_=clock)
    cfg, environ = write_config(env, tmp_path)
    secret = environ["EXACTSYNC_EXACT__CLIENT_SECRET"]

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--config", cfg, "--simulated-clock", str(clock.path), *args],
                                  env={"EXACTSYNC_EXACT__CLIENT_SECRET": secret}, catch_exceptions=False)

    env.invoke = invoke
    yield env
    clock.close()


def _posts(env) -> list[dict]:
    return [c for c in env.app.calls(DIV) if c["method"] == "POST"]


def _statuses(env, period: str) -> dict[str, str]:
    run = run_reconciliation(env.store, env.settings, period, clock=env.clock)
    rows = differences(env.store, run.run_id, DiffFilters(include_ok=True), limit=1000)
    return {r["doc_key"]: r["status"] for r in rows.iter_rows(named=True) if r["doc_key"]}


def test_dry_run_prints_the_plan_sends_nothing_then_yes_pushes_once(cli_env):
    env = cli_env
    # WC-1002 is booked as 82.64 + 17.36 (shop: 90.00 + 18.90); WC-1003 is booked twice
    env.add_docs([make_doc(1002, day="2026-02-03", lines=[("goods", "21", "90.00", "18.90")]),
                  make_doc(1003, day="2026-02-10", lines=[("goods", "21", "50.00", "10.50"),
                                                          ("goods", "9", "20.00", "1.80")]),
                  *[make_doc(7100 + i, day="2026-03-20") for i in range(3)]])
    feb, mar = _statuses(env, "2026-02"), _statuses(env, "2026-03")
    assert feb == {"woo:invoice:1002": "amount_differs", "woo:invoice:1003": "duplicated_in_exact"}
    assert {mar[f"woo:invoice:{7100 + i}"] for i in range(3)} == {"missing_in_exact"}
    dup = sorted(env.entries("WC-1003"), key=lambda e: e["EntryNumber"])
    env.app.clear_calls()

    r = env.invoke("push", "--period", "2026-02..2026-03", "--status", "missing,amount,duplicated", "--dry-run")
    assert r.exit_code == EXIT_OK, r.output
    out = r.stdout
    assert "Selected from reconciliation run" in out and "(2026-02)" in out and "(2026-03)" in out
    assert "6 job(s) 3 create, 1 rebook, 2 reverse" in out
    # the duplicate is reported with its proposed reversal; nothing is deleted
    assert "1 document(s) booked more than once in Exact (nothing is deleted" in out
    assert f"WC-1003: entries {dup[0]['EntryNumber']}, {dup[1]['EntryNumber']}; keep {dup[0]['EntryNumber']}, " \
           f"reverse {dup[1]['EntryNumber']}" in out
    assert f"Reversal of entry {dup[1]['EntryNumber']}" in out
    assert "Effect on Exact (net / VAT) per period, country, VAT code, currency:" in out
    # the tables are headed in words, the amounts as `reconcile` shows them
    effect = out.split("per period, country, VAT code, currency:\n")[1].splitlines()
    assert effect[0].split() == ["Period", "Country", "VAT", "code", "Currency", "Net", "VAT", "Jobs"], out
    assert re.match(r" {4}2026-03 +NL +2 +EUR +300\.00 +63\.00 +3$", next(x for x in effect if "2026-03" in x)), out
    revenue = out.split("per period, G/L account, currency:\n")[1].splitlines()
    assert revenue[0].split() == ["Period", "G/L", "account", "Currency", "Net", "Jobs"], out
    assert "API calls: 3 look-up(s) + 6 POST(s) = 9" in out and "ETA ≈" in out
    # the job list: a table of its own below the calls line (a blank line between), under headings
    lines = out.splitlines()
    calls = next(i for i, x in enumerate(lines) if "API calls:" in x)
    assert lines[calls + 1:calls + 3] == ["", "  Jobs (6):"], out
    assert lines[calls + 3].split() == ["Kind", "Reference", "(YourRef)", "Entry", "date", "Currency", "Net", "VAT",
                                        "Description"], out
    assert re.search(r"\n {4}create +WC-7100 +2026-03-20 +EUR +100\.00 +21\.00 +Invoice 7100", out), out
    assert "dry run: nothing sent" in out
    # --run as `exactsync runs` names runs: the start of an id, or latest
    from exactsync.reconcile import latest_run

    march = latest_run(env.store, "2026-03").run_id
    r = env.invoke("push", "--run", march[:-1], "--dry-run")  # the start of its id
    assert r.exit_code == EXIT_OK and f"Selected from reconciliation run {march} (2026-03)" in r.stdout, r.output
    assert "3 job(s) 3 create" in r.stdout
    newest = latest_run(env.store)  # (the test's clock gives both runs one time: the id decides)
    assert (f"Selected from reconciliation run {newest.run_id} ({newest.period})"
            in env.invoke("push", "--run", "latest", "--dry-run").stdout)
    assert _posts(env) == [] and env.store.scalar("SELECT count(*) FROM push_jobs") == 0

    # nothing of the kind asked for: said in words, not as "0 job(s)" and an empty line
    r = env.invoke("push", "--period", "2026-02", "--status", "customer", "--dry-run")
    assert r.exit_code == EXIT_OK and "nothing to push (no selected difference needs an entry)" in r.stdout

    plan = json.loads(env.invoke("--json", "push", "--period", "2026-03", "--dry-run").stdout)
    assert plan["ok"] and len(plan["jobs"]) == 3 and plan["calls"]["total"] == 4
    body = plan["jobs"][0]["payload"]
    assert body["Journal"] == "70" and body["SalesEntryLines"][0]["AmountFC"] == "100.00"

    r = env.invoke("push", "--period", "2026-02..2026-03", "--status", "missing,amount,duplicated", "--yes")
    assert r.exit_code == EXIT_OK, r.output
    assert "Pushing 6 job(s)" in r.stderr and "ETA ≈" in r.stderr
    assert "push: [###-----------------] 1/6 posted WC-1002" in r.stderr  # the progress bar, with an ETA
    assert "push: [####################] 6/6" in r.stderr and ", ETA " in r.stderr
    assert "6/6 synced (6 posted, 0 already in Exact), 0 error(s)" in r.stdout
    assert len(_posts(env)) == 6
    assert not [c for c in env.app.calls() if c["method"] in ("PUT", "DELETE")], "nothing edited or deleted"
    assert len(env.entries("WC-1003")) == 3 and len(env.entries("WC-1002")) == 3

    # the same command again: every job is Synced, nothing is posted twice
    env.app.clear_calls()
    r = env.invoke("push", "--period", "2026-02..2026-03", "--status", "missing,amount,duplicated", "--yes")
    assert r.exit_code == EXIT_OK and "0/0 synced" in r.stdout and _posts(env) == []
    # its plan says so in a column of its own (shown only when a job was pushed before)
    r = env.invoke("push", "--period", "2026-02..2026-03", "--status", "missing,amount,duplicated", "--dry-run")
    heading = next(x for x in r.stdout.splitlines() if x.split()[:1] == ["Kind"])
    assert heading.split()[-2:] == ["Already", "pushed"], r.stdout
    assert re.search(r"\n {4}create +WC-7100 +2026-03-20 +EUR +100\.00 +21\.00 +Invoice 7100 +Synced\n", r.stdout), r.stdout


def test_exit_codes_partial_and_failure_and_retry_of_one_or_all(cli_env):
    env = cli_env
    env.add_docs([make_doc(7201, day="2026-03-05"), make_doc(7202, day="2026-03-06"),
                  *[make_doc(7203 + i, day="2026-03-07", country="DE", treatment="oss",
                             lines=[("goods", "19", "50.00", "9.50")]) for i in range(2)]])
    _statuses(env, "2026-03")
    with env.app.lock:  # the DE collective debtor stops being a customer after the pull
        de = next(a for a in env.app.divisions[DIV].accounts.rows.values() if a["Code"].strip() == "1002")
        de["Status"] = "A"

    r = env.invoke("push", "--period", "2026-03", "--yes")
    assert r.exit_code == EXIT_PARTIAL, r.output
    assert "2/4 synced" in r.stdout and "2 error(s)" in r.stdout and "Invalid: Invoice to (Type)" in r.stdout
    r = env.invoke("push", "jobs", "--status", "Error")
    assert r.exit_code == EXIT_OK and "jobs: 2 Error" in r.stdout
    assert r.stdout.count("Invalid: Invoice to (Type)") == 2 and "WC-7203" in r.stdout and "WC-7204" in r.stdout

    r = env.invoke("push", "retry")  # still refused: nothing synced is a failure
    assert r.exit_code == EXIT_FAILURE and "0/2 synced" in r.stdout

    with env.app.lock:
        de["Status"] = "C"
    failed = {j["your_ref"]: j["job_id"] for j in list_jobs(env.store, "Error").to_dicts()}
    r = env.invoke("push", "retry", failed["WC-7203"])  # retry one
    assert r.exit_code == EXIT_OK and "1/1 synced" in r.stdout
    jobs = {j["your_ref"]: j for j in list_jobs(env.store).to_dicts()}
    assert jobs["WC-7203"]["status"] == "Synced" and jobs["WC-7204"]["status"] == "Error"
    assert jobs["WC-7203"]["attempts"] == 3  # two refused POSTs, then the one that landed
    r = env.invoke("push", "retry")  # retry all failed
    assert r.exit_code == EXIT_OK and "1/1 synced" in r.stdout
    assert set(list_jobs(env.store)["status"].to_list()) == {"Synced"}
    assert all(len(env.entries(f"WC-{n}")) == 1 for n in range(7201, 7205))
    # the ledger says what was pushed: date, currency, net and VAT, the entry, when it synced
    r = env.invoke("push", "jobs", "--limit", "3")
    job = jobs["WC-7203"]
    assert "… and 1 more (--limit N to see them)" in r.stdout
    assert [x.split()[1] for x in r.stdout.splitlines()[2:5]] == ["Synced"] * 3, r.stdout
    r = env.invoke("push", "jobs")
    header = r.stdout.splitlines()[1]  # under the counts: a heading row in words
    assert re.match(r"Job ID +Status +Kind +Reference \(YourRef\) +Entry date +Currency +Net +VAT +Attempts +"
                    r"Exact entry number +Synced \(UTC\) +Last error$", header), r.stdout
    assert re.search(rf"\n{job['job_id']} +Synced +create +WC-7203 +2026-03-07 +EUR +50\.00 +9\.50 +3 +\d+ +"
                     rf"\d{{4}}-\d\d-\d\d \d\d:\d\d\n", r.stdout), r.stdout


def test_amounts_of_the_plan_and_the_ledger_have_thousands_separators(cli_env):
    """The dry run's effect table and job list and `push jobs` printed 1043.65 where `reconcile`
    prints 1,043.65; a plan with errors named only the dashboard to fix the mappings."""
    env = cli_env
    env.add_docs([make_doc(7400, day="2026-03-12", lines=[("goods", "21", "1043.65", "219.17")])])
    run_reconciliation(env.store, env.settings, "2026-03", clock=env.clock)
    r = env.invoke("push", "--period", "2026-03", "--dry-run")
    assert r.exit_code == EXIT_OK, r.output
    assert re.search(r"\n {4}2026-03 +NL +2 +EUR +1,043\.65 +219\.17 +1\n", r.stdout), r.stdout
    assert re.search(r"\n {4}2026-03 +8000 +EUR +1,043\.65 +1\n", r.stdout), r.stdout
    assert re.search(r"\n {4}create +WC-7400 +2026-03-12 +EUR +1,043\.65 +219\.17 +Invoice 7400", r.stdout), r.stdout
    assert "1043.65" not in r.stdout
    assert json.loads(env.invoke("--json", "push", "--period", "2026-03", "--dry-run").stdout)["jobs"][0]["net"] == \
        "1043.65"  # for programs: the raw value
    assert env.invoke("push", "--period", "2026-03", "--yes").exit_code == EXIT_OK
    r = env.invoke("push", "jobs")
    assert re.search(r" create +WC-7400 +2026-03-12 +EUR +1,043\.65 +219\.17 +1 ", r.stdout), r.stdout
    assert json.loads(env.invoke("--json", "push", "jobs").stdout)["jobs"][0]["net"] == "1043.6500"


def test_a_closed_period_is_refused_before_any_call_naming_the_period(cli_env):
    env = cli_env
    env.add_docs([make_doc(7301, day="2026-01-15"), make_doc(7302, day="2026-02-15")])
    env.app.clear_calls()
    for mode in ("--dry-run", "--yes"):
        # no reconciliation run for January: the documents without an entry are the selection
        r = env.invoke("push", "--period", "2026-01..2026-02", mode)
        assert r.exit_code == EXIT_FAILURE, r.output
        assert "documents without an entry for their reference" in r.stdout
        assert "ERROR 2026-01 is closed for journal 70 in division 123456 (create WC-7301)" in r.stdout
        assert "nothing was sent" in r.stdout
    assert env.app.calls() == [] and env.store.scalar("SELECT count(*) FROM push_jobs") == 0
    # with a date in an open period, the January document is booked on it (a dry run sends nothing)
    r = env.invoke("push", "--period", "2026-01..2026-02", "--closed-period-date", "2026-03-02", "--dry-run")
    assert r.exit_code == EXIT_OK, r.output
    assert "1 job(s) dated 2026-03-02: their own period is closed (2026-01)" in r.stdout
    # effect: January's entry lands in March
    assert re.search(r"\n +2026-03 +NL ", r.stdout) and re.search(r"\n +2026-02 +NL ", r.stdout), r.stdout
    assert env.app.calls() == []
    r = env.invoke("push", "--closed-period-date", "March", "--dry-run")
    assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output
    r = env.invoke("push", "--period", "2026-01", "--status", "amount", "--dry-run")
    assert r.exit_code == EXIT_FAILURE and "run `exactsync reconcile" in r.stderr
    for bad in (("--period", "2026-13"), ("--period", "March"), ("--run", "no-such-run")):
        r = env.invoke("push", *bad, "--dry-run")
        assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output, r.output
        assert bad[1] in r.stderr


def test_an_unknown_status_is_a_usage_error_not_an_empty_plan(cli_env):
    """`--status missin` (a typo) used to plan nothing and exit 0, as if nothing needed pushing."""
    env = cli_env
    env.add_docs([make_doc(7200, day="2026-03-20")])
    run_reconciliation(env.store, env.settings, "2026-03", clock=env.clock)
    r = env.invoke("push", "--period", "2026-03", "--status", "missing,missin", "--dry-run")
    assert r.exit_code == EXIT_USAGE, r.output
    assert "unknown status 'missin'; push fixes: missing, amount, vat" in r.output
    assert "Plan " not in r.output and not _posts(env)
    r = env.invoke("push", "--period", "2026-03", "--status", "missing,draft", "--dry-run")
    assert r.exit_code == EXIT_USAGE and "push does not correct draft (a draft is processed in Exact" in r.output
    r = env.invoke("push", "--period", "2026-03", "--status", "missing", "--dry-run")
    assert r.exit_code == EXIT_OK and "1 job(s) 1 create" in r.output
    # in any case, and a typo is told before anything else, a run or none (no run for 2026-04)
    r = env.invoke("push", "--period", "2026-03", "--status", "Missing", "--dry-run")
    assert r.exit_code == EXIT_OK and "1 job(s) 1 create" in r.output
    r = env.invoke("push", "--period", "2026-04", "--status", "missin", "--dry-run")
    assert r.exit_code == EXIT_USAGE and "unknown status 'missin'" in r.output and "reconcile" not in r.output


def test_push_jobs_reads_statuses_in_any_case_and_refuses_an_unknown_one(cli_env):
    """`push jobs --status Eror` used to say "jobs: none", as if no job had failed."""
    env = cli_env
    env.add_docs([make_doc(7210, day="2026-03-20")])
    assert env.invoke("push", "--period", "2026-03", "--yes").exit_code == EXIT_OK
    r = env.invoke("push", "jobs", "--status", "synced")
    assert r.exit_code == EXIT_OK and "jobs: 1 Synced" in r.stdout and "WC-7210" in r.stdout
    r = env.invoke("push", "jobs", "--status", "error")
    assert r.exit_code == EXIT_OK and "jobs: none" in r.stdout
    r = env.invoke("push", "jobs", "--status", "Synced,Eror")
    assert r.exit_code == EXIT_USAGE and "unknown job status 'Eror': use Pending, Queued, Synced, Error" in r.output
    assert "Traceback" not in r.output


def test_selection_mistakes_are_usage_errors_and_a_second_push_says_why_nothing_went(cli_env):
    """A job id, shop or period range that names nothing used to exit 0 with an empty push; the
    second `push --yes` of the same plan said "0/0 synced" without saying why."""
    env = cli_env
    env.add_docs([make_doc(7220, day="2026-03-20")])
    run_reconciliation(env.store, env.settings, "2026-03", clock=env.clock)
    r = env.invoke("push", "retry", "no-such-job")
    assert r.exit_code == EXIT_USAGE and "unknown push job(s): no-such-job (`exactsync push jobs` lists them)" in r.output
    r = env.invoke("push", "--period", "2026-03", "--shop", "nosuch", "--dry-run")
    assert r.exit_code == EXIT_USAGE and "unknown shop 'nosuch'" in r.output
    r = env.invoke("push", "--period", "2026-04..2026-03", "--dry-run")
    assert r.exit_code == EXIT_USAGE and "ends before it starts" in r.output
    assert not _posts(env)

    assert env.invoke("push", "--period", "2026-03", "--yes").exit_code == EXIT_OK
    r = env.invoke("push", "--period", "2026-03", "--yes")  # the same run's plan again
    assert "1 job(s) of the plan were Synced by an earlier push: not sent again." in r.stderr, r.output
    assert len(_posts(env)) == 1
    job = list_jobs(env.store)["job_id"].to_list()[0]
    r = env.invoke("push", "retry", job)
    assert "Nothing to retry: the job(s) named are Synced already." in r.stderr
    r = env.invoke("--json", "push", "jobs")
    assert json.loads(r.stdout)["counts"] == [{"status": "Synced", "count": 1}]
    assert env.invoke("push", "jobs", "--limit", "0").exit_code == EXIT_USAGE


def test_a_push_whose_entries_did_not_show_after_says_so_and_exits_partial():
    """The outcome of a run that posted an entry Exact did not show under its reference right after."""
    import click

    from exactsync.cli.main import Ctx
    from exactsync.cli.push_cmd import _finish
    from exactsync.push import PushOutcome

    @click.command()
    def finish():
        _finish(Ctx(), PushOutcome(run_id="r1", total=1, synced=1, posted=1, unverified=1))

    result = CliRunner().invoke(finish)
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert "1 posted entr(y/ies) did not show in Exact under their reference right after" in result.output
