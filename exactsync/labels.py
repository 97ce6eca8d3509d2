"""Headings for people: ``delta_gross_dc`` → "Δ gross (division currency)".

One place for the words a column of the store or of a run shows under, used by the XLSX export
(for the accountant who opens it) and by the dashboard's tables (:func:`exactsync.ui.readable`).
CSV and ZIP exports keep the column names: they are read by programs.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["COLUMN_LABELS", "TREATMENT_LABELS", "column_label", "readable", "treatment_label"]

#: hand-written headings; every other column is worded by :func:`column_label`
COLUMN_LABELS: dict[str, str] = {
    # a run's results
    "result_key": "Result key", "doc_key": "Shop document key", "doc_number": "Document number",
    "doc_date": "Document date", "your_ref": "Reference (YourRef)", "entry_ids": "Exact entry IDs",
    "entry_numbers": "Exact entry numbers", "entry_date": "Entry date", "flags": "Conditions found",
    "detail": "Explanation", "exact_currency": "Exact currency", "vat_country": "VAT country",
    "treatment": "VAT treatment", "entry_count": "Exact entries", "live_count": "Live Exact entries",
    "status_code": "Status (identifier)", "cause_code": "Cause (identifier)",
    # VAT per country
    "rate": "Rate %", "delta_base": "Δ base", "delta_vat": "Δ VAT",
    "exact_other_period_base": "Exact base, other period", "exact_other_period_vat": "Exact VAT, other period",
    # Exact lines and codes
    "vat_percentage": "VAT %", "fin_year": "Year", "fin_period": "Period", "mapped_country": "Country (as read)",
    "vat_code": "VAT code", "source": "Read from",
}

_WORDS = {"vat": "VAT", "id": "ID", "gl": "G/L", "dc": "(division currency)", "delta": "Δ"}


def column_label(name: str) -> str:
    """The heading of column ``name``: :data:`COLUMN_LABELS`, else its words (``gl_account_code`` →
    "G/L account code", ``shop_net_dc`` → "Shop net (division currency)")."""
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    text = " ".join(_WORDS.get(w, w) for w in name.split("_"))
    return text[:1].upper() + text[1:]


def readable(columns: Iterable[str]) -> dict[str, str]:
    """``{column: heading}`` for ``columns``."""
    return {name: column_label(name) for name in columns}


#: the words for a VAT treatment (exactsync.vat.TREATMENTS, ``unknown`` for an Exact VAT code the
#: run could not read, and ``zero_rated``: the class in which a VAT split compares Exact's 0 % codes,
#: which do not tell export, exempt and a domestic 0 % rate apart), in the order the VAT page shows them
TREATMENT_LABELS: dict[str, str] = {
    "domestic": "Domestic",
    "oss": "EU distance sales (OSS)",
    "reverse_charge": "Intra-EU B2B (reverse charge)",
    "export": "Export outside the EU",
    "exempt": "Exempt",
    "zero_rated": "Zero-rated (export, exempt or 0 %)",
    "mixed": "Mixed",
    "unknown": "Unknown treatment (Exact VAT code not read)",
}


def treatment_label(code: str | None) -> str | None:
    """The words for treatment ``code``; a code without words is shown as it is, None stays None."""
    if code is None:
        return None
    return TREATMENT_LABELS.get(code, code)
