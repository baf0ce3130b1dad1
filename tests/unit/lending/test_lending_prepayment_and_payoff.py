"""Partial prepayments (reduce term, reduce installment) and payoff quotes, worked by hand.

The loan: 10,000.00 at 12 % a year, 30/360, 12 monthly installments of 888.49 from
15 February 2024, so every month's interest is exactly 1 % of the balance.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from lending_factories import loan_terms

from core_banking.domain.errors import InvalidAmount, InvalidInput, RuleViolation
from core_banking.domain.lending.allocation import AmountsDue
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_products import GracePeriods, PrepaymentStrategy
from core_banking.domain.lending.payoff import payoff_quote
from core_banking.domain.lending.prepayment import apply_prepayment
from core_banking.domain.lending.schedule import Schedule, generate_schedule

SCHEDULE = generate_schedule(loan_terms())
AFTER_THREE = 7_610_80  # balance after the April installment


def plain_level_run(balance: int, payment: int, months: int) -> list[tuple[int, int, int]]:
    """Keep paying ``payment`` at 1 % a month until the balance is gone (at most ``months``)."""
    rows = []
    for month in range(1, months + 1):
        interest = round(Fraction(balance, 100))
        part = balance if month == months else min(balance, payment - interest)
        balance -= part
        rows.append((part, interest, balance))
        if balance == 0:
            break
    return rows


def plain_french(balance: int, months: int) -> list[tuple[int, int, int]]:
    r = Fraction(1, 100)
    return plain_level_run(balance, round(balance * r / (1 - (1 + r) ** -months)), months)


def rows_after(schedule: Schedule, number: int) -> list[tuple[int, int, int]]:
    return [
        (line.principal_minor, line.interest_minor, line.outstanding_after_minor)
        for line in schedule.lines
        if line.number > number
    ]


def test_reduce_term_keeps_the_installment_and_finishes_sooner() -> None:
    after = apply_prepayment(SCHEDULE, date(2024, 4, 15), 2_000_00, PrepaymentStrategy.REDUCE_TERM)
    assert after.lines[:3] == SCHEDULE.lines[:3]
    prepayment = after.prepayments[0]
    assert (prepayment.principal_minor, prepayment.interest_minor) == (2_000_00, 0)
    assert rows_after(after, 3) == plain_level_run(AFTER_THREE - 2_000_00, 888_49, 9)
    assert len(after.lines) == 10  # two installments fewer
    assert after.level_minor == 888_49
    assert after.total_principal_minor == 10_000_00


def test_reduce_installment_keeps_the_maturity_and_lowers_the_installment() -> None:
    after = apply_prepayment(
        SCHEDULE, date(2024, 4, 15), 2_000_00, PrepaymentStrategy.REDUCE_INSTALLMENT
    )
    assert rows_after(after, 3) == plain_french(AFTER_THREE - 2_000_00, 9)
    assert after.maturity_date == SCHEDULE.maturity_date
    assert after.level_minor == 655_01  # 56.108 / (1 - 1.01^-9) = 655.008
    assert after.total_principal_minor == 10_000_00


def test_a_prepayment_between_due_dates_settles_the_interest_accrued_so_far() -> None:
    after = apply_prepayment(
        SCHEDULE, date(2024, 4, 30), 2_000_00, PrepaymentStrategy.REDUCE_INSTALLMENT
    )
    # 15 days (30/360) on 7,610.80 at 12 %: 38.054 -> 38.05 due with the prepayment.
    assert after.prepayments[0].interest_minor == 38_05
    # The May installment charges 15 days on the new balance 5,610.80: 28.054 -> 28.05.
    may = after.lines[3]
    assert (may.period_start, may.interest_minor) == (date(2024, 4, 30), 28_05)
    assert after.total_principal_minor == 10_000_00
    assert after.lines[-1].outstanding_after_minor == 0


def test_two_prepayments_in_a_row() -> None:
    once = apply_prepayment(SCHEDULE, date(2024, 4, 15), 1_000_00, PrepaymentStrategy.REDUCE_TERM)
    twice = apply_prepayment(once, date(2024, 6, 1), 1_000_00, PrepaymentStrategy.REDUCE_TERM)
    assert twice.total_principal_minor == 10_000_00
    assert [p.paid_on for p in twice.prepayments] == [date(2024, 4, 15), date(2024, 6, 1)]
    with pytest.raises(InvalidInput):
        apply_prepayment(twice, date(2024, 5, 1), 1_00, PrepaymentStrategy.REDUCE_TERM)


def test_a_prepayment_inside_the_interest_grace_defers_its_interest() -> None:
    schedule = generate_schedule(loan_terms(grace=GracePeriods(2, 2)))
    after = apply_prepayment(
        schedule, date(2024, 3, 1), 1_000_00, PrepaymentStrategy.REDUCE_INSTALLMENT
    )
    prepayment = after.prepayments[0]
    # 16 days (30/360) on 10,000.00 at 12 %: 53.33, deferred with the rest of the grace.
    assert (prepayment.interest_minor, prepayment.deferred_interest_minor) == (0, 53_33)
    # March 15 (grace): 14 days on 9,000.00 = 42.00, deferred as well.
    assert after.lines[1].deferred_interest_minor == 42_00
    # April 15 pays its own month on 9,000.00 plus everything deferred.
    assert after.lines[2].interest_minor == 90_00 + 100_00 + 53_33 + 42_00
    assert after.total_principal_minor == 10_000_00


def test_a_prepayment_is_less_than_the_balance_and_before_maturity() -> None:
    with pytest.raises(InvalidAmount):
        apply_prepayment(SCHEDULE, date(2024, 4, 15), AFTER_THREE, PrepaymentStrategy.REDUCE_TERM)
    with pytest.raises(RuleViolation):
        apply_prepayment(SCHEDULE, date(2025, 1, 15), 1_00, PrepaymentStrategy.REDUCE_TERM)
    with pytest.raises(InvalidInput):
        apply_prepayment(SCHEDULE, date(2024, 1, 1), 1_00, PrepaymentStrategy.REDUCE_TERM)


# ------------------------------------------------------------------------------- payoff


def test_payoff_between_due_dates() -> None:
    quote = payoff_quote(SCHEDULE, date(2024, 4, 30), [], FeeRule.percent(Decimal("0.02")))
    assert quote.principal_minor == AFTER_THREE
    assert quote.interest_minor == 38_05  # 15 days at 1 % a month: 38.054
    assert quote.early_repayment_fee_minor == 152_22  # 2 % of 7,610.80 = 152.216
    assert quote.total_minor == AFTER_THREE + 38_05 + 152_22


def test_payoff_with_an_overdue_installment() -> None:
    may = SCHEDULE.lines[3]
    overdue = AmountsDue(4, may.due_date, 0, 25_00, may.interest_minor, may.principal_minor)
    quote = payoff_quote(SCHEDULE, date(2024, 5, 20), [overdue], FeeRule.fixed(50_00))
    assert quote.principal_minor == AFTER_THREE
    # 5 days on 6,798.42 (the balance not yet due) at 1 % a month: 11.3307 -> 11.33.
    assert quote.interest_minor == 11_33 + may.interest_minor
    assert (quote.penalties_minor, quote.fees_minor, quote.early_repayment_fee_minor) == (
        25_00,
        0,
        50_00,
    )


def test_payoff_at_maturity_has_no_early_repayment_fee() -> None:
    last = SCHEDULE.lines[-1]
    overdue = AmountsDue(12, last.due_date, 0, 0, last.interest_minor, last.principal_minor)
    quote = payoff_quote(SCHEDULE, last.due_date, [overdue], FeeRule.fixed(50_00))
    assert quote.total_minor == last.total_minor
    assert quote.early_repayment_fee_minor == 0


def test_payoff_includes_deferred_grace_interest() -> None:
    schedule = generate_schedule(loan_terms(grace=GracePeriods(2, 2)))
    quote = payoff_quote(schedule, date(2024, 3, 20), [], None)
    # February's and March's interest deferred, and 5 days into the April period.
    assert quote.interest_minor == 100_00 + 100_00 + 16_67


def test_overdue_amounts_cannot_be_in_the_future() -> None:
    with pytest.raises(InvalidInput):
        payoff_quote(
            SCHEDULE, date(2024, 2, 1), [AmountsDue(1, date(2024, 2, 15), 0, 0, 1, 1)], None
        )
