"""Pieces every shop connector shares: paginator protocol, pull result, record errors, canonical rows.

Canonical tables are described in ``docs/store.md`` (``shop_documents``, ``shop_vat_lines``).
Sign convention: sales sign, invoices positive, credit notes negative. Money is ``Decimal``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, Callable, Sequence

from exactsync.money import MoneyError, parse_amount

__all__ = [
    "DOCUMENT_COLUMNS",
    "VAT_LINE_COLUMNS",
    "Paginator",
    "ProgressCallback",
    "PullResult",
    "RecordError",
    "ShopDocument",
    "VatLine",
    "check_totals",
    "doc_key",
    "money",
    "log_record_error",
    "forget_rejects",
    "write_documents",
    "remove_documents",
    "CREDENTIALS",
    "require_settings",
    "shaped_detail",
    "cursor_unless_reshaped",
    "note_reread",
]

#: ``on_progress(done, total, message)``; total may be ``None`` while unknown.
ProgressCallback = Callable[[int, "int | None", str], None]

_Q4 = Decimal("0.0001")


class RecordError(ValueError):
    """One API record could not be turned into canonical rows; the pull goes on without it."""

    def __init__(self, record_key: str, message: str, detail: str | None = None) -> None:
        super().__init__(f"{record_key}: {message}")
        self.record_key = record_key
        self.message = message
        self.detail = detail
        #: the document it would have been, when it can be named: (shop, doc_key, kind, number, order id)
        self.document: tuple[str, str, str, str, str | None] | None = None

    def about(self, shop: str, kind: str, source_id: Any, number: Any, order_id: Any = None) -> "RecordError":
        """Name the shop document this record would have been (``shop_rejects``, migration 0200):
        a reconciliation then explains an Exact entry with its reference. Returns itself."""
        if source_id not in (None, "") and number not in (None, ""):
            self.document = (shop, doc_key(shop, kind, source_id), kind, str(number),
                             None if order_id in (None, "") else str(order_id))
        return self


def money(value: Any, what: str, record_key: str = "") -> Decimal:
    """A wire amount at full precision for a connector (empty/None is 0); a bad one is a
    :class:`RecordError` for ``record_key``. The rules are :func:`exactsync.money.parse_amount`'s."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return parse_amount(value, what)
    except MoneyError as exc:
        raise RecordError(record_key, str(exc)) from None


def doc_key(shop: str, kind: str, source_id: Any) -> str:
    return f"{shop}:{kind}:{source_id}"


@dataclass
class ShopDocument:
    """One ``shop_documents`` row. Field order = column order."""

    doc_key: str
    shop: str
    source: str
    kind: str  # 'invoice' | 'credit_note'
    source_id: str
    doc_number: str
    order_id: str
    order_number: str
    doc_date: dt.date
    created_at: dt.datetime | None
    modified_at: dt.datetime | None
    currency: str
    base_currency: str | None
    fx_rate: Decimal | None
    customer_ref: str | None
    customer_name: str | None
    customer_email: str | None
    company: str | None
    billing_country: str | None
    ship_country: str | None
    vat_country: str | None
    vat_number: str | None
    treatment: str
    net: Decimal
    vat: Decimal
    gross: Decimal
    net_base: Decimal | None
    vat_base: Decimal | None
    gross_base: Decimal | None
    shipping_net: Decimal
    discount_net: Decimal
    status: str
    pulled_at: dt.datetime

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in DOCUMENT_COLUMNS)

    def as_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in DOCUMENT_COLUMNS}


@dataclass
class VatLine:
    """One ``shop_vat_lines`` row. Field order = column order."""

    doc_key: str
    line_no: int
    line_type: str  # 'goods' | 'shipping' | 'fee' | 'adjustment'
    tax_class: str
    country: str | None
    rate: Decimal
    treatment: str
    base: Decimal
    vat: Decimal

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in VAT_LINE_COLUMNS)

    def as_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in VAT_LINE_COLUMNS}


DOCUMENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ShopDocument))
VAT_LINE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(VatLine))


def check_totals(doc: ShopDocument, lines: list[VatLine]) -> None:
    """Raise :class:`RecordError` unless Σ base = net and Σ vat = vat (to 4 decimals)."""
    base = sum((line.base for line in lines), Decimal(0))
    vat = sum((line.vat for line in lines), Decimal(0))
    if base.quantize(_Q4) != doc.net.quantize(_Q4) or vat.quantize(_Q4) != doc.vat.quantize(_Q4):
        raise RecordError(
            doc.doc_key,
            "VAT lines do not add up to the document",
            f"lines base {base} vat {vat}; document net {doc.net} vat {doc.vat}",
        )


def remove_documents(con: Any, keys: list[str]) -> None:
    """Delete documents ``keys`` and their VAT lines, inside the caller's ``store.atomic()``; saved
    runs keep what they showed of them first (the counterpart of :func:`write_documents`)."""
    from exactsync.store.saved_runs import keep_runs_for_removed_documents

    if not keys:
        return
    keep_runs_for_removed_documents(con, keys)
    con.execute("DELETE FROM shop_vat_lines WHERE doc_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
    con.execute("DELETE FROM shop_documents WHERE doc_key IN (SELECT unnest(?::VARCHAR[]))", [keys])


def write_documents(con: Any, docs: list[ShopDocument], lines: list[VatLine]) -> None:
    """Upsert documents and replace all their VAT lines, inside the caller's ``store.atomic()``."""
    from exactsync.store import Store
    from exactsync.store.saved_runs import keep_runs_for_documents
    from exactsync.store.summaries import refresh_shop_summaries

    if not docs:
        return
    keys = [d.doc_key for d in docs]
    rows = [d.as_dict() for d in docs]
    keep_runs_for_documents(con, rows)  # saved runs keep what they showed of a changed document
    con.execute("DELETE FROM shop_vat_lines WHERE doc_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
    con.execute("DELETE FROM shop_rejects WHERE doc_key IN (SELECT unnest(?::VARCHAR[]))", [keys])  # read now
    Store.upsert_rows(con, "shop_documents", rows, summaries=False)
    if lines:
        Store.upsert_rows(con, "shop_vat_lines", [v.as_dict() for v in lines], summaries=False)
    refresh_shop_summaries(con, keys)  # once, for the documents and their new lines


def log_record_error(con: Any, source: str, error: RecordError, *, run_id: str | None = None,
                     level: str = "error") -> None:
    """One ``sync_log`` row for a record that was skipped (or, level warning, stored with a note); a
    skipped record that names its document (:meth:`RecordError.about`) is kept in ``shop_rejects``."""
    from exactsync.clock import utcnow
    from exactsync.redact import redact
    from exactsync.store import Store

    Store.log_event(con, source, error.message if error.record_key in error.message else f"{error.record_key}: {error.message}",
                    level=level, record_key=error.record_key, run_id=run_id, detail=error.detail)
    if level == "error" and error.document is not None:
        shop, key, kind, number, order_id = error.document
        con.execute("INSERT OR REPLACE INTO shop_rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [key, shop, kind, number, order_id, error.record_key, redact(error.message)[:1000], utcnow()])


def forget_rejects(con: Any, shop: str, order_ids: Sequence[str]) -> None:
    """The documents of ``order_ids`` are no longer expected (their orders left the booked statuses)."""
    if order_ids:
        con.execute("DELETE FROM shop_rejects WHERE shop = ? AND order_id IN (SELECT unnest(?::VARCHAR[]))",
                    [shop, [str(o) for o in order_ids]])


#: the credentials each shop kind cannot be pulled without (besides its ``url``)
CREDENTIALS = {"woocommerce": ("consumer_key", "consumer_secret"), "magento": ("token",)}


def require_settings(store: Any, shop_settings: Any, kind: str) -> None:
    """Refuse, before any call, to pull a shop whose URL or credentials are not set.

    Raises :class:`exactsync.settings.SettingsError` naming each missing setting and where to put
    it, after writing the same message to ``sync_log`` (so a cron run's log shows it). Without
    this an empty key reaches the shop as an empty header, and the answer is a puzzling 401 or a
    protocol error after retries.
    """
    from exactsync.settings import SettingsError, shop_env_var
    from exactsync.store import Store

    name = getattr(shop_settings, "name", "") or "?"
    missing = [key for key in ("url", *CREDENTIALS.get(kind, ())) if not _text(getattr(shop_settings, key, ""))]
    if not missing:
        return
    secrets = [key for key in missing if key != "url"]

    def put(keys: list[str]) -> str:  # "it" / "them" when these are all that is missing, else their names
        return ("it" if len(keys) == 1 else "them") if keys == missing else ", ".join(f"shops.{name}.{k}" for k in keys)

    where = ""
    if "url" in missing:  # a plain setting: exactsync.toml; the credentials are secrets
        where += f" Put {put(['url'])} in exactsync.toml under [shops.{name}] or in {shop_env_var(name, 'url')}."
    if secrets:
        where += (f" Put {put(secrets)} in .streamlit/secrets.toml under [shops.{name}] or in "
                  + " / ".join(shop_env_var(name, key) for key in secrets) + ".")
    message = (f"shop {name!r} cannot be pulled: {', '.join(f'shops.{name}.{key}' for key in missing)} "
               f"{'is' if len(missing) == 1 else 'are'} not set.{where}")
    with store.atomic() as con:
        Store.log_event(con, f"shop:{name}", message, level="error")
    raise SettingsError(message)


def _text(value: Any) -> str:
    return (value.get() if hasattr(value, "get") else str(value or "")).strip()


def shaped_detail(shaping: dict[str, Any]) -> str:
    """The ``sync_state.detail`` a shop cursor is saved with: the settings that shaped the documents
    it covers (statuses, time zone, home country, …), so a later pull can tell they changed."""
    return json.dumps({"settings": shaping}, sort_keys=True, default=str)


def cursor_unless_reshaped(store: Any, source: str, shaping: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The saved cursor of ``source``, or ``None`` when a setting in ``shaping`` changed since it
    was saved; then also what changed (``"statuses: a, b → a, b, c"``).

    An incremental pull only reads what the shop changed since the cursor, so a changed setting
    (a status added to ``statuses``, another ``timezone``) would only reach the documents the shop
    happens to touch again: the pull re-reads the shop from the start instead (rows are upserted).
    A cursor saved before settings were recorded with it is used as it is.
    """
    cursor, saved = store.get_cursor_state(source)
    if cursor is None:
        return None, []
    if not isinstance(saved.get("settings"), dict):
        return cursor, []
    old, new = saved["settings"], json.loads(json.dumps(shaping, default=str))
    changed = [f"{name}: {_shown(old.get(name))} → {_shown(value)}" for name, value in new.items()
               if name in old and old[name] != value]
    return (None, changed) if changed else (cursor, [])


def note_reread(store: Any, result: "PullResult", source: str, run_id: str,
                reread: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Say once that lists (``(name, what changed)`` from :func:`cursor_unless_reshaped`) are read
    from the start because settings changed: a note in ``result`` and an info row in ``sync_log``."""
    from exactsync.store import Store

    reread = [(what, changed) for what, changed in reread if changed]
    if not reread:
        return
    note = (f"settings changed since the last pull ({'; '.join(reread[0][1])}): "
            f"{' and '.join(what for what, _ in reread)} re-read from the start")
    result.notes.append(note)
    with store.atomic() as con:
        Store.log_event(con, source, note, level="info", run_id=run_id)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return "(none)" if value is None or value == "" else str(value)


class Paginator:
    """dlt-style paginator protocol: a request's query params go in, the next page's come out.

    ``init_request(params)`` sets the first page; ``update_state(response, data)`` reads the
    answer; ``has_next_page`` says whether to go on; ``update_request(params)`` moves to the next
    page. Subclasses implement the API's own signal (page numbers, total counts, links).
    """

    has_next_page: bool = True

    def init_request(self, params: dict[str, Any]) -> None:  # pragma: no cover - protocol
        raise NotImplementedError

    def update_state(self, response: Any, data: Any) -> None:  # pragma: no cover - protocol
        raise NotImplementedError

    def update_request(self, params: dict[str, Any]) -> None:  # pragma: no cover - protocol
        raise NotImplementedError


@dataclass
class PullResult:
    """What one pull did."""

    shop: str
    source: str
    run_id: str
    documents: int = 0
    vat_lines: int = 0
    errors: int = 0
    calls: int = 0
    pages: int = 0
    records_seen: int = 0
    cursor: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    messages: list[str] = field(default_factory=list)
    #: what the pull wants its user to know besides the counts (a re-read after a settings change)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.errors == 0
