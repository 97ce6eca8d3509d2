"""Magento 2 REST sandbox: ``create_app(scenario, clock=None)`` (see docs/sandbox-magento.md)."""

from __future__ import annotations

from typing import Any

from exactsync.clock import Clock
from exactsync.sandbox.magento.app import MagentoSandbox, to_wire

__all__ = ["MagentoSandbox", "create_app", "to_wire"]


def create_app(scenario: dict[str, Any] | None = None, clock: Clock | None = None) -> MagentoSandbox:
    """Build the sandbox from a ``magento.json`` scenario dict."""
    return MagentoSandbox(scenario or {}, clock=clock)
