"""Loan repayment schedules: due dates, and how each installment splits into principal and
interest, in minor units.

The conventions, and why:

* **Due dates** follow :mod:`~core_banking.domain.lending.dates`: monthly dates are anchored
  on the first due date's day and roll at month end; weekly and bi-weekly dates step 7 and
  14 days. The first period runs from disbursement to the first due date, however long.
* **Interest per period** is the outstanding principal x the annual rate x the day-count
  year fraction of the period's actual dates, computed exactly and rounded half to even to
  the minor unit. So interest follows the calendar: a 31-day month costs more than a 28-day
  one under the actual conventions, and exactly 1/12 of a year under 30/360 when the
  anchor day is at most 28.
* **Equal installment (French)**: the installment solves the annuity with each period's own
  rate r_k (the annual rate x that period's year fraction),
  ``A = P / sum_k prod_{j<=k} 1 / (1 + r_j)``. When every r_k is the same periodic rate
  r this is the textbook ``A = P r / (1 - (1 + r)^-n)``. Because the installment is priced
  with the same rates the interest is charged at, every installment but the last is exactly
  A and the last one only absorbs rounding. The factor is computed in ``Decimal`` with 50
  significant digits (half to even), some 35 orders of magnitude finer than a minor unit,
  and A is rounded half to even to the minor unit. The principal part is A minus the
  period's interest, never above what is outstanding and never below zero: when one
  period's interest alone is more than A (a long first period at a high rate, or a loan of
  a few minor units), that installment is the interest alone -- unpaid interest is never
  added to the principal -- and the last installment takes up the difference.
* **Equal principal**: the principal is shared over the repaying periods by
  :func:`~core_banking.domain.money.split_by_ratio`, so the parts differ by at most one
  minor unit and add up exactly, the earlier parts taking the extra units.
* **Bullet**: interest every period, all the principal with the last installment.
* **The last installment takes whatever principal is left**, so the principal parts always
  add up to exactly the loan amount and the outstanding balance ends at zero. If rounding
  repays everything early (tiny loans), the schedule simply ends there.
* **Grace**: the first ``principal_periods`` installments repay no principal; the first
  ``interest_periods`` of them charge no interest either -- that interest is *deferred* and
  falls due with the first installment after the interest grace, on top of its own. The
  annuity is priced over the repaying periods only.

A schedule also records partial prepayments (:mod:`~core_banking.domain.lending.prepayment`):
the principal they repaid and the interest they settled, so that the installments'
principal plus the prepayments' principal is still exactly the loan amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from fractions import Fraction
from typing import Final

from core_banking.domain.errors import InvalidInput, InvariantViolation
from core_banking.domain.lending._checks import (
    require_currency,
    require_date,
    require_int,
    require_member,
    require_minor,
    require_rate,
)
from core_banking.domain.lending.dates import MAX_INSTALLMENTS, RepaymentFrequency, due_dates
from core_banking.domain.lending.day_count import DayCount, year_fraction
from core_banking.domain.lending.loan_products import (
    AmortizationMethod,
    GracePeriods,
    TermLoanProduct,
)
from core_banking.domain.lending.rates import MAX_ANNUAL_RATE
from core_banking.domain.lending.rounding import round_half_even
from core_banking.domain.money import Currency, split_by_ratio

_ANNUITY: Final = Context(
    prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

_LONGEST_FIRST_PERIOD_DAYS: Final = {
    RepaymentFrequency.MONTHLY: 62,
    RepaymentFrequency.BIWEEKLY: 28,
    RepaymentFrequency.WEEKLY: 14,
}
"""The first period may be at most about two regular periods long: a longer one would carry
more interest than the annuity can repay in its first installment."""


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """Everything a schedule is computed from."""

    principal_minor: int
    currency: Currency
    annual_rate: Decimal
    day_count: DayCount
    method: AmortizationMethod
    frequency: RepaymentFrequency
    installments: int
    disbursement_date: date
    first_due_date: date
    grace: GracePeriods = field(default_factory=GracePeriods)

    def __post_init__(self) -> None:
        require_minor(self.principal_minor, "principal_minor", allow_zero=False)
        require_currency(self.currency)
        require_rate(self.annual_rate, "annual_rate", maximum=MAX_ANNUAL_RATE)
        require_member(self.day_count, DayCount, "day_count")
        require_member(self.method, AmortizationMethod, "method")
        require_member(self.frequency, RepaymentFrequency, "frequency")
        require_int(self.installments, "installments", minimum=1, maximum=MAX_INSTALLMENTS)
        require_date(self.disbursement_date, "disbursement_date")
        require_date(self.first_due_date, "first_due_date")
        first_period_days = (self.first_due_date - self.disbursement_date).days
        longest = _LONGEST_FIRST_PERIOD_DAYS[self.frequency]
        if not 0 < first_period_days <= longest:
            raise InvalidInput(
                f"the first due date must be 1 to {longest} days after disbursement",
                field="first_due_date",
            )
        require_member(self.grace, GracePeriods, "grace")
        if self.grace.principal_periods >= self.installments:
            raise InvalidInput(
                "the grace periods must leave at least one installment that repays principal",
                field="grace.principal_periods",
            )

    @classmethod
    def from_product(
        cls,
        product: TermLoanProduct,
        principal_minor: int,
        installments: int,
        disbursement_date: date,
        first_due_date: date,
    ) -> LoanTerms:
        """The terms of a loan opened under ``product``, checked against its limits."""
        product.check_application(principal_minor, installments)
        return cls(
            principal_minor=principal_minor,
            currency=product.currency,
            annual_rate=product.annual_rate,
            day_count=product.day_count,
            method=product.method,
            frequency=product.frequency,
            installments=installments,
            disbursement_date=disbursement_date,
            first_due_date=first_due_date,
            grace=product.grace,
        )


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """One installment.

    ``interest_minor`` is the interest due with it: the period's own interest, plus any
    interest deferred by the interest grace that falls due here. ``deferred_interest_minor``
    is this period's interest that was deferred instead of being due now.
    """

    number: int
    period_start: date
    due_date: date
    principal_minor: int
    interest_minor: int
    deferred_interest_minor: int
    outstanding_after_minor: int

    @property
    def total_minor(self) -> int:
        """The installment: principal plus interest due."""
        return self.principal_minor + self.interest_minor


@dataclass(frozen=True, slots=True)
class Prepayment:
    """A partial prepayment: principal repaid ahead of time, with the interest accrued on
    the old balance since the period began (due with it, or deferred during an interest
    grace)."""

    paid_on: date
    principal_minor: int
    interest_minor: int
    deferred_interest_minor: int
    outstanding_after_minor: int


@dataclass(frozen=True, slots=True)
class SchedulePosition:
    """Where a loan stands on a date, by its schedule (everything due by then counted as
    due, whether paid or not)."""

    outstanding_minor: int
    """Principal not yet due."""
    accrual_start: date
    """Start of the interest period the date falls in: the last due date or prepayment on
    or before it, or the disbursement."""
    deferred_interest_minor: int
    """Interest deferred by the grace period that has not fallen due yet."""
    next_line_index: int
    """Index in ``lines`` of the first installment due after the date."""


@dataclass(frozen=True, slots=True)
class Schedule:
    terms: LoanTerms
    lines: tuple[ScheduleLine, ...]
    prepayments: tuple[Prepayment, ...]
    level_minor: int | None
    """The level amount a reduce-term prepayment keeps: the installment of an equal
    installment loan, the regular principal part of an equal principal loan; None for a
    bullet loan."""

    def __post_init__(self) -> None:
        """The post-condition of every way a schedule is made: it repays exactly the loan."""
        if (
            not self.lines
            or self.lines[-1].outstanding_after_minor != 0
            or self.total_principal_minor != self.terms.principal_minor
        ):
            raise InvariantViolation(
                "a schedule must repay exactly the loan amount",
                principal_minor=self.terms.principal_minor,
                scheduled_minor=self.total_principal_minor,
            )

    @property
    def total_principal_minor(self) -> int:
        """Principal of the installments and the prepayments: always the loan amount."""
        return sum(line.principal_minor for line in self.lines) + sum(
            prepayment.principal_minor for prepayment in self.prepayments
        )

    @property
    def total_interest_minor(self) -> int:
        return sum(line.interest_minor for line in self.lines) + sum(
            prepayment.interest_minor for prepayment in self.prepayments
        )

    @property
    def maturity_date(self) -> date:
        return self.lines[-1].due_date

    def position_at(self, on: date) -> SchedulePosition:
        """The loan's position at the end of ``on`` (on or after disbursement)."""
        require_date(on, "on")
        if on < self.terms.disbursement_date:
            raise InvalidInput("the date is before the disbursement", field="on")
        due = [line for line in self.lines if line.due_date <= on]
        prepaid = [prepayment for prepayment in self.prepayments if prepayment.paid_on <= on]
        outstanding = (
            self.terms.principal_minor
            - sum(line.principal_minor for line in due)
            - sum(prepayment.principal_minor for prepayment in prepaid)
        )
        starts = [self.terms.disbursement_date]
        starts += [line.due_date for line in due] + [prepayment.paid_on for prepayment in prepaid]
        released = any(line.number > self.terms.grace.interest_periods for line in due)
        deferred = (
            0
            if released
            else sum(line.deferred_interest_minor for line in due)
            + sum(prepayment.deferred_interest_minor for prepayment in prepaid)
        )
        return SchedulePosition(outstanding, max(starts), deferred, len(due))


@dataclass(frozen=True, slots=True)
class Period:
    """One installment's period to be scheduled: its number, start and due date."""

    number: int
    start: date
    due: date


def generate_schedule(terms: LoanTerms) -> Schedule:
    """The repayment schedule of a new loan."""
    require_member(terms, LoanTerms, "terms")
    dates = due_dates(terms.first_due_date, terms.frequency, terms.installments)
    starts = (terms.disbursement_date, *dates[:-1])
    periods = [
        Period(number, start, due)
        for number, (start, due) in enumerate(zip(starts, dates, strict=True), start=1)
    ]
    lines, level = build_lines(terms, periods, terms.principal_minor, 0, None)
    return Schedule(terms, lines, (), level)


def period_interest_minor(terms: LoanTerms, outstanding_minor: int, start: date, end: date) -> int:
    """Interest on ``outstanding_minor`` from ``start`` to ``end``, rounded half to even."""
    fraction = year_fraction(terms.day_count, start, end)
    return round_half_even(outstanding_minor * Fraction(terms.annual_rate) * fraction)


def build_lines(
    terms: LoanTerms,
    periods: Sequence[Period],
    outstanding_minor: int,
    deferred_interest_minor: int,
    level_minor: int | None,
) -> tuple[tuple[ScheduleLine, ...], int | None]:
    """Schedule ``outstanding_minor`` over ``periods``; return the lines and the level.

    ``deferred_interest_minor`` is grace interest already deferred and not yet due.
    ``level_minor`` keeps a given installment (equal installment) or principal part (equal
    principal), as a reduce-term prepayment does; None prices a new one over the periods.
    """
    grace_count = sum(1 for period in periods if period.number <= terms.grace.principal_periods)
    repaying_periods = periods[grace_count:]
    installment = 0
    parts: list[int] = []
    level: int | None = None
    if terms.method is AmortizationMethod.EQUAL_INSTALLMENT:
        installment = (
            level_minor
            if level_minor is not None
            else _annuity(terms, outstanding_minor, repaying_periods)
        )
        level = installment
    elif terms.method is AmortizationMethod.EQUAL_PRINCIPAL:
        parts = _principal_parts(outstanding_minor, len(repaying_periods), level_minor)
        level = level_minor if level_minor is not None else parts[0]

    lines: list[ScheduleLine] = []
    outstanding, deferred = outstanding_minor, deferred_interest_minor
    for index, period in enumerate(periods):
        interest = period_interest_minor(terms, outstanding, period.start, period.due)
        if period.number <= terms.grace.interest_periods:
            deferred_now, interest_due = interest, 0
            deferred += interest
        else:
            deferred_now, interest_due = 0, interest + deferred
            deferred = 0
        if index == len(periods) - 1:
            principal = outstanding
        elif index < grace_count:
            principal = 0
        else:
            planned = _planned_principal(
                terms.method, index - grace_count, interest, installment, parts
            )
            principal = min(outstanding, planned)
        outstanding -= principal
        lines.append(
            ScheduleLine(
                period.number,
                period.start,
                period.due,
                principal,
                interest_due,
                deferred_now,
                outstanding,
            )
        )
        if outstanding == 0:
            break
    return tuple(lines), level


def _planned_principal(
    method: AmortizationMethod, index: int, interest: int, installment: int, parts: list[int]
) -> int:
    """The principal the ``index``-th repaying period is meant to repay, before the cap at
    what is outstanding: the installment less the interest (never below zero), the equal
    part, or nothing until a bullet's last period."""
    if method is AmortizationMethod.EQUAL_INSTALLMENT:
        return max(0, installment - interest)
    if method is AmortizationMethod.EQUAL_PRINCIPAL:
        return parts[index] if index < len(parts) else 0
    return 0


def _annuity(terms: LoanTerms, outstanding_minor: int, repaying: Sequence[Period]) -> int:
    """The level installment repaying ``outstanding_minor`` over ``repaying`` at each
    period's own rate (see the module docstring)."""
    rate = Fraction(terms.annual_rate)
    discount, factor = Decimal(1), Decimal(0)
    for period in repaying:
        period_rate = rate * year_fraction(terms.day_count, period.start, period.due)
        growth = _ANNUITY.add(
            1, _ANNUITY.divide(Decimal(period_rate.numerator), Decimal(period_rate.denominator))
        )
        discount = _ANNUITY.divide(discount, growth)
        factor = _ANNUITY.add(factor, discount)
    return round_half_even(Fraction(_ANNUITY.divide(Decimal(outstanding_minor), factor)))


def _principal_parts(outstanding_minor: int, count: int, level_minor: int | None) -> list[int]:
    """Equal principal parts: shared out evenly, or ``level_minor`` each until the
    outstanding runs out (a reduce-term prepayment keeps the part and shortens the loan)."""
    if level_minor is None:
        return split_by_ratio(outstanding_minor, [1] * count)
    whole, rest = divmod(outstanding_minor, level_minor)
    return [level_minor] * whole + ([rest] if rest else [])
