"""Runs & export: saved reconciliation runs, reopen one as it was, download XLSX / CSV."""

import tempfile
from pathlib import Path

import streamlit as st

from exactsync import views
from exactsync.ui import get_store, pager, show_error
from exactsync.ui.data import view
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


def page() -> None:
    st.title("Runs & export")

    try:
        offset = (int(st.session_state.get("runs_page", 1)) - 1) * views.PAGE_SIZE
        page = view("runs_page", limit=views.PAGE_SIZE, offset=offset)
    except Exception as e:  # noqa: BLE001
        show_error(e)
        st.stop()
    if not page.total:
        st.info("No reconciliation runs saved yet.")
        st.stop()

    st.dataframe(
        page.rows, hide_index=True, width="stretch",
        column_order=("run_id", "created_at", "period", "divisions", "shops", "documents", "differences",
                      "tolerance_text", "engine_version"),
        column_config={
            "run_id": "Run",
            "created_at": st.column_config.DatetimeColumn("Reconciled (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "period": "Period",
            "divisions": "Divisions",
            "shops": "Shops",
            "documents": st.column_config.NumberColumn("Shop documents", format="localized"),
            "differences": st.column_config.NumberColumn("Differences", format="localized"),
            "tolerance_text": "Tolerance (net / VAT / gross)",
            "engine_version": st.column_config.NumberColumn("Engine", help="Version of the reconciliation engine"),
        },
    )
    pager("runs_page", page.total, views.PAGE_SIZE)

    ids = page.rows["run_id"].to_list()
    open_id = st.session_state.get("run_id")
    chosen = st.selectbox("Run", ids, index=ids.index(open_id) if open_id in ids else 0, key="runs_pick")
    a, b = st.columns(2)
    if a.button("Reopen this run", key="reopen", help="Every page then shows this run as it was saved (until "
                                                      "another period is picked)."):
        st.session_state["run_id"] = chosen
        # the sidebar's period follows (set before its picker is drawn, on the rerun)
        st.session_state["reopen_period"] = dict(zip(ids, page.rows["period"].to_list()))[chosen]
        st.rerun()
    if open_id and b.button("Back to the newest run", key="newest"):
        st.session_state.pop("run_id", None)
        st.rerun()
    if open_id:
        st.info(f"Showing saved run {open_id} on every page.")

    st.subheader("Export")
    fmt = st.radio("Format", ["xlsx", "csv", "zip"], horizontal=True, key="export_fmt",
                   format_func={"xlsx": "XLSX (for people: sheets, headings in words)",
                                "csv": "CSV (every result, column names)",
                                "zip": "ZIP (each sheet as CSV)"}.get)
    if st.button("Prepare the download", key="export"):
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = views.export(get_store(), chosen, Path(tmp) / f"exactsync-run-{chosen}.{fmt}")
                st.session_state["export_file"] = (chosen, fmt, path.name, path.read_bytes())
        except Exception as e:  # noqa: BLE001
            show_error(e)
    prepared = st.session_state.get("export_file")
    if prepared and prepared[:2] == (chosen, fmt):  # not the file of another run or format picked before
        _run, _fmt, name, data = prepared
        mime = {".csv": "text/csv", ".zip": "application/zip"}.get(
            Path(name).suffix, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        st.download_button(f"Download {name}", data, file_name=name, mime=mime, key="download")


guarded(page)
