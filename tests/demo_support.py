"""A small demo month for the UI tests: generated, served on loopback, connected, pulled, reconciled.

The sandboxes run in the test process (uvicorn threads on 127.0.0.1, port 0); the config written
next to the scenario points exactsync at them, so AppTest (in-process) and ``streamlit run`` (a
subprocess) both reach them over real HTTP.
"""

from __future__ import annotations

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

    def expected(self, status: str, division: int | None = None) -> int:
        """Rows the manifest expects with ``status`` (in ``division`` only, when given: the planted
        cases of the other divisions left out)."""
        n = int(self.manifest["counts"]["expected_status"].get(status, 0))
        if division is not None:
            n -= sum(1 for c in self.manifest["cases"] if c["expected_status"] == status and c["division"] != division)
        return n

    def store(self):
        from exactsync.store import Store

        return Store.from_settings(self.settings)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def prepare_demo(out: Path, *, orders: int = 300, reconcile: bool = True, mappings: bool = True) -> DemoMonth:
    from exactsync import views
    from exactsync.demo import write_config
    from exactsync.demo.bootstrap import start_demo
    from exactsync.store import Store

    env = start_demo(out, orders=orders, ports={"exact": 0, "woocommerce": 0, "magento": 0})
    # the config on disk points at the ports actually used, for `streamlit run` in a subprocess
    config = write_config(out, ports={name: s.port for name, s in env.servers.items()})
    month = DemoMonth(out, config, env.settings, env.manifest, env.servers)
    settings = env.settings
    try:
        store = Store.from_settings(settings)
        assert not views.pull_all(store, settings).failures
        for division in sorted({shop.division for shop in settings.shops.values() if shop.division} if mappings else ()):
            assert not views.seed_demo_mappings(store, division)
        if reconcile:
            from exactsync.reconcile import run_reconciliation

            run_reconciliation(store, settings, month.period)
    except BaseException:
        month.stop()
        raise
    return month


def root_conftest():
    """tests/conftest.py as a module of its own name: ``import conftest`` may find a sub-folder's
    conftest (tests/sandbox/, tests/exact/, …) once the whole suite is collected."""
    import importlib.util
    import sys

    name = "exactsync_tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conftest.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
