"""Day count conventions: how many days a period has, and what fraction of a year that is.

Interest for a period is ``principal x annual rate x year fraction``; the convention decides
the year fraction. Results are exact :class:`~fractions.Fraction` values (31/360 stays 31/360),
so the rounding happens once, where an amount is finally produced.

The conventions and the rules they follow (2006 ISDA Definitions, Section 4.16):

``ACTUAL_365_FIXED`` -- "Actual/365 (Fixed)", 4.16(d): the actual number of days in the
    period divided by 365, leap year or not.
``ACTUAL_360`` -- "Actual/360", 4.16(e): the actual number of days divided by 360.
``THIRTY_360`` -- "30/360", "360/360" or "Bond Basis", 4.16(f)::

        days = 360 x (Y2 - Y1) + 30 x (M2 - M1) + (D2 - D1)
        D1: the first day of the period, but 30 if that day is the 31st;
        D2: the day after the last day of the period (the end date), but 30 if that
            day is the 31st and D1 is greater than 29.

    This is the variant called "30/360 (ISDA)" or "Bond Basis"; it is *not* the US/NASD
    (SIA) variant with its extra end-of-February rules, and not 30E/360 (ISDA), 4.16(h),
    which needs the termination date. The fraction is days / 360.
``THIRTY_E_360`` -- "30E/360" or "Eurobond Basis", 4.16(g): the same formula, but D1 and
    D2 each become 30 when they are the 31st, whatever the other is.

A period runs from its start date (included) to its end date (excluded), so a one-day period
is ``(day, day + 1)``. For the two actual conventions and for 30E/360, day counts add up
(the days of a month are the sum of its daily day counts); for Bond Basis they need not,
because the D2 rule looks at D1 (15 Jan -> 31 Jan is 16 days, but 15 Jan -> 30 Jan is 15
days and 30 Jan -> 31 Jan is 0). Daily accrual therefore states its convention per day.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from fractions import Fraction

from core_banking.domain.errors import InvalidInput


class DayCount(StrEnum):
    ACTUAL_365_FIXED = "actual/365f"
    ACTUAL_360 = "actual/360"
    THIRTY_360 = "30/360"
    THIRTY_E_360 = "30e/360"

    @property
    def days_in_year(self) -> int:
        """The denominator of the year fraction."""
        return 365 if self is DayCount.ACTUAL_365_FIXED else 360


def day_count_days(convention: DayCount, start: date, end: date) -> int:
    """The days from ``start`` (included) to ``end`` (excluded) under ``convention``."""
    if end < start:
        raise InvalidInput("a period cannot end before it starts", field="end")
    if convention in (DayCount.ACTUAL_365_FIXED, DayCount.ACTUAL_360):
        return (end - start).days
    first_day, last_day = start.day, end.day
    if convention is DayCount.THIRTY_360:
        if first_day == 31:
            first_day = 30
        if last_day == 31 and first_day > 29:
            last_day = 30
    else:
        first_day, last_day = min(first_day, 30), min(last_day, 30)
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + last_day - first_day


def year_fraction(convention: DayCount, start: date, end: date) -> Fraction:
    """The exact fraction of a year from ``start`` to ``end``: days / days in the year."""
    return Fraction(day_count_days(convention, start, end), convention.days_in_year)
