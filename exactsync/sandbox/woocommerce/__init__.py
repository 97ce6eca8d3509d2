"""WooCommerce ``wc/v3`` sandbox (reference shop-apis.md Part A, C1). See docs/sandbox-woocommerce.md."""

from __future__ import annotations

from exactsync.clock import Clock
from exactsync.sandbox.woocommerce.app import ORDER_STATUSES, WooCommerceApp
from exactsync.sandbox.woocommerce.auth import ApiKey, oauth_base_string
from exactsync.sandbox.woocommerce.generate import DEMO_KEY, DEMO_READONLY_KEY, generate_scenario, make_key

__all__ = [
    "DEMO_KEY",
    "DEMO_READONLY_KEY",
    "ORDER_STATUSES",
    "ApiKey",
    "WooCommerceApp",
    "create_app",
    "generate_scenario",
    "make_key",
    "oauth_base_string",
]


def create_app(scenario: dict, clock: Clock | None = None) -> WooCommerceApp:
    """Build the sandbox from a scenario dict (the contents of ``woocommerce.json``)."""
    return WooCommerceApp(scenario, clock=clock)
