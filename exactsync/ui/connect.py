"""Exact's OAuth redirect, handled by the app itself (``?code=…&state=…`` in ``st.query_params``).

The redirect arrives in a *new* browser session, so the expected ``state`` values live in a
process-wide store (``st.cache_resource``), not in ``st.session_state``. A state is single-use and
expires after 15 minutes. The code is registered as a secret and never shown.
"""

from __future__ import annotations

import secrets
import threading
import time

import streamlit as st

from exactsync.redact import register_secret
from exactsync.ui import clear_caches, get_settings, get_store, show_error

__all__ = ["new_state", "handle_oauth_redirect", "STATE_TTL"]

STATE_TTL = 15 * 60


class _States:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued: dict[str, float] = {}

    def add(self, state: str) -> None:
        with self.lock:
            now = time.monotonic()
            self.issued = {s: t for s, t in self.issued.items() if now - t < STATE_TTL}
            self.issued[state] = now

    def take(self, state: str) -> bool:
        with self.lock:
            t = self.issued.pop(state, None)
            return t is not None and time.monotonic() - t < STATE_TTL


@st.cache_resource
def _states() -> _States:
    return _States()


def new_state() -> str:
    """A fresh single-use ``state`` for the authorize URL."""
    state = secrets.token_urlsafe(24)
    register_secret(state)
    _states().add(state)
    return state


def handle_oauth_redirect() -> None:
    """If this request is Exact's redirect, check ``state``, exchange the code, clean the URL."""
    params = st.query_params
    if "code" not in params and "error" not in params:
        return
    code = params.get("code")
    state = params.get("state")
    error = params.get("error")
    st.query_params.clear()  # the code must not stay in the address bar
    if code:
        register_secret(code)
    if error:
        st.error(f"Exact refused the authorisation ({error}). Try *Connect Exact* again on Connections.")
        return
    if not state or not _states().take(state):
        st.error("This authorisation answer does not belong to a connection started here (state differs or "
                 "expired). Start again with *Connect Exact* on Connections.")
        return
    try:
        from exactsync.exact.oauth import TokenStore

        with st.spinner("Exchanging the authorisation code with Exact…"):
            TokenStore.from_settings(get_settings()).exchange_code(code, state)
        get_store()
        clear_caches()
        st.success("Connected to Exact Online. Choose the division below and run *Test connection*.")
    except Exception as e:  # noqa: BLE001
        show_error(e)
