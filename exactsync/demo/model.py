"""The demo month's model: buyers, products, order specs and the expected shop documents.

Everything is drawn from one seeded :class:`random.Random`, so a seed always gives the same month.
An :class:`OrderSpec` is shop-neutral (who buys what, when, refunds); the shop builders
(:mod:`exactsync.demo.woo`, :mod:`exactsync.demo.magento`) turn it into the sandbox's author form
and into :class:`Doc` rows: the documents a correct connector must read from that shop, with the
amounts (sales sign, document currency) the Exact side books.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from exactsync.demo.rates import EU_RATES, HOME, NON_EU, reduced_rate, standard_rate
from exactsync.reference import reference_for

__all__ = [
    "CAUSES",
    "Line",
    "Doc",
    "Plan",
    "Buyer",
    "Product",
    "Item",
    "OrderSpec",
    "PRODUCTS",
    "Month",
    "cents",
    "ZERO",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")

#: planted causes (Update 2 identifiers) in the order they are scheduled.
CAUSES = (
    "missing_in_exact",
    "amount_differs",
    "vat_differs",
    "duplicated_in_exact",
    "other_period",
    "currency_differs",
    "customer_differs",
    "draft",
    "matched_within_tolerance",
)


def cents(v: Decimal) -> Decimal:
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    """One expected VAT line (document currency, sales sign)."""

    line_type: str  # goods | shipping
    country: str
    rate: Decimal  # percent
    treatment: str  # domestic | oss | reverse_charge | export
    base: Decimal
    vat: Decimal


@dataclass
class Plan:
    """What the imperfect integration did wrong with one document."""

    cause: str
    variant: str = ""
    target: str = "invoice"  # invoice | credit_note
    note: str = ""


@dataclass
class Doc:
    """A shop document as a correct connector reads it, plus how Exact should book it."""

    shop: str
    source: str
    kind: str  # invoice | credit_note
    source_id: str
    doc_number: str
    prefix: str
    order_number: str
    doc_date: dt.date
    currency: str
    fx: Decimal  # base -> document currency
    account: str  # Exact account code of the customer
    lines: list[Line]
    base_lines: list[Line] | None = None  # base currency, when currency != base
    plan: Plan | None = None
    note: str = ""

    @property
    def reference(self) -> str:
        return reference_for(self.prefix, self.kind, self.doc_number)

    @property
    def doc_key(self) -> str:
        return f"{self.shop}:{self.kind}:{self.source_id}"

    @property
    def net(self) -> Decimal:
        return sum((ln.base for ln in self.lines), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((ln.vat for ln in self.lines), ZERO)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    @property
    def gross_base(self) -> Decimal:
        lines = self.base_lines if self.base_lines is not None else self.lines
        return sum((ln.base + ln.vat for ln in lines), ZERO)


@dataclass
class Buyer:
    kind: str  # b2c | b2b
    country: str
    treatment: str  # domestic | oss | reverse_charge | export
    first: str
    last: str
    email: str
    account: str  # Exact account code
    company: str = ""
    vat_number: str = ""
    city: str = ""

    def rate(self, tax_class: str) -> Decimal:
        if self.treatment in ("reverse_charge", "export"):
            return ZERO
        return reduced_rate(self.country) if tax_class == "reduced" else standard_rate(self.country)

    @property
    def ship_rate(self) -> Decimal:
        return self.rate("standard")


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal  # EUR excl. VAT
    tax_class: str  # standard | reduced
    variants: tuple[str, ...] = ()
    product_id: int = 0


PRODUCTS: tuple[Product, ...] = (
    Product("TEE", "T-shirt organic cotton", Decimal("19.95"), "standard", ("S-BLUE", "M-BLUE", "L-BLACK", "XL-BLACK"), 101),
    Product("HOODIE", "Hoodie", Decimal("49.00"), "standard", ("M-GREY", "L-GREY", "L-GREEN"), 102),
    Product("MUG", "Mug", Decimal("8.50"), "standard", (), 103),
    Product("POSTER", "Poster A2", Decimal("12.00"), "standard", (), 104),
    Product("BAG", "Backpack", Decimal("59.95"), "standard", (), 105),
    Product("BOOK", "Cookbook", Decimal("24.99"), "reduced", (), 106),
    Product("COFFEE", "Coffee beans 1 kg", Decimal("17.40"), "reduced", (), 107),
    Product("TEA", "Tea selection", Decimal("6.95"), "reduced", (), 108),
)
_REDUCED = tuple(p for p in PRODUCTS if p.tax_class == "reduced")
_STANDARD = tuple(p for p in PRODUCTS if p.tax_class == "standard")


@dataclass
class Item:
    product: Product
    qty: int
    variant: str = ""

    @property
    def sku(self) -> str:
        return f"{self.product.sku}-{self.variant}" if self.variant else self.product.sku


@dataclass
class OrderSpec:
    """One order, shop-neutral. ``status``: paid | refunded | cancelled | pending | failed."""

    index: int
    shop: str  # woo | magento
    created: dt.datetime  # naive UTC
    buyer: Buyer
    items: list[Item]
    shipping: Decimal  # EUR excl. VAT (0 = free)
    coupon: bool = False
    incl_tax: bool = False
    status: str = "paid"
    currency: str = "EUR"
    fx: Decimal = Decimal(1)  # base (EUR) -> order currency
    refund: str = ""  # "" | full | item | amount | shipping
    refund_at: dt.datetime | None = None
    refund_fraction: Decimal = ZERO
    plan: Plan | None = None

    @property
    def counts(self) -> bool:
        return self.status in ("paid", "refunded")


# --- buyers ------------------------------------------------------------------------------------

_FIRST = ["Anna", "Daan", "Sophie", "Lucas", "Emma", "Noah", "Julia", "Max", "Lena", "Finn", "Marie", "Luca",
          "Sara", "Jonas", "Eva", "Tom", "Ines", "Pieter", "Chloé", "Mateo", "Giulia", "Oskar", "Aoife", "Zofia"]
_LAST = ["de Vries", "Jansen", "Müller", "Dubois", "Peeters", "Rossi", "García", "Murphy", "Nowak", "Silva",
         "Andersson", "Nielsen", "Schmit", "Novák", "Bakker", "Schmidt", "Martin", "Visser", "Smith", "Huber"]
_CITY = {"NL": "Utrecht", "BE": "Gent", "DE": "Köln", "FR": "Lyon", "AT": "Graz", "ES": "Valencia",
         "IT": "Bologna", "IE": "Cork", "PL": "Kraków", "PT": "Porto", "SE": "Göteborg", "DK": "Aarhus",
         "LU": "Esch-sur-Alzette", "CZ": "Brno", "US": "Boston", "CH": "Basel", "NO": "Bergen", "GB": "Leeds"}

#: B2B customers: (account code, company, country, VAT number); all intra-EU, reverse charge
B2B_COMPANIES: tuple[tuple[str, str, str, str], ...] = (
    ("20001", "ACME Handels GmbH", "DE", "DE123456789"),
    ("20002", "Brouwerij Hop BV", "BE", "BE0412345678"),
    ("20003", "Maison Lumière SARL", "FR", "FR40123456789"),
    ("20004", "Alpenblick Gastro GmbH", "AT", "ATU12345678"),
    ("20005", "Café Central S.L.", "ES", "ESB12345678"),
    ("20006", "Studio Verde S.r.l.", "IT", "IT12345678901"),
    ("20007", "Liffey Supplies Ltd", "IE", "IE1234567TH"),
    ("20008", "Kawa Sp. z o.o.", "PL", "PL1234567890"),
    ("20009", "Nordic Design AB", "SE", "SE556123456701"),
    ("20010", "Hygge ApS", "DK", "DK12345678"),
    ("20011", "Bürobedarf Schulz KG", "DE", "DE987654321"),
    ("20012", "Lux Office Sàrl", "LU", "LU12345678"),
)

#: collective debtor per destination country: account code = 1000 + position
DEBTOR_COUNTRIES: tuple[str, ...] = tuple(EU_RATES) + NON_EU


def debtor_code(country: str) -> str:
    return str(10001 + DEBTOR_COUNTRIES.index(country))


_OSS = tuple(c for c in EU_RATES if c != HOME)


class Month:
    """Draws the orders of one month; ``orders()`` yields :class:`OrderSpec` in time order."""

    def __init__(self, *, orders: int, seed: int, period: str = "2026-10", timezone: str = "Europe/Amsterdam",
                 woo_share: float = 0.6) -> None:
        self.n = int(orders)
        self.seed = seed
        self.rng = random.Random(f"exactsync-demo:{seed}")
        year, month = (int(x) for x in period.split("-"))
        self.year, self.month = year, month
        self.period = f"{year:04d}-{month:02d}"
        self.tz = ZoneInfo(timezone)
        self.days = calendar.monthrange(year, month)[1]
        self.start_local = dt.datetime(year, month, 1)
        self.end_local = self.start_local + dt.timedelta(days=self.days)
        self.woo_share = woo_share
        self.per_cause = max(3, self.n // 400)
        self.plans = self._schedule()

    # --- time ---------------------------------------------------------------------------------
    def to_utc(self, local: dt.datetime) -> dt.datetime:
        return local.replace(tzinfo=self.tz).astimezone(dt.timezone.utc).replace(tzinfo=None)

    def local_date(self, utc: dt.datetime) -> dt.date:
        return utc.replace(tzinfo=dt.timezone.utc).astimezone(self.tz).date()

    # --- planted cases --------------------------------------------------------------------------
    def _schedule(self) -> dict[int, Plan]:
        """Pick the order indexes that carry a planted case (disjoint, deterministic)."""
        rng = random.Random(f"exactsync-demo-plan:{self.seed}")
        k = self.per_cause
        needed: list[Plan] = []
        variants = {
            "missing_in_exact": [("", "invoice"), ("", "credit_note")],
            "amount_differs": [("line_doubled", "invoice"), ("shipping_missing", "invoice"), ("line_doubled", "credit_note")],
            "vat_differs": [("wrong_country", "invoice"), ("wrong_rate", "invoice"), ("wrong_code", "invoice")],
            "duplicated_in_exact": [("", "invoice"), ("", "credit_note")],
            "other_period": [("booked_previous_period", "invoice"), ("booked_next_period", "invoice")],
            "currency_differs": [("booked_in_base_currency", "invoice")],
            "customer_differs": [("other_b2b_account", "invoice"), ("wrong_country_debtor", "invoice")],
            "draft": [("", "invoice"), ("", "credit_note")],
            "matched_within_tolerance": [("vat_plus_cent", "invoice"), ("net_minus_cent", "invoice")],
            "reversal_pair": [("", "invoice")],
        }
        for cause, vs in variants.items():
            count = k if cause != "reversal_pair" else max(2, k // 2)
            for i in range(count):
                variant, target = vs[i % len(vs)]
                needed.append(Plan(cause, variant, target))
        # keep planted orders away from the first/last few indexes only where it matters
        pool = list(range(self.n))
        if len(needed) > len(pool) // 3:
            raise ValueError(f"{self.n} orders are too few for {len(needed)} planted cases; use at least "
                             f"{len(needed) * 3}")
        chosen = rng.sample(pool, len(needed))
        return dict(zip(chosen, needed))

    # --- drawing ------------------------------------------------------------------------------
    def _buyer(self, *, kind: str | None = None, country: str | None = None, treatment: str | None = None) -> Buyer:
        rng = self.rng
        if treatment is None:
            roll = rng.random()
            treatment = ("domestic" if roll < 0.45 else "oss" if roll < 0.82 else "reverse_charge" if roll < 0.91
                         else "export")
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        if treatment == "reverse_charge":
            code, company, c, vat_number = rng.choice(
                [b for b in B2B_COMPANIES if country is None or b[2] == country] or B2B_COMPANIES)
            slug = company.split()[0].lower()
            return Buyer("b2b", c, treatment, first, last, f"inkoop@{slug}.example", code, company, vat_number,
                         _CITY.get(c, ""))
        if treatment == "domestic":
            c = HOME
        elif treatment == "oss":
            c = country or rng.choice(_OSS)
        else:
            c = country or rng.choice(NON_EU)
        n = rng.randrange(10_000, 99_999)
        email = f"{first.lower()}.{n}@example.{c.lower()}".replace(" ", "")
        return Buyer(kind or "b2c", c, treatment, first, last, email, debtor_code(c), city=_CITY.get(c, ""))

    def _items(self, *, only_reduced: bool = False, mixed: bool = False) -> list[Item]:
        rng = self.rng
        if only_reduced:
            prods = rng.sample(_REDUCED, rng.choice([1, 2]))
        else:
            prods = rng.sample(PRODUCTS, rng.choice([1, 1, 1, 2, 2, 3]))
            if mixed and not any(p.tax_class == "reduced" for p in prods):
                prods.append(rng.choice(_REDUCED))
        items = []
        for p in prods:
            variant = rng.choice(p.variants) if p.variants else ""
            items.append(Item(p, rng.choice([1, 1, 1, 2, 2, 3]), variant))
        return items

    def _shipping(self, buyer: Buyer, items: list[Item]) -> Decimal:
        goods = sum((i.product.price * i.qty for i in items), ZERO)
        if buyer.country in NON_EU:
            return Decimal("19.95")
        if goods >= 100:
            return ZERO  # free shipping above 100 EUR
        return Decimal("4.95") if buyer.country == HOME else Decimal("9.95")

    def _created(self, i: int) -> dt.datetime:
        """Local time spread over the month (order i of n), as naive UTC."""
        span = (self.end_local - self.start_local).total_seconds()
        offset = (i + 0.2 + 0.6 * self.rng.random()) * span / max(self.n, 1)
        local = self.start_local + dt.timedelta(seconds=int(offset))
        return self.to_utc(local)

    def orders(self):
        """Yield every order of the month in time order (index 0 … n-1)."""
        rng = self.rng
        for i in range(self.n):
            plan = self.plans.get(i)
            yield self._order(i, plan, rng)

    def _order(self, i: int, plan: Plan | None, rng: random.Random) -> OrderSpec:
        shop = "woo" if rng.random() < self.woo_share else "magento"
        created = self._created(i)
        if i == 0:
            # an order just after midnight local time on the 1st: still the previous month in UTC
            created = self.to_utc(self.start_local + dt.timedelta(minutes=25))
        elif i == self.n - 1:
            # and one just before midnight on the last day
            created = self.to_utc(self.end_local - dt.timedelta(minutes=20))
        buyer_kw: dict = {}
        items_kw: dict = {}
        refund = ""
        status = "paid"
        currency, fx = "EUR", Decimal(1)
        cause = plan.cause if plan else ""
        if plan is not None:
            if plan.target == "credit_note":
                refund = "item" if plan.cause != "draft" else "full"
            if cause == "currency_differs":
                shop = "magento"
            if cause == "vat_differs":
                if plan.variant == "wrong_country":
                    buyer_kw = {"treatment": "oss", "country": rng.choice(["BE", "ES", "CZ"])}
                elif plan.variant == "wrong_rate":
                    buyer_kw = {"treatment": "domestic"}
                    items_kw = {"only_reduced": True}
                else:
                    buyer_kw = {"treatment": "reverse_charge"}
            elif cause == "customer_differs":
                buyer_kw = {"treatment": "reverse_charge"} if plan.variant == "other_b2b_account" else {
                    "treatment": "oss", "country": "DE"}
            elif cause == "other_period":
                if plan.variant == "booked_previous_period":
                    local = self.start_local + dt.timedelta(hours=9 + rng.random() * 8)
                else:
                    local = self.end_local - dt.timedelta(hours=14 - rng.random() * 8)
                created = self.to_utc(local)
            elif cause == "amount_differs" and plan.variant == "shipping_missing":
                buyer_kw = {"treatment": "domestic"}
        buyer = self._buyer(**buyer_kw)
        items = self._items(**items_kw)
        if cause == "amount_differs" and plan and plan.variant == "shipping_missing":
            items = items[:1]
            items[0].qty = 1
            if items[0].product.price >= 100:
                items[0] = Item(_STANDARD[2], 1)
        shipping = self._shipping(buyer, items)
        if shop == "magento" and (cause == "currency_differs" or (not plan and rng.random() < 0.12)):
            # a second store view in GBP (UK buyers) or SEK (Swedish buyers)
            if cause == "currency_differs" or rng.random() < 0.5:
                buyer = self._buyer(treatment="export", country="GB") if rng.random() < 0.6 else self._buyer(
                    treatment="oss", country="SE")
                shipping = self._shipping(buyer, items)
            if buyer.country == "GB":
                currency, fx = "GBP", Decimal("0.8650")
            elif buyer.country == "SE":
                currency, fx = "SEK", Decimal("11.2340")
        coupon = plan is None and rng.random() < 0.1
        incl = plan is None and buyer.treatment == "domestic" and rng.random() < 0.2
        if plan is None:
            roll = rng.random()
            if roll < 0.035:
                status = "cancelled"
            elif roll < 0.05:
                status = "pending"
            elif roll < 0.055 and shop == "woo":
                status = "failed"
            else:
                r2 = rng.random()
                refund = ("full" if r2 < 0.03 else "item" if r2 < 0.08 else "amount" if r2 < 0.11
                          else "shipping" if r2 < 0.12 else "")
        spec = OrderSpec(i, shop, created, buyer, items, shipping, coupon, incl, status, currency, fx, refund,
                         plan=plan)
        if refund:
            if refund == "full":
                spec.status = "refunded"
            later = created + dt.timedelta(days=rng.randint(1, 12), hours=rng.randint(0, 8))
            last = self.to_utc(self.end_local - dt.timedelta(hours=3))
            spec.refund_at = min(later, last)
            if spec.refund_at <= created + dt.timedelta(minutes=5):
                # ordered in the month's last hours: refunded minutes later, still this month
                spec.refund_at = created + dt.timedelta(minutes=10)
            spec.refund_fraction = rng.choice([Decimal("0.1"), Decimal("0.2"), Decimal("0.25"), Decimal("0.5")])
        return spec


def line_key(ln: Line) -> tuple:
    return (ln.line_type, ln.country, ln.rate, ln.treatment)


def merge_lines(lines: list[Line]) -> list[Line]:
    """Sum lines with the same type, country, rate and treatment (order kept)."""
    out: dict[tuple, Line] = {}
    for ln in lines:
        k = line_key(ln)
        if k in out:
            out[k].base += ln.base
            out[k].vat += ln.vat
        else:
            out[k] = Line(ln.line_type, ln.country, ln.rate, ln.treatment, ln.base, ln.vat)
    return list(out.values())

