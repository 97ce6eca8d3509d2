"""Exact sandbox OAuth: consent form, code exchange, token lifetimes, rotation, chain death."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import httpx2

ME = "/api/v1/current/Me"


def _settings(app):
    return app.settings


def _authorize(base: str, app, state: str = "xyz") -> str:
    """Drive the consent form the way a script would: GET the form, POST allow=1, read the code."""
    s = _settings(app)
    params = {"client_id": s.client_id, "redirect_uri": s.redirect_uri, "response_type": "code", "state": state}
    with httpx2.Client(base_url=base, timeout=10) as c:
        form = c.get("/api/oauth2/auth", params=params)
        assert form.status_code == 200
        assert "text/html" in form.headers["content-type"]
        assert 'name="allow" value="1"' in form.text and "Allow" in form.text
        resp = c.post("/api/oauth2/auth", data={**params, "allow": "1"})
    assert resp.status_code == 302
    loc = urlsplit(resp.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == s.redirect_uri
    q = parse_qs(loc.query)
    assert q["state"] == [state]
    return q["code"][0]


def _token(base: str, app, **form) -> httpx2.Response:
    s = _settings(app)
    data = {"client_id": s.client_id, "client_secret": s.client_secret, **form}
    with httpx2.Client(base_url=base, timeout=10) as c:
        return c.post("/api/oauth2/token", data=data)


def _exchange(base, app, code):
    return _token(base, app, grant_type="authorization_code", code=code, redirect_uri=app.settings.redirect_uri)


def _refresh(base, app, refresh_token):
    return _token(base, app, grant_type="refresh_token", refresh_token=refresh_token)


def _me(base, access) -> int:
    with httpx2.Client(base_url=base, timeout=10) as c:
        return c.get(ME, headers={"Authorization": f"Bearer {access}"}).status_code


def test_code_flow_over_http(exact_app, exact_server):
    base = exact_server.url
    code = _authorize(base, exact_app)
    r = _exchange(base, exact_app, code)
    assert r.status_code == 200
    tok = r.json()
    assert set(tok) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tok["token_type"] == "bearer" and tok["expires_in"] == "600"
    assert "!" in tok["refresh_token"]
    assert _me(base, tok["access_token"]) == 200
    # codes are single use
    assert _exchange(base, exact_app, code).status_code == 400


def test_deny_and_bad_redirect(exact_app, exact_server):
    s = exact_app.settings
    with httpx2.Client(base_url=exact_server.url) as c:
        params = {"client_id": s.client_id, "redirect_uri": s.redirect_uri, "response_type": "code", "state": "s"}
        r = c.post("/api/oauth2/auth", data={**params, "allow": "0"})
        assert r.status_code == 302 and "error=access_denied" in r.headers["location"]
        bad = c.get("/api/oauth2/auth", params={**params, "redirect_uri": "https://evil.example/cb"})
        assert bad.status_code == 401


def test_code_expires_after_three_minutes(exact_app, exact_server, exact_clock):
    code = _authorize(exact_server.url, exact_app)
    exact_clock.advance(181)
    assert _exchange(exact_server.url, exact_app, code).status_code == 400


def test_client_credentials_only_in_body(exact_app, exact_server):
    base = exact_server.url
    s = exact_app.settings
    code = _authorize(base, exact_app)
    with httpx2.Client(base_url=base) as c:
        r = c.post("/api/oauth2/token", auth=(s.client_id, s.client_secret),
                   data={"grant_type": "authorization_code", "code": code, "redirect_uri": s.redirect_uri})
    assert r.status_code == 400 and r.json() == {"error": "invalid_request"}
    wrong = _token(base, exact_app, grant_type="authorization_code", code=code, client_secret="nope")
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_request"}


def test_access_token_lives_exactly_600_seconds(exact_app, exact_server, exact_clock):
    tok = exact_app.issue_tokens()
    exact_clock.advance(599.9)
    assert _me(exact_server.url, tok["access_token"]) == 200
    exact_clock.advance(0.1)
    assert _me(exact_server.url, tok["access_token"]) == 401
    assert _me(exact_server.url, "gAAAAAunknown") == 401


def test_too_early_refresh_then_rotation_and_reuse_kills_chain(exact_app, exact_server, exact_clock):
    base = exact_server.url
    tok = exact_app.issue_tokens()
    exact_clock.advance(569)
    early = _refresh(base, exact_app, tok["refresh_token"])
    assert early.status_code == 400
    assert early.json() == {"error": "access_denied", "error_description": "Rate limit exceeded: access_token not expired"}
    assert early.headers["reason"] == "TooEarlyToRefreshTokens: Rate limit exceeded: access_token not expired"
    exact_clock.advance(1)
    r1 = _refresh(base, exact_app, tok["refresh_token"])  # the too-early call did not burn the token
    assert r1.status_code == 200
    t1 = r1.json()
    assert t1["refresh_token"] != tok["refresh_token"]
    assert _me(base, t1["access_token"]) == 200
    exact_clock.advance(600)
    old = _refresh(base, exact_app, tok["refresh_token"])
    assert old.status_code == 401
    assert old.json() == {"error": "unauthorized_client", "error_description": "Old refresh token used."}
    # the chain is dead: even the newest refresh token fails now, and so do its access tokens
    newest = _refresh(base, exact_app, t1["refresh_token"])
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"
    assert _me(base, t1["access_token"]) == 401


def test_too_early_status_configurable(exact_scenario, exact_clock, exact_make_client):
    from exactsync.sandbox.exact import create_app

    exact_scenario["limits"]["too_early_status"] = 401
    app = create_app(exact_scenario, clock=exact_clock)
    tok = app.issue_tokens()
    s = app.settings
    with httpx2.Client(transport=app.transport(), base_url="https://x") as c:
        r = c.post("/api/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"],
                                               "client_id": s.client_id, "client_secret": s.client_secret})
    assert r.status_code == 401 and r.json()["error"] == "access_denied"


def test_refresh_token_expires_after_30_days(exact_app, exact_server, exact_clock):
    tok = exact_app.issue_tokens()
    exact_clock.advance(30 * 86400 + 1)
    r = _refresh(exact_server.url, exact_app, tok["refresh_token"])
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "invalid_request"
    assert body["error_description"].startswith("The refresh token expired at ")
    assert "and it is now" in body["error_description"]


def test_new_consent_invalidates_previous_chain(exact_app, exact_server, exact_clock):
    base = exact_server.url
    first = exact_app.issue_tokens()
    second = _exchange(base, exact_app, _authorize(base, exact_app)).json()
    exact_clock.advance(570)
    assert _refresh(base, exact_app, first["refresh_token"]).status_code == 400
    assert _me(base, first["access_token"]) == 401
    assert _refresh(base, exact_app, second["refresh_token"]).status_code == 200


def test_concurrent_refresh_exactly_one_wins(exact_app, exact_server, exact_clock):
    tok = exact_app.issue_tokens()
    exact_clock.advance(600)
    results: list[int] = []
    barrier = threading.Barrier(6)

    def worker():
        barrier.wait()
        results.append(_refresh(exact_server.url, exact_app, tok["refresh_token"]).status_code)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 1
    assert all(s in (401, 400) for s in results if s != 200)


def test_oauth_calls_logged_without_secrets(exact_app, exact_server):
    base = exact_server.url
    code = _authorize(base, exact_app)
    tok = _exchange(base, exact_app, code).json()
    dump = repr(exact_app.calls())
    for secret in (code, tok["access_token"], tok["refresh_token"], exact_app.settings.client_secret):
        assert secret not in dump
    assert any(c["path"] == "/api/oauth2/token" and c["status"] == 200 for c in exact_app.calls())
