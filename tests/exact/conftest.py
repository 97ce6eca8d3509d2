"""Fixtures for the Exact client tests: the Exact sandbox over real HTTP, a shared FakeClock,
settings pointing at it, and a connected token file."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from pathlib import Path

import pytest

from exactsync.clock import FakeClock
from exactsync.sandbox.server import serve
from exactsync.settings import ExactSettings, Secret, Settings, StoreSettings

SCENARIO = Path(__file__).resolve().parent.parent / "sandbox" / "data" / "exact_small.json"
START = dt.datetime(2026, 6, 1, 10, 0, 5, tzinfo=dt.timezone.utc)
DIV = 123456
DIV2 = 654321


def small_scenario() -> dict:
    return json.loads(SCENARIO.read_text(encoding="utf-8"))


def bulk_entries(n_lines: int, *, journal: str = "70", customer: str = "1001", prefix: str = "BULK") -> list[dict]:
    """Entries producing exactly ``n_lines`` transaction lines (AR + revenue + VAT = 3 each;
    a 0 % EXP entry gives 2) in division 123456 of exact_small.json."""
    entries = []
    n = 0
    i = 0
    while n < n_lines:
        left = n_lines - n
        if left == 2 or left == 4:
            line = {"gl": "8020", "amount": "10.00", "vat_code": "EXP"}
            n += 2
        else:
            line = {"gl": "8000", "amount": f"{10 + i % 90}.{i % 100:02d}", "vat_code": "2"}
            n += 3
        entries.append({"journal": journal, "customer": customer, "date": f"2026-05-{1 + i % 28:02d}",
                        "your_ref": f"{prefix}-{i}", "description": f"Bulk order {i}", "lines": [line]})
        i += 1
    assert n == n_lines, (n, n_lines)
    return entries


def scenario_with_lines(n_lines: int, **limits) -> dict:
    s = small_scenario()
    div = s["divisions"][0]
    div["entries"] = bulk_entries(n_lines)
    s["divisions"] = [div]
    s["user"]["current_division"] = DIV
    s.setdefault("limits", {}).update(limits)
    return s


class Env:
    """A running sandbox + settings + helpers."""

    def __init__(self, tmp_path: Path, scenario: dict, clock: FakeClock | None) -> None:
        from exactsync.sandbox.exact import create_app
        from exactsync.store import Store

        self.clock = clock
        self.scenario = scenario
        self.app = create_app(scenario, clock=clock)
        self.server = serve(self.app)
        self.url = self.server.url
        app = scenario["app"]
        divisions = [int(d["code"]) for d in scenario["divisions"]]
        self.settings = Settings(
            store=StoreSettings(path=tmp_path / "exactsync.duckdb", lock_timeout=30),
            exact=ExactSettings(base_url=self.url, client_id=app["client_id"],
                                client_secret=Secret(app["client_secret"]), redirect_uri=app["redirect_uri"],
                                divisions=divisions, token_file=tmp_path / "exact_token.json", timeout=10),
        )
        self.store = Store.open(self.settings.store.path, lock_timeout=30)
        self.clients: list = []

    def tokens(self, **kw):
        from exactsync.exact.oauth import TokenStore

        return TokenStore.from_settings(self.settings, clock=self.clock, **kw)

    def connect(self) -> None:
        with self.app.lock:
            code = self.app.oauth.grant_code()
        self.tokens().exchange_code(code)

    def expire_access_token(self, path: Path | None = None) -> None:
        """Make the stored access token (``path``, default the settings' token file) due for a
        refresh on the real clock, as if it had been issued just over ten minutes ago."""
        path = path or self.settings.exact.token_file
        token = json.loads(path.read_text())
        token["issued_at"] = time.time() - token["expires_in"] - 1
        token["expires_at"] = int(token["issued_at"]) + token["expires_in"]
        path.write_text(json.dumps(token))

    def client(self, **kw):
        from exactsync.exact.pull import make_client

        client = make_client(self.settings, store=self.store, clock=self.clock, **kw)
        self.clients.append(client)
        return client

    def api_calls(self, division: int = DIV) -> list[dict]:
        return [c for c in self.app.calls(division) if c["path"].startswith("/api/v1/")]

    def token_calls(self) -> list[dict]:
        return [c for c in self.app.calls() if c["path"] == "/api/oauth2/token"]

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_env(tmp_path, clock):
    envs: list[Env] = []

    def make(scenario: dict | None = None, *, clock_: FakeClock | None | str = "shared", connect: bool = True) -> Env:
        env = Env(tmp_path, copy.deepcopy(scenario or small_scenario()), clock if clock_ == "shared" else clock_)
        envs.append(env)
        if connect:
            env.connect()
        return env

    yield make
    for env in envs:
        env.stop()
