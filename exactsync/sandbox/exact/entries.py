"""Sales-entry semantics of the Exact sandbox and the transaction lines every entry produces.

Validation follows exact-online-api.md §5.1–5.3, §6.3 and §11.23–27. Business errors are raised
as :class:`BusinessError` (HTTP 500, messages joined with newlines); malformed bodies as
``ODataError`` 400 "Error processing request stream…".

Transaction lines (the shape pullers rely on; signs debit-positive, see docs/sandbox-exact.md):

* ``LineNumber`` 0: receivable line, ``GLAccount`` = the division's AR account, ``Account`` =
  customer, ``AmountFC`` = +gross (negative for a credit note), no VAT code, ``AmountVATFC`` 0.
* ``LineNumber`` 1..n: one per SalesEntryLine, ``AmountFC`` = −net, ``AmountVATFC`` = −VAT,
  ``AmountVATBaseFC`` = −net, ``VATCode``/``VATPercentage`` of the line.
* ``LineNumber`` n+1…: one per VAT code with non-zero VAT, ``GLAccount`` = the code's
  ``GLToPay``, ``AmountFC`` = −VAT, ``VATCode`` set, ``AmountVATFC`` 0 and ``AmountVATBaseFC`` 0.

So the lines of an entry sum to zero, and Σ −AmountVATFC / −AmountVATBaseFC over the revenue
lines give the entry's VAT and net in sales sign.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from exactsync.sandbox.exact.odata import ODataError, parse_datetime, parse_decimal, parse_guid
from exactsync.sandbox.exact.schema import ENTITIES, SALES_ENTRY_LINE_FIELDS
from exactsync.sandbox.exact.state import Division

__all__ = [
    "BusinessError",
    "convert_payload",
    "create_entry",
    "update_entry",
    "delete_entry",
    "add_line",
    "update_line",
    "delete_line",
    "vat_percentage",
    "ENTRY_WRITABLE",
    "LINE_WRITABLE",
]

CENT = Decimal("0.01")
ZERO = Decimal("0")

ENTRY_WRITABLE = {
    "EntryID", "Journal", "Customer", "EntryDate", "ReportingYear", "ReportingPeriod", "EntryNumber",
    "InvoiceNumber", "YourRef", "Description", "Currency", "Rate", "VATAmountFC", "DueDate", "PaymentCondition",
    "PaymentReference", "OrderNumber", "Document", "ExternalLinkReference", "Reversal", "BatchNumber",
    "SalesEntryLines",
}
LINE_WRITABLE = {
    "ID", "EntryID", "AmountFC", "GLAccount", "VATCode", "VATAmountFC", "VATBaseAmountFC", "VATBaseAmountDC",
    "VATPercentage", "Description", "Notes", "Quantity", "CostCenter", "CostUnit", "Project", "From", "To",
    "SerialNumber",
}
_SALES_LINE = ENTITIES["salesentry/salesentrylines"]
_STREAM = "Error processing request stream. "


class BusinessError(Exception):
    """Exact's validation errors: HTTP 500 with the messages joined by newlines."""

    def __init__(self, *messages: str) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


def _r2(v: Decimal) -> Decimal:
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


def convert_payload(body: Any, fields: dict[str, str], type_name: str, navs: set[str] = frozenset()) -> dict:
    """Typed copy of a JSON object; unknown properties and bad values -> 400 like WCF."""
    if not isinstance(body, dict):
        raise ODataError(_STREAM + "The request should be a valid top-level resource object.")
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name == "__metadata":
            continue
        if name in navs:
            out[name] = value
            continue
        typ = fields.get(name)
        if typ is None:
            raise ODataError(_STREAM + f"The property name '{name}' specified for type '{type_name}' is not valid.")
        if value is None:
            out[name] = None
            continue
        try:
            if typ == "Guid":
                out[name] = parse_guid(value)
            elif typ == "DateTime":
                out[name] = parse_datetime(value)
            elif typ == "Double":
                out[name] = parse_decimal(value)
            elif typ in ("Int16", "Int32", "Int64", "Byte"):
                if isinstance(value, bool):
                    raise ValueError
                d = parse_decimal(value)
                if d != d.to_integral_value():
                    raise ValueError
                out[name] = int(d)
            elif typ == "Boolean":
                if not isinstance(value, bool):
                    raise ValueError
                out[name] = value
            else:
                out[name] = value if isinstance(value, str) else str(value)
        except ValueError as exc:
            detail = str(exc) if "GUID" in str(exc) else f"Cannot convert a primitive value to the expected type '{typ}'."
            raise ODataError(_STREAM + detail) from None
    return out


def _lines_of(value: Any) -> list:
    if isinstance(value, dict) and isinstance(value.get("results"), list):
        return value["results"]
    if isinstance(value, list):
        return value
    raise ODataError(_STREAM + "The request should be a valid top-level resource object.")


def vat_percentage(code_row: dict, when: dt.datetime) -> Decimal:
    """Fraction (0.21) valid on ``when`` from the code's VATPercentages, else its Percentage."""
    if code_row["Type"] in ("N", "B"):
        return ZERO
    for r in code_row.get("_ranges", ()):
        start, end = r["StartDate"], r["EndDate"]
        if (start is None or start <= when) and (end is None or when <= end):
            return r["Percentage"]
    return code_row["Percentage"]


# --- validation helpers ---------------------------------------------------------------------


def _journal(div: Division, code: Any, errors: list[str]) -> dict | None:
    if code in (None, ""):
        errors.append("Mandatory: Journal")
        return None
    j = div.journal_by_code.get(str(code))
    if j is None or j["Type"] not in (20, 21) or j["IsBlocked"]:
        errors.append("Invalid reference: Journals")
        return None
    return j


def _customer(div: Division, cid: Any, errors: list[str]) -> dict | None:
    if not cid:
        errors.append("Mandatory: Relationship")
        return None
    acc = div.accounts.get(cid)
    if acc is None:
        errors.append("Invalid reference: Relationship")
        return None
    if acc["Status"] != "C":
        errors.append("Invalid: Invoice to (Type)")
        return None
    return acc


def _period(div: Division, when: dt.datetime, year: int | None, period: int | None,
            errors: list[str]) -> tuple[int, int] | None:
    if year is not None and period is not None:
        if div.has_period(year, period) is None:
            errors.append("Invalid: Financial period")
            return None
        return year, period
    p = div.period_for(when)
    if p is None:
        errors.append("Invalid: Financial period")
        return None
    return p["FinYear"], p["FinPeriod"]


def _line_refs(div: Division, line: dict, when: dt.datetime, errors: list[str]) -> tuple[dict | None, dict | None]:
    gl = None
    if line.get("GLAccount") is None:
        errors.append("Mandatory: G/L account")
    else:
        gl = div.gl_accounts.get(line["GLAccount"])
        if gl is None or gl["IsBlocked"]:
            errors.append("Invalid reference: G/L account")
            gl = None
        elif gl["Type"] in (10, 12, 20, 22, 24) or gl["BalanceType"] == "B":
            errors.append("Invalid: G/L account type")
            gl = None
    if line.get("AmountFC") is None:
        errors.append("Mandatory: Amount")
    code = line.get("VATCode")
    if code is None and gl is not None:
        code = gl.get("VATCode")
    vat = None
    if code not in (None, ""):
        vat = div.vat_by_code.get(str(code).strip())
        if vat is None or vat["IsBlocked"] or vat["VATTransactionType"] not in ("S", "B"):
            errors.append("Invalid reference: VAT code")
            vat = None
    return gl, vat


def _line_row(div: Division, entry: dict, line: dict, gl: dict, vat: dict | None, number: int) -> dict:
    when, rate = entry["EntryDate"], entry["Rate"]
    amount = _r2(line["AmountFC"])
    pct = vat_percentage(vat, when) if vat else ZERO
    vat_fc = _r2(line["VATAmountFC"]) if line.get("VATAmountFC") is not None else _r2(amount * pct)
    lid = line.get("ID") or div.ids.fresh("line")
    return {
        "ID": lid, "EntryID": entry["EntryID"], "Division": div.code, "LineNumber": number,
        "AmountFC": amount, "AmountDC": _r2(amount * rate), "VATAmountFC": vat_fc, "VATAmountDC": _r2(vat_fc * rate),
        "VATBaseAmountFC": amount, "VATBaseAmountDC": _r2(amount * rate),
        "VATCode": vat["Code"] if vat else None, "VATCodeDescription": vat["Description"] if vat else None,
        "VATPercentage": pct, "GLAccount": gl["ID"], "GLAccountCode": gl["Code"],
        "GLAccountDescription": gl["Description"], "Description": line.get("Description"),
        "Notes": line.get("Notes"), "Quantity": line.get("Quantity"), "CostCenter": line.get("CostCenter"),
        "CostUnit": line.get("CostUnit"), "Type": entry["Type"], "Project": line.get("Project"),
        "From": line.get("From"), "To": line.get("To"), "SerialNumber": line.get("SerialNumber"),
        "_vat_explicit": line.get("VATAmountFC") is not None,
    }


def _use_number(div: Division, key: tuple[str, int], number: int) -> None:
    div.numbers.setdefault(key, set()).add(number)
    if number > div.number_max.get(key, number - 1):
        div.number_max[key] = number


def _free_number(div: Division, key: tuple[str, int], number: int) -> None:
    used = div.numbers.get(key, set())
    used.discard(number)
    if div.number_max.get(key) == number:  # Exact hands out last-number-plus-one: the top number comes back
        if used:
            div.number_max[key] = max(used)
        else:
            div.number_max.pop(key, None)


def _next_number(div: Division, journal: dict, year: int) -> int:
    top = div.number_max.get((journal["Code"], year))
    if top is not None:
        return top + 1
    first = journal.get("_first_number")
    if first is not None:
        return int(first)
    code = journal["Code"]
    if code.isdigit():
        return int(f"{year % 100:02d}{code}0001")
    return 1


def _check_open(div: Division, entry: dict) -> None:
    if entry["Status"] == 50:
        raise BusinessError("Already processed")
    if (entry["Journal"], entry["ReportingYear"], entry["ReportingPeriod"]) in div.closed:
        raise BusinessError("The financial year cannot be changed.")


# --- entries --------------------------------------------------------------------------------


def create_entry(div: Division, payload: dict, now: dt.datetime, user_id: str, *, status: int = 20,
                 check_closed: bool = True, created: dt.datetime | None = None,
                 modified: dt.datetime | None = None, typed_lines: bool = False) -> dict:
    """Validate and book a sales entry (header + lines); produces its transaction lines."""
    errors: list[str] = []
    journal = _journal(div, payload.get("Journal"), errors)
    customer = _customer(div, payload.get("Customer"), errors)
    raw_lines = payload.get("SalesEntryLines")
    if raw_lines is None:
        lines = []
    elif typed_lines:  # scenario seeding: values are already Python-typed
        lines = list(raw_lines)
    else:
        lines = [convert_payload(x, SALES_ENTRY_LINE_FIELDS, _SALES_LINE.type_name) for x in _lines_of(raw_lines)]
    for line in lines:
        extra = set(line) - LINE_WRITABLE
        for name in extra:  # read-only properties are ignored, as Exact does
            line.pop(name)
    when = payload.get("EntryDate") or dt.datetime(now.year, now.month, now.day)
    when = dt.datetime(when.year, when.month, when.day)
    per = _period(div, when, payload.get("ReportingYear"), payload.get("ReportingPeriod"), errors)
    if not lines:
        errors.append("Mandatory: Lines")
    refs = [_line_refs(div, line, when, errors) for line in lines]
    if errors:
        raise BusinessError(*dict.fromkeys(errors))
    assert journal is not None and customer is not None and per is not None
    year, period = per
    if check_closed and (journal["Code"], year, period) in div.closed:
        raise BusinessError("The financial year cannot be changed.")
    number = payload.get("EntryNumber")
    used = div.numbers.get((journal["Code"], year), set())
    if number is not None:
        if number in used:
            raise BusinessError("In use: Entry number")
    else:
        number = _next_number(div, journal, year)
    entry_id = payload.get("EntryID") or div.ids.fresh("entry")
    if entry_id in div.entries.rows:
        raise BusinessError("Data already exists")
    rate = payload.get("Rate") or Decimal(1)
    created = created or now
    entry = {
        "EntryID": entry_id, "Division": div.code, "Journal": journal["Code"],
        "JournalDescription": journal["Description"], "Customer": customer["ID"], "CustomerName": customer["Name"],
        "EntryDate": when, "EntryNumber": number, "InvoiceNumber": payload.get("InvoiceNumber") or number,
        "ReportingYear": year, "ReportingPeriod": period, "YourRef": payload.get("YourRef"),
        "Description": payload.get("Description"), "Currency": payload.get("Currency") or div.currency,
        "Rate": rate, "AmountDC": ZERO, "AmountFC": ZERO, "VATAmountDC": ZERO, "VATAmountFC": ZERO,
        "Type": 21 if journal["Type"] == 21 else 20, "TypeDescription": None, "Status": status,
        "StatusDescription": None, "DueDate": payload.get("DueDate") or when + dt.timedelta(days=30),
        "PaymentCondition": payload.get("PaymentCondition"), "PaymentReference": payload.get("PaymentReference"),
        "OrderNumber": payload.get("OrderNumber"), "Document": payload.get("Document"),
        "ExternalLinkReference": payload.get("ExternalLinkReference"), "Reversal": bool(payload.get("Reversal")),
        "BatchNumber": payload.get("BatchNumber"), "Created": created, "Creator": user_id,
        "CreatorFullName": None, "Modified": modified or created, "Modifier": user_id, "ModifierFullName": None,
    }
    line_ids: list[str] = []
    for n, (line, (gl, vat)) in enumerate(zip(lines, refs), start=1):
        row = _line_row(div, entry, line, gl, vat, n)
        if row["ID"] in div.entry_lines.rows:
            raise BusinessError("Data already exists")
        div.entry_lines.put(row)
        line_ids.append(row["ID"])
    _use_number(div, (journal["Code"], year), number)
    div.lines_by_entry[entry_id] = line_ids
    div.entries.put(entry)
    _rebuild(div, entry, now)
    return entry


def update_entry(div: Division, entry_id: str, payload: dict, now: dt.datetime, user_id: str) -> dict:
    entry = div.entries.get(entry_id)
    if entry is None:
        raise LookupError(entry_id)
    _check_open(div, entry)
    errors: list[str] = []
    changes: dict[str, Any] = {}
    if "Journal" in payload and payload["Journal"] != entry["Journal"]:
        errors.append("Invalid reference: Journals")  # moving an entry to another journal is not supported
    if "Customer" in payload:
        acc = _customer(div, payload["Customer"], errors)
        if acc:
            changes.update(Customer=acc["ID"], CustomerName=acc["Name"])
    if "EntryDate" in payload or "ReportingYear" in payload or "ReportingPeriod" in payload:
        when = payload.get("EntryDate") or entry["EntryDate"]
        when = dt.datetime(when.year, when.month, when.day)
        per = _period(div, when, payload.get("ReportingYear"), payload.get("ReportingPeriod"), errors)
        if per:
            if per[0] != entry["ReportingYear"] or (entry["Journal"], per[0], per[1]) in div.closed:
                raise BusinessError("The financial year cannot be changed.")
            changes.update(EntryDate=when, ReportingYear=per[0], ReportingPeriod=per[1])
    if errors:
        raise BusinessError(*dict.fromkeys(errors))
    if "EntryNumber" in payload and payload["EntryNumber"] != entry["EntryNumber"]:
        key = (entry["Journal"], entry["ReportingYear"])
        if payload["EntryNumber"] in div.numbers.get(key, set()):
            raise BusinessError("In use: Entry number")
        _free_number(div, key, entry["EntryNumber"])
        _use_number(div, key, payload["EntryNumber"])
        changes["EntryNumber"] = payload["EntryNumber"]
    for name in ("YourRef", "Description", "DueDate", "PaymentCondition", "PaymentReference", "OrderNumber",
                 "Document", "ExternalLinkReference", "InvoiceNumber", "Currency", "Rate", "BatchNumber"):
        if name in payload:
            changes[name] = payload[name]
    entry.update(changes)
    entry["Modified"], entry["Modifier"] = now, user_id
    if "Rate" in changes:
        for lid in div.lines_by_entry.get(entry_id, []):
            line = div.entry_lines.rows[lid]
            rate = entry["Rate"] or Decimal(1)
            line.update(AmountDC=_r2(line["AmountFC"] * rate), VATAmountDC=_r2(line["VATAmountFC"] * rate),
                        VATBaseAmountDC=_r2(line["AmountFC"] * rate))
    _rebuild(div, entry, now)
    return entry


def delete_entry(div: Division, entry_id: str, now: dt.datetime, user_id: str) -> None:
    entry = div.entries.get(entry_id)
    if entry is None:
        raise LookupError(entry_id)
    _check_open(div, entry)
    _remove(div, entry, now, user_id)


def _remove(div: Division, entry: dict, now: dt.datetime, user_id: str) -> None:
    eid = entry["EntryID"]
    for lid in div.lines_by_entry.pop(eid, []):
        div.entry_lines.delete(lid)
    for tid in div.tl_by_entry.pop(eid, []):
        div.tl.delete(tid)
        _record_deleted(div, tid, now, user_id)
    _free_number(div, (entry["Journal"], entry["ReportingYear"]), entry["EntryNumber"])
    div.receivables.delete(div.ids.make(div.code, "receivable", eid))
    div.entries.delete(eid)


def _record_deleted(div: Division, key: str, now: dt.datetime, user_id: str, entity_type: int = 1) -> None:
    ts = div.next_timestamp()
    row = {"ID": div.ids.fresh("deleted"), "Division": div.code, "EntityKey": key, "EntityType": entity_type,
           "DeletedBy": user_id, "DeletedDate": now, "Timestamp": ts}
    div.deleted.put(row)
    div.deleted_index.add(ts, row["ID"])


# --- lines ----------------------------------------------------------------------------------


def add_line(div: Division, payload: dict, now: dt.datetime, user_id: str) -> dict:
    eid = payload.get("EntryID")
    if not eid:
        raise BusinessError("Mandatory: Entry")
    entry = div.entries.get(eid)
    if entry is None:
        raise BusinessError("Invalid reference: Entry")
    _check_open(div, entry)
    errors: list[str] = []
    line = {k: v for k, v in payload.items() if k in LINE_WRITABLE}
    gl, vat = _line_refs(div, line, entry["EntryDate"], errors)
    if errors:
        raise BusinessError(*dict.fromkeys(errors))
    if line.get("ID") and line["ID"] in div.entry_lines.rows:
        raise BusinessError("Data already exists")
    ids = div.lines_by_entry.setdefault(eid, [])
    number = max((div.entry_lines.rows[i]["LineNumber"] for i in ids), default=0) + 1
    row = _line_row(div, entry, line, gl, vat, number)
    div.entry_lines.put(row)
    ids.append(row["ID"])
    entry["Modified"], entry["Modifier"] = now, user_id
    _rebuild(div, entry, now)
    return row


def update_line(div: Division, line_id: str, payload: dict, now: dt.datetime, user_id: str) -> dict:
    row = div.entry_lines.get(line_id)
    if row is None:
        raise LookupError(line_id)
    entry = div.entries.rows[row["EntryID"]]
    _check_open(div, entry)
    merged = {
        "ID": row["ID"], "AmountFC": row["AmountFC"], "GLAccount": row["GLAccount"], "VATCode": row["VATCode"],
        "VATAmountFC": row["VATAmountFC"] if row["_vat_explicit"] else None,
        **{k: row[k] for k in ("Description", "Notes", "Quantity", "CostCenter", "CostUnit", "Project", "From", "To",
                                "SerialNumber")},
    }
    if ("AmountFC" in payload or "VATCode" in payload) and "VATAmountFC" not in payload:
        merged["VATAmountFC"] = None  # recompute from the code
    merged.update({k: v for k, v in payload.items() if k in LINE_WRITABLE and k not in ("ID", "EntryID")})
    errors: list[str] = []
    gl, vat = _line_refs(div, merged, entry["EntryDate"], errors)
    if errors:
        raise BusinessError(*dict.fromkeys(errors))
    new = _line_row(div, entry, merged, gl, vat, row["LineNumber"])
    div.entry_lines.put(new)
    entry["Modified"], entry["Modifier"] = now, user_id
    _rebuild(div, entry, now)
    return new


def delete_line(div: Division, line_id: str, now: dt.datetime, user_id: str) -> None:
    row = div.entry_lines.get(line_id)
    if row is None:
        raise LookupError(line_id)
    entry = div.entries.rows[row["EntryID"]]
    _check_open(div, entry)
    ids = div.lines_by_entry[entry["EntryID"]]
    if len(ids) == 1:  # deleting the last line deletes the entry (reference §11.25)
        _remove(div, entry, now, user_id)
        return
    ids.remove(line_id)
    div.entry_lines.delete(line_id)
    entry["Modified"], entry["Modifier"] = now, user_id
    _rebuild(div, entry, now)


# --- derived data ---------------------------------------------------------------------------


def _rebuild(div: Division, entry: dict, now: dt.datetime) -> None:
    """Recompute header totals and type, then the entry's transaction lines and receivable."""
    eid = entry["EntryID"]
    lines = [div.entry_lines.rows[i] for i in div.lines_by_entry.get(eid, [])]
    net = sum((x["AmountFC"] for x in lines), ZERO)
    vat = sum((x["VATAmountFC"] for x in lines), ZERO)
    net_dc = sum((x["AmountDC"] for x in lines), ZERO)
    vat_dc = sum((x["VATAmountDC"] for x in lines), ZERO)
    journal = div.journal_by_code[entry["Journal"]]
    typ = 21 if (journal["Type"] == 21 or net + vat < 0) else 20
    entry.update(AmountFC=net + vat, AmountDC=net_dc + vat_dc, VATAmountFC=vat, VATAmountDC=vat_dc, Type=typ,
                 TypeDescription="Sales credit note" if typ == 21 else "Sales entry",
                 StatusDescription="Processed" if entry["Status"] == 50 else "Open")
    for x in lines:
        x["Type"] = typ
    _build_transaction_lines(div, entry, lines, now)
    _build_receivable(div, entry)


def _build_transaction_lines(div: Division, entry: dict, lines: list[dict], now: dt.datetime) -> None:
    eid = entry["EntryID"]
    ids = div.ids
    acc = div.accounts.rows.get(entry["Customer"], {})
    common = {
        "Division": div.code, "EntryID": eid, "EntryNumber": entry["EntryNumber"], "Type": entry["Type"],
        "JournalCode": entry["Journal"], "JournalDescription": entry["JournalDescription"],
        "Date": entry["EntryDate"], "FinancialYear": entry["ReportingYear"],
        "FinancialPeriod": entry["ReportingPeriod"], "Account": entry["Customer"],
        "AccountCode": acc.get("Code"), "AccountName": acc.get("Name"), "Currency": entry["Currency"],
        "ExchangeRate": entry["Rate"], "YourRef": entry["YourRef"], "InvoiceNumber": entry["InvoiceNumber"],
        "OrderNumber": entry["OrderNumber"], "PaymentReference": entry["PaymentReference"],
        "DueDate": entry["DueDate"], "Status": entry["Status"], "Created": entry["Created"],
        "Modified": entry["Modified"],
    }
    ar = div.ar_gl or {}
    rows: list[dict] = [dict(
        common, ID=ids.make(eid, "tl", "ar"), LineNumber=0, LineType=0, GLAccount=ar.get("ID"),
        GLAccountCode=ar.get("Code"), GLAccountDescription=ar.get("Description"),
        AmountFC=entry["AmountFC"], AmountDC=entry["AmountDC"], AmountVATFC=ZERO, AmountVATBaseFC=ZERO,
        VATCode=None, VATCodeDescription=None, VATPercentage=ZERO, VATType=None, Description=entry["Description"],
    )]
    vat_totals: dict[str, list] = {}
    for x in lines:
        rows.append(dict(
            common, ID=ids.make(eid, "tl", "line", x["ID"]), LineNumber=len(rows), LineType=1,
            GLAccount=x["GLAccount"], GLAccountCode=x["GLAccountCode"], GLAccountDescription=x["GLAccountDescription"],
            AmountFC=-x["AmountFC"], AmountDC=-x["AmountDC"], AmountVATFC=-x["VATAmountFC"],
            AmountVATBaseFC=-x["AmountFC"], VATCode=x["VATCode"], VATCodeDescription=x["VATCodeDescription"],
            VATPercentage=x["VATPercentage"], VATType="S" if x["VATCode"] else None,
            Description=x["Description"] or entry["Description"],
        ))
        if x["VATCode"] and x["VATAmountFC"]:
            t = vat_totals.setdefault(x["VATCode"], [ZERO, ZERO, x["VATPercentage"]])
            t[0] += x["VATAmountFC"]
            t[1] += x["VATAmountDC"]
    for code, (v_fc, v_dc, pct) in vat_totals.items():
        vc = div.vat_by_code[code.strip()]
        gl = div.gl_accounts.rows.get(vc["GLToPay"]) if vc["GLToPay"] else None
        rows.append(dict(
            common, ID=ids.make(eid, "tl", "vat", code), LineNumber=len(rows), LineType=2,
            GLAccount=gl["ID"] if gl else None, GLAccountCode=gl["Code"] if gl else None,
            GLAccountDescription=gl["Description"] if gl else None, AmountFC=-v_fc, AmountDC=-v_dc,
            AmountVATFC=ZERO, AmountVATBaseFC=ZERO, VATCode=code, VATCodeDescription=vc["Description"],
            VATPercentage=pct, VATType="S", Description=vc["Description"],
        ))
    new_ids = [r["ID"] for r in rows]
    keep = set(new_ids)
    for old in div.tl_by_entry.get(eid, []):
        if old not in keep:
            div.tl.delete(old)
            _record_deleted(div, old, now, entry["Modifier"])
    for r in rows:
        ts = div.next_timestamp()
        r["Timestamp"] = ts
        div.tl.put(r)
        div.tl_index.add(ts, r["ID"])
    div.tl_by_entry[eid] = new_ids


def _build_receivable(div: Division, entry: dict) -> None:
    acc = div.accounts.rows.get(entry["Customer"], {})
    div.receivables.put({
        "ID": div.ids.make(div.code, "receivable", entry["EntryID"]), "Division": div.code,
        "Account": entry["Customer"], "AccountCode": acc.get("Code"), "AccountName": acc.get("Name"),
        "AmountDC": entry["AmountDC"], "AmountFC": entry["AmountFC"], "Currency": entry["Currency"],
        "Description": entry["Description"], "DueDate": entry["DueDate"], "EntryDate": entry["EntryDate"],
        "EntryID": entry["EntryID"], "EntryNumber": entry["EntryNumber"], "InvoiceDate": entry["EntryDate"],
        "InvoiceNumber": entry["InvoiceNumber"], "IsFullyPaid": False, "JournalCode": entry["Journal"],
        "Status": 20, "YourRef": entry["YourRef"], "TransactionAmountDC": entry["AmountDC"],
        "TransactionAmountFC": entry["AmountFC"], "Created": entry["Created"], "Modified": entry["Modified"],
    })
