"""Glue between the dashboard and the library. The only exactsync module that imports Streamlit.

Pages call :func:`get_settings` / :func:`get_store` and then library functions; the library
itself never sees Streamlit. Settings come from the same layers as the CLI (exactsync.toml,
.streamlit/secrets.toml, EXACTSYNC_* environment).
"""

from __future__ import annotations

import streamlit as st

from exactsync.errors import ExactsyncError
from exactsync.redact import install_log_filter, redact
from exactsync.settings import Settings, load_settings
from exactsync.store import Store

__all__ = ["page_setup", "get_settings", "get_store", "show_error"]


def page_setup() -> None:
    install_log_filter()
    st.set_page_config(page_title="exactsync", page_icon=":material/balance:", layout="wide")


@st.cache_resource(max_entries=4)
def _settings_cached(config: str | None) -> Settings:
    return load_settings(config)


def get_settings() -> Settings:
    import os

    return _settings_cached(os.environ.get("EXACTSYNC_CONFIG"))


@st.cache_resource(max_entries=4)
def _store_cached(path: str, lock_timeout: float) -> Store:
    # A Store holds no open connection; caching it only caches the applied migrations.
    return Store.open(path, lock_timeout=lock_timeout)


def get_store() -> Store:
    s = get_settings()
    return _store_cached(str(s.store.path), s.store.lock_timeout)


def show_error(error: BaseException) -> None:
    """A message a user can act on, never a traceback (and never a secret)."""
    if isinstance(error, ExactsyncError):
        st.error(redact(error), icon=":material/error:")
    else:
        st.error(f"Something went wrong: {redact(error)}", icon=":material/error:")
