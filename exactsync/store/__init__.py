"""The DuckDB store (see :mod:`exactsync.store.core` and docs/store.md)."""

from exactsync.store.core import Store, StoreBusyError, StoreError, TableStatus, polars_schema

__all__ = ["Store", "StoreBusyError", "StoreError", "TableStatus", "polars_schema"]
