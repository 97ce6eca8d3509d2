"""Mappings: which Exact VAT codes, G/L accounts, debtors and journal a pushed entry uses."""

import streamlit as st

from exactsync import mapping, views
from exactsync.mapping_suggest import SUGGESTED_KINDS, suggest_mapping, with_suggestions
from exactsync.ui import clear_caches, get_store, picked, show_error, table
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


def page() -> None:
    st.title("Mappings")
    st.caption("Edit a table, then *Validate and save*: every row is checked against the codes pulled from "
               "Exact for the division; a row that does not check out says why in its *Error* column.")

    division = picked()["division"]
    if division is None:
        st.info("No Exact division yet: pull Exact first (Overview → Pull & reconcile).")
        st.stop()

    TITLES = {"vat": "VAT codes", "gl": "G/L accounts", "debtor": "Debtors", "cost_center": "Cost centres",
              "settings": "Journal & debtors"}
    tabs = st.tabs([TITLES.get(k, k) for k in mapping.MAPPING_KINDS])
    for kind, tab in zip(mapping.MAPPING_KINDS, tabs):
        with tab:
            try:
                done = st.session_state.pop(f"map_saved_{kind}", None)  # said once, after the rerun below
                if done:
                    st.success(done)
                result = st.session_state.get(f"map_result_{kind}")
                frame = result if result is not None else mapping.read_mapping(get_store(), kind, division)
                bad = int(frame["error"].is_not_null().sum())
                if bad:
                    st.error(f"{bad} row(s) need a fix (see the *Error* column); nothing was saved.")
                if kind in SUGGESTED_KINDS:
                    _suggestions(kind, division, frame)
                edited = st.data_editor(
                    views.editor_frame(frame), num_rows="dynamic", hide_index=True, width="stretch", key=f"map_edit_{kind}",
                    disabled=["error"], column_config=views.mapping_columns(kind, division),
                )
                if st.button("Validate and save", type="primary", key=f"map_save_{kind}"):
                    clean = views.mapping_frame(kind, edited, division)
                    saved = mapping.save_mapping(get_store(), kind, clean, division)
                    if saved.saved:
                        # drawn again from what is stored: no banner or error column of an attempt before
                        st.session_state.pop(f"map_result_{kind}", None)
                        st.session_state.pop(f"map_edit_{kind}", None)
                        st.session_state[f"map_saved_{kind}"] = f"Saved {saved.frame.height} row(s)."
                        clear_caches()
                        st.rerun()
                    else:
                        st.session_state[f"map_result_{kind}"] = saved.frame
                        st.rerun()
            except Exception as e:  # noqa: BLE001
                show_error(e)


def _suggestions(kind: str, division: int, frame) -> None:
    """The rows this mapping lacks, read from what Exact booked for matched documents, to add for review."""
    key = f"map_suggested_{kind}"
    with st.expander("Suggest the missing rows from what Exact has booked", icon=":material/auto_fix_high:"):
        st.caption("Reads the documents the newest run of each period found *Matched* and the codes Exact booked "
                   "them with. Rows you have are kept; added rows are only saved with *Validate and save*.")
        if st.button("Suggest", key=f"map_suggest_{kind}"):
            st.session_state[key] = suggest_mapping(get_store(), kind, division)
        found = st.session_state.get(key)
        if found is None or found.division != division:
            return
        st.write(found.message)
        if found.frame.height:
            table(views.editor_frame(found.frame.drop("division")), column_config=views.mapping_columns(kind, division))
            if st.button(f"Add the {found.frame.height} row(s) to the table", type="primary", key=f"map_add_{kind}"):
                st.session_state[f"map_result_{kind}"] = with_suggestions(get_store(), found, frame.drop("error"))
                st.session_state.pop(key, None)
                st.rerun()


guarded(page)
