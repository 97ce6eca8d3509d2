"""Wire records → canonical rows, with one clear error per bad record (never a crash).

Each ``*_row`` function takes one Exact JSON record (parsed with ``parse_float=Decimal``) and
returns a dict for its ``exact_*`` table, or raises :class:`RecordError` naming every bad field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from exactsync.exact.client import parse_exact_date
from exactsync.money import MoneyError, parse_money

__all__ = [
    "RecordError",
    "Fields",
    "transaction_line_row",
    "account_row",
    "vat_code_row",
    "gl_account_row",
    "journal_row",
    "period_row",
    "journal_status_row",
    "division_row",
    "deleted_row",
    "TRANSACTION_LINE_SELECT",
]

#: what we ask of sync/Financial/TransactionLines (exact-online-api.md §5.8, §9.4)
TRANSACTION_LINE_SELECT = (
    "ID,EntryID,EntryNumber,LineNumber,Type,JournalCode,Date,FinancialYear,FinancialPeriod,Account,AccountCode,"
    "GLAccount,GLAccountCode,AmountFC,AmountDC,AmountVATFC,AmountVATBaseFC,VATCode,VATPercentage,Currency,"
    "ExchangeRate,Description,YourRef,InvoiceNumber,Status,Modified,Timestamp"
)

_INT32 = 2**31 - 1
_INT64 = 2**63 - 1


class RecordError(ValueError):
    """A record that cannot be stored; ``problems`` lists ``field: what is wrong``."""

    def __init__(self, key: str | None, problems: list[str]) -> None:
        self.key = key
        self.problems = problems
        super().__init__("; ".join(problems))


class Fields:
    """Typed access to one record, collecting problems instead of stopping at the first."""

    def __init__(self, record: Any) -> None:
        if not isinstance(record, dict):
            raise RecordError(None, [f"record is a {type(record).__name__}, not an object"])
        self.r = record
        self.problems: list[str] = []

    def _get(self, name: str, required: bool) -> Any:
        value = self.r.get(name)
        if value is None and required:
            self.problems.append(f"{name}: missing")
        return value

    def _try(self, name: str, value: Any, conv: Callable[[Any], Any]) -> Any:
        if value is None:
            return None
        try:
            return conv(value)
        except (ValueError, TypeError, InvalidOperation, MoneyError, OverflowError) as e:
            self.problems.append(f"{name}: {str(e).removeprefix('value: ')}")
            return None

    def text(self, name: str, required: bool = False, *, strip: bool = False, max_len: int = 4000) -> str | None:
        def conv(v: Any) -> str:
            if isinstance(v, bool) or isinstance(v, (dict, list)):
                raise ValueError(f"not text ({type(v).__name__})")
            s = str(v)
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("contains invalid unicode (a lone surrogate)") from None
            if len(s) > max_len:
                raise ValueError(f"longer than {max_len} characters")
            return s.strip() if strip else s

        return self._try(name, self._get(name, required), conv)

    def guid(self, name: str, required: bool = False) -> str | None:
        def conv(v: Any) -> str:
            import uuid

            if not isinstance(v, str):
                raise ValueError(f"not a GUID ({type(v).__name__})")
            try:
                return str(uuid.UUID(v.strip().strip("{}")))
            except ValueError:
                raise ValueError(f"not a GUID ({v[:40]!r})") from None

        return self._try(name, self._get(name, required), conv)

    def integer(self, name: str, required: bool = False, *, bits: int = 32) -> int | None:
        limit = _INT32 if bits == 32 else _INT64

        def conv(v: Any) -> int:
            if isinstance(v, bool):
                raise ValueError("not a whole number (boolean)")
            if isinstance(v, int):
                n = v
            else:
                d = Decimal(str(v).strip().rstrip("L"))
                if not d.is_finite() or d != d.to_integral_value():
                    raise ValueError(f"not a whole number ({str(v)[:40]!r})")
                n = int(d)
            if abs(n) > limit:
                raise ValueError(f"{str(v)[:40]} is out of range")
            return n

        return self._try(name, self._get(name, required), lambda v: _wrap(conv, v, "not a whole number"))

    def money(self, name: str, required: bool = False) -> Decimal | None:
        """DECIMAL(18,4) money; parse_money refuses NaN, infinities and too large values."""
        def conv(v: Any) -> Decimal:
            try:
                return parse_money(v, "value")
            except MoneyError as e:  # "value is not an amount ('x')" → "AmountFC: not an amount ('x')"
                raise ValueError(str(e).removeprefix("value is ").removeprefix("value ")) from None

        return self._try(name, self._get(name, required), conv)

    def decimal(self, name: str, *, max_abs: Decimal, places: int) -> Decimal | None:
        q = Decimal(1).scaleb(-places)

        def conv(v: Any) -> Decimal:
            if isinstance(v, bool):
                raise ValueError("not a number (boolean)")
            d = Decimal(str(v).strip())
            if not d.is_finite():
                raise ValueError(f"not a finite number ({v!r})")
            d = d.quantize(q)
            if abs(d) > max_abs:
                raise ValueError(f"{str(v)[:40]} is out of range")
            return d

        return self._try(name, self._get(name, False), lambda v: _wrap(conv, v, "not a number"))

    def percent(self, name: str) -> Decimal | None:
        """Exact sends VAT percentages as fractions (0.21); stored as percent (21.0000)."""

        def conv(v: Any) -> Decimal:
            if isinstance(v, bool):
                raise ValueError("not a number (boolean)")
            d = Decimal(str(v).strip())
            if not d.is_finite():
                raise ValueError(f"not a finite number ({v!r})")
            # [infer] the reference does not say fraction or percent; values ≤ 1 are fractions.
            if abs(d) <= 1:
                d = d * 100
            d = d.quantize(Decimal("0.0001"))
            if abs(d) > 100:
                raise ValueError(f"{str(v)[:40]} is not a VAT percentage")
            return d

        return self._try(name, self._get(name, False), lambda v: _wrap(conv, v, "not a number"))

    def boolean(self, name: str) -> bool | None:
        def conv(v: Any) -> bool:
            if isinstance(v, bool):
                return v
            if v in (0, 1):
                return bool(v)
            raise ValueError(f"not true/false ({str(v)[:20]!r})")

        return self._try(name, self._get(name, False), conv)

    def datetime(self, name: str, required: bool = False) -> dt.datetime | None:
        return self._try(name, self._get(name, required), parse_exact_date)

    def date(self, name: str, required: bool = False) -> dt.date | None:
        value = self.datetime(name, required)
        return value.date() if value is not None else None

    def done(self, key: str | None) -> None:
        if self.problems:
            raise RecordError(key, self.problems)


def _wrap(conv: Callable[[Any], Any], v: Any, what: str) -> Any:
    try:
        return conv(v)
    except (InvalidOperation, TypeError):
        raise ValueError(f"{what} ({str(v)[:40]!r})") from None


def _key(record: Any, name: str) -> str | None:
    if isinstance(record, dict):
        v = record.get(name)
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            s = str(v)
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                return None
            return s[:80]
    return None


def transaction_line_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    """One ``exact_transaction_lines`` row (Exact's signs: debit positive)."""
    key = _key(record, "ID")
    f = Fields(record)
    row = {
        "division": division,
        "line_id": f.guid("ID", True),
        "entry_id": f.guid("EntryID", True),
        "entry_number": f.integer("EntryNumber"),
        "line_number": f.integer("LineNumber"),
        "type": f.integer("Type"),
        "journal_code": f.text("JournalCode", strip=True, max_len=40),
        "entry_date": f.date("Date"),
        "fin_year": f.integer("FinancialYear"),
        "fin_period": f.integer("FinancialPeriod"),
        "account_id": f.guid("Account"),
        "account_code": f.text("AccountCode", strip=True, max_len=40),
        "gl_account_id": f.guid("GLAccount"),
        "gl_account_code": f.text("GLAccountCode", strip=True, max_len=40),
        "amount_fc": f.money("AmountFC"),
        "amount_dc": f.money("AmountDC"),
        "vat_amount_fc": f.money("AmountVATFC"),
        "vat_base_fc": f.money("AmountVATBaseFC"),
        "vat_code": f.text("VATCode", strip=True, max_len=40),
        "vat_percentage": f.percent("VATPercentage"),
        "currency": f.text("Currency", strip=True, max_len=8),
        "exchange_rate": f.decimal("ExchangeRate", max_abs=Decimal("9999999999"), places=8),
        "description": f.text("Description"),
        "your_ref": f.text("YourRef", strip=True, max_len=1000),
        "invoice_number": f.integer("InvoiceNumber"),
        "status": f.integer("Status"),
        "timestamp": f.integer("Timestamp", True, bits=64),
        "modified_at": f.datetime("Modified"),
        "pulled_at": pulled_at,
    }
    f.done(key)
    if row["vat_code"] == "":
        row["vat_code"] = None
    return row


def deleted_row(record: Any) -> dict:
    key = _key(record, "ID") or _key(record, "EntityKey")
    f = Fields(record)
    row = {
        "entity_key": f.guid("EntityKey", True),
        "entity_type": f.integer("EntityType", True),
        "timestamp": f.integer("Timestamp", True, bits=64),
    }
    f.done(key)
    return row


def division_row(record: Any, pulled_at: dt.datetime) -> dict:
    f = Fields(record)
    row = {
        "division": f.integer("Code", True),
        "description": f.text("Description"),
        "currency": f.text("Currency", strip=True),
        "country": f.text("Country", strip=True),
        "vat_number": f.text("VATNumber", strip=True),
        "status": f.integer("Status"),
        "pulled_at": pulled_at,
    }
    f.done(_key(record, "Code"))
    return row


def account_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    f = Fields(record)
    row = {
        "division": division,
        "account_id": f.guid("ID", True),
        "code": f.text("Code", strip=True),  # Exact right-aligns codes to 18 characters
        "name": f.text("Name"),
        "email": f.text("Email", strip=True),
        "country": f.text("Country", strip=True),
        "vat_number": f.text("VATNumber", strip=True),
        "status": f.text("Status", strip=True),
        "blocked": f.boolean("Blocked"),
        "sales_vat_code": f.text("SalesVATCode", strip=True),
        "modified_at": f.datetime("Modified"),
        "pulled_at": pulled_at,
    }
    f.done(_key(record, "ID"))
    return row


def vat_code_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    f = Fields(record)
    row = {
        "division": division,
        "code": f.text("Code", True, strip=True),  # may come back space-padded (§5.6)
        "vat_code_id": f.guid("ID"),
        "description": f.text("Description"),
        "percentage": f.percent("Percentage"),
        "type": f.text("Type", strip=True),
        "vat_transaction_type": f.text("VATTransactionType", strip=True),
        "oss_country": f.text("OssCountry", strip=True),
        "eu_sales_listing": f.text("EUSalesListing", strip=True),
        "is_blocked": f.boolean("IsBlocked"),
        "gl_to_pay": f.guid("GLToPay"),
        "pulled_at": pulled_at,
    }
    f.done(_key(record, "Code"))
    if not row["code"]:
        raise RecordError(_key(record, "ID"), ["Code: empty"])
    return row


def gl_account_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    f = Fields(record)
    row = {
        "division": division,
        "gl_id": f.guid("ID", True),
        "code": f.text("Code", strip=True),
        "description": f.text("Description"),
        "type": f.integer("Type"),
        "balance_type": f.text("BalanceType", strip=True),
        "vat_code": f.text("VATCode", strip=True),
        "is_blocked": f.boolean("IsBlocked"),
        "pulled_at": pulled_at,
    }
    f.done(_key(record, "ID"))
    return row


def journal_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    f = Fields(record)
    row = {
        "division": division,
        "code": f.text("Code", True, strip=True),
        "journal_id": f.guid("ID"),
        "description": f.text("Description"),
        "type": f.integer("Type"),
        "currency": f.text("Currency", strip=True),
        "allow_variable_currency": f.boolean("AllowVariableCurrency"),
        "is_blocked": f.boolean("IsBlocked"),
        "pulled_at": pulled_at,
    }
    f.done(_key(record, "Code"))
    return row


def period_row(record: Any, division: int) -> dict:
    f = Fields(record)
    row = {
        "division": division,
        "fin_year": f.integer("FinYear", True),
        "fin_period": f.integer("FinPeriod", True),
        "start_date": f.date("StartDate"),
        "end_date": f.date("EndDate"),
    }
    f.done(_key(record, "ID"))
    return row


def journal_status_row(record: Any, division: int) -> dict:
    f = Fields(record)
    row = {
        "division": division,
        "journal_code": f.text("Journal", True, strip=True),
        "fin_year": f.integer("Year", True),
        "fin_period": f.integer("Period", True),
        "status": f.integer("Status", True),
    }
    f.done(_key(record, "Journal"))
    return row
