"""The Exact Online sandbox app: routing, authentication, limits, OData collections and writes.

See docs/sandbox-exact.md for the scenario format, the wire behaviour and the sandbox-only
control endpoints (``/_sandbox/...``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import quote

from exactsync.clock import Clock
from exactsync.sandbox.base import SandboxApp, SandboxRequest, SandboxResponse, json_response
from exactsync.sandbox.exact import entries as E
from exactsync.sandbox.exact.faults import CallLog, Faults
from exactsync.sandbox.exact.oauth import OAuthServer
from exactsync.sandbox.exact.odata import (
    ODataError,
    compile_filter,
    dumps,
    odata_error,
    parse_datetime,
    parse_decimal,
    parse_guid,
    parse_select,
    to_wire,
)
from exactsync.sandbox.exact.ratelimit import RateLimiter
from exactsync.sandbox.exact.schema import ENTITIES, ME_FIELDS, Entity
from exactsync.sandbox.exact.state import GUID_RE, Division, Settings, load_scenario
from exactsync.sandbox.exact.webhooks import WebhookDispatcher

__all__ = ["ExactSandbox"]

_API_RE = re.compile(r"^/api/v1/(?P<div>[^/]+)/(?P<rest>.+?)/?$")
_REST_RE = re.compile(
    r"^(?P<route>[A-Za-z]+(?:/[A-Za-z]+)*)(?:\((?P<key>[^)]*)\)(?:/(?P<nav>[A-Za-z]+))?)?(?:/(?P<count>\$count))?$"
)
_JSON = {"content-type": "application/json; charset=utf-8"}
_STREAM = "Error processing request stream. "
#: Dutch wording of business errors as quoted in the reference (§6.1, §6.3); others stay English.
NL_MESSAGES = {
    "Invalid reference: Journals": "Ongeldige referentie: Journals",
    "Invalid reference: VAT code": "Ongeldige referentie: Btw-code",
    "Invalid: G/L account type": "Ongeldig: Grootboekrekeningtype",
    "In use: Entry number": "In gebruik: Boekstuknummer",
    "Already processed": "Reeds verwerkt",
    "Data already exists": "Gegeven bestaat reeds",
    "Invalid: Invoice to (Type)": "Ongeldig: Factuur voor (Type)",
}


class ExactSandbox(SandboxApp):
    """Exact Online on the wire, from a scenario dict (see ``create_app``)."""

    name = "exact"

    def __init__(self, scenario: dict, clock: Clock | None = None) -> None:
        super().__init__(clock)
        settings, ids, divisions, pending = load_scenario(scenario)
        self.settings: Settings = settings
        self.ids = ids
        self.divisions: dict[int, Division] = divisions
        self.oauth = OAuthServer(settings, self.clock)
        self.limits = RateLimiter(settings)
        self.faults = Faults(settings.faults)
        self.log = CallLog()
        wh = settings.webhooks
        self.webhooks = WebhookDispatcher(settings.webhook_secret, float(wh.get("retry_base_seconds", 1.0)),
                                          bool(wh.get("auto_deliver", True)))
        self._client: str = settings.client_id
        for item in pending:
            self._seed_entries(self.divisions[item["division"]], item["entries"])

    # --- public helpers for tests -------------------------------------------------------------
    def calls(self, division: int | None = None) -> list[dict]:
        """Call log entries (all, or one division's); see docs/sandbox-exact.md."""
        with self.lock:
            return self.log.get(division)

    def clear_calls(self) -> None:
        with self.lock:
            self.log.clear()

    def set_faults(self, **kw: Any) -> None:
        """Change fault settings (keys: see ``faults.FAULT_KEYS``)."""
        with self.lock:
            self.faults.configure(**kw)

    def drop_next(self, n: int = 1) -> None:
        """The next ``n`` committed writes (POST by default) lose their response."""
        self.set_faults(drop_next=n)

    def fail_next(self, n: int = 1, status: int | None = None) -> None:
        """The next ``n`` API calls answer ``status`` (default 503) without doing any work."""
        kw: dict[str, Any] = {"fail_next": n}
        if status is not None:
            kw["status_5xx"] = status
        self.set_faults(**kw)

    def issue_tokens(self) -> dict:
        """Sandbox shortcut: consent + code exchange in one step; returns the token response."""
        with self.lock:
            code = self.oauth.grant_code()
            resp = self.oauth._exchange({"code": code, "client_id": self.settings.client_id}, self.clock.time())
            return json.loads(resp.body)

    def close_period(self, division: int, journal: str, year: int, period: int, closed: bool = True) -> None:
        with self.lock:
            div = self.divisions[division]
            key = (journal, year, period)
            (div.closed.add if closed else div.closed.discard)(key)
            div.rebuild_journal_status()

    def process_entry(self, division: int, entry_id: str) -> None:
        """Mark an entry processed (Status 50), as the bookkeeper would in the UI."""
        with self.lock:
            div = self.divisions[division]
            entry = div.entries.rows[entry_id]
            entry["Status"] = 50
            entry["Modified"] = self._now()
            E._rebuild(div, entry, self._now())

    def move_division(self, division: int) -> None:
        """Simulate a database move: every sync Timestamp is regenerated from a LOWER base and
        ``DivisionMoveDate`` is set, so a client that ignores it misses changes (reference §4.6)."""
        with self.lock:
            div = self.divisions[division]
            div.move_date = self._now()
            old_tl, old_del = div.tl_index, div.deleted_index
            div.tl_index, div.deleted_index = type(old_tl)(), type(old_del)()
            div._ts = 1_000
            for table, old, new in ((div.tl, old_tl, div.tl_index), (div.deleted, old_del, div.deleted_index)):
                for row in list(old.iter_after(table, 0)):
                    row["Timestamp"] = div.next_timestamp()
                    new.add(row["Timestamp"], row[table.key])

    def _now(self) -> dt.datetime:
        return self.clock.now().replace(tzinfo=None)

    # --- scenario entries ---------------------------------------------------------------------
    def _seed_entries(self, div: Division, items: list[dict]) -> None:
        for n, item in enumerate(items):
            try:
                payload, created, modified = self._scenario_entry(div, item, n)
                E.create_entry(div, payload, created, self.settings.user_id, status=int(item.get("status", 20)),
                               check_closed=False, created=created, modified=modified, typed_lines=True)
            except (E.BusinessError, ODataError, ValueError, KeyError) as exc:
                raise ValueError(f"division {div.code}: entry #{n} ({item.get('your_ref')!r}): {exc}") from exc

    def _scenario_entry(self, div: Division, item: dict, n: int) -> tuple[dict, dt.datetime, dt.datetime]:
        entry_id = parse_guid(item["id"]) if item.get("id") else div.ids.make(div.code, "entry", n)
        cust = str(item["customer"])
        customer = parse_guid(cust) if GUID_RE.match(cust) else div.account_by_code.get(cust.strip())
        if customer is None:
            raise ValueError(f"unknown customer {cust!r}")
        date = parse_datetime(item["date"])
        lines = []
        for i, line in enumerate(item.get("lines", []), start=1):
            gl = str(line["gl"])
            gl_id = parse_guid(gl) if GUID_RE.match(gl) else (div.gl_by_code.get(gl) or {}).get("ID")
            if gl_id is None:
                raise ValueError(f"unknown GL account {gl!r}")
            lines.append({
                "ID": parse_guid(line["id"]) if line.get("id") else div.ids.make(entry_id, "line", i),
                "GLAccount": gl_id, "AmountFC": parse_decimal(line["amount"]),
                "VATCode": line.get("vat_code"),
                "VATAmountFC": parse_decimal(line["vat_amount"]) if line.get("vat_amount") is not None else None,
                "Description": line.get("description"), "Quantity": (
                    parse_decimal(line["quantity"]) if line.get("quantity") is not None else None),
            })
        payload = {
            "EntryID": entry_id, "Journal": str(item.get("journal", "70")), "Customer": customer, "EntryDate": date,
            "ReportingYear": item.get("year"), "ReportingPeriod": item.get("period"),
            "EntryNumber": item.get("entry_number"), "YourRef": item.get("your_ref"),
            "Description": item.get("description"), "Currency": item.get("currency"),
            "Rate": parse_decimal(item["rate"]) if item.get("rate") is not None else None,
            "PaymentReference": item.get("payment_reference"),
            "DueDate": parse_datetime(item["due_date"]) if item.get("due_date") else None,
            "SalesEntryLines": lines,
        }
        created = parse_datetime(item["created"]) if item.get("created") else date + dt.timedelta(hours=12)
        modified = parse_datetime(item["modified"]) if item.get("modified") else created
        return payload, created, modified

    # --- entry point --------------------------------------------------------------------------
    def handle(self, request: SandboxRequest) -> SandboxResponse:
        path = request.path
        if path.startswith("/_sandbox/"):
            return self._control(request)
        if path == "/api/oauth2/auth":
            with self.lock:
                resp = self.oauth.authorize(request)
                self._log(request, resp, None, redact=True)
            return resp
        if path == "/api/oauth2/token":
            with self.lock:
                resp = self.oauth.token(request)
                self._log(request, resp, None, redact=True)
            return resp
        if path.rstrip("/").lower() == "/api/v1/current/me":
            return self._me(request)
        m = _API_RE.match(path)
        if m and m.group("div").isdigit():
            return self._api(request, int(m.group("div")), m.group("rest"))
        return odata_error("Resource not found for the segment.", 404)

    # --- current/Me --------------------------------------------------------------------------
    def _me(self, req: SandboxRequest) -> SandboxResponse:
        with self.lock:
            client, problem = self.oauth.check(req.headers.get("authorization"))
            if problem:
                resp = SandboxResponse(401, b"", {})
            elif req.method != "GET":
                resp = odata_error("Method not allowed.", 405, {"allow": "GET"})
            else:
                s = self.settings
                div = self.divisions.get(s.current_division or 0)
                row = {
                    "UserID": s.user_id, "AccountingDivision": s.current_division,
                    "CurrentDivision": s.current_division, "DivisionCustomer": None,
                    "DivisionCustomerCode": None, "DivisionCustomerName": div.description if div else None,
                    "Email": s.email, "EmployeeID": None, "FirstName": s.full_name.split(" ")[0],
                    "FullName": s.full_name, "Gender": "U", "Initials": None, "Language": s.language,
                    "LanguageCode": {"NL": "nl-NL"}.get(s.language.upper(), "en-EN"),
                    "LastName": s.full_name.split(" ")[-1], "Legislation": 1, "MiddleName": None, "Mobile": None,
                    "Nationality": None, "Phone": None, "PhoneExtension": None, "PictureUrl": None,
                    "ServerTime": self._now(), "ServerUtcOffset": 0, "ThumbnailPicture": None,
                    "ThumbnailPictureFormat": None, "Title": None, "UserName": s.user_name,
                }
                try:
                    fields, _ = parse_select(req.arg("$select"), ME_FIELDS, "Exact.Web.Api.System.Me")
                except ODataError as exc:
                    resp = odata_error(exc.message, exc.status)
                else:
                    rec = {"__metadata": {"uri": f"{req.base_url}/api/v1/current/Me(guid'{s.user_id}')",
                                          "type": "Exact.Web.Api.System.Me"}}
                    for f in fields or ME_FIELDS:
                        rec[f] = to_wire(row[f])
                    resp = SandboxResponse(200, dumps({"d": {"results": [rec]}}), dict(_JSON))
            self._log(req, resp, None)
            return resp

    # --- division-scoped API ----------------------------------------------------------------
    def _api(self, req: SandboxRequest, division: int, rest: str) -> SandboxResponse:
        latency = 0.0
        with self.lock:
            now = self.clock.time()
            endpoint = self._endpoint_name(rest)
            client, problem = self.oauth.check(req.headers.get("authorization"))
            if problem:
                resp = SandboxResponse(401, b"", {})
                if client:
                    self.limits.record_error(client, division, endpoint, now)
                self._log(req, resp, division, endpoint=endpoint)
                return resp
            assert client is not None
            if self.limits.is_blocked(client, division, endpoint, now):
                status = self.settings.error_block_status
                resp = SandboxResponse(status, b"", {}) if status == 429 else odata_error(
                    "API rate limit exceeded", status)
                self._log(req, resp, division, endpoint=endpoint, fault="error_budget_block")
                return resp
            self._client = client
            verdict = self.limits.take(client, division, now)
            if not verdict.allowed:
                resp = SandboxResponse(429, b"", dict(verdict.headers))
                self._log(req, resp, division, endpoint=endpoint, verdict=verdict)
                return resp
            injected, latency = self.faults.before()
            fault = None
            if injected == "5xx":
                resp = odata_error("The service is temporarily unavailable.", self.faults.status_5xx)
                fault = "5xx"
            elif injected == "429":
                headers = self.limits._headers(now, self.settings.minutely, 0, "minutely")
                resp = SandboxResponse(429, b"", headers)
                fault = "429"
            else:
                try:
                    resp = self._dispatch(req, division, rest)
                except ODataError as exc:
                    resp = odata_error(exc.message, exc.status)
                except E.BusinessError as exc:
                    resp = odata_error("\n".join(self._localise(m) for m in exc.messages), 500)
            if fault != "429":
                resp.headers.update(verdict.headers)
            if resp.status in (400, 401, 403, 404):
                self.limits.record_error(client, division, endpoint, now)
            if self.faults.drop(req.method, resp.status):
                resp = SandboxResponse(resp.status, resp.body, resp.headers, drop=True)
                fault = "drop"
            self._log(req, resp, division, endpoint=endpoint, verdict=verdict, fault=fault)
        if latency:
            time.sleep(latency)  # real wall-clock latency, outside the lock
        return resp

    def _localise(self, message: str) -> str:
        if self.settings.language.upper() == "NL":
            return NL_MESSAGES.get(message, message)
        return message

    @staticmethod
    def _endpoint_name(rest: str) -> str:
        m = _REST_RE.match(rest)
        route = m.group("route") if m else rest
        ent = ENTITIES.get(route.lower())
        return ent.route if ent else route

    def _log(self, req: SandboxRequest, resp: SandboxResponse, division: int | None, *, redact: bool = False,
             endpoint: str | None = None, verdict: Any = None, fault: str | None = None) -> None:
        now = self.clock.time()
        headers = resp.headers
        self.log.add(
            at=dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(tzinfo=None).isoformat(),
            time=now, method=req.method, path=req.path,
            query="" if redact else "&".join(f"{k}={v}" for k, v in req.query),
            status=resp.status, division=division, endpoint=endpoint,
            minutely_remaining=_int(headers.get("X-RateLimit-Minutely-Remaining")),
            daily_remaining=_int(headers.get("X-RateLimit-Remaining")),
            fault=fault,
        )

    # --- routing inside a division -------------------------------------------------------------
    def _dispatch(self, req: SandboxRequest, division: int, rest: str) -> SandboxResponse:
        div = self.divisions.get(division)
        if div is None or not div.granted:
            return odata_error("Forbidden: no access to this division.", 403)
        m = _REST_RE.match(rest)
        if not m:
            return odata_error("Resource not found for the segment.", 404)
        route, key, nav = m.group("route"), m.group("key"), m.group("nav")
        if m.group("count"):
            if key is not None or nav is not None:
                return odata_error("Resource not found for the segment '$count'.", 404)
            nav = "$count"
        if route.lower() == "users/userhasrights":
            return self._user_has_rights(req)
        if route.lower() == "read/sync/sync/synctimestamp":
            return self._sync_timestamp(req, div)
        entity = ENTITIES.get(route.lower())
        if entity is None:
            return odata_error(f"Resource not found for the segment '{route.split('/')[-1]}'.", 404)
        if req.method not in entity.methods:
            return odata_error("Method not allowed.", 405, {"allow": ", ".join(sorted(entity.methods))})
        key_value = self._parse_key(entity, key) if key is not None else None
        if req.method == "GET":
            return self._get(req, div, entity, key_value, nav)
        if nav is not None:
            return odata_error("Method not allowed.", 405)
        if req.method == "POST":
            if key is not None:
                return odata_error("Method not allowed.", 405)
            return self._post(req, div, entity)
        if key is None:
            return odata_error("Method not allowed.", 405)
        if req.method == "PUT":
            return self._put(req, div, entity, key_value)
        return self._delete(div, entity, key_value)

    def _parse_key(self, entity: Entity, key: str) -> Any:
        if entity.key is None:
            raise ODataError("Resource not found for the segment.", 404)
        if entity.fields[entity.key] == "Guid":
            m = re.fullmatch(r"guid'([^']*)'", key.strip())
            try:
                if not m:
                    raise ValueError
                return parse_guid(m.group(1))
            except ValueError:
                raise ODataError(f"Unrecognized 'Edm.Guid' literal '{key}' in '{key}'.") from None
        try:
            return int(key.rstrip("L"))
        except ValueError:
            raise ODataError(f"Bad Request - Error in query syntax: '{key}'.") from None

    def _user_has_rights(self, req: SandboxRequest) -> SandboxResponse:
        endpoint = (req.arg("endpoint") or "").strip("'")
        action = (req.arg("action") or "").strip("'").upper()
        ent = ENTITIES.get(endpoint.lower())
        ok = ent is not None and action in ent.methods
        return SandboxResponse(200, dumps({"d": {"UserHasRights": ok}}), dict(_JSON))

    def _sync_timestamp(self, req: SandboxRequest, div: Division) -> SandboxResponse:
        """``read/sync/Sync/SyncTimestamp?modified=datetime'…'&endPoint='TransactionLines'`` [infer shape].

        Returns a Timestamp N such that ``Timestamp gt N`` yields every line modified on or after
        ``modified`` (it may also yield some older ones, never fewer).
        """
        modified, endpoint = req.arg("modified"), req.arg("endPoint")
        if req.method != "GET":
            return odata_error("Method not allowed.", 405, {"allow": "GET"})
        if not modified or not endpoint:
            return odata_error("Mandatory: modified, endPoint", 400)
        m = re.fullmatch(r"datetime'([^']*)'", modified.strip())
        try:
            when = parse_datetime(m.group(1) if m else modified)
        except ValueError:
            return odata_error(f"Unrecognized 'Edm.DateTime' literal '{modified}'.", 400)
        api = endpoint.strip("'")
        if api.lower() != "transactionlines":
            return odata_error(f"Invalid endPoint '{api}': the sandbox supports 'TransactionLines'.", 400)
        stamps = [r["Timestamp"] for r in div.tl.rows.values() if r["Modified"] >= when]
        value = (min(stamps) - 1) if stamps else div._ts
        rec = {"__metadata": {"uri": f"{req.base_url}/api/v1/{div.code}/read/sync/Sync/SyncTimestamp",
                              "type": "Exact.Web.Api.Models.Read.Sync.SyncTimestamp"},
               "API": "TransactionLines", "Modified": to_wire(when), "TimeStampAsBigInt": value}
        return SandboxResponse(200, dumps({"d": {"results": [rec]}}), dict(_JSON))

    # --- GET ---------------------------------------------------------------------------------
    def _get(self, req: SandboxRequest, div: Division, entity: Entity, key: Any, nav: str | None) -> SandboxResponse:
        base = f"{req.base_url}/api/v1/{div.code}/{entity.route}"
        if key is not None:
            row = self._rows_by_key(div, entity, key)
            if row is None:
                return odata_error("Resource not found for the segment.", 404)
            if nav is None:
                fields, nested = parse_select(req.arg("$select"), entity.fields, entity.type_name, entity.navs)
                expand = self._expand(req, entity)
                rec = self._render(div, entity, row, fields, nested, expand, req.base_url)
                return SandboxResponse(200, dumps({"d": rec}), dict(_JSON))
            if entity.route == "salesentry/SalesEntries" and nav == "SalesEntryLines":
                line_entity = ENTITIES["salesentry/salesentrylines"]
                ids = div.lines_by_entry.get(key, [])
                rows = [div.entry_lines.rows[i] for i in ids]
                return self._collection(req, div, line_entity, rows_override=rows,
                                        next_base=f"{base}(guid'{key}')/SalesEntryLines")
            if entity.route == "vat/VATCodes" and nav == "VATPercentages":
                pct_entity = ENTITIES["vat/vatpercentages"]
                rows = list(row.get("_ranges", []))
                return self._collection(req, div, pct_entity, rows_override=rows,
                                        next_base=f"{base}(guid'{key}')/VATPercentages")
            return odata_error("Resource not found for the segment.", 404)
        if nav == "$count":
            return self._collection(req, div, entity, count_only=True)
        if nav is not None:
            return odata_error("Resource not found for the segment.", 404)
        return self._collection(req, div, entity)

    def _rows_by_key(self, div: Division, entity: Entity, key: Any) -> dict | None:
        if entity.table == "divisions":
            d = self.divisions.get(key)
            return self._division_row(d, div) if d else None
        return div.table(entity.table).get(key)

    def _division_row(self, d: Division, current: Division) -> dict:
        return {
            "Code": d.code, "Hid": d.hid, "Description": d.description, "Country": d.country, "Currency": d.currency,
            "Current": d.code == self.settings.current_division, "Status": d.status, "Legislation": d.legislation,
            "VATNumber": d.vat_number, "StartDate": d.start_date, "DivisionMoveDate": d.move_date,
            "Customer": None, "CustomerCode": None, "CustomerName": None, "Created": d.created, "Modified": d.created,
        }

    def _expand(self, req: SandboxRequest, entity: Entity) -> set[str]:
        raw = req.arg("$expand")
        if not raw:
            return set()
        out = set()
        for name in raw.split(","):
            name = name.strip()
            if name not in entity.navs:
                raise ODataError(f"No property '{name}' exists in type '{entity.type_name}'.")
            out.add(name)
        return out

    def _render(self, div: Division, entity: Entity, row: dict, fields: list[str] | None,
                nested: dict, expand: set[str], base_url: str) -> dict:
        uri = f"{base_url}/api/v1/{div.code}/{entity.route}"
        if entity.key:
            k = row[entity.key]
            uri += f"(guid'{k}')" if entity.fields[entity.key] == "Guid" else f"({k})"
        rec: dict[str, Any] = {"__metadata": {"uri": uri, "type": entity.type_name}}
        names = fields if fields is not None else list(entity.fields) + list(entity.navs)
        for f in names:
            if f in entity.navs:
                if f in expand:
                    rec[f] = {"results": self._nav_rows(div, entity, row, f, nested.get(f), base_url)}
                else:
                    rec[f] = {"__deferred": {"uri": f"{uri}/{f}"}}
            else:
                v = row.get(f)
                rec[f] = to_wire(v) if type(v) is dt.datetime else v
        return rec

    def _nav_rows(self, div: Division, entity: Entity, row: dict, nav: str, sub: list[str] | None,
                  base_url: str) -> list[dict]:
        if nav == "SalesEntryLines":
            child = ENTITIES["salesentry/salesentrylines"]
            rows = [div.entry_lines.rows[i] for i in div.lines_by_entry.get(row["EntryID"], [])]
        else:
            child = ENTITIES["vat/vatpercentages"]
            rows = list(row.get("_ranges", []))
        return [self._render(div, child, r, sub, {}, set(), base_url) for r in rows]

    def _collection(self, req: SandboxRequest, div: Division, entity: Entity, *, rows_override: list | None = None,
                    next_base: str | None = None, count_only: bool = False) -> SandboxResponse:
        opts = {k: v for k, v in req.query if k.startswith("$")}
        for bad in ("$skip", "$orderby"):
            if bad in opts:
                raise ODataError(f"The query parameter '{bad}' is not supported for this endpoint.")
        top = None
        if "$top" in opts:
            if not self.settings.allow_top:
                raise ODataError("The query parameter '$top' is not supported for this endpoint.")
            try:
                top = int(opts["$top"])
            except ValueError:
                raise ODataError("Invalid value for $top.") from None
        if entity.mode == "bulk" and "$select" not in opts:
            raise ODataError("Please add a $select or a $top=1 statement to the query string.")
        filt = compile_filter(opts["$filter"], entity.fields, entity.type_name) if opts.get("$filter") else None
        if entity.mode == "sync" and filt is not None and filt.fields - {"Timestamp"}:
            raise ODataError("Only the Timestamp property can be used in the $filter of a sync endpoint.")
        if entity.mandatory_filter and rows_override is None and (
            filt is None or not (filt.fields & set(entity.mandatory_filter))
        ):
            raise ODataError(
                "This endpoint has mandatory filtering applied. A GET request for this endpoint must have a $filter "
                "parameter with one of the following fields in the url: " + ",".join(entity.mandatory_filter) + "."
            )
        fields, nested = parse_select(opts.get("$select"), entity.fields, entity.type_name, entity.navs)
        expand = self._expand(req, entity)
        page_size = self.settings.page_size if entity.mode in ("standard", "read") else self.settings.bulk_page_size
        if top is not None:
            page_size = min(page_size, top)
        pred = filt.predicate if filt else None
        skiptoken = opts.get("$skiptoken")

        if count_only or opts.get("$inlinecount") == "allpages":
            total = sum(1 for r in self._matching(div, entity, filt, None, rows_override) if pred is None or pred(r))
            if count_only:
                return SandboxResponse(200, str(total).encode(), {"content-type": "text/plain; charset=utf-8"})
        page: list[dict] = []
        more = False
        for row in self._matching(div, entity, filt, skiptoken, rows_override):
            if pred is not None and not pred(row):
                continue
            if len(page) == page_size:
                more = True
                break
            page.append(row)
        if top is not None:
            more = False
        results = [self._render(div, entity, r, fields, nested, expand, req.base_url) for r in page]
        d: dict[str, Any] = {"results": results}
        if opts.get("$inlinecount") == "allpages":
            d["__count"] = str(total)
        if more:
            d["__next"] = self._next_url(req, next_base, entity, page[-1], skiptoken)
        return SandboxResponse(200, dumps({"d": d}), dict(_JSON))

    def _matching(self, div: Division, entity: Entity, filt: Any, skiptoken: str | None,
                  rows_override: list | None) -> Iterator[dict]:
        """Candidate rows in paging order, starting after ``skiptoken``; callers apply the filter."""
        if rows_override is not None:
            rows = sorted(rows_override, key=lambda r: r[entity.key]) if entity.key else list(rows_override)
            if skiptoken:
                after = _guid_token(skiptoken)
                rows = [r for r in rows if r[entity.key] > after]
            return iter(rows)
        if entity.table == "divisions":
            rows = [self._division_row(d, div) for code, d in sorted(self.divisions.items()) if d.granted]
            if skiptoken:
                rows = [r for r in rows if r["Code"] > int(skiptoken.rstrip("L"))]
            return iter(rows)
        if entity.mode == "read":
            start = int(skiptoken.rstrip("L")) if skiptoken else 0
            return iter(div.journal_status[start:])
        if entity.mode == "sync":
            table = div.table(entity.table)
            index = div.tl_index if entity.table == "tl" else div.deleted_index
            lower, inclusive = 0, False
            if filt and "Timestamp" in filt.lower_bounds:
                op, val = filt.lower_bounds["Timestamp"]
                lower, inclusive = int(val), op == "ge"
            if skiptoken:
                tok = int(skiptoken.rstrip("L"))
                if tok >= lower:
                    lower, inclusive = tok, False
            it = index.iter_after(table, lower, inclusive)
            if entity.table == "deleted":
                cutoff = self._now() - dt.timedelta(days=self.settings.deleted_retention_days)
                it = (r for r in it if r["DeletedDate"] >= cutoff)
            return it
        table = div.table(entity.table)
        after = _guid_token(skiptoken) if skiptoken else None
        # index shortcuts for the common "EntryID eq …" / key lookups
        if filt and entity.key in filt.eq_values:
            keys = sorted(k for k in filt.eq_values[entity.key] if isinstance(k, str))
            return (table.rows[k] for k in keys if k in table.rows and (after is None or k > after))
        if filt and "EntryID" in filt.eq_values and entity.table in ("tl", "entry_lines"):
            source = div.tl_by_entry if entity.table == "tl" else div.lines_by_entry
            keys = sorted(k for e in filt.eq_values["EntryID"] if isinstance(e, str) for k in source.get(e, []))
            return (table.rows[k] for k in keys if after is None or k > after)
        it = table.iter_after(after)
        return it

    def _next_url(self, req: SandboxRequest, next_base: str | None, entity: Entity, last: dict,
                  skiptoken: str | None) -> str:
        if entity.mode == "sync":
            token = f"{last['Timestamp']}L"
        elif entity.mode == "read":
            token = f"{(int(skiptoken.rstrip('L')) if skiptoken else 0) + self.settings.page_size}L"
        elif entity.table == "divisions":
            token = f"{last['Code']}"
        else:
            token = f"guid'{last[entity.key]}'"
        parts = [(k, v) for k, v in req.query if k != "$skiptoken"] + [("$skiptoken", token)]
        base = next_base or f"{req.base_url}{req.path}"
        return base + "?" + "&".join(f"{quote(k, safe='$')}={quote(v, safe=chr(36) + chr(39) + '(),:')}"
                                     for k, v in parts)

    # --- writes --------------------------------------------------------------------------------
    def _body(self, req: SandboxRequest) -> Any:
        try:
            return json.loads(req.body.decode("utf-8"), parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise ODataError(_STREAM + "The request should be a valid top-level resource object.") from None

    def _post(self, req: SandboxRequest, div: Division, entity: Entity) -> SandboxResponse:
        body = self._body(req)
        now = self._now()
        user = self.settings.user_id
        if entity.route == "salesentry/SalesEntries":
            payload = E.convert_payload(body, entity.fields, entity.type_name, {"SalesEntryLines"})
            for name in set(payload) - E.ENTRY_WRITABLE:
                payload.pop(name)
            row = E.create_entry(div, payload, now, user)
            expand = {"SalesEntryLines"}
            self._event(div, "SalesEntries", row["EntryID"], "Update")
        elif entity.route == "salesentry/SalesEntryLines":
            payload = E.convert_payload(body, entity.fields, entity.type_name)
            row = E.add_line(div, payload, now, user)
            expand = set()
            self._event(div, "SalesEntries", row["EntryID"], "Update")
        elif entity.route == "crm/Accounts":
            row = self._post_account(div, E.convert_payload(body, entity.fields, entity.type_name), now)
            expand = set()
            self._event(div, "Accounts", row["ID"], "Update")
        elif entity.route == "webhooks/WebhookSubscriptions":
            row = self._post_webhook(div, E.convert_payload(body, entity.fields, entity.type_name), now)
            expand = set()
        else:  # pragma: no cover - methods table prevents this
            return odata_error("Method not allowed.", 405)
        rec = self._render(div, entity, row, None, {}, expand, req.base_url)
        if "return=representation" not in req.headers.get("prefer", ""):
            # without the Prefer header Exact fills little more than the key
            rec = {k: (v if k in ("__metadata", entity.key) else None) for k, v in rec.items()
                   if k not in entity.navs}
        return SandboxResponse(201, dumps({"d": rec}), {**_JSON, "location": rec["__metadata"]["uri"]})

    def _post_account(self, div: Division, payload: dict, now: dt.datetime) -> dict:
        if not payload.get("Name"):
            raise E.BusinessError("Mandatory: Name")
        code = (payload.get("Code") or "").strip()
        if not code:
            numeric = [int(c) for c in div.account_by_code if c.isdigit()]
            code = str(max(numeric, default=0) + 1)
        if code in div.account_by_code:
            raise E.BusinessError("Data already exists")
        aid = payload.get("ID") or div.ids.fresh("account")
        if aid in div.accounts.rows:
            raise E.BusinessError("Data already exists")
        fields = ENTITIES["crm/accounts"].fields
        row = {f: None for f in fields}
        row.update({k: v for k, v in payload.items() if k in fields})
        status = payload.get("Status") or "A"
        row.update(ID=aid, Code=code.rjust(18), Division=div.code, Created=now, Modified=now, Type="A",
                   Status=status, IsSales=status == "C", Blocked=bool(payload.get("Blocked")),
                   IsSupplier=bool(payload.get("IsSupplier")), GLAR=div.ar_gl["ID"] if div.ar_gl else None)
        div.accounts.put(row)
        div.account_by_code[code] = aid
        return row

    _TOPICS = {"Accounts", "BankEntries", "CashEntries", "FinancialTransactions", "GeneralJournalEntries",
               "GLAccounts", "JournalStatusList", "PurchaseEntries", "SalesEntries", "SalesInvoices"}
    _ROUTES = {"SalesEntries": "salesentry/SalesEntries", "Accounts": "crm/Accounts"}

    def _post_webhook(self, div: Division, payload: dict, now: dt.datetime) -> dict:
        errors = [f"Mandatory: {f}" for f in ("CallbackURL", "Topic") if not payload.get(f)]
        if errors:
            raise E.BusinessError(*errors)
        if payload["Topic"] not in self._TOPICS:
            raise E.BusinessError("Invalid: Topic")  # [infer] wording
        if any(r["Topic"] == payload["Topic"] for r in div.webhook_subs.rows.values()):
            raise E.BusinessError("Data already exists")
        row = {"ID": payload.get("ID") or div.ids.fresh("webhook"), "CallbackURL": payload["CallbackURL"],
               "ClientID": parse_guid(self._client) if GUID_RE.match(self._client) else None, "Created": now,
               "Creator": self.settings.user_id, "CreatorFullName": self.settings.full_name,
               "Description": f"{payload['Topic']} webhook", "Division": div.code,
               "IsInstant": bool(payload.get("IsInstant")), "Topic": payload["Topic"], "UserID": self.settings.user_id}
        div.webhook_subs.put(row)
        if self.settings.webhooks.get("ping", True):
            self.webhooks.ping(row["CallbackURL"])
        return row

    def _event(self, div: Division, topic: str, key: str, action: str) -> None:
        """Queue a notification for every subscription of ``topic`` in the division."""
        subs = [r for r in div.webhook_subs.rows.values() if r["Topic"] == topic]
        if not subs:
            return
        endpoint = f"{self.base_url}/api/v1/{div.code}/{self._ROUTES[topic]}(guid'{key}')"
        created_on = self._now().isoformat(timespec="milliseconds")
        dup = float(self.settings.webhooks.get("duplicate_rate", 0.0))
        for sub in subs:
            copies = 2 if dup and self.faults.rng.random() < dup else 1
            self.webhooks.notify(sub["CallbackURL"], topic, self._client.strip("{}").lower(), div.code, action, key,
                                 endpoint, created_on, copies)

    def _put(self, req: SandboxRequest, div: Division, entity: Entity, key: Any) -> SandboxResponse:
        body = self._body(req)
        now, user = self._now(), self.settings.user_id
        try:
            if entity.route == "salesentry/SalesEntries":
                payload = E.convert_payload(body, entity.fields, entity.type_name, {"SalesEntryLines"})
                payload.pop("SalesEntryLines", None)
                E.update_entry(div, key, payload, now, user)
                self._event(div, "SalesEntries", key, "Update")
            else:
                payload = E.convert_payload(body, entity.fields, entity.type_name)
                row = E.update_line(div, key, payload, now, user)
                self._event(div, "SalesEntries", row["EntryID"], "Update")
        except LookupError:
            return odata_error("Resource not found for the segment.", 404)
        return SandboxResponse(204, b"", {})

    def _delete(self, div: Division, entity: Entity, key: Any) -> SandboxResponse:
        now, user = self._now(), self.settings.user_id
        try:
            if entity.route == "salesentry/SalesEntries":
                E.delete_entry(div, key, now, user)
                self._event(div, "SalesEntries", key, "Delete")
            elif entity.route == "webhooks/WebhookSubscriptions":
                if div.webhook_subs.delete(key) is None:
                    raise LookupError(key)
            else:
                line = div.entry_lines.get(key)
                E.delete_line(div, key, now, user)
                eid = line["EntryID"]
                self._event(div, "SalesEntries", eid, "Update" if eid in div.entries.rows else "Delete")
        except LookupError:
            return odata_error("Resource not found for the segment.", 404)
        return SandboxResponse(204, b"", {})

    # --- sandbox control ---------------------------------------------------------------------
    def _control(self, req: SandboxRequest) -> SandboxResponse:
        path = req.path.rstrip("/")
        if path == "/_sandbox/calls":
            if req.method == "DELETE":
                self.clear_calls()
                return SandboxResponse(204, b"", {})
            division = req.arg("division")
            calls = self.calls(int(division) if division not in (None, "") else None)
            return json_response({"calls": calls})
        if path == "/_sandbox/faults":
            if req.method == "POST":
                try:
                    self.set_faults(**json.loads(req.body or b"{}"))
                except (ValueError, TypeError) as exc:
                    return json_response({"error": str(exc)}, 400)
            with self.lock:
                return json_response(self.faults.as_dict())
        actions = {
            "/_sandbox/close-period": lambda b: self.close_period(
                int(b["division"]), str(b["journal"]), int(b["year"]), int(b["period"]), bool(b.get("closed", True))),
            "/_sandbox/process-entry": lambda b: self.process_entry(int(b["division"]), parse_guid(b["entry_id"])),
            "/_sandbox/move-division": lambda b: self.move_division(int(b["division"])),
        }
        if path in actions and req.method == "POST":
            try:
                actions[path](json.loads(req.body or b"{}"))
            except (ValueError, KeyError, TypeError) as exc:
                return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)
            return SandboxResponse(204, b"", {})
        return json_response({"error": "unknown sandbox control endpoint"}, 404)


def _guid_token(token: str) -> str:
    m = re.fullmatch(r"guid'([^']*)'", token.strip())
    try:
        if not m:
            raise ValueError
        return parse_guid(m.group(1))
    except ValueError:
        raise ODataError(f"Invalid $skiptoken '{token}'.") from None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None
