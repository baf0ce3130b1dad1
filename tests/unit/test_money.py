"""Unit tests for the currency table and for money parsing, formatting and arithmetic."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

import pytest

from core_banking.domain.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency
from core_banking.domain.iso4217 import ACTIVE_CURRENCIES
from core_banking.domain.money import (
    MAX_AMOUNT_MINOR,
    Currency,
    Money,
    all_currencies,
    currency,
    parse_amount,
    split_by_ratio,
)

USD = currency("USD")
EUR = currency("EUR")
JPY = currency("JPY")
BHD = currency("BHD")
CLF = currency("CLF")


# fmt: off
ZERO_DECIMAL_CODES = [
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
    "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
]
# fmt: on


def exact(value: Decimal) -> tuple[object, ...]:
    """A Decimal's sign, digits and exponent, so that 100.00 and 100 compare unequal."""
    return tuple(value.as_tuple())


# ------------------------------------------------------------------------ the ISO table


def test_codes_are_unique_three_upper_case_ascii_letters() -> None:
    codes = [entry.code for entry in ACTIVE_CURRENCIES]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z]{3}", code, re.ASCII) for code in codes)


def test_numeric_codes_are_unique_three_digit_strings() -> None:
    numerics = [entry.numeric for entry in ACTIVE_CURRENCIES]
    assert len(numerics) == len(set(numerics))
    assert all(re.fullmatch(r"[0-9]{3}", numeric, re.ASCII) for numeric in numerics)


def test_minor_units_are_whole_exponents_iso_uses() -> None:
    assert {entry.minor_units for entry in ACTIVE_CURRENCIES} == {0, 2, 3, 4}


def test_names_are_present_and_trimmed() -> None:
    assert all(entry.name and entry.name == entry.name.strip() for entry in ACTIVE_CURRENCIES)


def test_table_is_in_code_order_and_all_currencies_follows_it() -> None:
    codes = [entry.code for entry in ACTIVE_CURRENCIES]
    assert codes == sorted(codes)
    assert [c.code for c in all_currencies()] == codes


@pytest.mark.parametrize(
    ("exponent", "codes"),
    [
        (3, ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]),
        (0, ZERO_DECIMAL_CODES),
        (4, ["CLF", "UYW"]),
    ],
)
def test_currencies_without_two_decimals(exponent: int, codes: list[str]) -> None:
    assert all(currency(code).minor_units == exponent for code in codes)
    others = {c.code for c in all_currencies() if c.minor_units == exponent}
    assert others == set(codes)


@pytest.mark.parametrize(
    ("code", "numeric"),
    [
        ("USD", "840"),
        ("EUR", "978"),
        ("ALL", "008"),
        ("XCG", "532"),
        ("ZWG", "924"),
        ("SLE", "925"),
        ("VES", "928"),
        ("VED", "926"),
        ("MRU", "929"),
        ("STN", "930"),
    ],
)
def test_current_currencies_are_present(code: str, numeric: str) -> None:
    found = currency(code)
    assert found.numeric == numeric
    assert found.minor_units == 2
    assert not found.is_fund


@pytest.mark.parametrize(
    "code",
    ["HRK", "SLL", "ANG", "CUC", "ZWL", "VEF", "MRO", "STD", "BGN", "BYR", "LTL", "DEM"],
)
def test_withdrawn_currencies_are_absent(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        currency(code)


@pytest.mark.parametrize(
    "code",
    ["XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"],
)
def test_codes_without_minor_units_are_absent(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        currency(code)


@pytest.mark.parametrize(
    "code", ["BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW", "XAD"]
)
def test_fund_codes_are_kept_and_marked(code: str) -> None:
    assert currency(code).is_fund


def test_circulating_currencies_are_not_funds() -> None:
    assert not any(c.is_fund for c in (USD, EUR, JPY, BHD))


# ------------------------------------------------------------------------ currency lookup


def test_currency_describes_itself() -> None:
    assert currency("USD") == Currency("USD", "840", 2, "US Dollar", is_fund=False)


@pytest.mark.parametrize(
    ("code", "smallest"),
    [("USD", "0.01"), ("JPY", "1"), ("BHD", "0.001"), ("CLF", "0.0001")],
)
def test_smallest_unit(code: str, smallest: str) -> None:
    assert exact(currency(code).smallest_unit) == exact(Decimal(smallest))


@pytest.mark.parametrize(
    "code",
    [
        "usd",
        "Usd",
        " USD",
        "USD ",
        "US",
        "USDD",
        "",
        "ABC",
        "\uff35\uff33\uff24",
        840,
        None,
        b"USD",
        ["USD"],
    ],
)
def test_currency_refuses_anything_but_an_exact_active_code(code: object) -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency(code)  # type: ignore[arg-type]
    assert caught.value.context["currency"] == repr(code)[:40]


# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("1", "USD", 100),
        ("1.5", "USD", 150),
        ("1.50", "USD", 150),
        ("0.05", "USD", 5),
        ("0.5", "USD", 50),
        ("100.25", "USD", 10025),
        ("10", "USD", 1000),
        ("9999999999999.99", "USD", MAX_AMOUNT_MINOR - 1),
        ("1", "JPY", 1),
        ("1250", "JPY", 1250),
        ("999999999999999", "JPY", MAX_AMOUNT_MINOR - 1),
        ("1.250", "BHD", 1250),
        ("1.25", "BHD", 1250),
        ("0.001", "BHD", 1),
        ("1.2345", "CLF", 12345),
        ("0.0001", "UYW", 1),
    ],
)
def test_parse_accepts_plain_decimals(text: str, code: str, minor: int) -> None:
    assert parse_amount(text, code) == minor
    assert parse_amount(text, currency(code)) == minor


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "USD"),
        (" ", "USD"),
        (" 1", "USD"),
        ("1 ", "USD"),
        ("1\n", "USD"),
        ("\t1", "USD"),
        ("1 000", "USD"),
        ("1. 5", "USD"),
        ("+1", "USD"),
        ("-1", "USD"),
        ("-0.05", "USD"),
        ("007", "USD"),
        ("00", "USD"),
        ("00.5", "USD"),
        (".5", "USD"),
        ("5.", "USD"),
        ("1..5", "USD"),
        ("1.2.3", "USD"),
        ("1_000", "USD"),
        ("1e3", "USD"),
        ("1E3", "USD"),
        ("1.5e1", "USD"),
        ("0x10", "USD"),
        ("NaN", "USD"),
        ("nan", "USD"),
        ("Infinity", "USD"),
        ("inf", "USD"),
        ("1,000", "USD"),
        ("1,50", "USD"),
        ("\u0661\u0662\u0663", "USD"),  # Arabic-Indic digits
        ("\uff11\uff12", "USD"),  # full-width digits
        ("1\u00b2", "USD"),  # superscript two
        ("1.234", "USD"),
        ("1.000", "USD"),
        ("100.00", "JPY"),
        ("100.0", "JPY"),
        ("1.2345", "BHD"),
        ("1.23456", "CLF"),
        ("0", "USD"),
        ("0.00", "USD"),
        ("0", "JPY"),
        ("10000000000000", "USD"),
        ("10000000000000.00", "USD"),
        ("1000000000000000", "JPY"),
        ("99999999999999999999", "JPY"),
        ("1" * 41, "USD"),
        ("0." + "0" * 39 + "1", "USD"),
    ],
)
def test_parse_refuses(text: str, code: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(text, code)
    assert caught.value.context == {"amount": repr(text)[:40], "currency": code}


@pytest.mark.parametrize("value", [100, 1.5, Decimal("1.50"), None, b"1.00", ["1"]])
def test_parse_refuses_anything_but_a_string(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(value, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["usd", "XAU", "HRK", ""])
def test_parse_refuses_unknown_currency(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        parse_amount("1.00", code)


def test_over_long_text_is_refused_for_its_length() -> None:
    with pytest.raises(InvalidAmount, match="at most 40 characters"):
        parse_amount("1" * 41, "USD")


def test_zero_is_accepted_only_when_allowed() -> None:
    assert parse_amount("0", "USD", allow_zero=True) == 0
    assert parse_amount("0.00", "USD", allow_zero=True) == 0
    assert parse_amount("0", "JPY", allow_zero=True) == 0
    with pytest.raises(InvalidAmount):
        parse_amount("0.000", "USD", allow_zero=True)


# -------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [
        (10000, "USD", "100.00"),
        (10025, "USD", "100.25"),
        (5, "USD", "0.05"),
        (0, "USD", "0.00"),
        (-5, "USD", "-0.05"),
        (-10025, "USD", "-100.25"),
        (1250, "JPY", "1250"),
        (0, "JPY", "0"),
        (-1250, "JPY", "-1250"),
        (1250, "BHD", "1.250"),
        (5, "BHD", "0.005"),
        (-1, "BHD", "-0.001"),
        (12345, "CLF", "1.2345"),
        (-1, "CLF", "-0.0001"),
        (10**20, "USD", "1000000000000000000.00"),
    ],
)
def test_amount_string_and_str(minor: int, code: str, text: str) -> None:
    money = Money.of(minor, code)
    assert money.amount_string() == text
    assert str(money) == f"{text} {code}"


@pytest.mark.parametrize(
    ("minor", "code", "decimal"),
    [
        (10000, "USD", "100.00"),
        (-5, "USD", "-0.05"),
        (0, "USD", "0.00"),
        (5, "JPY", "5"),
        (1250, "BHD", "1.250"),
        (12345, "CLF", "1.2345"),
        (10**40 + 1, "USD", "100000000000000000000000000000000000000.01"),
    ],
)
def test_to_decimal_is_exact_with_the_currency_exponent(
    minor: int, code: str, decimal: str
) -> None:
    assert exact(Money.of(minor, code).to_decimal()) == exact(Decimal(decimal))


# ------------------------------------------------------------------------- construction


def test_of_and_parse_agree() -> None:
    assert Money.parse("100.25", "USD") == Money.of(10025, USD) == Money(10025, USD)
    assert Money.parse("0", "USD", allow_zero=True) == Money.of(0, "USD")


def test_parse_keeps_every_refusal() -> None:
    with pytest.raises(InvalidAmount):
        Money.parse("1.234", "USD")
    with pytest.raises(UnknownCurrency):
        Money.parse("1.23", "usd")


def test_of_refuses_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency):
        Money.of(1, "usd")


@pytest.mark.parametrize("minor", [True, False, 1.0, Decimal(1), "1", None])
def test_money_counts_only_ints(minor: object) -> None:
    with pytest.raises(TypeError):
        Money(minor, USD)  # type: ignore[arg-type]


def test_money_needs_a_currency_object() -> None:
    with pytest.raises(TypeError):
        Money(1, "USD")  # type: ignore[arg-type]


def test_balances_may_exceed_the_single_amount_bound() -> None:
    assert Money.of(MAX_AMOUNT_MINOR * 1000, "USD").minor == MAX_AMOUNT_MINOR * 1000
    assert Money.of(-MAX_AMOUNT_MINOR, "USD").is_negative


def test_money_is_immutable_and_hashable() -> None:
    money = Money.of(1, USD)
    with pytest.raises(AttributeError):
        money.minor = 2  # type: ignore[misc]
    assert {money, Money.of(1, "USD")} == {money}


# ----------------------------------------------------------------------- from_decimal


@pytest.mark.parametrize(
    ("value", "code", "minor"),
    [
        ("1.25", "USD", 125),
        ("1.500", "USD", 150),
        ("1E+2", "USD", 10000),
        ("-0.05", "USD", -5),
        ("0", "USD", 0),
        ("-0", "USD", 0),
        ("1250", "JPY", 1250),
        ("1.250", "BHD", 1250),
        ("1.2345", "CLF", 12345),
    ],
)
def test_from_decimal_exact(value: str, code: str, minor: int) -> None:
    assert Money.from_decimal(Decimal(value), code) == Money.of(minor, code)


@pytest.mark.parametrize(
    ("value", "code"),
    [("1.005", "USD"), ("0.001", "USD"), ("2.5", "JPY"), ("1.0005", "BHD"), ("1E-30", "USD")],
)
def test_from_decimal_refuses_to_round_unasked(value: str, code: str) -> None:
    with pytest.raises(InvalidAmount, match="decimal places"):
        Money.from_decimal(Decimal(value), code)


@pytest.mark.parametrize(
    ("value", "code", "rounding", "minor"),
    [
        ("1.005", "USD", ROUND_HALF_EVEN, 100),
        ("1.015", "USD", ROUND_HALF_EVEN, 102),
        ("1.005", "USD", ROUND_HALF_UP, 101),
        ("-1.005", "USD", ROUND_HALF_UP, -101),
        ("2.5", "JPY", ROUND_HALF_EVEN, 2),
        ("3.5", "JPY", ROUND_HALF_EVEN, 4),
        ("1.0005", "BHD", ROUND_HALF_EVEN, 1000),
        ("1.25", "USD", ROUND_HALF_EVEN, 125),
    ],
)
def test_from_decimal_rounds_when_asked(value: str, code: str, rounding: str, minor: int) -> None:
    assert Money.from_decimal(Decimal(value), code, rounding=rounding).minor == minor


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_from_decimal_refuses_non_finite(value: str) -> None:
    with pytest.raises(InvalidAmount, match="finite"):
        Money.from_decimal(Decimal(value), "USD", rounding=ROUND_HALF_EVEN)


def test_from_decimal_refuses_values_too_large_to_convert() -> None:
    with pytest.raises(InvalidAmount, match="too large"):
        Money.from_decimal(Decimal("1E+100"), "USD", rounding=ROUND_HALF_EVEN)


def test_from_decimal_refuses_floats() -> None:
    with pytest.raises(TypeError):
        Money.from_decimal(1.5, "USD")  # type: ignore[arg-type]


def test_from_decimal_ignores_the_ambient_decimal_context() -> None:
    with localcontext() as context:
        context.prec = 2
        context.rounding = ROUND_HALF_UP
        assert Money.from_decimal(Decimal("12345.67"), "USD").minor == 1234567
        rounded = Money.from_decimal(Decimal("0.125"), "USD", rounding=ROUND_HALF_EVEN)
        assert rounded.minor == 12


# ------------------------------------------------------------------ arithmetic and order


def test_addition_subtraction_and_negation() -> None:
    a, b = Money.of(1050, USD), Money.of(-25, USD)
    assert a + b == Money.of(1025, USD)
    assert a - b == Money.of(1075, USD)
    assert -a == Money.of(-1050, USD)
    assert -Money.of(0, USD) == Money.of(0, USD)


def test_ordering_within_one_currency() -> None:
    small, large = Money.of(1, USD), Money.of(2, USD)
    assert small < large
    assert small <= large
    assert small <= Money.of(1, USD)
    assert large > small
    assert large >= small
    assert large >= Money.of(2, USD)
    assert not large < small


def test_sign_properties() -> None:
    assert Money.of(0, USD).is_zero
    assert Money.of(1, USD).is_positive
    assert Money.of(-1, USD).is_negative
    assert not Money.of(0, USD).is_positive
    assert not Money.of(0, USD).is_negative


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "sub", "lt", "le", "gt", "ge"],
)
def test_mixing_currencies_is_refused(operation: Callable[[Money, Money], object]) -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        operation(Money.of(1, USD), Money.of(1, EUR))
    assert caught.value.context == {"currency": "USD", "other_currency": "EUR"}


def test_equality_across_currencies_is_simply_false() -> None:
    assert Money.of(1, USD) != Money.of(1, EUR)


def test_money_does_not_mix_with_plain_numbers() -> None:
    money = Money.of(1, USD)
    with pytest.raises(TypeError):
        _ = money + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = money < 2  # type: ignore[operator]


# ---------------------------------------------------------------------------- splitting


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (10, [0, 1], [0, 10]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (0, [1, 2], [0, 0]),
        (5, [1], [5]),
        (101, [1, 1], [51, 50]),
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (7, [2, 3, 5], [1, 2, 4]),
        (100, [1, 0, 1], [50, 0, 50]),
        (3, [0, 1, 0, 1], [0, 2, 0, 1]),
        (1000, [333, 333, 334], [333, 333, 334]),
    ],
)
def test_split_by_ratio(total: int, weights: list[int], parts: list[int]) -> None:
    assert split_by_ratio(total, weights) == parts
    assert sum(parts) == total


@pytest.mark.parametrize("weights", [[], [0], [0, 0], [-1, 2], [1.5, 1], [True, 1], ["1"]])
def test_split_by_ratio_refuses_bad_weights(weights: list[object]) -> None:
    with pytest.raises(ValueError, match="weight"):
        split_by_ratio(100, weights)  # type: ignore[arg-type]


def test_split_by_ratio_needs_an_int_total() -> None:
    with pytest.raises(TypeError):
        split_by_ratio(1.5, [1, 1])  # type: ignore[arg-type]
