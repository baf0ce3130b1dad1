"""Deposit maintenance fees: the month-end close-of-business step.

The domain of the step is the calendar: it charges on the last business date of a month
(D where D + 1 is the 1st) and names the month by its first day; the storage does the
set-based work over every account (docs/close-of-business.md).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

from core_banking.ports import MaintenanceFeeBook, ProgressReport

MAINTENANCE_FEE_STEP: Final = "deposit_maintenance_fees"


def is_month_end(day: date) -> bool:
    """Whether ``day`` is the last day of its month."""
    return (day + timedelta(days=1)).day == 1


class DepositMaintenanceFees:
    """Close-of-business step: each deposit account's monthly maintenance fee, at month end."""

    name = MAINTENANCE_FEE_STEP

    def __init__(self, book: MaintenanceFeeBook) -> None:
        self._book = book

    async def run(self, business_date: date, report: ProgressReport) -> int:
        if not is_month_end(business_date):
            return 0
        return await self._book.charge(business_date, business_date.replace(day=1), report)
