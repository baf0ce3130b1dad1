"""Products as data: validation with field names, versions and the life cycle, fee rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from lending_factories import (
    credit_line_product,
    loan_product,
    savings_product,
    term_deposit_product,
)

from core_banking.domain.errors import (
    InvalidAmount,
    InvalidInput,
    InvalidTransition,
    RuleViolation,
)
from core_banking.domain.lending.allocation import AllocationOrder, Component
from core_banking.domain.lending.credit_line_products import MinimumPaymentRule
from core_banking.domain.lending.deposit_products import (
    DepositKind,
    DepositTerm,
    InterestPostingFrequency,
    TermUnit,
)
from core_banking.domain.lending.fees import FeeKind, FeeRule
from core_banking.domain.lending.loan_products import GracePeriods
from core_banking.domain.lending.products import ProductStatus, activate, retire, revise

# ----------------------------------------------------------------------- the life cycle


def test_a_draft_is_activated_then_retired() -> None:
    draft = loan_product()
    active = activate(draft)
    assert active.status is ProductStatus.ACTIVE
    assert active.version == draft.version
    assert retire(active).status is ProductStatus.RETIRED
    assert draft.status is ProductStatus.DRAFT  # values never change in place


def test_a_draft_may_be_abandoned_but_a_retired_version_stays_retired() -> None:
    retired = retire(loan_product())
    with pytest.raises(InvalidTransition):
        activate(retired)
    with pytest.raises(InvalidTransition):
        retire(retired)
    with pytest.raises(InvalidTransition):
        activate(activate(loan_product()))


def test_an_update_is_a_new_draft_version_and_the_old_one_is_untouched() -> None:
    active = activate(loan_product())
    revised = revise(active, annual_rate=Decimal("0.11"), name="Personal loan 2025")
    assert (revised.product_id, revised.version, revised.status) == (
        active.product_id,
        2,
        ProductStatus.DRAFT,
    )
    assert revised.annual_rate == Decimal("0.11")
    assert active.annual_rate == Decimal("0.12")
    assert active.version == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version": 7}, "version"),
        ({"currency": None}, "currency"),
        ({"colour": "blue"}, "colour"),
        ({"annual_rate": Decimal("-0.01")}, "annual_rate"),
    ],
)
def test_a_revision_keeps_the_identity_and_is_validated(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        revise(loan_product(), **changes)
    assert raised.value.context["field"] == field


def test_a_retired_version_cannot_be_revised() -> None:
    with pytest.raises(RuleViolation):
        revise(retire(loan_product()), name="again")


# ---------------------------------------------------------------------- loan products


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"version": 0}, "version"),
        ({"product_id": "not-a-uuid"}, "product_id"),
        ({"annual_rate": 0.12}, "annual_rate"),
        ({"annual_rate": Decimal("10.5")}, "annual_rate"),
        ({"min_amount_minor": 0}, "min_amount_minor"),
        ({"max_amount_minor": 99_00}, "max_amount_minor"),
        ({"min_installments": 0}, "min_installments"),
        ({"max_installments": 2}, "max_installments"),
        ({"grace": GracePeriods(3, 0)}, "grace.principal_periods"),
        ({"late_fee_grace_days": -1}, "late_fee_grace_days"),
        ({"method": "french"}, "method"),
        ({"late_fee": 25}, "late_fee"),
    ],
)
def test_loan_product_fields_are_checked_by_name(changes: dict[str, Any], field: str) -> None:
    with pytest.raises((InvalidInput, InvalidAmount)) as raised:
        loan_product(**changes)
    assert raised.value.context["field"] == field


def test_interest_grace_never_exceeds_principal_grace() -> None:
    with pytest.raises(InvalidInput) as raised:
        GracePeriods(principal_periods=1, interest_periods=2)
    assert raised.value.context["field"] == "grace.interest_periods"


def test_the_allocation_order_is_a_permutation_of_the_four_components() -> None:
    with pytest.raises(InvalidInput) as raised:
        AllocationOrder((Component.FEES, Component.FEES, Component.INTEREST, Component.PRINCIPAL))
    assert raised.value.context["field"] == "allocation_order"
    principal_first = AllocationOrder(
        (Component.PRINCIPAL, Component.INTEREST, Component.PENALTIES, Component.FEES)
    )
    assert loan_product(allocation_order=principal_first).allocation_order == principal_first


@pytest.mark.parametrize(
    ("amount", "installments", "field"),
    [
        (99_99, 12, "amount_minor"),
        (50_000_01, 12, "amount_minor"),
        (1000_00, 2, "installments"),
        (1000_00, 61, "installments"),
    ],
)
def test_an_application_outside_the_product_limits_is_refused(
    amount: int, installments: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        activate(loan_product()).check_application(amount, installments)
    assert raised.value.context["field"] == field


def test_only_an_active_version_opens_loans() -> None:
    activate(loan_product()).check_application(1_000_00, 12)
    for inactive in (loan_product(), retire(activate(loan_product()))):
        with pytest.raises(RuleViolation) as raised:
            inactive.check_application(1_000_00, 12)
        assert raised.value.context["field"] == "status"


# ------------------------------------------------------------------------------- fees


def test_fixed_and_percentage_fees() -> None:
    assert FeeRule.fixed(25_00).amount_on(1_000_00) == 25_00
    assert FeeRule.percent(Decimal("0.02")).amount_on(1_234_56) == 24_69  # 2469.12 -> 2469
    assert FeeRule.percent(Decimal("0.5")).amount_on(5) == 2  # 2.5 -> 2 (half to even)
    assert FeeRule.percent(Decimal("0.5")).amount_on(7) == 4  # 3.5 -> 4


def test_a_fee_rule_carries_no_number_that_does_nothing() -> None:
    with pytest.raises(InvalidInput) as raised:
        FeeRule(FeeKind.FIXED, 100, Decimal("0.01"))
    assert raised.value.context["field"] == "fee"
    with pytest.raises(InvalidInput):
        FeeRule.percent(Decimal("1.01"))


# -------------------------------------------------------------------- deposit products


def test_savings_and_term_deposits_are_valid() -> None:
    assert savings_product().kind is DepositKind.SAVINGS
    assert term_deposit_product().term_deposit is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": DepositKind.TERM_DEPOSIT}, "term_deposit"),
        ({"posting_frequency": InterestPostingFrequency.AT_MATURITY}, "posting_frequency"),
        ({"rate": Decimal("0.02")}, "rate"),
        ({"monthly_maintenance_fee_minor": -1}, "monthly_maintenance_fee_minor"),
        ({"compounding": "monthly"}, "compounding"),
    ],
)
def test_deposit_product_fields_are_checked_by_name(changes: dict[str, Any], field: str) -> None:
    with pytest.raises((InvalidInput, InvalidAmount)) as raised:
        savings_product(**changes)
    assert raised.value.context["field"] == field


def test_term_deposit_maturity_and_early_withdrawal_penalty() -> None:
    terms = term_deposit_product().term_deposit
    assert terms is not None
    maturity = terms.term.maturity_date(date(2024, 2, 29))
    assert maturity == date(2025, 2, 28)
    assert terms.early_withdrawal_penalty_minor(5_000_00, date(2024, 8, 1), maturity) == 50_00
    assert terms.early_withdrawal_penalty_minor(5_000_00, maturity, maturity) == 0
    assert DepositTerm(90, TermUnit.DAYS).maturity_date(date(2024, 1, 1)) == date(2024, 3, 31)


# ---------------------------------------------------------------- credit line products


def test_the_minimum_payment_is_a_rounded_up_percentage_with_a_floor_capped_at_the_balance() -> (
    None
):
    rule = MinimumPaymentRule(Decimal("0.05"), 25_00)
    assert rule.amount_for(1_000_00) == 50_00
    assert rule.amount_for(1_000_01) == 50_01  # 5000.05 rounds up
    assert rule.amount_for(300_00) == 25_00  # the floor
    assert rule.amount_for(10_00) == 10_00  # never more than the balance
    assert rule.amount_for(0) == 0
    assert rule.amount_for(-5_00) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"statement_day": 32}, "statement_day"),
        ({"grace_days": 91}, "grace_days"),
        ({"max_limit_minor": 0}, "max_limit_minor"),
        ({"annual_rate": "0.18"}, "annual_rate"),
    ],
)
def test_credit_line_product_fields_are_checked_by_name(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises((InvalidInput, InvalidAmount)) as raised:
        credit_line_product(**changes)
    assert raised.value.context["field"] == field
