"""What it takes to repay a loan in full on a given date.

    principal     the principal not yet due, plus overdue principal still unpaid
    interest      interest accrued on the principal not yet due from the start of the
                  current period to the date (half to even), plus grace interest deferred
                  and not yet due, plus overdue interest still unpaid
    fees, penalties   overdue and still unpaid
    early repayment fee   the product's rule, on the principal not yet due (nothing once
                  the loan has reached maturity)

Overdue amounts come from the caller's ledger (what was due and not paid); everything else
comes from the schedule. Interest on overdue principal is the business of late fees and
penalties, not of this quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending._checks import require_date, require_member
from core_banking.domain.lending.allocation import AmountsDue
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.schedule import Schedule, period_interest_minor


@dataclass(frozen=True, slots=True)
class PayoffQuote:
    as_of: date
    principal_minor: int
    interest_minor: int
    fees_minor: int
    penalties_minor: int
    early_repayment_fee_minor: int

    @property
    def total_minor(self) -> int:
        return (
            self.principal_minor
            + self.interest_minor
            + self.fees_minor
            + self.penalties_minor
            + self.early_repayment_fee_minor
        )


def payoff_quote(
    schedule: Schedule,
    as_of: date,
    overdue: Sequence[AmountsDue],
    early_repayment_fee: FeeRule | None,
) -> PayoffQuote:
    """The amount that repays the loan in full when paid on ``as_of``.

    Installments due on ``as_of`` itself count as due (they belong in ``overdue`` if
    unpaid); interest runs from the start of the current period up to ``as_of``, the day of
    payment itself earning nothing, as the day of disbursement does."""
    require_member(schedule, Schedule, "schedule")
    require_date(as_of, "as_of")
    if any(due.due_date > as_of for due in overdue):
        raise InvalidInput(
            "an overdue amount cannot fall due after the quote date", field="overdue"
        )
    position = schedule.position_at(as_of)
    not_due = position.outstanding_minor
    accrued = period_interest_minor(schedule.terms, not_due, position.accrual_start, as_of)
    fee = 0
    if early_repayment_fee is not None and not_due > 0:
        require_member(early_repayment_fee, FeeRule, "early_repayment_fee")
        fee = early_repayment_fee.amount_on(not_due)
    return PayoffQuote(
        as_of=as_of,
        principal_minor=not_due + sum(due.principal_minor for due in overdue),
        interest_minor=accrued
        + position.deferred_interest_minor
        + sum(due.interest_minor for due in overdue),
        fees_minor=sum(due.fees_minor for due in overdue),
        penalties_minor=sum(due.penalties_minor for due in overdue),
        early_repayment_fee_minor=fee,
    )
