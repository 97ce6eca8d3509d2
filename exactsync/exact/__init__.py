"""Exact Online connector: OAuth token store, rate limiter, REST client and the pull (docs/exact.md)."""

from exactsync.exact.client import ExactApiError, ExactClient, ExactParams, ODataPages, parse_exact_date
from exactsync.exact.oauth import ReauthorizationNeeded, TokenError, TokenStore, authorize_url
from exactsync.exact.pull import PullResult, make_client, pull_exact
from exactsync.exact.ratelimit import DailyLimitReached, Headroom, RateLimiter

__all__ = [
    "DailyLimitReached",
    "ExactApiError",
    "ExactClient",
    "ExactParams",
    "Headroom",
    "ODataPages",
    "PullResult",
    "RateLimiter",
    "ReauthorizationNeeded",
    "TokenError",
    "TokenStore",
    "authorize_url",
    "make_client",
    "parse_exact_date",
    "pull_exact",
]
