"""Headings for people: ``delta_gross_dc`` → "Δ gross (division currency)".

One place for the words a column of the store or of a run shows under, used by the XLSX export
(for the accountant who opens it) and by the dashboard's tables (:func:`exactsync.ui.readable`).
CSV and ZIP exports keep the column names: they are read by programs.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["COLUMN_LABELS", "KIND_LABELS", "PULL_SOURCE_LABELS", "TREATMENT_LABELS", "VAT_SOURCE_LABELS",
           "column_label", "kind_label", "pull_source_label", "readable", "text_table", "treatment_label",
           "vat_source_label", "yes_no"]

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
    # push mappings (the words of the dashboard's Mappings page)
    "gl_code": "G/L account", "account_code": "Debtor account", "journal_code": "Sales journal",
    "cost_center": "Cost centre",
    # push jobs and the sync log
    "existing_status": "Already pushed", "synced_at": "Synced (UTC)", "logged_at": "When (UTC)",
    "record_key": "Record",
    # the Summary sheet's block of tolerated differences
    "tolerated": "Tolerated differences",
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


def _words(table: dict[str, str], code: str | None) -> str | None:
    """``code`` in words from ``table``; a code without words as it is, None stays None."""
    return None if code is None else table.get(code, code)


def treatment_label(code: str | None) -> str | None:
    """The words for treatment ``code``; a code without words is shown as it is, None stays None."""
    return _words(TREATMENT_LABELS, code)


#: the words for a shop document's kind (``shop_documents.kind``)
KIND_LABELS: dict[str, str] = {"invoice": "Invoice", "credit_note": "Credit note"}


def kind_label(code: str | None) -> str | None:
    """The words for document kind ``code`` ("Credit note"); an unknown kind as it is, None stays None."""
    return _words(KIND_LABELS, code)


#: where a run read an Exact VAT code from (``recon_vat_map.source``)
VAT_SOURCE_LABELS: dict[str, str] = {
    "exact_vat_codes": "Exact's VAT code",
    "vat_code_map": "Your mapping (vat_code_map)",
}


def vat_source_label(code: str | None) -> str | None:
    """The words for VAT-code reading ``code``; an unknown one as it is, None stays None."""
    return _words(VAT_SOURCE_LABELS, code)


#: the words for what a pull keeps a cursor of (``sync_state.source``); a shop's are "<shop> <what>"
PULL_SOURCE_LABELS: dict[str, str] = {
    "exact:transaction_lines": "Exact transaction lines",
    "exact:deleted": "Exact deletions",
    "exact:reference": "Exact reference data",
    "exact:accounts": "Exact accounts",
    "orders": "orders",
    "refunds": "refunds",
    "invoices": "invoices",
    "creditmemos": "credit memos",
}


def pull_source_label(source: str, scope: str | None = None) -> str:
    """``shop:woo-demo:orders`` → "woo-demo orders"; ``exact:deleted`` of scope 700001 → "Exact
    deletions (division 700001)"; a source without words as it is (with its scope)."""
    if source.startswith("shop:"):
        _, shop, what = (source.split(":", 2) + [""])[:3]
        text = f"{shop} {PULL_SOURCE_LABELS.get(what, what)}".strip()
    else:
        text = PULL_SOURCE_LABELS.get(source, source)
    return f"{text} (division {scope})" if scope else text


def yes_no(value: object) -> str:
    """``True`` → "yes", ``False`` → "no", None → "unknown"; anything else as text."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "unknown" if value is None else str(value)


def text_table(columns: Iterable[str], rows: Iterable[Iterable[object]], *, right: Iterable[str] = (),
               indent: str = "  ", headings: dict[str, str] | None = None) -> list[str]:
    """Rows of cells (already formatted as text) as aligned lines under a heading row in words
    (:func:`column_label`, or ``headings``), for terminal output; the ``right`` columns (amounts,
    counts) are right-aligned. None shows as an empty cell."""
    names = list(columns)
    heads = [(headings or {}).get(n) or column_label(n) for n in names]
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    right = set(right)

    def line(values: list[str]) -> str:
        return (indent + "  ".join(v.rjust(w) if n in right else v.ljust(w)
                                   for n, v, w in zip(names, values, widths))).rstrip()

    return [line(heads)] + [line(r) for r in cells]
