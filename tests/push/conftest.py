"""Fixtures for the push tests: the Exact sandbox over real HTTP (small scenario), a shared
FakeClock, settings with one WooCommerce shop booking into division 123456, reference data
pulled with the real client, mappings saved through the public functions, and shop documents."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from exactsync.clock import FakeClock
from exactsync.sandbox.server import serve
from exactsync.settings import ExactSettings, Secret, Settings, ShopSettings, StoreSettings

SCENARIO = Path(__file__).resolve().parent.parent / "sandbox" / "data" / "exact_small.json"
START = dt.datetime(2026, 6, 1, 10, 0, 5, tzinfo=dt.timezone.utc)
DIV = 123456
D = Decimal


def small_scenario() -> dict:
    s = json.loads(SCENARIO.read_text(encoding="utf-8"))
    s["divisions"] = [s["divisions"][0]]
    return s


def mapping_frames() -> dict[str, pl.DataFrame]:
    return {
        "settings": pl.DataFrame([{"division": DIV, "journal_code": "70", "debtor_strategy": "collective",
                                   "create_debtors": False}]),
        "vat": pl.DataFrame([
            {"division": DIV, "country": "", "rate": D("21"), "treatment": "domestic", "vat_code": "2"},
            {"division": DIV, "country": "", "rate": D("9"), "treatment": "domestic", "vat_code": "1"},
            {"division": DIV, "country": "DE", "rate": D("19"), "treatment": "oss", "vat_code": "DE19"},
            {"division": DIV, "country": "", "rate": D("0"), "treatment": "reverse_charge", "vat_code": "ICL"},
            {"division": DIV, "country": "", "rate": D("0"), "treatment": "export", "vat_code": "EXP"},
        ], schema_overrides={"rate": pl.Decimal(7, 4)}),
        "gl": pl.DataFrame([
            {"division": DIV, "line_type": "goods", "tax_class": "", "country": "", "gl_code": "8000"},
            {"division": DIV, "line_type": "goods", "tax_class": "", "country": "DE", "gl_code": "8010"},
            {"division": DIV, "line_type": "shipping", "tax_class": "", "country": "", "gl_code": "8100"},
        ]),
        "debtor": pl.DataFrame([
            {"division": DIV, "country": "", "account_code": "1001"},
            {"division": DIV, "country": "DE", "account_code": "1002"},
        ]),
    }


def make_doc(n: int, *, kind: str = "invoice", day: str = "2026-03-10", lines=None, country: str = "NL",
             treatment: str = "domestic", shop: str = "woo") -> tuple[dict, list[dict]]:
    """A shop document and its VAT lines; ``lines`` = [(line_type, rate, base, vat), ...]."""
    lines = lines or [("goods", "21", "100.00", "21.00")]
    sign = -1 if kind == "credit_note" else 1
    vl = []
    for i, (lt, rate, base, vat) in enumerate(lines, start=1):
        vl.append({"doc_key": f"{shop}:{kind}:{n}", "line_no": i, "line_type": lt, "tax_class": None,
                   "country": country, "rate": D(rate), "treatment": treatment,
                   "base": sign * D(base), "vat": sign * D(vat)})
    net = sum((x["base"] for x in vl), D(0))
    vat = sum((x["vat"] for x in vl), D(0))
    doc = {"doc_key": f"{shop}:{kind}:{n}", "shop": shop, "source": "woocommerce", "kind": kind,
           "source_id": str(n), "doc_number": str(n), "order_id": str(n), "order_number": str(n),
           "doc_date": dt.date.fromisoformat(day), "currency": "EUR", "base_currency": "EUR", "fx_rate": D(1),
           "customer_name": f"Customer {n}", "customer_email": f"c{n}@example.com", "billing_country": country,
           "ship_country": country, "vat_country": country, "treatment": treatment, "net": net, "vat": vat,
           "gross": net + vat, "status": "completed", "pulled_at": dt.datetime(2026, 6, 1)}
    return doc, vl


class Env:
    def __init__(self, tmp_path: Path, scenario: dict, clock: FakeClock | None) -> None:
        from exactsync.sandbox.exact import create_app
        from exactsync.store import Store

        self.tmp_path = tmp_path
        self.clock = clock
        self.app = create_app(scenario, clock=clock)
        self.server = serve(self.app)
        self.url = self.server.url
        app = scenario["app"]
        self.settings = Settings(
            store=StoreSettings(path=tmp_path / "exactsync.duckdb", lock_timeout=60),
            exact=ExactSettings(base_url=self.url, client_id=app["client_id"],
                                client_secret=Secret(app["client_secret"]), redirect_uri=app["redirect_uri"],
                                divisions=[DIV], token_file=tmp_path / "exact_token.json", timeout=5),
            shops={"woo": ShopSettings(name="woo", kind="woocommerce", division=DIV, reference_prefix="WC-")},
        )
        self.store = Store.open(self.settings.store.path, lock_timeout=60)

    def connect(self) -> None:
        from exactsync.exact.oauth import TokenStore

        with self.app.lock:
            code = self.app.oauth.grant_code()
        TokenStore.from_settings(self.settings, clock=self.clock).exchange_code(code)

    def client(self, **kw):
        from exactsync.exact.pull import make_client

        return make_client(self.settings, store=self.store, clock=self.clock, **kw)

    def pull(self) -> None:
        from exactsync.exact.pull import pull_exact

        with self.client() as c:
            pull_exact(self.store, self.settings, DIV, client=c, full=True)

    def save_mappings(self) -> None:
        from exactsync.mapping import save_mapping

        for kind, frame in mapping_frames().items():
            res = save_mapping(self.store, kind, frame, DIV)
            assert res.saved, res.errors

    def add_docs(self, docs: list[tuple[dict, list[dict]]]) -> None:
        from exactsync.store import Store

        with self.store.atomic() as con:
            Store.upsert_rows(con, "shop_documents", [d for d, _ in docs])
            Store.upsert_rows(con, "shop_vat_lines", [x for _, ls in docs for x in ls])

    def entries(self, ref: str | None = None) -> list[dict]:
        with self.app.lock:
            rows = [dict(e) for e in self.app.divisions[DIV].entries.rows.values()]
        return [e for e in rows if ref is None or e["YourRef"] == ref]

    def stop(self) -> None:
        self.server.stop()


def write_config(env: "Env", tmp_path: Path) -> tuple[str, dict]:
    """An exactsync.toml for ``env`` (no secret in it) and an environment with the client secret."""
    ex = env.settings.exact
    cfg = tmp_path / "exactsync.toml"
    cfg.write_text(
        f'[store]\npath = "{env.settings.store.path}"\nlock_timeout = 60\n'
        f'[exact]\nbase_url = "{ex.base_url}"\nclient_id = "{ex.client_id}"\ndivisions = [{DIV}]\n'
        f'token_file = "{ex.token_file}"\ntimeout = 5\nredirect_uri = "{ex.redirect_uri}"\n'
        f'[shops.woo]\nkind = "woocommerce"\ndivision = {DIV}\nreference_prefix = "WC-"\n',
        encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EXACTSYNC_")}
    environ["EXACTSYNC_EXACT__CLIENT_SECRET"] = ex.client_secret.get()  # secrets via the environment
    return str(cfg), environ


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_env(tmp_path, clock):
    envs: list[Env] = []

    def make(scenario: dict | None = None, *, clock_="shared", ready: bool = True) -> Env:
        env = Env(tmp_path, copy.deepcopy(scenario or small_scenario()), clock if clock_ == "shared" else clock_)
        envs.append(env)
        if ready:
            env.connect()
            env.pull()
            env.save_mappings()
        return env

    yield make
    for env in envs:
        env.stop()
