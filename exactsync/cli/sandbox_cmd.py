"""``exactsync sandbox serve``: run the sandboxes of a scenario directory on loopback."""

from __future__ import annotations

import errno
import signal
import threading
from pathlib import Path

import click

from exactsync.cli.main import Ctx, emit, pass_ctx, sandbox
from exactsync.errors import ExactsyncError
from exactsync.sandbox.server import ServerThread, load_scenario_apps

__all__ = ["serve_cmd", "DEFAULT_PORTS"]

#: The ports `sandbox serve` uses unless told otherwise; the demo's exactsync.toml points here.
DEFAULT_PORTS = {"exact": 8701, "woocommerce": 8702, "magento": 8703}


@sandbox.command("serve")
@click.option("--scenario", "scenario", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Directory with exact.json / woocommerce.json / magento.json.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (keep it on loopback).")
@click.option("--exact-port", type=int, default=DEFAULT_PORTS["exact"], show_default=True,
              help="Port for Exact Online (0 = any free port).")
@click.option("--woo-port", type=int, default=DEFAULT_PORTS["woocommerce"], show_default=True,
              help="Port for WooCommerce (0 = any free port).")
@click.option("--magento-port", type=int, default=DEFAULT_PORTS["magento"], show_default=True,
              help="Port for Magento (0 = any free port).")
@pass_ctx
def serve_cmd(ctx: Ctx, scenario: Path, host: str, exact_port: int, woo_port: int, magento_port: int) -> None:
    """Serve the sandboxes of SCENARIO until interrupted; prints one `name url` line each."""
    apps = load_scenario_apps(scenario)
    ports = {"exact": exact_port, "woocommerce": woo_port, "magento": magento_port}
    servers: list[tuple[str, ServerThread]] = []
    try:
        for name, app in apps.items():
            port = ports.get(name, 0)
            try:
                server = ServerThread(app, host, port)
            except OSError as e:  # port taken (or the address cannot be bound): one line, as `demo run` says it
                option = {"exact": "--exact-port", "woocommerce": "--woo-port", "magento": "--magento-port"}[name]
                busy = "is already in use" if e.errno == errno.EADDRINUSE else f"cannot be used ({e.strerror})"
                raise ExactsyncError(f"port {port} for the {name} sandbox {busy} on {host} (another `exactsync "
                                     f"sandbox serve` or `demo run`?). Stop it first, or pass {option} N "
                                     f"(0 = any free port).") from None
            servers.append((name, server.start()))
        urls = {name: s.url for name, s in servers}
        emit(ctx, urls, lambda: "\n".join(f"{name} {url}" for name, url in urls.items()))
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(0.5):
            pass
    finally:
        for _, server in servers:
            server.stop()
