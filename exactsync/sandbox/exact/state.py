"""Scenario loading and per-division state of the Exact sandbox.

A scenario (``exact.json``) describes the app registration, the user, limits, faults and the
divisions with their master data and booked sales entries; see ``docs/sandbox-exact.md``.
Every GUID not given in the scenario is derived deterministically from ``seed`` (uuid5), so the
same scenario always yields the same IDs.
"""

from __future__ import annotations

import bisect
import hashlib
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator

from exactsync.sandbox.exact.odata import parse_datetime, parse_decimal, parse_guid

__all__ = ["Table", "TimestampIndex", "Division", "Settings", "load_scenario", "GUID_RE", "Ids"]

GUID_RE = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")

_JOURNAL_TYPES = {10: "Cash", 12: "Bank", 16: "Payment service", 20: "Sales", 21: "Return invoice",
                  22: "Purchase", 23: "Received return invoice", 90: "General journal"}
_GL_TYPES = {10: "Cash", 12: "Bank", 20: "Accounts receivable", 22: "Accounts payable", 24: "VAT",
             90: "General", 110: "Revenue", 111: "Cost of goods", 120: "Other costs"}


_VARIANT = {c: "89ab"[int(c, 16) % 4] for c in "0123456789abcdef"}


class Ids:
    """Deterministic GUIDs: uuid5 over a namespace derived from the scenario seed."""

    def __init__(self, seed: Any) -> None:
        self.ns = uuid.uuid5(uuid.NAMESPACE_URL, f"exactsync-sandbox-exact:{seed}").bytes
        self.counter = 0

    def make(self, *parts: Any) -> str:
        """A version-4-shaped GUID from a keyed BLAKE2b of ``parts`` (fast: scenario loads make 100k+)."""
        h = hashlib.blake2b(":".join(map(str, parts)).encode(), key=self.ns, digest_size=16).hexdigest()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def fresh(self, kind: str) -> str:
        """A new GUID for things created at run time (still deterministic per app instance)."""
        self.counter += 1
        return self.make("fresh", kind, self.counter)


class Table:
    """Rows by key, with a lazily cached key order for ``$skiptoken`` paging."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.rows: dict[Any, dict] = {}
        self._order: list | None = None

    def put(self, row: dict) -> None:
        k = row[self.key]
        if k not in self.rows:
            self._order = None
        self.rows[k] = row

    def delete(self, k: Any) -> dict | None:
        row = self.rows.pop(k, None)
        if row is not None:
            self._order = None
        return row

    def get(self, k: Any) -> dict | None:
        return self.rows.get(k)

    def __len__(self) -> int:
        return len(self.rows)

    def ordered_keys(self) -> list:
        if self._order is None:
            self._order = sorted(self.rows)
        return self._order

    def iter_after(self, after: Any | None) -> Iterator[dict]:
        keys = self.ordered_keys()
        start = 0 if after is None else bisect.bisect_right(keys, after)
        rows = self.rows
        for i in range(start, len(keys)):
            row = rows.get(keys[i])
            if row is not None:
                yield row


class TimestampIndex:
    """Append-only (timestamp, key) log; a key's stale positions are skipped on read.

    Timestamps are handed out in increasing order, so the log stays sorted and a ``Timestamp gt
    N`` page is a bisect plus a forward scan, never a scan of the whole table.
    """

    def __init__(self) -> None:
        self.stamps: list[int] = []
        self.keys: list[Any] = []

    def add(self, ts: int, key: Any) -> None:
        self.stamps.append(ts)
        self.keys.append(key)

    def iter_after(self, table: Table, ts: int, inclusive: bool = False) -> Iterator[dict]:
        start = (bisect.bisect_left if inclusive else bisect.bisect_right)(self.stamps, ts)
        rows = table.rows
        stamps, keys = self.stamps, self.keys
        for i in range(start, len(stamps)):
            row = rows.get(keys[i])
            if row is not None and row["Timestamp"] == stamps[i]:
                yield row


@dataclass
class Settings:
    """App registration, user and limits from the scenario (secrets stay here, never logged)."""

    client_id: str = "00000000-0000-0000-0000-00000000c11e"
    client_secret: str = "sandbox-secret"
    redirect_uri: str = "http://127.0.0.1/callback"
    webhook_secret: str = "sandbox-webhook-secret"
    user_id: str = ""
    user_name: str = "sandbox@example.com"
    full_name: str = "Sandbox User"
    email: str = "sandbox@example.com"
    language: str = "EN"
    current_division: int | None = None
    minutely: int = 60
    daily: int = 5000
    error_budget: int = 10
    error_block_status: int = 429
    error_block_seconds: int = 3600
    too_early_status: int = 400
    access_token_seconds: int = 600
    refresh_min_seconds: int = 570
    refresh_token_days: int = 30
    code_seconds: int = 180
    token_calls_per_day: int = 200
    page_size: int = 60
    bulk_page_size: int = 1000
    allow_top: bool = False
    deleted_retention_days: int = 61
    faults: dict = field(default_factory=dict)
    webhooks: dict = field(default_factory=dict)


class Division:
    """All data of one division; only touched under the app lock."""

    def __init__(self, code: int, ids: Ids) -> None:
        self.code = code
        self.ids = ids
        self.description = f"Division {code}"
        self.currency = "EUR"
        self.country = "NL"
        self.vat_number = ""
        self.hid = code
        self.status = 1
        self.legislation = 1
        self.granted = True
        self.start_date = dt.datetime(2020, 1, 1)
        self.move_date: dt.datetime | None = None
        self.created = dt.datetime(2020, 1, 1)
        self.accounts = Table("ID")
        self.vat_codes = Table("ID")
        self.vat_percentages = Table("ID")
        self.gl_accounts = Table("ID")
        self.journals = Table("ID")
        self.periods = Table("ID")
        self.journal_status: list[dict] = []
        self.entries = Table("EntryID")
        self.entry_lines = Table("ID")
        self.tl = Table("ID")
        self.tl_index = TimestampIndex()
        self.deleted = Table("ID")
        self.deleted_index = TimestampIndex()
        self.receivables = Table("ID")
        self.webhook_subs = Table("ID")
        # lookups
        self.account_by_code: dict[str, str] = {}
        self.vat_by_code: dict[str, dict] = {}
        self.gl_by_code: dict[str, dict] = {}
        self.journal_by_code: dict[str, dict] = {}
        self.period_list: list[dict] = []  # sorted by StartDate
        self.closed: set[tuple[str, int, int]] = set()
        self.lines_by_entry: dict[str, list[str]] = {}
        self.tl_by_entry: dict[str, list[str]] = {}
        self.numbers: dict[tuple[str, int], set[int]] = {}
        self.number_max: dict[tuple[str, int], int] = {}
        self.ar_gl: dict | None = None
        self._ts = 100_000

    def next_timestamp(self) -> int:
        self._ts += 1
        return self._ts

    def table(self, name: str) -> Table:
        return getattr(self, name)

    def period_for(self, when: dt.datetime) -> dict | None:
        starts = [p["StartDate"] for p in self.period_list]
        i = bisect.bisect_right(starts, when) - 1
        if i >= 0 and when <= self.period_list[i]["EndDate"] + dt.timedelta(days=1) - dt.timedelta(microseconds=1):
            return self.period_list[i]
        return None

    def has_period(self, year: int, period: int) -> dict | None:
        for p in self.period_list:
            if p["FinYear"] == year and p["FinPeriod"] == period:
                return p
        return None

    def rebuild_journal_status(self) -> None:
        rows = []
        for j in sorted(self.journal_by_code.values(), key=lambda r: r["Code"]):
            for p in self.period_list:
                closed = (j["Code"], p["FinYear"], p["FinPeriod"]) in self.closed
                rows.append({
                    "Division": self.code, "Journal": j["Code"], "JournalDescription": j["Description"],
                    "Year": p["FinYear"], "Period": p["FinPeriod"], "Status": 1 if closed else 0,
                    "StatusDescription": "Closed" if closed else "Open",
                })
        self.journal_status = rows


# --- scenario loading -----------------------------------------------------------------------


def _dt(value: Any, default: dt.datetime | None = None) -> dt.datetime | None:
    if value in (None, ""):
        return default
    return parse_datetime(value)


def _pct(value: Any) -> Decimal:
    """Scenario percentages are in percent (21 = 21 %); the wire uses fractions (0.21)."""
    return (parse_decimal(value) / Decimal(100)).normalize() if value is not None else Decimal(0)


def _guid_or(value: Any, make: str) -> str:
    return parse_guid(value) if value else make


def load_scenario(scenario: dict) -> tuple[Settings, Ids, dict[int, Division], list[dict]]:
    """Scenario dict -> (settings, ids, divisions by code, pending entries per division)."""
    seed = scenario.get("seed", 1)
    ids = Ids(seed)
    app = scenario.get("app", {})
    user = scenario.get("user", {})
    limits = scenario.get("limits", {})
    odata = scenario.get("odata", {})
    s = Settings()
    for k in ("client_id", "client_secret", "redirect_uri", "webhook_secret"):
        if k in app:
            setattr(s, k, str(app[k]))
    s.user_id = _guid_or(user.get("user_id"), ids.make("user"))
    for k in ("user_name", "full_name", "email", "language"):
        if k in user:
            setattr(s, k, str(user[k]))
    for k in ("minutely", "daily", "error_budget", "error_block_status", "error_block_seconds",
              "too_early_status", "access_token_seconds", "refresh_min_seconds", "refresh_token_days",
              "code_seconds", "token_calls_per_day", "deleted_retention_days"):
        if k in limits:
            setattr(s, k, int(limits[k]))
    for k in ("page_size", "bulk_page_size"):
        if k in odata:
            setattr(s, k, int(odata[k]))
    s.allow_top = bool(odata.get("allow_top", False))
    s.faults = dict(scenario.get("faults", {}))
    s.webhooks = dict(scenario.get("webhooks", {}))

    divisions: dict[int, Division] = {}
    pending: list[dict] = []
    for d in scenario.get("divisions", []):
        div = _load_division(d, ids)
        if div.code in divisions:
            raise ValueError(f"duplicate division code {div.code}")
        divisions[div.code] = div
        pending.append({"division": div.code, "entries": d.get("entries", [])})
    if not divisions:
        raise ValueError("scenario has no divisions")
    cur = user.get("current_division")
    s.current_division = int(cur) if cur is not None else next(iter(divisions))
    return s, ids, divisions, pending


def _load_division(d: dict, ids: Ids) -> Division:
    code = int(d["code"])
    div = Division(code, ids)
    div.description = d.get("description", div.description)
    div.currency = d.get("currency", "EUR")
    div.country = d.get("country", "NL")
    div.vat_number = d.get("vat_number", "")
    div.hid = int(d.get("hid", code))
    div.granted = bool(d.get("granted", True))
    div.status = int(d.get("status", 1))
    div.created = _dt(d.get("created"), dt.datetime(2020, 1, 1))
    div.start_date = _dt(d.get("start_date"), div.created)
    if d.get("timestamp_start") is not None:
        div._ts = int(d["timestamp_start"])
    created = div.created

    for g in d.get("gl_accounts", []):
        gid = _guid_or(g.get("id"), ids.make(code, "gl", g["code"]))
        gtype = int(g.get("type", 110))
        row = {
            "ID": gid, "Code": str(g["code"]), "Description": g.get("description", str(g["code"])), "Division": code,
            "Type": gtype, "TypeDescription": _GL_TYPES.get(gtype, ""),
            "BalanceSide": g.get("balance_side", "C" if gtype in (110, 24, 22) else "D"),
            "BalanceType": g.get("balance_type", "W" if gtype >= 100 else "B"),
            "VATCode": g.get("vat_code"), "VATDescription": None, "IsBlocked": bool(g.get("is_blocked", False)),
            "UseCostcenter": 0, "UseCostunit": 0, "Created": created, "Modified": created,
        }
        div.gl_accounts.put(row)
        div.gl_by_code[row["Code"]] = row
    ar = d.get("ar_gl_account")
    if ar is not None:
        div.ar_gl = div.gl_by_code.get(str(ar))
        if div.ar_gl is None:
            raise ValueError(f"division {code}: ar_gl_account {ar!r} is not a GL account")
    else:
        div.ar_gl = next((g for g in div.gl_by_code.values() if g["Type"] == 20), None)

    for v in d.get("vat_codes", []):
        vid = _guid_or(v.get("id"), ids.make(code, "vat", v["code"]))
        gl_pay = div.gl_by_code.get(str(v["gl_to_pay"])) if v.get("gl_to_pay") is not None else None
        gl_claim = div.gl_by_code.get(str(v["gl_to_claim"])) if v.get("gl_to_claim") is not None else None
        if v.get("gl_to_pay") is not None and gl_pay is None:
            raise ValueError(f"division {code}: VAT code {v['code']}: gl_to_pay {v['gl_to_pay']!r} unknown")
        pcts = v.get("percentages") or [{"start": None, "end": None, "percentage": v.get("percentage", 0)}]
        current = _pct(v.get("percentage", pcts[-1].get("percentage", 0)))
        row = {
            "ID": vid, "Code": str(v["code"]), "Description": v.get("description", str(v["code"])), "Division": code,
            "Percentage": current, "Type": v.get("type", "E"), "VATTransactionType": v.get("vat_transaction_type", "B"),
            "OssCountry": v.get("oss_country"), "GLToPay": gl_pay["ID"] if gl_pay else None,
            "GLToPayCode": gl_pay["Code"] if gl_pay else None,
            "GLToPayDescription": gl_pay["Description"] if gl_pay else None,
            "GLToClaim": gl_claim["ID"] if gl_claim else None, "GLToClaimCode": gl_claim["Code"] if gl_claim else None,
            "Charged": bool(v.get("charged", False)), "EUSalesListing": v.get("eu_sales_listing", "N"),
            "IntraStat": bool(v.get("intrastat", False)), "IsBlocked": bool(v.get("is_blocked", False)),
            "LegalText": v.get("legal_text"), "CalculationBasis": 0, "VatMargin": 0, "Country": v.get("country"),
            "Created": created, "Modified": created,
        }
        ranges = []
        for n, p in enumerate(pcts, start=1):
            prow = {
                "ID": ids.make(code, "vatpct", row["Code"], n), "VATCodeID": vid, "Division": code, "LineNumber": n,
                "Percentage": _pct(p.get("percentage", 0)), "StartDate": _dt(p.get("start")),
                "EndDate": _dt(p.get("end")), "Type": 0, "Created": created, "Modified": created,
            }
            div.vat_percentages.put(prow)
            ranges.append(prow)
        row["_ranges"] = ranges
        div.vat_codes.put(row)
        div.vat_by_code[row["Code"].strip()] = row

    for j in d.get("journals", []):
        jid = _guid_or(j.get("id"), ids.make(code, "journal", j["code"]))
        jtype = int(j.get("type", 20))
        row = {
            "ID": jid, "Code": str(j["code"]), "Description": j.get("description", f"Journal {j['code']}"),
            "Division": code, "Type": jtype, "TypeDescription": _JOURNAL_TYPES.get(jtype, ""),
            "Currency": j.get("currency", div.currency),
            "AllowVariableCurrency": bool(j.get("allow_variable_currency", True)),
            "AllowVariableExchangeRate": bool(j.get("allow_variable_exchange_rate", True)),
            "IsBlocked": bool(j.get("is_blocked", False)), "GLAccount": div.ar_gl["ID"] if div.ar_gl else None,
            "Created": created, "Modified": created, "_first_number": j.get("first_number"),
        }
        div.journals.put(row)
        div.journal_by_code[row["Code"]] = row

    periods = d.get("periods", {"years": [2026]})
    plist: list[tuple[int, int, dt.datetime, dt.datetime]] = []
    if isinstance(periods, dict):
        for year in periods.get("years", []):
            for m in range(1, 13):
                start = dt.datetime(int(year), m, 1)
                end = (dt.datetime(int(year) + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))
                plist.append((int(year), m, start, end))
    else:
        for p in periods:
            plist.append((int(p["year"]), int(p["period"]), _dt(p["start"]), _dt(p["end"])))
    for year, per, start, end in sorted(plist, key=lambda t: t[2]):
        row = {"ID": ids.make(code, "period", year, per), "Division": code, "FinYear": year, "FinPeriod": per,
               "StartDate": start, "EndDate": end, "Created": created, "Modified": created}
        div.periods.put(row)
        div.period_list.append(row)
    for c in d.get("closed_periods", []):
        journals = [str(c["journal"])] if c.get("journal") is not None else list(div.journal_by_code)
        for jc in journals:
            div.closed.add((jc, int(c["year"]), int(c["period"])))
    div.rebuild_journal_status()

    for a in d.get("accounts", []):
        aid = _guid_or(a.get("id"), ids.make(code, "account", a.get("code", a.get("name"))))
        acode = str(a["code"]).strip() if a.get("code") is not None else None
        row = {
            "ID": aid, "Accountant": None, "AccountManager": None, "AddressLine1": a.get("address"),
            "AddressLine2": None, "AddressLine3": None, "Blocked": bool(a.get("blocked", False)),
            "ChamberOfCommerce": a.get("chamber_of_commerce"), "City": a.get("city"),
            "Code": acode.rjust(18) if acode else None, "Country": a.get("country"), "Created": created,
            "Division": code, "Email": a.get("email"), "GLAccountSales": None,
            "GLAR": div.ar_gl["ID"] if div.ar_gl else None, "IsSales": a.get("status", "C") == "C",
            "IsSupplier": bool(a.get("is_supplier", False)), "Language": a.get("language"), "Modified": created,
            "Name": a.get("name", acode), "PaymentConditionSales": a.get("payment_condition"),
            "Postcode": a.get("postcode"), "SalesCurrency": a.get("currency"),
            "SalesVATCode": a.get("sales_vat_code"), "SearchCode": a.get("search_code"),
            "Status": a.get("status", "C"), "Type": "A", "VATNumber": a.get("vat_number"),
        }
        if a.get("gl_account_sales") is not None:
            g = div.gl_by_code.get(str(a["gl_account_sales"]))
            row["GLAccountSales"] = g["ID"] if g else None
        div.accounts.put(row)
        if acode:
            div.account_by_code[acode] = aid
    return div


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else parse_decimal(value)
