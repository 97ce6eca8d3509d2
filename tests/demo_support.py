"""A small demo month for the UI tests: generated, served on loopback, connected, pulled, reconciled.

The sandboxes run in the test process (uvicorn threads on 127.0.0.1, port 0); the config written
next to the scenario points exactsync at them, so AppTest (in-process) and ``streamlit run`` (a
subprocess) both reach them over real HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DemoMonth", "prepare_demo"]


@dataclass
class DemoMonth:
    dir: Path
    config: Path
    settings: Any
    manifest: dict
    servers: dict[str, Any] = field(default_factory=dict)

    @property
    def period(self) -> str:
        return self.manifest["period"]

    def expected(self, status: str) -> int:
        return int(self.manifest["counts"]["expected_status"].get(status, 0))

    def store(self):
        from exactsync.store import Store

        return Store.from_settings(self.settings)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def _connect_exact(settings: Any) -> None:
    """Press 'Allow' on the sandbox's consent form and exchange the code (sandbox only)."""
    import httpx2

    from exactsync.exact.oauth import TokenStore

    ex = settings.exact
    tokens = TokenStore.from_settings(settings)
    form = {"client_id": ex.client_id, "redirect_uri": ex.redirect_uri, "response_type": "code", "allow": "1",
            "state": "test-state"}
    resp = httpx2.post(f"{ex.base_url}/api/oauth2/auth", data=form, timeout=30)
    assert resp.status_code in (302, 303), resp.status_code
    tokens.exchange_code(resp.headers["location"], state="test-state")


def prepare_demo(out: Path, *, orders: int = 300, reconcile: bool = True) -> DemoMonth:
    from exactsync import views
    from exactsync.demo import generate_demo, write_config
    from exactsync.sandbox.server import load_scenario_apps, serve
    from exactsync.settings import load_settings
    from exactsync.store import Store

    generate_demo(out, orders=orders)
    servers = {name: serve(app) for name, app in load_scenario_apps(out).items()}
    config = write_config(out, ports={name: s.port for name, s in servers.items()})
    settings = load_settings(config)
    month = DemoMonth(out, config, settings, json.loads((out / "manifest.json").read_text()), servers)
    try:
        _connect_exact(settings)
        store = Store.from_settings(settings)
        views.pull_all(store, settings)
        for division in sorted({shop.division for shop in settings.shops.values() if shop.division}):
            assert not views.seed_demo_mappings(store, division)
        if reconcile:
            from exactsync.reconcile import run_reconciliation

            run_reconciliation(store, settings, month.period)
    except BaseException:
        month.stop()
        raise
    return month
