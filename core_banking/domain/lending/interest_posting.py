"""When deposit interest is posted, and what an account's interest position is.

Interest accrues every day and is posted at the end of each period of the product's posting
frequency: on the last day of the month (monthly), of March, June, September and December
(quarterly), or of December (annually). A term deposit posts at maturity, which the term
deposit's own life cycle decides, never the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from core_banking.domain.lending._checks import require_date
from core_banking.domain.lending.deposit_products import InterestPostingFrequency

_PERIOD_END_MONTHS = {
    InterestPostingFrequency.MONTHLY: frozenset(range(1, 13)),
    InterestPostingFrequency.QUARTERLY: frozenset({3, 6, 9, 12}),
    InterestPostingFrequency.ANNUALLY: frozenset({12}),
    InterestPostingFrequency.AT_MATURITY: frozenset[int](),
}


def is_last_day_of_month(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def frequencies_due(day: date) -> frozenset[InterestPostingFrequency]:
    """The posting frequencies whose period ends on ``day``."""
    require_date(day, "day")
    if not is_last_day_of_month(day):
        return frozenset()
    return frozenset(
        frequency for frequency, months in _PERIOD_END_MONTHS.items() if day.month in months
    )


@dataclass(frozen=True, slots=True)
class InterestPosition:
    """Where an account's deposit interest stands.

    ``accrued`` is the interest accrued since the last posting and ``residue`` what the last
    posting carried (below one minor unit), both in major units at the accrual precision;
    ``credited_minor`` is all interest ever posted to the account.
    """

    account_id: UUID
    product_id: UUID
    product_version: int
    accrued: Decimal
    residue: Decimal
    credited_minor: int
    last_accrual_date: date | None
    last_posting_date: date | None
