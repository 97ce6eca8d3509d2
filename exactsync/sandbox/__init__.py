"""Faithful local sandboxes of Exact Online, WooCommerce and Magento 2 (see docs/sandboxes.md)."""

from exactsync.sandbox.base import SandboxApp, SandboxRequest, SandboxResponse, json_response
from exactsync.sandbox.server import SANDBOXES, ServerThread, load_scenario_apps, serve

__all__ = [
    "SANDBOXES",
    "SandboxApp",
    "SandboxRequest",
    "SandboxResponse",
    "ServerThread",
    "json_response",
    "load_scenario_apps",
    "serve",
]
