"""Exact Online sandbox: OAuth2, rate limits, OData, sales entries and transaction lines.

``create_app(scenario, clock=None)`` builds it from a scenario dict (``exact.json``); see
docs/sandbox-exact.md for the format and the wire behaviour.
"""

from __future__ import annotations

from exactsync.clock import Clock
from exactsync.sandbox.exact.app import ExactSandbox

__all__ = ["ExactSandbox", "create_app"]


def create_app(scenario: dict, clock: Clock | None = None) -> ExactSandbox:
    """Build the Exact sandbox from a scenario dict (the parsed ``exact.json``)."""
    return ExactSandbox(scenario, clock=clock)
