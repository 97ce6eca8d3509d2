"""No token, secret or authorization code in logs, the call logs or any DuckDB table."""

from __future__ import annotations

import json
import logging

from exactsync.exact.pull import pull_exact
from exact.conftest import DIV


def _dump(store) -> str:
    parts = []
    for table in store.table_counts():
        df = store.query(f'SELECT * FROM "{table.name}"')
        parts.append(repr(df.rows()))  # every value as text, nested columns included
    return "\n".join(parts)


def test_no_secret_anywhere(make_env, clock, caplog):
    from exactsync.redact import install_log_filter

    install_log_filter()  # what the CLI does at start-up
    caplog.set_level(logging.DEBUG)
    env = make_env(connect=False)
    secrets = {env.settings.exact.client_secret.get()}
    with env.app.lock:
        code = env.app.oauth.grant_code()
    secrets.add(code)
    tokens = env.tokens()
    tokens.exchange_code(f"{env.settings.exact.redirect_uri}?code={code}")
    first = json.loads(env.settings.exact.token_file.read_text())
    secrets |= {first["access_token"], first["refresh_token"]}
    with env.client() as client:
        pull_exact(env.store, env.settings, DIV, client=client)
        clock.advance(590)  # refresh during the next pull
        env.app.fail_next(1)  # and a retried failure, logged as a warning
        pull_exact(env.store, env.settings, DIV, client=client, full=True)
    second = json.loads(env.settings.exact.token_file.read_text())
    assert second["access_token"] != first["access_token"]
    secrets |= {second["access_token"], second["refresh_token"]}

    logging.getLogger("test").warning("leak attempt %s", second["access_token"])  # scrubbed by the filter
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "Exact access token refreshed" in logs and "retrying" in logs
    dump = _dump(env.store)
    sandbox_log = json.dumps(env.app.calls())
    assert "token" in dump  # the api_calls table has the token endpoint calls…
    for secret in secrets:
        assert secret not in dump
        assert secret not in sandbox_log
        assert secret not in logs
