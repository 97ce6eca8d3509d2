"""Countries and VAT rates of the demo month (a demo table, not tax advice).

Standard rate and the one reduced rate the demo's ``reduced-rate`` products (books, coffee) use,
as known for 2026 (sources: EU "VAT rates applied in the Member States", national announcements).
Where a country has several reduced rates only the one used here is listed; DK has none, so its
reduced-class products are taxed at 25 %. Verify against the official table before relying on it.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["HOME", "EU_RATES", "NON_EU", "COUNTRY_NAMES", "standard_rate", "reduced_rate"]

HOME = "NL"

#: country -> (standard %, reduced % used for the reduced-rate product class)
EU_RATES: dict[str, tuple[Decimal, Decimal]] = {
    "NL": (Decimal("21"), Decimal("9")),
    "BE": (Decimal("21"), Decimal("6")),
    "DE": (Decimal("19"), Decimal("7")),
    "FR": (Decimal("20"), Decimal("5.5")),
    "AT": (Decimal("20"), Decimal("10")),
    "ES": (Decimal("21"), Decimal("10")),
    "IT": (Decimal("22"), Decimal("10")),
    "IE": (Decimal("23"), Decimal("13.5")),
    "PL": (Decimal("23"), Decimal("8")),
    "PT": (Decimal("23"), Decimal("6")),
    "SE": (Decimal("25"), Decimal("6")),
    "DK": (Decimal("25"), Decimal("25")),
    "LU": (Decimal("17"), Decimal("8")),
    "CZ": (Decimal("21"), Decimal("12")),
}

#: destinations outside the EU: export, 0 %
NON_EU = ("US", "CH", "NO", "GB")

COUNTRY_NAMES = {
    "NL": "Nederland", "BE": "België", "DE": "Deutschland", "FR": "France", "AT": "Österreich",
    "ES": "España", "IT": "Italia", "IE": "Ireland", "PL": "Polska", "PT": "Portugal", "SE": "Sverige",
    "DK": "Danmark", "LU": "Luxembourg", "CZ": "Česko", "US": "United States", "CH": "Schweiz",
    "NO": "Norge", "GB": "United Kingdom",
}


def standard_rate(country: str) -> Decimal:
    return EU_RATES[country][0]


def reduced_rate(country: str) -> Decimal:
    return EU_RATES[country][1]
