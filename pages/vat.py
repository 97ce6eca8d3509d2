"""VAT per country: the OSS-shaped comparison of shop and Exact, per treatment."""

import plotly.express as px
import streamlit as st

from exactsync import views
from exactsync.ui import labelled, picked, table
from exactsync.ui.data import require_run, shop_filter, view
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


VAT_COLUMNS = {
    "country": "Country", "rate": "Rate %", "currency": "Currency",
    "shop_base": "Shop base", "shop_vat": "Shop VAT", "exact_base": "Exact base", "exact_vat": "Exact VAT",
    "delta_base": "Δ base", "delta_vat": "Δ VAT",
    "exact_other_period_base": "Exact base, other period", "exact_other_period_vat": "Exact VAT, other period",
    "shop_documents": "Shop documents", "exact_entries": "Exact entries",
}
VAT_HELP = {
    "delta_base": "Exact − shop", "delta_vat": "Exact − shop",
    "exact_other_period_base": "Entries of these documents booked in another period (kept apart)",
    "exact_other_period_vat": "Entries of these documents booked in another period (kept apart)",
}


def page() -> None:
    st.title("VAT per country")
    run = require_run()
    division, shop = picked()["division"], shop_filter()

    frame = view("vat_table", run["run_id"], division=division, shop=shop)
    if not frame.height:
        st.info(f"No VAT lines for shop {shop} in this run." if shop else "No VAT lines in this run.")
        st.stop()
    scope = (f"shop **{shop}**: its documents and the Exact entries matched to them" if shop
             else "all shops of the run, and the Exact entries of no shop")
    st.caption(f"Run {run['run_id']} · period {run['period']} · division {division} · {scope} · base and VAT in "
               "document currency · delta = Exact − shop · *other period* = Exact entries of these documents "
               "booked in another period (kept apart)")
    if shop:
        outside = view("vat_outside_shops", run["run_id"], division=division)
        if outside.height:
            parts = ", ".join(f"{r['results']:,} reference(s), VAT {views.fmt_money(r['exact_vat'], r['currency'])}"
                              for r in outside.iter_rows(named=True))
            st.info(f"Not in this shop's table: Exact bookings with no shop document (*Only in Exact*: {parts}). "
                    "They belong to no shop; pick **All shops** to see them in the totals.",
                    icon=":material/info:")

    for treatment, title in views.treatment_sections(frame["treatment"].unique().to_list()):
        part = frame.filter(frame["treatment"] == treatment)
        if not part.height:
            continue
        st.subheader(title)
        note = views.oss_currency_note(part) if treatment == "oss" else None
        if note:
            st.caption(note)
        shown = part.drop("treatment")
        # the table the full width (its deltas in view without scrolling), the chart under it
        table(shown, column_config=labelled(shown, VAT_COLUMNS, VAT_HELP))
        long = views.vat_chart_frame(part)
        st.plotly_chart(px.bar(long, x="country", y="vat", color="side", barmode="group", height=280,
                               labels={"country": "Country", "vat": "VAT", "side": ""}),
                        width="stretch", key=f"vat_chart_{treatment}")


guarded(page)
