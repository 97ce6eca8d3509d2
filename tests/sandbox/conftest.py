"""Fixtures for the sandbox tests (Exact ones are prefixed ``exact_``)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import httpx2
import pytest

from exactsync.clock import FakeClock
from exactsync.sandbox.server import serve

DATA = Path(__file__).parent / "data"
EXACT_START = dt.datetime(2026, 6, 1, 10, 0, 5, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def _exact_small_raw() -> dict:
    return json.loads((DATA / "exact_small.json").read_text(encoding="utf-8"))


@pytest.fixture
def exact_scenario(_exact_small_raw) -> dict:
    """A fresh copy of tests/sandbox/data/exact_small.json (tests may edit it before building)."""
    return copy.deepcopy(_exact_small_raw)


@pytest.fixture
def exact_clock() -> FakeClock:
    return FakeClock(EXACT_START)


@pytest.fixture
def exact_app(exact_scenario, exact_clock):
    from exactsync.sandbox.exact import create_app

    return create_app(exact_scenario, clock=exact_clock)


@pytest.fixture
def exact_server(exact_app):
    server = serve(exact_app)
    yield server
    server.stop()


def exact_client(app, base_url: str | None = None, token: str | None = None) -> httpx2.Client:
    """An httpx2 client with a fresh bearer token: over HTTP when base_url is given, else in-process."""
    token = token or app.issue_tokens()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if base_url:
        return httpx2.Client(base_url=base_url, headers=headers, timeout=10)
    return httpx2.Client(transport=app.transport(), base_url="https://start.exactonline.nl", headers=headers)


@pytest.fixture
def exact_http(exact_app, exact_server):
    with exact_client(exact_app, exact_server.url) as c:
        yield c


@pytest.fixture
def exact_local(exact_app):
    with exact_client(exact_app) as c:
        yield c


@pytest.fixture
def exact_make_client():
    """Factory: ``exact_make_client(app, base_url=None, token=None)`` (see ``exact_client``)."""
    clients: list[httpx2.Client] = []

    def make(app, base_url: str | None = None, token: str | None = None) -> httpx2.Client:
        c = exact_client(app, base_url, token)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()
