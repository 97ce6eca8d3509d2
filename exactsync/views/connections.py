"""Connections views: settings shown without secrets, Exact token status and tests, shop tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from exactsync.store import Store

__all__ = [
    "exact_settings_view",
    "shop_settings_view",
    "exact_authorize_url",
    "redirect_mismatch",
    "exact_token_status",
    "test_exact",
    "exact_headroom",
    "test_shop",
]


def _configured(value: Any) -> str:
    """Never a secret value: only whether it is set."""
    return "configured ✓" if value else "not set"


def exact_settings_view(settings: Any) -> pl.DataFrame:
    """The Exact settings as (setting, value) rows; secrets shown as 'configured ✓' only."""
    e = settings.exact
    rows = [
        ("Exact host", e.base_url),
        ("Client ID", e.client_id or "not set"),
        ("Client secret", _configured(e.client_secret)),
        ("Redirect URI", e.redirect_uri),
        ("Divisions", ", ".join(str(d) for d in e.divisions) or "not set"),
        ("Sales journal", e.sales_journal),
        ("Token file", _configured(Path(e.token_file).exists())),
    ]
    return pl.DataFrame(rows, schema=["Setting", "Value"], orient="row")


def shop_settings_view(shop: Any) -> pl.DataFrame:
    if shop.kind == "magento":
        creds = [("Access token", _configured(shop.token))]
    else:
        creds = [("Consumer key", _configured(shop.consumer_key)), ("Consumer secret", _configured(shop.consumer_secret))]
    rows = [("URL", shop.url or "not set"), *creds, ("Division", str(shop.division or "—")),
            ("YourRef prefix", shop.reference_prefix or "—"), ("Home country", shop.home_country),
            ("Time zone", shop.timezone)]
    return pl.DataFrame(rows, schema=["Setting", "Value"], orient="row")


def exact_authorize_url(settings: Any, state: str) -> str:
    from exactsync.exact.oauth import authorize_url

    e = settings.exact
    return authorize_url(e.base_url, e.client_id, e.redirect_uri, state=state)


def redirect_mismatch(redirect_uri: str, served_url: str) -> str | None:
    """A warning when Exact would send the browser back to this machine but not to this dashboard:
    ``redirect_uri`` names a loopback host (127.x, localhost, ::1) at another port than
    ``served_url``, the address the dashboard serves at. ``None`` when they agree, and for any other
    host (a reverse proxy's public address is not the port the dashboard listens on)."""
    from urllib.parse import urlsplit

    from exactsync.exact.oauth import is_loopback

    if not is_loopback(redirect_uri):
        return None
    try:
        want = urlsplit(redirect_uri)
        port = want.port or (443 if want.scheme == "https" else 80)
    except ValueError:  # a malformed port: not ours to judge
        return None
    if port == urlsplit(served_url).port:
        return None
    return (f"Exact sends the browser back to {redirect_uri}, but this dashboard serves at {served_url}: after "
            f"consent you would land on another port. Set `exact.redirect_uri` (and the redirect URI of the "
            f"app registration in the Exact App Center) to {served_url}, or serve the dashboard on port {port}.")


def exact_token_status(settings: Any) -> dict:
    """Connected?, token age, refresh-token days left and the 30-day warning (no token values)."""
    from exactsync.exact.oauth import TokenStore

    return TokenStore.from_settings(settings).status().as_dict()


def test_exact(store: Store, settings: Any) -> dict:
    """Ask Exact who we are and which configured divisions answer (same as ``exactsync exact test``)."""
    from exactsync.exact.pull import make_client

    client = make_client(settings, store=store)
    try:
        me = client.me()
        divisions = settings.exact.divisions or [me.get("CurrentDivision")]
        headroom = [{"division": d, **client.limiter.headroom(d).as_dict()} for d in divisions]
    finally:
        client.close()
    return {"user": me.get("FullName") or me.get("UserName"), "divisions": ", ".join(map(str, divisions)),
            "headroom": pl.DataFrame(headroom)}


def exact_headroom(store: Store) -> pl.DataFrame:
    """Last rate-limit headroom Exact reported, per scope (division)."""
    return store.query(
        """
        SELECT scope AS division, max(called_at) AS last_call,
               arg_max(rate_remaining, called_at) AS calls_left_today,
               arg_max(rate_minutely_remaining, called_at) AS calls_left_this_minute
        FROM api_calls WHERE system = 'exact' AND (rate_remaining IS NOT NULL OR rate_minutely_remaining IS NOT NULL)
        GROUP BY scope ORDER BY scope
        """
    )


def test_shop(shop: Any) -> str:
    """One small authenticated GET against the shop; a sentence saying what answered."""
    if shop.kind == "magento":
        from exactsync.shops.magento import MagentoClient

        with MagentoClient(shop.url, shop.token.get(), timeout=shop.timeout, verify=shop.verify_tls) as client:
            data = client.get("invoices", {"searchCriteria[pageSize]": 1, "searchCriteria[currentPage]": 1})
        return f"{shop.name}: Magento answered, {data.get('total_count', '?')} invoice(s) in total."
    from exactsync.shops.woocommerce import WooClient

    client = WooClient(shop.url, shop.consumer_key.get(), shop.consumer_secret.get(), timeout=shop.timeout,
                       verify=shop.verify_tls, max_attempts=2)
    try:
        _, resp = client.get("orders", {"per_page": 1})
    finally:
        client.close()
    return f"{shop.name}: WooCommerce answered, {resp.headers.get('x-wp-total', '?')} order(s) in total."
