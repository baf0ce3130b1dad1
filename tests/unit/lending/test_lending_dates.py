"""Due dates: anchored month-end rolling, weekly and bi-weekly steps."""

from __future__ import annotations

from datetime import date

import pytest

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending.dates import RepaymentFrequency, add_months, due_dates


def test_january_31_rolls_to_the_end_of_february_and_back_to_31() -> None:
    assert due_dates(date(2023, 1, 31), RepaymentFrequency.MONTHLY, 6) == (
        date(2023, 1, 31),
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
        date(2023, 5, 31),
        date(2023, 6, 30),
    )


def test_leap_february_gets_the_29th() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 30), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 29), 13) == date(2025, 2, 28)


def test_months_cross_years_both_ways() -> None:
    assert add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 15), -13) == date(2022, 12, 15)


def test_weekly_and_biweekly_step_seven_and_fourteen_days() -> None:
    assert due_dates(date(2024, 2, 26), RepaymentFrequency.WEEKLY, 3) == (
        date(2024, 2, 26),
        date(2024, 3, 4),
        date(2024, 3, 11),
    )
    assert due_dates(date(2024, 12, 20), RepaymentFrequency.BIWEEKLY, 3) == (
        date(2024, 12, 20),
        date(2025, 1, 3),
        date(2025, 1, 17),
    )


@pytest.mark.parametrize("count", [0, -1, 1201, True])
def test_a_schedule_has_one_to_1200_installments(count: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        due_dates(date(2024, 1, 1), RepaymentFrequency.MONTHLY, count)
    assert raised.value.context["field"] == "installments"
