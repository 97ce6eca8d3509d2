"""OAuth 2.0 of the Exact sandbox: consent form, codes, token chains with rotation.

Follows exact-online-api.md §2 and §11.4–11.11. All state changes happen under the app lock,
so two concurrent refreshes with the same token cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import html
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from exactsync.clock import Clock
from exactsync.sandbox.base import SandboxRequest, SandboxResponse, json_response
from exactsync.sandbox.exact.state import Settings

__all__ = ["OAuthServer", "AccessToken"]


@dataclass
class AccessToken:
    chain_id: int
    client_id: str
    expires_at: float


@dataclass
class _Chain:
    id: int
    client_id: str
    user_id: str
    current_refresh: str
    last_issued: float
    alive: bool = True
    refresh_tokens: set[str] = field(default_factory=set)


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    user_id: str
    expires_at: float
    used: bool = False


def _fmt_us(t: float) -> str:
    """Exact's US-style timestamp in error descriptions: 10/11/2022 9:18:20 PM."""
    d = dt.datetime.fromtimestamp(t, dt.timezone.utc)
    hour = d.hour % 12 or 12
    return f"{d.month}/{d.day}/{d.year} {hour}:{d.minute:02d}:{d.second:02d} {'AM' if d.hour < 12 else 'PM'}"


_FORM = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Exact Online sandbox - authorize app</title></head>
<body>
<h1>Exact Online (sandbox)</h1>
<p>The app <b>{client}</b> asks for access to your administrations as <b>{user}</b>.</p>
<form method="post" action="/api/oauth2/auth">
<input type="hidden" name="client_id" value="{client}">
<input type="hidden" name="redirect_uri" value="{redirect}">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="state" value="{state}">
<button type="submit" name="allow" value="1">Allow</button>
<button type="submit" name="allow" value="0">Deny</button>
</form>
</body></html>
"""


class OAuthServer:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.s = settings
        self.clock = clock
        self.codes: dict[str, _Code] = {}
        self.chains: dict[int, _Chain] = {}
        self.refresh_index: dict[str, int] = {}
        self.access: dict[str, AccessToken] = {}
        self.token_calls: dict[tuple[str, str, int], int] = {}
        self._next_chain = 1

    # --- authorize ---------------------------------------------------------------------------
    def authorize(self, req: SandboxRequest) -> SandboxResponse:
        params = dict(req.query)
        if req.method == "POST":
            params.update(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        elif req.method != "GET":
            return SandboxResponse(405, b"", {"allow": "GET, POST"})
        client_id = params.get("client_id", "")
        redirect = params.get("redirect_uri", "")
        if not self._client_ok(client_id):
            return _html(400, "Unknown client_id.")
        if redirect != self.s.redirect_uri:
            return _html(401, "The redirect_uri does not match the registered redirect URI.")
        if params.get("response_type", "code") != "code":
            return _html(400, "Only response_type=code is supported by this sandbox.")
        state = params.get("state")
        if req.method == "GET":
            body = _FORM.format(client=html.escape(client_id), redirect=html.escape(redirect),
                                state=html.escape(state or ""), user=html.escape(self.s.user_name))
            return SandboxResponse(200, body.encode(), {"content-type": "text/html; charset=utf-8"})
        if params.get("allow") != "1":
            return _redirect(redirect, {"error": "access_denied", "state": state})
        code = self.grant_code(client_id, redirect)
        return _redirect(redirect, {"code": code, "state": state})

    def grant_code(self, client_id: str | None = None, redirect_uri: str | None = None) -> str:
        """Issue an authorization code as if the user pressed Allow (sandbox shortcut)."""
        code = "stampSB001." + secrets.token_urlsafe(24) + "!" + secrets.token_urlsafe(24)
        # one app per sandbox: store its canonical id (a client may send it with or without braces)
        self.codes[code] = _Code(self.s.client_id, redirect_uri or self.s.redirect_uri, self.s.user_id,
                                 self.clock.time() + self.s.code_seconds)
        return code

    # --- token endpoint ----------------------------------------------------------------------
    def token(self, req: SandboxRequest) -> SandboxResponse:
        if req.method != "POST":
            return SandboxResponse(405, b"", {"allow": "POST"})
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if not self._client_ok(client_id) or not secrets.compare_digest(
            (secret or "").encode(), self.s.client_secret.encode()
        ):
            return _err(400, "invalid_request")
        now = self.clock.time()
        day = int(now // 86400)
        key = (client_id, self.s.user_id, day)
        self.token_calls[key] = self.token_calls.get(key, 0) + 1
        if self.token_calls[key] > self.s.token_calls_per_day:
            # [infer] the reference gives the quota (200/user/day) but not the response.
            return _err(400, "access_denied", "Rate limit exceeded: too many token requests")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._exchange(form, now)
        if grant == "refresh_token":
            return self._refresh(form, now)
        return _err(400, "unsupported_grant_type")

    def _exchange(self, form: dict, now: float) -> SandboxResponse:
        code = self.codes.get(form.get("code", ""))
        if code is None or code.used or now >= code.expires_at or not self._client_ok(form.get("client_id")):
            if code is not None:
                code.used = True
            return _err(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") not in (None, code.redirect_uri):
            return _err(400, "invalid_grant", "Bad Request")
        code.used = True
        # a new consent replaces every earlier chain of this user and app
        for chain in self.chains.values():
            if chain.client_id == code.client_id and chain.user_id == code.user_id:
                chain.alive = False
        chain = _Chain(self._next_chain, code.client_id, code.user_id, "", now)
        self._next_chain += 1
        self.chains[chain.id] = chain
        return self._issue(chain, now)

    def _refresh(self, form: dict, now: float) -> SandboxResponse:
        token = form.get("refresh_token", "")
        chain = self.chains.get(self.refresh_index.get(token, -1))
        if chain is None or not self._client_ok(form.get("client_id")) or not chain.alive:
            return _err(400, "invalid_grant", "Token is not allowed, because of invalid or empty chainId",
                        reason="Unknown: Token is not allowed, because of invalid or empty chainId")
        if token != chain.current_refresh:
            chain.alive = False  # a reused refresh token kills the chain: new consent needed
            return _err(401, "unauthorized_client", "Old refresh token used.")
        expires = chain.last_issued + self.s.refresh_token_days * 86400
        if now >= expires:
            chain.alive = False
            return _err(400, "invalid_request",
                        f"The refresh token expired at {_fmt_us(expires)} and it is now {_fmt_us(now)}.")
        if now - chain.last_issued < self.s.refresh_min_seconds:
            msg = "Rate limit exceeded: access_token not expired"
            return _err(self.s.too_early_status, "access_denied", msg, reason=f"TooEarlyToRefreshTokens: {msg}")
        return self._issue(chain, now)

    def _issue(self, chain: _Chain, now: float) -> SandboxResponse:
        access = "gAAAAA" + secrets.token_urlsafe(96)
        refresh = "Gcp7!IAAAA" + secrets.token_urlsafe(48) + "!" + secrets.token_urlsafe(16)
        self.access[access] = AccessToken(chain.id, chain.client_id, now + self.s.access_token_seconds)
        chain.current_refresh = refresh
        chain.refresh_tokens.add(refresh)
        chain.last_issued = now
        self.refresh_index[refresh] = chain.id
        body = {"access_token": access, "token_type": "bearer", "expires_in": str(self.s.access_token_seconds),
                "refresh_token": refresh}
        return json_response(body, 200, {"cache-control": "no-store", "pragma": "no-cache"})

    # --- API authentication -----------------------------------------------------------------
    def check(self, authorization: str | None) -> tuple[str | None, str | None]:
        """-> (client_id or None, problem or None). client_id is known for expired tokens too."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None, "missing"
        tok = self.access.get(authorization[7:].strip())
        if tok is None:
            return None, "unknown"
        chain = self.chains.get(tok.chain_id)
        if chain is None or not chain.alive:
            return tok.client_id, "revoked"
        if self.clock.time() >= tok.expires_at:
            return tok.client_id, "expired"
        return tok.client_id, None

    def revoke_all(self) -> None:
        """Sandbox control: kill every chain (as if the user revoked the app)."""
        for chain in self.chains.values():
            chain.alive = False

    def _client_ok(self, client_id: str | None) -> bool:
        if not client_id:
            return False
        return client_id.strip("{}").lower() == self.s.client_id.strip("{}").lower()


def _err(status: int, error: str, description: str | None = None, reason: str | None = None) -> SandboxResponse:
    body = {"error": error}
    if description is not None:
        body["error_description"] = description
    headers = {"reason": reason} if reason else None
    return json_response(body, status, headers)


def _redirect(uri: str, params: dict) -> SandboxResponse:
    parts = urlsplit(uri)
    q = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(q), ""))
    return SandboxResponse(302, b"", {"location": location})


def _html(status: int, message: str) -> SandboxResponse:
    body = f"<!DOCTYPE html><html><body><h1>Error</h1><p>{html.escape(message)}</p></body></html>"
    return SandboxResponse(status, body.encode(), {"content-type": "text/html; charset=utf-8"})
