"""Revolving credit lines: draws within the limit, daily interest, monthly statements.

Interest accrues every day on that day's closing drawn balance (after the day's draws,
payments and fees), by :func:`~core_banking.domain.lending.accrual.daily_accrual` at the
configured precision; a balance in credit earns nothing. At the statement the period's
accruals are posted in whole minor units with the residue carried to the next statement
(:func:`~core_banking.domain.lending.accrual.post_accrual`), and the posted interest joins
the drawn balance -- it earns interest from the next period on, as card balances do.

A statement covers the days after the previous statement date up to and including its own
date. Its figures agree to the minor unit by construction::

    closing = opening + draws + interest + fees - payments

The minimum payment follows the product's rule on the closing balance, due ``grace_days``
after the statement date.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending._checks import (
    require_date,
    require_int,
    require_member,
    require_minor,
)
from core_banking.domain.lending.accrual import daily_accrual, post_accrual, sum_accruals
from core_banking.domain.lending.credit_line_products import CreditLineProduct
from core_banking.domain.lending.dates import add_months
from core_banking.domain.lending.errors import CreditLimitExceeded
from core_banking.domain.lending.rates import FixedRate

MAX_STATEMENT_DAYS: Final = 62
MAX_EVENTS: Final = 10_000


class CreditLineEventKind(StrEnum):
    DRAW = "draw"
    PAYMENT = "payment"
    FEE = "fee"


@dataclass(frozen=True, slots=True)
class CreditLineEvent:
    on: date
    kind: CreditLineEventKind
    amount_minor: int

    def __post_init__(self) -> None:
        require_date(self.on, "on")
        require_member(self.kind, CreditLineEventKind, "kind")
        require_minor(self.amount_minor, "amount_minor", allow_zero=False)

    @property
    def signed_minor(self) -> int:
        """The event's effect on the drawn balance: payments lower it."""
        return -self.amount_minor if self.kind is CreditLineEventKind.PAYMENT else self.amount_minor


def check_draw(drawn_minor: int, amount_minor: int, limit_minor: int) -> None:
    """Refuse a draw that would take the drawn balance above the limit."""
    require_minor(amount_minor, "amount_minor", allow_zero=False)
    if drawn_minor + amount_minor > limit_minor:
        raise CreditLimitExceeded(
            "the draw would exceed the credit limit",
            limit_minor=limit_minor,
            available_minor=max(0, limit_minor - drawn_minor),
        )


def statement_date_after(previous: date, statement_day: int) -> date:
    """The first statement date after ``previous``: ``statement_day`` of a month, or the
    month's last day in a month too short for it."""
    require_date(previous, "previous")
    require_int(statement_day, "statement_day", minimum=1, maximum=31)
    this_month = _day_of_month(previous.year, previous.month, statement_day)
    if this_month > previous:
        return this_month
    following = add_months(previous.replace(day=1), 1)
    return _day_of_month(following.year, following.month, statement_day)


def _day_of_month(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Statement:
    period_start: date
    """The first day the statement covers (the day after the previous statement)."""
    statement_date: date
    opening_minor: int
    draws_minor: int
    payments_minor: int
    interest_minor: int
    fees_minor: int
    closing_minor: int
    minimum_payment_minor: int
    due_date: date
    accrued_interest: Decimal
    """The period's daily accruals, in major units at the configured precision."""
    residue: Decimal
    """Accrued interest below one minor unit, carried to the next statement."""


def build_statement(
    product: CreditLineProduct,
    previous_statement_date: date,
    statement_date: date,
    opening_minor: int,
    events: Sequence[CreditLineEvent],
    residue: Decimal,
    precision: int,
) -> Statement:
    """The statement for the days after ``previous_statement_date`` to ``statement_date``.

    ``opening_minor`` is the previous statement's closing balance (negative when the line is
    in credit), ``residue`` the interest carried from it, and ``events`` every draw, payment
    and fee dated within the period.
    """
    require_member(product, CreditLineProduct, "product")
    require_date(previous_statement_date, "previous_statement_date")
    require_date(statement_date, "statement_date")
    days = (statement_date - previous_statement_date).days
    require_int(days, "statement period days", minimum=1, maximum=MAX_STATEMENT_DAYS)
    require_int(len(events), "events", minimum=0, maximum=MAX_EVENTS)
    if any(not previous_statement_date < event.on <= statement_date for event in events):
        raise InvalidInput("every event must fall within the statement period", field="events")

    change_by_day: dict[date, int] = {}
    for event in events:
        change_by_day[event.on] = change_by_day.get(event.on, 0) + event.signed_minor
    rate = FixedRate(product.annual_rate)
    balance, daily = opening_minor, []
    for offset in range(1, days + 1):
        day = previous_statement_date + timedelta(days=offset)
        balance += change_by_day.get(day, 0)
        base = Fraction(max(balance, 0))
        daily.append(daily_accrual(base, product.currency, rate, product.day_count, day, precision))
    accrued = sum_accruals(daily)
    posting = post_accrual(accrued, residue, product.currency)

    def total(kind: CreditLineEventKind) -> int:
        return sum(event.amount_minor for event in events if event.kind is kind)

    draws, payments, fees = (
        total(CreditLineEventKind.DRAW),
        total(CreditLineEventKind.PAYMENT),
        total(CreditLineEventKind.FEE),
    )
    closing = opening_minor + draws + posting.posted_minor + fees - payments
    return Statement(
        period_start=previous_statement_date + timedelta(days=1),
        statement_date=statement_date,
        opening_minor=opening_minor,
        draws_minor=draws,
        payments_minor=payments,
        interest_minor=posting.posted_minor,
        fees_minor=fees,
        closing_minor=closing,
        minimum_payment_minor=product.minimum_payment.amount_for(closing),
        due_date=statement_date + timedelta(days=product.grace_days),
        accrued_interest=accrued,
        residue=posting.residue,
    )
