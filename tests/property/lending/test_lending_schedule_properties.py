"""Properties of schedules and prepayments over hundreds of random loans.

For every loan: the principal parts add up to exactly the loan amount, the balance never goes
negative, falls with every installment and ends at zero, and grace periods repay nothing
(or charge nothing). An equal-installment schedule charges exactly its installment every
regular period, and its last installment differs from it by no more than the rounding
carried there: at most one minor unit per period, grown at the loan's own period rates.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from lending_strategies import loan_terms

from core_banking.domain.lending.day_count import year_fraction
from core_banking.domain.lending.loan_products import AmortizationMethod, PrepaymentStrategy
from core_banking.domain.lending.prepayment import apply_prepayment
from core_banking.domain.lending.schedule import LoanTerms, Schedule, generate_schedule


def check_schedule(schedule: Schedule) -> None:
    terms = schedule.terms
    assert schedule.total_principal_minor == terms.principal_minor
    assert schedule.lines[-1].outstanding_after_minor == 0
    balance = terms.principal_minor
    # On one date an installment falls due before a prepayment is applied; prepayments on
    # one date keep the order they were made in (sorted is stable).
    events = sorted(
        [
            (line.due_date, 0, line.principal_minor, line.outstanding_after_minor)
            for line in schedule.lines
        ]
        + [
            (p.paid_on, 1, p.principal_minor, p.outstanding_after_minor)
            for p in schedule.prepayments
        ],
        key=lambda event: (event[0], event[1]),
    )
    for _, _, principal, after in events:
        assert principal >= 0
        balance -= principal
        assert balance == after >= 0
    dues = [line.due_date for line in schedule.lines]
    assert dues == sorted(set(dues))
    assert [line.number for line in schedule.lines] == list(range(1, len(schedule.lines) + 1))
    for line in schedule.lines:
        assert line.interest_minor >= 0
        assert line.period_start < line.due_date
        if line.number <= terms.grace.principal_periods and line is not schedule.lines[-1]:
            assert line.principal_minor == 0
        if line.number <= terms.grace.interest_periods:
            assert line.interest_minor == 0
        else:
            assert line.deferred_interest_minor == 0


def rounding_allowance(terms: LoanTerms, schedule: Schedule) -> Fraction:
    """sum_k prod_{j>k} (1 + r_j) over the repaying periods: one minor unit of rounding per
    period (half from the installment, half from the interest), grown to the last period."""
    repaying = [line for line in schedule.lines if line.number > terms.grace.principal_periods]
    allowance = Fraction(0)
    for line in repaying:
        rate = Fraction(terms.annual_rate) * year_fraction(
            terms.day_count, line.period_start, line.due_date
        )
        allowance = allowance * (1 + rate) + 1
    return allowance


@settings(max_examples=400, deadline=None)
@given(terms=loan_terms())
def test_every_schedule_repays_exactly_the_loan(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)
    check_schedule(schedule)
    assert len(schedule.lines) <= terms.installments
    if len(schedule.lines) == terms.installments:
        assert schedule.maturity_date == schedule.lines[-1].due_date


@settings(max_examples=300, deadline=None)
@given(terms=loan_terms())
def test_equal_installments_differ_only_by_the_rounding_on_the_last(terms: LoanTerms) -> None:
    terms = replace(terms, method=AmortizationMethod.EQUAL_INSTALLMENT)
    schedule = generate_schedule(terms)
    installment = schedule.level_minor
    assert installment is not None
    grace = terms.grace
    release = grace.interest_periods + 1 if grace.interest_periods else None
    regular = [
        line
        for line in schedule.lines[:-1]
        if line.number > grace.principal_periods and line.number != release
    ]
    for line in regular:
        # The installment, unless the period's interest alone is more (a long first period
        # at a high rate, or a loan of a few minor units): then the interest alone.
        assert line.total_minor == max(installment, line.interest_minor)
    last = schedule.lines[-1]
    level_throughout = all(line.interest_minor <= installment for line in regular)
    if level_throughout and last.number != release and last.number > grace.principal_periods:
        assert abs(last.total_minor - installment) <= rounding_allowance(terms, schedule)


@settings(max_examples=300, deadline=None)
@given(terms=loan_terms())
def test_equal_principal_parts_differ_by_at_most_one_unit(terms: LoanTerms) -> None:
    terms = replace(terms, method=AmortizationMethod.EQUAL_PRINCIPAL)
    schedule = generate_schedule(terms)
    parts = [
        line.principal_minor
        for line in schedule.lines
        if line.number > terms.grace.principal_periods
    ]
    assert max(parts) - min(parts) <= 1
    assert sum(parts) == terms.principal_minor


@settings(max_examples=300, deadline=None)
@given(terms=loan_terms(max_installments=60), data=st.data())
def test_prepayments_keep_every_unit_of_principal(terms: LoanTerms, data: st.DataObject) -> None:
    schedule = generate_schedule(terms)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        last_day = schedule.maturity_date - timedelta(days=1)
        earliest = max([terms.disbursement_date] + [p.paid_on for p in schedule.prepayments])
        if earliest > last_day:
            break
        paid_on = data.draw(st.dates(min_value=earliest, max_value=last_day))
        outstanding = schedule.position_at(paid_on).outstanding_minor
        if outstanding < 2:
            break
        amount = data.draw(st.integers(min_value=1, max_value=outstanding - 1))
        strategy = data.draw(st.sampled_from(PrepaymentStrategy))
        before = schedule
        schedule = apply_prepayment(schedule, paid_on, amount, strategy)
        check_schedule(schedule)
        kept = [line for line in before.lines if line.due_date <= paid_on]
        assert list(schedule.lines[: len(kept)]) == kept
        assert schedule.maturity_date <= before.maturity_date
        if strategy is PrepaymentStrategy.REDUCE_TERM:
            assert len(schedule.lines) <= len(before.lines)
