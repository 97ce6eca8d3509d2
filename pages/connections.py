"""Connections: Exact Online (OAuth, division, test, token age, headroom) and the shops."""

import streamlit as st

from exactsync import views
from exactsync.ui import get_settings, get_store, is_demo, labelled, readable, served_url, show_error, table
from exactsync.ui.connect import new_state
from exactsync.ui.chrome import guarded, page_chrome

page_chrome()  # no-op under app.py; the chrome when Streamlit runs this file directly


def page() -> None:
    st.title("Connections")

    try:
        settings = get_settings()
    except Exception as e:  # noqa: BLE001
        show_error(e)
        st.stop()

    if is_demo() or settings.demo:
        st.info("The demo is connected to the local sandboxes. To connect your own administration, put an "
                "`exactsync.toml` next to app.py (see `exactsync.toml.example`) and the secrets in "
                "`.streamlit/secrets.toml`, then restart the dashboard.", icon=":material/science:")

    st.header("Exact Online")
    info = views.exact_settings_view(settings)
    st.dataframe(info, hide_index=True, width="stretch")
    mismatch = views.redirect_mismatch(settings.exact.redirect_uri, served_url())
    if mismatch:
        st.warning(mismatch, icon=":material/link_off:")

    ready = bool(settings.exact.client_id) and bool(settings.exact.client_secret)
    if not ready:
        st.warning("Set `exact.client_id` in exactsync.toml and `exact.client_secret` in .streamlit/secrets.toml first.")
    else:
        if st.button("Connect Exact…", key="connect_exact", help="Opens Exact's consent page; Exact sends you back here."):
            st.session_state["authorize_url"] = views.exact_authorize_url(settings, new_state())
        if st.session_state.get("authorize_url"):
            st.link_button("Open Exact Online to authorise", st.session_state["authorize_url"], type="primary")
            st.caption(f"Exact redirects to {settings.exact.redirect_uri} (the app registration's redirect URI).")

    token = views.exact_token_status(settings)
    c = st.columns(3)
    c[0].metric("Connection", "connected" if token["connected"] else "not connected")
    c[1].metric("Token age", views.fmt_age(token.get("access_age")))
    c[2].metric("Refresh token valid", f"{token['refresh_days_left']:.1f} days" if token.get("refresh_days_left") is not None else "—")
    if token.get("warning"):
        st.warning(token["warning"])

    divisions = views.available_divisions(get_store(), settings.exact.divisions)
    if divisions:
        if st.session_state.get("division") not in divisions:
            st.session_state["division"] = divisions[0]
        st.selectbox("Division", divisions, key="conn_division",
                     index=divisions.index(st.session_state["division"]),
                     on_change=lambda: st.session_state.update(division=st.session_state["conn_division"]))

    if st.button("Test connection", key="test_exact", disabled=not token["connected"]):
        try:
            with st.spinner("Asking Exact who we are…"):
                result = views.test_exact(get_store(), settings)
            st.success(f"Connected as {result['user']} · division(s): {result['divisions']}")
            table(result["headroom"], column_config=labelled(result["headroom"], readable(result["headroom"])))
        except Exception as e:  # noqa: BLE001
            show_error(e)

    st.subheader("Rate-limit headroom (last answers from Exact)")
    headroom = views.exact_headroom(get_store())
    if headroom.height:
        table(headroom, column_config=labelled(headroom, readable(headroom)))
    else:
        st.caption("No calls to Exact recorded yet.")

    st.header("Shops")
    if not settings.shops:
        st.info("No shop configured: add a `[shops.<name>]` table to exactsync.toml.")
    for name, shop in settings.shops.items():
        with st.container(border=True):
            st.markdown(f"**{name}** · {shop.kind} · {shop.url or 'no URL'} · division {shop.division or '—'}")
            st.dataframe(views.shop_settings_view(shop), hide_index=True, width="stretch")
            if st.button("Test", key=f"test_shop_{name}"):
                try:
                    with st.spinner(f"Calling {name}…"):
                        st.success(views.test_shop(shop))
                except Exception as e:  # noqa: BLE001
                    show_error(e)


guarded(page)
