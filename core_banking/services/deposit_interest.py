"""Deposit interest: the two close-of-business steps, and the interest position of an account.

The domain decides what the calendar means (each day count's days in the date, which
posting frequencies end a period on it); the storage does the set-based work over every
account (docs/interest.md).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final
from uuid import UUID

from core_banking.domain.errors import NotFound
from core_banking.domain.lending.accrual import MAX_PRECISION
from core_banking.domain.lending.day_count import DayCount, day_count_days
from core_banking.domain.lending.interest_posting import InterestPosition, frequencies_due
from core_banking.ports import DepositInterestBook, ProgressReport

ACCRUAL_STEP: Final = "deposit_interest_accrual"
POSTING_STEP: Final = "deposit_interest_posting"


class DepositInterestAccrual:
    """Close-of-business step: one day of interest on every interest-bearing account."""

    name = ACCRUAL_STEP

    def __init__(self, book: DepositInterestBook, precision: int) -> None:
        if not 0 <= precision <= MAX_PRECISION:
            raise ValueError(f"the accrual precision must be 0 to {MAX_PRECISION} decimals")
        self._book = book
        self._precision = precision

    async def run(self, business_date: date, report: ProgressReport) -> int:
        next_day = business_date + timedelta(days=1)
        days = {
            convention: day_count_days(convention, business_date, next_day)
            for convention in DayCount
        }
        return await self._book.accrue(business_date, days, self._precision, report)


class DepositInterestPosting:
    """Close-of-business step: post accrued interest where a posting period ends."""

    name = POSTING_STEP

    def __init__(self, book: DepositInterestBook) -> None:
        self._book = book

    async def run(self, business_date: date, report: ProgressReport) -> int:
        return await self._book.post_due(business_date, frequencies_due(business_date), report)


class DepositInterestService:
    """Reading where an account's interest stands."""

    def __init__(self, book: DepositInterestBook) -> None:
        self._book = book

    async def position(self, account_id: UUID) -> InterestPosition:
        found = await self._book.position(account_id)
        if found is None:
            raise NotFound("no interest-bearing account with this id", account_id=str(account_id))
        return found
