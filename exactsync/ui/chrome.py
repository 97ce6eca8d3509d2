"""Shared chrome drawn by app.py before the page: demo banner, pickers, last-pull status."""

from __future__ import annotations

import streamlit as st

from exactsync import views
from exactsync.ui import get_settings, get_store, is_demo, show_error

__all__ = ["sidebar", "ALL_SHOPS"]

ALL_SHOPS = "All shops"


@st.cache_data(ttl=60, max_entries=16)
def _choices(path: str, configured_divisions: tuple[int, ...]) -> tuple[list[str], list[int]]:
    store = get_store()
    return views.available_periods(store), views.available_divisions(store, configured_divisions)


@st.cache_data(ttl=60, max_entries=16)
def _last_pulls(path: str):
    return views.last_pulls(get_store())


def sidebar() -> None:
    """Pickers for period, division and shop (kept in ``st.session_state``) and pull status."""
    try:
        settings = get_settings()
        if is_demo() or settings.demo:
            from exactsync.ui.demo import DEMO_BANNER

            st.warning(f"**{DEMO_BANNER}.** Connect your shop and Exact administration under "
                       "*Connections* to replace it.", icon=":material/science:")
        store = get_store()
        periods, divisions = _choices(str(store.path), tuple(settings.exact.divisions))
        pulls = _last_pulls(str(store.path))
    except Exception as e:  # noqa: BLE001 - every error becomes a message
        with st.sidebar:
            show_error(e)
        return
    with st.sidebar:
        st.subheader("Month-end")
        if periods:
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
