"""exactsync dashboard: the router. Shared chrome here, pages in pages/ (thin, library-backed).

Run with ``make run`` (binds 127.0.0.1, see .streamlit/config.toml). Without configuration the
demo starts: three sandboxes on loopback and a generated month, pulled and reconciled.
"""

from __future__ import annotations

import streamlit as st

from exactsync.ui import auth_gate, is_demo, page_setup, show_error
from exactsync.ui.chrome import sidebar
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

st.navigation(pages).run()
