"""``WC_REST_Authentication`` as the sandbox runs it (reference shop-apis.md §A1/§A2).

* HTTPS ("is_ssl"): consumer_key/consumer_secret from the query string first, else HTTP Basic.
  Unknown key → no user, no error; wrong secret → 401 "Consumer secret is invalid." with
  ``WWW-Authenticate``. If that gives no user, OAuth is tried as well (as WC does).
* Otherwise OAuth 1.0a one-legged: params from the query string, a form body or an
  ``Authorization: OAuth`` header; HMAC-SHA1/HMAC-SHA256; key = ``secret&``; base string over
  ``METHOD&enc(scheme://host/path)&enc(sorted params)``; ±15 min timestamp; nonce replay refused.
* The sandbox has no TLS. It treats a request as HTTPS when the scenario sets
  ``store.assume_https`` or the request carries ``X-Forwarded-Proto: https`` (a WordPress
  configured to trust its proxy). Plain requests never authenticate with Basic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from exactsync.clock import Clock

__all__ = ["ApiKey", "AuthError", "AuthResult", "Authenticator", "oauth_base_string", "rfc3986"]

OAUTH_REQUIRED = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
WINDOW = 15 * 60
BASIC_REALM = (
    'Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer secret in the '
    'password field."'
)


@dataclass(frozen=True)
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permission: str  # read | write | read_write
    user_id: int = 1
    description: str = ""

    def can(self, method: str) -> bool:
        method = method.upper()
        if method == "OPTIONS":
            return True
        if method in ("GET", "HEAD"):
            return self.permission in ("read", "read_write")
        return self.permission in ("write", "read_write")


@dataclass
class AuthError:
    code: str
    message: str
    status: int = 401
    www_authenticate: bool = False


@dataclass
class AuthResult:
    key: ApiKey | None = None
    error: AuthError | None = None
    method: str = ""  # basic_auth | oauth1 | ""


def rfc3986(value: str) -> str:
    return quote(value, safe="~-._")


def oauth_base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """``METHOD&enc(url)&enc(k=v&...)`` with params sorted by key (then value), RFC 3986 encoded."""
    pairs = sorted((rfc3986(k), rfc3986(v)) for k, v in params if k != "oauth_signature")
    joined = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join([method.upper(), rfc3986(url), rfc3986(joined)])


_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))')


class Authenticator:
    def __init__(self, keys: list[ApiKey], clock: Clock) -> None:
        self.keys = {k.consumer_key: k for k in keys}
        self.clock = clock
        self._nonces: dict[str, dict[str, float]] = {}  # key -> nonce -> timestamp

    def authenticate(self, method: str, url_no_query: str, query: list[tuple[str, str]], headers: dict[str, str],
                     body: bytes, is_ssl: bool) -> AuthResult:
        result = AuthResult()
        if is_ssl:
            result = self._basic(query, headers)
            if result.key is not None:
                return result
        oauth = self._oauth(method, url_no_query, query, headers, body)
        if oauth.key is not None or oauth.error is not None:
            return oauth
        return result

    # -- basic ----------------------------------------------------------------------------------
    def _basic(self, query: list[tuple[str, str]], headers: dict[str, str]) -> AuthResult:
        q = dict(query)
        ck, cs = q.get("consumer_key", ""), q.get("consumer_secret", "")
        if not (ck and cs):
            ck = cs = ""
            auth = headers.get("authorization", "")
            if auth[:6].lower() == "basic ":
                try:
                    decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    decoded = ""
                ck, _, cs = decoded.partition(":")
        if not ck or not cs:
            return AuthResult(method="basic_auth")
        key = self.keys.get(ck)
        if key is None:
            return AuthResult(method="basic_auth")
        if not hmac.compare_digest(key.consumer_secret, cs):
            return AuthResult(
                error=AuthError("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401, True),
                method="basic_auth",
            )
        return AuthResult(key=key, method="basic_auth")

    # -- oauth 1.0a -------------------------------------------------------------------------------
    def _oauth(self, method: str, url: str, query: list[tuple[str, str]], headers: dict[str, str],
               body: bytes) -> AuthResult:
        params: dict[str, str] = dict(query)
        if "application/x-www-form-urlencoded" in headers.get("content-type", "") and body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        header = headers.get("authorization", "").strip()
        if header.startswith("OAuth "):
            for name, quoted, bare in _HEADER_PARAM.findall(header):
                params[name] = unquote((quoted or bare).replace("+", "%2B"))
        missing = [p for p in OAUTH_REQUIRED if not params.get(p)]
        if len(missing) == len(OAUTH_REQUIRED):
            return AuthResult(method="oauth1")
        if missing:
            word = "parameter" if len(missing) == 1 else "parameters"
            return AuthResult(
                error=AuthError("woocommerce_rest_authentication_missing_parameter",
                                f"Missing OAuth {word} {', '.join(missing)}"),
                method="oauth1",
            )
        key = self.keys.get(params["oauth_consumer_key"])
        if key is None:
            return AuthResult(error=AuthError("woocommerce_rest_authentication_error", "Consumer key is invalid."),
                              method="oauth1")
        sig_method = params["oauth_signature_method"]
        base = oauth_base_string(method, url, list(params.items()))
        if sig_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return AuthResult(
                error=AuthError("woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid."),
                method="oauth1",
            )
        algo = hashlib.sha1 if sig_method == "HMAC-SHA1" else hashlib.sha256
        expected = base64.b64encode(
            hmac.new((key.consumer_secret + "&").encode(), base.encode(), algo).digest()
        ).decode()
        given = params["oauth_signature"].replace(" ", "+")
        if not hmac.compare_digest(expected, given):
            return AuthResult(
                error=AuthError("woocommerce_rest_authentication_error",
                                "Invalid signature - provided signature does not match."),
                method="oauth1",
            )
        now = self.clock.time()
        try:
            ts = int(params["oauth_timestamp"])
        except ValueError:
            ts = -1
        if ts < now - WINDOW or ts > now + WINDOW:
            return AuthResult(error=AuthError("woocommerce_rest_authentication_error", "Invalid timestamp."),
                              method="oauth1")
        used = self._nonces.setdefault(key.consumer_key, {})
        nonce = params["oauth_nonce"]
        if nonce in used:
            return AuthResult(
                error=AuthError("woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used."),
                method="oauth1",
            )
        used[nonce] = float(ts)
        if len(used) > 1000:
            for n, t in list(used.items()):
                if t < now - WINDOW:
                    del used[n]
        return AuthResult(key=key, method="oauth1")
