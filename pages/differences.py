"""Differences: filter, page through, drill down and select documents to push."""

import streamlit as st

from exactsync import views
from exactsync.ui import labelled, pager, picked, readable, table
from exactsync.ui.data import require_run, shop_filter, view
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


DIFF_COLUMNS = {
    "status": "Status", "also": "Also found", "shop": "Shop", "reference": "Reference (YourRef)", "country": "Country",
    "currency": "Currency", "shop_gross": "Shop gross", "exact_gross": "Exact gross", "difference": "Difference",
    "vat_difference": "VAT difference", "exact_entries": "Exact entry numbers", "detail": "Explanation",
}
DIFF_HELP = {"difference": "Exact − shop, gross, in the row's currency", "vat_difference": "Exact − shop",
             "also": "What else was found on the row. Its status (and cause) is the first of its findings in "
                     "the fixed order: presence, duplicates, currency, period, amount, VAT, customer, draft"}


def _dc_column(rows, run) -> dict:
    """The difference in the division's currency, beside the row's own, when a row on the page is in
    another currency: the list is sorted by it (1,000 SEK is not larger than 500 EUR)."""
    cur = run.get("currency")
    if not rows.height or "difference_dc" not in rows.columns or not (set(rows["currency"].drop_nulls()) - {cur}):
        return {"difference_dc": None}
    return labelled(rows, {"difference_dc": f"Difference ({cur or 'division currency'})"},
                    {"difference_dc": "Exact − shop, gross, in the division's currency: what the list is sorted by"})


def _readable_table(frame) -> None:
    table(frame, column_config=labelled(frame, readable(frame)))


def page() -> None:
    st.title("Differences")
    run = require_run()
    run_id = run["run_id"]
    choices = view("difference_choices", run_id)

    def _first_page() -> None:
        st.session_state.pop("diff_page", None)

    f1, f2, f3, f4 = st.columns([2, 2, 1, 1])
    statuses = f1.multiselect("Status", choices["statuses"], format_func=views.status_label, key="f_status", on_change=_first_page)
    conditions = f2.multiselect("Found", choices["conditions"], format_func=views.status_label, key="f_found",
                           on_change=_first_page,
                           help="Rows on which this was found: as their status, or besides it (an amount that "
                                "differs on a document booked twice, say)")
    countries = f3.multiselect("Country", choices["countries"], key="f_country", on_change=_first_page)
    min_amount = f4.number_input("Min. |amount|", min_value=0.0, value=0.0, step=10.0, key="f_amount", on_change=_first_page,
                                 help="Smallest |Exact − shop| gross, in the division's currency.")
    search = st.text_input("Search", key="f_search", on_change=_first_page,
                           placeholder="Reference, document number or explanation, e.g. 10254",
                           help="Finds matched documents too, so a document that is not listed is not in the run.")
    filters = views.DiffFilters(statuses=tuple(statuses), conditions=tuple(conditions), countries=tuple(countries),
                                min_amount=str(min_amount) if min_amount else None, shop=shop_filter(),
                                search=search.strip() or None, division=picked()["division"])

    offset = (int(st.session_state.get("diff_page", 1)) - 1) * views.PAGE_SIZE
    page = view("differences_page", run_id, filters, limit=views.PAGE_SIZE, offset=offset)
    selection: set = st.session_state.setdefault("push_selection", set())

    found = (f"{page.total:,} result(s) for “{filters.search}” (matched documents included)" if filters.search
             else f"{page.total:,} difference(s)")
    st.caption(f"{found} · page {page.number} of {page.pages} · {len(selection):,} selected for push")
    event = table(
        page.rows,
        on_select="rerun",
        selection_mode="multi-row",
        key="diff_table",
        column_config={**labelled(page.rows, DIFF_COLUMNS, DIFF_HELP), "result_key": None, **_dc_column(page.rows, run),
                       "date": st.column_config.DateColumn(
                           "Date", format="YYYY-MM-DD",
                           help="The shop document's date; for an Exact entry without one, the entry's date")},
    )
    pager("diff_page", page.total, views.PAGE_SIZE)

    picked_rows = [page.rows["result_key"][i] for i in (event.selection.rows if event else [])]
    b1, b2, b3 = st.columns(3)
    if b1.button(f"Add {len(picked_rows)} ticked row(s) to the push selection", disabled=not picked_rows, key="add_ticked"):
        selection.update(picked_rows)
        st.rerun()
    pushable = view("pushable_keys", run_id, filters)
    if b2.button(f"Select all {len(pushable):,} pushable in this filter", disabled=not pushable, key="select_all"):
        selection.update(pushable)
        st.rerun()
    if b3.button("Clear selection", disabled=not selection, key="clear_selection"):
        selection.clear()
        st.rerun()
    if selection:
        st.page_link("pages/push.py", label=f"Review the push of {len(selection):,} selected →", icon=":material/upload:")

    st.subheader("Drill-down")
    if page.rows.height:
        key = st.selectbox("Document", page.rows["result_key"].to_list(), key="drill_key",
                           format_func=lambda k: views.result_title(page.rows, k))
        detail = view("document_detail", run_id, key)
        if detail is None:
            st.warning("This document is no longer in the run.")
        else:
            st.markdown(f"**{detail['status_label']}** · cause: **{detail['cause_label']}**"
                        + (f" · {detail['explanation']}" if detail.get("explanation") else ""))
            if len(detail["flags"]) > 1:
                st.caption("Also found: " + ", ".join(views.status_label(f) for f in detail["flags"] if f != detail["status"]))
            left, right = st.columns(2)
            with left:
                st.markdown("##### Shop document")
                if detail["shop"] is None:
                    st.caption("No shop document (only in Exact).")
                else:
                    table(detail["shop"], column_config=labelled(detail["shop"], readable(detail["shop"])))
                    _readable_table(detail["shop_lines"])
            with right:
                st.markdown("##### Exact entry")
                if detail["exact"] is None:
                    st.caption("No entry in Exact.")
                else:
                    _readable_table(detail["exact"])
                    _readable_table(detail["exact_lines"])
            if detail["comparison"] is not None and detail["comparison"].height:
                st.markdown("##### Per VAT rate (shop vs Exact)")
                _readable_table(detail["comparison"])


guarded(page)
