"""exactsync dashboard: the router. Shared chrome here, pages in pages/ (thin, library-backed).

Run with ``make run`` (binds 127.0.0.1, see .streamlit/config.toml). Without configuration the
demo starts: three sandboxes on loopback and a generated month, pulled and reconciled.
"""

from __future__ import annotations

import streamlit as st

from exactsync.ui import navigation_position, show_error
from exactsync.ui.chrome import open_requested_page, router

pages = {
    "Month-end": [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/differences.py", title="Differences", icon=":material/difference:"),
        st.Page("pages/vat.py", title="VAT per country", icon=":material/public:"),
        st.Page("pages/push.py", title="Push", icon=":material/upload:"),
    ],
    "Operations": [
        st.Page("pages/sync_log.py", title="Sync log", icon=":material/sync:"),
        st.Page("pages/runs.py", title="Runs & export", icon=":material/history:"),
        st.Page("pages/status.py", title="Status", icon=":material/monitor_heart:"),
    ],
    "Settings": [
        st.Page("pages/connections.py", title="Connections", icon=":material/link:"),
        st.Page("pages/mappings.py", title="Mappings", icon=":material/table_edit:"),
    ],
}

# the navigation first: until it is called, Streamlit lists the pages/ files themselves in the
# sidebar ("app", "connections", …), which a fresh start showed while it prepared the demo month
page = st.navigation(pages, position=navigation_position())
open_requested_page()  # a page's URL opened before this navigation existed (exactsync.ui.chrome.page_chrome)
with router():  # login gate, OAuth redirect, demo, banner, sidebar pickers (exactsync.ui.chrome)
    try:
        page.run()
    except Exception as e:  # noqa: BLE001 - the last net: a message, never a traceback (st.stop/rerun pass)
        show_error(e)
