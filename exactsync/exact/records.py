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


def _col(column: str, kind: str, wire: str, *args: Any, **kw: Any) -> tuple[str, str, str, tuple, dict]:
    """One column of a spec: ``row[column] = Fields.<kind>(wire, *args, **kw)``."""
    return column, kind, wire, args, kw


def _convert(record: Any, spec: tuple, key: str | None, *, head: dict | None = None,
             tail: dict | None = None) -> dict:
    """``head`` + the spec's columns + ``tail``; every bad field named in one :class:`RecordError`."""
    f = Fields(record)
    row = dict(head or {})
    for column, kind, wire, args, kw in spec:
        row[column] = getattr(f, kind)(wire, *args, **kw)
    row.update(tail or {})
    f.done(key)
    return row


_TRANSACTION_LINE = (
    _col("line_id", "guid", "ID", True),
    _col("entry_id", "guid", "EntryID", True),
    _col("entry_number", "integer", "EntryNumber"),
    _col("line_number", "integer", "LineNumber"),
    _col("type", "integer", "Type"),
    _col("journal_code", "text", "JournalCode", strip=True, max_len=40),
    _col("entry_date", "date", "Date"),
    _col("fin_year", "integer", "FinancialYear"),
    _col("fin_period", "integer", "FinancialPeriod"),
    _col("account_id", "guid", "Account"),
    _col("account_code", "text", "AccountCode", strip=True, max_len=40),
    _col("gl_account_id", "guid", "GLAccount"),
    _col("gl_account_code", "text", "GLAccountCode", strip=True, max_len=40),
    _col("amount_fc", "money", "AmountFC"),
    _col("amount_dc", "money", "AmountDC"),
    _col("vat_amount_fc", "money", "AmountVATFC"),
    _col("vat_base_fc", "money", "AmountVATBaseFC"),
    _col("vat_code", "text", "VATCode", strip=True, max_len=40),
    _col("vat_percentage", "percent", "VATPercentage"),
    _col("currency", "text", "Currency", strip=True, max_len=8),
    _col("exchange_rate", "decimal", "ExchangeRate", max_abs=Decimal("9999999999"), places=8),
    _col("description", "text", "Description"),
    _col("your_ref", "text", "YourRef", strip=True, max_len=1000),
    _col("invoice_number", "integer", "InvoiceNumber"),
    _col("status", "integer", "Status"),
    _col("timestamp", "integer", "Timestamp", True, bits=64),
    _col("modified_at", "datetime", "Modified"),
)
_DELETED = (
    _col("entity_key", "guid", "EntityKey", True),
    _col("entity_type", "integer", "EntityType", True),
    _col("timestamp", "integer", "Timestamp", True, bits=64),
)
_DIVISION = (
    _col("division", "integer", "Code", True),
    _col("description", "text", "Description"),
    _col("currency", "text", "Currency", strip=True),
    _col("country", "text", "Country", strip=True),
    _col("vat_number", "text", "VATNumber", strip=True),
    _col("status", "integer", "Status"),
)
_ACCOUNT = (
    _col("account_id", "guid", "ID", True),
    _col("code", "text", "Code", strip=True),  # Exact right-aligns codes to 18 characters
    _col("name", "text", "Name"),
    _col("email", "text", "Email", strip=True),
    _col("country", "text", "Country", strip=True),
    _col("vat_number", "text", "VATNumber", strip=True),
    _col("status", "text", "Status", strip=True),
    _col("blocked", "boolean", "Blocked"),
    _col("sales_vat_code", "text", "SalesVATCode", strip=True),
    _col("modified_at", "datetime", "Modified"),
)
_VAT_CODE = (
    _col("code", "text", "Code", True, strip=True),  # may come back space-padded (§5.6)
    _col("vat_code_id", "guid", "ID"),
    _col("description", "text", "Description"),
    _col("percentage", "percent", "Percentage"),
    _col("type", "text", "Type", strip=True),
    _col("vat_transaction_type", "text", "VATTransactionType", strip=True),
    _col("oss_country", "text", "OssCountry", strip=True),
    _col("eu_sales_listing", "text", "EUSalesListing", strip=True),
    _col("is_blocked", "boolean", "IsBlocked"),
    _col("gl_to_pay", "guid", "GLToPay"),
)
_GL_ACCOUNT = (
    _col("gl_id", "guid", "ID", True),
    _col("code", "text", "Code", strip=True),
    _col("description", "text", "Description"),
    _col("type", "integer", "Type"),
    _col("balance_type", "text", "BalanceType", strip=True),
    _col("vat_code", "text", "VATCode", strip=True),
    _col("is_blocked", "boolean", "IsBlocked"),
)
_JOURNAL = (
    _col("code", "text", "Code", True, strip=True),
    _col("journal_id", "guid", "ID"),
    _col("description", "text", "Description"),
    _col("type", "integer", "Type"),
    _col("currency", "text", "Currency", strip=True),
    _col("allow_variable_currency", "boolean", "AllowVariableCurrency"),
    _col("is_blocked", "boolean", "IsBlocked"),
)
_PERIOD = (
    _col("fin_year", "integer", "FinYear", True),
    _col("fin_period", "integer", "FinPeriod", True),
    _col("start_date", "date", "StartDate"),
    _col("end_date", "date", "EndDate"),
)
_JOURNAL_STATUS = (
    _col("journal_code", "text", "Journal", True, strip=True),
    _col("fin_year", "integer", "Year", True),
    _col("fin_period", "integer", "Period", True),
    _col("status", "integer", "Status", True),
)


def transaction_line_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    """One ``exact_transaction_lines`` row (Exact's signs: debit positive)."""
    row = _convert(record, _TRANSACTION_LINE, _key(record, "ID"), head={"division": division},
                   tail={"pulled_at": pulled_at})
    if row["vat_code"] == "":
        row["vat_code"] = None
    return row


def deleted_row(record: Any) -> dict:
    return _convert(record, _DELETED, _key(record, "ID") or _key(record, "EntityKey"))


def division_row(record: Any, pulled_at: dt.datetime) -> dict:
    return _convert(record, _DIVISION, _key(record, "Code"), tail={"pulled_at": pulled_at})


def account_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    return _convert(record, _ACCOUNT, _key(record, "ID"), head={"division": division}, tail={"pulled_at": pulled_at})


def vat_code_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    row = _convert(record, _VAT_CODE, _key(record, "Code"), head={"division": division},
                   tail={"pulled_at": pulled_at})
    if not row["code"]:
        raise RecordError(_key(record, "ID"), ["Code: empty"])
    return row


def gl_account_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    return _convert(record, _GL_ACCOUNT, _key(record, "ID"), head={"division": division},
                    tail={"pulled_at": pulled_at})


def journal_row(record: Any, division: int, pulled_at: dt.datetime) -> dict:
    return _convert(record, _JOURNAL, _key(record, "Code"), head={"division": division},
                    tail={"pulled_at": pulled_at})


def period_row(record: Any, division: int) -> dict:
    return _convert(record, _PERIOD, _key(record, "ID"), head={"division": division})


def journal_status_row(record: Any, division: int) -> dict:
    return _convert(record, _JOURNAL_STATUS, _key(record, "Journal"), head={"division": division})
