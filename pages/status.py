"""Status: where the data lives and what has been pulled."""

import streamlit as st

from exactsync.status import store_status
from exactsync.ui import get_settings, get_store, show_error
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


def page() -> None:
    st.title("Status")
    try:
        settings = get_settings()
        info = store_status(get_store())
    except Exception as e:  # noqa: BLE001 - every error becomes a message
        show_error(e)
        st.stop()

    c1, c2, c3 = st.columns(3)
    c1.metric("Shop documents", f"{info['tables'].get('shop_documents', 0):,}")
    c2.metric("Exact entries", f"{info['tables'].get('exact_entries', 0):,}")
    c3.metric("Schema version", info["schema_version"] or "—")
    st.caption(f"Database: `{info['path']}` · settings from {', '.join(settings.sources)}")

    st.subheader("Last pulls")
    if info["pulls"]:
        st.dataframe(
            info["pulls"], hide_index=True, width="stretch",
            column_config={
                "source": "Source",
                "scope": st.column_config.TextColumn("Division / scope"),
                "cursor": st.column_config.TextColumn("Cursor", help="Where the next incremental pull starts"),
                "last_success_at": st.column_config.DatetimeColumn("Last success (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                "last_attempt_at": st.column_config.DatetimeColumn("Last attempt (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                "rows_total": st.column_config.NumberColumn("Rows pulled", format="localized"),
            },
        )
    else:
        st.info("Nothing pulled yet.")


guarded(page)
