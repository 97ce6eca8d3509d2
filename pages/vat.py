"""VAT per country: the OSS-shaped comparison of shop and Exact, per treatment."""

import plotly.express as px
import streamlit as st

from exactsync import views
from exactsync.ui import show_error
from exactsync.ui import picked
from exactsync.ui.data import current_run, view
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


def page() -> None:
    st.title("VAT per country")

    try:
        run = current_run()
    except Exception as e:  # noqa: BLE001
        show_error(e)
        st.stop()
    if run is None:
        st.info("No reconciliation for this period yet: press **Pull & reconcile** on the Overview.")
        st.stop()

    table = view("vat_table", run["run_id"], division=picked()["division"])
    if not table.height:
        st.info("No VAT lines in this run.")
        st.stop()
    st.caption(f"Run {run['run_id']} · period {run['period']} · all shops of the run · base and VAT in document "
               "currency · delta = Exact − shop · *other period* = Exact entries of these documents booked in "
               "another period (kept apart)")

    for treatment, title in views.TREATMENT_SECTIONS:
        part = table.filter(table["treatment"] == treatment)
        if not part.height:
            continue
        st.subheader(title)
        t1, t2 = st.columns([3, 2])
        t1.dataframe(part.drop("treatment"), hide_index=True, width="stretch")
        long = views.vat_chart_frame(part)
        t2.plotly_chart(px.bar(long, x="country", y="vat", color="side", barmode="group",
                               labels={"country": "Country", "vat": "VAT", "side": ""}),
                        width="stretch", key=f"vat_chart_{treatment}")


guarded(page)
