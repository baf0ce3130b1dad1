"""Rates, tiers, the compounding base, daily accrual and posting with a residue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from core_banking.domain.errors import InvalidAmount, InvalidInput
from core_banking.domain.lending.accrual import (
    accrual_decimals,
    daily_accrual,
    post_accrual,
    sum_accruals,
)
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.rates import (
    Compounding,
    FixedRate,
    RateTier,
    TieredRate,
    TierMethod,
    accrual_base,
    parse_annual_rate,
)
from core_banking.domain.lending.rounding import (
    quantize_half_even,
    round_down,
    round_half_even,
    round_up,
)
from core_banking.domain.money import currency

USD, JPY, BHD = currency("USD"), currency("JPY"), currency("BHD")
FIVE_PERCENT = FixedRate(Decimal("0.05"))


# ---------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("value", "even", "down", "up"),
    [
        (Fraction(5, 2), 2, 2, 3),
        (Fraction(7, 2), 4, 3, 4),
        (Fraction(-5, 2), -2, -2, -2),
        (Fraction(-7, 2), -4, -3, -3),
        (Fraction(26, 10), 3, 2, 3),
        (Fraction(-26, 10), -3, -2, -2),
        (Fraction(3), 3, 3, 3),
    ],
)
def test_the_rounding_rules(value: Fraction, even: int, down: int, up: int) -> None:
    assert round_half_even(value) == even
    assert round_down(value) == down
    assert round_up(value) == up


def test_quantize_keeps_exactly_the_decimals_asked_for() -> None:
    assert quantize_half_even(Fraction(1, 8), 2) == Decimal("0.12")
    assert quantize_half_even(Fraction(3, 8), 2) == Decimal("0.38")
    assert (
        str(quantize_half_even(Fraction(10**30 + 1, 3), 4)) == "333333333333333333333333333333.6667"
    )


# -------------------------------------------------------------------------------- rates


@pytest.mark.parametrize(("text", "rate"), [("0.0525", "0.0525"), ("0", "0"), ("10", "10")])
def test_rates_parse_from_plain_decimal_text(text: str, rate: str) -> None:
    assert parse_annual_rate(text) == Decimal(rate)


@pytest.mark.parametrize(
    "text",
    [
        "5%",
        "-0.01",
        "1e-2",
        " 0.05",
        "0.05 ",
        ".05",
        "010",
        "10.0000000001",
        "0.00000000001",
        "NaN",
        "",
    ],
)
def test_anything_but_a_plain_bounded_decimal_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_annual_rate(text)
    assert raised.value.context["field"] == "annual_rate"


def test_a_float_rate_is_refused_everywhere() -> None:
    with pytest.raises(InvalidInput):
        parse_annual_rate(0.05)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as raised:
        FixedRate(0.05)  # type: ignore[arg-type]
    assert raised.value.context["field"] == "annual_rate"


TIERS = (RateTier(0, Decimal("0.01")), RateTier(1_000_000, Decimal("0.02")))


def test_banded_tiers_charge_each_band_at_its_rate() -> None:
    # 15,000.00 = 10,000.00 at 1 % + 5,000.00 at 2 % = 100.00 + 100.00 a year.
    banded = TieredRate(TIERS, TierMethod.BANDED)
    assert banded.yearly_interest(Fraction(1_500_000)) == 20_000
    assert banded.yearly_interest(Fraction(1_000_000)) == 10_000
    assert banded.yearly_interest(Fraction(0)) == 0


def test_whole_tiers_charge_the_whole_balance_at_the_tier_reached() -> None:
    whole = TieredRate(TIERS, TierMethod.WHOLE)
    assert whole.yearly_interest(Fraction(1_500_000)) == 30_000
    assert whole.yearly_interest(Fraction(999_999)) == Fraction(999_999, 100)
    assert whole.yearly_interest(Fraction(1_000_000)) == 20_000


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ((), "tiers"),
        ((RateTier(1, Decimal("0.01")),), "tiers"),
        ((RateTier(0, Decimal("0.01")), RateTier(0, Decimal("0.02"))), "tiers"),
        ([RateTier(0, Decimal("0.01"))], "tiers"),
    ],
)
def test_tiers_start_at_zero_and_increase(tiers: tuple[RateTier, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        TieredRate(tiers, TierMethod.BANDED)
    assert raised.value.context["field"] == field


def test_the_compounding_base() -> None:
    def base(compounding: Compounding) -> Fraction:
        return accrual_base(
            100_000,
            USD,
            compounding,
            credited_interest_minor=250,
            unposted_interest=Decimal("0.4567"),
        )

    assert base(Compounding.NONE) == 99_750
    assert base(Compounding.AT_POSTING) == 100_000
    assert base(Compounding.DAILY) == Fraction(10_004_567, 100)
    assert (
        accrual_base(
            -5, USD, Compounding.AT_POSTING, credited_interest_minor=0, unposted_interest=Decimal(0)
        )
        == 0
    )


# ------------------------------------------------------------------------------ accrual


def test_one_day_at_five_percent_actual_365() -> None:
    # 10,000.00 x 0.05 / 365 = 1.369863013... -> 1.3699 at 4 decimals.
    accrued = daily_accrual(
        Fraction(1_000_000), USD, FIVE_PERCENT, DayCount.ACTUAL_365_FIXED, date(2024, 3, 1), 4
    )
    assert accrued == Decimal("1.3699")
    assert accrued.as_tuple().exponent == -4


def test_one_day_at_five_percent_actual_360_keeps_the_precision_asked_for() -> None:
    # 10,000.00 x 0.05 / 360 = 1.38888... -> 1.388889 at 6 decimals.
    accrued = daily_accrual(
        Fraction(1_000_000), USD, FIVE_PERCENT, DayCount.ACTUAL_360, date(2024, 3, 1), 6
    )
    assert accrued == Decimal("1.388889")


@pytest.mark.parametrize("convention", [DayCount.THIRTY_360, DayCount.THIRTY_E_360])
def test_30_360_daily_accruals_make_every_month_thirty_days(convention: DayCount) -> None:
    # 36,000.00 at 5 % over 360 days is 5.00 a day.
    def on(day: date) -> Decimal:
        return daily_accrual(Fraction(3_600_000), USD, FIVE_PERCENT, convention, day, 4)

    assert on(date(2023, 1, 29)) == Decimal("5.0000")
    assert on(date(2023, 1, 30)) == Decimal("0.0000")  # 30th -> 31st: no day
    assert on(date(2023, 1, 31)) == Decimal("5.0000")
    assert on(date(2023, 2, 28)) == Decimal("15.0000")  # 28 Feb -> 1 Mar: three days
    assert on(date(2024, 2, 29)) == Decimal("10.0000")  # leap year: two days
    january = sum_accruals(on(date(2023, 1, day)) for day in range(1, 32))
    february = sum_accruals(on(date(2023, 2, day)) for day in range(1, 29))
    assert january == february == Decimal("150.0000")


def test_ties_round_half_to_even() -> None:
    # 0.73 USD x 0.05 / 365 ... pick an exact half instead: 1 cent at 0.5 x 1/360 per day is
    # 0.01 x 0.5 / 360 = 0.0000138888..., so use 36.00 USD at 0.05/360 = 0.005 exactly.
    half = daily_accrual(
        Fraction(3600), USD, FIVE_PERCENT, DayCount.ACTUAL_360, date(2024, 1, 1), 2
    )
    assert half == Decimal("0.00")  # 0.005 -> 0.00 (even), not 0.01
    odd = daily_accrual(
        Fraction(10800), USD, FIVE_PERCENT, DayCount.ACTUAL_360, date(2024, 1, 1), 2
    )
    assert odd == Decimal("0.02")  # 0.015 -> 0.02 (even)


def test_the_precision_never_drops_below_the_currencys_decimals() -> None:
    assert accrual_decimals(0, USD) == 2
    assert accrual_decimals(2, BHD) == 3
    assert accrual_decimals(4, JPY) == 4
    with pytest.raises(InvalidInput):
        accrual_decimals(19, USD)


def test_tiered_daily_accrual() -> None:
    banded = TieredRate(TIERS, TierMethod.BANDED)
    # 15,000.00 banded earns 200.00 a year; / 365 = 0.547945... -> 0.5479.
    assert daily_accrual(
        Fraction(1_500_000), USD, banded, DayCount.ACTUAL_365_FIXED, date(2024, 5, 5), 4
    ) == Decimal("0.5479")


def test_a_negative_base_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        daily_accrual(Fraction(-1), USD, FIVE_PERCENT, DayCount.ACTUAL_360, date(2024, 1, 1), 4)


# ------------------------------------------------------------------------------ posting


def test_posting_takes_whole_cents_and_carries_the_rest() -> None:
    first = post_accrual(Decimal("1.3699"), Decimal(0), USD)
    assert (first.posted_minor, first.residue) == (136, Decimal("0.0099"))
    second = post_accrual(Decimal("0.0002"), first.residue, USD)
    assert (second.posted_minor, second.residue) == (1, Decimal("0.0001"))


def test_posting_in_a_currency_without_decimals() -> None:
    posting = post_accrual(Decimal("41.9999"), Decimal("0.0001"), JPY)
    assert (posting.posted_minor, posting.residue) == (42, Decimal("0.0000"))


def test_thirty_days_of_accruals_post_without_losing_a_fraction() -> None:
    daily = [
        daily_accrual(
            Fraction(1_000_000), USD, FIVE_PERCENT, DayCount.ACTUAL_365_FIXED, date(2024, 4, day), 4
        )
        for day in range(1, 31)
    ]
    total = sum_accruals(daily)
    assert total == Decimal("41.0970")  # 30 x 1.3699
    posting = post_accrual(total, Decimal("0.0099"), USD)
    assert posting.posted_minor == 4110
    assert posting.residue == Decimal("0.0069")


@pytest.mark.parametrize(
    ("accrued", "residue"),
    [
        (Decimal("-0.01"), Decimal(0)),
        (Decimal(0), Decimal("-0.0001")),
        (Decimal("NaN"), Decimal(0)),
    ],
)
def test_posting_refuses_negative_or_non_finite_amounts(accrued: Decimal, residue: Decimal) -> None:
    with pytest.raises(InvalidAmount):
        post_accrual(accrued, residue, USD)
