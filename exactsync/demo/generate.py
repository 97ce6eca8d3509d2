"""``generate_demo(out_dir, orders=2000, seed=..., period="2026-10")``: write the demo month.

Writes into ``out_dir``: ``woocommerce.json``, ``magento.json``, ``exact.json`` (the three
sandboxes' scenario files), ``manifest.json`` (planted cases, expected counts and totals) and
``exactsync.toml`` (settings pointing at the sandboxes on their default ports). Orders are
streamed: each order is built, written to its shop file and booked in Exact before the next one
is drawn, so a million orders need little memory. Same arguments → byte-identical files.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from exactsync.demo.exact_side import (
    CLIENT_ID,
    CLIENT_SECRET,
    DIVISION,
    OTHER_DIVISION,
    REDIRECT_URI,
    ExactBooker,
    app_section,
    division_master,
    other_division,
)
from exactsync.demo.magento import DEMO_TOKEN, MagentoShop
from exactsync.demo.model import CAUSES, ZERO, Doc, Month
from exactsync.demo.rates import EU_RATES, NON_EU
from exactsync.demo.woo import WooShop
from exactsync.sandbox.woocommerce.generate import DEMO_KEY

__all__ = ["DEFAULT_SEED", "DEFAULT_PERIOD", "DEFAULT_PORTS", "SCENARIO_FILES", "generate_demo",
           "write_config", "DemoSummary"]

DEFAULT_SEED = 2026
DEFAULT_PERIOD = "2026-10"
DEFAULT_PORTS = {"exact": 8701, "woocommerce": 8702, "magento": 8703}
SCENARIO_FILES = ("exact.json", "woocommerce.json", "magento.json", "manifest.json", "exactsync.toml")

Progress = Callable[[int, int, str], None]


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return f"{o}"
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_default)


class _ArrayWriter:
    """Writes ``<prefix>[item,item,...]<suffix>`` to a file, one item at a time."""

    def __init__(self, f: IO[str], prefix: str) -> None:
        self.f = f
        self.first = True
        f.write(prefix + "[")

    def add(self, item: Any) -> None:
        self.f.write(("\n" if self.first else ",\n") + _dumps(item))
        self.first = False

    def close(self, suffix: str) -> None:
        self.f.write("\n]" + suffix)


def _open_object(header: dict[str, Any], key: str) -> str:
    """JSON text of ``header`` left open just before the array value of ``key``."""
    text = _dumps(header)
    assert text.endswith("}")
    return text[:-1] + ("," if len(header) else "") + f'"{key}":'


@dataclass
class _ShopTotals:
    orders: int = 0
    orders_excluded: int = 0
    invoices: int = 0
    credit_notes: int = 0
    gross: dict[str, Decimal] = field(default_factory=dict)
    net: dict[str, Decimal] = field(default_factory=dict)
    vat: dict[str, Decimal] = field(default_factory=dict)
    gross_base: Decimal = ZERO
    countries: set[str] = field(default_factory=set)

    def add(self, doc: Doc) -> None:
        if doc.kind == "invoice":
            self.invoices += 1
        else:
            self.credit_notes += 1
        c = doc.currency
        self.gross[c] = self.gross.get(c, ZERO) + doc.gross
        self.net[c] = self.net.get(c, ZERO) + doc.net
        self.vat[c] = self.vat.get(c, ZERO) + doc.vat
        self.gross_base += doc.gross_base
        self.countries.add(doc.lines[0].country if doc.lines else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders, "orders_excluded": self.orders_excluded,
            "documents": self.invoices + self.credit_notes, "invoices": self.invoices,
            "credit_notes": self.credit_notes,
            "gross": {k: f"{v}" for k, v in sorted(self.gross.items())},
            "net": {k: f"{v}" for k, v in sorted(self.net.items())},
            "vat": {k: f"{v}" for k, v in sorted(self.vat.items())},
            "gross_base_eur": f"{self.gross_base}",
            "countries": sorted(c for c in self.countries if c),
        }


@dataclass
class DemoSummary:
    out_dir: Path
    orders: int
    seed: int
    period: str
    documents: int
    entries: int
    cases: int


def _unreadable_order(woo: WooShop, booker: ExactBooker, orders: "_ArrayWriter", author: dict[str, Any],
                      doc: Doc) -> Iterator[dict[str, Any]]:
    """A planted Woo order the connector cannot read — its total is not the sum of its lines — that
    the integration booked in Exact all the same: the pull skips it with a record error (sync log,
    ``shop_rejects``), so its entry is only in Exact, and the run's sentence says why. Yields the
    entry; the case goes to ``booker.cases``."""
    oid = woo.next_order
    woo.next_order += 1
    bad = copy.deepcopy(author)
    bad["id"] = oid
    bad.pop("refunds", None)
    gross = sum((ln.base + ln.vat for ln in doc.lines), ZERO)
    bad["raw"] = {"total": f"{gross + Decimal('10.00')}"}  # what a broken plug-in sent
    orders.add(bad)
    twin = dataclasses.replace(doc, source_id=str(oid), doc_number=str(oid), order_number=str(oid), plan=None)
    yield from booker.book(twin)
    booker.cases.append({
        "doc_key": None, "reference": twin.reference, "shop": None, "kind": None, "doc_number": None,
        "division": DIVISION, "expected_status": "only_in_exact", "expected_cause": "only_in_exact",
        "variant": "unreadable", "order_id": oid,
        "note": f"order {oid}'s total is not the sum of its lines: the pull skips it (sync log), so its entry "
                f"is only in Exact, and the sentence says the shop could not read it",
    })


def generate_demo(out_dir: str | Path, *, orders: int = 2000, seed: int = DEFAULT_SEED,
                  period: str = DEFAULT_PERIOD, on_progress: Progress | None = None,
                  ports: dict[str, int] | None = None) -> DemoSummary:
    """Write the demo month for all three sandboxes into ``out_dir`` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    month = Month(orders=orders, seed=seed, period=period)
    woo, mag, booker = WooShop(month, orders), MagentoShop(month), ExactBooker(month)
    totals = {woo.name: _ShopTotals(), mag.name: _ShopTotals()}
    woo_refs: list[str] = []
    progress_every = max(1, orders // 100)

    tmp = {name: out / f".{name}.tmp" for name in ("woocommerce.json", "magento.json", "exact.json")}
    with open(tmp["woocommerce.json"], "w", encoding="utf-8") as fw, \
            open(tmp["magento.json"], "w", encoding="utf-8") as fm, \
            open(tmp["exact.json"], "w", encoding="utf-8") as fe:
        w_orders = _ArrayWriter(fw, _open_object(woo.scenario_header(), "orders"))
        m_orders = _ArrayWriter(fm, _open_object(mag.scenario_header(), "orders"))
        exact_head = {
            "seed": seed, "app": app_section(),
            "user": {"user_name": "demo@exactsync.example", "full_name": "Demo Boekhouder",
                     "email": "demo@exactsync.example", "language": "NL", "current_division": DIVISION},
            "limits": _limits(orders),
        }
        if orders > 20_000:
            exact_head["odata"] = {"bulk_page_size": 1000}
        master = division_master(month.year, [(month.year, month.month - 1 or 12)] if month.month > 1
                                 else [(month.year - 1, 12)])
        fe.write(_open_object(exact_head, "divisions") + "[")
        entries = _ArrayWriter(fe, _open_object(master, "entries"))

        template: tuple[dict[str, Any], Doc] | None = None  # a clean Woo invoice, for the unreadable order
        for spec in month.orders():
            shop = woo if spec.shop == "woo" else mag
            author, docs = shop.build(spec)
            (w_orders if shop is woo else m_orders).add(author)
            if (template is None and shop is woo and len(docs) == 1 and docs[0].plan is None
                    and author.get("status") == "completed"):
                template = (author, docs[0])
            t = totals[shop.name]
            t.orders += 1
            if not spec.counts:
                t.orders_excluded += 1
            for doc in docs:
                t.add(doc)
                if shop is woo and doc.kind == "invoice" and doc.plan is None and len(woo_refs) < 3:
                    woo_refs.append(doc.reference)
                for entry in booker.book(doc):
                    entries.add(entry)
            if on_progress and (spec.index % progress_every == 0 or spec.index == orders - 1):
                on_progress(spec.index + 1, orders, "orders")
        for entry in booker.manual_entries(month.per_cause):
            entries.add(entry)
        unreadable = []
        if template is not None:
            for entry in _unreadable_order(woo, booker, w_orders, *template):
                entries.add(entry)
            unreadable.append(booker.cases[-1])
            totals[woo.name].orders += 1  # in the shop, but no document a connector can read
        entries.close("}")
        fe.write("," + _dumps(other_division(month.year, month.month, woo_refs)) + "]}")
        w_orders.close("}")
        m_orders.close("}")

    for name, path in tmp.items():
        os.replace(path, out / name)

    cases = booker.cases
    for i, ref in enumerate(woo_refs[:3]):
        cases.append({"doc_key": None, "reference": ref, "shop": None, "kind": None, "doc_number": None,
                      "division": OTHER_DIVISION, "entry_number": 700_001 + i, "expected_status": "only_in_exact",
                      "expected_cause": "only_in_exact", "variant": "other_division",
                      "note": f"division {OTHER_DIVISION} has no shop; the same reference in woo-demo "
                              f"({DIVISION}) must not match it"})
    documents = sum(t.invoices + t.credit_notes for t in totals.values())
    status_counts: dict[str, int] = {}
    for c in cases:
        if c["shop"] is not None:
            status_counts[c["expected_status"]] = status_counts.get(c["expected_status"], 0) + 1
    planted_docs = sum(status_counts.values())
    status_counts["matched"] = status_counts.get("matched", 0) + documents - planted_docs
    status_counts["only_in_exact"] = sum(1 for c in cases if c["shop"] is None)
    manifest = {
        "generator": "exactsync demo generate",
        "period": month.period,
        "seed": seed,
        "orders": orders,
        "shops": {
            woo.name: {"source": "woocommerce", "reference_prefix": woo.prefix, "division": DIVISION,
                       "base_currency": "EUR", "timezone": "Europe/Amsterdam", "home_country": "NL"},
            mag.name: {"source": "magento", "reference_prefix": mag.prefix, "division": DIVISION,
                       "base_currency": "EUR", "timezone": "Europe/Amsterdam", "home_country": "NL"},
        },
        "divisions": {str(DIVISION): {"entries": booker.entry_count,
                                      "entries_by_status": {str(k): v for k, v in sorted(booker.status_count.items())}},
                      str(OTHER_DIVISION): {"entries": len(woo_refs[:3])}},
        "closed_periods": master["closed_periods"],
        # shop records the pull cannot read (a record error each): {shop: [order ids]}
        "unreadable": {woo.name: [c["order_id"] for c in unreadable]} if unreadable else {},
        "countries": {"eu": sorted(EU_RATES), "non_eu": list(NON_EU)},
        "vat_rates": {c: {"standard": f"{s.normalize():f}", "reduced": f"{r.normalize():f}"}
                      for c, (s, r) in EU_RATES.items()},
        "totals": {name: t.as_dict() for name, t in totals.items()},
        "counts": {
            "documents": documents,
            "cases": len(cases),
            "by_cause": {c: sum(1 for x in cases if x["expected_cause"] == c) for c in CAUSES + ("only_in_exact",)},
            "expected_status": dict(sorted(status_counts.items())),
        },
        "cases": cases,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, default=_default) + "\n",
                                       encoding="utf-8")
    write_config(out, ports=ports)
    return DemoSummary(out, orders, seed, month.period, documents, booker.entry_count + len(woo_refs[:3]),
                       len(cases))


def _limits(orders: int) -> dict[str, int]:
    """Exact's real limits for the default demo; a benchmark month gets a bigger daily budget."""
    if orders <= 20_000:
        return {"minutely": 60, "daily": 5000}
    return {"minutely": 600, "daily": 1_000_000}


def write_config(out_dir: str | Path, *, ports: dict[str, int] | None = None, host: str = "127.0.0.1") -> Path:
    """Write ``exactsync.toml`` for the sandboxes at ``host`` and ``ports`` (default 8701–8703)."""
    p = dict(DEFAULT_PORTS)
    p.update(ports or {})
    ck, cs = DEMO_KEY
    text = f"""# exactsync demo settings, written by `exactsync demo generate`.
# SANDBOX ONLY: every key, secret and token below is a public demo credential of the local
# sandboxes (`exactsync sandbox serve --scenario .`); none of them works anywhere else.
# Never put real credentials in a file like this: use .streamlit/secrets.toml or EXACTSYNC_* variables.
demo = true

[store]
path = "data/exactsync.duckdb"

[exact]
base_url = "http://{host}:{p['exact']}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"  # sandbox-only demo secret
redirect_uri = "{REDIRECT_URI}"
divisions = [{DIVISION}, {OTHER_DIVISION}]
token_file = "data/exact_token.json"
sales_journal = "70"

[shops.woo-demo]
kind = "woocommerce"
url = "http://{host}:{p['woocommerce']}"
consumer_key = "{ck}"  # sandbox-only demo key
consumer_secret = "{cs}"  # sandbox-only demo secret
division = {DIVISION}
reference_prefix = "WC-"
home_country = "NL"
timezone = "Europe/Amsterdam"

[shops.magento-demo]
kind = "magento"
url = "http://{host}:{p['magento']}"
token = "{DEMO_TOKEN}"  # sandbox-only demo integration token
division = {DIVISION}
reference_prefix = "M2-"
home_country = "NL"
timezone = "Europe/Amsterdam"
"""
    path = Path(out_dir) / "exactsync.toml"
    path.write_text(text, encoding="utf-8")
    return path
