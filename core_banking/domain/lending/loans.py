"""A loan as the bank keeps it: the application, its installments as they are paid, and the
rules that tie them to the pure schedule, allocation and delinquency modules.

* A :class:`Loan` is opened from one version of a term loan product and keeps that version.
  Its amount, rate, term, frequency and method are copied from the application and the
  version, so a listing needs no product.
* Its schedule is stored as :class:`Installment` rows (what each one asks for, and what has
  been paid of it) and :class:`~core_banking.domain.lending.schedule.Prepayment` rows;
  :func:`stored_schedule` puts the domain :class:`~core_banking.domain.lending.schedule.
  Schedule` back together from them, so prepayments and payoff quotes run on exactly what was
  agreed.
* A repayment pays what is due on its date and, ahead of time, the next installment
  (:func:`payable_dues`): a customer may pay a few days early without it counting as an
  overpayment. Beyond that is an overpayment, refused or kept as a credit by the product.
* An installment is ``scheduled`` until its due date, ``due`` on it, ``overdue`` after it
  while anything of it is unpaid, and ``paid`` once everything it asks for is paid.
* Interest is billed when its installment falls due: what is unpaid of it then becomes
  interest receivable (and income), and paying it later settles the receivable. Interest
  paid before it is billed (ahead, with a prepayment or a payoff) is income when paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from core_banking.domain.errors import InvariantViolation
from core_banking.domain.lending.allocation import Allocation, AmountsDue, Component
from core_banking.domain.lending.dates import RepaymentFrequency, add_months
from core_banking.domain.lending.delinquency import days_past_due
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_products import AmortizationMethod, TermLoanProduct
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.lending.payoff import payoff_quote
from core_banking.domain.lending.schedule import (
    LoanTerms,
    Prepayment,
    Schedule,
    ScheduleLine,
    period_interest_minor,
)
from core_banking.domain.money import currency


class InstallmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    DUE = "due"
    OVERDUE = "overdue"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class Installment:
    """One installment: what the schedule asks for, the late fee charged on it, and what
    has been paid of each."""

    number: int
    period_start: date
    due_date: date
    principal_minor: int
    interest_minor: int
    deferred_interest_minor: int
    outstanding_after_minor: int
    penalty_minor: int = 0
    principal_paid_minor: int = 0
    interest_paid_minor: int = 0
    penalty_paid_minor: int = 0
    status: InstallmentStatus = InstallmentStatus.SCHEDULED
    late_fee_charged_on: date | None = None
    paid_on: date | None = None
    interest_billed_on: date | None = None
    """When its interest fell due and what was unpaid of it became interest receivable (the
    close of business); interest paid before that is income at once."""

    def unpaid(self) -> AmountsDue:
        """What is still owed on it, as the allocation reads it (loans charge no fees per
        installment: a late fee is a penalty)."""
        return AmountsDue(
            installment_number=self.number,
            due_date=self.due_date,
            fees_minor=0,
            penalties_minor=self.penalty_minor - self.penalty_paid_minor,
            interest_minor=self.interest_minor - self.interest_paid_minor,
            principal_minor=self.principal_minor - self.principal_paid_minor,
        )

    @property
    def settled(self) -> bool:
        return self.unpaid().total_minor == 0

    @property
    def paid_anything(self) -> bool:
        return self.principal_paid_minor + self.interest_paid_minor + self.penalty_paid_minor > 0

    def line(self) -> ScheduleLine:
        return ScheduleLine(
            self.number,
            self.period_start,
            self.due_date,
            self.principal_minor,
            self.interest_minor,
            self.deferred_interest_minor,
            self.outstanding_after_minor,
        )


@dataclass(frozen=True, slots=True)
class Loan:
    """A loan application and, once disbursed, the loan."""

    id: UUID
    customer_id: UUID
    product_id: UUID
    product_version: int
    currency: str
    principal_minor: int
    annual_rate: Decimal
    installments: int
    frequency: RepaymentFrequency
    method: AmortizationMethod
    status: LoanStatus
    deposit_account_id: UUID
    """The customer's deposit account the money is paid into and repaid from."""
    created_by: str
    created_at: datetime
    updated_at: datetime
    first_due_date: date | None = None
    """Asked for at application, or one period after disbursement."""
    account_id: UUID | None = None
    """The loan's own ledger account (kind ``loan``), from disbursement on: its balance is
    the principal outstanding."""
    decided_by: str | None = None
    decided_at: datetime | None = None
    rejection_reason: str | None = None
    disbursed_on: date | None = None
    maturity_date: date | None = None
    closed_on: date | None = None
    """The day it was paid off or written off."""
    disbursement_entry_id: UUID | None = None
    level_minor: int | None = None
    """The schedule's level amount (see :attr:`Schedule.level_minor`)."""
    credit_minor: int = 0
    """Overpayments kept for the borrower, used first by the next payment."""
    days_past_due: int = 0


def first_due_after(disbursed_on: date, frequency: RepaymentFrequency) -> date:
    """The first due date when none was asked for: one regular period after disbursement."""
    if frequency is RepaymentFrequency.MONTHLY:
        return add_months(disbursed_on, 1)
    step = 7 if frequency is RepaymentFrequency.WEEKLY else 14
    return disbursed_on + timedelta(days=step)


def loan_terms(
    loan: Loan, product: TermLoanProduct, disbursed_on: date, first_due_date: date
) -> LoanTerms:
    """The terms the loan's schedule is computed from: its own amount and term, the rest
    from the product version it was opened under (whatever that version's status is now)."""
    if (product.product_id, product.version) != (loan.product_id, loan.product_version):
        raise InvariantViolation("a loan's terms come from its own product version")
    return LoanTerms(
        principal_minor=loan.principal_minor,
        currency=currency(loan.currency),
        annual_rate=loan.annual_rate,
        day_count=product.day_count,
        method=loan.method,
        frequency=loan.frequency,
        installments=loan.installments,
        disbursement_date=disbursed_on,
        first_due_date=first_due_date,
        grace=product.grace,
    )


def installments_of(lines: Sequence[ScheduleLine]) -> tuple[Installment, ...]:
    """New, unpaid installments for schedule lines."""
    return tuple(
        Installment(
            number=line.number,
            period_start=line.period_start,
            due_date=line.due_date,
            principal_minor=line.principal_minor,
            interest_minor=line.interest_minor,
            deferred_interest_minor=line.deferred_interest_minor,
            outstanding_after_minor=line.outstanding_after_minor,
        )
        for line in lines
    )


def stored_schedule(
    terms: LoanTerms,
    installments: Sequence[Installment],
    prepayments: Sequence[Prepayment],
    level_minor: int | None,
) -> Schedule:
    """The domain schedule of a disbursed loan, from its stored rows (the schedule checks
    that they still repay exactly the loan amount)."""
    ordered = sorted(installments, key=lambda installment: installment.number)
    return Schedule(
        terms,
        tuple(installment.line() for installment in ordered),
        tuple(sorted(prepayments, key=lambda prepayment: prepayment.paid_on)),
        level_minor,
    )


def payable_dues(installments: Sequence[Installment], on: date) -> list[AmountsDue]:
    """What a repayment on ``on`` may pay: every installment due by then with anything
    unpaid, and the next installment ahead of its due date."""
    unpaid = sorted(
        (installment for installment in installments if not installment.settled),
        key=lambda installment: installment.due_date,
    )
    due = [installment.unpaid() for installment in unpaid if installment.due_date <= on]
    ahead = [installment.unpaid() for installment in unpaid if installment.due_date > on]
    return due + ahead[:1]


def overdue_amounts(installments: Sequence[Installment], on: date) -> list[AmountsDue]:
    """What is due on or before ``on`` and still unpaid (a payoff quote's overdue part)."""
    return [
        installment.unpaid()
        for installment in installments
        if installment.due_date <= on and not installment.settled
    ]


def apply_allocation(
    installments: Sequence[Installment], allocation: Allocation, on: date
) -> tuple[Installment, ...]:
    """The installments after ``allocation`` paid them on ``on``: an installment with
    nothing left unpaid is ``paid`` that day."""
    by_number = {installment.number: installment for installment in installments}
    for part in allocation.parts:
        installment = by_number[part.installment_number]
        match part.component:
            case Component.PRINCIPAL:
                installment = replace(
                    installment,
                    principal_paid_minor=installment.principal_paid_minor + part.amount_minor,
                )
            case Component.INTEREST:
                installment = replace(
                    installment,
                    interest_paid_minor=installment.interest_paid_minor + part.amount_minor,
                )
            case Component.PENALTIES:
                installment = replace(
                    installment,
                    penalty_paid_minor=installment.penalty_paid_minor + part.amount_minor,
                )
            case Component.FEES:
                raise InvariantViolation("a loan installment has no fees to pay")
        if installment.settled and installment.status is not InstallmentStatus.PAID:
            installment = replace(installment, status=InstallmentStatus.PAID, paid_on=on)
        by_number[part.installment_number] = installment
    return tuple(by_number[installment.number] for installment in installments)


def receivable_interest_paid(installments: Sequence[Installment], allocation: Allocation) -> int:
    """How much of the interest ``allocation`` pays was billed already (it settles interest
    receivable; the rest is income)."""
    billed = {i.number for i in installments if i.interest_billed_on is not None}
    return sum(
        part.amount_minor
        for part in allocation.parts
        if part.component is Component.INTEREST and part.installment_number in billed
    )


def unpaid_billed_interest(installments: Sequence[Installment]) -> int:
    """Interest billed and not paid: the loan's share of interest receivable."""
    return sum(
        i.interest_minor - i.interest_paid_minor
        for i in installments
        if i.interest_billed_on is not None
    )


def loan_days_past_due(installments: Sequence[Installment], as_of: date) -> int:
    """Days since the oldest installment with anything unpaid fell due (0: none late)."""
    return days_past_due(
        [installment.unpaid() for installment in installments if not installment.settled], as_of
    )


@dataclass(frozen=True, slots=True)
class LoanPayoff:
    """What repays a disbursed loan in full on ``as_of``, from its stored schedule and what
    has been paid of it.

    ``credit_minor`` is what the borrower has paid beyond it already: overpayments kept as a
    credit, and interest paid ahead with the next installment for days that have not run.
    ``total_minor`` is what the borrower pays (negative: what the bank would give back)."""

    as_of: date
    principal_minor: int
    interest_minor: int
    penalties_minor: int
    early_repayment_fee_minor: int
    credit_minor: int

    @property
    def total_minor(self) -> int:
        return (
            self.principal_minor
            + self.interest_minor
            + self.penalties_minor
            + self.early_repayment_fee_minor
            - self.credit_minor
        )


def loan_payoff(
    schedule: Schedule,
    installments: Sequence[Installment],
    as_of: date,
    early_repayment_fee: FeeRule | None,
    kept_credit_minor: int,
) -> LoanPayoff:
    """The payoff quote of :func:`~core_banking.domain.lending.payoff.payoff_quote`, less
    what was paid ahead on installments not yet due on ``as_of``: the principal is exactly
    what is outstanding, and the early repayment fee is charged on the principal not yet
    due and not yet paid."""
    overdue = overdue_amounts(installments, as_of)
    quote = payoff_quote(schedule, as_of, overdue, None)
    ahead = [installment for installment in installments if installment.due_date > as_of]
    principal_ahead = sum(installment.principal_paid_minor for installment in ahead)
    interest_ahead = sum(installment.interest_paid_minor for installment in ahead)
    principal = quote.principal_minor - principal_ahead
    not_due = principal - sum(due.principal_minor for due in overdue)
    fee = early_repayment_fee.amount_on(not_due) if early_repayment_fee and not_due > 0 else 0
    return LoanPayoff(
        as_of=as_of,
        principal_minor=principal,
        interest_minor=max(0, quote.interest_minor - interest_ahead),
        penalties_minor=quote.penalties_minor,
        early_repayment_fee_minor=fee,
        credit_minor=kept_credit_minor + max(0, interest_ahead - quote.interest_minor),
    )


def settled_in_full(
    schedule: Schedule, installments: Sequence[Installment], on: date
) -> tuple[Installment, ...]:
    """The installments of a loan paid off on ``on``: those due by then paid as they stand,
    and those not yet due replaced by one installment due ``on`` that asks for their
    principal and the interest accrued to ``on`` (with any grace interest deferred), paid.
    The principal parts still add up to the loan amount."""
    due = [
        _paid(installment, on) if not installment.settled else installment
        for installment in installments
        if installment.due_date <= on
    ]
    ahead = [installment for installment in installments if installment.due_date > on]
    if not ahead:
        return tuple(due)
    position = schedule.position_at(on)
    principal = sum(installment.principal_minor for installment in ahead)
    accrued = period_interest_minor(schedule.terms, principal, position.accrual_start, on)
    final = Installment(
        number=ahead[0].number,
        period_start=position.accrual_start,
        due_date=on,
        principal_minor=principal,
        interest_minor=accrued + position.deferred_interest_minor,
        deferred_interest_minor=0,
        outstanding_after_minor=0,
    )
    return (*due, _paid(final, on))


def _paid(installment: Installment, on: date) -> Installment:
    return replace(
        installment,
        principal_paid_minor=installment.principal_minor,
        interest_paid_minor=installment.interest_minor,
        penalty_paid_minor=installment.penalty_minor,
        status=InstallmentStatus.PAID,
        paid_on=on,
    )
