"""Acceptance: 200 pushes under every fault at once, over real HTTP, in a real process that is
killed with SIGKILL half-way and then run again: exactly 200 new entries, 0 duplicates, every
job Synced, and a re-pull + re-reconciliation matches every pushed document.

The sandbox server (in this process) and ``python -m exactsync push`` (a subprocess) share one
simulated clock through a file (:class:`~exactsync.clock.FileClock`, the CLI's hidden
``--simulated-clock``). Nothing about the protocol is faked: the sandbox counts 60 calls per clock
minute and 5,000 a day, an injected 429 carries ``X-RateLimit-Minutely-Reset`` = the end of the
sandbox's current minute, and the client waits for it; the access token lives 600 s of that clock
and expires when the test moves the clock 11 minutes on. Waiting costs no wall time, so the 429s
are cheap and the run takes seconds, not the many minutes it takes on the real clock.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from exactsync.clock import FileClock
from exactsync.push import list_jobs
from exactsync.reconcile import DiffFilters, differences, run_reconciliation

from .conftest import DIV, START, Env, make_doc, small_scenario, write_config

pytestmark = pytest.mark.slow

N = 200
PERIOD = "2026-05"
FAULTS = {"seed": 20260601, "drop_after_commit": 0.10, "error_5xx": 0.05, "status_5xx": 500, "rate_429": 0.05}


def _refs(env) -> collections.Counter:
    return collections.Counter(e["YourRef"] for e in env.entries() if (e["YourRef"] or "").startswith("WC-5"))


def _wait_for(env, proc, count: int, deadline: float) -> None:
    while sum(_refs(env).values()) < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def test_200_pushes_with_all_faults_a_token_expiry_and_kill_minus_9_then_resume(tmp_path):
    clock = FileClock(tmp_path / "clock", start=START)
    env = Env(tmp_path, small_scenario(), clock)  # the real limits: 60 a minute, 5,000 a day
    try:
        _run(env, clock, tmp_path)
    finally:
        env.stop()
        clock.close()


def _run(env: Env, clock: FileClock, tmp_path) -> None:
    env.connect()
    env.pull()
    env.save_mappings()
    docs = [make_doc(50000 + i, day=f"{PERIOD}-{1 + i % 28:02d}",
                     lines=[("goods", "21", f"{100 + i}.00", f"{21 * (100 + i) / 100:.2f}")]) for i in range(N)]
    env.add_docs(docs)
    run = run_reconciliation(env.store, env.settings, PERIOD, clock=clock)
    assert run.counts["missing_in_exact"] == N
    entries_before = len(env.entries())
    cfg, environ = write_config(env, tmp_path)
    cmd = [sys.executable, "-m", "exactsync", "--config", cfg, "--simulated-clock", str(clock.path),
           "push", "--period", PERIOD, "--status", "missing", "--yes"]
    api_calls_before = env.store.scalar("SELECT count(*) FROM api_calls")
    env.app.clear_calls()
    env.app.set_faults(**FAULTS)

    # 1. push in a real process; half-way its access token expires, later it is killed with SIGKILL
    log1 = (tmp_path / "push1.out").open("w+")
    proc = subprocess.Popen(cmd, env=environ, stdout=log1, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    _wait_for(env, proc, 60, deadline)
    expired_at = clock.time() + 660
    clock.advance(660)  # 11 minutes later: the access token (600 s) is dead
    _wait_for(env, proc, 130, deadline)
    assert proc.poll() is None, (tmp_path / "push1.out").read_text()
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    log1.close()
    calls_at_kill = len(env.app.calls())
    killed_at = _refs(env)
    assert 130 <= sum(killed_at.values()) < N and set(killed_at.values()) == {1}
    jobs = collections.Counter(list_jobs(env.store)["status"].to_list())
    assert jobs["Queued"] >= 1, jobs  # killed inside a claimed batch: its jobs are left Queued
    assert jobs["Synced"] <= sum(killed_at.values())

    # 2. the same command again resumes: what landed is found by its YourRef, the rest is posted
    again = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ETA" in again.stderr and "push: [" in again.stderr  # the progress bar with its ETA

    # exactly N new entries, 0 duplicates, every job Synced with its Exact entry
    refs = _refs(env)
    assert len(refs) == N and set(refs.values()) == {1}, "exactly one entry per document"
    assert len(env.entries()) == entries_before + N, "exactly N new entries in the sandbox"
    jobs = list_jobs(env.store)
    assert jobs.height == N and set(jobs["status"].to_list()) == {"Synced"}
    by_ref = {e["YourRef"]: e for e in env.entries()}
    assert all(by_ref[r["your_ref"]]["EntryID"] == r["exact_entry_id"]
               and by_ref[r["your_ref"]]["EntryNumber"] == r["exact_entry_number"] for r in jobs.to_dicts())

    # every fault happened, and each was handled the honest way
    env.app.set_faults(drop_after_commit=0, error_5xx=0, rate_429=0)
    calls = env.app.calls()
    api = [c for c in calls if c["division"] == DIV]
    faults = collections.Counter(c["fault"] for c in api if c["fault"])
    assert faults["drop"] >= 5 and faults["5xx"] >= 3 and faults["429"] >= 3, faults
    assert [c for c in api if c["status"] == 429 and c["fault"] != "429"] == [], "the client never ran into the limit"
    for i, a in enumerate(calls[:-1]):
        if a["status"] == 429 and i + 1 != calls_at_kill:  # (a new process knows nothing of the old one's 429)
            nxt = next(c for c in calls[i + 1:] if c["division"] == DIV)
            assert nxt["time"] >= (a["time"] // 60 + 1) * 60, "a call before the reset the 429 named"
    per_minute = collections.Counter(int(c["time"] // 60) for c in api)
    assert max(per_minute.values()) <= 60
    refreshes = [c for c in calls if c["path"] == "/api/oauth2/token" and c["status"] == 200]
    assert refreshes and all(c["time"] >= expired_at for c in refreshes), "the expired token was refreshed"
    assert all(c["time"] >= expired_at for c in api if c["status"] == 401)
    found = sum(1 for r in jobs.to_dicts() if r["found_existing"])
    assert found >= faults["drop"] - 1, (found, faults)  # lost answers were looked up, not posted again

    # every API call is in api_calls (but the one the kill cut off), with no secret anywhere
    logged = env.store.scalar("SELECT count(*) FROM api_calls") - api_calls_before
    assert len(calls) - 2 <= logged <= len(calls), (logged, len(calls))
    secrets = {env.settings.exact.client_secret.get(), *env.app.oauth.access}
    secrets |= {json.loads(env.settings.exact.token_file.read_text())["refresh_token"]}
    dump = "".join(env.store.query(f"SELECT * FROM {t}").write_csv() for t in ("api_calls", "sync_log", "push_jobs"))
    dump += (tmp_path / "push1.out").read_text() + again.stdout + again.stderr
    assert not [s for s in secrets if s and s in dump]

    # 3. re-pull and re-reconcile: every pushed document is matched
    env.pull()
    rerun = run_reconciliation(env.store, env.settings, PERIOD, clock=clock)
    rows = differences(env.store, rerun.run_id, DiffFilters(include_ok=True, shops=["woo"]), limit=10 * N)
    pushed = rows.filter(rows["doc_key"].is_in([d["doc_key"] for d, _ in docs]))
    assert pushed.height == N and set(pushed["status"].to_list()) == {"matched"}
