"""Conservation properties: allocations, accrual postings and credit-line statements never
lose or invent a minor unit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_banking.domain.lending.accrual import daily_accrual, post_accrual, sum_accruals
from core_banking.domain.lending.allocation import (
    AllocationOrder,
    AmountsDue,
    Component,
    OverpaymentPolicy,
    allocate_payment,
)
from core_banking.domain.lending.credit_line_products import CreditLineProduct, MinimumPaymentRule
from core_banking.domain.lending.credit_lines import (
    CreditLineEvent,
    CreditLineEventKind,
    build_statement,
)
from core_banking.domain.lending.day_count import DayCount, year_fraction
from core_banking.domain.lending.errors import OverpaymentRefused
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.rates import FixedRate
from core_banking.domain.money import Currency, all_currencies, currency

currencies = st.sampled_from(all_currencies())
amounts = st.integers(min_value=0, max_value=10**9)
orders = st.permutations(list(Component)).map(lambda components: AllocationOrder(tuple(components)))


@st.composite
def dues_lists(draw: st.DrawFn) -> list[AmountsDue]:
    count = draw(st.integers(min_value=0, max_value=8))
    numbers = draw(st.permutations(range(1, count + 1)))
    start = date(2024, 1, 1)
    return [
        AmountsDue(
            number,
            start + timedelta(days=30 * number + draw(st.integers(min_value=0, max_value=3))),
            draw(amounts),
            draw(amounts),
            draw(amounts),
            draw(amounts),
        )
        for number in numbers
    ]


@settings(max_examples=500, deadline=None)
@given(
    dues=dues_lists(),
    order=orders,
    payment=st.integers(min_value=1, max_value=10**10),
    policy=st.sampled_from(OverpaymentPolicy),
)
def test_an_allocation_never_loses_or_invents_a_unit(
    dues: list[AmountsDue], order: AllocationOrder, payment: int, policy: OverpaymentPolicy
) -> None:
    owed = sum(due.total_minor for due in dues)
    if payment > owed and policy is OverpaymentPolicy.REFUSE:
        with pytest.raises(OverpaymentRefused):
            allocate_payment(payment, dues, order, policy)
        return
    allocation = allocate_payment(payment, dues, order, policy)
    assert sum(part.amount_minor for part in allocation.parts) + allocation.credit_minor == payment
    assert allocation.credit_minor == max(0, payment - owed)
    by_number = {due.installment_number: due for due in dues}
    paid: dict[tuple[int, Component], int] = {}
    for part in allocation.parts:
        assert part.amount_minor > 0
        paid[part.installment_number, part.component] = part.amount_minor
    for (number, component), amount in paid.items():
        assert amount <= by_number[number].of(component)
    # Oldest first, and within an installment in the product's order: every component
    # before the last one touched is paid in full.
    ordered = sorted(dues, key=lambda due: (due.due_date, due.installment_number))
    sequence = [
        (due.installment_number, component) for due in ordered for component in order.components
    ]
    touched = [index for index, key in enumerate(sequence) if key in paid]
    if touched:
        for number, component in sequence[: touched[-1]]:
            assert paid.get((number, component), 0) == by_number[number].of(component)


accruals = st.decimals(
    min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False
)


@settings(max_examples=300, deadline=None)
@given(unit=currencies, periods=st.lists(st.lists(accruals, max_size=31), min_size=1, max_size=24))
def test_posted_plus_residue_is_what_accrued(unit: Currency, periods: list[list[Decimal]]) -> None:
    residue, posted = Decimal(0), 0
    for period in periods:
        posting = post_accrual(sum_accruals(period), residue, unit)
        assert 0 <= posting.residue < unit.smallest_unit
        posted += posting.posted_minor
        residue = posting.residue
    total = sum_accruals(accrual for period in periods for accrual in period)
    assert Fraction(posted, 10**unit.minor_units) + Fraction(residue) == Fraction(total)


@settings(max_examples=300, deadline=None)
@given(
    unit=currencies,
    base=st.integers(min_value=0, max_value=10**14),
    basis_points=st.integers(min_value=0, max_value=10**5),
    day_count=st.sampled_from(DayCount),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    precision=st.integers(min_value=0, max_value=18),
)
def test_a_daily_accrual_is_within_half_a_unit_of_the_exact_interest(
    unit: Currency, base: int, basis_points: int, day_count: DayCount, day: date, precision: int
) -> None:
    rate = Decimal(basis_points).scaleb(-4)
    accrued = daily_accrual(Fraction(base), unit, FixedRate(rate), day_count, day, precision)
    exact = (
        Fraction(base, 10**unit.minor_units)
        * Fraction(rate)
        * year_fraction(day_count, day, day + timedelta(days=1))
    )
    places = max(precision, unit.minor_units)
    assert accrued.as_tuple().exponent == -places
    assert abs(Fraction(accrued) - exact) <= Fraction(1, 2 * 10**places)


USD = currency("USD")
LINE = CreditLineProduct(
    product_id=UUID(int=1),
    version=1,
    status=ProductStatus.ACTIVE,
    name="line",
    currency=USD,
    max_limit_minor=10**9,
    annual_rate=Decimal("0.2499"),
    day_count=DayCount.ACTUAL_365_FIXED,
    statement_day=1,
    minimum_payment=MinimumPaymentRule(Decimal("0.03"), 10_00),
    grace_days=25,
    late_fee=None,
)


@st.composite
def statement_months(draw: st.DrawFn) -> list[list[CreditLineEvent]]:
    months = []
    for month in range(1, draw(st.integers(min_value=1, max_value=6)) + 1):
        start = date(2024, month, 1)
        length = (date(2024, month + 1, 1) - start).days
        months.append(
            [
                CreditLineEvent(
                    start + timedelta(days=draw(st.integers(min_value=1, max_value=length))),
                    draw(st.sampled_from(CreditLineEventKind)),
                    draw(st.integers(min_value=1, max_value=10**7)),
                )
                for _ in range(draw(st.integers(min_value=0, max_value=8)))
            ]
        )
    return months


@settings(max_examples=150, deadline=None)
@given(months=statement_months(), opening=st.integers(min_value=-(10**6), max_value=10**8))
def test_statements_agree_to_the_cent_and_carry_every_fraction(
    months: list[list[CreditLineEvent]], opening: int
) -> None:
    balance, residue, accrued, posted = opening, Decimal(0), Decimal(0), 0
    for month, events in enumerate(months, start=1):
        statement = build_statement(
            LINE, date(2024, month, 1), date(2024, month + 1, 1), balance, events, residue, 4
        )
        assert statement.opening_minor == balance
        assert statement.closing_minor == (
            statement.opening_minor
            + statement.draws_minor
            + statement.interest_minor
            + statement.fees_minor
            - statement.payments_minor
        )
        assert 0 <= statement.minimum_payment_minor <= max(statement.closing_minor, 0)
        accrued = sum_accruals([accrued, statement.accrued_interest])
        posted += statement.interest_minor
        balance, residue = statement.closing_minor, statement.residue
    assert Fraction(posted, 100) + Fraction(residue) == Fraction(accrued)
