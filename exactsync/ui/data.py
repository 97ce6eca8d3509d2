"""Cached reads for the pages: every view of :mod:`exactsync.views`, keyed by store + arguments.

``st.cache_data`` with a TTL and a bound on entries, keyed on the store's version
(:meth:`exactsync.store.Store.version`: what another process, a cron pull or a CLI ``runs delete``,
committed shows at the next view); :func:`exactsync.ui.clear_caches` empties it after the
dashboard's own pull, reconciliation or push. Results are copies (pickled), so pages may change them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from exactsync import views
from exactsync.ui import get_store, picked, show_error

__all__ = ["view", "current_run", "require_run", "NO_RUN", "shop_filter"]

#: what a page that needs a reconciliation says before the first one
NO_RUN = "No reconciliation for this period yet: press **Pull & reconcile** on the Overview."


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def _view(name: str, store_path: str, version: tuple, args: tuple, kwargs: tuple) -> Any:
    store = get_store()
    with store.read():  # one connection for every query of the view (opening one costs ~35 ms)
        return getattr(views, name)(store, *args, **dict(kwargs))


def view(name: str, *args: Any, **kwargs: Any) -> Any:
    """``views.<name>(store, *args, **kwargs)``, cached."""
    store = get_store()
    return _view(name, str(store.path), store.version(), args, tuple(sorted(kwargs.items())))


def current_run() -> dict | None:
    """The run the pages show: the one reopened on *Runs & export* (until the sidebar's period is
    changed to another month), else the newest for the pickers."""
    reopened = st.session_state.get("run_id")
    p = picked()
    if reopened:
        run = view("run_info", reopened)
        if run is not None and (p["period"] is None or run["period"] == p["period"]):
            return run
        st.session_state.pop("run_id", None)
    return view("latest_run_info", period=p["period"], division=p["division"])


def require_run(missing: str | None = NO_RUN) -> dict | None:
    """The run the page shows (:func:`current_run`), for pages that need one.

    A store that cannot be read becomes a message and stops the page. Without a run yet, the
    ``missing`` message is shown and the page stops; ``missing=None`` returns None instead (a
    page that has something to show without a run).
    """
    try:
        run = current_run()
    except Exception as e:  # noqa: BLE001 - every error becomes a message
        show_error(e)
        st.stop()
    if run is None and missing is not None:
        st.info(missing)
        st.stop()
    return run


def shop_filter() -> str | None:
    """The shop picked in the sidebar, or None for all shops."""
    shop = picked()["shop"]
    return None if shop in (None, "All shops") else shop
