"""exactsync: is everything the webshop sold booked correctly in Exact Online?

The library behind the dashboard and the CLI. It never imports Streamlit (see exactsync.ui for
the only bridge). Importing it scrubs secrets from every log record of the process.
"""

from exactsync.clock import Clock, FakeClock, SystemClock
from exactsync.errors import ExactsyncError
from exactsync.money import MoneyError, parse_money, to_cents, to_money
from exactsync.redact import install_log_filter, redact
from exactsync.settings import Secret, Settings, SettingsError, load_settings
from exactsync.store import Store, StoreBusyError, StoreError

__version__ = "0.1.0"

install_log_filter()

__all__ = [
    "Clock",
    "ExactsyncError",
    "FakeClock",
    "MoneyError",
    "Secret",
    "Settings",
    "SettingsError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "SystemClock",
    "__version__",
    "install_log_filter",
    "load_settings",
    "parse_money",
    "redact",
    "to_cents",
    "to_money",
]
