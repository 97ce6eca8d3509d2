"""The Magento 2 REST sandbox (shop-apis.md Part B and §C2).

Serves ``/rest[/<store_code>]/V1/{orders,invoices,creditmemos,creditmemo/{id},taxRates/search,
taxRules/search}`` and ``POST /rest/V1/integration/admin/token`` from a scenario; see
``docs/sandbox-magento.md``. Tests drive it further with :meth:`MagentoSandbox.add_order`,
:meth:`add_invoice`, :meth:`add_creditmemo` and :meth:`fail_next`.
"""

from __future__ import annotations

import json
import random
import re
import secrets
from decimal import Decimal
from typing import Any

from exactsync.clock import Clock
from exactsync.sandbox.base import SandboxApp, SandboxRequest, SandboxResponse, json_response
from exactsync.sandbox.magento.author import (
    AuthorError,
    Ids,
    deep_merge,
    expand_order,
    fmt_time,
    make_creditmemo,
    make_invoice,
    refresh_items,
    to_decimal,
)
from exactsync.sandbox.magento.search import SearchError, parse_criteria, parse_fields, project, run_search

__all__ = ["MagentoSandbox", "to_wire", "NO_ROUTE", "NO_ENTITY", "UNAUTHORIZED"]

NO_ROUTE = "Request does not match any route."
NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
SIGN_IN = (
    "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later."
)
TFA = "Please use the 2fa provider-specific endpoints to obtain a token."
NO_STORE = "The store that was requested wasn't found. Verify the store and try again."
INTERNAL = "Internal Error. Details are available in Magento log file. Report ID: %1"

SALES = "Magento_Sales::sales"
TAX = "Magento_Tax::manage_tax"

_PATH = re.compile(r"^/(?:index\.php/)?rest(?:/(?P<store>[A-Za-z0-9_]+))?/V1/(?P<route>.*?)/?$")


def to_wire(obj: Any) -> Any:
    """Decimal → JSON number (int when whole, else ≤4 decimals); private ``_keys`` dropped."""
    if isinstance(obj, dict):
        return {k: to_wire(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [to_wire(v) for v in obj]
    if isinstance(obj, Decimal):
        q = obj.quantize(Decimal("0.0001"))
        return int(q) if q == q.to_integral_value() else float(q)
    return obj


def _decimals(obj: Any) -> Any:
    """Scenario floats → Decimal (raw documents written in full JSON)."""
    if isinstance(obj, dict):
        return {k: _decimals(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decimals(v) for v in obj]
    if isinstance(obj, float):
        return Decimal(repr(obj))
    return obj


def _error(status: int, message: str, parameters: Any = None) -> SandboxResponse:
    body: dict[str, Any] = {"message": message}
    if parameters is not None:
        body["parameters"] = parameters
    return json_response(body, status)


class MagentoSandbox(SandboxApp):
    """Magento 2 REST: sales documents and tax rates for one installation (all its stores)."""

    name = "magento"

    def __init__(self, scenario: dict[str, Any] | None = None, clock: Clock | None = None) -> None:
        super().__init__(clock)
        scenario = scenario or {}
        self.store: dict[str, Any] = dict(scenario.get("store") or {})
        st = self.store
        self.store_codes: dict[str, int] = dict(st.get("store_codes") or {"default": 1})
        self.store_codes.setdefault("default", 1)
        self.store_codes.setdefault("all", 0)
        self.overflow: str = st.get("overflow", "last_page")  # or "empty" (2.4 variants, PR #26988)
        self.input_limits: bool = bool(st.get("input_limits", False))
        self.default_page_size = int(st.get("default_page_size", 20))
        self.max_page_size = int(st.get("max_page_size", 300))
        self.integration_as_bearer = bool(st.get("integration_as_bearer", True))
        self.admin_token_hours = float(st.get("admin_token_hours", 4))
        # tokens: strings (all resources) or {"token": ..., "resources": [...]}
        self.tokens: dict[str, set[str] | None] = {}
        for t in st.get("tokens", []):
            if isinstance(t, str):
                self.tokens[t] = None
            else:
                self.tokens[t["token"]] = set(t["resources"]) if t.get("resources") is not None else None
        self.admin_users = {u["username"]: u for u in st.get("admin_users", [])}
        self.admin_tokens: dict[str, float] = {}  # token -> expiry (clock time)
        faults = dict(scenario.get("faults") or st.get("faults") or {})
        self.latency_ms = float(faults.get("latency_ms", 0))
        self.error_rate = float(faults.get("error_rate", 0))
        self.unavailable_rate = float(faults.get("unavailable_rate", 0))
        self.rng = random.Random(faults.get("seed", 1))
        self._fail_queue: list[int] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, path, raw_query), for tests

        self.ids = Ids()
        self.tax_rates: list[dict[str, Any]] = []
        for i, r in enumerate(scenario.get("tax_rates", []), start=1):
            self.tax_rates.append(self._tax_rate(r, i))
        self.tax_rules: list[dict[str, Any]] = [_decimals(r) for r in scenario.get("tax_rules", [])]
        self.orders: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.creditmemos: dict[int, dict[str, Any]] = {}
        for a in scenario.get("orders", []):
            try:
                self.add_order(a)
            except AuthorError as e:
                which = a.get("increment_id") or a.get("id") if isinstance(a, dict) else None
                raise ValueError(f"magento scenario: order {which or '?'}: {e}") from None
        for raw in scenario.get("raw_orders", []):
            o = _decimals(raw)
            self.orders[int(o["entity_id"])] = o
        for raw in scenario.get("raw_invoices", []):
            d = _decimals(raw)
            self.invoices[int(d["entity_id"])] = d
        for raw in scenario.get("raw_creditmemos", []):
            d = _decimals(raw)
            self.creditmemos[int(d["entity_id"])] = d

    # --- scenario helpers ---------------------------------------------------------------------
    @staticmethod
    def _tax_rate(r: dict[str, Any], i: int) -> dict[str, Any]:
        country = r.get("tax_country_id") or r.get("country") or "NL"
        rate = to_decimal(r.get("rate"), Decimal("0"))
        code = r.get("code") or f"{country}-{rate.normalize():f}%"
        return {
            "id": int(r.get("id", i)),
            "tax_country_id": country,
            "tax_region_id": int(r.get("tax_region_id", 0)),
            "region_name": r.get("region_name"),
            "tax_postcode": r.get("tax_postcode", "*"),
            "zip_is_range": r.get("zip_is_range"),
            "zip_from": r.get("zip_from"),
            "zip_to": r.get("zip_to"),
            "rate": rate,
            "code": code,
            "titles": r.get("titles", []),
        }

    def _now(self) -> str:
        return fmt_time(self.clock.now())

    def add_order(self, author: dict[str, Any]) -> dict[str, Any]:
        """Expand an author order (with its ``invoices`` and ``creditmemos``); returns the wire JSON."""
        with self.lock:
            order = expand_order(author, self.store, self.tax_rates, self.ids)
            if order["entity_id"] in self.orders:
                raise AuthorError(f"duplicate order id {order['entity_id']}")
            self.orders[order["entity_id"]] = order
            if author.get("shipped"):
                order["_shipped"] = True
            default_time = order["created_at"]
            for spec in author.get("invoices", []):
                inv = make_invoice(order, spec, self.ids, self.store, default_time)
                self.invoices[inv["entity_id"]] = inv
            for spec in author.get("creditmemos", []):
                cm = make_creditmemo(order, spec, self.ids, self.store, default_time)
                self.creditmemos[cm["entity_id"]] = cm
            if author.get("patch"):
                deep_merge(order, author["patch"])
            return to_wire(order)

    def add_invoice(self, order_id: int, spec: dict[str, Any] | None = None) -> dict[str, Any]:
        """Invoice an order now (``created_at`` = clock); bumps the order's ``updated_at``."""
        with self.lock:
            order = self.orders[order_id]
            inv = make_invoice(order, dict(spec or {}), self.ids, self.store, self._now())
            self.invoices[inv["entity_id"]] = inv
            return to_wire(inv)

    def add_creditmemo(self, order_id: int, spec: dict[str, Any] | None = None) -> dict[str, Any]:
        """Refund (offline) now; ``spec`` like a scenario credit memo, default a full refund."""
        with self.lock:
            order = self.orders[order_id]
            spec = dict(spec) if spec else {"full": True}
            cm = make_creditmemo(order, spec, self.ids, self.store, self._now())
            self.creditmemos[cm["entity_id"]] = cm
            return to_wire(cm)

    def touch(self, kind: str, entity_id: int, **fields: Any) -> None:
        """Change top-level fields of a stored document and bump its ``updated_at`` (tests)."""
        with self.lock:
            doc = {"order": self.orders, "invoice": self.invoices, "creditmemo": self.creditmemos}[kind][entity_id]
            doc.update(_decimals(fields))
            doc["updated_at"] = self._now()
            if kind == "order" and "_rows" in doc:
                refresh_items(doc)

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next ``count`` requests fail with ``status`` (500 JSON or 503 HTML)."""
        with self.lock:
            self._fail_queue.extend([status] * count)

    # --- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: SandboxRequest) -> SandboxResponse:
        with self.lock:
            self.requests.append((request.method, request.path, request.raw_query))
            forced = self._fail_queue.pop(0) if self._fail_queue else None
            roll = self.rng.random() if (self.error_rate or self.unavailable_rate) else 1.0
        if self.latency_ms:
            self.clock.sleep(self.latency_ms / 1000.0)
        if forced is None:
            if roll < self.unavailable_rate:
                forced = 503
            elif roll < self.unavailable_rate + self.error_rate:
                forced = 500
        if forced is not None:
            return self._fault(forced)
        try:
            return self._route(request)
        except SearchError as e:
            return json_response(e.body(), e.status)

    def _fault(self, status: int) -> SandboxResponse:
        if status == 503:
            body = b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>"
            return SandboxResponse(503, body, {"content-type": "text/html; charset=UTF-8", "retry-after": "1"})
        if status == 500:
            return _error(500, INTERNAL, [f"webapi-{self.rng.randrange(16**12):012x}"])
        return _error(status, "Sandbox fault")

    def _route(self, req: SandboxRequest) -> SandboxResponse:
        m = _PATH.match(req.path)
        if not m:
            return _error(404, NO_ROUTE)
        store = m.group("store")
        route = m.group("route")
        parts = route.split("/")
        method = req.method.upper()

        if method == "POST" and route == "integration/admin/token":
            return self._admin_token(req)

        handler: tuple[str, Any] | None = None
        if method == "GET":
            if parts[0] in ("orders", "invoices", "creditmemos") and len(parts) == 1:
                handler = (SALES, lambda: self._list(req, parts[0]))
            elif parts[0] in ("orders", "invoices") and len(parts) == 2 and parts[1] not in ("", "items"):
                handler = (SALES, lambda: self._one(req, parts[0], parts[1]))
            elif parts[0] == "creditmemo" and len(parts) == 2 and parts[1]:
                handler = (SALES, lambda: self._one(req, "creditmemos", parts[1]))
            elif route == "taxRates/search":
                handler = (TAX, lambda: self._search_plain(req, self.tax_rates))
            elif parts[0] == "taxRates" and len(parts) == 2:
                handler = (TAX, lambda: self._tax_rate_one(req, parts[1]))
            elif route == "taxRules/search":
                handler = (TAX, lambda: self._search_plain(req, self.tax_rules))
        if handler is None:
            return _error(404, NO_ROUTE)
        resource, fn = handler
        denied = self._auth(req, resource)
        if denied is not None:
            return denied
        if store is not None and store not in self.store_codes:
            # [iss] unknown store code → error (reference says 400/404); we answer 404 + the
            # StoreRepository message.
            return _error(404, NO_STORE)
        return fn()

    # --- auth ---------------------------------------------------------------------------------
    def _auth(self, req: SandboxRequest, resource: str) -> SandboxResponse | None:
        auth = req.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        ok = False
        if token:
            with self.lock:
                if token in self.tokens and self.integration_as_bearer:
                    allowed = self.tokens[token]
                    ok = allowed is None or resource in allowed
                elif token in self.admin_tokens:
                    ok = self.admin_tokens[token] > self.clock.time()
        if ok:
            return None
        return _error(401, UNAUTHORIZED, {"resources": resource})

    def _admin_token(self, req: SandboxRequest) -> SandboxResponse:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "Decoding error: %1", ["invalid JSON"])
        if not isinstance(body, dict) or not body.get("username") or not body.get("password"):
            return _error(400, "One or more input exceptions have occurred.")
        user = self.admin_users.get(str(body["username"]))
        if user is None or user.get("password") != body["password"]:
            return _error(401, SIGN_IN)
        if user.get("tfa"):
            return _error(401, TFA, {"active_providers": ["google"]})
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.admin_tokens[token] = self.clock.time() + self.admin_token_hours * 3600
        return SandboxResponse(200, json.dumps(token).encode(), {"content-type": "application/json; charset=utf-8"})

    # --- reads --------------------------------------------------------------------------------
    def _collection(self, kind: str) -> dict[int, dict[str, Any]]:
        return {"orders": self.orders, "invoices": self.invoices, "creditmemos": self.creditmemos}[kind]

    def _respond(self, req: SandboxRequest, wire: Any) -> SandboxResponse:
        """``wire`` is already a fresh JSON-ready copy (made under the lock)."""
        fields = req.arg("fields")
        if fields:
            wire = project(wire, parse_fields(fields))
        return json_response(wire)

    def _list(self, req: SandboxRequest, kind: str) -> SandboxResponse:
        crit = parse_criteria(req.query)
        with self.lock:
            rows = sorted(self._collection(kind).values(), key=lambda d: d.get("entity_id", 0))
            # filterable columns: the scalar top-level fields (every document has the same set)
            columns = {k for r in rows[:50] for k, v in r.items() if not k.startswith("_") and not isinstance(v, (dict, list))}
            columns |= {"entity_id", "increment_id", "created_at", "updated_at", "store_id", "state"}
            if kind == "orders":
                columns |= {"status", "customer_email"}
            result = run_search(
                rows, crit, columns=columns, overflow=self.overflow, input_limits=self.input_limits,
                default_page_size=self.default_page_size, max_page_size=self.max_page_size,
            )
            wire = to_wire(result)
        return self._respond(req, wire)

    def _search_plain(self, req: SandboxRequest, rows: list[dict[str, Any]]) -> SandboxResponse:
        crit = parse_criteria(req.query)
        with self.lock:
            columns = {k for r in rows for k in r} | {"id", "code"}
            result = run_search(
                list(rows), crit, columns=columns, overflow=self.overflow, input_limits=self.input_limits,
                default_page_size=self.default_page_size, max_page_size=self.max_page_size,
            )
            wire = to_wire(result)
        return self._respond(req, wire)

    def _one(self, req: SandboxRequest, kind: str, raw_id: str) -> SandboxResponse:
        try:
            entity_id = int(raw_id)
        except ValueError:
            return _error(404, NO_ENTITY)
        with self.lock:
            doc = self._collection(kind).get(entity_id)
            if doc is None:
                return _error(404, NO_ENTITY)
            wire = to_wire(doc)
        return self._respond(req, wire)

    def _tax_rate_one(self, req: SandboxRequest, raw_id: str) -> SandboxResponse:
        for r in self.tax_rates:
            if str(r["id"]) == raw_id:
                return self._respond(req, to_wire(r))
        return _error(404, NO_ENTITY)
