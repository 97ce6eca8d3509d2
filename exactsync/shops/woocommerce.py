"""WooCommerce connector: orders → invoices, refunds → credit notes (canonical rows in DuckDB).

* Auth as the official client: HTTP Basic over ``https://``, OAuth 1.0a one-legged (Authlib
  ``OAuth1Auth``, HMAC-SHA256, signature in the query string) over plain ``http://``.
* Orders: ``/orders?orderby=modified&order=asc&dates_are_gmt=true&status=<configured>``; the first
  page gives ``X-WP-TotalPages``, the rest is fetched by a small thread pool and processed in order.
* Incremental: cursor = max ``date_modified_gmt`` seen; the next pull asks ``modified_after`` =
  cursor − ``lookback_minutes`` (naive UTC, ``dates_are_gmt=true``); boundary rows dedupe by key.
* Refunds: ``/refunds`` (WC ≥ 9) with its own created-date cursor, so a refund that did not bump
  the order's ``date_modified`` is still found; parents not in this pull are fetched by
  ``include``. Shops without ``/refunds`` fall back to ``/orders/{id}/refunds`` for pulled orders.
* VAT: per line type × tax class × country × rate; the order's ``tax_lines`` totals are
  authoritative per rate (line taxes are unrounded); a rounding gap between the lines and the
  order total becomes an ``adjustment`` line. Amount-only refunds are allocated pro rata over
  the order's VAT lines (by gross).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import datetime as dt
import html
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import httpx2
from authlib.integrations.httpx_client import OAuth1Auth
from authlib.oauth1.rfc5849.wrapper import OAuth1Request
from authlib.oauth1.rfc5849.signature import generate_signature_base_string

from exactsync.clock import SYSTEM_CLOCK, Clock
from exactsync.errors import EXIT_AUTH, ExactsyncError
from exactsync.shops.base import (
    Paginator,
    ProgressCallback,
    PullResult,
    RecordError,
    ShopDocument,
    VatLine,
    check_totals,
    cursor_unless_reshaped,
    doc_key,
    forget_rejects,
    log_record_error,
    money,
    note_reread,
    remove_documents,
    require_settings,
    shaped_detail,
    write_documents,
)
from exactsync.store import Store
from exactsync.vat import classify_treatment, document_treatment, is_eu

__all__ = [
    "SOURCE",
    "VAT_NUMBER_META_KEYS",
    "WooApiError",
    "WooAuthError",
    "WooClient",
    "WooPagePaginator",
    "OrderContext",
    "TaxRateInfo",
    "order_document",
    "refund_document",
    "pull_woocommerce",
]

SOURCE = "woocommerce"
API_PREFIX = "/wp-json/wc/v3"
#: order meta keys that carry a customer VAT number (reference §A11; first non-empty wins)
VAT_NUMBER_META_KEYS = ("_billing_vat_number", "_vat_number", "vat_number", "_billing_vat_id", "billing_vat_number",
                        "_billing_eu_vat_number")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ORDER_LINES = 5000
_CENT = Decimal("0.01")
_Q4 = Decimal("0.0001")
_ZERO = Decimal(0)
_TAG = re.compile(r"<[^>]*>")
_LINE_ORDER = {"goods": 0, "shipping": 1, "fee": 2, "adjustment": 3}


class WooApiError(ExactsyncError):
    """A WooCommerce call failed for good (after retries). The message never holds secrets."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class WooAuthError(WooApiError):
    exit_code = EXIT_AUTH


# --------------------------------------------------------------------------------------------- auth


def _sign_hmac_sha256(client, request) -> str:
    import base64
    import hashlib
    import hmac

    base = generate_signature_base_string(request)
    key = f"{client.client_secret or ''}&"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()).decode()


class _PlainHttpRequest(OAuth1Request):
    """Authlib's request for signing, without its "OAuth 1 MUST utilize https" refusal: WooCommerce
    accepts OAuth 1.0a only over plain ``http://`` (shop-apis.md A1; over https it wants Basic), so
    a shop on http that is not on this machine could not be read at all. The URI is signed as it is."""

    def __init__(self, method, uri, body=None, headers=None):
        plain = uri.startswith("http://")
        super().__init__(method, "https://" + uri[len("http://"):] if plain else uri, body=body, headers=headers)
        self.uri = uri


class _WooOAuth1(OAuth1Auth):
    """Authlib OAuth1 with HMAC-SHA256 (what the official Woo client uses) and an injected clock."""

    SIGNATURE_METHODS = {**OAuth1Auth.SIGNATURE_METHODS, "HMAC-SHA256": _sign_hmac_sha256}

    def __init__(self, *args, clock: Clock, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_oauth_params(self, nonce, timestamp):
        return super().get_oauth_params(nonce, str(int(self._clock.time())))

    def get_oauth_signature(self, method, uri, headers, body):
        sign = self.SIGNATURE_METHODS.get(self.signature_method)
        if not sign:
            raise ValueError("Invalid signature method.")
        return sign(self, _PlainHttpRequest(method, uri, body=body, headers=headers))


# --------------------------------------------------------------------------------------------- client


class WooPagePaginator(Paginator):
    """Page numbers, stopping at ``X-WP-TotalPages`` (or an empty page)."""

    def __init__(self, page: int = 1) -> None:
        self.page = page
        self.total_pages: int | None = None
        self.total: int | None = None
        self.has_next_page = True

    def init_request(self, params: dict[str, Any]) -> None:
        params["page"] = self.page

    def update_state(self, response: httpx2.Response, data: Any) -> None:
        try:
            self.total_pages = int(response.headers.get("x-wp-totalpages", ""))
            self.total = int(response.headers.get("x-wp-total", ""))
        except ValueError:
            self.total_pages = None
        if not data:
            self.has_next_page = False
        elif self.total_pages is not None:
            self.has_next_page = self.page < self.total_pages
        else:
            self.has_next_page = True

    def update_request(self, params: dict[str, Any]) -> None:
        self.page += 1
        params["page"] = self.page

    def remaining_pages(self) -> list[int]:
        """Pages after the current one, when the total is known (for concurrent fetching)."""
        if self.total_pages is None or not self.has_next_page:
            return []
        return list(range(self.page + 1, self.total_pages + 1))


@dataclass
class CallRecord:
    method: str
    url: str
    status: int | None
    duration_ms: int
    at: dt.datetime
    error: str | None = None


class WooClient:
    """A small wc/v3 client: retries with backoff, call recording, paging.

    ``auth_mode="auto"`` picks what WooCommerce accepts: Basic over https, OAuth 1.0a over http.
    """

    def __init__(self, url: str, consumer_key: str, consumer_secret: str, *,
                 transport: httpx2.BaseTransport | None = None, clock: Clock | None = None,
                 timeout: float = 60.0, verify: bool = True, max_attempts: int = 5,
                 oauth_in_query: bool = True, auth_mode: str = "auto") -> None:
        self.base = url.rstrip("/")
        self.clock = clock or SYSTEM_CLOCK
        self.max_attempts = max_attempts
        self.calls: list[CallRecord] = []
        self._calls_lock = threading.Lock()
        if auth_mode not in ("auto", "basic", "oauth1"):
            raise ValueError(f"auth_mode must be auto, basic or oauth1, not {auth_mode!r}")
        basic = auth_mode == "basic" or (auth_mode == "auto" and self.base.lower().startswith("https://"))
        if basic:
            auth: httpx2.Auth = httpx2.BasicAuth(consumer_key, consumer_secret)
        else:
            auth = _WooOAuth1(consumer_key, consumer_secret, signature_method="HMAC-SHA256",
                              signature_type="QUERY" if oauth_in_query else "HEADER", clock=self.clock)
        self.http = httpx2.Client(
            base_url=self.base, auth=auth, transport=transport, timeout=timeout, verify=verify,
            headers={"accept": "application/json", "user-agent": "exactsync-woocommerce/0.1"},
        )

    def close(self) -> None:
        self.http.close()

    def take_calls(self) -> list[CallRecord]:
        with self._calls_lock:
            out, self.calls = self.calls, []
        return out

    def _record(self, rec: CallRecord) -> None:
        with self._calls_lock:
            self.calls.append(rec)

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx2.Response]:
        """GET ``/wp-json/wc/v3/<path>``; JSON parsed with Decimals. Retries transient failures."""
        url = f"{API_PREFIX}/{path.lstrip('/')}"
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            at = self.clock.now().replace(tzinfo=None)
            try:
                resp = self.http.get(url, params=params)
            except httpx2.TransportError as e:
                ms = int((time.perf_counter() - started) * 1000)
                self._record(CallRecord("GET", _full(url, params), None, ms, at, type(e).__name__))
                if attempt >= self.max_attempts:
                    raise WooApiError(f"WooCommerce did not answer GET {url}: {type(e).__name__}") from None
                self.clock.sleep(min(30.0, 2.0 ** (attempt - 1)))
                continue
            ms = int((time.perf_counter() - started) * 1000)
            data, problem = _decode(resp)
            self._record(CallRecord("GET", str(resp.request.url), resp.status_code, ms, at,
                                    None if resp.status_code < 400 and problem is None else _short(resp, data, problem)))
            transient = resp.status_code in RETRY_STATUSES or (problem is not None and resp.status_code >= 400) \
                or (problem is not None and resp.status_code < 300)
            if resp.status_code < 300 and problem is None:
                return data, resp
            if transient and attempt < self.max_attempts:
                self.clock.sleep(_retry_after(resp, attempt))
                continue
            raise _api_error(url, resp, data, problem)

    def paginate(self, path: str, params: dict[str, Any], *, concurrency: int = 1,
                 on_first: Callable[[WooPagePaginator], None] | None = None) -> Iterator[list]:
        """Yield pages in order. Page 1 first; with ``concurrency`` > 1 the remaining pages (known
        from ``X-WP-TotalPages``) are fetched by a thread pool, a bounded window ahead."""
        paginator = WooPagePaginator()
        params = dict(params)
        paginator.init_request(params)
        data, resp = self.get(path, params)
        paginator.update_state(resp, data)
        if on_first is not None:
            on_first(paginator)
        yield data
        if concurrency <= 1 or paginator.total_pages is None:
            while paginator.has_next_page:
                paginator.update_request(params)
                data, resp = self.get(path, params)
                paginator.update_state(resp, data)
                yield data
            return
        pages = paginator.remaining_pages()
        with cf.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="woo-page") as pool:
            window: collections.deque = collections.deque()
            it = iter(pages)

            def submit_next() -> None:
                page = next(it, None)
                if page is not None:
                    window.append(pool.submit(self.get, path, {**params, "page": page}))

            for _ in range(concurrency * 2):
                submit_next()
            while window:
                data, _resp = window.popleft().result()
                submit_next()
                yield data


    def pages_by_modified(self, path: str, params: dict[str, Any], since: dt.datetime | None) -> Iterator[Any]:
        """Yield the pages of an ``orderby=modified&order=asc`` list, each asked for from the last
        ``date_modified_gmt`` read (``modified_after`` = it − 1 s, the overlap read again), so that
        no change made while listing can make it skip a record. A page whose records all share
        one second is followed by the next page number of that same window. Sequential."""
        per_page = int(params.get("per_page", 10))
        after, page = since, 1
        while True:
            query = {k: v for k, v in params.items() if k not in ("modified_after", "page")}
            query["page"] = page
            if after is not None:
                query["modified_after"] = after.strftime("%Y-%m-%dT%H:%M:%S")
            data, _resp = self.get(path, query)
            if not isinstance(data, list) or not data:
                if data:
                    yield data  # not a list: the caller says so
                return
            yield data
            if len(data) < per_page:
                return
            last = max((m for m in map(_gmt_or_none, data) if m is not None), default=None)
            nxt = last - dt.timedelta(seconds=1) if last is not None else None
            if nxt is None or (after is not None and nxt <= after):
                page += 1
            else:
                after, page = nxt, 1


def _full(url: str, params: dict | None) -> str:
    return str(httpx2.URL(url, params=params or {}))


def _decode(resp: httpx2.Response) -> tuple[Any, str | None]:
    ctype = resp.headers.get("content-type", "")
    if "json" not in ctype:
        return None, f"non-JSON answer ({ctype.split(';')[0] or 'no content type'})"
    try:
        return json.loads(resp.content, parse_float=Decimal), None
    except ValueError:
        return None, "invalid JSON"


def _short(resp: httpx2.Response, data: Any, problem: str | None) -> str:
    if isinstance(data, dict) and "code" in data:
        return f"{data.get('code')}: {data.get('message')}"[:300]
    return problem or f"HTTP {resp.status_code}"


def _retry_after(resp: httpx2.Response, attempt: int) -> float:
    raw = resp.headers.get("retry-after")
    if raw:
        try:
            return min(120.0, max(0.0, float(raw)))
        except ValueError:
            pass
    return min(30.0, 2.0 ** (attempt - 1))


def _api_error(url: str, resp: httpx2.Response, data: Any, problem: str | None) -> WooApiError:
    status = resp.status_code
    if isinstance(data, dict) and "code" in data:
        code, message = str(data.get("code")), str(data.get("message", ""))
        text = f"WooCommerce refused GET {url}: HTTP {status} {code}: {message}"
        if status in (401, 403):
            hint = ""
            if code == "woocommerce_rest_cannot_view":
                hint = (" (no valid credentials reached WooCommerce: over http:// the shop needs OAuth 1.0a, "
                        "and Basic auth only works over https://; check the URL and the consumer key)")
            return WooAuthError(text + hint, status=status, code=code)
        return WooApiError(text, status=status, code=code)
    return WooApiError(f"WooCommerce GET {url} failed: HTTP {status} ({problem or 'no details'})", status=status)


# --------------------------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class TaxRateInfo:
    id: int
    country: str
    rate: Decimal
    tax_class: str


@dataclass
class OrderContext:
    """What a refund needs from its order: the invoice document and its VAT lines."""

    doc: ShopDocument
    lines: list[VatLine]
    rates: dict[int, TaxRateInfo]  # rate id → info, from the order's tax_lines
    vat_number: str | None


@dataclass
class _Group:
    line_type: str
    tax_class: str
    country: str | None
    rate: Decimal
    base: Decimal = _ZERO
    vat: Decimal = _ZERO


def _text(value: Any) -> tuple[str | None, bool]:
    """Plain text from a shop string: tags removed, entities decoded. Returns (text, had_html)."""
    if value is None:
        return None, False
    s = str(value)
    clean = html.unescape(_TAG.sub("", s)).strip()
    return (clean or None), clean != s.strip()


def _country(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    c = value.strip().upper()
    return c if re.fullmatch(r"[A-Z]{2}", c) else None


def _gmt(value: Any, what: str, key: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        d = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(key, f"{what} is not a date: {str(value)[:40]!r}") from None
    if d.tzinfo is not None:
        d = d.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return d


def _local_date(gmt: dt.datetime, tz: ZoneInfo) -> dt.date:
    return gmt.replace(tzinfo=dt.timezone.utc).astimezone(tz).date()


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _meta(order: dict, keys: tuple[str, ...]) -> str | None:
    meta = order.get("meta_data") or []
    if not isinstance(meta, list):
        return None
    by_key = {m.get("key"): m.get("value") for m in meta if isinstance(m, dict)}
    for k in keys:
        v = by_key.get(k)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def _order_rates(order: dict, rates_table: dict[int, TaxRateInfo], key: str) -> dict[int, TaxRateInfo]:
    """Rate info per rate id: the order's own tax_lines (rate at the time of sale) first."""
    out: dict[int, TaxRateInfo] = {}
    for tl in order.get("tax_lines") or []:
        try:
            rid = int(tl.get("rate_id"))
        except (TypeError, ValueError):
            raise RecordError(key, f"tax line without a valid rate_id: {str(tl.get('rate_id'))[:20]!r}") from None
        table = rates_table.get(rid)
        pct = tl.get("rate_percent")
        if pct is not None:
            rate = money(pct, "tax_lines.rate_percent", key)
        elif table is not None:
            rate = table.rate
        else:
            raise RecordError(key, f"tax rate {rid} has no rate_percent and is not in the shop's tax table")
        code = str(tl.get("rate_code") or "")
        country = (table.country if table and table.country else None) or _country(code.split("-")[0])
        out[rid] = TaxRateInfo(rid, country or "", rate, table.tax_class if table else "")
    return out


def _taxes(line: dict, what: str, key: str) -> list[tuple[int, Decimal]]:
    out = []
    for t in line.get("taxes") or []:
        try:
            rid = int(t.get("id"))
        except (TypeError, ValueError, AttributeError):
            raise RecordError(key, f"{what}: tax entry without a rate id") from None
        amount = money(t.get("total"), f"{what} tax", key)
        if amount != 0:
            out.append((rid, amount))
    return out


def _collect(order: dict, rates: dict[int, TaxRateInfo], fallback_country: str | None, key: str,
             max_lines: int) -> tuple[dict[tuple, _Group], dict[int, dict[str, Decimal]]]:
    """Group an order's (or refund's) lines; returns groups keyed by (rate id, type, class) and raw tax per rate."""
    items = order.get("line_items") or []
    if not isinstance(items, list):
        raise RecordError(key, "line_items is not a list")
    if len(items) > max_lines:
        raise RecordError(key, f"has {len(items)} line items, more than the {max_lines} this connector imports; "
                               "book it by hand or raise the limit")
    groups: dict[tuple, _Group] = {}
    raw_tax: dict[int, dict[str, Decimal]] = {}
    parts = [("goods", items, "line item"), ("shipping", order.get("shipping_lines") or [], "shipping line"),
             ("fee", order.get("fee_lines") or [], "fee line")]
    for line_type, lines, what in parts:
        for line in lines:
            if not isinstance(line, dict):
                raise RecordError(key, f"{what} is not an object")
            base = money(line.get("total"), f"{what} {line.get('id')} total", key)
            tax_class = str(line.get("tax_class") or "") if line_type != "shipping" else ""
            tax_class = tax_class or "standard"  # line items say "" where tax rates say "standard"
            taxes = _taxes(line, f"{what} {line.get('id')}", key)
            if not taxes:
                g = groups.setdefault((None, line_type, tax_class, fallback_country),
                                      _Group(line_type, tax_class, fallback_country, _ZERO))
                g.base += base
                continue
            for n, (rid, amount) in enumerate(taxes):
                info = rates.get(rid)
                if info is None:
                    raise RecordError(key, f"{what} {line.get('id')} uses tax rate {rid}, which is neither in the "
                                           "order's tax lines nor in the shop's tax table")
                g = groups.setdefault((rid, line_type, tax_class, info.country or fallback_country),
                                      _Group(line_type, tax_class, info.country or fallback_country, info.rate))
                if n == 0:
                    g.base += base  # a second (compound/stacked) rate adds VAT, not base
                g.vat += amount
                bucket = raw_tax.setdefault(rid, {"cart": _ZERO, "shipping": _ZERO})
                bucket["shipping" if line_type == "shipping" else "cart"] += amount
    return groups, raw_tax


def _round_groups(groups: dict[tuple, _Group], targets: dict[int, dict[str, Decimal]] | None) -> None:
    """Round each group's VAT to cents; per rate id make the sum hit the shop's tax line total."""
    for g in groups.values():
        g.vat = _cents(g.vat)
    if not targets:
        return
    for rid, target in targets.items():
        for part in ("cart", "shipping"):
            members = [g for (r, t, _c, _k), g in groups.items()
                       if r == rid and (t == "shipping") == (part == "shipping")]
            if not members:
                continue
            gap = target[part] - sum((g.vat for g in members), _ZERO)
            if gap:
                max(members, key=lambda g: abs(g.vat)).vat += gap


def _lines_from_groups(dk: str, groups: list[_Group], home: str, vat_number: str | None,
                       sign: int = 1) -> list[VatLine]:
    merged: dict[tuple, _Group] = {}
    for g in groups:
        k = (g.line_type, g.tax_class, g.country, g.rate)
        m = merged.setdefault(k, _Group(*k))
        m.base += g.base
        m.vat += g.vat
    out = []
    kept = [g for g in merged.values() if g.base or g.vat]  # e.g. free shipping: nothing to book
    ordered = sorted(kept, key=lambda g: (_LINE_ORDER[g.line_type], g.tax_class, g.country or "", g.rate))
    for n, g in enumerate(ordered, start=1):
        treatment = classify_treatment(home, g.country, vat_number, g.vat)
        out.append(VatLine(dk, n, g.line_type, g.tax_class, g.country, g.rate.quantize(_Q4), treatment,
                           (g.base * sign).quantize(_Q4), (g.vat * sign).quantize(_Q4)))
    return out


def order_document(order: dict, *, shop: str, home_country: str, tz: ZoneInfo, base_currency: str | None,
                   rates_table: dict[int, TaxRateInfo], pulled_at: dt.datetime,
                   max_lines: int = MAX_ORDER_LINES, warnings: list[RecordError] | None = None) -> OrderContext:
    """The invoice for one Woo order (sales sign). Raises :class:`RecordError` for bad data."""
    if not isinstance(order, dict) or "id" not in order:
        raise RecordError("order ?", "not an order object")
    oid = order.get("id")
    key = f"order {oid}"
    if not isinstance(oid, int) or isinstance(oid, bool):
        raise RecordError(key, "order id is not an integer")
    currency = str(order.get("currency") or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise RecordError(key, f"currency {currency or 'missing'!r} is not an ISO 4217 code")
    billing = order.get("billing") if isinstance(order.get("billing"), dict) else {}
    shipping = order.get("shipping") if isinstance(order.get("shipping"), dict) else {}
    bill_c, ship_c = _country(billing.get("country")), _country(shipping.get("country"))
    vat_country = ship_c or bill_c
    if vat_country is None:
        raise RecordError(key, "has no billing or shipping country, so its VAT destination is unknown")
    vat_number = _meta(order, VAT_NUMBER_META_KEYS)
    created = _gmt(order.get("date_created_gmt"), "date_created_gmt", key)
    if created is None:
        raise RecordError(key, "has no date_created_gmt")
    modified = _gmt(order.get("date_modified_gmt"), "date_modified_gmt", key) or created
    rates = {**rates_table, **_order_rates(order, rates_table, key)}
    groups, _raw = _collect(order, rates, vat_country, key, max_lines)
    targets: dict[int, dict[str, Decimal]] = {}
    for tl in order.get("tax_lines") or []:
        rid = int(tl["rate_id"])
        targets[rid] = {"cart": money(tl.get("tax_total"), "tax_lines.tax_total", key),
                        "shipping": money(tl.get("shipping_tax_total"), "tax_lines.shipping_tax_total", key)}
    _round_groups(groups, targets)
    dk = doc_key(shop, "invoice", oid)
    gross = money(order.get("total"), "total", key)
    net = sum((g.base for g in groups.values()), _ZERO)
    vat = sum((g.vat for g in groups.values()), _ZERO)
    gap = gross - net - vat
    n_lines = sum(len(order.get(k) or []) for k in ("line_items", "shipping_lines", "fee_lines"))
    tolerance = _CENT * (n_lines + 1)
    if abs(gap) > tolerance:
        raise RecordError(key, f"total {gross} differs from its lines ({net + vat}) by {gap}; not imported",
                          f"net {net} vat {vat} total_tax {order.get('total_tax')}")
    group_list = list(groups.values())
    if gap:
        group_list.append(_Group("adjustment", "standard", vat_country, _ZERO, gap, _ZERO))
    lines = _lines_from_groups(dk, group_list, home_country, vat_number)
    name_parts = [billing.get("first_name"), billing.get("last_name")]
    name, had_html = _text(" ".join(str(p) for p in name_parts if p))
    company, html2 = _text(billing.get("company"))
    if (had_html or html2) and warnings is not None:
        warnings.append(RecordError(key, "HTML removed from the customer name or company"))
    fx_rate = Decimal(1) if base_currency and currency == base_currency else None
    same = fx_rate is not None
    doc = ShopDocument(
        doc_key=dk, shop=shop, source=SOURCE, kind="invoice", source_id=str(oid),
        doc_number=str(order.get("number") or oid), order_id=str(oid), order_number=str(order.get("number") or oid),
        doc_date=_local_date(created, tz), created_at=created, modified_at=modified,
        currency=currency, base_currency=base_currency, fx_rate=fx_rate,
        customer_ref=str(order["customer_id"]) if order.get("customer_id") else None,
        customer_name=name, customer_email=_text(billing.get("email"))[0], company=company,
        billing_country=bill_c, ship_country=ship_c, vat_country=vat_country, vat_number=vat_number,
        treatment=document_treatment([ln.treatment for ln in lines]),
        net=(net + gap).quantize(_Q4), vat=vat.quantize(_Q4), gross=gross.quantize(_Q4),
        net_base=(net + gap).quantize(_Q4) if same else None, vat_base=vat.quantize(_Q4) if same else None,
        gross_base=gross.quantize(_Q4) if same else None,
        shipping_net=money(order.get("shipping_total"), "shipping_total", key).quantize(_Q4),
        discount_net=money(order.get("discount_total"), "discount_total", key).quantize(_Q4),
        status=str(order.get("status") or ""), pulled_at=pulled_at,
    )
    check_totals(doc, lines)
    if vat == 0 and vat_number is None and vat_country != home_country.upper() and is_eu(vat_country) and net:
        if warnings is not None:
            warnings.append(RecordError(key, f"no VAT charged to {vat_country} and no VAT number: "
                                             "check whether reverse charge applies"))
    return OrderContext(doc, lines, rates, vat_number)


def _allocate(amount: Decimal, parent: list[VatLine]) -> list[_Group]:
    """Spread a gross amount (sales sign) over the parent's VAT lines pro rata by gross."""
    weights = [(ln, ln.base + ln.vat) for ln in parent if ln.base + ln.vat != 0]
    total = sum((w for _, w in weights), _ZERO)
    if not weights or total == 0:
        return [_Group("adjustment", "standard", None, _ZERO, amount, _ZERO)]
    shares = [_cents(amount * w / total) for _, w in weights]
    gap = amount - sum(shares, _ZERO)
    if gap:
        i = max(range(len(shares)), key=lambda j: abs(weights[j][1]))
        shares[i] += gap
    out = []
    for (ln, _w), share in zip(weights, shares):
        vat = _cents(share * ln.rate / (100 + ln.rate)) if ln.rate else _ZERO
        out.append(_Group(ln.line_type, ln.tax_class, ln.country, ln.rate, share - vat, vat))
    return out


def refund_document(refund: dict, order_id: int, parent: OrderContext, *, shop: str, tz: ZoneInfo,
                    home_country: str, pulled_at: dt.datetime, max_lines: int = MAX_ORDER_LINES) -> tuple[ShopDocument, list[VatLine]]:
    """The credit note for one refund (sales sign: negative). Item lines keep their own VAT;
    an amount without lines (or the part of the amount the lines do not explain) is allocated
    pro rata over the order's VAT lines."""
    rid = refund.get("id")
    key = f"refund {rid} (order {order_id})"
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise RecordError(key, "refund id is not an integer")
    amount = money(refund.get("amount"), "amount", key)
    if amount < 0:
        raise RecordError(key, f"refund amount {amount} is negative")
    created = _gmt(refund.get("date_created_gmt"), "date_created_gmt", key)
    if created is None:
        raise RecordError(key, "has no date_created_gmt")
    pd = parent.doc
    groups, _raw = _collect(refund, parent.rates, pd.vat_country, key, max_lines)
    _round_groups(groups, None)
    group_list = list(groups.values())
    explained = sum((g.base + g.vat for g in group_list), _ZERO)  # negative for itemised refunds
    rest = -amount - explained
    if rest:
        group_list.extend(_allocate(rest, parent.lines))
    dk = doc_key(shop, "credit_note", rid)
    lines = _lines_from_groups(dk, group_list, home_country, parent.vat_number)
    net = sum((ln.base for ln in lines), _ZERO)
    vat = sum((ln.vat for ln in lines), _ZERO)
    same = pd.fx_rate is not None
    doc = ShopDocument(
        doc_key=dk, shop=shop, source=SOURCE, kind="credit_note", source_id=str(rid), doc_number=str(rid),
        order_id=pd.order_id, order_number=pd.order_number, doc_date=_local_date(created, tz),
        created_at=created, modified_at=created, currency=pd.currency, base_currency=pd.base_currency,
        fx_rate=pd.fx_rate, customer_ref=pd.customer_ref, customer_name=pd.customer_name,
        customer_email=pd.customer_email, company=pd.company, billing_country=pd.billing_country,
        ship_country=pd.ship_country, vat_country=pd.vat_country, vat_number=pd.vat_number,
        treatment=document_treatment([ln.treatment for ln in lines]),
        net=net, vat=vat, gross=(-amount).quantize(_Q4),
        net_base=net if same else None, vat_base=vat if same else None, gross_base=(-amount).quantize(_Q4) if same else None,
        shipping_net=sum((ln.base for ln in lines if ln.line_type == "shipping"), _ZERO),
        discount_net=_ZERO, status="refunded", pulled_at=pulled_at,
    )
    check_totals(doc, lines)
    return doc, lines


# --------------------------------------------------------------------------------------------- pull


@dataclass
class _Batch:
    docs: list[ShopDocument] = field(default_factory=list)
    lines: list[VatLine] = field(default_factory=list)
    errors: list[tuple[RecordError, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # order ids now outside the booked statuses
    trashed: list[str] = field(default_factory=list)  # order ids moved to the shop's trash
    #: booked orders of the batch → the refund ids their ``refunds[]`` lists (credit notes stored
    #: before for a refund no longer listed were deleted in the shop)
    refund_ids: dict[str, set[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.docs) + len(self.errors) + len(self.dropped) + len(self.trashed)


def _setting(settings: Any, name: str, default: Any) -> Any:
    value = getattr(settings, name, default)
    return default if value is None else value


def _secret(value: Any) -> str:
    return value.get() if hasattr(value, "get") else str(value or "")


def _parse_cursor(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw)
    except ValueError:
        return None


def pull_woocommerce(store: Any, shop_settings: Any, *, transport: httpx2.BaseTransport | None = None,
                     clock: Clock | None = None, on_progress: ProgressCallback | None = None,
                     full: bool = False, batch_size: int = 2000) -> PullResult:
    """Pull one WooCommerce shop into ``shop_documents`` / ``shop_vat_lines``.

    Incremental unless ``full`` (or no cursor yet). Rows and cursors are written together, one
    ``store.atomic()`` per batch; per-record problems become ``sync_log`` rows. Raises
    :class:`WooAuthError` / :class:`WooApiError` when the shop cannot be read at all.
    """
    clock = clock or SYSTEM_CLOCK
    shop = shop_settings.name
    home = str(_setting(shop_settings, "home_country", "NL")).upper()
    tz = ZoneInfo(str(_setting(shop_settings, "timezone", "Europe/Amsterdam")))
    statuses = list(_setting(shop_settings, "statuses", ["processing", "completed", "refunded"]))
    lookback = dt.timedelta(minutes=int(_setting(shop_settings, "lookback_minutes", 1440)))
    per_page = max(1, min(100, int(_setting(shop_settings, "page_size", 100))))
    concurrency = max(1, int(_setting(shop_settings, "concurrency", 4)))
    # Woo's REST orders carry no base currency (C3.6): it comes from the shop's settings.
    base_currency = str(_setting(shop_settings, "base_currency", "EUR") or "") or None
    max_lines = int(_setting(shop_settings, "max_order_lines", MAX_ORDER_LINES))
    log_source = f"shop:{shop}"
    orders_scope = f"shop:{shop}:orders"
    refunds_scope = f"shop:{shop}:refunds"
    run_id = uuid.uuid4().hex[:12]
    started = clock.now().replace(tzinfo=None)
    result = PullResult(shop=shop, source=SOURCE, run_id=run_id, started_at=started)
    progress = on_progress or (lambda done, total, message="": None)

    require_settings(store, shop_settings, "woocommerce")
    client = WooClient(
        shop_settings.url, _secret(shop_settings.consumer_key), _secret(shop_settings.consumer_secret),
        transport=transport, clock=clock, timeout=float(_setting(shop_settings, "timeout", 60.0)),
        verify=bool(_setting(shop_settings, "verify_tls", True)),
    )
    track = bool(_setting(shop_settings, "track_status_changes", True))
    # what shapes the documents: a change re-reads the shop from the start (see cursor_unless_reshaped)
    shaping = {"statuses": sorted(map(str, statuses)), "track_status_changes": track, "home_country": home,
               "timezone": str(tz), "base_currency": base_currency, "max_order_lines": max_lines}
    detail = shaped_detail(shaping)
    order_cursor = refund_cursor = None
    if not full:
        saved_orders, changed = cursor_unless_reshaped(store, orders_scope, shaping)
        saved_refunds, changed_refunds = cursor_unless_reshaped(store, refunds_scope, shaping)
        order_cursor, refund_cursor = _parse_cursor(saved_orders), _parse_cursor(saved_refunds)
        note_reread(store, result, log_source, run_id, [("orders", changed), ("refunds", changed_refunds)])
    pulled_before = _has_documents(store, shop)  # only documents pulled before can have been trashed since
    done = 0
    total: int | None = None

    def flush(batch: _Batch, cursors: dict[str, dt.datetime | None]) -> None:
        calls = client.take_calls()
        with store.atomic() as con:
            if batch.dropped:
                _drop_orders(con, shop, batch.dropped, run_id, log_source)
            if batch.trashed:
                _drop_orders(con, shop, batch.trashed, run_id, log_source, why="was moved to the trash in the shop")
            if batch.refund_ids:
                _drop_deleted_refunds(con, shop, batch.refund_ids, run_id, log_source)
            write_documents(con, batch.docs, batch.lines)
            for err, level in batch.errors:
                log_record_error(con, log_source, err, run_id=run_id, level=level)
            for scope, value in cursors.items():
                if value is not None:
                    Store.set_cursor(con, scope, "", value.isoformat(sep=" "), rows=len(batch.docs), detail=detail)
            _record_calls(con, calls, shop)
        result.documents += len(batch.docs)
        result.vat_lines += len(batch.lines)
        result.errors += sum(1 for _e, level in batch.errors if level == "error")
        result.calls += len(calls)

    try:
        progress(0, None, "tax rates")
        rates_table = _fetch_rates(client)
        pulled_at = clock.now().replace(tzinfo=None)

        # ---- orders -------------------------------------------------------------------------
        # With track_status_changes (default) every status is listed, so an order that left the
        # booked statuses (completed → cancelled) loses its documents; otherwise only `statuses`.
        params: dict[str, Any] = {"per_page": per_page, "orderby": "modified", "order": "asc",
                                  "dates_are_gmt": "true", "status": "any" if track else ",".join(statuses)}
        if order_cursor is not None:
            params["modified_after"] = (order_cursor - lookback).strftime("%Y-%m-%dT%H:%M:%S")
        contexts: dict[int, OrderContext] = {}
        with_refunds: dict[int, set[int]] = {}  # booked orders with refunds → the ids refunds[] lists
        max_modified = order_cursor
        batch = _Batch()

        def on_first(p: WooPagePaginator) -> None:
            nonlocal total
            total = p.total

        #: order id → its date_modified when last read; ids read twice are orders changed while listing
        read_at: dict[int, dt.datetime | None] = {}
        moved: dict[int, dt.datetime | None] = {}
        relisting = False

        def cursor_now() -> dt.datetime | None:
            """What the first pass may save as the cursor: once an order moved, no further than just
            before its old date_modified (the order it made the pages skip comes after that)."""
            olds = [t for t in moved.values() if t is not None]
            if relisting or not olds:
                return max_modified
            cap = min(olds) - dt.timedelta(seconds=1)
            return cap if max_modified is None else min(max_modified, cap)

        def take(order: Any) -> bool:
            """One order of a list page into the batch; False when it was read already as it is."""
            nonlocal max_modified
            nonlocal batch
            oid = _int_id(order.get("id")) if isinstance(order, dict) else None
            m = _gmt_or_none(order)
            if m is not None and (max_modified is None or m > max_modified):
                max_modified = m
            if oid is not None:
                if oid in read_at:
                    if read_at[oid] == m:
                        return False  # the same order, unchanged (a re-read's overlap)
                    moved.setdefault(oid, read_at[oid])
                    contexts.pop(oid, None)  # its refunds belong to this read, not the earlier one
                    with_refunds.pop(oid, None)
                    if len(batch):  # its earlier read may be in this batch: written first, so this one wins
                        flush(batch, {orders_scope: cursor_now()})
                        batch = _Batch()
                read_at[oid] = m
            result.records_seen += 1
            warnings: list[RecordError] = []
            if isinstance(order, dict) and order.get("status") not in statuses:
                batch.dropped.append(_id_of(order))
                return True
            try:
                ctx = order_document(order, shop=shop, home_country=home, tz=tz, base_currency=base_currency,
                                     rates_table=rates_table, pulled_at=pulled_at, max_lines=max_lines,
                                     warnings=warnings)
            except RecordError as e:
                batch.errors.append((_about_order(e, shop, order), "error"))
            except Exception as e:  # noqa: BLE001 - bad data must never stop the pull
                batch.errors.append((_about_order(RecordError(f"order {_id_of(order)}", f"unexpected data ({type(e).__name__}: {e})"),
                                                  shop, order), "error"))
            else:
                batch.docs.append(ctx.doc)
                batch.lines.extend(ctx.lines)
                batch.errors.extend((w, "warning") for w in warnings)
                listed = _listed_refunds(order)
                if listed is not None:
                    batch.refund_ids[str(order["id"])] = {str(r) for r in listed}
                if listed:
                    contexts[order["id"]] = ctx
                    with_refunds[order["id"]] = listed
            return True

        def read(pages: Iterator[Any], what: str, counted: bool = True) -> None:
            nonlocal batch, done
            for page in pages:
                result.pages += 1
                if not isinstance(page, list):
                    raise WooApiError("WooCommerce answered the order list with something that is not a list")
                done += sum(take(order) for order in page)
                progress(done, total if counted else None, what)
                if len(batch) >= batch_size:
                    flush(batch, {orders_scope: cursor_now()})
                    batch = _Batch()

        read(client.paginate("orders", params, concurrency=concurrency, on_first=on_first), "orders")
        # Pages are numbered over a list sorted by date_modified: an order changed while it is listed
        # moves to the end and every later order one place up, so one at a page boundary is never
        # listed (shop-apis.md A10). Seen as an order listed twice, or fewer orders than the first
        # page counted: the orders from where it happened are listed again from the last
        # date_modified read (keyset paging, which no change can make skip an order).
        short = total is not None and len(read_at) + len(moved) < total
        if moved or short:
            since = min((t for t in moved.values() if t is not None), default=None) if moved and not short else None
            restart = since - dt.timedelta(seconds=1) if since is not None else (
                order_cursor - lookback if order_cursor is not None else None)
            # the cursor goes back to where the second listing starts (the first pass moved it past the
            # order it skipped): a second listing cut short is done again by the next pull
            flush(batch, {})
            batch = _Batch()
            max_modified, relisting = restart, True
            with store.atomic() as con:
                Store.log_event(con, log_source, f"{len(moved)} order(s) changed while the orders were listed; orders "
                                f"listed again from {f'{restart:%Y-%m-%d %H:%M:%S} UTC' if restart else 'the start'} "
                                "so that none is skipped", level="info", run_id=run_id)
                Store.set_cursor(con, orders_scope, "", restart.isoformat(sep=" ") if restart else None, detail=detail)
            read(client.pages_by_modified("orders", params, restart), "orders (listed again)", counted=False)
        flush(batch, {orders_scope: max_modified})
        result.cursor = max_modified.isoformat(sep=" ") if max_modified else None

        # ---- trashed orders --------------------------------------------------------------------
        # `any` leaves the trash out (shop-apis.md A4): an order pulled before and trashed since is
        # only seen with status=trash. Listed from the same cursor; it does not move the cursor.
        if track and pulled_before:
            progress(0, None, "trashed orders")
            trash = {**params, "status": "trash"}
            batch = _Batch()
            for page in client.paginate("orders", trash, concurrency=concurrency):
                result.pages += 1
                if not isinstance(page, list):
                    raise WooApiError("WooCommerce answered the trashed order list with something that is not a list")
                batch.trashed.extend(_id_of(o) for o in page if isinstance(o, dict) and o.get("status") == "trash")
            flush(batch, {})

        # ---- refunds -------------------------------------------------------------------------
        unread = _pull_refunds(client, store, shop, contexts, with_refunds, refund_cursor, lookback, per_page,
                               concurrency, flush, statuses, home, tz, base_currency, rates_table, pulled_at,
                               max_lines, result, refunds_scope, progress)
        # refunds an order lists that could not be read are older than the refund cursor: only their
        # order's next listing brings them, so the orders cursor stays before the earliest such order
        olds = [read_at[o] for o in unread if read_at.get(o) is not None]
        if olds:
            back = min(olds) - dt.timedelta(seconds=1)
            current = store.get_cursor(orders_scope)
            if current is None or _parse_cursor(current) is None or _parse_cursor(current) > back:
                with store.atomic() as con:
                    Store.set_cursor(con, orders_scope, "", back.isoformat(sep=" "), detail=detail)
                result.cursor = back.isoformat(sep=" ")
    except WooApiError as e:
        calls = client.take_calls()
        with store.atomic() as con:
            Store.log_event(con, log_source, str(e), level="error", run_id=run_id)
            _record_calls(con, calls, shop)
        result.calls += len(calls)
        raise
    finally:
        client.close()
    result.finished_at = clock.now().replace(tzinfo=None)
    with store.atomic() as con:
        Store.log_event(con, log_source, f"pulled {result.documents} documents ({result.errors} errors) in "
                        f"{result.calls} calls", level="info", run_id=run_id)
    return result


def _id_of(order: Any) -> str:
    return str(order.get("id", "?")) if isinstance(order, dict) else "?"


def _gmt_or_none(order: Any) -> dt.datetime | None:
    if not isinstance(order, dict):
        return None
    try:
        return _gmt(order.get("date_modified_gmt"), "date_modified_gmt", "")
    except RecordError:
        return None


def _fetch_rates(client: WooClient) -> dict[int, TaxRateInfo]:
    out: dict[int, TaxRateInfo] = {}
    for page in client.paginate("taxes", {"per_page": 100}):
        for r in page or []:
            try:
                out[int(r["id"])] = TaxRateInfo(int(r["id"]), _country(r.get("country")) or "",
                                                money(r.get("rate"), "tax rate"), str(r.get("class") or "standard"))
            except (KeyError, TypeError, ValueError):
                continue  # a broken tax-table row only matters if an order uses it (then: record error)
    return out


def _pull_refunds(client, store, shop, contexts, with_refunds, refund_cursor, lookback, per_page, concurrency,
                  flush, statuses, home, tz, base_currency, rates_table, pulled_at, max_lines, result,
                  refunds_scope, progress) -> list[int]:
    """The refunds of this pull; returns the orders whose listed refunds could not be read."""
    params: dict[str, Any] = {"per_page": per_page, "orderby": "date", "order": "asc", "dates_are_gmt": "true"}
    if refund_cursor is not None:
        params["after"] = (refund_cursor - lookback).strftime("%Y-%m-%dT%H:%M:%S")
    max_created = refund_cursor
    refunds: list[tuple[int, dict]] = []
    unread: list[RecordError] = []
    try:
        for page in client.paginate("refunds", params, concurrency=concurrency):
            result.pages += 1
            for r in page or []:
                if isinstance(r, dict) and isinstance(r.get("parent_id"), int):
                    refunds.append((r["parent_id"], r))
                elif isinstance(r, dict):
                    refunds.append((-1, r))
    except WooApiError as e:
        if e.code != "rest_no_route":
            raise
        # WC < 9: no /refunds. Read the refunds of the orders this pull saw (late refunds that did
        # not bump the order are then only found when something else touches the order).
        for oid in with_refunds:
            for page in client.paginate(f"orders/{oid}/refunds", {"per_page": 100}):
                refunds.extend((oid, r) for r in page or [] if isinstance(r, dict))
    else:
        unread = _refunds_not_listed(client, store, shop, with_refunds, refunds, result)
    missing = sorted({oid for oid, _ in refunds if oid > 0 and oid not in contexts})
    skipped_parents: set[int] = set()
    for i in range(0, len(missing), 100):
        chunk = missing[i:i + 100]
        found: set[int] = set()
        for page in client.paginate("orders", {"include": ",".join(map(str, chunk)), "per_page": 100,
                                               "status": "any"}):
            for order in page or []:
                if not isinstance(order, dict):
                    continue
                found.add(order.get("id"))
                if order.get("status") not in statuses:
                    skipped_parents.add(order.get("id"))
                    continue
                try:
                    contexts[order["id"]] = order_document(order, shop=shop, home_country=home, tz=tz,
                                                           base_currency=base_currency, rates_table=rates_table,
                                                           pulled_at=pulled_at, max_lines=max_lines)
                except (RecordError, Exception):  # noqa: BLE001 - the order's own pull logs it
                    pass
        skipped_parents.update(set(chunk) - found)
    batch = _Batch()
    batch.errors.extend((e, "error") for e in unread)
    for oid, r in refunds:
        created = None
        try:
            created = _gmt(r.get("date_created_gmt"), "date_created_gmt", "")
        except RecordError:
            pass
        if created is not None and (max_created is None or created > max_created):
            max_created = created
        key = f"refund {r.get('id')} (order {oid})"
        if oid in skipped_parents:
            continue  # the order is not in a booked status (cancelled, pending, trashed…)
        parent = contexts.get(oid)
        rid = _int_id(r.get("id"))
        if parent is None:
            batch.errors.append((RecordError(key, "its order could not be imported, so the refund is skipped")
                                 .about(shop, "credit_note", rid, rid, oid), "error"))
            continue
        try:
            doc, lines = refund_document(r, oid, parent, shop=shop, tz=tz, home_country=home, pulled_at=pulled_at,
                                         max_lines=max_lines)
        except RecordError as e:
            batch.errors.append((e.about(shop, "credit_note", rid, rid, oid), "error"))
        except Exception as e:  # noqa: BLE001
            batch.errors.append((RecordError(key, f"unexpected data ({type(e).__name__}: {e})")
                                 .about(shop, "credit_note", rid, rid, oid), "error"))
        else:
            batch.docs.append(doc)
            batch.lines.extend(lines)
    flush(batch, {refunds_scope: max_created})
    progress(len(refunds), len(refunds), "refunds")
    return sorted({int(e.document[4]) for e in unread if e.document is not None and e.document[4]})


def _listed_refunds(order: dict) -> set[int] | None:
    """The refund ids of an order's ``refunds[]`` (``{id, reason, total}``, shop-apis.md A4); None
    when the order does not carry the list."""
    refunds = order.get("refunds")
    if not isinstance(refunds, list):
        return None
    return {r["id"] for r in refunds if isinstance(r, dict) and _int_id(r.get("id")) is not None}


def _refunds_not_listed(client: WooClient, store: Store, shop: str, with_refunds: dict[int, set[int]],
                        refunds: list[tuple[int, dict]], result: PullResult) -> list[RecordError]:
    """Add to ``refunds`` those that an order of this pull lists but that neither ``/refunds`` (from
    its cursor) nor the store has: a refund made while its order was in another status, or when the
    order could not be read, is older than the refund cursor and would never arrive otherwise."""
    if not with_refunds:
        return []
    seen = {r.get("id") for _oid, r in refunds}
    wanted = {oid: ids - seen for oid, ids in with_refunds.items() if ids - seen}
    if not wanted:
        return []
    unread: list[RecordError] = []
    stored = {int(sid) for (sid,) in store.rows(
        "SELECT source_id FROM shop_documents WHERE shop = ? AND source = ? AND kind = 'credit_note' "
        "AND order_id IN (SELECT unnest(?::VARCHAR[]))", [shop, SOURCE, [str(o) for o in wanted]]) if sid.isdigit()}
    for oid, ids in sorted(wanted.items()):
        if not ids - stored:
            continue
        try:
            for page in client.paginate(f"orders/{oid}/refunds", {"per_page": 100}):
                result.pages += 1
                refunds.extend((oid, r) for r in page or [] if isinstance(r, dict) and r.get("id") in ids - stored)
        except WooAuthError:
            raise
        except WooApiError as e:  # one order's refunds: an error of each refund, the pull goes on
            for rid in sorted(ids - stored):
                unread.append(RecordError(f"refund {rid} (order {oid})", f"could not be read: {e}; the next pull "
                                          "lists the order and tries again").about(shop, "credit_note", rid, rid, oid))
    return unread


def _drop_deleted_refunds(con: Any, shop: str, refund_ids: dict[str, set[str]], run_id: str, log_source: str) -> None:
    """Remove the credit notes, stored by earlier pulls, of refunds that their order (read just now)
    no longer lists: the refund was deleted in the shop (one info row each)."""
    stored = con.execute(
        "SELECT doc_key, source_id, order_id FROM shop_documents WHERE shop = ? AND source = ? AND kind = 'credit_note' "
        "AND order_id IN (SELECT unnest(?::VARCHAR[]))", [shop, SOURCE, list(refund_ids)]).fetchall()
    gone = [(key, rid, oid) for key, rid, oid in stored if rid not in refund_ids.get(oid, set())]
    if not gone:
        return
    remove_documents(con, [key for key, _rid, _oid in gone])
    for key, rid, oid in gone:
        Store.log_event(con, log_source, f"refund {rid} of order {oid} is no longer in the shop; its credit note "
                        "was removed", level="info", record_key=f"refund {rid} (order {oid})", run_id=run_id)


def _int_id(value: Any) -> int | None:
    """A Woo id as the API should send it (an integer, not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _about_order(error: RecordError, shop: str, order: Any) -> RecordError:
    """Name the invoice an order that could not be read would have been (its id and number)."""
    oid = _int_id(order.get("id")) if isinstance(order, dict) else None
    if oid is not None:
        error.about(shop, "invoice", oid, order.get("number") or oid, oid)
    return error


def _has_documents(store: Store, shop: str) -> bool:
    return bool(store.scalar("SELECT EXISTS (SELECT 1 FROM shop_documents WHERE shop = ? AND source = ?)", [shop, SOURCE]))


def _drop_orders(con: Any, shop: str, order_ids: list[str], run_id: str, log_source: str, *,
                 why: str = "left the booked statuses") -> None:
    """Remove documents of orders that are no longer in a booked status (one info row each)."""
    forget_rejects(con, shop, order_ids)  # nor are the documents of theirs that could not be read
    gone = con.execute(
        "SELECT DISTINCT order_id FROM shop_documents WHERE shop = ? AND source = ? "
        "AND order_id IN (SELECT unnest(?::VARCHAR[]))", [shop, SOURCE, order_ids]).fetchall()
    if not gone:
        return
    keys = [r[0] for r in gone]
    remove_documents(con, [r[0] for r in con.execute(
        "SELECT doc_key FROM shop_documents WHERE shop = ? AND source = ? AND order_id IN (SELECT unnest(?::VARCHAR[]))",
        [shop, SOURCE, keys]).fetchall()])
    for oid in keys:
        Store.log_event(con, log_source, f"order {oid}: {why}; its documents were removed",
                        level="info", record_key=f"order {oid}", run_id=run_id)


def _record_calls(con: Any, calls: list[CallRecord], shop: str) -> None:
    for c in calls:
        path = httpx2.URL(c.url).raw_path.decode("ascii", "replace")  # path + query; secrets masked by the store
        Store.record_api_call(con, system=SOURCE, method=c.method, url=path, status=c.status,
                              duration_ms=c.duration_ms, scope=shop, error=c.error, at=c.at)
