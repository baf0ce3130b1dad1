"""Due dates: months that roll at month end, and weeks that do not.

A monthly schedule is anchored on the day of its first due date. Each due date is computed
from the anchor (never from the previous due date), and a day the month lacks becomes the
month's last day: a loan first due on 31 January is due on 28 (or 29) February, 31 March,
30 April, 31 May. Stepping from the previous date instead would drift to the 28th for good
after February, and the customer would pay earlier every month than the contract says.

Weekly and bi-weekly schedules are every 7 and 14 days after the first due date.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from enum import StrEnum

from core_banking.domain.lending._checks import require_int

MAX_INSTALLMENTS = 1200
"""Longest schedule: a hundred years of monthly installments, twenty-three of weekly ones."""


class RepaymentFrequency(StrEnum):
    MONTHLY = "monthly"
    BIWEEKLY = "biweekly"
    WEEKLY = "weekly"


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by ``months`` calendar months, keeping its day where the month has it
    and taking the month's last day where it does not (31 Jan + 1 month = 28/29 Feb)."""
    month_index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last_day))


def due_date(first_due: date, frequency: RepaymentFrequency, index: int) -> date:
    """The due date of installment ``index`` (0 is the first) of a schedule."""
    if frequency is RepaymentFrequency.MONTHLY:
        return add_months(first_due, index)
    step = 7 if frequency is RepaymentFrequency.WEEKLY else 14
    return first_due + timedelta(days=step * index)


def due_dates(first_due: date, frequency: RepaymentFrequency, count: int) -> tuple[date, ...]:
    """The first ``count`` due dates of a schedule starting on ``first_due``."""
    require_int(count, "installments", minimum=1, maximum=MAX_INSTALLMENTS)
    return tuple(due_date(first_due, frequency, index) for index in range(count))
