"""Run sandboxes as real HTTP servers on loopback (uvicorn in a thread), and load scenarios.

A scenario directory holds one JSON file per sandbox: ``exact.json``, ``woocommerce.json``,
``magento.json``. Each sandbox module exposes ``create_app(scenario: dict, clock=None) ->
SandboxApp``; :data:`SANDBOXES` maps the file stem to that factory (imported lazily).
"""

from __future__ import annotations

import importlib
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import uvicorn

from exactsync.clock import Clock
from exactsync.errors import EXIT_CONFIG, ExactsyncError
from exactsync.sandbox.base import SandboxApp

__all__ = ["SANDBOXES", "ServerThread", "serve", "load_scenario_apps", "RunningSandbox", "ScenarioError",
           "ScenarioNotFound"]


class ScenarioError(ExactsyncError):
    """A scenario file that cannot be read or served (damaged JSON, an order that does not add up)."""

    exit_code = EXIT_CONFIG


class ScenarioNotFound(ScenarioError, FileNotFoundError):
    """No scenario directory, or no scenario file in it."""

log = logging.getLogger(__name__)

#: scenario file stem -> "module:factory"; the order is the order ``sandbox serve`` prints.
SANDBOXES: dict[str, str] = {
    "exact": "exactsync.sandbox.exact:create_app",
    "woocommerce": "exactsync.sandbox.woocommerce:create_app",
    "magento": "exactsync.sandbox.magento:create_app",
}


def _factory(name: str) -> Callable[..., SandboxApp]:
    module, attr = SANDBOXES[name].split(":")
    return getattr(importlib.import_module(module), attr)


def load_scenario_apps(directory: str | Path, clock: Clock | None = None) -> dict[str, SandboxApp]:
    """Build every sandbox whose scenario file exists in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ScenarioNotFound(f"scenario directory not found: {directory}")
    apps: dict[str, SandboxApp] = {}
    for name in SANDBOXES:
        path = directory / f"{name}.json"
        if path.exists():
            try:
                with path.open(encoding="utf-8") as f:
                    scenario = json.load(f)
                apps[name] = _factory(name)(scenario, clock=clock)
            except (ValueError, TypeError, KeyError, ArithmeticError) as e:  # a damaged or hand-edited file
                raise ScenarioError(f"scenario file {path} cannot be served: {e}") from None
    if not apps:
        raise ScenarioNotFound(
            f"no scenario files in {directory}: expected one of "
            + ", ".join(f"{n}.json" for n in SANDBOXES)
        )
    return apps


class ServerThread:
    """uvicorn serving one app on ``host:port`` (port 0 = any free port) in a daemon thread."""

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
        except OSError:  # port taken: the caller may try another; this socket must not leak
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app.asgi, host=host, port=self.port, log_level="warning", lifespan="off", interface="asgi3",
            access_log=False, timeout_keep_alive=30,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=f"sandbox-{app.name}", daemon=True)

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "ServerThread":
        self.app.base_url = self.url
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox {self.app.name} did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> "ServerThread":
        return self if self.thread.is_alive() else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class RunningSandbox:
    name: str
    app: SandboxApp
    server: ServerThread

    @property
    def url(self) -> str:
        return self.server.url


def serve(app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
    """Start ``app`` on loopback and return the running server (call ``.stop()`` when done)."""
    return ServerThread(app, host, port).start()
