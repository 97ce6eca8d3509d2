"""Status: where the data lives, what has been pulled, the newest runs and the push jobs."""

import streamlit as st

from exactsync.status import ERROR_DAYS, store_status
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
    version = info["schema_version"]
    c3.metric("Schema version", version.split("_", 1)[0] if version else "—",
              help=f"The newest migration applied: {version}" if version else "No migration applied yet")
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

    st.subheader("Reconciliation runs")
    if info["runs"]:
        st.dataframe(
            info["runs"], hide_index=True, width="stretch",
            column_config={
                "run_id": "Run", "period": "Period",
                "created_at": st.column_config.DatetimeColumn("Reconciled (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                "documents": st.column_config.NumberColumn("Shop documents", format="localized"),
                "differences": st.column_config.NumberColumn("Differences", format="localized"),
            },
        )
        shown = (f"The newest {len(info['runs'])} of {info['runs_total']:,}; " if info["runs_total"] > len(info["runs"])
                 else "")
        st.caption(f"{shown}*Runs & export* reopens any of them.")
    else:
        st.info("No reconciliation run saved yet.")

    st.subheader("Push jobs")
    jobs = info["push_jobs"]
    if jobs:
        cols = st.columns(len(jobs))
        for col, (status, n) in zip(cols, jobs.items()):
            col.metric(status, f"{n:,}")
        if jobs.get("Error"):
            st.warning(f"{jobs['Error']:,} push job(s) in Error: the *Sync log* says why and retries them.")
    else:
        st.info("Nothing pushed yet.")

    st.subheader("Errors")
    if info["errors_total"]:
        newest = info["errors"][0]
        st.warning(f"{info['errors_total']:,} error(s) in the sync log in the last {ERROR_DAYS} days; the newest, "
                   f"{newest['logged_at']:%Y-%m-%d %H:%M} UTC, {newest['source']}: {newest['message']}. "
                   "The *Sync log* has them all, with their details.")
    else:
        st.success(f"No errors in the sync log in the last {ERROR_DAYS} days.")


guarded(page)
