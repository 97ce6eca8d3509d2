"""Write side of the Exact sandbox: POST/PUT/DELETE and webhook events (a mixin)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from exactsync.sandbox.base import SandboxRequest, SandboxResponse
from exactsync.sandbox.exact import entries as E
from exactsync.sandbox.exact.odata import ODataError, dumps, odata_error, parse_guid
from exactsync.sandbox.exact.schema import ENTITIES, Entity
from exactsync.sandbox.exact.state import GUID_RE, Division

__all__ = ["WritesMixin"]

_JSON = {"content-type": "application/json; charset=utf-8"}
_STREAM = "Error processing request stream. "


class WritesMixin:
    """Needs ``settings``, ``faults``, ``webhooks``, ``base_url``, ``_client``, ``_render`` and ``_now``."""

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

