"""Recalculating a schedule after a partial prepayment.

A prepayment on date D repays principal ahead of time. What happens, in order:

1. Everything due on or before D is taken as settled by then (the caller applies a payment
   to what is due first, :mod:`~core_banking.domain.lending.allocation`); the prepayment is
   principal on top.
2. The interest accrued on the old balance from the start of the current period to D is
   settled with the prepayment (or deferred, inside an interest grace period): recorded on
   the :class:`~core_banking.domain.lending.schedule.Prepayment`, the caller collects it.
3. The installments due after D are scheduled again on the lower balance, the first one's
   interest now running from D. By the product's strategy:

   ``REDUCE_TERM``         keep the installment (equal installment) or the principal part
                           (equal principal) and finish sooner, on the same due dates.
   ``REDUCE_INSTALLMENT``  keep the due dates and maturity, and price a lower installment
                           (or smaller equal parts) over them.

   A bullet loan repays its principal at maturity whatever the strategy, so a prepayment
   only lowers that last payment and the interest until then.

A prepayment is less than the principal outstanding: repaying all of it is a payoff
(:mod:`~core_banking.domain.lending.payoff`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from core_banking.domain.errors import InvalidAmount, InvalidInput, RuleViolation
from core_banking.domain.lending._checks import require_date, require_member, require_minor
from core_banking.domain.lending.loan_products import PrepaymentStrategy
from core_banking.domain.lending.schedule import (
    Period,
    Prepayment,
    Schedule,
    build_lines,
    period_interest_minor,
)


def apply_prepayment(
    schedule: Schedule, paid_on: date, principal_minor: int, strategy: PrepaymentStrategy
) -> Schedule:
    """The schedule after prepaying ``principal_minor`` on ``paid_on``."""
    require_member(schedule, Schedule, "schedule")
    require_date(paid_on, "paid_on")
    require_minor(principal_minor, "principal_minor", allow_zero=False)
    require_member(strategy, PrepaymentStrategy, "prepayment_strategy")
    if schedule.prepayments and paid_on < schedule.prepayments[-1].paid_on:
        raise InvalidInput("prepayments are applied in date order", field="paid_on")
    terms = schedule.terms
    position = schedule.position_at(paid_on)
    remaining = schedule.lines[position.next_line_index :]
    if not remaining:
        raise RuleViolation("no installment is left to prepay; quote a payoff instead")
    if principal_minor >= position.outstanding_minor:
        raise InvalidAmount(
            "a prepayment is less than the principal outstanding; repaying all of it is a payoff",
            field="principal_minor",
        )

    accrued = period_interest_minor(
        terms, position.outstanding_minor, position.accrual_start, paid_on
    )
    in_interest_grace = remaining[0].number <= terms.grace.interest_periods
    deferred_now = accrued if in_interest_grace else 0
    outstanding_after = position.outstanding_minor - principal_minor
    prepayment = Prepayment(
        paid_on, principal_minor, accrued - deferred_now, deferred_now, outstanding_after
    )
    periods = [Period(remaining[0].number, paid_on, remaining[0].due_date)]
    periods += [Period(line.number, line.period_start, line.due_date) for line in remaining[1:]]
    keep = schedule.level_minor if strategy is PrepaymentStrategy.REDUCE_TERM else None
    lines, level = build_lines(
        terms, periods, outstanding_after, position.deferred_interest_minor + deferred_now, keep
    )
    return replace(
        schedule,
        lines=schedule.lines[: position.next_line_index] + lines,
        prepayments=(*schedule.prepayments, prepayment),
        level_minor=level,
    )
