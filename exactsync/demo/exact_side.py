"""The demo's Exact Online side: master data, and the sales entries an imperfect integration booked.

One entry per shop document (journal 70, YourRef = ``reference_for(prefix, kind, number)``, one
line per (revenue GL, VAT code) with the shop's net and VAT, Status 50), except for the planted
cases, each of which breaks exactly one thing (see :data:`exactsync.demo.model.CAUSES`).
Entries are in the ``exact.json`` author form of the Exact sandbox (docs/sandbox-exact.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterator

from exactsync.demo.model import B2B_COMPANIES, DEBTOR_COUNTRIES, ZERO, Doc, Line, cents, debtor_code
from exactsync.demo.rates import COUNTRY_NAMES, EU_RATES, HOME

__all__ = [
    "DIVISION",
    "OTHER_DIVISION",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REDIRECT_URI",
    "ExactBooker",
    "vat_code",
    "gl_for",
    "division_master",
    "other_division",
    "app_section",
]

DIVISION = 700001
OTHER_DIVISION = 700002
JOURNAL = "70"
#: the sandbox's demo app registration (sandbox only: these are not real Exact credentials)
CLIENT_ID = "{5e1f0d2c-7a3b-4c9d-8e6f-0a1b2c3d4e5f}"
CLIENT_SECRET = "sandbox-demo-client-secret"
REDIRECT_URI = "http://127.0.0.1:8501/"
FIRST_ENTRY_NUMBER = 26_100_001


def vat_code(line: Line) -> str:
    """The Exact VAT code the integration should use for a line."""
    if line.treatment == "reverse_charge":
        return "ICL"
    if line.treatment in ("export", "exempt"):
        return "EXP"
    if line.treatment == "domestic":
        return "1" if line.rate == EU_RATES[HOME][1] else "2"
    std, _red = EU_RATES[line.country]
    return f"{line.country}{'H' if line.rate == std else 'L'}"


def gl_for(line: Line) -> str:
    if line.line_type == "shipping":
        return "8100"
    return {"domestic": "8000", "oss": "8010"}.get(line.treatment, "8020")


def _money(v: Decimal) -> str:
    return f"{cents(v)}"


def app_section() -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT_URI,
            "webhook_secret": "sandbox-demo-webhook-secret"}


def division_master(year: int, closed: list[tuple[int, int]]) -> dict[str, Any]:
    """Division 700001 without its entries: GL accounts, VAT codes, journals, periods, accounts."""
    vat_codes: list[dict[str, Any]] = [
        {"code": "2", "description": "BTW hoog 21%", "percentage": 21, "type": "E", "vat_transaction_type": "B",
         "gl_to_pay": "1500", "percentages": [{"start": None, "end": "2012-09-30", "percentage": 19},
                                              {"start": "2012-10-01", "end": None, "percentage": 21}]},
        {"code": "1", "description": "BTW laag 9%", "percentage": 9, "type": "E", "vat_transaction_type": "B",
         "gl_to_pay": "1500", "percentages": [{"start": None, "end": "2018-12-31", "percentage": 6},
                                              {"start": "2019-01-01", "end": None, "percentage": 9}]},
    ]
    for country, (std, red) in EU_RATES.items():
        if country == HOME:
            continue
        for tag, pct in (("H", std), ("L", red)):
            if tag == "L" and red == std:
                continue
            vat_codes.append({"code": f"{country}{tag}", "description": f"OSS {country} {pct.normalize():f}%",
                              "percentage": f"{pct.normalize():f}", "type": "E", "vat_transaction_type": "S",
                              "oss_country": country, "gl_to_pay": "1510"})
    vat_codes += [
        {"code": "ICL", "description": "Intracommunautaire levering 0% (verlegd)", "percentage": 0, "type": "B",
         "vat_transaction_type": "S", "eu_sales_listing": "L", "charged": True, "gl_to_pay": "1500"},
        {"code": "EXP", "description": "Export buiten EU 0%", "percentage": 0, "type": "E",
         "vat_transaction_type": "S", "gl_to_pay": "1500"},
        {"code": "5", "description": "Voorbelasting 21%", "percentage": 21, "type": "E", "vat_transaction_type": "P",
         "gl_to_pay": "1520"},
        {"code": "OLD", "description": "Oude code (geblokkeerd)", "percentage": 6, "type": "E",
         "vat_transaction_type": "S", "is_blocked": True, "gl_to_pay": "1500"},
    ]
    accounts: list[dict[str, Any]] = []
    for country in DEBTOR_COUNTRIES:
        accounts.append({"code": debtor_code(country), "name": f"Webshop particulieren {COUNTRY_NAMES[country]}",
                         "country": country, "status": "C",
                         "sales_vat_code": "2" if country == HOME else None})
    for code, company, country, vat_number in B2B_COMPANIES:
        slug = company.split()[0].lower()
        accounts.append({"code": code, "name": company, "country": country, "vat_number": vat_number,
                         "status": "C", "email": f"inkoop@{slug}.example", "sales_vat_code": "ICL"})
    accounts.append({"code": "30001", "name": "Verpakkingen Leverancier B.V.", "country": "NL", "status": "A",
                     "is_supplier": True})
    return {
        "code": DIVISION, "description": "Demo Webwinkel B.V.", "currency": "EUR", "country": HOME,
        "vat_number": "NL859123456B01",
        "gl_accounts": [
            {"code": "1100", "description": "Bank", "type": 12},
            {"code": "1300", "description": "Debiteuren", "type": 20},
            {"code": "1500", "description": "Te betalen btw", "type": 24},
            {"code": "1510", "description": "Te betalen btw OSS", "type": 24},
            {"code": "1520", "description": "Te vorderen btw", "type": 24},
            {"code": "8000", "description": "Omzet binnenland", "type": 110, "vat_code": "2"},
            {"code": "8010", "description": "Omzet EU particulieren (OSS)", "type": 110},
            {"code": "8020", "description": "Omzet ICL en export", "type": 110},
            {"code": "8100", "description": "Verzendkosten", "type": 110, "vat_code": "2"},
            {"code": "8900", "description": "Overige opbrengsten", "type": 110, "vat_code": "2"},
            {"code": "4000", "description": "Inkoopwaarde omzet", "type": 111},
        ],
        "ar_gl_account": "1300",
        "vat_codes": vat_codes,
        "journals": [
            {"code": JOURNAL, "description": "Verkoopboek", "type": 20, "first_number": FIRST_ENTRY_NUMBER},
            {"code": "20", "description": "Bank", "type": 12},
            {"code": "90", "description": "Memoriaal", "type": 90},
        ],
        "periods": {"years": [year - 1, year, year + 1] if year else [2026]},
        "closed_periods": [{"journal": JOURNAL, "year": y, "period": p} for y, p in closed],
        "accounts": accounts,
    }


def other_division(year: int, month: int, woo_refs: list[str]) -> dict[str, Any]:
    """Division 700002: a second administration with a little data, some with woo-like references."""
    entries = []
    for n, ref in enumerate(woo_refs[:3]):
        entries.append({"journal": "700", "customer": "1", "date": dt.date(year, month, 5 + n).isoformat(),
                        "your_ref": ref, "description": f"Consultancy {ref}", "status": 50,
                        "entry_number": 700_000 + n + 1,
                        "lines": [{"gl": "8000", "amount": "250.00", "vat_code": "21"}]})
    return {
        "code": OTHER_DIVISION, "description": "Demo Holding B.V.", "currency": "EUR", "country": HOME,
        "vat_number": "NL859654321B01",
        "gl_accounts": [
            {"code": "1300", "description": "Debiteuren", "type": 20},
            {"code": "1500", "description": "Te betalen btw", "type": 24},
            {"code": "8000", "description": "Omzet advies", "type": 110},
        ],
        "ar_gl_account": "1300",
        "vat_codes": [{"code": "21", "description": "BTW 21%", "percentage": 21, "type": "E",
                       "vat_transaction_type": "B", "gl_to_pay": "1500"}],
        "journals": [{"code": "700", "description": "Verkopen", "type": 20}],
        "periods": {"years": [year]},
        "accounts": [{"code": "1", "name": "Demo Webwinkel B.V. (intercompany)", "country": "NL", "status": "C"}],
        "entries": entries,
    }


class ExactBooker:
    """Books shop documents the way the demo's imperfect integration did."""

    def __init__(self, month: Any) -> None:
        self.month = month
        self.next_number = FIRST_ENTRY_NUMBER
        self.cases: list[dict[str, Any]] = []
        self.entry_count = 0
        self.status_count = {20: 0, 50: 0}

    def _number(self) -> int:
        n = self.next_number
        self.next_number += 1
        return n

    def _entry(self, doc: Doc, lines: list[Line], *, date: dt.date | None = None, status: int = 50,
               account: str | None = None, currency: str | None = None, fx: Decimal | None = None,
               description: str | None = None, negate: bool = False) -> dict[str, Any]:
        grouped: dict[tuple[str, str], list[Decimal]] = {}
        for ln in lines:
            g = grouped.setdefault((gl_for(ln), vat_code(ln)), [ZERO, ZERO])
            g[0] += ln.base
            g[1] += ln.vat
        sign = -1 if negate else 1
        cur = currency or doc.currency
        what = "Order" if doc.source == "woocommerce" and doc.kind == "invoice" else \
            "Refund" if doc.source == "woocommerce" else "Invoice" if doc.kind == "invoice" else "Credit memo"
        entry: dict[str, Any] = {
            "journal": JOURNAL, "customer": account or doc.account, "date": (date or doc.doc_date).isoformat(),
            "your_ref": doc.reference, "entry_number": self._number(),
            "description": description or f"{what} {doc.doc_number} ({doc.shop})", "status": status,
            "lines": [
                {"gl": gl, "amount": _money(sign * base), "vat_code": code, "vat_amount": _money(sign * vat),
                 "description": "Verzendkosten" if gl == "8100" else "Omzet"}
                for (gl, code), (base, vat) in grouped.items()
            ],
        }
        if cur != "EUR":
            rate = fx if fx is not None else doc.fx
            entry["currency"] = cur
            entry["rate"] = f"{(Decimal(1) / rate).quantize(Decimal('0.000001'))}"
        self.entry_count += 1
        self.status_count[status] = self.status_count.get(status, 0) + 1
        return entry

    def book(self, doc: Doc) -> Iterator[dict[str, Any]]:
        """Yield the entries booked for ``doc`` (none when it is planted as missing)."""
        plan = doc.plan
        if plan is None:
            yield self._entry(doc, doc.lines)
            return
        cause, variant = plan.cause, plan.variant
        status, note = cause, ""
        lines = [Line(ln.line_type, ln.country, ln.rate, ln.treatment, ln.base, ln.vat) for ln in doc.lines]
        if cause == "missing_in_exact":
            note = "never booked"
        elif cause == "amount_differs":
            if variant == "shipping_missing" and any(ln.line_type == "shipping" for ln in lines):
                lines = [ln for ln in lines if ln.line_type != "shipping"]
                note = "shipping line not booked"
            else:
                variant = "line_doubled"
                lines[0].base *= 2
                lines[0].vat *= 2
                note = f"first line booked twice the amount ({lines[0].line_type})"
            yield self._entry(doc, lines)
        elif cause == "vat_differs":
            if variant == "wrong_country":
                for ln in lines:
                    ln.treatment, ln.country = "domestic", HOME
                note = f"OSS sale to {doc.lines[0].country} booked with the domestic NL code"
            elif variant == "wrong_rate":
                e = self._entry(doc, lines)
                for line in e["lines"]:
                    if line["vat_code"] == "1":
                        line["vat_code"] = "2"
                note = "reduced-rate goods booked with the standard-rate code 2 (VAT amount as the shop's)"
                yield e
            else:
                for ln in lines:
                    ln.treatment = "export"
                note = "intra-EU B2B sale booked with the export code instead of reverse charge (ICL)"
            if variant != "wrong_rate":
                yield self._entry(doc, lines)
        elif cause == "duplicated_in_exact":
            yield self._entry(doc, lines)
            yield self._entry(doc, lines, date=doc.doc_date)
            note = "booked twice"
        elif cause == "other_period":
            if variant == "booked_previous_period":
                date = dt.date(self.month.year, self.month.month, 1) - dt.timedelta(days=1)
            else:
                date = dt.date(self.month.year, self.month.month, self.month.days) + dt.timedelta(days=2)
            note = f"booked on {date.isoformat()}"
            yield self._entry(doc, lines, date=date)
        elif cause == "currency_differs":
            base_lines = doc.base_lines or lines
            note = f"{doc.currency} document booked in EUR (base amounts)"
            yield self._entry(doc, base_lines, currency="EUR", fx=Decimal(1))
        elif cause == "customer_differs":
            if variant == "other_b2b_account":
                others = [b for b in B2B_COMPANIES if b[0] != doc.account]
                account = next((b[0] for b in others if b[2] == lines[0].country), others[0][0])
            else:
                account = debtor_code(HOME) if doc.account != debtor_code(HOME) else debtor_code("BE")
            note = f"booked on account {account} instead of {doc.account}"
            yield self._entry(doc, lines, account=account)
        elif cause == "draft":
            note = "entry left open (Status 20)"
            yield self._entry(doc, lines, status=20)
        elif cause == "matched_within_tolerance":
            sign = 1 if doc.kind == "invoice" else -1
            taxed = [ln for ln in lines if ln.vat]
            if variant == "vat_plus_cent" and taxed:
                taxed[0].vat += Decimal("0.01") * sign
                note = "VAT rounded 1 cent up in Exact"
            else:
                variant = "net_minus_cent"
                lines[0].base -= Decimal("0.01") * sign
                note = "net 1 cent lower in Exact"
            yield self._entry(doc, lines)
        elif cause == "reversal_pair":
            wrong = [Line(ln.line_type, ln.country, ln.rate, ln.treatment, ln.base * 2, ln.vat * 2) for ln in lines]
            first = self._entry(doc, wrong)
            yield first
            later = min(doc.doc_date + dt.timedelta(days=2),
                        dt.date(self.month.year, self.month.month, self.month.days))
            yield self._entry(doc, wrong, date=later, negate=True,
                              description=f"Reversal of entry {first['entry_number']}")
            yield self._entry(doc, lines, date=later)
            status, cause = "matched", None
            note = f"booked double, reversed (entry {first['entry_number']}) and rebooked: cancels out"
        else:  # pragma: no cover - schedule and booker share CAUSES
            raise ValueError(f"unknown planted cause {cause!r}")
        self.cases.append({
            "doc_key": doc.doc_key, "reference": doc.reference, "shop": doc.shop, "kind": doc.kind,
            "doc_number": doc.doc_number, "division": DIVISION, "expected_status": status,
            "expected_cause": cause, "variant": variant or None, "note": note,
        })

    def manual_entries(self, count: int) -> Iterator[dict[str, Any]]:
        """Exact-only entries: manual corrections without a shop document."""
        m = self.month
        for i in range(count):
            day = 3 + (i * 7) % (m.days - 3)
            date = dt.date(m.year, m.month, day)
            if i % 3 == 0:
                ref = f"MANUAL-{m.year}{m.month:02d}-{i + 1:03d}"
                desc = "Handmatige correctie webshop-omzet"
            elif i % 3 == 1:
                ref = ""
                desc = "Creditering coulance (zonder referentie)"
            else:
                ref = f"WC-{990_000 + i}"
                desc = "Order uit oude webshop (bestaat niet in de shop)"
            amount = Decimal(25 + 10 * i).quantize(Decimal("0.01"))
            entry = {"journal": JOURNAL, "customer": debtor_code(HOME), "date": date.isoformat(),
                     "your_ref": ref or None, "entry_number": self._number(), "description": desc, "status": 50,
                     "lines": [{"gl": "8900", "amount": _money(amount), "vat_code": "2",
                                "vat_amount": _money(amount * Decimal("0.21")), "description": desc}]}
            self.entry_count += 1
            self.status_count[50] += 1
            self.cases.append({"doc_key": None, "reference": ref or None, "shop": None, "kind": None,
                               "doc_number": None, "division": DIVISION, "entry_number": entry["entry_number"],
                               "expected_status": "only_in_exact", "expected_cause": "only_in_exact",
                               "variant": "manual", "note": desc})
            yield entry
