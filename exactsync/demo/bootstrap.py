"""Start the demo: generate the month if needed, serve the three sandboxes, connect to Exact.

``start_demo(base_dir)`` is what the dashboard (first start in demo mode) and the CLI call; it
returns a :class:`DemoEnvironment` with the :class:`~exactsync.settings.Settings` pointing at the
running sandboxes (default ports 8701–8703 when free, else any free port) and ``.stop()``.
``run_demo_pipeline(env, store)`` then pulls the two shops and Exact into the store.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx2

from exactsync.demo.generate import DEFAULT_PERIOD, DEFAULT_PORTS, DEFAULT_SEED, generate_demo
from exactsync.errors import ExactsyncError
from exactsync.redact import redact
from exactsync.sandbox.base import SandboxApp
from exactsync.sandbox.server import ServerThread, load_scenario_apps
from exactsync.settings import Settings, load_settings

__all__ = ["DemoEnvironment", "start_demo", "scenario_complete", "connect_sandbox_exact", "sandbox_consent", "run_demo_pipeline"]

Progress = Callable[[int, int, str], None]
_FILES = ("exact.json", "woocommerce.json", "magento.json", "manifest.json", "exactsync.toml")


@dataclass
class DemoEnvironment:
    """The running demo: settings, sandboxes (apps and servers) and the manifest."""

    base_dir: Path
    settings: Settings
    apps: dict[str, SandboxApp]
    servers: dict[str, ServerThread]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {name: s.url for name, s in self.servers.items()}

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> "DemoEnvironment":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def scenario_complete(base_dir: str | Path) -> bool:
    base = Path(base_dir)
    return all((base / name).exists() for name in _FILES)


def _serve(app: SandboxApp, host: str, port: int, *, fixed: bool = False, config: Path | None = None) -> ServerThread:
    try:
        server = ServerThread(app, host, port)
    except OSError:  # port taken
        if fixed and port:
            raise ExactsyncError(
                f"port {port} for the {app.name} sandbox is already in use on {host} (another `exactsync demo run`?). "
                f"Stop it first: the commands that read {config or 'the demo settings'} send to that port."
            ) from None
        server = ServerThread(app, host, 0)  # any free port: this process's settings carry the URL
    return server.start()


def connect_sandbox_exact(settings: Settings) -> dict[str, Any]:
    """Sandbox only: press 'Allow' on the sandbox's consent form and store the token.

    Refused unless ``exact.base_url`` is a loopback address. Returns the token status (no secrets).
    """
    from exactsync.exact.oauth import TokenStore, is_loopback

    ex = settings.exact
    if not is_loopback(ex.base_url):
        raise ExactsyncError(f"the demo only connects to a sandbox on a loopback address, not {ex.base_url}")
    tokens = TokenStore.from_settings(settings)
    state = secrets.token_urlsafe(16)
    return tokens.exchange_code(sandbox_consent(settings, state), state=state)


def sandbox_consent(settings: Settings, state: str | None) -> str:
    """Sandbox only: POST its consent form ("Allow") and return the redirect URL it answers with;
    a refusal is an :class:`ExactsyncError` with the sandbox's reason (e.g. a redirect URI that is
    not the registered one)."""
    ex = settings.exact
    form = {"client_id": ex.client_id, "redirect_uri": ex.redirect_uri, "response_type": "code", "allow": "1"}
    if state:
        form["state"] = state
    with httpx2.Client(timeout=ex.timeout, follow_redirects=False) as http:
        resp = http.post(f"{ex.base_url.rstrip('/')}/api/oauth2/auth", data=form)
    location = resp.headers.get("location")
    if resp.status_code not in (301, 302, 303) or not location:
        said = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.text or ""))).strip()[:200]
        raise ExactsyncError(f"the sandbox consent form answered {resp.status_code} without a redirect"
                             + (f": {redact(said)}" if said else ""))
    return location


def start_demo(base_dir: str | Path, *, orders: int = 2000, seed: int = DEFAULT_SEED, period: str = DEFAULT_PERIOD,
               on_progress: Progress | None = None, host: str = "127.0.0.1", ports: dict[str, int] | None = None,
               connect: bool = True, fixed_ports: bool = False, redirect_uri: str | None = None) -> DemoEnvironment:
    """Generate (if missing) and serve the demo month in ``base_dir``; connect exactsync to it.

    ``ports`` overrides the default ports (0 = any free port). A port in use is replaced by a free
    one, unless ``fixed_ports``: then it is an error (``exactsync demo run`` keeps serving for the
    commands that read ``base_dir/exactsync.toml``, which name the default ports). The returned
    settings point at the actual URLs; the store path and token file are inside ``base_dir/data``.
    ``redirect_uri``: where Exact sends the browser back after consent — the dashboard's own
    address when it serves on another port than the demo's 8501. The demo's app registration in
    the sandbox (which, like Exact, accepts exactly one redirect URI) and the returned settings both
    take it; the files in ``base_dir`` keep the default. Call ``.stop()``.
    """
    base = Path(base_dir).resolve()  # settings resolve their paths against it: a relative one would count twice
    if not scenario_complete(base):
        generate_demo(base, orders=orders, seed=seed, period=period, on_progress=on_progress)
    if on_progress:
        on_progress(0, 3, "starting sandboxes")
    apps = load_scenario_apps(base)
    overrides: dict[str, Any] = {}
    if redirect_uri:
        apps["exact"].settings.redirect_uri = redirect_uri  # the registration of this process's sandbox only
        overrides["exact.redirect_uri"] = redirect_uri
    wanted = dict(DEFAULT_PORTS)
    wanted.update(ports or {})
    servers: dict[str, ServerThread] = {}
    try:
        for n, name in enumerate(("exact", "woocommerce", "magento"), start=1):
            servers[name] = _serve(apps[name], host, wanted[name], fixed=fixed_ports, config=base / "exactsync.toml")
            if on_progress:
                on_progress(n, 3, f"sandbox {name} at {servers[name].url}")
        (base / "data").mkdir(exist_ok=True)
        settings = load_settings(
            base / "exactsync.toml", env={}, cwd=base, secrets_file=base / ".streamlit" / "secrets.toml",
            overrides={"exact.base_url": servers["exact"].url,
                       "shops.woo-demo.url": servers["woocommerce"].url,
                       "shops.magento-demo.url": servers["magento"].url, **overrides},
        )
        if connect:
            connect_sandbox_exact(settings)
        manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return DemoEnvironment(base, settings, apps, servers, manifest)


def run_demo_pipeline(env: DemoEnvironment, store: Any, on_progress: Progress | None = None) -> dict[str, Any]:
    """Pull both shops and every Exact division of the demo into ``store``, then save the demo's push
    mappings for each shop division that has none (:mod:`exactsync.demo.mappings`, as the
    dashboard's first start does); returns a summary. Reconciling is the caller's next step
    (``exactsync reconcile``; the dashboard runs it on first start).
    """
    from exactsync.exact.pull import pull_exact
    from exactsync.shops.magento import pull_magento
    from exactsync.shops.woocommerce import pull_woocommerce

    settings = env.settings
    out: dict[str, Any] = {"shops": {}, "exact": {}}
    steps = 2 + len(settings.exact.divisions)
    step = 0

    def tick(label: str) -> None:
        nonlocal step
        step += 1
        if on_progress:
            on_progress(step, steps, label)

    for name, shop in settings.shops.items():
        pull = pull_woocommerce if shop.kind == "woocommerce" else pull_magento
        result = pull(store, shop)
        out["shops"][name] = {"documents": result.documents, "errors": result.errors}
        tick(f"pulled {name}")
    for division in settings.exact.divisions:
        result = pull_exact(store, settings, division, full=True)
        # Count what is in the store: a pull may derive entries page by page, not in one final pass.
        entries = store.scalar("SELECT count(*) FROM exact_entries WHERE division = ?", [division])
        out["exact"][division] = {"lines": result.lines_upserted, "entries": entries,
                                  "errors": result.record_errors, "complete": result.complete}
        tick(f"pulled Exact {division}")
    from exactsync.demo.mappings import seed_demo_mappings

    out["mappings"] = {division: seed_demo_mappings(store, division)
                       for division in sorted({s.division for s in settings.shops.values() if s.division})}
    return out
