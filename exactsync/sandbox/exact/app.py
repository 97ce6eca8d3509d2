"""The Exact Online sandbox app: routing, authentication, limits, OData collections and writes.

See docs/sandbox-exact.md for the scenario format, the wire behaviour and the sandbox-only
control endpoints (``/_sandbox/...``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

from exactsync.clock import Clock
from exactsync.sandbox.base import SandboxApp, SandboxRequest, SandboxResponse, json_response
from exactsync.sandbox.exact import entries as E
from exactsync.sandbox.exact.faults import CallLog, Faults
from exactsync.sandbox.exact.oauth import OAuthServer
from exactsync.sandbox.exact.odata import (
    ODataError,
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
from exactsync.sandbox.exact.reads import ReadsMixin
from exactsync.sandbox.exact.webhooks import WebhookDispatcher
from exactsync.sandbox.exact.writes import WritesMixin

__all__ = ["ExactSandbox"]

_API_RE = re.compile(r"^/api/v1/(?P<div>[^/]+)/(?P<rest>.+?)/?$")
_REST_RE = re.compile(
    r"^(?P<route>[A-Za-z]+(?:/[A-Za-z]+)*)(?:\((?P<key>[^)]*)\)(?:/(?P<nav>[A-Za-z]+))?)?(?:/(?P<count>\$count))?$"
)
_JSON = {"content-type": "application/json; charset=utf-8"}
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


class ExactSandbox(ReadsMixin, WritesMixin, SandboxApp):
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




def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None
