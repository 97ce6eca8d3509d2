"""Tokens: storage, refresh timing, concurrency (threads and processes), reauthorisation."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from exactsync.clock import Clock
from exactsync.exact.oauth import ReauthorizationNeeded, TokenStore
from exactsync.exact.pull import pull_exact
from exact.conftest import DIV, scenario_with_lines

ROOT = Path(__file__).resolve().parents[2]


def _refreshes(env) -> int:
    return len(env.token_calls()) - 1  # the first token call was the code exchange


def test_token_file_is_private_and_normalized(make_env, clock):
    env = make_env()
    path = env.settings.exact.token_file
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = json.loads(path.read_text())
    assert token["expires_in"] == 600 and token["expires_at"] == int(clock.time()) + 600
    assert token["issued_at"] == clock.time()
    assert not list(path.parent.glob(".exact_token.json.*.tmp"))


def test_no_refresh_before_570_seconds_then_exactly_one(make_env, clock):
    env = make_env()
    tokens = env.tokens()
    first = tokens.access_token()
    clock.advance(569)
    assert tokens.access_token() == first and _refreshes(env) == 0
    clock.advance(1)  # 570 s: inside the last 30 s, Exact allows a refresh
    second = tokens.access_token()
    assert second != first and _refreshes(env) == 1
    assert [c["status"] for c in env.token_calls()] == [200, 200]


def test_access_token_expires_mid_pull_one_refresh(make_env, clock):
    env = make_env(scenario_with_lines(5000))
    with env.client() as client:
        # every page of lines takes "200 s": the token expires after the third
        res = pull_exact(env.store, env.settings, DIV, client=client,
                         on_progress=lambda done, total, msg: clock.advance(200) if "lines" in msg else None)
    assert res.complete and res.lines_upserted == 5000
    assert _refreshes(env) == 1
    assert all(c["status"] == 200 for c in env.api_calls())  # never sent an expired token


def test_eight_threads_one_refresh(make_env, clock):
    env = make_env()
    clock.advance(575)  # the stored token is about to expire
    barrier = threading.Barrier(8)
    results, errors = [], []

    def work():
        try:
            client = env.client()  # its own TokenStore object, same token file
            barrier.wait()
            client.get("financial/Journals", DIV, {"$select": "Code"})
            results.append(client.tokens.access_token())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _refreshes(env) == 1
    assert len(set(results)) == 1
    assert all(c["status"] == 200 for c in env.token_calls())


class OffsetClock(Clock):
    """Real time shifted by a settable offset (for the sandbox in the multi-process test)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset


_WORKER = textwrap.dedent("""
    import json, sys, threading, time
    from exactsync.exact.oauth import TokenStore
    cfg = json.loads(sys.argv[1])
    start_at = cfg.pop("start_at")
    out = []
    def run():
        ts = TokenStore(**cfg)
        while time.time() < start_at:
            time.sleep(0.001)
        out.append(ts.access_token())
    threads = [threading.Thread(target=run) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(json.dumps(sorted(set(out))))
""")


@pytest.mark.slow
def test_two_processes_with_threads_one_refresh(make_env, tmp_path):
    sandbox_clock = OffsetClock(-580.0)
    env = make_env(clock_=sandbox_clock, connect=False)
    # connect "580 s ago": the token has 20 s left, inside the 30 s refresh window
    with env.app.lock:
        code = env.app.oauth.grant_code()
    TokenStore.from_settings(env.settings, clock=sandbox_clock).exchange_code(code)
    sandbox_clock.offset = 0.0
    ex = env.settings.exact
    cfg = {"path": str(ex.token_file), "base_url": ex.base_url, "client_id": ex.client_id,
           "client_secret": ex.client_secret.get(), "redirect_uri": ex.redirect_uri,
           "start_at": time.time() + 3.0}
    env_vars = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, json.dumps(cfg)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env_vars) for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out))
    assert len(env.token_calls()) == 2  # the exchange + exactly one refresh
    assert all(c["status"] == 200 for c in env.token_calls())
    assert outs[0] == outs[1] and len(outs[0]) == 1  # everyone ended with the same new token
    assert "Old refresh token" not in json.dumps(env.app.calls())


def test_old_refresh_token_means_reauthorization(make_env, clock, tmp_path):
    env = make_env()
    stale = env.settings.exact.token_file.read_text()
    clock.advance(580)
    env.tokens().access_token()  # rotates the refresh token
    # another copy of the token file (say a restored backup) still has the old refresh token
    other = tmp_path / "other" / "token.json"
    other.parent.mkdir()
    other.write_text(stale)
    clock.advance(600)
    tokens = TokenStore(other, base_url=env.url, client_id=env.settings.exact.client_id,
                        client_secret=env.settings.exact.client_secret, clock=clock)
    with pytest.raises(ReauthorizationNeeded) as info:
        tokens.access_token()
    assert info.value.exit_code == 6
    assert "exactsync exact connect" in str(info.value)
    assert "Old refresh token used" in str(info.value)


def test_not_connected_and_unusable_code(make_env):
    env = make_env(connect=False)
    with pytest.raises(ReauthorizationNeeded, match="not connected"):
        env.tokens().access_token()
    with pytest.raises(ReauthorizationNeeded, match="single-use"):
        env.tokens().exchange_code("http://127.0.0.1:8765/exact/callback?code=bogus&state=x")


def test_refresh_token_expiry_warning(make_env, clock):
    env = make_env()
    tokens = env.tokens()
    assert tokens.warning is None
    clock.advance(26 * 86400)
    status = tokens.status()
    assert status.warning and "expires in" in status.warning and status.refresh_days_left < 5
    clock.advance(5 * 86400)
    assert "expired" in tokens.status().warning


def test_a_damaged_token_file_asks_to_connect_again(make_env):
    env = make_env()
    path = env.settings.exact.token_file
    token = json.loads(path.read_text())
    path.write_text(json.dumps({**token, "refreshed_at": "yesterday"}))  # edited by hand, say
    tokens = env.tokens()
    with pytest.raises(ReauthorizationNeeded, match="holds no usable token") as info:
        tokens.access_token()
    assert info.value.exit_code == 6 and "exactsync exact connect" in str(info.value)
    assert token["refresh_token"] not in str(info.value)
    status = tokens.status()
    assert not status.connected and "holds no usable token" in status.warning
