"""Shop connectors (WooCommerce, Magento 2): pull orders, invoices and refunds into canonical rows.

Shared pieces live in :mod:`exactsync.shops.base` (paginator protocol, :class:`PullResult`,
per-record errors, canonical row builders). Connectors are imported lazily by name.
"""

from exactsync.shops.base import (
    DOCUMENT_COLUMNS,
    VAT_LINE_COLUMNS,
    Paginator,
    PullResult,
    RecordError,
    ShopDocument,
    VatLine,
    doc_key,
    money,
    log_record_error,
    write_documents,
)

__all__ = [
    "DOCUMENT_COLUMNS",
    "VAT_LINE_COLUMNS",
    "Paginator",
    "PullResult",
    "RecordError",
    "ShopDocument",
    "VatLine",
    "doc_key",
    "money",
    "log_record_error",
    "write_documents",
]
