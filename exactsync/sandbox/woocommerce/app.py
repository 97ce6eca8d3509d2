"""The WooCommerce ``wc/v3`` sandbox: routes, parameters, pagination, auth, faults, writes."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import OrderedDict
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import quote, urlencode

from exactsync.clock import Clock
from exactsync.sandbox.base import SandboxApp, SandboxRequest, SandboxResponse, json_response
from exactsync.sandbox.woocommerce.auth import BASIC_REALM, ApiKey, AuthError, Authenticator
from exactsync.sandbox.woocommerce.model import Order, Refund, Store, TaxRate, parse_when

__all__ = ["WooCommerceApp", "ORDER_STATUSES"]

ORDER_STATUSES = (
    "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "checkout-draft",
    "auto-draft", "trash",
)
NS = "/wp-json/wc/v3"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$")
_HTML_ERROR = (
    "<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>"
    "<body><h1>{reason}</h1><p>The server is temporarily unable to service your request.</p></body></html>"
)


class _ParamError(Exception):
    def __init__(self, params: dict[str, str]) -> None:
        self.params = params


def _error(code: str, message: str, status: int, headers: dict[str, str] | None = None, **data: Any) -> SandboxResponse:
    return json_response({"code": code, "message": message, "data": {"status": status, **data}}, status, headers)


class WooCommerceApp(SandboxApp):
    """State: store settings, API keys, tax rates/classes, orders (compact), refunds."""

    name = "woocommerce"

    def __init__(self, scenario: dict, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.store = Store.from_author(scenario.get("store", {}))
        self.keys = [
            ApiKey(k["consumer_key"], k["consumer_secret"], k.get("permission", "read"), int(k.get("user_id", 1)),
                   k.get("description", ""))
            for k in scenario.get("keys", [])
        ]
        self.auth = Authenticator(self.keys, self.clock)
        self.rates: dict[int, TaxRate] = {}
        for r in scenario.get("tax_rates", []):
            rate = TaxRate.from_author(r)
            self.rates[rate.id] = rate
        self.tax_classes = scenario.get("tax_classes") or [
            {"slug": "standard", "name": "Standard"},
            {"slug": "reduced-rate", "name": "Reduced rate"},
            {"slug": "zero-rate", "name": "Zero rate"},
        ]
        faults = scenario.get("faults", {}) or {}
        self.latency_ms = float(faults.get("latency_ms", 0))
        self.error_rate = float(faults.get("error_rate", 0))
        self.error_statuses = list(faults.get("error_statuses", [429, 503]))
        self.retry_after = faults.get("retry_after")
        self.fail_requests = {int(n) for n in faults.get("fail_requests", [])}  # 1-based request numbers
        self._request_no = 0
        self._rng = random.Random(faults.get("seed", 1))
        self.orders: dict[int, Order] = {}
        self.refunds: dict[int, Refund] = {}
        self.version = 0  # bumped on every write; list caches key on it
        self._cache: OrderedDict[tuple, list[int]] = OrderedDict()
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status) for tests/bench
        next_refund = max([int(o["id"]) for o in scenario.get("orders", [])] + [0]) + 100_000
        for o in scenario.get("orders", []):
            self._load_order(o)
        for o in self.orders.values():
            for r in o.refunds:
                next_refund = max(next_refund, r.id + 1)
        self._next_refund_id = next_refund
        self._next_meta_id = 1_000_000

    # -- loading ---------------------------------------------------------------------------------
    def _load_order(self, a: dict) -> Order:
        oid = int(a["id"])
        created = parse_when(a["created"])
        order = Order(
            id=oid, status=str(a.get("status", "completed")), created=created,
            modified=parse_when(a["modified"]) if a.get("modified") else created, author=a,
            decimals=self.store.decimals, store_incl=self.store.prices_include_tax,
        )
        meta = []
        for i, m in enumerate(a.get("meta", []) or []):
            meta.append({"id": int(m.get("id", oid * 100 + i + 1)), "key": m["key"], "value": m.get("value")})
        if a.get("vat_number"):
            meta.append({"id": oid * 100 + 90, "key": "_billing_vat_number", "value": a["vat_number"]})
        if "vat_exempt" in a:
            meta.append({"id": oid * 100 + 91, "key": "is_vat_exempt", "value": "yes" if a["vat_exempt"] else "no"})
        order.meta = meta
        self.orders[oid] = order
        for i, r in enumerate(a.get("refunds", []) or []):
            rid = int(r.get("id", oid * 10 + 5_000_000 + i))
            refund = Refund(id=rid, order_id=oid, created=parse_when(r.get("created", a["created"])), author=r)
            self._attach_refund(order, refund, bump=self.store.refund_bumps_modified and "modified" not in a)
        self._reindex(order)
        return order

    def _attach_refund(self, order: Order, refund: Refund, bump: bool) -> None:
        refund.created_local = self.store.local(refund.created)
        order.refunds.append(refund)
        self.refunds[refund.id] = refund
        order.invalidate()
        if bump and refund.created > order.modified:
            order.modified = refund.created
        total = order.compute(self.rates)["total"]
        if total > 0 and order.refunded_total(self.rates) >= total and order.status != "trash":
            order.status = "refunded"
        self._reindex(order)

    def _reindex(self, order: Order) -> None:
        order.created_local = self.store.local(order.created)
        order.modified_local = self.store.local(order.modified)
        self.version += 1

    # -- python helpers (tests / demo) --------------------------------------------------------
    def add_order(self, author: dict) -> int:
        with self.lock:
            return self._load_order(author).id

    def add_refund(self, order_id: int, *, amount: str | Decimal | None = None, items: list[dict] | None = None,
                   shipping: bool = False, reason: str = "", created: dt.datetime | str | None = None,
                   bump_modified: bool | None = None, refund_id: int | None = None) -> int:
        """Record a refund (never pays). Returns the refund id."""
        with self.lock:
            order = self.orders[order_id]
            author: dict[str, Any] = {"reason": reason}
            if amount is not None:
                author["amount"] = str(amount)
            if items:
                author["items"] = items
            if shipping:
                author["shipping"] = True
            when = parse_when(created) if created is not None else self._now()
            rid = refund_id or self._next_refund_id
            self._next_refund_id = max(self._next_refund_id, rid) + 1
            bump = self.store.refund_bumps_modified if bump_modified is None else bump_modified
            self._attach_refund(order, Refund(id=rid, order_id=order_id, created=when, author=author), bump)
            return rid

    def delete_refund(self, order_id: int, refund_id: int) -> None:
        """Remove a refund for good, as ``DELETE /orders/{id}/refunds/{refund_id}?force=true`` does
        (shop-apis.md A6; that route is not served: the reference gives no response shape). The order
        no longer lists it and its date_modified moves (deleting a refund saves the order)."""
        with self.lock:
            order = self.orders[order_id]
            order.refunds = [r for r in order.refunds if r.id != refund_id]
            self.refunds.pop(refund_id, None)
            order.invalidate()
            order.modified = max(self._now(), order.modified)
            self._reindex(order)

    def touch(self, order_id: int, when: dt.datetime | None = None) -> None:
        with self.lock:
            order = self.orders[order_id]
            order.modified = when or self._now()
            self._reindex(order)

    def _now(self) -> dt.datetime:
        return self.clock.now().replace(tzinfo=None, microsecond=0)

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, request: SandboxRequest) -> SandboxResponse:
        if self.latency_ms:
            self.clock.sleep(self.latency_ms / 1000.0)
        resp = self._handle(request)
        with self.lock:
            self.calls.append((request.method, request.path, resp.status))
        return resp

    def _fault(self) -> SandboxResponse | None:
        with self.lock:
            self._request_no += 1
            forced = self._request_no in self.fail_requests
            if not forced and (not self.error_rate or self._rng.random() >= self.error_rate):
                return None
            status = self._rng.choice(self.error_statuses)
        reason = {429: "Too Many Requests", 503: "Service Unavailable", 502: "Bad Gateway"}.get(status, "Error")
        headers = {"content-type": "text/html; charset=UTF-8"}
        if self.retry_after is not None:
            headers["retry-after"] = str(self.retry_after)
        return SandboxResponse(status, _HTML_ERROR.format(status=status, reason=reason).encode(), headers)

    def _handle(self, req: SandboxRequest) -> SandboxResponse:
        fault = self._fault()
        if fault is not None:
            return fault
        route = req.path
        query = list(req.query)
        if route in ("/", "/index.php") and req.arg("rest_route"):
            route = "/wp-json" + (req.arg("rest_route") or "")
            query = [(k, v) for k, v in query if k != "rest_route"]
        if not route.startswith("/wp-json/"):
            return SandboxResponse(404, b"<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>",
                                   {"content-type": "text/html; charset=UTF-8"})
        method = req.method.upper()
        is_ssl = self.is_ssl(req)
        scheme = "https" if is_ssl else "http"
        url_no_query = f"{scheme}://{req.host}{req.path}"
        with self.lock:
            auth = self.auth.authenticate(method, url_no_query, req.query, req.headers, req.body, is_ssl)
        if auth.error is not None:
            return self._auth_error(auth.error)
        key = auth.key
        if key is not None and not key.can(method):
            need = "read" if method in ("GET", "HEAD") else "write"
            return _error("woocommerce_rest_authentication_error",
                          f"The API key provided does not have {need} permissions.", 401)
        base = f"{scheme}://{req.host}"
        ctx = _Ctx(req=req, query=query, base=base, route=route, key=key)
        handler, args = self._route(method, route)
        if handler is None:
            return _error("rest_no_route", "No route was found matching the URL and request method", 404)
        try:
            return handler(ctx, *args)
        except _ParamError as e:
            return _error("rest_invalid_param", f"Invalid parameter(s): {', '.join(e.params)}", 400, params=e.params)

    def is_ssl(self, req: SandboxRequest) -> bool:
        return (
            self.store.assume_https
            or req.scheme == "https"
            or req.headers.get("x-forwarded-proto", "").lower() == "https"
        )

    @staticmethod
    def _auth_error(err: AuthError) -> SandboxResponse:
        headers = {"www-authenticate": BASIC_REALM} if err.www_authenticate else None
        return _error(err.code, err.message, err.status, headers)

    def _route(self, method: str, route: str) -> tuple[Callable | None, tuple]:
        path = route[len(NS):] if route.startswith(NS + "/") or route == NS else None
        if path is None:
            return None, ()
        path = path.rstrip("/") or "/"
        table: list[tuple[str, str, Callable]] = [
            ("GET", r"/orders", self.list_orders),
            ("GET", r"/orders/(\d+)", self.get_order),
            ("PUT", r"/orders/(\d+)", self.update_order),
            ("POST", r"/orders/(\d+)", self.update_order),
            ("PATCH", r"/orders/(\d+)", self.update_order),
            ("POST", r"/orders/batch", self.batch_orders),
            ("PUT", r"/orders/batch", self.batch_orders),
            ("GET", r"/orders/(\d+)/refunds", self.list_order_refunds),
            ("POST", r"/orders/(\d+)/refunds", self.create_refund),
            ("GET", r"/orders/(\d+)/refunds/(\d+)", self.get_order_refund),
            ("GET", r"/refunds", self.list_all_refunds),
            ("GET", r"/taxes", self.list_taxes),
            ("GET", r"/taxes/classes", self.list_tax_classes),
            ("GET", r"/taxes/(\d+)", self.get_tax),
        ]
        if path == "/refunds" and not self._has_refunds_route():
            return None, ()  # the /refunds collection came with WooCommerce 9.0 (reference A6)
        for m, pattern, fn in table:
            if m == method or (method == "HEAD" and m == "GET"):
                match = re.fullmatch(pattern, path)
                if match:
                    return fn, tuple(int(g) for g in match.groups())
        return None, ()

    def _has_refunds_route(self) -> bool:
        try:
            return int(str(self.store.wc_version).split(".")[0]) >= 9
        except ValueError:
            return True

    # -- permission (endpoint level; anonymous users fail here) -------------------------------------
    @staticmethod
    def _cannot(ctx: "_Ctx", kind: str) -> SandboxResponse | None:
        if ctx.key is not None:
            return None
        messages = {
            "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
            "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
            "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
            "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
            "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
        }
        code, message = messages[kind]
        return _error(code, message, 401)

    # -- orders --------------------------------------------------------------------------------------
    def list_orders(self, ctx: "_Ctx") -> SandboxResponse:
        if (denied := self._cannot(ctx, "list")) is not None:
            return denied
        p = _Params(ctx.query)
        page, per_page, offset = p.paging()
        gmt = p.boolean("dates_are_gmt", False)
        after, before = p.date("after"), p.date("before")
        m_after, m_before = p.date("modified_after"), p.date("modified_before")
        statuses = p.enum_list("status", ORDER_STATUSES + ("any",) + tuple(self.store.extra_statuses), ["any"])
        include = p.int_list("include")
        exclude = p.int_list("exclude")
        parent = p.int_list("parent")
        customer = p.integer("customer")
        orderby = p.enum("orderby", ("date", "id", "include", "title", "slug", "modified"), "date")
        order = p.enum("order", ("asc", "desc"), "desc")
        dp = p.integer("dp", self.store.decimals, minimum=0)
        fields = p.fields()
        search = p.string("search")
        p.raise_errors()
        key = ("orders", gmt, after, before, m_after, m_before, tuple(statuses), tuple(include), tuple(exclude),
               tuple(parent), customer, orderby, order, search)
        with self.lock:
            ids = self._cached(key, lambda: self._select_orders(
                gmt, after, before, m_after, m_before, statuses, include, exclude, parent, customer, orderby, order, search))
            start = offset if offset is not None else (page - 1) * per_page
            chosen = [self.orders[i] for i in ids[start:start + per_page] if i in self.orders]
            body = [_project(o.to_json(self.store, self.rates, dp, ctx.base), fields) for o in chosen]
        return self._page(ctx, body, len(ids), page, per_page, "orders")

    def _select_orders(self, gmt, after, before, m_after, m_before, statuses, include, exclude, parent, customer,
                       orderby, order, search) -> list[int]:
        tz = self.store.tz
        def conv(d):
            if d is None:
                return None
            naive, aware = d
            if aware is None:
                return naive
            return aware.astimezone(dt.timezone.utc if gmt else tz).replace(tzinfo=None)
        after, before, m_after, m_before = conv(after), conv(before), conv(m_after), conv(m_before)
        wanted = set(statuses)
        any_status = "any" in wanted
        inc = set(include)
        exc = set(exclude)
        par = set(parent)
        out: list[Order] = []
        for o in self.orders.values():
            if any_status:
                if o.status == "trash" and "trash" not in wanted:
                    continue
            elif o.status not in wanted:
                continue
            created = o.created if gmt else o.created_local
            modified = o.modified if gmt else o.modified_local
            if after is not None and not created > after:
                continue
            if before is not None and not created < before:
                continue
            if m_after is not None and not modified > m_after:
                continue
            if m_before is not None and not modified < m_before:
                continue
            if inc and o.id not in inc:
                continue
            if o.id in exc:
                continue
            if par and int(o.author.get("parent_id", 0)) not in par:
                continue
            if customer is not None and int(o.author.get("customer_id", 0)) != customer:
                continue
            if search and not _matches(o, search):
                continue
            out.append(o)
        desc = order == "desc"
        if orderby == "id":
            out.sort(key=lambda o: o.id, reverse=desc)
        elif orderby == "modified":
            out.sort(key=lambda o: (o.modified, o.id), reverse=desc)
        elif orderby == "include" and include:
            pos = {v: i for i, v in enumerate(include)}
            out.sort(key=lambda o: pos.get(o.id, 0), reverse=desc)
        else:  # date, title, slug: WC sorts by post date with ID as tie-break
            out.sort(key=lambda o: (o.created, o.id), reverse=desc)
        return [o.id for o in out]

    def _cached(self, key: tuple, build: Callable[[], list[int]]) -> list[int]:
        full = (self.version,) + key
        hit = self._cache.get(full)
        if hit is not None:
            self._cache.move_to_end(full)
            return hit
        ids = build()
        self._cache[full] = ids
        while len(self._cache) > 32:
            self._cache.popitem(last=False)
        return ids

    def _page(self, ctx: "_Ctx", body: list, total: int, page: int, per_page: int, rest_base: str,
              prefix: str = "") -> SandboxResponse:
        max_pages = -(-total // per_page) if total else 0
        headers = {"x-wp-total": str(total), "x-wp-totalpages": str(max_pages)}
        link_base = f"{ctx.base}{NS}{prefix}/{rest_base}"

        def with_page(n: int) -> str:
            # add_query_arg: every original parameter is repeated, page replaced in place.
            q = [(k, str(n) if k == "page" else v) for k, v in ctx.query]
            if not any(k == "page" for k, _ in q):
                q.append(("page", str(n)))
            return f"{link_base}?{urlencode(q, quote_via=quote)}"

        links = []
        if page > 1:
            prev_page = min(page - 1, max_pages) if max_pages else page - 1
            links.append(f'<{with_page(prev_page)}>; rel="prev"')
        if max_pages > page:
            links.append(f'<{with_page(page + 1)}>; rel="next"')
        if links:
            headers["link"] = ", ".join(links)
        return json_response(body, 200, headers)

    def _write_body(self, ctx: "_Ctx", kind: str) -> dict | SandboxResponse:
        """The JSON body of a write, or the error response (no permission, malformed JSON)."""
        if (denied := self._cannot(ctx, kind)) is not None:
            return denied
        try:
            return ctx.req.json() if ctx.req.body else {}
        except (ValueError, UnicodeDecodeError):
            return _error("rest_invalid_json", "Invalid JSON body passed.", 400)

    def _order_or_404(self, order_id: int, status: int = 404) -> Order | SandboxResponse:
        o = self.orders.get(order_id)
        if o is None or o.status == "trash":
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", status)
        return o

    def get_order(self, ctx: "_Ctx", order_id: int) -> SandboxResponse:
        if (denied := self._cannot(ctx, "view")) is not None:
            return denied
        p = _Params(ctx.query)
        dp = p.integer("dp", self.store.decimals, minimum=0)
        fields = p.fields()
        p.raise_errors()
        with self.lock:
            o = self._order_or_404(order_id)
            if isinstance(o, SandboxResponse):
                return o
            return json_response(_project(o.to_json(self.store, self.rates, dp, ctx.base), fields))

    def update_order(self, ctx: "_Ctx", order_id: int) -> SandboxResponse:
        """Meta upsert by key (or id) and status change; bumps date_modified."""
        data = self._write_body(ctx, "edit")
        if isinstance(data, SandboxResponse):
            return data
        with self.lock:
            o = self._order_or_404(order_id, status=400)
            if isinstance(o, SandboxResponse):
                return o
            self._apply_update(o, data)
            return json_response(o.to_json(self.store, self.rates, self.store.decimals, ctx.base))

    def _apply_update(self, o: Order, data: dict) -> None:
        for m in data.get("meta_data", []) or []:
            target = None
            if "id" in m:
                target = next((x for x in o.meta if x["id"] == int(m["id"])), None)
            elif "key" in m:
                target = next((x for x in o.meta if x["key"] == m["key"]), None)
            if target is not None:
                target["value"] = m.get("value")
            elif "key" in m:
                self._next_meta_id += 1
                o.meta.append({"id": self._next_meta_id, "key": m["key"], "value": m.get("value")})
        if data.get("status"):
            o.status = str(data["status"])
        o.modified = max(self._now(), o.modified)
        self._reindex(o)

    def batch_orders(self, ctx: "_Ctx") -> SandboxResponse:
        data = self._write_body(ctx, "batch")
        if isinstance(data, SandboxResponse):
            return data
        n = sum(len(data.get(k, []) or []) for k in ("create", "update", "delete"))
        if n > 100:
            return _error("woocommerce_rest_request_entity_too_large",
                          "Unable to accept more than 100 items for this request.", 413)
        out: dict[str, list] = {"create": [], "update": [], "delete": []}
        with self.lock:
            for upd in data.get("update", []) or []:
                o = self.orders.get(int(upd.get("id", 0)))
                if o is None:
                    out["update"].append({"id": upd.get("id"), "error": {"code": "woocommerce_rest_shop_order_invalid_id",
                                                                        "message": "Invalid ID.", "data": {"status": 400}}})
                    continue
                self._apply_update(o, upd)
                out["update"].append(o.to_json(self.store, self.rates, self.store.decimals, ctx.base))
            for item in data.get("create", []) or []:
                out["create"].append({"id": 0, "error": {"code": "woocommerce_rest_cannot_create",
                                                         "message": "Order creation is not simulated.",
                                                         "data": {"status": 400}}})
            for oid in data.get("delete", []) or []:
                out["delete"].append({"id": oid, "error": {"code": "woocommerce_rest_cannot_delete",
                                                           "message": "Order deletion is not simulated.",
                                                           "data": {"status": 400}}})
        return json_response(out)

    # -- refunds ------------------------------------------------------------------------------------
    def _refund_query(self, ctx: "_Ctx", order_id: int | None, kind: str) -> SandboxResponse:
        p = _Params(ctx.query)
        page, per_page, offset = p.paging()
        gmt = p.boolean("dates_are_gmt", False)
        after, before = p.date("after"), p.date("before")
        include = p.int_list("include")
        exclude = p.int_list("exclude")
        parent = p.int_list("parent")
        orderby = p.enum("orderby", ("date", "id", "include", "title", "slug", "modified"), "date")
        order = p.enum("order", ("asc", "desc"), "desc")
        dp = p.integer("dp", self.store.decimals, minimum=0)
        fields = p.fields()
        p.raise_errors()
        with self.lock:
            if order_id is not None:
                o = self.orders.get(order_id)
                if o is None:
                    return _error("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            tz = self.store.tz

            def conv(d):
                if d is None:
                    return None
                naive, aware = d
                return naive if aware is None else aware.astimezone(dt.timezone.utc if gmt else tz).replace(tzinfo=None)

            a, b = conv(after), conv(before)
            key = ("refunds", order_id, gmt, a, b, tuple(include), tuple(exclude), tuple(parent), orderby, order)

            def build() -> list[int]:
                pool = self.orders[order_id].refunds if order_id is not None else list(self.refunds.values())
                out = []
                for r in pool:
                    c = r.created if gmt else r.created_local
                    if a is not None and not c > a:
                        continue
                    if b is not None and not c < b:
                        continue
                    if include and r.id not in include:
                        continue
                    if r.id in exclude:
                        continue
                    if parent and r.order_id not in parent:
                        continue
                    parent_order = self.orders.get(r.order_id)
                    if parent_order is None or parent_order.status == "trash":
                        continue
                    out.append(r)
                if orderby == "id":
                    out.sort(key=lambda r: r.id, reverse=order == "desc")
                else:
                    out.sort(key=lambda r: (r.created, r.id), reverse=order == "desc")
                return [r.id for r in out]

            ids = self._cached(key, build)
            start = offset if offset is not None else (page - 1) * per_page
            body = []
            for rid in ids[start:start + per_page]:
                r = self.refunds[rid]
                body.append(_project(r.to_json(self.orders[r.order_id], self.rates, dp, ctx.base, kind == "all"), fields))
        if order_id is None:
            return self._page(ctx, body, len(ids), page, per_page, "refunds")
        return self._page(ctx, body, len(ids), page, per_page, "refunds", prefix=f"/orders/{order_id}")

    def list_order_refunds(self, ctx: "_Ctx", order_id: int) -> SandboxResponse:
        if (denied := self._cannot(ctx, "list")) is not None:
            return denied
        return self._refund_query(ctx, order_id, "order")

    def list_all_refunds(self, ctx: "_Ctx") -> SandboxResponse:
        if (denied := self._cannot(ctx, "list")) is not None:
            return denied
        return self._refund_query(ctx, None, "all")

    def get_order_refund(self, ctx: "_Ctx", order_id: int, refund_id: int) -> SandboxResponse:
        if (denied := self._cannot(ctx, "view")) is not None:
            return denied
        p = _Params(ctx.query)
        dp = p.integer("dp", self.store.decimals, minimum=0)
        fields = p.fields()
        p.raise_errors()
        with self.lock:
            o = self.orders.get(order_id)
            if o is None:
                return _error("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            r = self.refunds.get(refund_id)
            if r is None or r.order_id != order_id:
                return _error("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
            return json_response(_project(r.to_json(o, self.rates, dp, ctx.base, False), fields))

    def create_refund(self, ctx: "_Ctx", order_id: int) -> SandboxResponse:
        """Records the refund; ``api_refund`` (default true) is accepted but no money ever moves."""
        data = self._write_body(ctx, "create")
        if isinstance(data, SandboxResponse):
            return data
        with self.lock:
            o = self.orders.get(order_id)
            if o is None:
                return _error("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            items = []
            by_id = {i["id"]: n for n, i in enumerate(o.compute(self.rates)["items"])}
            for li in data.get("line_items", []) or []:
                idx = by_id.get(int(li.get("id", 0)))
                if idx is None:
                    continue
                spec: dict[str, Any] = {"line": idx, "qty": int(li.get("quantity", 0) or 0)}
                if li.get("refund_total") not in (None, ""):
                    spec["total"] = str(li["refund_total"])
                if not spec["qty"]:
                    spec["qty"] = o.compute(self.rates)["items"][idx]["qty"]
                items.append(spec)
            amount = data.get("amount")
            if amount is not None:
                try:
                    if Decimal(str(amount)) < 0:
                        return _error("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.", 400)
                except ArithmeticError:
                    return _error("woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500)
            if amount is None and not items:
                return _error("woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500)
            already = o.refunded_total(self.rates)
            remaining = o.compute(self.rates)["total"] - already
            if amount is not None and Decimal(str(amount)) > remaining:
                return _error("woocommerce_rest_cannot_create_order_refund",
                              "Invalid refund amount.", 500)
            rid = self.add_refund(order_id, amount=amount, items=items or None, reason=str(data.get("reason", "")))
            r = self.refunds[rid]
            if data.get("meta_data"):
                r.author["meta"] = [{"id": i + 1, "key": m.get("key"), "value": m.get("value")}
                                    for i, m in enumerate(data["meta_data"])]
            r.author["refunded_payment"] = False  # the sandbox never pays
            return json_response(r.to_json(o, self.rates, self.store.decimals, ctx.base, False), 201)

    # -- taxes ----------------------------------------------------------------------------------------
    def list_taxes(self, ctx: "_Ctx") -> SandboxResponse:
        if (denied := self._cannot(ctx, "list")) is not None:
            return denied
        p = _Params(ctx.query)
        page, per_page, offset = p.paging()
        order = p.enum("order", ("asc", "desc"), "asc")
        orderby = p.enum("orderby", ("id", "order", "priority"), "order")
        tax_class = p.string("class")
        fields = p.fields()
        p.raise_errors()
        rates = [r for r in self.rates.values() if tax_class is None or r.tax_class == tax_class]
        keyf = {"id": lambda r: r.id, "order": lambda r: (r.order, r.id), "priority": lambda r: (r.priority, r.id)}[orderby]
        rates.sort(key=keyf, reverse=order == "desc")
        start = offset if offset is not None else (page - 1) * per_page
        body = [_project(r.to_json(ctx.base), fields) for r in rates[start:start + per_page]]
        return self._page(ctx, body, len(rates), page, per_page, "taxes")

    def get_tax(self, ctx: "_Ctx", tax_id: int) -> SandboxResponse:
        if (denied := self._cannot(ctx, "view")) is not None:
            return denied
        r = self.rates.get(tax_id)
        if r is None:
            return _error("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return json_response(r.to_json(ctx.base))

    def list_tax_classes(self, ctx: "_Ctx") -> SandboxResponse:
        if (denied := self._cannot(ctx, "list")) is not None:
            return denied
        body = [
            {"slug": c["slug"], "name": c["name"],
             "_links": {"collection": [{"href": f"{ctx.base}{NS}/taxes/classes"}]}}
            for c in self.tax_classes
        ]
        return json_response(body)


class _Ctx:
    __slots__ = ("req", "query", "base", "route", "key")

    def __init__(self, req: SandboxRequest, query: list, base: str, route: str, key: ApiKey | None) -> None:
        self.req, self.query, self.base, self.route, self.key = req, query, base, route, key


class _Params:
    """WP REST argument validation: collects every bad parameter, then raises once."""

    def __init__(self, query: list[tuple[str, str]]) -> None:
        self.query = query
        self.errors: dict[str, str] = {}

    def _get(self, name: str) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return None

    def _list(self, name: str) -> list[str] | None:
        vals: list[str] = []
        found = False
        for k, v in self.query:
            if k == name:
                found = True
                vals.extend(x for x in re.split(r"[,\s]+", v) if x)
            elif k.startswith(name + "[") and k.endswith("]"):
                found = True
                vals.append(v)
        return vals if found else None

    def integer(self, name: str, default: int | None = None, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        raw = self._get(name)
        if raw is None or raw == "":
            return default
        if not re.fullmatch(r"[+-]?\d+", raw.strip()):
            self.errors[name] = f"{name} is not of type integer."
            return default
        v = int(raw)
        if minimum is not None and maximum is not None and not minimum <= v <= maximum:
            self.errors[name] = f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
            return default
        if minimum is not None and v < minimum:
            self.errors[name] = f"{name} must be greater than or equal to {minimum}"
            return default
        return v

    def paging(self) -> tuple[int, int, int | None]:
        page = self.integer("page", 1, minimum=1) or 1
        per_page = self.integer("per_page", 10, minimum=1, maximum=100) or 10
        offset = self.integer("offset")
        return page, per_page, offset

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._get(name)
        if raw is None or raw == "":
            return default
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        self.errors[name] = f"{name} is not of type boolean."
        return default

    def date(self, name: str) -> tuple[dt.datetime, dt.datetime | None] | None:
        raw = self._get(name)
        if raw is None or raw == "":
            return None
        raw = raw.strip()
        if not _DATE_RE.match(raw):
            self.errors[name] = "Invalid date."
            return None
        try:
            parsed = dt.datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
        except ValueError:
            self.errors[name] = "Invalid date."
            return None
        if parsed.tzinfo is None:
            return parsed.replace(microsecond=0), None
        # An explicit offset is honoured (converted to the compared column's zone) [inf: §A10].
        return parsed.replace(tzinfo=None), parsed

    def enum(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        raw = self._get(name)
        if raw is None or raw == "":
            return default
        if raw not in allowed:
            self.errors[name] = f"{name} is not one of {', '.join(allowed)}."
            return default
        return raw

    def enum_list(self, name: str, allowed: tuple[str, ...], default: list[str]) -> list[str]:
        vals = self._list(name)
        if vals is None or not vals:
            return default
        for i, v in enumerate(vals):
            if v not in allowed:
                self.errors[name] = f"{name}[{i}] is not one of {', '.join(allowed)}."
                return default
        return vals

    def int_list(self, name: str) -> list[int]:
        vals = self._list(name)
        if not vals:
            return []
        out = []
        for i, v in enumerate(vals):
            if not re.fullmatch(r"\d+", v):
                self.errors[name] = f"{name}[{i}] is not of type integer."
                return []
            out.append(int(v))
        return out

    def string(self, name: str) -> str | None:
        raw = self._get(name)
        return raw if raw not in (None, "") else None

    def fields(self) -> list[str] | None:
        raw = self._get("_fields")
        if not raw:
            return None
        return [f.strip() for f in raw.split(",") if f.strip()]

    def raise_errors(self) -> None:
        if self.errors:
            raise _ParamError(self.errors)


def _project(obj: dict, fields: list[str] | None) -> dict:
    """WP ``_fields``: keep top-level keys and dotted sub-keys (``billing.country``)."""
    if not fields:
        return obj
    out: dict[str, Any] = {}
    for f in fields:
        head, _, rest = f.partition(".")
        if head not in obj:
            continue
        if rest and isinstance(obj[head], dict):
            sub = _project(obj[head], [rest])
            out.setdefault(head, {}).update(sub)
        else:
            out[head] = obj[head]
    return out


def _matches(o: Order, term: str) -> bool:
    term = term.lower()
    a = o.author
    hay = [str(o.id), str(a.get("number", o.id))]
    for addr in ("billing", "shipping"):
        hay.extend(str(v) for v in (a.get(addr) or {}).values())
    return any(term in h.lower() for h in hay)


