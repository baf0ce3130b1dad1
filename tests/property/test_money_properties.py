"""Property tests: parsing and formatting round-trip, splitting never loses a unit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core_banking.domain.errors import InvalidAmount
from core_banking.domain.money import (
    MAX_AMOUNT_MINOR,
    Currency,
    Money,
    all_currencies,
    parse_amount,
    split_by_ratio,
)

currencies = st.sampled_from(all_currencies())
valid_amounts = st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR - 1)
any_minor = st.integers(min_value=-(10**20), max_value=10**20)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
    any
)


@given(unit=currencies, minor=valid_amounts)
def test_formatted_amounts_parse_back_to_themselves(unit: Currency, minor: int) -> None:
    assert parse_amount(Money.of(minor, unit).amount_string(), unit) == minor


@given(unit=currencies, minor=valid_amounts, digit=st.sampled_from("0123456789"))
def test_one_decimal_too_many_is_always_refused(unit: Currency, minor: int, digit: str) -> None:
    text = Money.of(minor, unit).amount_string()
    too_precise = text + ("." if unit.minor_units == 0 else "") + digit
    with pytest.raises(InvalidAmount):
        parse_amount(too_precise, unit)


@given(total=any_minor, weights=weight_lists)
def test_split_parts_add_up_and_stay_within_a_unit_of_the_exact_share(
    total: int, weights: list[int]
) -> None:
    parts = split_by_ratio(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(total * weight, weight_sum)) < 1


@given(unit=currencies, a=any_minor, b=any_minor, c=any_minor)
def test_addition_is_associative(unit: Currency, a: int, b: int, c: int) -> None:
    x, y, z = Money.of(a, unit), Money.of(b, unit), Money.of(c, unit)
    assert (x + y) + z == x + (y + z)


@given(unit=currencies, a=any_minor, b=any_minor)
def test_addition_is_commutative(unit: Currency, a: int, b: int) -> None:
    x, y = Money.of(a, unit), Money.of(b, unit)
    assert x + y == y + x
