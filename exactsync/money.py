"""Money: parsing and the one rounding rule.

The rule (documented in README "Money and rounding"):

* Amounts are ``decimal.Decimal`` in Python and ``DECIMAL(18,4)`` in DuckDB; never float.
* Wire values are parsed once with :func:`parse_money` and rounded once, on the way in, to 4
  decimal places with ROUND_HALF_UP (:func:`to_money`). After that, all arithmetic is exact
  addition/subtraction in DuckDB SQL (sums and deltas never round).
* The only other rounding is to cents, ROUND_HALF_UP, when an amount is sent to Exact
  (:func:`to_cents`), which works in 2 decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["MoneyError", "parse_amount", "parse_money", "to_money", "to_cents", "MAX_MONEY", "ZERO"]

ZERO = Decimal("0")
#: DECIMAL(18,4) holds 14 integer digits.
MAX_MONEY = Decimal("99999999999999.9999")
_Q4 = Decimal("0.0001")
_Q2 = Decimal("0.01")


class MoneyError(ValueError):
    """A value that cannot be an amount of money (empty, NaN, infinite, too large, not a number)."""


def parse_amount(value: object, field: str = "amount") -> Decimal:
    """Validate a wire amount and return it at full precision (no rounding yet).

    Refuses booleans, None, text that is not a number, NaN, infinity and amounts a
    ``DECIMAL(18,4)`` cannot hold. Connectors that compute with wire values before storing them
    use this; everything stored goes through :func:`parse_money` / :func:`to_money`.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field} is missing or not an amount ({value!r})")
    if isinstance(value, float):
        # A float got here because someone parsed JSON without parse_float=Decimal; go through
        # repr so 0.1 stays 0.1, and still refuse NaN/inf below.
        value = repr(value)
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{field} is not an amount ({str(value)[:40]!r})") from None
    if not amount.is_finite():
        raise MoneyError(f"{field} is not a finite amount ({value!r})")
    # Range before rounding: quantizing 1e30 to 4 places overflows the decimal context.
    if abs(amount) > MAX_MONEY:
        raise MoneyError(f"{field} {str(value)[:40]} is larger than the largest amount this ledger can hold")
    return amount


def parse_money(value: object, field: str = "amount") -> Decimal:
    """Parse a wire amount (string, int or Decimal; JSON floats must be parsed as Decimal) and round
    it to the at-rest precision."""
    amount = to_money(parse_amount(value, field))
    if abs(amount) > MAX_MONEY:  # 99999999999999.99995 rounds up past the limit
        raise MoneyError(f"{field} {str(value)[:40]} is larger than the largest amount this ledger can hold")
    return amount


def to_money(amount: Decimal) -> Decimal:
    """Round to 4 decimals, half up (the at-rest precision)."""
    return amount.quantize(_Q4, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> Decimal:
    """Round to 2 decimals, half up (what Exact books)."""
    return amount.quantize(_Q2, rounding=ROUND_HALF_UP)
