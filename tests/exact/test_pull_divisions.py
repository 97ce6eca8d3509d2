"""exactsync.exact.runner.pull_divisions: the one rule the CLI and the dashboard share, against the sandbox."""

from __future__ import annotations

import pytest

from exact.conftest import DIV, DIV2, small_scenario
from exactsync import views
from exactsync.errors import EXIT_AUTH, EXIT_CONFIG, EXIT_PARTIAL
from exactsync.exact.runner import pull_divisions
from exactsync.settings import Secret


def _errors(store):
    return store.rows("SELECT record_key, message FROM sync_log WHERE level = 'error' ORDER BY logged_at")


def test_a_division_without_access_is_a_failure_and_the_next_is_pulled(make_env):
    env = make_env(clock_=None)
    pulls = pull_divisions(env.store, env.settings, [999999, DIV])
    assert [r.division for r in pulls.results] == [DIV] and pulls.results[0].complete
    assert [f.source for f in pulls.failures] == ["Division 999999"]
    assert "Exact answered 403" in pulls.failures[0].message
    assert pulls.fatal is None and pulls.skipped == [] and pulls.stopped == {}
    # pull_exact logged it; the runner did not log it again
    assert [key for key, _ in _errors(env.store)] == ["999999"]


def test_not_connected_stops_the_divisions_that_share_the_token(make_env):
    env = make_env(clock_=None, connect=False)
    pulls = pull_divisions(env.store, env.settings, [DIV, DIV2])
    assert pulls.results == [] and [f.source for f in pulls.failures] == [f"Division {DIV}"]
    assert pulls.failures[0].exit_code == EXIT_AUTH and pulls.fatal is pulls.errors[0]
    assert pulls.skipped == [DIV2]


def test_a_token_failure_after_a_division_without_access_stops_the_rest(make_env):
    """Division 999999 answers 403 (a failure, the next is tried); then the app is revoked, so the
    next division fails on its token and the one after it is not tried: two failures, in order, the
    token's the fatal one, nothing pulled and both logged once."""
    env = make_env(clock_=None)

    def starting(division):
        if division == DIV:
            with env.app.lock:
                env.app.oauth.revoke_all()  # the user revoked the app in Exact between two divisions

    pulls = pull_divisions(env.store, env.settings, [999999, DIV, DIV2], on_start=starting)
    assert pulls.results == [] and pulls.stopped == {}
    assert [f.source for f in pulls.failures] == ["Division 999999", f"Division {DIV}"]
    assert "Exact answered 403" in pulls.failures[0].message and pulls.failures[0].exit_code != EXIT_AUTH
    assert pulls.failures[1].exit_code == EXIT_AUTH and pulls.fatal is pulls.errors[1]
    assert pulls.skipped == [DIV2] and pulls.pulled == 0
    assert not env.api_calls(DIV2)  # never asked
    assert [key for key, _ in _errors(env.store)] == ["999999", str(DIV)]


def test_a_rejected_client_secret_is_a_settings_error_and_stops_the_rest(make_env):
    """The refresh is refused as Exact refuses a wrong client secret (400 invalid_request, no
    description): exit code 5 (settings), not 1, and the second division, which needs the same
    token, is not tried; the stored token is left as it was and the secret is nowhere."""
    env = make_env(clock_=None)
    env.expire_access_token()
    before = env.settings.exact.token_file.read_text()
    env.settings.exact.client_secret = Secret("not-the-secret")
    pulls = pull_divisions(env.store, env.settings, [DIV, DIV2])
    assert pulls.results == [] and [f.source for f in pulls.failures] == [f"Division {DIV}"]
    failure = pulls.failures[0]
    assert failure.exit_code == EXIT_CONFIG and "rejected the client id or secret" in failure.message
    assert pulls.fatal is pulls.errors[0] and pulls.skipped == [DIV2]
    assert not env.api_calls(DIV) and not env.api_calls(DIV2)
    assert env.settings.exact.token_file.read_text() == before
    logged = _errors(env.store)
    assert [key for key, _ in logged] == [str(DIV)] and "not-the-secret" not in repr(logged)
    # the dashboard's pull says the same, its "not tried" line with the settings' exit code, not 6
    report = views.pull_all(env.store, env.settings)
    assert [(f.source, f.exit_code) for f in report.failures] == [(f"Exact division {DIV}", EXIT_CONFIG),
                                                                  ("Exact", EXIT_CONFIG)]
    assert f"division(s) {DIV2} not tried" in report.message


def test_the_daily_limit_stops_one_division_cleanly_and_the_next_is_tried(make_env):
    scenario = small_scenario()
    scenario["limits"]["daily"] = 3
    env = make_env(scenario, clock_=None)
    pulls = pull_divisions(env.store, env.settings, [DIV, DIV2])
    assert pulls.failures == [] and pulls.fatal is None
    assert list(pulls.stopped) == [DIV, DIV2]
    assert [f.source for f in pulls.stopped.values()] == [f"Division {DIV}", f"Division {DIV2}"]
    assert all(f.exit_code == EXIT_PARTIAL and "daily API limit" in f.message for f in pulls.stopped.values())
    assert env.api_calls(DIV2)  # tried after DIV stopped
    assert pulls.pulled == 2


def test_a_bug_in_one_division_is_logged_and_the_others_are_pulled(make_env, monkeypatch):
    from exactsync.exact import pull as pull_module

    env = make_env(clock_=None)
    real = pull_module.pull_exact

    def broken(store, settings, division, **kw):
        if division == DIV:
            raise KeyError("Amount")
        return real(store, settings, division, **kw)

    monkeypatch.setattr(pull_module, "pull_exact", broken)
    pulls = pull_divisions(env.store, env.settings, [DIV, DIV2])
    assert [r.division for r in pulls.results] == [DIV2]
    assert pulls.failures[0].message == "unexpected error (KeyError: 'Amount')"
    assert _errors(env.store) == [(str(DIV), "division %d not pulled: unexpected error (KeyError: 'Amount')" % DIV)]


def test_a_busy_database_stops_everything(make_env, monkeypatch):
    from exactsync.exact import pull as pull_module
    from exactsync.store import StoreBusyError

    env = make_env(clock_=None)

    def busy(*a, **kw):
        raise StoreBusyError("in use")

    monkeypatch.setattr(pull_module, "pull_exact", busy)
    with pytest.raises(StoreBusyError):
        pull_divisions(env.store, env.settings, [DIV, DIV2])


def test_the_dashboard_pull_names_the_divisions_not_tried(make_env):
    env = make_env(clock_=None, connect=False)
    report = views.pull_all(env.store, env.settings)
    assert [f.source for f in report.failures] == [f"Exact division {DIV}", "Exact"]
    assert report.failures[0].exit_code == EXIT_AUTH
    assert f"division(s) {DIV2} not tried" in report.message
