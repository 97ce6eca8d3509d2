"""VAT treatment of a sale, shared by the shop connectors, reconciliation and push.

Treatments: ``domestic`` (taxed in the shop's home country), ``oss`` (EU B2C distance sale taxed
at the destination country's rate, declared through the One-Stop-Shop), ``reverse_charge``
(intra-EU B2B with a VAT number and no VAT charged), ``export`` (destination outside the EU),
``exempt`` (no VAT charged domestically / no country evidence), ``mixed`` (a document whose lines
differ; only used at document level).
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["EU_COUNTRIES", "TREATMENTS", "is_eu", "classify_treatment", "document_treatment"]

EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
# Greece is "EL" in VAT numbers and OSS returns; accept both.
_ALIASES = {"EL": "GR", "UK": "GB"}
TREATMENTS = ("domestic", "oss", "reverse_charge", "export", "exempt", "mixed")


def _norm(country: str | None) -> str | None:
    if not country:
        return None
    c = country.strip().upper()
    return _ALIASES.get(c, c) or None


def is_eu(country: str | None) -> bool:
    return _norm(country) in EU_COUNTRIES


def classify_treatment(
    home_country: str, vat_country: str | None, vat_number: str | None, vat_amount: Decimal | int
) -> str:
    """Treatment of one line (or a whole single-treatment document).

    * destination outside the EU → ``export`` (whatever VAT was charged: reconciliation flags
      a charged export through the rate, not here);
    * VAT charged and destination = home (or unknown) → ``domestic``;
    * VAT charged and destination another EU country → ``oss``;
    * no VAT, a VAT number and an EU destination other than home → ``reverse_charge``;
    * no VAT otherwise → ``exempt``.
    """
    home = _norm(home_country) or "NL"
    dest = _norm(vat_country)
    if dest is not None and dest not in EU_COUNTRIES:
        return "export"
    charged = Decimal(vat_amount) != 0
    if charged:
        return "domestic" if dest in (None, home) else "oss"
    if vat_number and vat_number.strip() and dest is not None and dest != home:
        return "reverse_charge"
    return "exempt"


def document_treatment(line_treatments: list[str]) -> str:
    """One word for a document: the common treatment of its lines, ``mixed`` when they differ.

    Lines at 0 % that sit beside taxed lines (e.g. a zero-rated book in a domestic order) do not
    make a document mixed: ``exempt`` lines are ignored when other treatments are present.
    """
    kinds = {t for t in line_treatments if t}
    if len(kinds) > 1:
        kinds.discard("exempt")
    if not kinds:
        return "exempt"
    return kinds.pop() if len(kinds) == 1 else "mixed"
