"""Push mappings for the demo month: its Exact side books with these codes (see docs/demo.md).

The dashboard's first start and ``exactsync demo run`` save them for a division that has none, so
*Push* works on the demo without editing a mapping first.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from exactsync.demo.model import DEBTOR_COUNTRIES, debtor_code
from exactsync.demo.rates import EU_RATES, HOME
from exactsync.mapping import _SPECS, read_mapping, save_mapping

__all__ = ["demo_mapping_frames", "seed_demo_mappings"]


def demo_mapping_frames(division: int) -> dict[str, pl.DataFrame]:
    """Push mappings that book the demo month the way its Exact side does (exactsync.demo's
    ``vat_code`` / ``gl_for`` / ``debtor_code`` rules), so *Push* works on first start.

    Debtors: strategy ``lookup`` — a B2B document goes to its company's account (found by VAT
    number among the pulled accounts), any other to its country's collective debtor. With
    ``collective`` a B2B document would be booked on the collective debtor, which the
    reconciliation's customer check then reports as ``customer_differs``."""
    zero = Decimal("0")
    vat = []
    std_home, red_home = EU_RATES[HOME]
    vat += [(division, HOME, red_home, "domestic", "1"), (division, HOME, std_home, "domestic", "2")]
    for country, (std, red) in EU_RATES.items():
        if country == HOME:
            continue
        vat.append((division, country, std, "oss", f"{country}H"))
        if red != std:
            vat.append((division, country, red, "oss", f"{country}L"))
    vat += [(division, "", zero, "reverse_charge", "ICL"), (division, "", zero, "export", "EXP"),
            (division, "", zero, "exempt", "EXP")]
    # revenue per treatment, as exact_side.gl_for books it: domestic 8000, OSS 8010, the rest
    # (reverse charge, export, exempt) 8020; shipping 8100
    gl = [(division, "goods", "", "", "", "8020"), (division, "goods", "domestic", "", "", "8000"),
          (division, "goods", "oss", "", "", "8010"), (division, "shipping", "", "", "", "8100"),
          (division, "fee", "", "", "", "8020"), (division, "adjustment", "", "", "", "8020")]
    debtors = [(division, c, debtor_code(c)) for c in DEBTOR_COUNTRIES] + [(division, "", debtor_code(HOME))]

    def frame(kind: str, rows: list[tuple]) -> pl.DataFrame:
        schema = _SPECS[kind][3]
        return pl.DataFrame([dict(zip(schema, r)) for r in rows], schema=schema, orient="row")

    return {"vat": frame("vat", vat), "gl": frame("gl", gl), "debtor": frame("debtor", debtors),
            "settings": frame("settings", [(division, "70", "lookup", False)])}


def seed_demo_mappings(store: Any, division: int) -> list[str]:
    """Save the demo mappings when the division has none yet (validated against what was pulled from
    Exact, so after the Exact pull); returns problems (empty = ok)."""
    if read_mapping(store, "vat", division).height:
        return []
    problems: list[str] = []
    for kind, frame in demo_mapping_frames(division).items():
        saved = save_mapping(store, kind, frame, division)
        problems += [f"{kind}: {e}" for e in saved.errors]
    return problems
