"""Sales-entry payloads for Exact, built from canonical rows and mappings (pure functions).

Shape (exact-online-api.md §5.1, §5.2, §9.3): ``Journal`` is the journal *code*, ``Customer`` and
``GLAccount`` are GUIDs, line ``AmountFC`` is the net amount, ``VATCode`` a code of the division,
and each line carries ``VATAmountFC`` equal to the shop's VAT so Exact's own VAT arithmetic can
never differ from the shop's. Amounts are rounded once to cents (:func:`exactsync.money.to_cents`)
and sent as decimal strings (Exact accepts numeric strings, §4.7; never a float). Credit notes
carry negative amounts (sales sign). Dates are sent as ``YYYY-MM-DDT00:00:00`` (no offset, §4.7).

A correction is two entries with the original YourRef: a reversal (every booked line negated,
Description ``Reversal of entry <N>``) and a new correct entry (``Correction of entry <N>``).
:func:`find_existing` recognises, among the entries Exact holds for a YourRef, the one a job
already produced, which is what makes a retried job never post twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from exactsync.mapping import Mappings
from exactsync.money import ZERO, to_cents
from exactsync.reference import normalize_reference

__all__ = [
    "LineDraft",
    "EntryDraft",
    "build_document_entry",
    "build_reversal",
    "payload_of",
    "canonical_json",
    "payload_hash",
    "find_existing",
    "live_entries",
    "reversal_description",
    "correction_description",
    "REVERSAL_PREFIX",
    "CORRECTION_PREFIX",
]

REVERSAL_PREFIX = "Reversal of entry "
CORRECTION_PREFIX = "Correction of entry "
_LINE_LABEL = {"goods": "Goods", "shipping": "Shipping", "fee": "Fees", "adjustment": "Adjustment"}


def reversal_description(entry_number: int | None) -> str:
    return f"{REVERSAL_PREFIX}{entry_number}"


def correction_description(entry_number: int | None) -> str:
    return f"{CORRECTION_PREFIX}{entry_number}"


@dataclass
class LineDraft:
    gl_code: str
    gl_id: str
    amount: Decimal  # net, cents, sales sign
    vat_amount: Decimal  # cents, sales sign
    vat_code: str | None
    description: str
    country: str | None = None
    cost_center: str | None = None


@dataclass
class EntryDraft:
    division: int
    journal: str
    customer_id: str
    entry_date: dt.date
    fin_year: int | None
    fin_period: int | None
    your_ref: str
    description: str
    currency: str | None
    rate: Decimal | None = None
    lines: list[LineDraft] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return sum((x.amount for x in self.lines), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((x.vat_amount for x in self.lines), ZERO)


def _money(d: Decimal) -> str:
    return format(to_cents(d), "f")


def payload_of(draft: EntryDraft) -> dict[str, Any]:
    """The POST body for ``salesentry/SalesEntries`` (JSON-ready: strings and ints only)."""
    body: dict[str, Any] = {
        "Journal": draft.journal,
        "Customer": draft.customer_id,
        "EntryDate": f"{draft.entry_date.isoformat()}T00:00:00",
        "YourRef": draft.your_ref,
        "Description": draft.description[:255],
    }
    if draft.fin_year is not None and draft.fin_period is not None:
        body["ReportingYear"] = draft.fin_year
        body["ReportingPeriod"] = draft.fin_period
    if draft.currency:
        body["Currency"] = draft.currency
    if draft.rate is not None:
        body["Rate"] = format(draft.rate, "f")
    body["VATAmountFC"] = _money(draft.vat)
    lines = []
    for x in draft.lines:
        line: dict[str, Any] = {"GLAccount": x.gl_id, "AmountFC": _money(x.amount)}
        if x.vat_code:
            line["VATCode"] = x.vat_code
        line["VATAmountFC"] = _money(x.vat_amount)
        line["Description"] = x.description[:255]
        if x.cost_center:
            line["CostCenter"] = x.cost_center
        lines.append(line)
    body["SalesEntryLines"] = lines
    return body


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=lambda o: format(o, "f") if isinstance(o, Decimal) else str(o))


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- builders


def _spread_cents(lines: list[LineDraft], attr: str, target: Decimal) -> str | None:
    """Put the cent difference between Σ rounded lines and the rounded total on the largest line."""
    diff = to_cents(target) - sum((getattr(x, attr) for x in lines), ZERO)
    if diff == 0:
        return None
    if abs(diff) > Decimal("0.01") * max(1, len(lines)):
        return f"the lines do not add up to the document's {'net' if attr == 'amount' else 'VAT'} ({diff} apart)"
    biggest = max(lines, key=lambda x: abs(x.amount))
    setattr(biggest, attr, getattr(biggest, attr) + diff)
    return None


def document_description(doc: dict) -> str:
    label = "Credit note" if doc.get("kind") == "credit_note" else "Invoice"
    text = f"{label} {doc['doc_number']}"
    order = doc.get("order_number")
    if order and str(order) != str(doc["doc_number"]):
        text += f" (order {order})"
    return text


def build_document_entry(
    doc: dict,
    vat_lines: Iterable[dict],
    mappings: Mappings,
    *,
    customer_id: str,
    your_ref: str,
    entry_date: dt.date | None = None,
    description: str | None = None,
) -> tuple[EntryDraft | None, list[str]]:
    """A sales entry (or credit note) for one shop document; returns (draft, problems).

    ``doc`` is a ``shop_documents`` row, ``vat_lines`` its ``shop_vat_lines`` rows. Problems name
    the missing or invalid mapping; a draft is only returned when there are none.
    """
    problems: list[str] = []
    ref = mappings.ref
    day = entry_date or doc["doc_date"]
    period = ref.period_for(day)
    if period is None:
        problems.append(f"no financial period in division {mappings.division} holds {day.isoformat()}")
    lines: list[LineDraft] = []
    for row in sorted(vat_lines, key=lambda r: r["line_no"]):
        base, vat = Decimal(row["base"]), Decimal(row["vat"])
        if base == 0 and vat == 0:
            continue
        country = (row.get("country") or doc.get("vat_country") or "").upper() or None
        treatment = row.get("treatment") or doc.get("treatment")
        rate = Decimal(row["rate"])
        vat_code = mappings.vat_code(country, rate, treatment)
        if vat_code is None:
            problems.append(f"no VAT code mapped for {country or 'any country'} {rate.normalize():f}% {treatment} "
                            f"in division {mappings.division}")
        else:
            p = ref.vat_problem(vat_code, rate, country, treatment)
            if p:
                problems.append(p)
        line_type = row.get("line_type") or "goods"
        gl_code = mappings.gl_code(line_type, row.get("tax_class"), country, treatment)
        gl_id = ""
        if gl_code is None:
            tc = f" tax class {row.get('tax_class')!r}" if row.get("tax_class") else ""
            tr = f"{(treatment or '').replace('_', ' ')}, " if treatment else ""
            problems.append(f"no G/L account mapped for {line_type}{tc} ({tr}{country or 'any country'}) "
                            f"in division {mappings.division}")
        else:
            p = ref.gl_problem(gl_code)
            if p:
                problems.append(p)
            else:
                gl_id = ref.gl_by_code[gl_code.strip()]["gl_id"]
        label = _LINE_LABEL.get(line_type, line_type.title())
        rate_text = f"{rate.normalize():f}%"
        lines.append(LineDraft(
            gl_code=gl_code or "", gl_id=gl_id, amount=to_cents(base), vat_amount=to_cents(vat),
            vat_code=vat_code, description=f"{label} {country or ''} {rate_text}".replace("  ", " "),
            country=country, cost_center=mappings.cost_center(country),
        ))
    if not lines:
        problems.append(f"document {doc['doc_key']} has no amounts to book")
    else:
        for attr, total in (("amount", doc["net"]), ("vat_amount", doc["vat"])):
            p = _spread_cents(lines, attr, Decimal(total))
            if p:
                problems.append(f"document {doc['doc_key']}: {p}")
    rate = _fx_rate(doc, ref.currency)
    if problems:
        return None, sorted(set(problems), key=problems.index)
    return EntryDraft(
        division=mappings.division, journal=mappings.journal_code, customer_id=customer_id, entry_date=day,
        fin_year=period[0], fin_period=period[1], your_ref=your_ref,
        description=description or document_description(doc), currency=doc.get("currency"), rate=rate,
        lines=lines,
    ), []


def _fx_rate(doc: dict, division_currency: str | None) -> Decimal | None:
    """Exact's ``Rate`` (FC→DC) when the document is not in the division's currency.

    Canonical ``fx_rate`` is base→document; it converts to Exact's rate only when the shop's base
    currency is the division's. Otherwise Exact applies its own exchange rate table (§9.3).
    """
    cur = doc.get("currency")
    if not cur or not division_currency or cur == division_currency:
        return None
    fx = doc.get("fx_rate")
    if doc.get("base_currency") == division_currency and fx:
        return (Decimal(1) / Decimal(fx)).quantize(Decimal("0.00000001"))
    return None


def build_reversal(
    entry: dict,
    vat_lines: Iterable[dict],
    mappings: Mappings,
    *,
    entry_date: dt.date | None = None,
) -> tuple[EntryDraft | None, list[str]]:
    """The reversal of a booked entry: same journal, customer and YourRef, every line negated.

    ``entry`` is an ``exact_entries`` row, ``vat_lines`` its ``exact_vat_lines`` rows (sales sign).
    """
    problems: list[str] = []
    ref = mappings.ref
    day = entry_date or entry["entry_date"]
    period = ref.period_for(day)
    if period is None:
        problems.append(f"no financial period in division {mappings.division} holds {day.isoformat()}")
    lines: list[LineDraft] = []
    for row in sorted(vat_lines, key=lambda r: (r["vat_code"], r["gl_account_code"])):
        base, vat = Decimal(row["base"]), Decimal(row["vat"])
        if base == 0 and vat == 0:
            continue
        gl = ref.gl_by_code.get(str(row["gl_account_code"]).strip())
        if gl is None:
            problems.append(f"G/L account {row['gl_account_code']!r} of entry {entry['entry_number']} is unknown "
                            f"in division {mappings.division}")
            continue
        code = (row.get("vat_code") or "").strip() or None
        if code and code not in ref.vat_codes:
            problems.append(f"VAT code {code!r} of entry {entry['entry_number']} is unknown in division "
                            f"{mappings.division}")
        lines.append(LineDraft(
            gl_code=gl["code"], gl_id=gl["gl_id"], amount=-to_cents(base), vat_amount=-to_cents(vat),
            vat_code=code, description=f"Reversal {gl['code']} {code or ''}".strip(),
        ))
    if not lines:
        problems.append(f"entry {entry['entry_number']} has no booked lines to reverse")
    if not entry.get("customer_id"):
        problems.append(f"entry {entry['entry_number']} has no customer to reverse against")
    if problems:
        return None, problems
    return EntryDraft(
        division=mappings.division, journal=str(entry["journal_code"]).strip(), customer_id=entry["customer_id"],
        entry_date=day, fin_year=period[0], fin_period=period[1], your_ref=entry["your_ref"],
        description=reversal_description(entry["entry_number"]), currency=entry.get("currency"),
        rate=Decimal(entry["fx_rate"]) if entry.get("fx_rate") and entry.get("currency") != ref.currency else None,
        lines=lines,
    ), []


# --------------------------------------------------------------------------- what Exact holds


def _num(e: dict, *names: str) -> Any:
    for n in names:
        if n in e and e[n] is not None:
            return e[n]
    return None


def live_entries(entries: list[dict]) -> list[dict]:
    """Entries that are not part of a reversal pair (an entry and its "Reversal of entry N").

    Accepts Exact's wire names (EntryNumber, Description) or the store's (entry_number, description).
    """
    reversed_numbers = set()
    reversals = []
    for e in entries:
        desc = _num(e, "Description", "description") or ""
        if desc.startswith(REVERSAL_PREFIX):
            reversals.append(e)
            reversed_numbers.add(desc[len(REVERSAL_PREFIX):].strip())
    rest = [e for e in entries
            if e not in reversals and str(_num(e, "EntryNumber", "entry_number")) not in reversed_numbers]
    return _without_negations(rest)


def _without_negations(entries: list[dict]) -> list[dict]:
    """``entries`` less the pairs of an entry and its exact negation (a reversal booked in Exact by
    hand, or one whose Description was edited), one to one in entry-number order: as the
    reconciliation cancels them (docs/reconcile.md), so a document it finds missing is not refused
    by the planner as "already held"."""
    def amounts(e: dict) -> tuple | None:
        gross = _num(e, "AmountFC", "gross")
        if gross is None or Decimal(str(gross)) == 0:
            return None
        net, vat = _num(e, "net"), _num(e, "vat")
        parts = (Decimal(str(gross)), None if net is None else Decimal(str(net)), None if vat is None else Decimal(str(vat)))
        return parts + (_num(e, "Currency", "currency"),)

    def negates(a: tuple, b: tuple) -> bool:
        return (a[0] == -b[0] and all(x is None or y is None or x == -y for x, y in zip(a[1:3], b[1:3]))
                and (a[3] is None or b[3] is None or a[3] == b[3]))

    ordered = sorted(entries, key=lambda e: _num(e, "EntryNumber", "entry_number") or 0)
    paired: set[int] = set()
    for i, e in enumerate(ordered):
        a = amounts(e)
        if a is None or i in paired:
            continue
        for j in range(i + 1, len(ordered)):
            b = amounts(ordered[j])
            if j not in paired and b is not None and negates(a, b):
                paired |= {i, j}
                break
    gone = {id(ordered[i]) for i in paired}
    return [e for e in entries if id(e) not in gone]


def find_existing(kind: str, your_ref: str, reverses_entry_number: int | None, entries: list[dict],
                  taken: Iterable[str] = ()) -> dict | None:
    """The entry among ``entries`` (Exact rows with YourRef, EntryNumber, Description) that a job of
    ``kind`` already produced, or None. ``create``: any live entry for the reference; ``reverse``:
    ``Reversal of entry N``, else an unmarked entry negating N's amount that is not in ``taken``
    (the entry ids other jobs of the reference already stand for); ``rebook``: ``Correction of entry N``."""
    want = normalize_reference(your_ref)
    mine = [e for e in entries if normalize_reference(_num(e, "YourRef", "your_ref")) == want]
    if kind == "create":
        live = live_entries(mine)
        return min(live, key=lambda e: _num(e, "EntryNumber", "entry_number") or 0) if live else None
    marker = (reversal_description if kind == "reverse" else correction_description)(reverses_entry_number)
    for e in mine:
        desc = (_num(e, "Description", "description") or "").strip()
        if desc == marker or desc.startswith(marker + " "):
            return e
    if kind == "reverse":
        return _reversal_by_amount(mine, reverses_entry_number, frozenset(str(t).lower() for t in taken))
    return None


def _reversal_by_amount(mine: list[dict], reverses_entry_number: int | None, taken: frozenset[str]) -> dict | None:
    """An entry for the reference that negates the reversed entry's amount, carries no marker (its
    Description edited in Exact, or a reversal booked there by hand) and is not already the entry of
    another job (``taken``: entry ids, lower case): the reversal is there, whatever its text says.
    So one reversal never stands for two entries (duplicates of one amount)."""
    original = next((e for e in mine if str(_num(e, "EntryNumber", "entry_number")) == str(reverses_entry_number)), None)
    amount = _num(original, "AmountFC", "gross") if original is not None else None
    if amount is None or Decimal(str(amount)) == 0:
        return None
    for e in sorted(mine, key=lambda e: _num(e, "EntryNumber", "entry_number") or 0):
        desc = (_num(e, "Description", "description") or "").strip()
        if e is original or desc.startswith((REVERSAL_PREFIX, CORRECTION_PREFIX)):
            continue
        if str(_num(e, "EntryID", "entry_id") or "").lower() in taken:
            continue
        other = _num(e, "AmountFC", "gross")
        if other is not None and Decimal(str(other)) == -Decimal(str(amount)):
            return e
    return None
