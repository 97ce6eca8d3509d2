"""Exact Online OAuth 2.0: authorize URL, code exchange and a token store safe under concurrency.

Exact's rules (exact-online-api.md §2): access tokens live 600 s (``expires_in`` is the *string*
``"600"``); a new one may only be requested ≥ 570 s after the previous one was issued; every
refresh rotates the refresh token and reusing an old one kills the chain ("Old refresh token
used"); a refresh token dies after 30 days without a refresh. So:

* the token lives in one JSON file (mode 0600, written atomically) shared by every thread and
  process; the file also records ``issued_at`` (our clock) and ``refreshed_at``;
* a refresh happens only in the last ``leeway`` (30) seconds of the token's life, or once after
  an unexpected 401, under a threading lock *and* a cross-process :class:`filelock.FileLock` on
  ``<token_file>.lock``; inside the lock the file is re-read and the refresh skipped when another
  thread/process already did it (double-checked), and the new token is persisted before the lock
  is released and before it is used;
* "Old refresh token used", an expired chain or ``invalid_grant`` raise
  :class:`ReauthorizationNeeded` (exit code 6): run ``exactsync exact connect`` again.

Every token value is registered with :func:`exactsync.redact.register_secret`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import filelock
import httpx2
from authlib.integrations.httpx_client import OAuth2Client, OAuthError

from exactsync.clock import SYSTEM_CLOCK, Clock
from exactsync.errors import EXIT_AUTH, EXIT_CONFIG, ExactsyncError
from exactsync.redact import redact, register_secret

__all__ = [
    "ReauthorizationNeeded",
    "TokenError",
    "TokenStore",
    "TokenStatus",
    "authorize_url",
    "code_from_redirect",
    "is_loopback",
    "REFRESH_TOKEN_DAYS",
    "REFRESH_WARNING_DAYS",
]

log = logging.getLogger(__name__)

#: Exact's refresh-token life without a refresh (§2.2).
REFRESH_TOKEN_DAYS = 30
#: warn when fewer days than this remain of the refresh token's life.
REFRESH_WARNING_DAYS = 5
#: refresh only in the last 30 s of the token's life (600 - 570, §2.3).
DEFAULT_LEEWAY = 30

_RECONNECT = "Run `exactsync exact connect` to authorise exactsync again."
#: to a machine without a token: it was never connected, so not "again"
_CONNECT = "Run `exactsync exact connect` to authorise exactsync."
_thread_locks: dict[str, threading.RLock] = {}
_registry_lock = threading.Lock()


class ReauthorizationNeeded(ExactsyncError):
    """The token chain is gone (never connected, old refresh token used, expired, revoked)."""

    exit_code = EXIT_AUTH


class TokenError(ExactsyncError):
    """The token endpoint refused or failed for a reason a new consent would not fix. Every
    division is reached with the same token, so a division's ``TokenError`` stops the ones after it
    (:func:`exactsync.exact.runner.pull_divisions`)."""


def authorize_url(base_url: str, client_id: str, redirect_uri: str, state: str | None = None,
                  force_login: bool = False) -> str:
    """The URL the user opens to consent (``{base}/api/oauth2/auth``, §2.1)."""
    params = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code"}
    if state:
        params["state"] = state
    if force_login:
        params["force_login"] = "1"
    return f"{base_url.rstrip('/')}/api/oauth2/auth?{urlencode(params)}"


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (localhost, 127.x, ::1): the sandboxes, or the dashboard
    on loopback; any other host name is not."""
    host = (urlsplit(url or "").hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def code_from_redirect(text: str, expected_state: str | None = None) -> str:
    """The authorization code from a pasted redirect URL (``…?code=…&state=…``) or a bare code."""
    text = text.strip()
    if "code=" in text or text.startswith(("http://", "https://")):
        query = dict(parse_qsl(urlsplit(text).query, keep_blank_values=True))
        if "error" in query:
            raise ReauthorizationNeeded(f"Exact refused the authorisation: {query['error']}. {_RECONNECT}")
        code = query.get("code")
        if not code:
            raise ReauthorizationNeeded("The pasted URL has no `code` parameter. " + _RECONNECT)
        if expected_state is not None and query.get("state") not in (None, expected_state):
            raise ReauthorizationNeeded("The pasted URL belongs to another authorisation (state differs). " + _RECONNECT)
        register_secret(code)
        return code
    if not text:
        raise ReauthorizationNeeded("No authorisation code given. " + _RECONNECT)
    register_secret(text)
    return text


@dataclass(frozen=True)
class TokenStatus:
    """What `exact test` and the dashboard show about the connection (never a token value)."""

    connected: bool
    access_expires_in: float | None = None
    access_age: float | None = None
    refreshed_at: float | None = None
    refresh_expires_at: float | None = None
    refresh_days_left: float | None = None
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _atomic_write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


#: the token file's times (epoch seconds), which its readers do arithmetic on
_TIME_FIELDS = ("issued_at", "expires_in", "expires_at", "refreshed_at")


def _number_or_none(value: object) -> bool:
    """True for a missing time or a number (a hand-edited file may hold anything)."""
    if value is None:
        return True
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


class TokenStore:
    """The Exact token in a 0600 JSON file, refreshed under a thread + process lock.

    ``transport`` is an httpx2 transport for the token endpoint (tests, sandbox in-process);
    ``clock`` decides expiry (share a FakeClock with the sandbox in tests).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        base_url: str,
        client_id: str,
        client_secret: Any,
        redirect_uri: str = "",
        transport: httpx2.BaseTransport | None = None,
        clock: Clock | None = None,
        leeway: int = DEFAULT_LEEWAY,
        lock_timeout: float = 60.0,
        timeout: float = 60.0,
        on_token_call: Callable[[str, int | None, float, str | None], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        secret = client_secret.get() if hasattr(client_secret, "get") else str(client_secret or "")
        register_secret(secret)
        self._client_secret = secret
        self.redirect_uri = redirect_uri
        self.transport = transport
        self.clock = clock or SYSTEM_CLOCK
        self.leeway = leeway
        self.timeout = timeout
        self.on_token_call = on_token_call
        self._file_lock = filelock.FileLock(str(self.path) + ".lock", timeout=lock_timeout)
        key = str(self.path.resolve())
        with _registry_lock:
            self._thread_lock = _thread_locks.setdefault(key, threading.RLock())
        self._cached: dict | None = None
        #: how many successful refreshes this object did (tests, diagnostics)
        self.refresh_count = 0

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> "TokenStore":
        ex = getattr(settings, "exact", settings)
        kw.setdefault("timeout", ex.timeout)
        return cls(ex.token_file, base_url=ex.base_url, client_id=ex.client_id, client_secret=ex.client_secret,
                   redirect_uri=ex.redirect_uri, **kw)

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/api/oauth2/token"

    def authorize_url(self, state: str | None = None, force_login: bool = False) -> str:
        return authorize_url(self.base_url, self.client_id, self.redirect_uri, state, force_login)

    # ------------------------------------------------------------------ file

    def load(self) -> dict | None:
        """The stored token (or None when not connected); registers its values as secrets."""
        try:
            with self.path.open(encoding="utf-8") as f:
                token = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise ReauthorizationNeeded(f"The token file {self.path} cannot be read ({type(e).__name__}). {_RECONNECT}") from None
        if (not isinstance(token, dict) or not token.get("access_token") or not token.get("refresh_token")
                or not all(_number_or_none(token.get(k)) for k in _TIME_FIELDS)):
            raise ReauthorizationNeeded(f"The token file {self.path} holds no usable token. {_RECONNECT}")
        register_secret(token.get("access_token"))
        register_secret(token.get("refresh_token"))
        return token

    def save(self, token: dict) -> None:
        """Persist atomically (temp file in the same folder, fsync, ``os.replace``, 0600)."""
        _atomic_write_json(self.path, token)
        self._cached = dict(token)

    def delete(self) -> None:
        with self._locked():
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self._cached = None

    # ------------------------------------------------------------------ validity

    def _expires_at(self, token: dict) -> float:
        if token.get("issued_at") is not None and token.get("expires_in") is not None:
            return float(token["issued_at"]) + float(token["expires_in"])
        return float(token.get("expires_at") or 0)

    def _fresh(self, token: dict | None) -> bool:
        """True while more than ``leeway`` seconds of life remain (no refresh allowed yet)."""
        return token is not None and self._expires_at(token) - self.clock.time() > self.leeway

    def _locked(self):
        store = self

        class _Both:
            def __enter__(self_inner):
                store._thread_lock.acquire()
                try:
                    store._file_lock.acquire()
                except filelock.Timeout:
                    store._thread_lock.release()
                    raise TokenError(f"Another exactsync process held the token lock {store.path}.lock for too long.") from None
                except BaseException:
                    store._thread_lock.release()
                    raise

            def __exit__(self_inner, *exc):
                try:
                    store._file_lock.release()
                finally:
                    store._thread_lock.release()

        return _Both()

    # ------------------------------------------------------------------ the main entry

    def access_token(self, *, rejected: str | None = None) -> str:
        """A valid access token; refreshes when due, or once when ``rejected`` (a 401) says so."""
        cached = self._cached
        if rejected is None and self._fresh(cached):
            return cached["access_token"]
        with self._locked():
            token = self.load()  # double-checked: another thread/process may have refreshed
            if token is None:
                raise ReauthorizationNeeded(f"exactsync is not connected to Exact Online. {_CONNECT}")
            self._cached = token
            if rejected is not None and token["access_token"] != rejected:
                return token["access_token"]
            if rejected is None and self._fresh(token):
                return token["access_token"]
            if rejected is not None and self._fresh(token):
                log.warning("Exact rejected an access token that should still be valid; refreshing once.")
            token = self._refresh(token)
            return token["access_token"]

    # ------------------------------------------------------------------ OAuth calls

    def _oauth_client(self, on_update: Callable[..., None] | None = None) -> tuple[OAuth2Client, dict]:
        seen: dict[str, Any] = {}

        def capture(resp: httpx2.Response) -> httpx2.Response:
            seen["status"] = resp.status_code
            seen["reason"] = resp.headers.get("reason")
            return resp

        kwargs: dict[str, Any] = {"timeout": self.timeout}
        if self.transport is not None:
            kwargs["transport"] = self.transport
        client = OAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method="client_secret_post",  # Exact wants credentials in the form body
            redirect_uri=self.redirect_uri or None,
            token_endpoint=self.token_endpoint,
            update_token=on_update,
            leeway=self.leeway,
            **kwargs,
        )
        client.register_compliance_hook("access_token_response", capture)
        client.register_compliance_hook("refresh_token_response", capture)
        return client, seen

    def _normalize(self, raw: dict, previous: dict | None, *, refreshed: bool) -> dict:
        now = self.clock.time()
        access = raw.get("access_token")
        refresh = raw.get("refresh_token") or (previous or {}).get("refresh_token")
        register_secret(access)
        register_secret(refresh)
        expires_in = raw.get("expires_in")
        try:
            expires_in = int(str(expires_in).strip()) if expires_in is not None else 600
        except ValueError:
            raise TokenError("Exact answered the token request with a malformed expires_in.") from None
        if not access or not refresh:
            raise TokenError("Exact's token response has no access or refresh token.")
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": raw.get("token_type", "bearer"),
            "expires_in": expires_in,
            # Authlib's OAuth2Token wants an int; round up so we never refresh before 570 s.
            "expires_at": int(math.ceil(now)) + expires_in,
            "issued_at": now,
            "refreshed_at": now,
            "connected_at": (previous or {}).get("connected_at", now) if refreshed else now,
            "base_url": self.base_url,
            "client_id": self.client_id,
        }

    def _report(self, grant: str, status: int | None, started: float, error: str | None) -> None:
        if self.on_token_call is not None:
            try:
                self.on_token_call(grant, status, (self.clock.monotonic() - started) * 1000, error)
            except Exception:  # pragma: no cover - recording must never break auth
                log.exception("recording a token call failed")

    def _refresh(self, token: dict) -> dict:
        saved: dict[str, dict] = {}

        def on_update(new_token: dict, refresh_token: str | None = None, access_token: str | None = None) -> None:
            # Authlib hands us the new token: persist it before anything else uses it.
            normalized = self._normalize(dict(new_token), token, refreshed=True)
            self.save(normalized)
            saved["token"] = normalized

        client, seen = self._oauth_client(on_update)
        started = self.clock.monotonic()
        try:
            with client:
                client.refresh_token(self.token_endpoint, refresh_token=token["refresh_token"])
        except OAuthError as e:
            self._report("refresh_token", seen.get("status"), started, e.error)
            raise self._explain(e.error, e.description, seen) from None
        except httpx2.HTTPError as e:
            self._report("refresh_token", seen.get("status"), started, type(e).__name__)
            raise TokenError(f"Refreshing the Exact token failed: {redact(type(e).__name__)} {redact(e)}") from None
        self._report("refresh_token", seen.get("status"), started, None)
        if "token" not in saved:  # pragma: no cover - Authlib always calls update_token
            raise TokenError("The refreshed token was not saved.")
        self.refresh_count += 1
        log.info("Exact access token refreshed.")
        return saved["token"]

    def _explain(self, error: str | None, description: str | None, seen: dict) -> ExactsyncError:
        desc = redact(description or "")
        reason = redact(seen.get("reason") or "")
        text = f"{error or 'error'}: {desc}".strip(": ")
        if "TooEarlyToRefreshTokens" in reason or "not expired" in desc:
            return TokenError(f"Exact refused a token refresh as too early ({text}); wait until the token is 570 s old.")
        if error in ("unauthorized_client", "invalid_grant") or "refresh token" in desc.lower() or "expired" in desc.lower():
            return ReauthorizationNeeded(f"Exact no longer accepts the stored authorisation ({text}). {_RECONNECT}")
        if error == "invalid_request" and not desc:
            return TokenError("Exact rejected the client id or secret (invalid_request): check exact.client_id / client_secret.",
                              exit_code=EXIT_CONFIG)
        return TokenError(f"Exact's token endpoint answered {seen.get('status')}: {text}")

    def exchange_code(self, code_or_redirect: str, state: str | None = None) -> dict:
        """Exchange an authorization code (or the pasted redirect URL) and store the new token."""
        code = code_from_redirect(code_or_redirect, state)
        client, seen = self._oauth_client()
        started = self.clock.monotonic()
        with self._locked():
            previous = None
            try:
                with client:
                    raw = client.fetch_token(self.token_endpoint, grant_type="authorization_code", code=code,
                                             redirect_uri=self.redirect_uri)
            except OAuthError as e:
                self._report("authorization_code", seen.get("status"), started, e.error)
                if e.error in ("invalid_grant", "unauthorized_client"):
                    raise ReauthorizationNeeded(
                        f"Exact did not accept the authorisation code ({redact(e.error)}); codes are single-use and "
                        f"expire after a few minutes. {_RECONNECT}") from None
                raise self._explain(e.error, e.description, seen) from None
            except httpx2.HTTPError as e:
                self._report("authorization_code", seen.get("status"), started, type(e).__name__)
                raise TokenError(f"The code exchange failed: {redact(type(e).__name__)} {redact(e)}") from None
            self._report("authorization_code", seen.get("status"), started, None)
            token = self._normalize(dict(raw), previous, refreshed=False)
            self.save(token)
            return self.status().as_dict()

    # ------------------------------------------------------------------ status

    def status(self) -> TokenStatus:
        """Token age, access expiry and the refresh-token warning (no secret values)."""
        try:
            token = self.load()
        except ReauthorizationNeeded as e:
            return TokenStatus(False, warning=str(e))
        if token is None:
            return TokenStatus(False, warning="Not connected to Exact Online. " + _CONNECT)
        now = self.clock.time()
        refreshed = float(token.get("refreshed_at") or token.get("issued_at") or 0)
        refresh_expires = refreshed + REFRESH_TOKEN_DAYS * 86400
        days_left = (refresh_expires - now) / 86400
        warning = None
        if days_left <= 0:
            warning = "The Exact refresh token has expired (30 days without use). " + _RECONNECT
        elif days_left < REFRESH_WARNING_DAYS:
            warning = (f"The Exact refresh token expires in {days_left:.1f} days: run a pull (or `exactsync exact test`) "
                       "before then, or a new authorisation will be needed.")
        issued = float(token.get("issued_at") or 0)
        return TokenStatus(True, access_expires_in=round(self._expires_at(token) - now, 1),
                           access_age=round(now - issued, 1), refreshed_at=refreshed,
                           refresh_expires_at=refresh_expires, refresh_days_left=round(days_left, 2), warning=warning)

    @property
    def warning(self) -> str | None:
        """A message for the UI/CLI when the refresh token nears its 30-day end (else None)."""
        w = self.status().warning
        if w:
            log.warning(w)
        return w
