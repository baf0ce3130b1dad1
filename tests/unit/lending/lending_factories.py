"""Products and loan terms for the lending tests, valid unless a test changes them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from core_banking.domain.lending.allocation import STANDARD_ORDER, OverpaymentPolicy
from core_banking.domain.lending.credit_line_products import CreditLineProduct, MinimumPaymentRule
from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import (
    DepositKind,
    DepositProduct,
    DepositTerm,
    InterestPostingFrequency,
    MaturityAction,
    TermDepositTerms,
    TermUnit,
)
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_products import (
    AmortizationMethod,
    GracePeriods,
    PrepaymentStrategy,
    TermLoanProduct,
)
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.rates import Compounding, FixedRate
from core_banking.domain.lending.schedule import LoanTerms
from core_banking.domain.money import currency

USD = currency("USD")
PRODUCT_ID = UUID("0190f5a4-0000-7000-8000-000000000001")


def loan_product(**changes: Any) -> TermLoanProduct:
    product = TermLoanProduct(
        product_id=PRODUCT_ID,
        version=1,
        status=ProductStatus.DRAFT,
        name="Personal loan",
        currency=USD,
        annual_rate=Decimal("0.12"),
        day_count=DayCount.THIRTY_360,
        method=AmortizationMethod.EQUAL_INSTALLMENT,
        frequency=RepaymentFrequency.MONTHLY,
        min_amount_minor=100_00,
        max_amount_minor=50_000_00,
        min_installments=3,
        max_installments=60,
        late_fee=FeeRule.fixed(25_00),
        late_fee_grace_days=5,
        early_repayment_fee=FeeRule.percent(Decimal("0.02")),
        grace=GracePeriods(),
        allocation_order=STANDARD_ORDER,
        prepayment_strategy=PrepaymentStrategy.REDUCE_TERM,
        overpayment_policy=OverpaymentPolicy.REFUSE,
    )
    return replace(product, **changes)


def savings_product(**changes: Any) -> DepositProduct:
    product = DepositProduct(
        product_id=PRODUCT_ID,
        version=1,
        status=ProductStatus.DRAFT,
        name="Easy saver",
        currency=USD,
        kind=DepositKind.SAVINGS,
        rate=FixedRate(Decimal("0.02")),
        day_count=DayCount.ACTUAL_365_FIXED,
        compounding=Compounding.AT_POSTING,
        posting_frequency=InterestPostingFrequency.MONTHLY,
        monthly_maintenance_fee_minor=0,
        transaction_fee_minor=0,
        minimum_opening_minor=0,
        term_deposit=None,
    )
    return replace(product, **changes)


def term_deposit_product(**changes: Any) -> DepositProduct:
    return savings_product(
        kind=DepositKind.TERM_DEPOSIT,
        name="12-month fixed",
        compounding=Compounding.NONE,
        posting_frequency=InterestPostingFrequency.AT_MATURITY,
        term_deposit=TermDepositTerms(
            DepositTerm(12, TermUnit.MONTHS),
            MaturityAction.ROLLOVER,
            FeeRule.percent(Decimal("0.01")),
        ),
        **changes,
    )


def credit_line_product(**changes: Any) -> CreditLineProduct:
    product = CreditLineProduct(
        product_id=PRODUCT_ID,
        version=1,
        status=ProductStatus.ACTIVE,
        name="Flexible credit",
        currency=USD,
        max_limit_minor=10_000_00,
        annual_rate=Decimal("0.18"),
        day_count=DayCount.ACTUAL_365_FIXED,
        statement_day=25,
        minimum_payment=MinimumPaymentRule(Decimal("0.05"), 25_00),
        grace_days=21,
        late_fee=FeeRule.fixed(15_00),
    )
    return replace(product, **changes)


def loan_terms(**changes: Any) -> LoanTerms:
    terms = LoanTerms(
        principal_minor=10_000_00,
        currency=USD,
        annual_rate=Decimal("0.12"),
        day_count=DayCount.THIRTY_360,
        method=AmortizationMethod.EQUAL_INSTALLMENT,
        frequency=RepaymentFrequency.MONTHLY,
        installments=12,
        disbursement_date=date(2024, 1, 15),
        first_due_date=date(2024, 2, 15),
    )
    return replace(terms, **changes)
