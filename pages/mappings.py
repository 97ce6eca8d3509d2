"""Mappings: how shop VAT classes / countries map to Exact VAT codes and GL accounts."""

import streamlit as st

from exactsync import views
from exactsync.ui import clear_caches, get_settings, get_store, picked, show_error

st.title("Mappings")
st.caption("Edit the table, then save: every row is checked against the codes pulled from Exact.")

try:
    division = picked()["division"]
    original = views.mappings(get_store(), get_settings(), division)
except Exception as e:  # noqa: BLE001
    show_error(e)
    st.stop()

edited = st.data_editor(original, num_rows="dynamic", hide_index=True, width="stretch", key="mapping_editor",
                        column_config=views.mapping_column_config(st.column_config, get_store(), division))
errors = st.session_state.get("mapping_errors")
if errors is not None and errors.height:
    st.error(f"{errors.height} row(s) need a fix before saving:")
    st.dataframe(errors, hide_index=True, width="stretch")
if st.button("Validate and save", type="primary", key="save_mappings"):
    try:
        errors = views.save_mappings(get_store(), get_settings(), division, edited)
        st.session_state["mapping_errors"] = errors
        if not errors.height:
            st.session_state.pop("mapping_errors", None)
            clear_caches()
            st.success("Mappings saved.")
        else:
            st.rerun()
    except Exception as e:  # noqa: BLE001
        show_error(e)
