"""Demo on first start: sandboxes on loopback, a generated month, pulled and reconciled once.

Used when nothing is configured (see :func:`exactsync.ui.config_present`). The environment is a
process-wide resource (``st.cache_resource``): every session shares the same sandboxes and store
under ``data/demo/``. Connecting a real shop / Exact (an exactsync.toml, secrets or EXACTSYNC_*
variables) replaces it on the next start.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import streamlit as st

from exactsync.ui import ROOT, clear_caches, progress_status, remember_pull, served_url

__all__ = ["DEMO_DIR", "DEMO_BANNER", "demo_dir", "demo_environment", "ensure_demo_data", "stop_demos"]

DEMO_DIR = ROOT / "data" / "demo"
DEMO_BANNER = "Demo data — sandbox, not your administration"
_running: list = []


def demo_dir() -> Path:
    """``data/demo`` next to app.py, or ``EXACTSYNC_DEMO_DIR``."""
    return Path(os.environ.get("EXACTSYNC_DEMO_DIR") or DEMO_DIR)


@st.cache_resource(show_spinner="Starting the demo sandboxes…")
def _environment(base_dir: str, redirect_uri: str):
    from exactsync.demo.bootstrap import start_demo

    env = start_demo(base_dir, redirect_uri=redirect_uri)
    _running.append(env)
    return env


def demo_environment():
    """Generate the demo scenario if missing and start the three sandboxes on 127.0.0.1 (once
    per server process; default ports 8701–8703, else any free port). Exact's consent page sends
    the browser back to this dashboard's own address (:func:`exactsync.ui.served_url`), whatever
    port it serves on."""
    return _environment(str(demo_dir()), served_url())


def stop_demos() -> None:
    """Stop every demo sandbox this process started (tests)."""
    while _running:
        _running.pop().stop()
    _environment.clear()


@st.cache_resource
def _pipeline_lock() -> threading.Lock:
    return threading.Lock()


def ensure_demo_data() -> None:
    """Pull and reconcile the demo month once per store (shows ``st.status`` while it runs)."""
    from exactsync import views
    from exactsync.ui import get_settings, get_store

    settings = get_settings()
    store = get_store()
    if views.has_run(store):
        return
    with _pipeline_lock():
        if views.has_run(store):  # another session did it while we waited
            return
        with progress_status("Preparing the demo month: pulling and reconciling…",
                             done_label="Demo month pulled and reconciled") as on_progress:
            remember_pull(views.pull_all(store, settings, on_progress=on_progress))  # shown on Overview, if any
            for division in sorted({s.division for s in settings.shops.values() if s.division}):
                views.seed_demo_mappings(store, division)
            views.refresh(store, settings, None, on_progress=on_progress, pull=False)
        clear_caches()
