"""Allocating repayments: oldest installment first, the product's order within it."""

from __future__ import annotations

from datetime import date

import pytest

from core_banking.domain.errors import InvalidAmount, InvalidInput
from core_banking.domain.lending.allocation import (
    STANDARD_ORDER,
    AllocatedPart,
    AllocationOrder,
    AmountsDue,
    Component,
    OverpaymentPolicy,
    allocate_payment,
)
from core_banking.domain.lending.errors import OverpaymentRefused

FIRST = AmountsDue(
    1,
    date(2024, 2, 15),
    fees_minor=10_00,
    penalties_minor=5_00,
    interest_minor=100_00,
    principal_minor=900_00,
)
SECOND = AmountsDue(
    2,
    date(2024, 3, 15),
    fees_minor=0,
    penalties_minor=0,
    interest_minor=100_00,
    principal_minor=900_00,
)
PRINCIPAL_FIRST = AllocationOrder(
    (Component.PRINCIPAL, Component.INTEREST, Component.PENALTIES, Component.FEES)
)


def test_the_standard_order_pays_the_oldest_installment_fully_first() -> None:
    allocation = allocate_payment(
        1_200_00, [SECOND, FIRST], STANDARD_ORDER, OverpaymentPolicy.REFUSE
    )
    assert allocation.parts == (
        AllocatedPart(1, Component.FEES, 10_00),
        AllocatedPart(1, Component.PENALTIES, 5_00),
        AllocatedPart(1, Component.INTEREST, 100_00),
        AllocatedPart(1, Component.PRINCIPAL, 900_00),
        AllocatedPart(2, Component.INTEREST, 100_00),
        AllocatedPart(2, Component.PRINCIPAL, 85_00),
    )
    assert allocation.credit_minor == 0
    assert allocation.total_of(Component.PRINCIPAL) == 985_00


def test_a_short_payment_stops_inside_the_order() -> None:
    allocation = allocate_payment(50_00, [FIRST, SECOND], STANDARD_ORDER, OverpaymentPolicy.REFUSE)
    assert allocation.parts == (
        AllocatedPart(1, Component.FEES, 10_00),
        AllocatedPart(1, Component.PENALTIES, 5_00),
        AllocatedPart(1, Component.INTEREST, 35_00),
    )


def test_a_principal_first_order() -> None:
    allocation = allocate_payment(950_00, [FIRST], PRINCIPAL_FIRST, OverpaymentPolicy.REFUSE)
    assert [(part.component, part.amount_minor) for part in allocation.parts] == [
        (Component.PRINCIPAL, 900_00),
        (Component.INTEREST, 50_00),
    ]


def test_an_overpayment_is_refused_whole_or_kept_as_credit() -> None:
    owed = FIRST.total_minor + SECOND.total_minor
    with pytest.raises(OverpaymentRefused) as raised:
        allocate_payment(owed + 1, [FIRST, SECOND], STANDARD_ORDER, OverpaymentPolicy.REFUSE)
    assert raised.value.context == {"payment_minor": owed + 1, "due_minor": owed}
    kept = allocate_payment(
        owed + 85_00, [FIRST, SECOND], STANDARD_ORDER, OverpaymentPolicy.KEEP_AS_CREDIT
    )
    assert kept.credit_minor == 85_00
    assert sum(part.amount_minor for part in kept.parts) == owed
    exact = allocate_payment(owed, [FIRST, SECOND], STANDARD_ORDER, OverpaymentPolicy.REFUSE)
    assert exact.credit_minor == 0


def test_a_payment_with_nothing_due_is_all_credit_or_refused() -> None:
    assert (
        allocate_payment(5_00, [], STANDARD_ORDER, OverpaymentPolicy.KEEP_AS_CREDIT).credit_minor
        == 5_00
    )
    with pytest.raises(OverpaymentRefused):
        allocate_payment(5_00, [], STANDARD_ORDER, OverpaymentPolicy.REFUSE)


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        allocate_payment(0, [FIRST], STANDARD_ORDER, OverpaymentPolicy.REFUSE)
    with pytest.raises(InvalidInput):
        allocate_payment(1_00, [FIRST, FIRST], STANDARD_ORDER, OverpaymentPolicy.REFUSE)
    with pytest.raises(InvalidAmount) as raised:
        AmountsDue(1, date(2024, 1, 1), 0, -1, 0, 0)
    assert raised.value.context["field"] == "penalties_minor"
