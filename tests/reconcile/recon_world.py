"""Builders of canonical rows for reconciliation tests: shop documents and the Exact entries of them.

Rows go through ``Store.upsert_rows`` into a real DuckDB file, exactly as the connectors write them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exactsync.reference import reference_for
from exactsync.settings import ExactSettings, ReconcileSettings, Settings, ShopSettings

D = Decimal
DIV = 100001
OTHER_DIV = 100002

#: Exact VAT codes of the test division: code → (percentage, oss_country, eu_sales_listing)
VAT_CODES: dict[str, tuple[str, str | None, str | None]] = {
    "2": ("21", None, None),
    "1": ("9", None, None),
    "DEH": ("19", "DE", None),
    "DEL": ("7", "DE", None),
    "BEH": ("21", "BE", None),
    "BEL": ("6", "BE", None),
    "FRH": ("20", "FR", None),
    "FRL": ("5.5", "FR", None),
    "ICL": ("0", None, "L"),
    "EXP": ("0", None, None),
}

#: accounts: id → (code, country, vat number)
ACCOUNTS: dict[str, tuple[str, str, str | None]] = {
    "acc-nl": ("10001", "NL", None),
    "acc-de": ("10002", "DE", None),
    "acc-be": ("10003", "BE", None),
    "acc-fr": ("10004", "FR", None),
    "acc-us": ("10005", "US", None),
    "acc-b2b-de1": ("20001", "DE", "DE123456789"),
    "acc-b2b-de2": ("20002", "DE", "DE987654321"),
}


def code_for(treatment: str, country: str, rate: Decimal) -> str:
    if treatment == "reverse_charge":
        return "ICL"
    if treatment in ("export", "exempt"):
        return "EXP"
    if treatment == "domestic":
        return "2" if rate == 21 else "1"
    for code, (pct, oss, _l) in VAT_CODES.items():
        if oss == country and D(pct) == rate:
            return code
    raise KeyError((treatment, country, rate))


def account_for(country: str, vat_number: str | None) -> str:
    for acc, (_code, c, vat) in ACCOUNTS.items():
        if vat_number and vat == vat_number:
            return acc
    return f"acc-{country.lower()}"


@dataclass
class Line:
    treatment: str
    country: str
    rate: Decimal
    base: Decimal
    vat: Decimal
    line_type: str = "goods"


@dataclass
class Doc:
    shop: str
    kind: str
    number: str
    date: dt.date
    lines: list[Line]
    currency: str = "EUR"
    country: str = "NL"
    vat_number: str | None = None
    base_currency: str = "EUR"
    fx: Decimal = D(1)

    @property
    def doc_key(self) -> str:
        return f"{self.shop}:{self.kind}:{self.number}"

    @property
    def net(self) -> Decimal:
        return sum((ln.base for ln in self.lines), D(0))

    @property
    def vat(self) -> Decimal:
        return sum((ln.vat for ln in self.lines), D(0))


@dataclass
class World:
    """Shop documents and Exact entries being built for one test."""

    prefixes: dict[str, str] = field(default_factory=lambda: {"woo": "WC-", "mag": "M2-"})
    shop_divisions: dict[str, int] = field(default_factory=lambda: {"woo": DIV, "mag": DIV})
    docs: list[dict] = field(default_factory=list)
    doc_lines: list[dict] = field(default_factory=list)
    entries: list[dict] = field(default_factory=list)
    entry_lines: list[dict] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------------ shop side

    def doc(self, number: str | int, date: str | dt.date = "2026-10-10", lines: list[Line] | None = None, *,
            shop: str = "woo", kind: str = "invoice", currency: str = "EUR", country: str = "NL",
            vat_number: str | None = None, base_currency: str = "EUR", fx: Decimal = D(1)) -> Doc:
        date = dt.date.fromisoformat(date) if isinstance(date, str) else date
        sign = -1 if kind == "credit_note" else 1
        if lines is None:
            lines = [Line("domestic", "NL", D(21), D("100.00") * sign, D("21.00") * sign)]
        d = Doc(shop, kind, str(number), date, lines, currency, country, vat_number, base_currency, fx)
        treatments = {ln.treatment for ln in lines}
        self.docs.append({
            "doc_key": d.doc_key, "shop": shop, "source": "woocommerce" if shop == "woo" else "magento",
            "kind": kind, "source_id": str(number), "doc_number": str(number), "order_id": str(number),
            "order_number": str(number), "doc_date": date, "created_at": dt.datetime(date.year, date.month, date.day, 9),
            "modified_at": dt.datetime(date.year, date.month, date.day, 9), "currency": currency,
            "base_currency": base_currency, "fx_rate": fx, "customer_ref": None, "customer_name": "Klant",
            "customer_email": "klant@example.test", "company": "Firma" if vat_number else None,
            "billing_country": country, "ship_country": country, "vat_country": country, "vat_number": vat_number,
            "treatment": treatments.pop() if len(treatments) == 1 else "mixed",
            "net": d.net, "vat": d.vat, "gross": d.net + d.vat,
            "net_base": (d.net / fx).quantize(D("0.0001")), "vat_base": (d.vat / fx).quantize(D("0.0001")),
            "gross_base": ((d.net + d.vat) / fx).quantize(D("0.0001")),
            "shipping_net": D(0), "discount_net": D(0), "status": "completed",
            "pulled_at": dt.datetime(2026, 11, 2),
        })
        for i, ln in enumerate(lines):
            self.doc_lines.append({"doc_key": d.doc_key, "line_no": i + 1, "line_type": ln.line_type,
                                   "tax_class": None, "country": ln.country, "rate": ln.rate,
                                   "treatment": ln.treatment, "base": ln.base, "vat": ln.vat})
        return d

    def reference(self, d: Doc) -> str:
        return reference_for(self.prefixes[d.shop], d.kind, d.number)

    # ------------------------------------------------------------------ Exact side

    def entry(self, your_ref: str | None, date: str | dt.date = "2026-10-10",
              lines: list[tuple[str, Decimal, Decimal]] | None = None, *, division: int = DIV,
              currency: str = "EUR", status: int = 50, customer: str | None = "acc-nl", fx: Decimal = D(1),
              entry_id: str | None = None) -> str:
        """One sales entry; ``lines`` = [(vat_code, base, vat)] in sales sign and entry currency."""
        date = dt.date.fromisoformat(date) if isinstance(date, str) else date
        n = next(self._ids)
        entry_id = entry_id or f"e{n:06d}"
        lines = lines if lines is not None else [("2", D("100.00"), D("21.00"))]
        net = sum((b for _c, b, _v in lines), D(0))
        vat = sum((v for _c, _b, v in lines), D(0))
        acc = ACCOUNTS.get(customer) if customer else None
        self.entries.append({
            "division": division, "entry_id": entry_id, "journal_code": "70", "entry_number": 26000000 + n,
            "your_ref": your_ref, "description": f"Order {your_ref}", "entry_date": date, "fin_year": date.year,
            "fin_period": date.month, "currency": currency, "fx_rate": fx, "customer_id": customer,
            "customer_code": acc[0] if acc else None, "customer_name": None,
            "net": net, "vat": vat, "gross": net + vat,
            "net_dc": (net * fx).quantize(D("0.01")), "vat_dc": (vat * fx).quantize(D("0.01")),
            "gross_dc": (net * fx).quantize(D("0.01")) + (vat * fx).quantize(D("0.01")),
            "status": status, "type": 21 if net + vat < 0 else 20, "line_count": len(lines) + 1,
            "modified_at": dt.datetime(2026, 11, 1), "pulled_at": dt.datetime(2026, 11, 2),
        })
        grouped: dict[str, list[Decimal]] = {}
        for code, base, v in lines:
            g = grouped.setdefault(code, [D(0), D(0)])
            g[0] += base
            g[1] += v
        for code, (base, v) in grouped.items():
            pct = VAT_CODES.get(code, ("0", None, None))[0]
            self.entry_lines.append({
                "division": division, "entry_id": entry_id, "vat_code": code, "gl_account_code": "8000",
                "base": base, "vat": v, "base_dc": (base * fx).quantize(D("0.01")),
                "vat_dc": (v * fx).quantize(D("0.01")), "vat_percentage": D(pct),
            })
        return entry_id

    def book(self, d: Doc, **kw: Any) -> str:
        """Book ``d`` the way a correct integration does (one line per VAT code, the shop's amounts)."""
        lines = [(code_for(ln.treatment, ln.country, ln.rate), ln.base, ln.vat) for ln in d.lines]
        kw.setdefault("customer", account_for(d.country, d.vat_number))
        kw.setdefault("date", d.date)
        kw.setdefault("currency", d.currency)
        return self.entry(self.reference(d), lines=lines, **kw)

    def reverse(self, entry_id: str, date: str | dt.date | None = None) -> str:
        """The reversal entry of ``entry_id`` (same YourRef, every amount negated)."""
        e = next(x for x in self.entries if x["entry_id"] == entry_id)
        lines = [(ln["vat_code"], -ln["base"], -ln["vat"]) for ln in self.entry_lines if ln["entry_id"] == entry_id]
        return self.entry(e["your_ref"], date or e["entry_date"], lines, division=e["division"],
                          currency=e["currency"], customer=e["customer_id"], fx=e["fx_rate"])

    # ------------------------------------------------------------------ store

    def write(self, store: Any, *, reference: bool = True) -> None:
        from exactsync.store import Store

        with store.atomic() as con:
            for division, country in ((DIV, "NL"), (OTHER_DIV, "NL")) if reference else ():
                Store.upsert_rows(con, "exact_divisions", [{"division": division, "description": f"Div {division}",
                                                            "currency": "EUR", "country": country, "status": 1}])
                Store.upsert_rows(con, "exact_vat_codes", [
                    {"division": division, "code": code, "vat_code_id": f"{division}-{code}", "description": code,
                     "percentage": D(pct), "type": "E", "vat_transaction_type": "S", "oss_country": oss,
                     "eu_sales_listing": listing, "is_blocked": False}
                    for code, (pct, oss, listing) in VAT_CODES.items()])
                Store.upsert_rows(con, "exact_accounts", [
                    {"division": division, "account_id": acc, "code": code, "name": f"Account {code}",
                     "country": country_, "vat_number": vat, "status": "C", "blocked": False}
                    for acc, (code, country_, vat) in ACCOUNTS.items()])
            for table, rows in (("shop_documents", self.docs), ("shop_vat_lines", self.doc_lines),
                                ("exact_entries", self.entries), ("exact_vat_lines", self.entry_lines)):
                if rows:
                    Store.upsert_rows(con, table, rows)
        self.docs, self.doc_lines, self.entries, self.entry_lines = [], [], [], []

    def settings(self, **reconcile: Any) -> Settings:
        shops = {name: ShopSettings(name=name, kind="woocommerce" if name == "woo" else "magento",
                                    division=self.shop_divisions[name], reference_prefix=prefix)
                 for name, prefix in self.prefixes.items()}
        return Settings(shops=shops, exact=ExactSettings(divisions=sorted(set(self.shop_divisions.values()) | {OTHER_DIV})),
                        reconcile=ReconcileSettings(**reconcile))


def nl(base: str, rate: int = 21) -> Line:
    b = D(base)
    return Line("domestic", "NL", D(rate), b, (b * rate / 100).quantize(D("0.01")))


def oss(country: str, base: str, rate: str) -> Line:
    b = D(base)
    return Line("oss", country, D(rate), b, (b * D(rate) / 100).quantize(D("0.01")))


def icl(country: str, base: str) -> Line:
    return Line("reverse_charge", country, D(0), D(base), D(0))


def export(country: str, base: str) -> Line:
    return Line("export", country, D(0), D(base), D(0))
