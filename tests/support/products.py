"""Catalogue products for tests: terms for the services, JSON bodies for the HTTP API.
Valid unless a test changes them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core_banking.bootstrap import Nexum
from core_banking.domain.lending.catalog import ProductKind, ProductRecord
from core_banking.domain.lending.credit_line_products import MinimumPaymentRule
from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import (
    DepositKind,
    DepositTerm,
    InterestPostingFrequency,
    MaturityAction,
    TermDepositTerms,
    TermUnit,
)
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_products import AmortizationMethod
from core_banking.domain.lending.rates import Compounding, FixedRate
from core_banking.services.products import CreateProduct
from support.banking import CONTEXT

# --- terms for the services -----------------------------------------------------------------


def deposit_terms(**changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "kind": DepositKind.SAVINGS,
        "rate": FixedRate(Decimal("0.0525")),
        "day_count": DayCount.ACTUAL_365_FIXED,
        "compounding": Compounding.AT_POSTING,
        "posting_frequency": InterestPostingFrequency.MONTHLY,
        "monthly_maintenance_fee_minor": 0,
        "transaction_fee_minor": 0,
        "minimum_opening_minor": 0,
        "term_deposit": None,
    }
    return {**terms, **changes}


A_YEAR = DepositTerm(12, TermUnit.MONTHS)
ONE_PERCENT = FeeRule.percent(Decimal("0.01"))


def term_deposit_terms(
    term: DepositTerm = A_YEAR,
    action: MaturityAction = MaturityAction.PAYOUT,
    penalty: FeeRule = ONE_PERCENT,
    **changes: Any,
) -> dict[str, Any]:
    return deposit_terms(
        **{
            "kind": DepositKind.TERM_DEPOSIT,
            "compounding": Compounding.NONE,
            "posting_frequency": InterestPostingFrequency.AT_MATURITY,
            "term_deposit": TermDepositTerms(term, action, penalty),
            **changes,
        }
    )


def loan_terms(**changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "annual_rate": Decimal("0.12"),
        "day_count": DayCount.THIRTY_360,
        "method": AmortizationMethod.EQUAL_INSTALLMENT,
        "frequency": RepaymentFrequency.MONTHLY,
        "min_amount_minor": 100_00,
        "max_amount_minor": 50_000_00,
        "min_installments": 3,
        "max_installments": 60,
        "late_fee": FeeRule.fixed(25_00),
        "late_fee_grace_days": 5,
        "early_repayment_fee": None,
    }
    return {**terms, **changes}


def credit_line_terms(**changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "max_limit_minor": 10_000_00,
        "annual_rate": Decimal("0.18"),
        "day_count": DayCount.ACTUAL_365_FIXED,
        "statement_day": 25,
        "minimum_payment": MinimumPaymentRule(Decimal("0.05"), 25_00),
        "grace_days": 21,
        "late_fee": None,
    }
    return {**terms, **changes}


TERMS = {
    ProductKind.DEPOSIT: deposit_terms,
    ProductKind.TERM_LOAN: loan_terms,
    ProductKind.CREDIT_LINE: credit_line_terms,
}


async def create_product(
    bank: Nexum,
    kind: ProductKind = ProductKind.DEPOSIT,
    *,
    currency: str = "USD",
    name: str = "Easy saver",
    terms: dict[str, Any] | None = None,
    active: bool = False,
) -> ProductRecord:
    """Version 1 of a new product; activated when ``active``."""
    record = await bank.products.create(
        CreateProduct(kind, name, currency, terms if terms is not None else TERMS[kind]()),
        CONTEXT,
    )
    if active:
        record = await bank.products.activate(record.product.product_id, 1, CONTEXT)
    return record


# --- bodies for the HTTP API ------------------------------------------------------------------


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def deposit_definition(currency: str = "USD", **changes: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "deposit_type": "savings",
        "rate": {"type": "fixed", "annual_rate": "0.0525"},
        "day_count": "actual/365f",
        "compounding": "at_posting",
        "posting_frequency": "monthly",
        "monthly_maintenance_fee": money("0.00", currency),
        "transaction_fee": money("0.25", currency),
        "minimum_opening_balance": money("100.00", currency),
        "term_deposit": None,
    }
    return {**definition, **changes}


def term_loan_definition(currency: str = "USD", **changes: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "annual_rate": "0.12",
        "day_count": "30/360",
        "method": "equal_installment",
        "frequency": "monthly",
        "min_amount": money("100.00", currency),
        "max_amount": money("50000.00", currency),
        "min_installments": 3,
        "max_installments": 60,
        "late_fee": {"kind": "fixed", "amount": money("25.00", currency)},
        "late_fee_grace_days": 5,
        "early_repayment_fee": {"kind": "percent", "rate": "0.02"},
        "grace": {"principal_periods": 1, "interest_periods": 0},
        "allocation_order": ["fees", "penalties", "interest", "principal"],
        "prepayment_strategy": "reduce_installment",
        "overpayment_policy": "keep_as_credit",
    }
    return {**definition, **changes}


def credit_line_definition(currency: str = "USD", **changes: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "max_limit": money("10000.00", currency),
        "annual_rate": "0.1899",
        "day_count": "actual/365f",
        "statement_day": 31,
        "minimum_payment": {"rate": "0.05", "floor": money("25.00", currency)},
        "grace_days": 21,
        "late_fee": None,
    }
    return {**definition, **changes}


DEFINITIONS = {
    "deposit": deposit_definition,
    "term_loan": term_loan_definition,
    "credit_line": credit_line_definition,
}


def product_body(
    kind: str = "deposit", currency: str = "USD", name: str = "Easy saver", **changes: Any
) -> dict[str, Any]:
    """A POST /products body; ``changes`` go into the definition."""
    return {
        "kind": kind,
        "name": name,
        "currency": currency,
        "definition": DEFINITIONS[kind](currency, **changes),
    }
