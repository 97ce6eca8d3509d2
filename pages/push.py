"""Push: the plan for the selection, a confirmation dialog, progress with ETA, the outcome."""

import json

import streamlit as st

from exactsync import views
from exactsync.ui import (JOB_LABELS, clear_caches, get_settings, get_store, labelled, progress_status, remember_pull,
                          show_error, show_pull_failures, table)
from exactsync.ui.data import require_run
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


JOB_HELP = {"kind": "create a missing entry; reverse a wrong one; rebook it corrected",
            "existing_status": "The same job in the push ledger, if any (a Synced job is not sent again)"}
EFFECT_COLUMNS = {"period": "Period", "country": "Country", "vat_code": "VAT code", "gl_code": "G/L account",
                  "currency": "Currency",
                  "jobs": "Jobs", "net": "Net", "vat": "VAT"}


def page() -> None:
    st.title("Push")
    run = require_run(missing=None)  # the outcome of a push shows even before a (new) run
    show_pull_failures(run)

    @st.dialog("Push to Exact Online?", width="medium")
    def confirm(count: int, eta: str, division: int | None) -> None:
        st.write(f"This creates **{count:,}** sales entr{'y' if count == 1 else 'ies'} in Exact division "
                 f"**{division}**. Exact never deletes a processed entry: a mistake needs a reversal.")
        st.caption(f"Estimated time: {eta}. Each entry is looked up in Exact before it is posted (a new entry by "
                   "its YourRef, a reversal or rebook by its own marker), so none is ever posted twice.")
        a, b = st.columns(2)
        if a.button(f"Push {count:,} now", type="primary", key="confirm_push"):
            st.session_state["push_confirmed"] = True
            st.rerun()
        if b.button("Cancel", key="cancel_push"):
            st.rerun()

    outcome = st.session_state.get("push_outcome")
    if st.session_state.pop("push_confirmed", False):
        plan = st.session_state.get("push_plan")
        if plan is not None:
            try:
                with progress_status(f"Pushing {plan.count:,} entries to Exact…",
                                     done_label="Push finished") as on_progress:
                    outcome = views.execute_push(get_store(), get_settings(), plan, on_progress=on_progress)
                st.session_state["push_outcome"] = outcome
                st.session_state["push_selection"] = set()
                st.session_state.pop("push_plan", None)
                clear_caches()
            except Exception as e:  # noqa: BLE001
                show_error(e)

    if outcome is not None:
        st.subheader("Outcome")
        counts = outcome.counts
        c = st.columns(3)
        c[0].metric("Synced", counts.get("synced", 0))
        c[1].metric("Already in Exact", counts.get("skipped", 0))
        c[2].metric("Error", counts.get("error", 0))
        fine = not (counts.get("error") or counts.get("not_done") or counts.get("unverified"))
        (st.success if fine else st.warning)(outcome.message)
        table(outcome.jobs, column_config=labelled(outcome.jobs, JOB_LABELS))
        st.caption("Entries created through the API stay open in Exact (Status 20) until someone processes them "
                   "there. An open entry exactsync posted itself is booked as intended, so after *Re-pull and "
                   "re-reconcile* the pushed documents count as *Matched* (open entries made elsewhere stay "
                   "*Draft / not processed in Exact*).")
        if st.button("Re-pull and re-reconcile", type="primary", icon=":material/refresh:", key="repull"):
            try:
                with progress_status("Re-pulling and reconciling…") as on_progress:
                    remember_pull(views.refresh(get_store(), get_settings(), run["period"] if run else None,
                                                on_progress=on_progress))
                st.session_state.pop("push_outcome", None)
                st.session_state.pop("run_id", None)
                clear_caches()
                st.rerun()
            except Exception as e:  # noqa: BLE001
                show_error(e)
        if st.button("Done", key="outcome_done"):
            st.session_state.pop("push_outcome", None)
            st.rerun()
        st.stop()

    selection = sorted(st.session_state.get("push_selection", set()))
    if run is None or not selection:
        st.info("Nothing selected. Pick documents on the **Differences** page (e.g. filter *Missing in Exact*, "
                "tick rows and *Add … to the push selection*, or *Select all pushable*), then come back here.")
        st.page_link("pages/differences.py", label="Go to Differences", icon=":material/difference:")
        st.stop()

    closed_day = st.date_input(
        "Date for entries whose own period is closed", value=None, key="closed_period_date",
        help="Exact refuses entries in a closed period. With a date here (in an open period) such entries are "
             "booked on it instead; the plan lists them. Empty: they are refused.")
    try:
        plan = views.plan(get_store(), get_settings(), run["run_id"], selection, closed_period_date=closed_day)
    except Exception as e:  # noqa: BLE001
        show_error(e)
        st.stop()
    st.session_state["push_plan"] = plan
    for warning in run.get("warnings") or []:  # the run's own: e.g. Exact not pulled since the month ended
        st.warning(f"The run this plan comes from: {warning}", icon=":material/schedule:")

    c = st.columns(4)
    c[0].metric("Entries to create", f"{plan.count:,}")
    c[1].metric("API calls", f"{plan.calls:,}")
    c[2].metric("Estimated time", plan.eta)
    c[3].metric("Left out", f"{plan.refused.height:,}")
    if plan.errors:
        st.error("The plan cannot be pushed until these are fixed (see *Mappings*):\n\n"
                 + "\n".join(f"- {e}" for e in plan.errors[:20]))
    if plan.plan.moved_note:
        st.info(plan.plan.moved_note + ".")
    if plan.plan.collective_b2b_note:
        st.warning(plan.plan.collective_b2b_note + ".")
    if plan.refused.height:
        st.warning("Some selected documents cannot be pushed; they are left out:")
        table(plan.refused, column_config=labelled(plan.refused, {"document": "Document", "reason": "Why"}))

    st.subheader("Effect on totals")
    table(plan.effect, column_config=labelled(plan.effect, EFFECT_COLUMNS))
    if plan.revenue.height:
        st.caption("Revenue booked, per G/L account (net):")
        table(plan.revenue, column_config=labelled(plan.revenue, EFFECT_COLUMNS))
    st.subheader("Entries")
    table(plan.entries, column_config=labelled(plan.entries, JOB_LABELS, JOB_HELP))
    with st.expander("Payload preview (first entries, as sent to Exact)"):
        for payload in plan.payloads[:5]:
            st.code(json.dumps(payload, indent=2, default=str), language="json")

    if st.button(f"Push {plan.count:,} entries…", type="primary", disabled=plan.count == 0 or not plan.ok,
                 key="push_open"):
        confirm(plan.count, plan.eta, plan.division)


guarded(page)
