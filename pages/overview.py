"""Overview: the month at a glance for the picked period, division and shop."""

import plotly.express as px
import streamlit as st

from exactsync import views
from exactsync.ui import (clear_caches, get_settings, get_store, picked, progress_status, remember_pull, show_error,
                          show_pull_failures, table)
from exactsync.ui.data import require_run, shop_filter, view
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


def page() -> None:
    st.title("Overview")
    run = require_run(missing=None)
    show_pull_failures(run)

    left, right = st.columns([3, 1])
    with right:
        if st.button("Pull & reconcile", type="primary", icon=":material/refresh:", key="refresh"):
            try:
                with progress_status("Pulling and reconciling…") as on_progress:
                    remember_pull(views.refresh(get_store(), get_settings(), picked()["period"],
                                                on_progress=on_progress))
                st.session_state.pop("run_id", None)  # a run reopened on Runs & export: show the new one
                clear_caches()
                st.rerun()
            except Exception as e:  # noqa: BLE001
                show_error(e)

    if run is None:
        st.info("No reconciliation for this period yet: press **Pull & reconcile**.")
        st.stop()

    with left:
        st.caption(f"Run {run['run_id']} · period {run['period']} · reconciled {run['created_at']:%Y-%m-%d %H:%M} UTC"
                   + (f" · division {picked()['division']}" if len(run.get("divisions") or []) > 1 else ""))
        changes = view("run_changes", run["run_id"])  # e.g. after a push and a new pull: what it fixed
        if changes:
            st.caption(changes)
    for warning in run.get("warnings") or []:  # e.g. a shop not pulled since the period ended
        # a sentence starts with a capital, unless it starts with a shop's name ("woo-demo: …")
        named = any(warning.startswith(f"{shop}:") or warning.startswith(f"{shop} ") for shop in run.get("shops") or [])
        st.warning(warning if named else warning[:1].upper() + warning[1:], icon=":material/schedule:")

    shop, division = shop_filter(), picked()["division"]
    s = view("overview", run["run_id"], shop=shop, division=division)
    c = st.columns(5)
    extra = (f" The differences also count {s['exact_only']:,} Exact entr{'y' if s['exact_only'] == 1 else 'ies'} "
             f"without a shop document of the period." if s["exact_only"] else "")
    c[0].metric("Documents", f"{s['documents']:,}", help="Shop documents dated in the period." + extra)
    c[1].metric("Matched", f"{s['matched_share']:.1%}" if s["documents"] else "—",
                help="Of the shop documents, matched or within tolerance." + ("" if s["documents"] else
                                                                               " No shop document here."))
    c[2].metric("Differences", f"{s['differences']:,}",
                help="Rows that are not matched: shop documents"
                     + (f", and {s['exact_only']:,} only in Exact or booked for another month's document."
                        if s["exact_only"] else "."))
    cur = views.currency_symbol(run["currency"])
    left_out = (f" {s['dc_unknown']:,} difference(s) without an amount in {run['currency'] or 'the division currency'}"
                " are left out." if s["dc_unknown"] else "")
    c[3].metric("Amount of differences", views.fmt_money(s["difference_amount"], cur),
                help="Σ |Exact − shop| gross over the differences, in the division's currency." + left_out)
    c[4].metric("VAT difference", views.fmt_money(s["vat_difference"], cur),
                help="Exact − shop, over the differences, in the division's currency." + left_out)

    if run.get("exchange_note") and shop is None:  # matched documents in GBP, SEK, …: why the EUR totals differ
        st.caption(f"Exchange rates: {run['exchange_note']}.")

    pulls = view("last_pulls")
    if pulls.height:
        cols = st.columns(min(4, pulls.height))
        for i, row in enumerate(pulls.iter_rows(named=True)):
            when = row["last_success_at"]
            cols[i % len(cols)].metric(f"Last pull · {row['source']}", f"{when:%d %b %H:%M}" if when else "never",
                                       help="Last successful pull, in UTC")

    by_status = view("amounts_by_status", run["run_id"], shop=shop, division=division)
    by_day = view("differences_by_day", run["run_id"], shop=shop, division=division)
    g1, g2 = st.columns(2)
    with g1:
        st.subheader("Amounts by status and cause")
        chart, ok_docs, ok_amount = views.status_chart_frame(by_status)
        if ok_docs:  # drawn beside the differences, matched documents would leave them invisible
            st.caption(f"Matched and within tolerance, not drawn: {ok_docs:,} documents, "
                       f"{views.fmt_money(ok_amount, cur)}.")
        if chart.height:
            fig = px.bar(chart, y="status_label", x="amount_chart", color="cause_label", orientation="h",
                         color_discrete_map=views.status_colours(),
                         hover_data=["documents"],
                         labels={"status_label": "Status", "amount_chart": f"Gross amount ({run['currency'] or 'division currency'})",
                                 "cause_label": "Cause",
                                 "documents": "Documents"})
            fig.update_layout(showlegend=False, yaxis={"categoryorder": "total ascending"})
            st.plotly_chart(fig, width="stretch", key="chart_status")
    with g2:
        st.subheader("Differences by day")
        if by_day.height:
            fig = px.bar(by_day, x="day", y="differences", color="status_label", color_discrete_map=views.status_colours(),
                         labels={"day": "Date", "differences": "Differences", "status_label": "Status"})
            fig.update_layout(yaxis=views.count_axis(by_day))
            st.plotly_chart(fig, width="stretch", key="chart_day")
        else:
            st.success("No differences in this period.")

    st.subheader("Per status")
    amount = f"Amount ({run['currency']})" if run["currency"] else "Amount"
    table(by_status.select("status_label", "cause_label", "documents", "amount")
          .rename({"status_label": "Status", "cause_label": "Cause", "documents": "Documents", "amount": amount}),
          column_config={"Documents": st.column_config.NumberColumn("Documents", format="%,d")})


guarded(page)
