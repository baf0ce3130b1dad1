"""An opened credit line's own rules: what it owes and may still draw, which statuses draw,
how a payment splits (fees, then interest, then principal), freezing and closing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from lending_factories import credit_line_product

from core_banking.domain.errors import InvalidTransition
from core_banking.domain.lending.credit_line_accounts import (
    CreditLine,
    CreditLineStatus,
    CreditLineTerms,
    PaymentSplit,
)
from core_banking.domain.lending.errors import CreditLimitExceeded, OverpaymentRefused

TODAY = date(2026, 3, 1)
MOMENT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def line(**changes: Any) -> CreditLine:
    """A 1,000.00 line owing 300.00 principal, 12.34 interest and 35.00 fees."""
    values: dict[str, Any] = {
        "id": UUID("0190f5a4-0000-7000-8000-00000000000a"),
        "customer_id": UUID("0190f5a4-0000-7000-8000-00000000000b"),
        "deposit_account_id": UUID("0190f5a4-0000-7000-8000-00000000000c"),
        "product_id": UUID("0190f5a4-0000-7000-8000-00000000000d"),
        "product_version": 1,
        "currency": "USD",
        "status": CreditLineStatus.ACTIVE,
        "limit_minor": 1000_00,
        "principal_minor": 300_00,
        "interest_minor": 12_34,
        "fees_minor": 35_00,
        "terms": CreditLineTerms.of(credit_line_product()),
        "accrued_interest": Decimal("0.4931"),
        "interest_residue": Decimal("0.0042"),
        "accrued_through": TODAY,
        "period_start": TODAY,
        "period_opening_minor": 0,
        "opened_on": TODAY,
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }
    return CreditLine(**{**values, **changes})


def test_the_balance_is_everything_owed_and_available_never_goes_below_zero():
    assert (line().balance_minor, line().available_minor) == (347_34, 652_66)
    assert line(principal_minor=990_00).available_minor == 0  # interest took it over the limit


def test_a_draw_needs_an_active_line_and_room_under_the_limit():
    line().check_draw(652_66)
    with pytest.raises(CreditLimitExceeded) as refused:
        line().check_draw(652_67)
    assert refused.value.context["available_minor"] == 652_66
    for status in (CreditLineStatus.FROZEN, CreditLineStatus.OVERDUE, CreditLineStatus.CLOSED):
        with pytest.raises(InvalidTransition):
            line(status=status).check_draw(1)


def test_a_payment_pays_fees_then_interest_then_principal_and_never_more_than_owed():
    assert line().split_payment(40_00, TODAY) == PaymentSplit(35_00, 5_00, 0)
    assert line().split_payment(100_00, TODAY) == PaymentSplit(35_00, 12_34, 52_66)
    assert line().split_payment(347_34, TODAY) == PaymentSplit(35_00, 12_34, 300_00)
    with pytest.raises(OverpaymentRefused):
        line().split_payment(347_35, TODAY)
    with pytest.raises(InvalidTransition):
        line(status=CreditLineStatus.CLOSED).split_payment(1, TODAY)
    # frozen and overdue lines take payments
    line(status=CreditLineStatus.FROZEN).split_payment(1, TODAY)
    line(status=CreditLineStatus.OVERDUE).split_payment(1, TODAY)


def test_freezing_and_closing():
    line().check_freeze()
    line(status=CreditLineStatus.OVERDUE).check_freeze()
    with pytest.raises(InvalidTransition):
        line(status=CreditLineStatus.FROZEN).check_freeze()
    settled = replace(
        line(), principal_minor=0, interest_minor=0, fees_minor=0, accrued_interest=Decimal(0)
    )
    settled.check_close()  # the residue below a cent does not keep a line open
    with pytest.raises(InvalidTransition):
        line().check_close()
    with pytest.raises(InvalidTransition):
        replace(settled, accrued_interest=Decimal("0.0001")).check_close()
    with pytest.raises(InvalidTransition):
        replace(settled, status=CreditLineStatus.CLOSED).check_close()
