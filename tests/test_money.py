"""The one rounding rule and the one parser of wire amounts (exactsync.money)."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exactsync.money import MAX_MONEY, MoneyError, parse_amount, parse_money, to_cents, to_money
from exactsync.shops.base import RecordError, money


@pytest.mark.parametrize("wire, expected", [
    ("12.345", D("12.3450")), ("0.00005", D("0.0001")), ("-0.00005", D("-0.0001")), (7, D("7.0000")),
    (D("1.23456"), D("1.2346")), (0.1, D("0.1000")), (" 3.5 ", D("3.5000")), ("1E+2", D("100.0000")),
])
def test_parse_money_rounds_once_half_up_to_four_places(wire, expected):
    assert parse_money(wire) == expected and parse_money(wire).as_tuple().exponent == -4


@pytest.mark.parametrize("wire, message", [
    (None, "total is missing or not an amount"), (True, "total is missing or not an amount"),
    ("abc", "total is not an amount ('abc')"), ("", "total is not an amount"),
    ("NaN", "total is not a finite amount"), (float("inf"), "total is not a finite amount"),
    ("1e30", "total 1e30 is larger than the largest amount"), (D("-1E+15"), "larger than the largest"),
    ("99999999999999.99995", "larger than the largest"),
])
def test_parse_money_refuses_what_the_ledger_cannot_hold_with_a_clear_message(wire, message):
    with pytest.raises(MoneyError) as info:
        parse_money(wire, "total")
    assert message in str(info.value)


def test_largest_amount_fits_and_parse_amount_keeps_full_precision():
    assert parse_money(str(MAX_MONEY)) == MAX_MONEY
    assert parse_amount("1.23456789") == D("1.23456789")


def test_shop_connectors_share_the_parser_and_get_record_errors():
    assert money("", "total", "order 1") == 0 and money(None, "total", "order 1") == 0
    assert money("1.23456", "total", "order 1") == D("1.23456")
    with pytest.raises(RecordError) as info:
        money("1e30", "total", "order 9")
    assert info.value.record_key == "order 9" and "larger than" in str(info.value)


def test_to_cents_is_half_up():
    assert to_cents(D("0.005")) == D("0.01") and to_cents(D("-0.005")) == D("-0.01")
    assert to_cents(D("2.344999")) == D("2.34")


@given(st.decimals(min_value=-MAX_MONEY, max_value=MAX_MONEY, allow_nan=False, allow_infinity=False, places=6))
def test_parse_money_never_moves_an_amount_more_than_half_a_unit(value):
    parsed = parse_money(str(value))
    assert abs(parsed - value) <= D("0.00005") and parsed == to_money(value)
