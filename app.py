"""exactsync dashboard: the router. Shared chrome here, pages in pages/ (thin, library-backed)."""

from __future__ import annotations

import streamlit as st

from exactsync.ui import page_setup

page_setup()

pages = {
    "Month-end": [
        st.Page("pages/status.py", title="Status", icon=":material/monitor_heart:", default=True),
    ],
}

st.navigation(pages).run()
