"""Magento 2 connector: pull invoices and credit memos into ``shop_documents`` / ``shop_vat_lines``.

Usage::

    result = pull_magento(store, settings.shop("magento-main"), on_progress=print)

* REST with an integration token sent as ``Authorization: Bearer`` (shop-apis.md §B1);
* lists paged with ``searchCriteria`` by :class:`TotalCountPaginator`, which stops on
  ``total_count`` (Magento answers the last page again past the end, §B4) and drops ids it has
  already seen;
* incremental by ``updated_at`` (``gteq`` cursor minus a look-back window, sort ``updated_at`` ASC
  then ``entity_id`` ASC), one cursor per document type in ``sync_state``
  (``shop:<name>:invoices``, ``shop:<name>:creditmemos``), saved in the same transaction as the
  rows of each page;
* a record changed while its list is paged shifts the rest (§B4): seen as an id read twice with
  another ``updated_at`` (or fewer records than ``total_count``), the list is read again by
  ``updated_at`` from where it happened (keyset paging, :func:`_pages_by_updated`);
* each page's orders are fetched in one ``entity_id in (...)`` search (country, VAT number,
  customer, item tax percent);
* a record that cannot be mapped becomes one ``sync_log`` error row; the others are stored.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx2

from exactsync.clock import SYSTEM_CLOCK, Clock
from exactsync.errors import EXIT_AUTH, ExactsyncError
from exactsync.redact import register_secret
from exactsync.shops.base import (
    Paginator,
    ProgressCallback,
    PullResult,
    RecordError,
    cursor_unless_reshaped,
    log_record_error,
    note_reread,
    require_settings,
    shaped_detail,
    write_documents,
)
from exactsync.shops.magento_docs import build_document
from exactsync.store import Store

__all__ = [
    "MagentoError",
    "MagentoAuthError",
    "MagentoClient",
    "TotalCountPaginator",
    "pull_magento",
    "search_params",
    "CURSOR_FORMAT",
]

CURSOR_FORMAT = "%Y-%m-%d %H:%M:%S"
_RETRY_STATUS = {429, 500, 502, 503, 504}


class MagentoError(ExactsyncError):
    """Magento answered with an error we cannot work around (message is safe to show)."""


class MagentoAuthError(MagentoError):
    """401/403: the token is missing, wrong, revoked or lacks the ACL resource."""

    exit_code = EXIT_AUTH


def _render(body: Any) -> str:
    """Magento ``{message, parameters}`` with placeholders substituted (§B2)."""
    if not isinstance(body, dict) or "message" not in body:
        return str(body)[:200]
    msg = str(body["message"])
    params = body.get("parameters")
    if isinstance(params, dict):
        for k, v in params.items():
            msg = msg.replace(f"%{k}", str(v))
    elif isinstance(params, list):
        for i, v in enumerate(params, 1):
            msg = msg.replace(f"%{i}", str(v))
    return msg


@dataclass
class CallRecord:
    at: dt.datetime
    method: str
    url: str
    status: int | None
    duration_ms: int
    error: str | None


class MagentoClient:
    """GETs against ``<url>/rest/V1`` with a Bearer token, retries on 5xx/429/network errors."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 60.0,
        verify: bool = True,
        clock: Clock | None = None,
        max_attempts: int = 5,
        backoff: float = 0.5,
    ) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.calls: list[CallRecord] = []
        root = base_url.rstrip("/")
        if not root.endswith("/rest"):
            root += "/rest"
        kwargs: dict[str, Any] = {"base_url": root + "/V1", "timeout": timeout, "headers": {"Accept": "application/json"}}
        if transport is not None:
            kwargs["transport"] = transport
        else:
            kwargs["verify"] = verify
        self._client = httpx2.Client(**kwargs)
        register_secret(token)
        self._auth = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "MagentoClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def take_calls(self) -> list[CallRecord]:
        calls, self.calls = self.calls, []
        return calls

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and decode JSON (amounts as Decimal); raise :class:`MagentoError` on failure."""
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            started = time.monotonic()
            at = self.clock.now().replace(tzinfo=None)
            try:
                resp = self._client.get(path, params=params, headers=self._auth)
            except httpx2.TransportError as e:
                ms = int((time.monotonic() - started) * 1000)
                url = str(self._client.base_url).rstrip("/") + path
                last = f"network error: {type(e).__name__}"
                self.calls.append(CallRecord(at, "GET", url, None, ms, last))
                if attempt < self.max_attempts:
                    self.clock.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise MagentoError(f"Magento did not answer GET {path} after {attempt} attempts ({last})") from None
            ms = int((time.monotonic() - started) * 1000)
            url = str(resp.request.url)
            status = resp.status_code
            body: Any = None
            try:
                body = json.loads(resp.content, parse_float=Decimal) if resp.content else None
            except ValueError:
                body = None
            error = None if status < 400 else (_render(body) if body is not None else f"HTTP {status}")
            self.calls.append(CallRecord(at, "GET", url, status, ms, error))
            if status < 400:
                if body is None and resp.content:
                    raise MagentoError(f"Magento answered GET {path} with something that is not JSON")
                return body
            if status in (401, 403):
                raise MagentoAuthError(
                    f"Magento refused the token ({status}: {error}). Check the integration's access token, its "
                    "API permissions (Sales, Tax), and that 'Allow OAuth Access Tokens to be used as standalone "
                    "Bearer tokens' is enabled (Stores > Configuration > Services > OAuth)."
                )
            last = f"HTTP {status}: {error}"
            if status in _RETRY_STATUS and attempt < self.max_attempts:
                wait = self.backoff * 2 ** (attempt - 1)
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = max(wait, float(retry_after))
                self.clock.sleep(wait)
                continue
            raise MagentoError(f"Magento answered GET {path} with {last}")
        raise MagentoError(f"Magento answered GET {path} with {last}")  # pragma: no cover


def search_params(
    groups: list[list[tuple[str, str, str]]] = (),  # type: ignore[assignment]
    sort: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> dict[str, str]:
    """``searchCriteria`` query params: filters OR'ed inside a group, groups AND'ed."""
    p: dict[str, str] = {}
    for gi, group in enumerate(groups):
        for fi, (field, value, cond) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{gi}][filters][{fi}]"
            p[f"{prefix}[field]"] = field
            p[f"{prefix}[value]"] = value
            p[f"{prefix}[condition_type]"] = cond
    for si, (field, direction) in enumerate(sort):
        p[f"searchCriteria[sortOrders][{si}][field]"] = field
        p[f"searchCriteria[sortOrders][{si}][direction]"] = direction
    return p


class TotalCountPaginator(Paginator):
    """Page numbers with ``searchCriteria[pageSize]``/``[currentPage]``; stop on ``total_count``.

    Never trusts a page past the end (Magento may repeat the last page): it stops once
    ``current_page * page_size >= total_count`` (the first page's count; a shrinking count stops
    sooner), on an empty page, or on a page with no id it has not seen. ``fresh`` holds the
    page's items minus ids already seen (by ``entity_id``), ``items`` all of them; ``past_end``
    says the list ended on an empty or repeated page (so ``total_count`` was too high) rather
    than on the count.
    """

    def __init__(self, page_size: int = 100, id_field: str = "entity_id") -> None:
        self.page_size = max(1, min(int(page_size), 300))
        self.id_field = id_field
        self.page = 1
        self.total: int | None = None
        self.seen: set[Any] = set()
        self.fresh: list[dict[str, Any]] = []
        self.items: list[Any] = []
        self.has_next_page = True
        self.past_end = False

    def init_request(self, params: dict[str, Any]) -> None:
        self.page = 1
        params["searchCriteria[pageSize]"] = str(self.page_size)
        params["searchCriteria[currentPage]"] = "1"

    def update_state(self, response: Any, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise MagentoError("Magento answered a search without an items list")
        items = data["items"]
        try:
            total = int(data.get("total_count"))
        except (TypeError, ValueError):
            raise MagentoError("Magento answered a search without total_count") from None
        self.total = total if self.total is None else min(self.total, total)
        fresh = []
        for it in items:
            ident = it.get(self.id_field) if isinstance(it, dict) else None
            if ident is not None and ident in self.seen:
                continue
            if ident is not None:
                self.seen.add(ident)
            fresh.append(it)
        self.fresh = fresh
        self.items = items
        if not items or not fresh:
            self.has_next_page, self.past_end = False, True
        elif self.page * self.page_size >= self.total:
            self.has_next_page = False

    def update_request(self, params: dict[str, Any]) -> None:
        self.page += 1
        params["searchCriteria[currentPage]"] = str(self.page)


def _secret(value: Any) -> str:
    return value.get() if hasattr(value, "get") else str(value or "")


_KINDS = (
    ("invoice", "/invoices", "invoices"),
    ("credit_note", "/creditmemos", "creditmemos"),
)


def _fetch_orders(client: MagentoClient, ids: list[int], page_size: int) -> dict[int, dict[str, Any]]:
    """Orders by entity id, one search per chunk (``entity_id in (...)``)."""
    out: dict[int, dict[str, Any]] = {}
    chunk = max(1, min(page_size, 300))
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        params = search_params([[("entity_id", ",".join(str(i) for i in part), "in")]], [("entity_id", "ASC")])
        pager = TotalCountPaginator(chunk)
        pager.init_request(params)
        while True:
            data = client.get("/orders", params)
            pager.update_state(None, data)
            for o in pager.fresh:
                if isinstance(o, dict) and o.get("entity_id") is not None:
                    try:
                        out[int(o["entity_id"])] = o
                    except (TypeError, ValueError):
                        continue
            if not pager.has_next_page:
                break
            pager.update_request(params)
    return out


_SORT = [("updated_at", "ASC"), ("entity_id", "ASC")]


def _pages(client: MagentoClient, path: str, params: dict[str, str], pager: TotalCountPaginator) -> Iterator[list[Any]]:
    """Every item of each page (``pager.items``: the caller tells a record read again from one
    that changed meanwhile); the pager decides where the list ends."""
    pager.init_request(params)
    while True:
        data = client.get(path, params)
        pager.update_state(None, data)
        yield pager.items
        if not pager.has_next_page:
            return
        pager.update_request(params)


def _pages_by_updated(client: MagentoClient, path: str, page_size: int, since: str | None) -> Iterator[list[Any]]:
    """Yield the pages of the list sorted ``updated_at ASC, entity_id ASC``, each asked for as
    page 1 of ``updated_at gteq <the last updated_at read>`` (inclusive: the overlap is read
    again), so that no change made while listing can make it skip a record (keyset paging).

    A page whose records all share one ``updated_at`` is followed by the next page number of that
    same window. Ends on a short or empty page, on ``total_count`` within a window, or on a page
    that brings nothing this listing has not read (Magento repeats the last page past the end).
    """
    size = max(1, min(int(page_size), 300))
    after, page = since, 1
    read: set[tuple[Any, Any]] = set()
    while True:
        params = search_params([[("updated_at", after, "gteq")]] if after else [], _SORT)
        params["searchCriteria[pageSize]"] = str(size)
        params["searchCriteria[currentPage]"] = str(page)
        data = client.get(path, params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise MagentoError("Magento answered a search without an items list")
        items = data["items"]
        keys = {(d.get("entity_id"), d.get("updated_at")) if isinstance(d, dict) else (None, id(d)) for d in items}
        if page > 1 and keys <= read:
            return  # past the end of the window: the last page again
        read |= keys
        yield items
        if len(items) < size:
            return
        last = max((d["updated_at"] for d in items if isinstance(d, dict) and isinstance(d.get("updated_at"), str)
                    and _valid_stamp(d["updated_at"])), default=None)
        if last is None or (after is not None and last <= after):
            total = _safe_int(data.get("total_count"))
            if total is not None and page * size >= total:
                return
            page += 1
        else:
            after, page = last, 1


def pull_magento(
    store: Store,
    shop_settings: Any,
    *,
    transport: httpx2.BaseTransport | None = None,
    clock: Clock | None = None,
    on_progress: ProgressCallback | None = None,
    full: bool = False,
) -> PullResult:
    """Pull new and changed invoices and credit memos of one Magento shop into the store.

    ``full=True`` ignores the saved cursors (re-reads everything; rows are upserted).
    Raises :class:`MagentoError` when the shop cannot be read; pages already stored stay stored.
    """
    clock = clock or SYSTEM_CLOCK
    shop = shop_settings.name
    source = f"shop:{shop}"
    run_id = uuid.uuid4().hex[:12]
    result = PullResult(shop=shop, source="magento", run_id=run_id, started_at=clock.now().replace(tzinfo=None))
    page_size = int(getattr(shop_settings, "page_size", 100) or 100)
    lookback = dt.timedelta(minutes=int(getattr(shop_settings, "lookback_minutes", 1440) or 0))
    home = getattr(shop_settings, "home_country", "NL") or "NL"
    tz = getattr(shop_settings, "timezone", "UTC") or "UTC"
    progress: ProgressCallback = on_progress or (lambda done, total, message: None)
    require_settings(store, shop_settings, "magento")
    client = MagentoClient(
        shop_settings.url, _secret(shop_settings.token), transport=transport,
        timeout=float(getattr(shop_settings, "timeout", 60.0)), verify=bool(getattr(shop_settings, "verify_tls", True)),
        clock=clock,
    )

    def flush_calls(con: Any) -> None:
        for c in client.take_calls():
            parts = urlsplit(c.url)
            Store.record_api_call(
                con, system="magento", method=c.method, url=urlunsplit(("", "", parts.path, parts.query, "")), status=c.status, duration_ms=c.duration_ms,
                scope=shop, error=c.error, at=c.at,
            )
            result.calls += 1

    # what shapes the documents: a change re-reads the shop from the start (see cursor_unless_reshaped)
    shaping = {"home_country": home, "timezone": str(tz)}
    detail = shaped_detail(shaping)
    try:
        # 1. where to start, and how much there is (for progress)
        plans = []
        reshaped: list[tuple[str, list[str]]] = []
        for kind, path, name in _KINDS:
            scope_source = f"{source}:{name}"
            cursor, changed = (None, []) if full else cursor_unless_reshaped(store, scope_source, shaping)
            reshaped.append(("invoices" if kind == "invoice" else "credit memos", changed))
            groups: list[list[tuple[str, str, str]]] = []
            start = None
            if cursor:
                start = (dt.datetime.strptime(cursor, CURSOR_FORMAT) - lookback).strftime(CURSOR_FORMAT)
                groups.append([("updated_at", start, "gteq")])
            params = search_params(groups, _SORT)
            count = client.get(path, {**params, "searchCriteria[pageSize]": "1", "searchCriteria[currentPage]": "1",
                                      "fields": "total_count"})
            total = int(count.get("total_count", 0)) if isinstance(count, dict) else 0
            plans.append((kind, path, scope_source, cursor, start, params, total))
        note_reread(store, result, source, run_id, reshaped)
        grand_total = sum(p[6] for p in plans)
        done = 0
        progress(0, grand_total, f"{grand_total} documents to read")

        rate_countries = _rate_countries(client, source, run_id, store, flush_calls)

        # 2. page by page: documents + their orders → rows + cursor in one transaction
        for kind, path, scope_source, cursor, start, params, total in plans:
            if total == 0:
                continue  # nothing changed; a document created since the count comes next run
            pager = TotalCountPaginator(page_size)
            new_cursor = cursor
            label = "invoices" if kind == "invoice" else "credit memos"
            #: entity_id → its updated_at when last read; ids read with another one changed while listing
            read_at: dict[int, Any] = {}
            moved: dict[int, Any] = {}
            relisting = False

            def take(items: list[Any]) -> list[Any]:
                """The records of a page not read before as they are (a re-read's overlap is left out)."""
                kept = []
                for d in items:
                    ident = _safe_int(d.get("entity_id")) if isinstance(d, dict) else None
                    if ident is not None:
                        stamp = d.get("updated_at")
                        if ident in read_at:
                            if read_at[ident] == stamp:
                                continue
                            moved.setdefault(ident, read_at[ident])
                        read_at[ident] = stamp
                    kept.append(d)
                return kept

            def read(pages: Iterator[list[Any]], what: str) -> None:
                nonlocal new_cursor, done
                for number, page in enumerate(pages, 1):
                    items = take(page)
                    result.pages += 1
                    result.records_seen += len(items)
                    order_ids = sorted({o for o in (_safe_int(d.get("order_id")) for d in items if isinstance(d, dict))
                                        if o is not None})
                    orders = _fetch_orders(client, order_ids, page_size) if order_ids else {}
                    docs, lines, errors, warnings = [], [], [], []
                    pulled_at = clock.now().replace(tzinfo=None)
                    for d in items:
                        order = orders.get(_safe_int(d.get("order_id"))) if isinstance(d, dict) else None
                        try:
                            doc, doc_lines, warns = build_document(
                                d, kind, order, shop=shop, home_country=home, timezone=tz, pulled_at=pulled_at,
                                rate_countries=rate_countries)
                        except Exception as e:  # noqa: BLE001 - bad data must never stop the pull
                            if not isinstance(e, RecordError):
                                source_id = _safe_int(d.get("entity_id")) if isinstance(d, dict) else None
                                e = RecordError(f"{shop}:{kind}:{'?' if source_id is None else source_id}",
                                                f"unexpected data ({type(e).__name__}: {e})")
                            if isinstance(d, dict):  # name the document it would have been
                                e.about(shop, kind, _safe_int(d.get("entity_id")), d.get("increment_id"), d.get("order_id"))
                            errors.append(e)
                            continue
                        docs.append(doc)
                        lines.extend(doc_lines)
                        warnings.extend((doc.doc_key, w) for w in warns)
                    for d in page:  # every record of the page, also one read again unchanged
                        stamp = d.get("updated_at") if isinstance(d, dict) else None
                        if isinstance(stamp, str) and (new_cursor is None or stamp > new_cursor) and _valid_stamp(stamp):
                            new_cursor = stamp
                    # once a record moved in the first pass, the cursor stays before its old updated_at
                    # (the record it made the pages skip comes after that) until the second listing
                    olds = [t for t in moved.values() if isinstance(t, str) and _valid_stamp(t)]
                    saved = new_cursor if relisting or not olds else min(new_cursor or min(olds), min(olds))
                    with store.atomic() as con:
                        write_documents(con, docs, lines)
                        for e in errors:
                            log_record_error(con, source, e, run_id=run_id)
                        for rk, w in warnings:
                            Store.log_event(con, source, w, level="warning", record_key=rk, run_id=run_id)
                        Store.set_cursor(con, scope_source, "", saved, rows=len(docs), detail=detail)
                        flush_calls(con)
                    result.documents += len(docs)
                    result.vat_lines += len(lines)
                    result.errors += len(errors)
                    result.messages.extend(f"{e.record_key}: {e.message}" for e in errors)
                    result.cursor = new_cursor
                    done += len(items)
                    progress(min(done, grand_total) if grand_total else done, grand_total, f"{what} page {number}")

            read(_pages(client, path, params, pager), label)
            # Pages are numbered over a list sorted by updated_at: a record changed while it is listed
            # moves to the end and every later one a place up, so one at a page boundary is never read
            # (shop-apis.md §B4). Seen as a record read twice, or fewer records than total_count (when
            # the list ended on the count, not on a repeated page): the records from where it happened
            # are listed again from the last updated_at read (keyset paging, which no change can make
            # skip a record).
            short = not pager.past_end and len(read_at) + len(moved) < total
            if moved or short:
                olds = [t for t in moved.values() if isinstance(t, str) and _valid_stamp(t)]
                restart = min(olds) if olds and not short else start
                # the cursor goes back to where the second listing starts (the first pass moved it past
                # the record it skipped): a second listing cut short is done again by the next pull
                new_cursor, relisting = restart, True
                with store.atomic() as con:
                    Store.log_event(
                        con, source, f"{len(moved)} {label[:-1]}(s) changed while the {label} were listed; {label} "
                        f"listed again from {f'{restart} UTC' if restart else 'the start'} so that none is skipped",
                        level="info", run_id=run_id)
                    Store.set_cursor(con, scope_source, "", restart, detail=detail)
                read(_pages_by_updated(client, path, page_size, restart), f"{label} (listed again)")
        with store.atomic() as con:
            Store.log_event(
                con, source, f"pulled {result.documents} documents, {result.errors} errors", level="info", run_id=run_id,
                detail=f"pages {result.pages}, calls {result.calls + len(client.calls)}",
            )
            flush_calls(con)
    except MagentoError as e:
        with store.atomic() as con:
            Store.log_event(con, source, str(e), level="error", run_id=run_id)
            flush_calls(con)
        raise
    finally:
        client.close()
    result.finished_at = clock.now().replace(tzinfo=None)
    progress(done, grand_total, f"{result.documents} documents stored, {result.errors} errors")
    return result


def _rate_countries(client: MagentoClient, source: str, run_id: str, store: Store, flush_calls: Any) -> dict[str, str]:
    """Applied-tax code → the rate's ``tax_country_id`` (``GET /V1/taxRates/search``, §B10; the
    applied-tax ``code`` on orders is the rate's code). A token without the tax ACL
    (``Magento_Tax::manage_tax``) reads none: one warning, and lines take the ship-to country."""
    out: dict[str, str] = {}
    page = 1
    try:
        while True:
            data = client.get("/taxRates/search", {"searchCriteria[pageSize]": "300", "searchCriteria[currentPage]": str(page)})
            items = data.get("items") if isinstance(data, dict) else None
            if not isinstance(items, list) or not items:
                break
            for r in items:
                if isinstance(r, dict) and r.get("code") and r.get("tax_country_id"):
                    out[str(r["code"])] = str(r["tax_country_id"]).upper()
            total = _safe_int(data.get("total_count"))
            if len(items) < 300 or total is None or page * 300 >= total:
                break
            page += 1
    except MagentoAuthError:
        # a lasting state of the token (no tax ACL): said once per pull, and the lines take the
        # ship-to country. Any other failure stops the pull before a document is written (with
        # rates missing for one pull, its documents would keep the wrong country for good).
        with store.atomic() as con:
            Store.log_event(con, source, "the integration token cannot read the tax rates (Magento_Tax::manage_tax): "
                            "a line's VAT country is taken as the ship-to country, also where the shop charged its "
                            "home country's rate", level="warning", run_id=run_id)
            flush_calls(con)
        return {}
    return out


def _safe_int(v: Any) -> int | None:
    try:
        return int(v) if v is not None and not isinstance(v, bool) else None
    except (TypeError, ValueError):
        return None


def _valid_stamp(s: str) -> bool:
    try:
        dt.datetime.strptime(s, CURSOR_FORMAT)
        return True
    except ValueError:
        return False

