"""Which posting frequencies end a period on a date: the last day of every month, of each
quarter, of the year; never a term deposit's maturity."""

from __future__ import annotations

from datetime import date

import pytest

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending.deposit_products import InterestPostingFrequency
from core_banking.domain.lending.interest_posting import frequencies_due

MONTHLY = InterestPostingFrequency.MONTHLY
QUARTERLY = InterestPostingFrequency.QUARTERLY
ANNUALLY = InterestPostingFrequency.ANNUALLY


@pytest.mark.parametrize(
    ("day", "due"),
    [
        (date(2030, 1, 30), set()),
        (date(2030, 1, 31), {MONTHLY}),
        (date(2030, 2, 28), {MONTHLY}),  # not a leap year
        (date(2032, 2, 28), set()),  # a leap year: the 29th ends February
        (date(2032, 2, 29), {MONTHLY}),
        (date(2030, 3, 31), {MONTHLY, QUARTERLY}),
        (date(2030, 4, 30), {MONTHLY}),
        (date(2030, 6, 30), {MONTHLY, QUARTERLY}),
        (date(2030, 9, 30), {MONTHLY, QUARTERLY}),
        (date(2030, 11, 30), {MONTHLY}),
        (date(2030, 12, 31), {MONTHLY, QUARTERLY, ANNUALLY}),
        (date(2030, 12, 30), set()),
        (date(2031, 1, 1), set()),
    ],
)
def test_the_frequencies_whose_period_ends_on_a_date(day, due):
    assert frequencies_due(day) == due


def test_maturity_is_never_due_by_the_calendar():
    first, last = date(2030, 1, 1).toordinal(), date(2040, 1, 1).toordinal()
    every_day = [date.fromordinal(n) for n in range(first, last)]
    assert len(every_day) == 3652
    assert all(InterestPostingFrequency.AT_MATURITY not in frequencies_due(d) for d in every_day)


def test_a_date_is_required():
    with pytest.raises(InvalidInput):
        frequencies_due("2030-01-31")  # type: ignore[arg-type]
