"""Shared chrome drawn before every page: login gate, Exact's OAuth redirect, demo start and
banner, sidebar pickers (period, division, shop) and last-pull status.

app.py calls ``st.navigation`` first (so the sidebar lists the app's pages from the first screen
on, even while the demo month is prepared), draws the chrome once per run, then runs the page. Each
page also calls :func:`page_chrome` first: a no-op inside app.py.

Why that call exists: with a folder named ``pages/`` next to app.py, Streamlit starts in its legacy
``pages/`` folder mode until ``st.navigation`` is first called in the process — the very first run
of a new server process, and every ``AppTest.run``. In that mode it runs app.py as a page of its
own, or a ``pages/`` file directly (a page's URL opened first): :func:`page_chrome` then sends
that page through app.py, and draws the chrome if it cannot.

Widget ids include the hash of the script that draws them, so sidebar pickers drawn in that mode
would get other ids than under app.py's navigation, and the user's first pick was silently lost
(a shop picked on a fresh server snapped back to *All shops*). :func:`draw_chrome` therefore
draws under app.py's own script hash (:func:`_as_app_script`): the same ids in either mode.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from exactsync import views
from exactsync.ui import auth_gate, get_settings, get_store, is_demo, page_setup, show_error
from exactsync.ui.data import view

__all__ = ["sidebar", "ALL_SHOPS", "draw_chrome", "router", "page_chrome", "open_requested_page", "guarded"]

_local = threading.local()  # script runs of a session happen on the script thread

ALL_SHOPS = "All shops"

#: the page a URL asked for before the navigation existed (see :func:`page_chrome`)
_OPEN_PAGE = "_exs_open_page"
#: set by app.py's first run in a session
_ROUTED_ONCE = "_exs_routed_once"


@st.cache_data(ttl=60, max_entries=16)
def _choices(path: str, version: tuple, configured_divisions: tuple[int, ...]) -> tuple[list[str], list[int]]:
    store = get_store()
    with store.read():  # one connection for both queries
        return views.available_periods(store), views.available_divisions(store, configured_divisions)


def sidebar() -> None:
    """Pickers for period, division and shop (kept in ``st.session_state``) and pull status."""
    try:
        settings = get_settings()
        if is_demo() or settings.demo:
            from exactsync.ui.demo import DEMO_BANNER

            st.warning(f"**{DEMO_BANNER}.** Connect your shop and Exact administration under "
                       "*Connections* to replace it.", icon=":material/science:")
        store = get_store()
        periods, divisions = _choices(str(store.path), store.version(), tuple(settings.exact.divisions))
        pulls = view("last_pulls")  # the same cached read as the Overview's tiles
    except Exception as e:  # noqa: BLE001 - every error becomes a message
        with st.sidebar:
            show_error(e)
        return
    with st.sidebar:
        st.subheader("Month-end")
        if periods:
            asked = st.session_state.pop("reopen_period", None)  # a run reopened on Runs & export
            if asked in periods:
                st.session_state["period"] = asked
            if st.session_state.get("period") not in periods:
                st.session_state["period"] = periods[0]
            st.selectbox("Period", periods, key="period")
        else:
            st.caption("No data yet: pull a shop and Exact first.")
        if divisions:
            if st.session_state.get("division") not in divisions:
                st.session_state["division"] = divisions[0]
            st.selectbox("Division", divisions, key="division")
        shops = [ALL_SHOPS, *settings.shops]
        if st.session_state.get("shop") not in shops:
            st.session_state["shop"] = ALL_SHOPS
        st.selectbox("Shop", shops, key="shop")
        st.divider()
        st.caption("Last successful pull")
        if pulls.height:
            for row in pulls.iter_rows(named=True):
                when = row["last_success_at"]
                st.caption(f"{row['source']}: {when:%Y-%m-%d %H:%M} UTC" if when else f"{row['source']}: never")
        else:
            st.caption("Nothing pulled yet.")


def _as_app_script() -> contextlib.AbstractContextManager:
    """Elements drawn inside get the ids app.py's navigation gives them, whichever script Streamlit
    is running (see the module docstring). A no-op under app.py's navigation."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        return ctx.run_with_active_hash(ctx.pages_manager.main_script_hash)
    except Exception:  # noqa: BLE001 - bare mode or another Streamlit: ids as Streamlit makes them
        return contextlib.nullcontext()


def draw_chrome() -> None:
    """Everything every page shows before its own content (see the module docstring)."""
    with _as_app_script():
        _draw_chrome()


def _draw_chrome() -> None:
    from exactsync.ui.connect import handle_oauth_redirect

    page_setup()
    auth_gate()  # optional st.login (OIDC) when [auth] is in secrets.toml; see docs/dashboard.md
    handle_oauth_redirect()  # Exact sends the user back here with ?code=…&state=…
    if is_demo():
        try:
            from exactsync.ui.demo import ensure_demo_data

            ensure_demo_data()
        except Exception as e:  # noqa: BLE001 - a message, never a traceback
            show_error(e)
    sidebar()


@contextlib.contextmanager
def router() -> Iterator[None]:
    """app.py's run: the chrome is drawn here, so :func:`page_chrome` does nothing inside."""
    _local.routed = True
    st.session_state[_ROUTED_ONCE] = True
    try:
        draw_chrome()
        yield
    finally:
        _local.routed = False


def page_chrome() -> None:
    """First line of every page: draws the chrome unless app.py already did in this run.

    Not under app.py, a ``pages/`` file was opened by its URL before any session of a new server ran
    app.py: Streamlit's legacy folder mode, whose sidebar lists the files ("app", "sync log", …)
    for as long as that session lasts. The page then goes through app.py instead, which opens it
    again under the app's own navigation (:func:`open_requested_page`)."""
    if getattr(_local, "routed", False):
        return
    name = Path(sys._getframe(1).f_globals.get("__file__", "")).name
    # only a session's first run: a later one may carry a widget's new value, which a switch loses
    # (AppTest runs every rerun of a page this way)
    if name and not st.session_state.get(_ROUTED_ONCE) and _OPEN_PAGE not in st.session_state:
        st.session_state[_OPEN_PAGE] = f"pages/{name}"
        try:
            st.switch_page("app.py")
        except StreamlitAPIException:  # not served with app.py (a page run on its own)
            st.session_state.pop(_OPEN_PAGE, None)
    draw_chrome()


def open_requested_page() -> None:
    """app.py, after ``st.navigation``: open the page :func:`page_chrome` was asked for."""
    wanted = st.session_state.pop(_OPEN_PAGE, None)
    if wanted:
        st.switch_page(wanted)


def guarded(page: Callable[[], None]) -> None:
    """Run a page's body; any error becomes a message a user can act on (st.stop/rerun pass)."""
    try:
        page()
    except Exception as e:  # noqa: BLE001 - a message, never a traceback
        show_error(e)
