"""Credit lines: draws within the limit, statement dates, a statement worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lending_factories import credit_line_product

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending.credit_lines import (
    CreditLineEvent,
    CreditLineEventKind,
    build_statement,
    check_draw,
    statement_date_after,
)
from core_banking.domain.lending.errors import CreditLimitExceeded

DRAW, PAYMENT, FEE = CreditLineEventKind.DRAW, CreditLineEventKind.PAYMENT, CreditLineEventKind.FEE


def test_draws_stay_within_the_limit() -> None:
    check_draw(9_000_00, 1_000_00, 10_000_00)
    with pytest.raises(CreditLimitExceeded) as raised:
        check_draw(9_000_00, 1_000_01, 10_000_00)
    assert raised.value.context["available_minor"] == 1_000_00


@pytest.mark.parametrize(
    ("previous", "day", "expected"),
    [
        (date(2024, 1, 25), 25, date(2024, 2, 25)),
        (date(2024, 1, 10), 25, date(2024, 1, 25)),
        (date(2024, 1, 31), 31, date(2024, 2, 29)),
        (date(2024, 2, 29), 31, date(2024, 3, 31)),
        (date(2024, 12, 25), 25, date(2025, 1, 25)),
    ],
)
def test_statement_dates(previous: date, day: int, expected: date) -> None:
    assert statement_date_after(previous, day) == expected


def test_a_statement_worked_by_hand() -> None:
    # 18 % a year, Actual/365, accruals kept at 4 decimals. Daily interest on
    # 1,000.00 = 0.49315.. -> 0.4932; on 800.00 = 0.39452.. -> 0.3945; on 815.00 =
    # 0.40191.. -> 0.4019. 14 days at 1,000.00 (1-14 Feb), 5 at 800.00 (15-19 Feb),
    # 6 at 815.00 (20-25 Feb), nothing on 26-31 Jan: 6.9048 + 1.9725 + 2.4114 = 11.2887.
    statement = build_statement(
        credit_line_product(),
        previous_statement_date=date(2024, 1, 25),
        statement_date=date(2024, 2, 25),
        opening_minor=0,
        events=[
            CreditLineEvent(date(2024, 2, 1), DRAW, 1_000_00),
            CreditLineEvent(date(2024, 2, 15), PAYMENT, 200_00),
            CreditLineEvent(date(2024, 2, 20), FEE, 15_00),
        ],
        residue=Decimal(0),
        precision=4,
    )
    assert statement.accrued_interest == Decimal("11.2887")
    assert (statement.interest_minor, statement.residue) == (11_28, Decimal("0.0087"))
    assert statement.closing_minor == 1_000_00 - 200_00 + 15_00 + 11_28
    assert statement.minimum_payment_minor == 41_32  # 5 % of 826.28 = 41.314, rounded up
    assert statement.due_date == date(2024, 3, 17)  # 21 days after 25 February 2024
    assert statement.period_start == date(2024, 1, 26)


def test_the_residue_carries_into_the_next_statement() -> None:
    statement = build_statement(
        credit_line_product(),
        date(2024, 2, 25),
        date(2024, 3, 25),
        opening_minor=826_28,
        events=[],
        residue=Decimal("0.0087"),
        precision=4,
    )
    # 826.28 at 18 % / 365 = 0.40748.. -> 0.4075 a day for 29 days = 11.8175, + 0.0087.
    assert statement.accrued_interest == Decimal("11.8175")
    assert (statement.interest_minor, statement.residue) == (11_82, Decimal("0.0062"))


def test_a_line_in_credit_earns_nothing_and_owes_no_minimum() -> None:
    statement = build_statement(
        credit_line_product(),
        date(2024, 1, 25),
        date(2024, 2, 25),
        opening_minor=100_00,
        events=[CreditLineEvent(date(2024, 1, 26), PAYMENT, 150_00)],
        residue=Decimal(0),
        precision=4,
    )
    assert statement.interest_minor == 0
    assert statement.closing_minor == -50_00
    assert statement.minimum_payment_minor == 0


def test_events_must_fall_within_the_period() -> None:
    with pytest.raises(InvalidInput) as raised:
        build_statement(
            credit_line_product(),
            date(2024, 1, 25),
            date(2024, 2, 25),
            0,
            [CreditLineEvent(date(2024, 1, 25), DRAW, 1_00)],
            Decimal(0),
            4,
        )
    assert raised.value.context["field"] == "events"
