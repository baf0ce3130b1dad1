"""Deposit products as data: savings, checking and term deposits.

A deposit product fixes the rate (fixed or tiered), the day count, what compounds, how often
interest is posted, and its fees. A term deposit adds its term, what happens at maturity
(pay the balance out, or roll it over for another term) and the penalty for withdrawing
before maturity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final
from uuid import UUID

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending._checks import (
    require_date,
    require_int,
    require_member,
    require_minor,
)
from core_banking.domain.lending.dates import add_months
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.errors import BelowMinimumOpening
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.products import ProductStatus, check_identity
from core_banking.domain.lending.rates import Compounding, FixedRate, InterestRate, TieredRate
from core_banking.domain.money import Currency

MAX_TERM_DAYS: Final = 3660
MAX_TERM_MONTHS: Final = 120


class DepositKind(StrEnum):
    SAVINGS = "savings"
    CHECKING = "checking"
    TERM_DEPOSIT = "term_deposit"


class InterestPostingFrequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"
    AT_MATURITY = "at_maturity"


class MaturityAction(StrEnum):
    PAYOUT = "payout"
    ROLLOVER = "rollover"


class TermUnit(StrEnum):
    DAYS = "days"
    MONTHS = "months"


@dataclass(frozen=True, slots=True)
class DepositTerm:
    """A term of so many days or calendar months (months roll at month end)."""

    length: int
    unit: TermUnit

    def __post_init__(self) -> None:
        require_member(self.unit, TermUnit, "term.unit")
        longest = MAX_TERM_DAYS if self.unit is TermUnit.DAYS else MAX_TERM_MONTHS
        require_int(self.length, "term.length", minimum=1, maximum=longest)

    def maturity_date(self, opened_on: date) -> date:
        """The day the term ends, for a deposit opened (or rolled over) on ``opened_on``."""
        require_date(opened_on, "opened_on")
        if self.unit is TermUnit.DAYS:
            return opened_on + timedelta(days=self.length)
        return add_months(opened_on, self.length)


@dataclass(frozen=True, slots=True)
class TermDepositTerms:
    term: DepositTerm
    maturity_action: MaturityAction
    early_withdrawal_penalty: FeeRule
    """Charged on the amount withdrawn before maturity."""

    def __post_init__(self) -> None:
        require_member(self.term, DepositTerm, "term")
        require_member(self.maturity_action, MaturityAction, "maturity_action")
        require_member(self.early_withdrawal_penalty, FeeRule, "early_withdrawal_penalty")

    def early_withdrawal_penalty_minor(
        self, withdrawn_minor: int, withdrawn_on: date, maturity: date
    ) -> int:
        """The penalty for withdrawing ``withdrawn_minor`` on ``withdrawn_on``: nothing on or
        after maturity, the product's penalty rule before it."""
        require_date(withdrawn_on, "withdrawn_on")
        if withdrawn_on >= maturity:
            return 0
        return self.early_withdrawal_penalty.amount_on(withdrawn_minor)


@dataclass(frozen=True, slots=True)
class DepositProduct:
    product_id: UUID
    version: int
    status: ProductStatus
    name: str
    currency: Currency
    kind: DepositKind
    rate: InterestRate
    day_count: DayCount
    compounding: Compounding
    posting_frequency: InterestPostingFrequency
    monthly_maintenance_fee_minor: int
    transaction_fee_minor: int
    minimum_opening_minor: int
    term_deposit: TermDepositTerms | None

    def __post_init__(self) -> None:
        check_identity(self)
        require_member(self.kind, DepositKind, "kind")
        if not isinstance(self.rate, FixedRate | TieredRate):
            raise InvalidInput("rate must be a FixedRate or a TieredRate", field="rate")
        require_member(self.day_count, DayCount, "day_count")
        require_member(self.compounding, Compounding, "compounding")
        require_member(self.posting_frequency, InterestPostingFrequency, "posting_frequency")
        require_minor(self.monthly_maintenance_fee_minor, "monthly_maintenance_fee_minor")
        require_minor(self.transaction_fee_minor, "transaction_fee_minor")
        require_minor(self.minimum_opening_minor, "minimum_opening_minor")
        is_term = self.kind is DepositKind.TERM_DEPOSIT
        if is_term != (self.term_deposit is not None):
            raise InvalidInput(
                "a term deposit, and only a term deposit, has term_deposit terms",
                field="term_deposit",
            )
        if self.term_deposit is not None:
            require_member(self.term_deposit, TermDepositTerms, "term_deposit")
        if self.posting_frequency is InterestPostingFrequency.AT_MATURITY and not is_term:
            raise InvalidInput(
                "only a term deposit posts its interest at maturity", field="posting_frequency"
            )

    def require_opening_deposit(self, amount_minor: int) -> None:
        """Refuse an opening deposit below the product's minimum opening balance (a
        product without one accepts any opening, none included)."""
        require_minor(amount_minor, "opening_deposit")
        if amount_minor < self.minimum_opening_minor:
            raise BelowMinimumOpening(
                "the opening deposit is below the product's minimum opening balance",
                product_id=str(self.product_id),
                minimum_opening_minor=self.minimum_opening_minor,
            )
