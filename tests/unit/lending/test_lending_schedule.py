"""Repayment schedules checked against published figures and a second, plain implementation.

The plain implementations below (``textbook_french`` and ``calendar_schedule``) are written
from the definitions, with ``fractions.Fraction`` and Python's built-in ``round`` (which
rounds a Fraction half to even), and share no code with the module under test.
"""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from lending_factories import loan_product, loan_terms

from core_banking.domain.errors import InvalidAmount, InvalidInput
from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.loan_products import AmortizationMethod, GracePeriods
from core_banking.domain.lending.products import activate
from core_banking.domain.lending.schedule import LoanTerms, Schedule, generate_schedule

# -------------------------------------------------------- independent implementations


def textbook_french(principal: int, annual_rate: str, months: int) -> list[tuple[int, int, int]]:
    """(principal part, interest, balance after) per month, from A = P r / (1 - (1 + r)^-n)
    with r = annual rate / 12, each month's interest rounded half to even to the cent."""
    r = Fraction(Decimal(annual_rate)) / 12
    payment = (
        round(principal * r / (1 - (1 + r) ** -months)) if r else round(Fraction(principal, months))
    )
    rows, balance = [], principal
    for month in range(1, months + 1):
        interest = round(balance * r)
        part = balance if month == months else payment - interest
        balance -= part
        rows.append((part, interest, balance))
    return rows


def month_end_roll(first: date, k: int) -> date:
    year, month = first.year + (first.month - 1 + k) // 12, (first.month - 1 + k) % 12 + 1
    return date(year, month, min(first.day, calendar.monthrange(year, month)[1]))


def calendar_schedule(
    principal: int, annual_rate: str, days_in_year: int, disbursed: date, first: date, n: int
) -> list[tuple[date, int, int, int]]:
    """An equal-installment schedule with interest on actual days / days_in_year: the
    installment solves sum_k A prod_{j<=k} 1/(1 + r_j) = P exactly (Fractions)."""
    rate = Fraction(Decimal(annual_rate))
    dues = [month_end_roll(first, k) for k in range(n)]
    starts = [disbursed, *dues[:-1]]
    period_rates = [
        rate * (due - start).days / days_in_year for start, due in zip(starts, dues, strict=True)
    ]
    discount, factor = Fraction(1), Fraction(0)
    for r in period_rates:
        discount /= 1 + r
        factor += discount
    payment = round(principal / factor)
    rows, balance = [], principal
    for k, (due, r) in enumerate(zip(dues, period_rates, strict=True)):
        interest = round(balance * r)
        part = balance if k == n - 1 else payment - interest
        balance -= part
        rows.append((due, part, interest, balance))
    return rows


def rows_of(schedule: Schedule) -> list[tuple[int, int, int]]:
    return [
        (line.principal_minor, line.interest_minor, line.outstanding_after_minor)
        for line in schedule.lines
    ]


# --------------------------------------------------------------- published installments


@pytest.mark.parametrize(
    ("principal", "rate", "months", "installment"),
    [
        # 10,000 at 12 % a year over 12 months: 100 / (1 - 1.01^-12) = 888.4879 -> 888.49.
        (10_000_00, "0.12", 12, 888_49),
        # Microsoft Excel, PMT function: =PMT(8%/12, 10, 10000) -> ($1,037.03).
        # https://support.microsoft.com/en-us/office/pmt-function-0214da64-9a63-4996-bc20-214433fa6441
        (10_000_00, "0.08", 10, 1_037_03),
        # Claris FileMaker Pro, PMT: PMT(21000; .069/12; 48) returns $501.90.
        # https://help.claris.com/en/pro-help/content/pmt.html
        (21_000_00, "0.069", 48, 501_90),
        # Mescius (GrapeCity) formula reference, PMT: PMT(6%/12, 15, 5000) gives -346.82.
        # https://developer.mescius.com/spreadnet/docs/latest/online-formula/FunctionPMT.html
        (5_000_00, "0.06", 15, 346_82),
    ],
)
def test_the_installment_matches_published_figures(
    principal: int, rate: str, months: int, installment: int
) -> None:
    # 30/360 with an anchor day of at most 28 makes every period exactly 1/12 of a year,
    # the periodic rate the published figures use.
    schedule = generate_schedule(
        loan_terms(principal_minor=principal, annual_rate=Decimal(rate), installments=months)
    )
    assert schedule.level_minor == installment
    assert {line.total_minor for line in schedule.lines[:-1]} == {installment}
    assert rows_of(schedule) == textbook_french(principal, rate, months)


def test_the_12_percent_example_line_by_line() -> None:
    schedule = generate_schedule(loan_terms())
    first, last = schedule.lines[0], schedule.lines[-1]
    assert (first.due_date, first.interest_minor, first.principal_minor) == (
        date(2024, 2, 15),
        100_00,
        788_49,
    )
    assert (last.due_date, last.total_minor, last.outstanding_after_minor) == (
        date(2025, 1, 15),
        888_47,
        0,
    )
    assert schedule.total_principal_minor == 10_000_00
    assert schedule.total_interest_minor == 661_86


def test_a_zero_rate_loan_repays_equal_parts() -> None:
    schedule = generate_schedule(
        loan_terms(annual_rate=Decimal(0), principal_minor=1_000_00, installments=3)
    )
    assert [line.total_minor for line in schedule.lines] == [333_33, 333_33, 333_34]
    assert rows_of(schedule) == textbook_french(1_000_00, "0", 3)


# ------------------------------------------------------- interest on the actual calendar


@pytest.mark.parametrize(
    ("day_count", "days_in_year"), [(DayCount.ACTUAL_365_FIXED, 365), (DayCount.ACTUAL_360, 360)]
)
def test_actual_day_schedules_agree_with_the_plain_implementation(
    day_count: DayCount, days_in_year: int
) -> None:
    terms = loan_terms(
        principal_minor=25_000_00,
        annual_rate=Decimal("0.0725"),
        day_count=day_count,
        installments=36,
        disbursement_date=date(2024, 1, 10),
        first_due_date=date(2024, 1, 31),
    )
    schedule = generate_schedule(terms)
    expected = calendar_schedule(
        25_000_00, "0.0725", days_in_year, date(2024, 1, 10), date(2024, 1, 31), 36
    )
    assert [
        (line.due_date, line.principal_minor, line.interest_minor, line.outstanding_after_minor)
        for line in schedule.lines
    ] == expected
    # Month-end anchored: 29 Feb in 2024, 28 Feb in 2025, back to the 31st in March.
    dues = [line.due_date for line in schedule.lines]
    assert dues[1] == date(2024, 2, 29)
    assert dues[13] == date(2025, 2, 28)
    assert dues[14] == date(2025, 3, 31)
    # A short first period (21 days) costs less interest than a full month.
    assert schedule.lines[0].interest_minor < schedule.lines[1].interest_minor


def test_weekly_and_biweekly_schedules_step_by_days() -> None:
    for frequency, step, first_due in (
        (RepaymentFrequency.WEEKLY, 7, date(2024, 1, 22)),
        (RepaymentFrequency.BIWEEKLY, 14, date(2024, 1, 29)),
    ):
        schedule = generate_schedule(
            loan_terms(
                frequency=frequency,
                day_count=DayCount.ACTUAL_365_FIXED,
                installments=26,
                first_due_date=first_due,
            )
        )
        dues = [line.due_date for line in schedule.lines]
        assert all(
            later - earlier == timedelta(days=step) for earlier, later in itertools.pairwise(dues)
        )
        assert schedule.total_principal_minor == 10_000_00
        assert len({line.total_minor for line in schedule.lines[:-1]}) == 1


# ----------------------------------------------------------- equal principal and bullet


def test_equal_principal_parts_differ_by_at_most_a_cent_and_interest_falls() -> None:
    schedule = generate_schedule(
        loan_terms(
            method=AmortizationMethod.EQUAL_PRINCIPAL, principal_minor=1_000_00, installments=3
        )
    )
    assert [line.principal_minor for line in schedule.lines] == [333_34, 333_33, 333_33]
    # 30/360, 1 % a month on 1,000.00, 666.66 and 333.33.
    assert [line.interest_minor for line in schedule.lines] == [10_00, 6_67, 3_33]
    assert schedule.level_minor == 333_34


def test_a_bullet_loan_pays_interest_then_everything_at_maturity() -> None:
    schedule = generate_schedule(loan_terms(method=AmortizationMethod.BULLET, installments=6))
    assert [line.principal_minor for line in schedule.lines] == [0] * 5 + [10_000_00]
    assert {line.interest_minor for line in schedule.lines} == {100_00}
    assert schedule.level_minor is None


# -------------------------------------------------------------------------------- grace


def test_principal_grace_charges_interest_only() -> None:
    schedule = generate_schedule(loan_terms(grace=GracePeriods(principal_periods=3)))
    assert [line.principal_minor for line in schedule.lines[:3]] == [0, 0, 0]
    assert [line.interest_minor for line in schedule.lines[:3]] == [100_00] * 3
    # The annuity is priced over the 9 repaying months: 10,000 at 1 % over 9 months.
    repaying = textbook_french(10_000_00, "0.12", 9)
    assert rows_of(schedule)[3:] == repaying
    assert schedule.total_principal_minor == 10_000_00


def test_interest_grace_defers_interest_to_the_first_installment_after_it() -> None:
    schedule = generate_schedule(
        loan_terms(grace=GracePeriods(principal_periods=2, interest_periods=2))
    )
    first, second, third = schedule.lines[:3]
    assert (first.interest_minor, first.deferred_interest_minor) == (0, 100_00)
    assert (second.interest_minor, second.deferred_interest_minor) == (0, 100_00)
    assert third.interest_minor == 300_00  # its own 100.00 plus the two deferred
    assert third.principal_minor == third.total_minor - 300_00
    assert schedule.total_interest_minor == sum(
        line.interest_minor for line in generate_schedule(loan_terms(grace=GracePeriods(2))).lines
    )


# --------------------------------------------------------------------------- validation


def test_terms_from_a_product_are_checked_against_its_limits() -> None:
    product = activate(loan_product())
    terms = LoanTerms.from_product(product, 5_000_00, 24, date(2024, 1, 15), date(2024, 2, 15))
    assert (terms.annual_rate, terms.method, terms.installments) == (
        Decimal("0.12"),
        product.method,
        24,
    )
    with pytest.raises(InvalidInput):
        LoanTerms.from_product(product, 5_000_00, 61, date(2024, 1, 15), date(2024, 2, 15))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_due_date": date(2024, 1, 15)}, "first_due_date"),
        ({"first_due_date": date(2024, 3, 18)}, "first_due_date"),
        ({"grace": GracePeriods(12)}, "grace.principal_periods"),
        ({"installments": 0}, "installments"),
        ({"annual_rate": 0.1}, "annual_rate"),
    ],
)
def test_loan_terms_are_checked_by_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        loan_terms(**changes)
    assert raised.value.context["field"] == field


def test_a_loan_of_nothing_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        loan_terms(principal_minor=0)
