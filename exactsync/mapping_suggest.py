"""Suggest push mappings from what Exact already has booked for documents that matched.

A division that is new to exactsync has no mappings, but usually months of entries booked by hand
or by an earlier integration. Every document the reconciliation found ``matched`` (one live
entry, same amounts and VAT) shows how that division books: which VAT code its VAT bucket got,
which revenue G/L account each of its lines went to, which collective debtor a consumer's
document was booked on. :func:`suggest_mapping` counts those pairs over the newest run of each
period and proposes, for every bucket, line or country that no stored mapping covers yet, the
code used most, with the evidence ("41 of 41 matched documents"). Nothing is saved here: the
Mappings page and ``exactsync mappings suggest --save`` save through
:func:`exactsync.mapping.save_mapping`, which validates every row against Exact's codes.

What is read, per kind (only pairs that say one thing are counted):

* ``vat``: a document's VAT bucket (country, rate, treatment; its lines summed) paired with the
  entry's VAT code of the same amount (an amount found twice on either side is left out). OSS
  buckets are proposed per country; the others once for any country ('') when every country of
  theirs used the same code, else per country.
* ``gl``: the same per line type (goods, shipping, …): the document's lines of one type and
  bucket paired with the entry's revenue line of the same amount. Per line type: the account
  used most for any treatment and country (''), a row per treatment (domestic, OSS, reverse
  charge and export revenue usually have accounts of their own) and within a treatment a row per
  country, each where the mapping with the rows proposed so far would book them elsewhere.
* ``debtor``: documents without a VAT number (consumers: a company has its own account). The
  account used most for any country (''), and a row per country that used another one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import polars as pl

from exactsync.mapping import _SPECS, MappingError, load_mappings, read_mapping, validate_mapping

__all__ = ["SUGGESTED_KINDS", "Suggestions", "suggest_mapping", "with_suggestions"]

#: the mapping kinds that booked entries can suggest
SUGGESTED_KINDS = ("vat", "gl", "debtor")

_Q4 = Decimal("0.0001")

# the matched pairs (document, its one entry) of the newest run of each period of the division
_PAIRS = """
CREATE OR REPLACE TEMP TABLE _sg_pairs AS
WITH runs AS (
    SELECT arg_max(run_id, created_at) AS run_id FROM recon_runs
    WHERE list_contains(divisions, $division) GROUP BY period
)
SELECT DISTINCT r.doc_key, r.entry_ids[1] AS entry_id
FROM recon_results r SEMI JOIN runs USING (run_id)
WHERE r.division = $division AND r.status = 'matched' AND len(r.entry_ids) = 1 AND r.doc_key IS NOT NULL
"""

def _paired(shop: str, exact: str, keys: tuple[str, ...]) -> str:
    """The query counting (``keys``, Exact code) over the matched pairs: ``shop`` gives each
    document's amounts (``doc_key, entry_id, <keys>, amount``), ``exact`` its entry's coded lines
    (``entry_id, code, amount``); they pair on the amount, and an amount that is not unique on
    either side of a pair says nothing and is left out."""
    columns = ", ".join(f"su.{k}" for k in keys)
    return f"""
WITH s AS ({shop}), x AS ({exact}),
su AS (SELECT * FROM s QUALIFY count(*) OVER (PARTITION BY doc_key, amount) = 1),
xu AS (SELECT * FROM x QUALIFY count(*) OVER (PARTITION BY entry_id, amount) = 1)
SELECT {columns}, xu.code, count(*) AS n
FROM su JOIN xu ON xu.entry_id = su.entry_id AND xu.amount = su.amount
GROUP BY ALL
"""


# a document's VAT bucket (its lines summed) and the entry's VAT code line of the same amount
_VAT = _paired("""
    SELECT p.doc_key, p.entry_id, upper(coalesce(l.country, '')) AS country, l.rate, l.treatment,
           round(sum(l.base), 2) AS amount
    FROM _sg_pairs p JOIN shop_vat_lines l ON l.doc_key = p.doc_key
    GROUP BY ALL HAVING sum(l.base) <> 0""", """
    SELECT v.entry_id, trim(v.vat_code) AS code, sum(v.base) AS amount
    FROM exact_vat_lines v SEMI JOIN _sg_pairs p ON p.entry_id = v.entry_id
    WHERE v.division = $division AND trim(v.vat_code) <> ''
    GROUP BY ALL""", ("country", "rate", "treatment"))

# the same per line type: a document's lines of one type and bucket (summed) and the entry's revenue
# line (one VAT code, one G/L account) of the same amount
_GL = _paired("""
    SELECT p.doc_key, p.entry_id, l.line_type, upper(coalesce(nullif(l.country, ''), d.vat_country, '')) AS country,
           coalesce(l.treatment, d.treatment, '') AS treatment, round(sum(l.base), 2) AS amount
    FROM _sg_pairs p JOIN shop_vat_lines l ON l.doc_key = p.doc_key JOIN shop_documents d ON d.doc_key = p.doc_key
    GROUP BY p.doc_key, p.entry_id, l.line_type, 4, l.rate, 5 HAVING sum(l.base) <> 0""", """
    SELECT v.entry_id, trim(v.gl_account_code) AS code, v.base AS amount
    FROM exact_vat_lines v SEMI JOIN _sg_pairs p ON p.entry_id = v.entry_id
    WHERE v.division = $division AND trim(v.gl_account_code) <> ''""", ("line_type", "treatment", "country"))

_DEBTOR = """
SELECT upper(coalesce(d.vat_country, '')) AS country, trim(e.customer_code) AS code, count(*) AS n
FROM _sg_pairs p JOIN shop_documents d ON d.doc_key = p.doc_key
JOIN exact_entries e ON e.division = $division AND e.entry_id = p.entry_id
WHERE coalesce(trim(d.vat_number), '') = '' AND coalesce(trim(e.customer_code), '') <> ''
GROUP BY ALL
"""


@dataclass
class Suggestions:
    """What :func:`suggest_mapping` found: rows in the mapping's own columns plus ``evidence``."""

    kind: str
    division: int
    #: matched documents (with one entry) the suggestions were read from
    documents: int
    frame: pl.DataFrame

    @property
    def rows(self) -> pl.DataFrame:
        """The suggested rows in the mapping's columns (what ``save_mapping`` takes)."""
        return self.frame.select(list(_SPECS[self.kind][3]))

    @property
    def message(self) -> str:
        n = self.frame.height
        if not self.documents:
            return ("No matched documents to learn from yet: pull the shops and Exact and reconcile a period "
                    "that Exact has booked.")
        if not n:
            return f"Nothing to suggest: the mapping already covers what {self.documents:,} matched document(s) show."
        return f"{n} row(s) suggested from {self.documents:,} matched document(s) and their entries in Exact."


def suggest_mapping(store: Any, kind: str, division: int) -> Suggestions:
    """Rows for mapping ``kind`` of ``division`` that no stored row covers yet (see the module docstring)."""
    if kind not in SUGGESTED_KINDS:
        raise MappingError(f"no suggestions for mapping kind {kind!r} (suggested: {', '.join(SUGGESTED_KINDS)})")
    mappings = load_mappings(store, division)
    params = {"division": division}
    with store.read() as con:
        con.execute(_PAIRS, params)
        documents = con.execute("SELECT count(*) FROM _sg_pairs").fetchone()[0]
        sql = {"vat": _VAT, "gl": _GL, "debtor": _DEBTOR}[kind]
        counted = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()
        con.execute("DROP TABLE IF EXISTS _sg_pairs")
    rows = {"vat": _vat_rows, "gl": _gl_rows, "debtor": _debtor_rows}[kind](counted, mappings)
    schema = {**_SPECS[kind][3], "evidence": pl.String}
    frame = pl.DataFrame([{"division": division, **r} for r in rows], schema=schema, orient="row")
    return Suggestions(kind, division, documents, frame)


def with_suggestions(store: Any, suggestions: Suggestions, current: pl.DataFrame | None = None) -> pl.DataFrame:
    """The stored rows (or ``current``, the editor's) with the suggested rows added, validated: the
    frame the Mappings page shows for review and ``mappings suggest --save`` saves."""
    kind = suggestions.kind
    base = read_mapping(store, kind, suggestions.division) if current is None else current
    columns = list(_SPECS[kind][3])
    return validate_mapping(store, kind, pl.concat([base.select(columns), suggestions.rows]))


def _evidence(counts: Counter, code: str, what: str = "matched document(s)") -> str:
    total = sum(counts.values())
    others = [f"{c} ×{n}" for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c != code]
    return f"{counts[code]:,} of {total:,} {what}" + (f" (also: {', '.join(others[:3])})" if others else "")


def _top(counts: Counter) -> str:
    # the most used; a tie goes to the lowest code, so the answer does not depend on row order
    best = max(counts.values())
    return min(c for c, n in counts.items() if n == best)


def _vat_rows(counted: list[tuple], m: Any) -> list[dict]:
    by_bucket: dict[tuple[str, Decimal, str], Counter] = defaultdict(Counter)
    for country, rate, treatment, code, n in counted:
        by_bucket[(country, Decimal(rate).quantize(_Q4), treatment)][code] += n
    rows: list[dict] = []
    # not OSS: one row for any country when all its countries used one code
    grouped: dict[tuple[Decimal, str], dict[str, Counter]] = defaultdict(dict)
    for (country, rate, treatment), counts in by_bucket.items():
        if treatment == "oss":
            continue
        grouped[(rate, treatment)][country] = counts
    for (rate, treatment), per_country in sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        tops = {_top(c) for c in per_country.values()}
        if len(tops) == 1:
            total = sum(per_country.values(), Counter())
            if any(m.vat_code(c, rate, treatment) is None for c in per_country):
                code = tops.pop()
                rows.append({"country": "", "rate": rate, "treatment": treatment, "vat_code": code,
                             "evidence": _evidence(total, code)})
            continue
        for country, counts in sorted(per_country.items()):
            if m.vat_code(country, rate, treatment) is None:
                code = _top(counts)
                rows.append({"country": country, "rate": rate, "treatment": treatment, "vat_code": code,
                             "evidence": _evidence(counts, code)})
    for (country, rate, treatment), counts in sorted(by_bucket.items()):
        if treatment == "oss" and m.vat_code(country, rate, treatment) is None:
            code = _top(counts)
            rows.append({"country": country, "rate": rate, "treatment": treatment, "vat_code": code,
                         "evidence": _evidence(counts, code)})
    return rows


def _gl_rows(counted: list[tuple], m: Any) -> list[dict]:
    """Per line type: the account for any treatment, then a row per treatment, then per country
    within a treatment, each only where the mapping (with the rows proposed so far) would book the
    lines on another account than the one Exact used most, and no stored row has that key."""
    what = "lines of matched documents"
    by_type: dict[str, dict[str, dict[str, Counter]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Counter)))
    for line_type, treatment, country, code, n in counted:
        by_type[line_type][treatment or ""][country or ""][code] += n
    sim = replace(m, gl=dict(m.gl))  # the mapping as it would be with the rows proposed so far
    rows: list[dict] = []

    def propose(line_type: str, treatment: str, country: str, code: str, counts: Counter) -> None:
        sim.gl[(line_type, treatment, "", country)] = code
        rows.append({"line_type": line_type, "treatment": treatment, "tax_class": "", "country": country,
                     "gl_code": code, "evidence": _evidence(counts, code, what)})

    for line_type, per_treatment in sorted(by_type.items()):
        total = sum((c for per_country in per_treatment.values() for c in per_country.values()), Counter())
        if (line_type, "", "", "") not in m.gl:
            propose(line_type, "", "", _top(total), total)
        for treatment, per_country in sorted(per_treatment.items()):
            counts = sum(per_country.values(), Counter())
            code = _top(counts)
            if treatment and (line_type, treatment, "", "") not in m.gl and any(
                    sim.gl_code(line_type, None, c, treatment) != code for c in per_country):
                propose(line_type, treatment, "", code, counts)
            for country, c_counts in sorted(per_country.items()):
                code = _top(c_counts)
                if country and (line_type, treatment, "", country) not in m.gl \
                        and sim.gl_code(line_type, None, country, treatment) != code:
                    propose(line_type, treatment, country, code, c_counts)
    return rows


def _debtor_rows(counted: list[tuple], m: Any) -> list[dict]:
    """One row for any country (the account used most) and one per country that used another; a
    stored row (``m.debtors``) is never replaced."""
    per_country: dict[str, Counter] = defaultdict(Counter)
    for country, code, n in counted:
        per_country[country][code] += n
    if not per_country:
        return []
    total = sum(per_country.values(), Counter())
    default = m.debtors.get("") or _top(total)
    rows: list[dict] = []
    if m.debtors.get("") is None:
        rows.append({"country": "", "account_code": default, "evidence": _evidence(total, default)})
    for country, counts in sorted(per_country.items()):
        code = _top(counts)
        if country and code != default and m.debtors.get(country) is None:
            rows.append({"country": country, "account_code": code, "evidence": _evidence(counts, code)})
    return rows
