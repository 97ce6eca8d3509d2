"""Push mappings: which Exact codes a shop document is booked with (docs/push.md "Mappings").

Per Exact division:

* ``vat``: (country, rate, treatment) → VAT code. ``country`` '' = any country.
* ``gl``: (line type, treatment, tax class, country) → revenue GL account code; '' = any. The
  most specific row wins: treatment beats tax class, tax class beats country, and each beats the
  catch-all (migration 0410: domestic, reverse-charge, OSS and export revenue on their own accounts).
* ``cost_center``: country → cost centre code ('' = any).
* ``debtor``: country → the collective debtor's account code ('' = any).
* ``settings``: the sales journal code and the debtor strategy (``collective``: one debtor per
  country from ``debtor``; ``lookup``: find by VAT number, then e-mail, in the pulled accounts,
  create when absent if ``create_debtors``, else fall back to the collective debtor).

Every mapping is read, validated and saved as a Polars frame (what ``st.data_editor`` edits);
validation is against what was pulled from Exact (``exact_vat_codes``, ``exact_gl_accounts``,
``exact_journals``, ``exact_accounts``) and returns the frame with an ``error`` column (None = ok).
:class:`Mappings` is the resolver the planner uses; it raises nothing, it returns problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from exactsync.clock import utcnow
from exactsync.errors import ExactsyncError
from exactsync.vat import TREATMENTS

__all__ = [
    "MAPPING_KINDS",
    "LINE_TYPES",
    "DEBTOR_STRATEGIES",
    "MappingError",
    "MappingSave",
    "Mappings",
    "ExactRefData",
    "read_mapping",
    "validate_mapping",
    "save_mapping",
    "load_mappings",
    "load_ref_data",
]

LINE_TYPES = ("goods", "shipping", "fee", "adjustment")
DEBTOR_STRATEGIES = ("collective", "lookup")
#: GL account types that can never carry a sales line (cash, bank, AR, AP, VAT; reference §5.7).
_NON_REVENUE_GL_TYPES = {10, 12, 20, 22, 24}

#: key columns a frame may leave out, with the value they then take ('' = any)
_OPTIONAL: dict[str, dict[str, str]] = {"gl": {"treatment": "", "tax_class": ""}}

# kind -> (table, key columns, value columns, polars schema)
_SPECS: dict[str, tuple[str, list[str], list[str], dict[str, Any]]] = {
    "vat": ("map_vat_codes", ["division", "country", "rate", "treatment"], ["vat_code"],
            {"division": pl.Int64, "country": pl.String, "rate": pl.Decimal(7, 4), "treatment": pl.String,
             "vat_code": pl.String}),
    "gl": ("map_gl_accounts", ["division", "line_type", "treatment", "tax_class", "country"], ["gl_code"],
           {"division": pl.Int64, "line_type": pl.String, "treatment": pl.String, "tax_class": pl.String,
            "country": pl.String, "gl_code": pl.String}),
    "cost_center": ("map_cost_centers", ["division", "country"], ["cost_center"],
                    {"division": pl.Int64, "country": pl.String, "cost_center": pl.String}),
    "debtor": ("map_debtors", ["division", "country"], ["account_code"],
               {"division": pl.Int64, "country": pl.String, "account_code": pl.String}),
    "settings": ("push_settings", ["division"], ["journal_code", "debtor_strategy", "create_debtors"],
                 {"division": pl.Int64, "journal_code": pl.String, "debtor_strategy": pl.String,
                  "create_debtors": pl.Boolean}),
}
MAPPING_KINDS = tuple(_SPECS)


class MappingError(ExactsyncError):
    """A mapping is missing, unknown in Exact, or blocked; the message names it."""


@dataclass
class MappingSave:
    """Result of :func:`save_mapping`: ``saved`` is False when any row has an ``error``."""

    saved: bool
    frame: pl.DataFrame

    @property
    def errors(self) -> list[str]:
        return [e for e in self.frame["error"].to_list() if e]


# --------------------------------------------------------------------------- Exact reference data


@dataclass
class ExactRefData:
    """What was pulled from Exact for one division, keyed for validation and payloads."""

    division: int
    currency: str | None = None
    vat_codes: dict[str, dict] = field(default_factory=dict)  # trimmed code -> row
    gl_by_code: dict[str, dict] = field(default_factory=dict)
    journals: dict[str, dict] = field(default_factory=dict)
    accounts_by_code: dict[str, dict] = field(default_factory=dict)
    accounts_by_vat: dict[str, dict] = field(default_factory=dict)
    accounts_by_email: dict[str, dict] = field(default_factory=dict)
    periods: list[tuple] = field(default_factory=list)  # (fin_year, fin_period, start, end)
    closed: set[tuple[str, int, int]] = field(default_factory=set)  # (journal, year, period)

    @property
    def pulled(self) -> bool:
        return bool(self.vat_codes or self.gl_by_code or self.journals)

    def period_for(self, day) -> tuple[int, int] | None:
        for year, period, start, end in self.periods:
            if start is not None and end is not None and start <= day <= end:
                return int(year), int(period)
        return None

    # -- checks returning a problem text (None = fine) --

    def vat_problem(self, code: str, rate: Decimal | None = None, country: str | None = None,
                    treatment: str | None = None) -> str | None:
        row = self.vat_codes.get(str(code).strip())
        if row is None:
            return f"VAT code {code!r} does not exist in division {self.division}"
        if row["is_blocked"]:
            return f"VAT code {code!r} is blocked in division {self.division}"
        if (row["vat_transaction_type"] or "B") not in ("S", "B"):
            return f"VAT code {code!r} is not a sales VAT code in division {self.division}"
        if rate is not None and row["percentage"] is not None and Decimal(row["percentage"]) != Decimal(rate):
            return (f"VAT code {code!r} is {Decimal(row['percentage']).normalize():f}% in division {self.division}, "
                    f"not {Decimal(rate).normalize():f}%")
        oss = (row.get("oss_country") or "").strip().upper()
        if treatment == "oss" and country and oss and oss != country.upper():
            return f"VAT code {code!r} is the OSS code for {oss}, not {country.upper()}"
        return None

    def gl_problem(self, code: str) -> str | None:
        row = self.gl_by_code.get(str(code).strip())
        if row is None:
            return f"G/L account {code!r} does not exist in division {self.division}"
        if row["is_blocked"]:
            return f"G/L account {code!r} is blocked in division {self.division}"
        if row["type"] in _NON_REVENUE_GL_TYPES or (row.get("balance_type") or "W") == "B":
            return f"G/L account {code!r} is not a revenue account (type {row['type']}) in division {self.division}"
        return None

    def journal_problem(self, code: str) -> str | None:
        row = self.journals.get(str(code).strip())
        if row is None:
            return f"journal {code!r} does not exist in division {self.division}"
        if row["is_blocked"]:
            return f"journal {code!r} is blocked in division {self.division}"
        if row["type"] not in (20, 21):
            return f"journal {code!r} is not a sales journal (type {row['type']}) in division {self.division}"
        return None

    def account_problem(self, code: str) -> str | None:
        row = self.accounts_by_code.get(str(code).strip())
        if row is None:
            return f"account {code!r} does not exist in division {self.division}"
        if row["blocked"]:
            return f"account {code!r} is blocked in division {self.division}"
        if (row["status"] or "") != "C":
            return f"account {code!r} is not a customer (status {row['status']!r}) in division {self.division}"
        return None


def _rows(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def load_ref_data(con, division: int) -> ExactRefData:
    """Everything pulled from Exact for ``division`` (one read connection)."""
    ref = ExactRefData(division)
    cur = _rows(con, "SELECT currency FROM exact_divisions WHERE division = ?", [division])
    ref.currency = cur[0]["currency"] if cur else None
    for r in _rows(con, "SELECT * FROM exact_vat_codes WHERE division = ?", [division]):
        ref.vat_codes[str(r["code"]).strip()] = r
    for r in _rows(con, "SELECT * FROM exact_gl_accounts WHERE division = ?", [division]):
        ref.gl_by_code[str(r["code"]).strip()] = r
    for r in _rows(con, "SELECT * FROM exact_journals WHERE division = ?", [division]):
        ref.journals[str(r["code"]).strip()] = r
    for r in _rows(con, "SELECT * FROM exact_accounts WHERE division = ? ORDER BY code", [division]):
        ref.accounts_by_code[str(r["code"] or "").strip()] = r
        if r["blocked"] or (r["status"] or "") != "C":
            continue
        if r["vat_number"]:
            ref.accounts_by_vat.setdefault(_vat_key(r["vat_number"]), r)
        if r["email"]:
            ref.accounts_by_email.setdefault(r["email"].strip().lower(), r)
    ref.periods = [
        (r["fin_year"], r["fin_period"], r["start_date"], r["end_date"])
        for r in _rows(con, "SELECT * FROM exact_periods WHERE division = ? ORDER BY fin_year, fin_period", [division])
    ]
    ref.closed = {
        (str(r["journal_code"]).strip(), int(r["fin_year"]), int(r["fin_period"]))
        for r in _rows(con, "SELECT * FROM exact_journal_status WHERE division = ? AND status = 1", [division])
    }
    return ref


def _vat_key(vat_number: str) -> str:
    return "".join(ch for ch in vat_number.upper() if ch.isalnum())


# --------------------------------------------------------------------------- frames


def _empty(kind: str) -> pl.DataFrame:
    schema = dict(_SPECS[kind][3])
    return pl.DataFrame(schema=schema)


def read_mapping(store: Any, kind: str, division: int | None = None) -> pl.DataFrame:
    """The stored mapping ``kind`` (all divisions, or one) as a frame with an ``error`` column."""
    table, keys, values, schema = _spec(kind)
    cols = ", ".join(keys + values)
    where, params = ("WHERE division = ?", [division]) if division is not None else ("", [])
    with store.read() as con:
        rows = con.execute(f"SELECT {cols} FROM {table} {where} ORDER BY {', '.join(keys)}", params).fetchall()
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else _empty(kind)
    return validate_mapping(store, kind, frame)


def _spec(kind: str):
    try:
        return _SPECS[kind]
    except KeyError:
        raise MappingError(f"unknown mapping kind {kind!r} (known: {', '.join(MAPPING_KINDS)})") from None


def _clean(kind: str, row: dict) -> dict:
    out = dict(row)
    for k in ("country",):
        if k in out:
            out[k] = (out[k] or "").strip().upper()
    for k in ("tax_class", "treatment", "line_type", "debtor_strategy"):
        if k in out:
            out[k] = (out[k] or "").strip() if k == "tax_class" else (out[k] or "").strip().lower()
    for k in ("vat_code", "gl_code", "account_code", "journal_code", "cost_center"):
        if k in out and out[k] is not None:
            out[k] = str(out[k]).strip()
    if kind == "gl" and out.get("treatment") == "any":  # what the Mappings editor shows for ''
        out["treatment"] = ""
    if kind == "settings" and out.get("create_debtors") is None:
        out["create_debtors"] = False
    return out


def validate_mapping(store: Any, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (cleaned) with an ``error`` column: None when the row is valid."""
    table, keys, values, schema = _spec(kind)
    optional = {c: v for c, v in _OPTIONAL.get(kind, {}).items() if c not in frame.columns}
    if optional:  # a frame written before the column existed (G/L without treatment: any)
        frame = frame.with_columns([pl.lit(v, dtype=schema[c]).alias(c) for c, v in optional.items()])
    missing = [c for c in keys + values if c not in frame.columns]
    if missing:
        raise MappingError(f"the {kind} mapping needs the column(s) {', '.join(missing)}")
    rows = [_clean(kind, r) for r in frame.select(keys + values).to_dicts()]
    refs: dict[int, ExactRefData] = {}
    with store.read() as con:
        for div in {r["division"] for r in rows if r.get("division") is not None}:
            refs[int(div)] = load_ref_data(con, int(div))
    seen: set[tuple] = set()
    errors: list[str | None] = []
    for r in rows:
        problems = _row_problems(kind, r, refs)
        key = tuple(r.get(k) for k in keys)
        if key in seen:
            problems.append("duplicate row for " + ", ".join(f"{k}={r.get(k)!r}" for k in keys))
        seen.add(key)
        errors.append("; ".join(problems) or None)
    out = pl.DataFrame(rows, schema=schema, orient="row") if rows else _empty(kind)
    return out.with_columns(pl.Series("error", errors, dtype=pl.String))


def _row_problems(kind: str, r: dict, refs: dict[int, ExactRefData]) -> list[str]:
    problems: list[str] = []
    div = r.get("division")
    if div is None:
        return ["division is missing"]
    ref = refs[int(div)]
    if not ref.pulled:
        return [f"nothing pulled from Exact for division {div} yet (run `exactsync pull exact`)"]
    if kind == "vat":
        if r.get("treatment") not in TREATMENTS or r.get("treatment") == "mixed":
            problems.append(f"treatment {r.get('treatment')!r} is not one of domestic, oss, reverse_charge, export, exempt")
        if r.get("rate") is None:
            problems.append("rate is missing")
        if not r.get("vat_code"):
            problems.append("VAT code is missing")
        elif r.get("rate") is not None:
            p = ref.vat_problem(r["vat_code"], r["rate"], r.get("country"), r.get("treatment"))
            if p:
                problems.append(p)
        if r.get("treatment") == "oss" and not r.get("country"):
            problems.append("an OSS mapping needs a country")
    elif kind == "gl":
        if r.get("line_type") not in LINE_TYPES:
            problems.append(f"line type {r.get('line_type')!r} is not one of {', '.join(LINE_TYPES)}")
        if r.get("treatment") and (r["treatment"] not in TREATMENTS or r["treatment"] == "mixed"):
            problems.append(f"treatment {r['treatment']!r} is not one of domestic, oss, reverse_charge, export, "
                            "exempt (or empty: any)")
        if not r.get("gl_code"):
            problems.append("G/L account is missing")
        else:
            p = ref.gl_problem(r["gl_code"])
            if p:
                problems.append(p)
    elif kind == "cost_center":
        cc = r.get("cost_center") or ""
        if not cc:
            problems.append("cost centre is missing")
        elif len(cc) > 8:
            problems.append(f"cost centre {cc!r} is longer than 8 characters")
    elif kind == "debtor":
        if not r.get("account_code"):
            problems.append("account code is missing")
        else:
            p = ref.account_problem(r["account_code"])
            if p:
                problems.append(p)
    elif kind == "settings":
        if not r.get("journal_code"):
            problems.append("journal code is missing")
        else:
            p = ref.journal_problem(r["journal_code"])
            if p:
                problems.append(p)
        if r.get("debtor_strategy") not in DEBTOR_STRATEGIES:
            problems.append(f"debtor strategy {r.get('debtor_strategy')!r} is not one of {', '.join(DEBTOR_STRATEGIES)}")
    return problems


def save_mapping(store: Any, kind: str, frame: pl.DataFrame, division: int | None = None) -> MappingSave:
    """Validate and, when every row is valid, replace the stored mapping (of ``division``, or of
    the divisions present in ``frame``) in one transaction."""
    table, keys, values, schema = _spec(kind)
    checked = validate_mapping(store, kind, frame)
    if any(e for e in checked["error"].to_list()):
        return MappingSave(False, checked)
    divisions = {division} if division is not None else set(checked["division"].to_list())
    now = utcnow()
    with store.atomic() as con:
        for div in divisions:
            con.execute(f"DELETE FROM {table} WHERE division = ?", [div])
        for r in checked.drop("error").to_dicts():
            if division is not None and r["division"] != division:
                continue
            cols = keys + values + ["updated_at"]
            con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [r[c] for c in keys + values] + [now])
    return MappingSave(True, checked)


# --------------------------------------------------------------------------- the resolver


@dataclass
class Mappings:
    """All mappings of one division plus its Exact reference data: the planner's resolver."""

    division: int
    ref: ExactRefData
    journal_code: str
    debtor_strategy: str = "collective"
    create_debtors: bool = False
    vat: dict[tuple[str, Decimal, str], str] = field(default_factory=dict)
    gl: dict[tuple[str, str, str, str], str] = field(default_factory=dict)  # (line type, treatment, tax class, country)
    cost_centers: dict[str, str] = field(default_factory=dict)
    debtors: dict[str, str] = field(default_factory=dict)
    known_debtors: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # match_key -> (id, code)

    def vat_code(self, country: str | None, rate: Decimal, treatment: str) -> str | None:
        c = (country or "").upper()
        rate = Decimal(rate).quantize(Decimal("0.0001"))
        return self.vat.get((c, rate, treatment)) or self.vat.get(("", rate, treatment))

    def gl_code(self, line_type: str, tax_class: str | None, country: str | None,
                treatment: str | None = None) -> str | None:
        """The most specific row: treatment, then tax class, then country, then any."""
        tr, t, c = (treatment or "").strip().lower(), (tax_class or "").strip(), (country or "").upper()
        for lt in (line_type, "goods") if line_type == "adjustment" else (line_type,):
            for key in ((lt, tr, t, c), (lt, tr, t, ""), (lt, tr, "", c), (lt, tr, "", ""),
                        (lt, "", t, c), (lt, "", t, ""), (lt, "", "", c), (lt, "", "", "")):
                if key in self.gl:
                    return self.gl[key]
        return None

    def cost_center(self, country: str | None) -> str | None:
        return self.cost_centers.get((country or "").upper()) or self.cost_centers.get("")

    def collective_debtor(self, country: str | None) -> str | None:
        return self.debtors.get((country or "").upper()) or self.debtors.get("")


def load_mappings(store: Any, division: int, *, default_journal: str = "70") -> Mappings:
    """The resolver for ``division`` (mappings as stored; validity is checked by the planner)."""
    with store.read() as con:
        ref = load_ref_data(con, division)
        s = _rows(con, "SELECT * FROM push_settings WHERE division = ?", [division])
        m = Mappings(division, ref, journal_code=(s[0]["journal_code"] if s else default_journal).strip())
        if s:
            m.debtor_strategy = s[0]["debtor_strategy"]
            m.create_debtors = bool(s[0]["create_debtors"])
        for r in _rows(con, "SELECT * FROM map_vat_codes WHERE division = ?", [division]):
            m.vat[(r["country"].upper(), Decimal(r["rate"]).quantize(Decimal("0.0001")), r["treatment"])] = r["vat_code"]
        for r in _rows(con, "SELECT * FROM map_gl_accounts WHERE division = ?", [division]):
            m.gl[(r["line_type"], r["treatment"], r["tax_class"], r["country"].upper())] = r["gl_code"]
        for r in _rows(con, "SELECT * FROM map_cost_centers WHERE division = ?", [division]):
            m.cost_centers[r["country"].upper()] = r["cost_center"]
        for r in _rows(con, "SELECT * FROM map_debtors WHERE division = ?", [division]):
            m.debtors[r["country"].upper()] = r["account_code"]
        for r in _rows(con, "SELECT * FROM push_debtors WHERE division = ?", [division]):
            m.known_debtors[r["match_key"]] = (r["account_id"], r["account_code"])
    return m
