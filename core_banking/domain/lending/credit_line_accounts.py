"""An opened credit line: what it owes, what it may still draw, and how a payment splits.

A line is opened from an active credit-line product version and keeps that version's terms
(:class:`CreditLineTerms`). What the customer owes is kept in three parts, because a payment
pays them in that order and a statement shows them apart:

    fees_minor       late fees charged and not yet paid
    interest_minor   interest billed at a statement and not yet paid
    principal_minor  draws not yet repaid

Their sum is the line's *balance*: the drawn balance of
:mod:`~core_banking.domain.lending.credit_lines`, on which interest accrues every day (billed
interest and fees included, as card balances do) and which draws may not take above the
limit. ``available = limit - balance``, never below zero.

Statuses::

    active  --freeze-->  frozen          draws refused; payments, interest, statements go on
    active  --minimum unpaid after its due date-->  overdue  --paid-->  active
    any but closed  --close (nothing owed, nothing accrued)-->  closed
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from core_banking.domain.errors import InvalidTransition
from core_banking.domain.lending.allocation import (
    STANDARD_ORDER,
    AmountsDue,
    Component,
    OverpaymentPolicy,
    allocate_payment,
)
from core_banking.domain.lending.credit_line_products import CreditLineProduct, MinimumPaymentRule
from core_banking.domain.lending.credit_lines import check_draw
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.errors import CreditLimitExceeded
from core_banking.domain.lending.fees import FeeRule


class CreditLineStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    OVERDUE = "overdue"
    CLOSED = "closed"


class StatementStatus(StrEnum):
    DUE = "due"
    """The minimum payment is not yet met and its due date has not closed."""
    PAID = "paid"
    """Payments since the statement date reached the minimum (or nothing was owed)."""
    OVERDUE = "overdue"
    """The due date closed with the minimum unpaid; the late fee was charged then, once."""


class MovementKind(StrEnum):
    """What changed a line's balance, each one journal entry (draws and payments) or one
    line's share of a close-of-business entry (interest and late fees)."""

    DRAW = "draw"
    PAYMENT = "payment"
    INTEREST = "interest"
    LATE_FEE = "late_fee"


@dataclass(frozen=True, slots=True)
class CreditLineTerms:
    """The product version's terms a line keeps for life (product versions never change)."""

    annual_rate: Decimal
    day_count: DayCount
    statement_day: int
    minimum_payment: MinimumPaymentRule
    grace_days: int
    late_fee: FeeRule | None

    @classmethod
    def of(cls, product: CreditLineProduct) -> CreditLineTerms:
        return cls(
            annual_rate=product.annual_rate,
            day_count=product.day_count,
            statement_day=product.statement_day,
            minimum_payment=product.minimum_payment,
            grace_days=product.grace_days,
            late_fee=product.late_fee,
        )


@dataclass(frozen=True, slots=True)
class CreditLine:
    id: UUID
    customer_id: UUID
    deposit_account_id: UUID
    """The customer's deposit account draws are paid into and payments are taken from."""
    product_id: UUID
    product_version: int
    currency: str
    status: CreditLineStatus
    limit_minor: int
    principal_minor: int
    interest_minor: int
    fees_minor: int
    terms: CreditLineTerms
    accrued_interest: Decimal
    """Interest accrued in the open period (major units), billed at the next statement."""
    interest_residue: Decimal
    """Billed interest below one minor unit, carried from the last statement."""
    accrued_through: date | None
    period_start: date
    """The first day of the open statement period."""
    period_opening_minor: int
    """The balance the open period started with (the last statement's closing balance)."""
    opened_on: date
    created_at: datetime
    updated_at: datetime

    @property
    def balance_minor(self) -> int:
        """Everything the line owes: principal, billed interest and fees."""
        return self.principal_minor + self.interest_minor + self.fees_minor

    @property
    def available_minor(self) -> int:
        return max(0, self.limit_minor - self.balance_minor)

    def check_draw(self, amount_minor: int) -> None:
        """A draw needs an active line and room under the limit."""
        if self.status is not CreditLineStatus.ACTIVE:
            raise InvalidTransition(f"a {self.status} credit line cannot be drawn on")
        try:
            check_draw(self.balance_minor, amount_minor, self.limit_minor)
        except CreditLimitExceeded as refusal:
            refusal.context["credit_line_id"] = str(self.id)
            raise

    def split_payment(self, amount_minor: int, on: date) -> PaymentSplit:
        """Fees first, then billed interest, then principal; more than is owed is refused."""
        if self.status is CreditLineStatus.CLOSED:
            raise InvalidTransition("a closed credit line takes no payments")
        owed = AmountsDue(1, on, self.fees_minor, 0, self.interest_minor, self.principal_minor)
        allocation = allocate_payment(
            amount_minor, [owed], STANDARD_ORDER, OverpaymentPolicy.REFUSE
        )
        return PaymentSplit(
            fees_minor=allocation.total_of(Component.FEES),
            interest_minor=allocation.total_of(Component.INTEREST),
            principal_minor=allocation.total_of(Component.PRINCIPAL),
        )

    def check_freeze(self) -> None:
        if self.status not in (CreditLineStatus.ACTIVE, CreditLineStatus.OVERDUE):
            raise InvalidTransition(f"a {self.status} credit line cannot be frozen")

    def check_close(self) -> None:
        """Closing needs nothing owed and no interest accrued and not yet billed (a residue
        below one minor unit stays recorded on the closed line, never billed)."""
        if self.status is CreditLineStatus.CLOSED:
            raise InvalidTransition("the credit line is already closed")
        if self.balance_minor != 0 or self.accrued_interest != 0:
            raise InvalidTransition(
                "a credit line is closed only when nothing is owed or accrued",
                credit_line_id=str(self.id),
            )


@dataclass(frozen=True, slots=True)
class PaymentSplit:
    fees_minor: int
    interest_minor: int
    principal_minor: int


@dataclass(frozen=True, slots=True)
class Movement:
    """One change to a line's balance and the journal entry that carries it. Amounts are
    signed changes to what is owed: a payment's are negative."""

    entry_id: UUID
    credit_line_id: UUID
    kind: MovementKind
    business_date: date
    currency: str
    principal_minor: int
    interest_minor: int
    fees_minor: int

    @property
    def total_minor(self) -> int:
        return self.principal_minor + self.interest_minor + self.fees_minor


@dataclass(frozen=True, slots=True)
class CreditLineStatement:
    credit_line_id: UUID
    statement_date: date
    period_start: date
    currency: str
    opening_minor: int
    draws_minor: int
    payments_minor: int
    interest_minor: int
    fees_minor: int
    closing_minor: int
    minimum_payment_minor: int
    due_date: date
    paid_minor: int
    """Payments made since the statement date."""
    status: StatementStatus
    late_fee_minor: int
    accrued_interest: Decimal
    """The period's daily accruals, major units."""
    residue: Decimal
    """Interest below one minor unit carried to the next statement."""
    interest_entry_id: UUID | None
    late_fee_entry_id: UUID | None
