"""HTTP client for the Exact Online REST API (exact-online-api.md §1.2, §4, §6, §9.1).

``ExactClient`` sends ``{base_url}/api/v1/{division}/{path}`` requests with a Bearer token from a
:class:`~exactsync.exact.oauth.TokenStore`, waits for the rate limiter, retries timeouts and 5xx
on reads only (exponential backoff on the injected clock), refreshes the token once on an
unexpected 401, and turns errors into :class:`ExactApiError` with Exact's own message. Each HTTP
attempt is recorded in ``api_calls`` (when a store is given) with secrets removed.

JSON is parsed with ``parse_float=Decimal``; :func:`parse_exact_date` reads ``/Date(ms)/``.
:class:`ODataPages` follows ``d.__next`` verbatim, one page after the other.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

import httpx2

from exactsync.clock import SYSTEM_CLOCK, Clock, utcnow
from exactsync.errors import ExactsyncError
from exactsync.exact.oauth import ReauthorizationNeeded, TokenStore
from exactsync.exact.ratelimit import RateLimiter
from exactsync.redact import redact, redact_url

__all__ = [
    "ExactClient",
    "ExactApiError",
    "ExactParams",
    "ODataPages",
    "Page",
    "parse_exact_date",
    "parse_json",
]

log = logging.getLogger(__name__)

_DATE_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_EPOCH = dt.datetime(1970, 1, 1)
_READS = frozenset({"GET", "HEAD"})


_NO_ANSWER = "no answer from Exact: "


class ExactApiError(ExactsyncError):
    """Exact answered with an error: ``status``, Exact's ``message`` and the ``Reason`` header."""

    def __init__(self, status: int | None, message: str, reason: str | None = None, *, method: str = "",
                 path: str = "", sent: bool = True) -> None:
        self.status = status
        #: False when no answer came because the request never left (the connection was not made):
        #: then it was certainly not processed
        self.sent = sent
        self.message = redact(message)
        self.reason = redact(reason) if reason else None
        self.method = method
        self.path = redact_url(path) if path else ""
        shown = self.path if len(self.path) <= 160 else self.path.split("?", 1)[0] + "?…"
        where = f" ({method} {shown})" if method else ""
        extra = f" [{self.reason}]" if self.reason else ""
        text = self.message or "(no message)"
        if status is None:  # no HTTP answer at all (connection refused, timeout): say so
            super().__init__(f"Exact did not answer{where}: {text.removeprefix(_NO_ANSWER)}{extra}")
        else:
            super().__init__(f"Exact answered {status}{where}: {text}{extra}")


@dataclass
class ExactParams:
    """What the client needs when no full Settings object is at hand."""

    base_url: str
    divisions: list[int] = field(default_factory=list)
    timeout: float = 60.0


def parse_json(content: bytes | str) -> Any:
    """JSON with every non-integer number as Decimal (money is never float)."""
    return json.loads(content, parse_float=Decimal)


def parse_exact_date(value: Any) -> dt.datetime | None:
    """``/Date(ms)/`` (or ISO 8601) → naive datetime; None stays None; anything else: ValueError.

    Exact's numbers are its local wall clock (§4.7); we keep the calendar fields as sent.
    """
    if value is None:
        return None
    if isinstance(value, str):
        m = _DATE_RE.match(value.strip())
        if m:
            return _EPOCH + dt.timedelta(milliseconds=int(m.group(1)))
        try:
            parsed = dt.datetime.fromisoformat(value.strip().removesuffix("Z"))
        except ValueError:
            raise ValueError(f"not a date: {value[:40]!r}") from None
        return parsed.replace(tzinfo=None)
    raise ValueError(f"not a date: {str(value)[:40]!r}")


def _error_message(response: httpx2.Response) -> str:
    if not response.content:
        return ""
    try:
        data = parse_json(response.content)
    except ValueError:
        return response.text.strip()[:500]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
            if isinstance(msg, dict):
                return str(msg.get("value") or "")
            if msg:
                return str(msg)
        if isinstance(err, str):
            return f"{err}: {data.get('error_description', '')}".strip(": ")
    return response.text.strip()[:500]


@dataclass
class Page:
    rows: list[dict]
    next_url: str | None
    number: int


class ODataPages:
    """Iterate the pages of a collection, following ``d.__next`` verbatim (sequentially)."""

    def __init__(self, client: "ExactClient", path: str, division: int | None, params: Mapping[str, Any] | None = None,
                 *, max_pages: int | None = None) -> None:
        self.client = client
        self.path = path
        self.division = division
        self.params = dict(params or {})
        self.max_pages = max_pages
        self.pages = 0
        self.next_url: str | None = None

    def __iter__(self) -> Iterator[Page]:
        data = self.client.get(self.path, self.division, self.params)
        while True:
            self.pages += 1
            rows, next_url = _collection(data)
            self.next_url = next_url
            yield Page(rows, next_url, self.pages)
            if not next_url or (self.max_pages is not None and self.pages >= self.max_pages):
                return
            data = self.client.get(next_url, self.division)

    def rows(self) -> Iterator[dict]:
        for page in self:
            yield from page.rows


def _collection(data: Any) -> tuple[list[dict], str | None]:
    """``{"d": {"results": [...], "__next": url}}`` (lenient: ``{"d": [...]}`` too)."""
    if not isinstance(data, dict) or "d" not in data:
        raise ExactApiError(200, "the response is not an OData collection (no 'd')")
    d = data["d"]
    if isinstance(d, list):
        return d, None
    if isinstance(d, dict):
        results = d.get("results")
        if isinstance(results, list):
            nxt = d.get("__next")
            return results, nxt if isinstance(nxt, str) and nxt else None
        return [d], None
    raise ExactApiError(200, "the response is not an OData collection")


class ExactClient:
    """Exact REST calls with token, rate limits, retries and a call log."""

    def __init__(
        self,
        settings_or_params: Any,
        token_store: TokenStore,
        *,
        transport: httpx2.BaseTransport | None = None,
        clock: Clock | None = None,
        store: Any = None,
        limiter: RateLimiter | None = None,
        max_retries: int = 4,
        max_429: int = 20,
        backoff: float = 1.0,
    ) -> None:
        ex = getattr(settings_or_params, "exact", settings_or_params)
        self.base_url = ex.base_url.rstrip("/")
        self.divisions = list(getattr(ex, "divisions", []) or [])
        self.timeout = float(getattr(ex, "timeout", 60.0))
        self.tokens = token_store
        self.clock = clock or SYSTEM_CLOCK
        self.store = store
        self.limiter = limiter or RateLimiter(self.clock)
        self.max_retries = max_retries
        self.max_429 = max_429
        self.backoff = backoff
        self.http = httpx2.Client(transport=transport, timeout=self.timeout, follow_redirects=False)
        #: HTTP attempts per division (None = division-less), for call budgets
        self.calls: dict[int | None, int] = {}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "ExactClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ URLs

    def url(self, path: str, division: int | None) -> str:
        if path.startswith(("http://", "https://")):
            return path
        path = path.lstrip("/")
        if path.startswith("api/"):
            return f"{self.base_url}/{path}"
        if division is None:
            return f"{self.base_url}/api/v1/{path}"
        return f"{self.base_url}/api/v1/{division}/{path}"

    # ------------------------------------------------------------------ verbs

    def get(self, path: str, division: int | None, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, division, params=params)

    def post(self, path: str, division: int, body: Any, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, division, params=params, json_body=body)

    def put(self, path: str, division: int, body: Any) -> Any:
        return self.request("PUT", path, division, json_body=body)

    def delete(self, path: str, division: int) -> Any:
        return self.request("DELETE", path, division)

    def pages(self, path: str, division: int | None, params: Mapping[str, Any] | None = None, **kw: Any) -> ODataPages:
        return ODataPages(self, path, division, params, **kw)

    def me(self) -> dict:
        """``current/Me`` (not counted against the daily limit)."""
        data = self.get("current/Me", None, {"$select": "UserID,UserName,FullName,Email,CurrentDivision,LanguageCode"})
        rows, _ = _collection(data)
        if not rows:
            raise ExactApiError(200, "current/Me returned no user")
        return rows[0]

    # ------------------------------------------------------------------ the engine

    def request(self, method: str, path: str, division: int | None, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None) -> Any:
        """One logical call; returns parsed JSON (None for an empty body)."""
        method = method.upper()
        url = self.url(path, division)
        headers = {"Accept": "application/json"}
        content = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(json_body, default=_json_default).encode("utf-8")
        if method == "POST":
            headers["Prefer"] = "return=representation"
        attempt = 0
        got_429 = 0
        refreshed_after_401 = False
        while True:
            self.limiter.before_call(division)
            token = self.tokens.access_token()
            headers["Authorization"] = f"Bearer {token}"
            started = self.clock.monotonic()
            status: int | None = None
            error: str | None = None
            response: httpx2.Response | None = None
            sent = True
            try:
                response = self.http.request(method, url, params=params, headers=headers, content=content)
                status = response.status_code
            except httpx2.TimeoutException as e:
                error = f"timeout ({type(e).__name__})"
                sent = not isinstance(e, httpx2.ConnectTimeout)
            except httpx2.TransportError as e:
                error = f"transport error ({type(e).__name__})"
                sent = not isinstance(e, httpx2.ConnectError)
            sent_url = str(response.request.url) if response is not None else _with_params(url, params)
            self.calls[division] = self.calls.get(division, 0) + 1
            if response is not None:
                self.limiter.after_response(division, status, response.headers)
                if status >= 400:
                    error = _error_message(response)[:500] or None
            self._record(method, sent_url, division, status, started, error)

            if response is None:
                if method in _READS and attempt < self.max_retries:
                    self._backoff(attempt, method, url, error)
                    attempt += 1
                    continue
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise ExactApiError(None, f"{_NO_ANSWER}{error}{tries}", method=method, path=sent_url, sent=sent)
            if status == 429:
                got_429 += 1
                if got_429 > self.max_429:
                    raise ExactApiError(429, "Exact kept answering 429 Too Many Requests", method=method, path=sent_url)
                continue  # the limiter waits for the reset (or raises DailyLimitReached)
            if status == 401 and not refreshed_after_401:
                refreshed_after_401 = True
                self.tokens.access_token(rejected=token)
                continue
            if status == 401:
                raise ReauthorizationNeeded(
                    "Exact rejected a freshly refreshed access token (401). Run `exactsync exact connect` again.")
            if status >= 500 and method in _READS and attempt < self.max_retries:
                self._backoff(attempt, method, url, f"HTTP {status}")
                attempt += 1
                continue
            if status >= 400:
                raise ExactApiError(status, _error_message(response), response.headers.get("reason"),
                                    method=method, path=sent_url)
            if not response.content:
                return None
            try:
                return parse_json(response.content)
            except ValueError:
                raise ExactApiError(status, "Exact sent a response that is not JSON", method=method, path=sent_url) from None

    def _backoff(self, attempt: int, method: str, url: str, why: str | None) -> None:
        delay = self.backoff * (2 ** attempt)
        log.warning("Exact %s %s failed (%s); retrying in %.0f s.", method, redact_url(url), why, delay)
        self.clock.sleep(delay)

    def _record(self, method: str, url: str, division: int | None, status: int | None, started: float,
                error: str | None) -> None:
        if self.store is None:
            return
        from exactsync.store import Store

        h = self.limiter.headroom(division) if division is not None else None
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            with self.store.atomic() as con:
                Store.record_api_call(
                    con, system="exact", method=method, url=path, status=status,
                    duration_ms=int(max(0.0, self.clock.monotonic() - started) * 1000),
                    scope=str(division) if division is not None else None,
                    rate_remaining=h.daily_remaining if h else None,
                    rate_minutely_remaining=h.minutely_remaining if h else None,
                    error=error, at=_naive(self.clock),
                )
        except ExactsyncError:
            raise
        except Exception:  # pragma: no cover - the call log must never break a pull
            log.exception("could not record an Exact API call")

    def record_token_call(self, grant: str, status: int | None, duration_ms: float, error: str | None) -> None:
        """Hook for :class:`TokenStore` (``on_token_call``): token calls in ``api_calls`` too."""
        if self.store is None:
            return
        from exactsync.store import Store

        with self.store.atomic() as con:
            Store.record_api_call(con, system="exact", method="POST", url=f"/api/oauth2/token?grant_type={grant}",
                                  status=status, duration_ms=int(duration_ms), scope=None, error=error,
                                  at=_naive(self.clock))


def _naive(clock: Clock) -> dt.datetime:
    if clock is SYSTEM_CLOCK:
        return utcnow()
    return clock.now().replace(tzinfo=None)


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    return str(httpx2.URL(url, params=params))


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)  # Exact accepts numeric strings (§4.7); never a float
    if isinstance(o, (dt.datetime, dt.date)):
        return o.isoformat()
    raise TypeError(f"cannot send {type(o).__name__} to Exact")
