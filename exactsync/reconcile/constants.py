"""Statuses and causes of reconciliation, with their labels and their precedence.

Every result row (a shop document, or an Exact-only reference) gets exactly one ``status`` from
:data:`STATUSES`. ``cause`` is the same identifier when the row differs and ``None`` when it is
``matched``; ``flags`` lists every condition that held, so a lower-ranked difference is never
hidden behind the one that won. When several conditions hold, the first in :data:`PRECEDENCE`
wins (see docs/reconcile.md for why this order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "MATCHED",
    "MATCHED_WITHIN_TOLERANCE",
    "AMOUNT_DIFFERS",
    "VAT_DIFFERS",
    "MISSING_IN_EXACT",
    "ONLY_IN_EXACT",
    "DUPLICATED_IN_EXACT",
    "OTHER_PERIOD",
    "CURRENCY_DIFFERS",
    "CUSTOMER_DIFFERS",
    "DRAFT",
    "STATUSES",
    "CAUSES",
    "PRECEDENCE",
    "DIFFERENCE_STATUSES",
    "OK_STATUSES",
    "TOLERANCE_TYPES",
    "ENGINE_VERSION",
    "STATUS_ALIASES",
    "parse_statuses",
    "status_label",
    "cause_label",
]

MATCHED = "matched"
MATCHED_WITHIN_TOLERANCE = "matched_within_tolerance"
AMOUNT_DIFFERS = "amount_differs"
VAT_DIFFERS = "vat_differs"
MISSING_IN_EXACT = "missing_in_exact"
ONLY_IN_EXACT = "only_in_exact"
DUPLICATED_IN_EXACT = "duplicated_in_exact"
OTHER_PERIOD = "other_period"
CURRENCY_DIFFERS = "currency_differs"
CUSTOMER_DIFFERS = "customer_differs"
DRAFT = "draft"

#: identifier → label (the order of DESIGN.md)
STATUSES: dict[str, str] = {
    MATCHED: "Matched",
    MATCHED_WITHIN_TOLERANCE: "Matched within tolerance (rounding)",
    AMOUNT_DIFFERS: "Amount differs",
    VAT_DIFFERS: "VAT differs (rate, code or country)",
    MISSING_IN_EXACT: "Missing in Exact",
    ONLY_IN_EXACT: "Only in Exact (no shop document)",
    DUPLICATED_IN_EXACT: "Duplicated in Exact",
    OTHER_PERIOD: "Booked in another period",
    CURRENCY_DIFFERS: "Currency differs",
    CUSTOMER_DIFFERS: "Customer differs",
    DRAFT: "Draft / not processed in Exact",
}

#: causes: every status except ``matched`` (a matched row has no cause)
CAUSES: dict[str, str] = {k: v for k, v in STATUSES.items() if k != MATCHED}

#: first wins. ``only_in_exact`` and ``missing_in_exact`` are about presence, so they come first;
#: a duplicate or a foreign currency makes any amount comparison meaningless; a booking in the
#: wrong period is found before its amounts; amounts before the VAT split (a wrong amount always
#: moves the split too); then the account, then the entry's processing status, then rounding.
PRECEDENCE: tuple[str, ...] = (
    ONLY_IN_EXACT,
    MISSING_IN_EXACT,
    DUPLICATED_IN_EXACT,
    CURRENCY_DIFFERS,
    OTHER_PERIOD,
    AMOUNT_DIFFERS,
    VAT_DIFFERS,
    CUSTOMER_DIFFERS,
    DRAFT,
    MATCHED_WITHIN_TOLERANCE,
    MATCHED,
)

OK_STATUSES = (MATCHED, MATCHED_WITHIN_TOLERANCE)
DIFFERENCE_STATUSES = tuple(s for s in PRECEDENCE if s not in OK_STATUSES)

#: short names a command line accepts for a status (``--status missing,amount``), beside the identifiers
STATUS_ALIASES: dict[str, str] = {
    "missing": MISSING_IN_EXACT,
    "amount": AMOUNT_DIFFERS,
    "vat": VAT_DIFFERS,
    "duplicated": DUPLICATED_IN_EXACT,
    "duplicate": DUPLICATED_IN_EXACT,
    "customer": CUSTOMER_DIFFERS,
    "currency": CURRENCY_DIFFERS,
    "only": ONLY_IN_EXACT,
    "period": OTHER_PERIOD,
    "tolerance": MATCHED_WITHIN_TOLERANCE,
    "rounding": MATCHED_WITHIN_TOLERANCE,
}

#: difference types a tolerance can be set for (document currency, per document)
TOLERANCE_TYPES = ("net", "vat", "gross")

#: stored with every run; bump when a rule changes so old runs say which rules made them
ENGINE_VERSION = "6"  # 2: a domestic 0 % VAT bucket compares as zero-rated; 3: no DC delta without DC amounts;
#                      4: a row booked in another currency (currency_differs) has no document-currency delta;
#                      5: VAT differs only when the split does not follow the base (a wrong amount booked
#                         with its VAT at the right rate is an amount difference, not also a VAT one)
#                      6: a run of some of the shops of a division leaves out the entries with the reference
#                         prefix of a shop outside it (they were "only in Exact")


def parse_statuses(names: Iterable[str] | None, aliases: Mapping[str, str] = STATUS_ALIASES) -> tuple[list[str], list[str]]:
    """(status identifiers, unknown names) from what a user typed: identifiers or the short names of
    ``aliases``, any case, blanks ignored; the identifiers once each, in the order given."""
    wanted, unknown = [], []
    for name in (n.strip().lower() for n in names or () if n.strip()):
        status = aliases.get(name, name)
        (wanted if status in PRECEDENCE else unknown).append(status)
    return list(dict.fromkeys(wanted)), unknown


def status_label(status: str | None) -> str:
    return STATUSES.get(status or "", status or "")


def cause_label(cause: str | None) -> str:
    return CAUSES.get(cause or "", "—" if not cause else cause)
