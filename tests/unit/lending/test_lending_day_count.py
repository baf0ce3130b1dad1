"""Day counts against the published ISDA examples.

The expected day counts are ISDA's own worked examples of the 2006 ISDA Definitions,
Section 4.16 (f) "30/360" (Bond Basis) and 4.16 (g) "30E/360" (Eurobond Basis), from the
spreadsheet ISDA publishes with them: "30-360-2006ISDADefs.xls",
https://www.isda.org/2008/12/22/30-360-day-count-conventions/ (Examples 1, 2 and 3 of each
sheet). The Actual/360 and Actual/365 (Fixed) figures are calendar days, counted here by
hand in the comments.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending.day_count import DayCount, day_count_days, year_fraction

D = date

# (start, end, ISDA's Bond Basis day count)
BOND_BASIS_EXAMPLES = [
    # Example 1: end dates do not involve the last day of February
    (D(2006, 8, 20), D(2007, 2, 20), 180),
    (D(2007, 2, 20), D(2007, 8, 20), 180),
    (D(2007, 8, 20), D(2008, 2, 20), 180),
    (D(2008, 2, 20), D(2008, 8, 20), 180),
    (D(2008, 8, 20), D(2009, 2, 20), 180),
    (D(2009, 2, 20), D(2009, 8, 20), 180),
    # Example 2: end dates include some end-February dates
    (D(2006, 8, 31), D(2007, 2, 28), 178),
    (D(2007, 2, 28), D(2007, 8, 31), 183),
    (D(2007, 8, 31), D(2008, 2, 29), 179),
    (D(2008, 2, 29), D(2008, 8, 31), 182),
    (D(2008, 8, 31), D(2009, 2, 28), 178),
    (D(2009, 2, 28), D(2009, 8, 31), 183),
    # Example 3: miscellaneous calculations
    (D(2006, 1, 31), D(2006, 2, 28), 28),
    (D(2006, 1, 30), D(2006, 2, 28), 28),
    (D(2006, 2, 28), D(2006, 3, 3), 5),
    (D(2006, 2, 14), D(2006, 2, 28), 14),
    (D(2006, 9, 30), D(2006, 10, 31), 30),
    (D(2006, 10, 31), D(2006, 11, 28), 28),
    (D(2007, 8, 31), D(2008, 2, 28), 178),
    (D(2008, 2, 28), D(2008, 8, 28), 180),
    (D(2008, 2, 28), D(2008, 8, 30), 182),
    (D(2008, 2, 28), D(2008, 8, 31), 183),
    (D(2007, 2, 26), D(2008, 2, 28), 362),
    (D(2007, 2, 26), D(2008, 2, 29), 363),
    (D(2008, 2, 29), D(2009, 2, 28), 359),
    (D(2008, 2, 28), D(2008, 3, 30), 32),
    (D(2008, 2, 28), D(2008, 3, 31), 33),
]

# (start, end, ISDA's 30E/360 day count)
EUROBOND_BASIS_EXAMPLES = [
    # Example 1
    (D(2006, 8, 20), D(2007, 2, 20), 180),
    (D(2007, 2, 20), D(2007, 8, 20), 180),
    (D(2007, 8, 20), D(2008, 2, 20), 180),
    (D(2008, 2, 20), D(2008, 8, 20), 180),
    (D(2008, 8, 20), D(2009, 2, 20), 180),
    (D(2009, 2, 20), D(2009, 8, 20), 180),
    # Example 2
    (D(2006, 2, 28), D(2006, 8, 31), 182),
    (D(2006, 8, 31), D(2007, 2, 28), 178),
    (D(2007, 2, 28), D(2007, 8, 31), 182),
    (D(2007, 8, 31), D(2008, 2, 29), 179),
    (D(2008, 2, 29), D(2008, 8, 31), 181),
    (D(2008, 8, 31), D(2009, 2, 28), 178),
    (D(2009, 2, 28), D(2009, 8, 31), 182),
    (D(2009, 8, 31), D(2010, 2, 28), 178),
    (D(2010, 2, 28), D(2010, 8, 31), 182),
    (D(2010, 8, 31), D(2011, 2, 28), 178),
    (D(2011, 2, 28), D(2011, 8, 31), 182),
    (D(2011, 8, 31), D(2012, 2, 29), 179),
    # Example 3
    (D(2006, 1, 31), D(2006, 2, 28), 28),
    (D(2006, 1, 30), D(2006, 2, 28), 28),
    (D(2006, 2, 28), D(2006, 3, 3), 5),
    (D(2006, 2, 14), D(2006, 2, 28), 14),
    (D(2006, 9, 30), D(2006, 10, 31), 30),
    (D(2006, 10, 31), D(2006, 11, 28), 28),
    (D(2007, 8, 31), D(2008, 2, 28), 178),
    (D(2008, 2, 28), D(2008, 8, 28), 180),
    (D(2008, 2, 28), D(2008, 8, 30), 182),
    (D(2008, 2, 28), D(2008, 8, 31), 182),
    (D(2007, 2, 26), D(2008, 2, 28), 362),
    (D(2007, 2, 26), D(2008, 2, 29), 363),
    (D(2008, 2, 29), D(2009, 2, 28), 359),
    (D(2008, 2, 28), D(2008, 3, 30), 32),
    (D(2008, 2, 28), D(2008, 3, 31), 32),
]


@pytest.mark.parametrize(("start", "end", "days"), BOND_BASIS_EXAMPLES)
def test_thirty_360_bond_basis_matches_isda(start: date, end: date, days: int) -> None:
    assert day_count_days(DayCount.THIRTY_360, start, end) == days
    assert year_fraction(DayCount.THIRTY_360, start, end) == Fraction(days, 360)


@pytest.mark.parametrize(("start", "end", "days"), EUROBOND_BASIS_EXAMPLES)
def test_thirty_e_360_matches_isda(start: date, end: date, days: int) -> None:
    assert day_count_days(DayCount.THIRTY_E_360, start, end) == days
    assert year_fraction(DayCount.THIRTY_E_360, start, end) == Fraction(days, 360)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (D(2007, 1, 15), D(2007, 1, 30), 15),
        (D(2007, 1, 15), D(2007, 2, 15), 31),  # all of January's 31 days
        (D(2007, 1, 15), D(2007, 7, 15), 181),  # 17+28+31+30+31+30+14
        (D(2007, 9, 30), D(2008, 3, 31), 183),  # across 29 February 2008
        (D(2008, 2, 29), D(2009, 2, 28), 365),
        (D(2007, 2, 26), D(2008, 2, 29), 368),
    ],
)
def test_actual_conventions_count_calendar_days(start: date, end: date, days: int) -> None:
    assert day_count_days(DayCount.ACTUAL_360, start, end) == days
    assert day_count_days(DayCount.ACTUAL_365_FIXED, start, end) == days
    assert year_fraction(DayCount.ACTUAL_360, start, end) == Fraction(days, 360)
    assert year_fraction(DayCount.ACTUAL_365_FIXED, start, end) == Fraction(days, 365)


def test_actual_365_fixed_divides_a_leap_year_by_365() -> None:
    assert year_fraction(DayCount.ACTUAL_365_FIXED, D(2024, 1, 1), D(2025, 1, 1)) == Fraction(
        366, 365
    )


def test_the_bond_basis_d2_rule_depends_on_d1() -> None:
    # 4.16(f): D2 = 31 becomes 30 only when D1 is 30 or 31.
    assert day_count_days(DayCount.THIRTY_360, D(2024, 1, 15), D(2024, 1, 31)) == 16
    assert day_count_days(DayCount.THIRTY_360, D(2024, 1, 30), D(2024, 1, 31)) == 0
    # 4.16(g): always 30.
    assert day_count_days(DayCount.THIRTY_E_360, D(2024, 1, 15), D(2024, 1, 31)) == 15


def test_a_30_360_month_of_daily_fractions_is_thirty_days() -> None:
    for convention in (DayCount.THIRTY_E_360, DayCount.THIRTY_360):
        days = [
            day_count_days(convention, D(2023, 2, day), D(2023, 2, day) + timedelta(days=1))
            for day in range(1, 29)
        ]
        assert sum(days) == 30  # 27 days of one, and 28 February counts 3


@pytest.mark.parametrize("convention", list(DayCount))
def test_a_period_cannot_end_before_it_starts(convention: DayCount) -> None:
    with pytest.raises(InvalidInput):
        day_count_days(convention, D(2024, 2, 2), D(2024, 2, 1))
    assert day_count_days(convention, D(2024, 2, 1), D(2024, 2, 1)) == 0
