"""The reference that ties a shop document to its Exact entry (YourRef).

``reference_for`` builds what exactsync writes into YourRef when it pushes; ``normalize_reference``
is what matching compares, so small differences in how an integration typed the reference
(case, spaces, leading zeros of Magento increment ids) do not break a match.

* invoice:     ``<prefix><doc_number>``          e.g. ``WC-1234``, ``M2-000000123``
* credit note: ``<prefix>CN-<doc_number>``       e.g. ``WC-CN-1240`` (Magento credit-memo numbers
  can coincide with invoice numbers, so credit notes carry their own marker)
"""

from __future__ import annotations

import re

__all__ = ["CREDIT_MARKER", "reference_for", "normalize_reference", "normalized_prefix"]

CREDIT_MARKER = "CN-"
_SPACES = re.compile(r"\s+")
_TRAILING_NUMBER = re.compile(r"^(.*?)(0*)(\d+)$")


def reference_for(prefix: str, kind: str, doc_number: str) -> str:
    """YourRef for a shop document (``kind`` is ``invoice`` or ``credit_note``)."""
    number = str(doc_number).strip()
    marker = CREDIT_MARKER if kind == "credit_note" else ""
    return f"{prefix or ''}{marker}{number}"


def normalize_reference(ref: str | None) -> str | None:
    """Upper-case, no whitespace, no leading zeros in the trailing number; None for empty."""
    if ref is None:
        return None
    s = _SPACES.sub("", str(ref)).upper()
    if not s:
        return None
    m = _TRAILING_NUMBER.match(s)
    if m:
        s = f"{m.group(1)}{m.group(3)}"
    return s


def normalized_prefix(prefix: str | None) -> tuple[str, bool]:
    """``(P, joins)``: the prefix as normalizing leaves it inside a reference, and whether

    ``normalize_reference(prefix + tail) == P + normalize_reference(tail)`` for every tail that
    normalizes to something. It does unless P ends in a digit (the trailing number could then run
    into the prefix: ``SHOP1`` + ``007`` is ``SHOP1007``, not ``SHOP17``). The store keeps every
    document's normalized tail, so matching only joins them to the prefix.
    """
    p = _SPACES.sub("", prefix or "").upper()
    return p, not (p and re.fullmatch(r"\d", p[-1]))

