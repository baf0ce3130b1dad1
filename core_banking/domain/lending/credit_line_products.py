"""Revolving credit line products as data.

A credit line lets the customer draw up to a limit, repay and draw again. Interest accrues
daily on the drawn balance; a statement is cut on ``statement_day`` of every month, and its
payment is due ``grace_days`` after the statement date. The minimum payment is a percentage
of the statement's closing balance with a floor, never more than the balance itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Final
from uuid import UUID

from core_banking.domain.lending._checks import (
    require_int,
    require_member,
    require_minor,
    require_rate,
)
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.products import ProductStatus, check_identity
from core_banking.domain.lending.rates import MAX_ANNUAL_RATE
from core_banking.domain.lending.rounding import round_up
from core_banking.domain.money import Currency

MAX_GRACE_DAYS: Final = 90


@dataclass(frozen=True, slots=True)
class MinimumPaymentRule:
    """``rate`` of the closing balance (0.05 is 5 %), at least ``floor_minor``, at most the
    balance. The percentage is rounded *up* to the minor unit: it is a threshold the
    customer must reach, and rounding it down would let them pay less than the rule says."""

    rate: Decimal
    floor_minor: int

    def __post_init__(self) -> None:
        require_rate(self.rate, "minimum_payment.rate", maximum=Decimal(1))
        require_minor(self.floor_minor, "minimum_payment.floor_minor")

    def amount_for(self, closing_minor: int) -> int:
        """The minimum payment on a statement closing at ``closing_minor`` (0 if nothing is
        owed, as when payments left the line in credit)."""
        if closing_minor <= 0:
            return 0
        by_rate = round_up(closing_minor * Fraction(self.rate))
        return min(closing_minor, max(self.floor_minor, by_rate))


@dataclass(frozen=True, slots=True)
class CreditLineProduct:
    product_id: UUID
    version: int
    status: ProductStatus
    name: str
    currency: Currency
    max_limit_minor: int
    annual_rate: Decimal
    day_count: DayCount
    statement_day: int
    """Day of the month statements are cut; a month without it uses its last day."""
    minimum_payment: MinimumPaymentRule
    grace_days: int
    late_fee: FeeRule | None

    def __post_init__(self) -> None:
        check_identity(self)
        require_minor(self.max_limit_minor, "max_limit_minor", allow_zero=False)
        require_rate(self.annual_rate, "annual_rate", maximum=MAX_ANNUAL_RATE)
        require_member(self.day_count, DayCount, "day_count")
        require_int(self.statement_day, "statement_day", minimum=1, maximum=31)
        require_member(self.minimum_payment, MinimumPaymentRule, "minimum_payment")
        require_int(self.grace_days, "grace_days", minimum=0, maximum=MAX_GRACE_DAYS)
        if self.late_fee is not None:
            require_member(self.late_fee, FeeRule, "late_fee")
