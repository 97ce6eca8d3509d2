"""Acceptance: 200 pushes under injected faults, 0 duplicates, every job Synced.

Part 1 (100 documents) runs in-process against the sandbox over real HTTP on a simulated clock
shared by sandbox and client: 10 % answers dropped after commit, 5 % HTTP 500, 5 % 429 and an
access-token expiry half-way. Part 2 (100 documents) runs ``python -m exactsync push --yes`` in a
subprocess on the real clock with drops and 500s, kills it with SIGKILL mid-way, expires the
access token and runs it again. (429s stay in part 1: on the real clock every 429 costs a wait
for the next clock minute, as it should.)
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest

from exactsync.push import Target, execute_plan, list_jobs, plan_targets
from exactsync.push.plan import missing_targets

from .conftest import DIV, make_doc, small_scenario

pytestmark = pytest.mark.slow


def _refs(env, prefix: str) -> collections.Counter:
    return collections.Counter(e["YourRef"] for e in env.entries() if (e["YourRef"] or "").startswith(prefix))


def test_fault_mix_in_process_on_a_shared_clock(make_env, clock):
    env = make_env()
    docs = [make_doc(20000 + i, day=f"2026-05-{1 + i % 28:02d}") for i in range(100)]
    env.add_docs(docs)
    plan = plan_targets(env.store, env.settings, [Target(d["doc_key"], "missing_in_exact") for d, _ in docs])
    assert plan.ok
    env.app.set_faults(seed=11, drop_after_commit=0.10, error_5xx=0.05, status_5xx=500, rate_429=0.05)
    env.app.clear_calls()
    expired = []

    def progress(done, total, msg):
        if done == 40 and not expired:
            clock.advance(700)  # the access token (600 s) expires mid-run
            expired.append(done)

    with env.client() as client:
        out = execute_plan(env.store, env.settings, plan, client=client, on_progress=progress)
    env.app.set_faults(drop_after_commit=0, error_5xx=0, rate_429=0)
    refs = _refs(env, "WC-2")
    assert len(refs) == 100 and set(refs.values()) == {1}, "0 duplicates, none missing"
    assert out.synced == 100 and out.exit_code == 0
    assert list_jobs(env.store)["status"].to_list() == ["Synced"] * 100
    calls = env.app.calls()
    faults = collections.Counter(c["fault"] for c in calls if c["fault"])
    assert faults["drop"] >= 3 and faults["5xx"] >= 2 and faults["429"] >= 2, faults
    # the client saw the expiry coming on the shared clock and refreshed (rotating the refresh token)
    assert expired and any(c["path"] == "/api/oauth2/token" and c["status"] == 200 for c in calls)
    assert out.found_existing >= faults["drop"] - 1
    env.pull()
    assert missing_targets(env.store, env.settings, period="2026-05") == []


def _write_config(env, tmp_path) -> tuple[str, dict]:
    ex = env.settings.exact
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text(
        f'[store]\npath = "{env.settings.store.path}"\nlock_timeout = 60\n'
        f'[exact]\nbase_url = "{ex.base_url}"\nclient_id = "{ex.client_id}"\ndivisions = [{DIV}]\n'
        f'token_file = "{ex.token_file}"\ntimeout = 5\nredirect_uri = "{ex.redirect_uri}"\n'
        f'[shops.woo]\nkind = "woocommerce"\ndivision = {DIV}\nreference_prefix = "WC-"\n',
        encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EXACTSYNC_")}
    environ["EXACTSYNC_EXACT__CLIENT_SECRET"] = ex.client_secret.get()
    return str(cfg), environ


def test_kill_minus_9_mid_push_then_resume(make_env, tmp_path):
    scenario = small_scenario()
    scenario["limits"] = {"minutely": 100000, "daily": 100000}  # a raised limit on the real clock
    env = make_env(scenario, clock_=None)  # the real clock: the pushing process is another process
    docs = [make_doc(30000 + i, day=f"2026-04-{1 + i % 28:02d}") for i in range(100)]
    env.add_docs(docs)
    cfg, environ = _write_config(env, tmp_path)
    env.app.set_faults(seed=5, drop_after_commit=0.10, error_5xx=0.05, status_5xx=500)
    cmd = [sys.executable, "-m", "exactsync", "--config", cfg, "push", "--period", "2026-04", "--yes"]
    proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while sum(_refs(env, "WC-3").values()) < 30 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    before = _refs(env, "WC-3")
    assert 30 <= sum(before.values()) < 100 and set(before.values()) == {1}
    with env.app.lock:  # the access token expires while nobody is pushing
        for tok in env.app.oauth.access.values():
            tok.expires_at = time.time()
        for chain in env.app.oauth.chains.values():
            chain.last_issued -= 600
    again = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr + again.stdout
    refs = _refs(env, "WC-3")
    assert len(refs) == 100 and set(refs.values()) == {1}, "exactly 100 new entries, 0 duplicates"
    jobs = list_jobs(env.store)
    assert jobs.height == 100 and set(jobs["status"].to_list()) == {"Synced"}
    assert any(c["status"] == 401 for c in env.app.calls())
    env.app.set_faults(drop_after_commit=0, error_5xx=0)
    env.pull()
    assert missing_targets(env.store, env.settings, period="2026-04") == []
