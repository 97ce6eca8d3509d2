"""ExactClient: errors with Exact's message, retries on reads only, 401 handling, paging, dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx2
import pytest

from exactsync.clock import FakeClock
from exactsync.exact.client import ExactApiError, ExactClient, ExactParams, parse_exact_date
from exactsync.exact.oauth import ReauthorizationNeeded, TokenError
from exactsync.exact.pull import make_client
from exact.conftest import DIV, START


class FixedTokens:
    """A stand-in token source for MockTransport tests (no OAuth involved)."""

    def __init__(self) -> None:
        self.rejected: list[str] = []

    def access_token(self, rejected: str | None = None) -> str:
        if rejected:
            self.rejected.append(rejected)
            return "fresh-token-value"
        return "first-token-value"


def _client(handler, clock=None, tokens=None) -> ExactClient:
    return ExactClient(ExactParams("https://start.exactonline.nl"), tokens or FixedTokens(),
                       transport=httpx2.MockTransport(handler), clock=clock or FakeClock(START))


def test_error_message_reason_and_empty_429_body():
    def handler(request):
        if "SalesEntries" in request.url.path:
            return httpx2.Response(500, json={"error": {"code": "", "message": {"lang": "", "value": "Mandatory: Relationship\nInvalid reference: Journals"}}},
                                   headers={"Reason": "Validation"})
        return httpx2.Response(400, content=b"")

    client = _client(handler)
    with pytest.raises(ExactApiError) as info:
        client.post("salesentry/SalesEntries", DIV, {"Journal": "70"})
    e = info.value
    assert (e.status, e.reason) == (500, "Validation") and "Invalid reference: Journals" in e.message
    with pytest.raises(ExactApiError) as info:
        client.get("financial/Journals", DIV)
    assert info.value.status == 400


def test_reads_retry_5xx_and_timeouts_writes_never():
    seen = []

    def handler(request):
        seen.append(request.method)
        if request.method == "GET" and len(seen) == 1:
            raise httpx2.ReadTimeout("slow", request=request)
        if request.method == "GET" and len(seen) == 2:
            return httpx2.Response(503, content=b"")
        if request.method == "GET":
            return httpx2.Response(200, json={"d": {"results": [{"Code": "70"}]}})
        return httpx2.Response(503, content=b"")

    clock = FakeClock(START)
    client = _client(handler, clock)
    assert client.get("financial/Journals", DIV) == {"d": {"results": [{"Code": "70"}]}}
    assert seen == ["GET", "GET", "GET"] and clock.time() == START.timestamp() + 1 + 2  # backoff 1 s, 2 s
    with pytest.raises(ExactApiError):
        client.post("salesentry/SalesEntries", DIV, {"Journal": "70"})
    assert seen.count("POST") == 1  # a POST is never retried blindly


def test_post_headers_and_decimal_body():
    got = {}

    def handler(request):
        got.update(headers=dict(request.headers), body=request.content)
        return httpx2.Response(201, json={"d": {"EntryID": "x"}})

    _client(handler).post("salesentry/SalesEntries", DIV, {"AmountFC": Decimal("12.50")})
    assert got["headers"]["prefer"] == "return=representation"
    assert got["headers"]["accept"] == "application/json"
    assert got["body"] == b'{"AmountFC": "12.50"}'


def test_pages_follow_next_verbatim_and_parse_decimals():
    urls = []
    next_url = f"https://start.exactonline.nl/api/v1/{DIV}/crm/Accounts?$filter=Name%20eq%20'x'&$skiptoken=guid'abc'"

    def handler(request):
        urls.append(str(request.url))
        if len(urls) == 1:
            return httpx2.Response(200, content=b'{"d":{"results":[{"A":1.10}],"__next":"' + next_url.encode() + b'"}}')
        return httpx2.Response(200, content=b'{"d":{"results":[{"A":2.5}]}}')

    rows = list(_client(handler).pages("crm/Accounts", DIV, {"$filter": "Name eq 'x'"}).rows())
    assert rows == [{"A": Decimal("1.10")}, {"A": Decimal("2.5")}]
    assert urls[1] == next_url


def test_parse_exact_date():
    assert parse_exact_date("/Date(1704067200000)/") == dt.datetime(2024, 1, 1)
    assert parse_exact_date("2024-03-31T00:00:00Z") == dt.datetime(2024, 3, 31)
    assert parse_exact_date(None) is None
    with pytest.raises(ValueError):
        parse_exact_date("yesterday")


def test_unexpected_401_refreshes_once(make_env):
    sandbox_clock = FakeClock(START)
    env = make_env(clock_=sandbox_clock)
    client_clock = FakeClock(START)
    client = make_client(env.settings, store=env.store, clock=client_clock)
    env.clients.append(client)
    sandbox_clock.advance(600)  # the sandbox's clock runs ahead: it thinks the token expired
    client_clock.advance(10)
    rows = list(client.pages("financial/Journals", DIV, {"$select": "Code"}).rows())
    assert {r["Code"] for r in rows} == {"70", "20"}
    assert [c["status"] for c in env.app.calls(DIV)] == [401, 200]
    assert len(env.token_calls()) == 2


def test_401_with_a_too_young_token_and_with_a_revoked_chain(make_env, clock):
    env = make_env()
    client = env.client()
    with env.app.lock:
        env.app.oauth.access.clear()  # the server forgot the access token
    with pytest.raises(TokenError, match="too early"):
        client.get("financial/Journals", DIV)
    env.app.oauth.revoke_all()
    clock.advance(600)
    with pytest.raises(ReauthorizationNeeded, match="exact connect"):
        client.get("financial/Journals", DIV)


def test_no_answer_says_so_with_the_attempts_and_a_short_url():
    """Connection refused on every try: 'Exact did not answer (GET …/path?…): … after 5 attempts',
    not 'Exact answered None' with the whole $select; a POST is tried once and says only the error."""
    def handler(request):
        raise httpx2.ConnectError("refused", request=request)

    client = _client(handler)
    cols = ",".join(f"Column{i}" for i in range(40))
    with pytest.raises(ExactApiError) as info:
        client.get("sync/Financial/TransactionLines", DIV, params={"$select": cols})
    text = str(info.value)
    assert text.startswith(f"Exact did not answer (GET https://start.exactonline.nl/api/v1/{DIV}/sync/Financial/"
                           "TransactionLines?…): transport error (ConnectError) after 5 attempts")
    assert "None" not in text and "Column39" not in text
    assert info.value.status is None and "Column39" in info.value.path  # the attribute keeps it whole
    assert info.value.message.startswith("no answer from Exact: ")  # what a push job records
    with pytest.raises(ExactApiError) as info:
        client.post("salesentry/SalesEntries", DIV, {"Journal": "70"})
    assert str(info.value).endswith("): transport error (ConnectError)")
