"""Sync log: push jobs and their status, retries, pull/push events and the API call log."""

import streamlit as st

from exactsync import views
from exactsync.ui import JOB_LABELS, clear_caches, get_settings, get_store, labelled, pager, progress_status, show_error, table
from exactsync.ui.data import view
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


def _utc(label: str):
    return st.column_config.DatetimeColumn(f"{label} (UTC)", format="YYYY-MM-DD HH:mm:ss")


#: push jobs: the shared headings; dates and times formatted, times marked UTC
JOB_DATES = {"entry_date": st.column_config.DateColumn("Entry date", format="YYYY-MM-DD"),
             "created_at": _utc("Created"), "queued_at": _utc("Queued"), "synced_at": _utc("Synced"),
             "updated_at": _utc("Updated")}
EVENT_COLUMNS = {"log_id": None, "logged_at": _utc("Time"), "run_id": "Run", "source": "Source", "level": "Level",
                 "record_key": "Record", "message": "Message"}
CALL_COLUMNS = {"call_id": None, "called_at": _utc("Time"), "system": "System", "scope": "Scope",
                "method": "Method", "path": "Path", "status": "HTTP status", "duration_ms": "ms",
                "rate_remaining": "Calls left today", "rate_minutely_remaining": "Calls left this minute",
                "error": "Error"}


def page() -> None:
    st.title("Sync log")

    jobs_tab, events_tab, calls_tab = st.tabs(["Push jobs", "Events", "API calls"])

    with jobs_tab:
        try:
            counts = view("job_counts")
            c = st.columns(4)
            for i, status in enumerate(views.JOB_STATUSES):
                c[i].metric(status, f"{counts.get(status, 0):,}")
            status = st.selectbox("Status", ["All", *views.JOB_STATUSES], key="job_status")
            offset = (int(st.session_state.get("jobs_page", 1)) - 1) * views.PAGE_SIZE
            page = view("jobs_page", status=None if status == "All" else status, limit=views.PAGE_SIZE, offset=offset)
            table(page.rows, column_config={**labelled(page.rows, JOB_LABELS), **JOB_DATES})
            pager("jobs_page", page.total, views.PAGE_SIZE)
            failed = view("failed_job_ids")
            chosen = st.multiselect("Failed jobs to retry", failed, key="retry_pick")
            a, b = st.columns(2)
            retry = None
            if a.button(f"Retry {len(chosen)} selected", disabled=not chosen, key="retry_selected"):
                retry = chosen
            if b.button(f"Retry all {len(failed)} failed", disabled=not failed, key="retry_all"):
                retry = failed
            if retry:
                with progress_status(f"Retrying {len(retry)} job(s)…") as on_progress:
                    result = views.retry(get_store(), get_settings(), retry, on_progress=on_progress)
                clear_caches()
                (st.success if not result.counts.get("error") else st.warning)(f"Retried {len(retry)} job(s): {result.message}")
                table(result.jobs, column_config={**labelled(result.jobs, JOB_LABELS), **JOB_DATES})
        except Exception as e:  # noqa: BLE001
            show_error(e)

    with events_tab:
        level = st.selectbox("Level", ["All", "error", "warning", "info"], key="log_level")
        try:
            offset = (int(st.session_state.get("log_page", 1)) - 1) * views.PAGE_SIZE
            page = view("sync_log_page", level=None if level == "All" else level, limit=views.PAGE_SIZE, offset=offset)
            st.caption(f"{page.total:,} event(s)")
            st.dataframe(page.rows, hide_index=True, width="stretch", column_config=EVENT_COLUMNS)
            pager("log_page", page.total, views.PAGE_SIZE)
        except Exception as e:  # noqa: BLE001
            show_error(e)

    with calls_tab:
        system = st.selectbox("System", ["All", "exact", "woocommerce", "magento"], key="call_system")
        errors_only = st.checkbox("Only failed calls", key="call_errors")
        try:
            offset = (int(st.session_state.get("calls_page", 1)) - 1) * views.PAGE_SIZE
            page = view("api_calls_page", system=None if system == "All" else system, errors_only=errors_only,
                        limit=views.PAGE_SIZE, offset=offset)
            st.caption(f"{page.total:,} call(s); paths are stored with secrets removed")
            st.dataframe(page.rows, hide_index=True, width="stretch", column_config=CALL_COLUMNS)
            pager("calls_page", page.total, views.PAGE_SIZE)
        except Exception as e:  # noqa: BLE001
            show_error(e)


guarded(page)
