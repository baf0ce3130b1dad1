"""Products as rows: the identity in columns, the terms in one JSON document.

The document holds every field of a product but its identity (id, version, status, name,
currency, which are columns). Money is an integer of minor units (``*_minor``); rates are
decimal strings (``"0.0525"``), never JSON numbers, so no float ever stands between the
product and what it says; enumerations are their values. Decoding builds the product's own
dataclasses, whose validation runs again, and gives back exactly the product that was
encoded: ``product_from_row(product_row(p)) == p``.

A deposit product's document::

    {"kind": "savings",
     "rate": {"type": "fixed", "annual_rate": "0.0525"},
     "day_count": "actual/365f", "compounding": "at_posting", "posting_frequency": "monthly",
     "monthly_maintenance_fee_minor": 0, "transaction_fee_minor": 0,
     "minimum_opening_minor": 0, "term_deposit": null}

A tiered rate is ``{"type": "tiered", "method": "banded", "tiers": [{"from_minor": 0,
"annual_rate": "0.01"}, …]}``; a fee ``{"kind": "fixed", "amount_minor": 2500}`` or
``{"kind": "percent", "rate": "0.02"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core_banking.domain.lending.allocation import AllocationOrder, Component, OverpaymentPolicy
from core_banking.domain.lending.catalog import Product, ProductKind, kind_of
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
from core_banking.domain.lending.fees import FeeKind, FeeRule
from core_banking.domain.lending.loan_products import (
    AmortizationMethod,
    GracePeriods,
    PrepaymentStrategy,
    TermLoanProduct,
)
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.rates import (
    Compounding,
    FixedRate,
    InterestRate,
    RateTier,
    TieredRate,
    TierMethod,
)
from core_banking.domain.money import currency

Document = dict[str, Any]


def product_row(product: Product) -> dict[str, Any]:
    """The columns of a product version but its timestamps and author."""
    return {
        "product_id": product.product_id,
        "version": product.version,
        "kind": kind_of(product).value,
        "status": product.status.value,
        "name": product.name,
        "currency": product.currency.code,
        "definition": product_document(product),
    }


def product_from_row(row: Mapping[Any, Any]) -> Product:
    """The product a row of ``products`` holds."""
    identity = {
        "product_id": row["product_id"],
        "version": row["version"],
        "status": ProductStatus(row["status"]),
        "name": row["name"],
        "currency": currency(row["currency"]),
    }
    document = row["definition"]
    kind = ProductKind(row["kind"])
    if kind is ProductKind.DEPOSIT:
        return DepositProduct(**identity, **_deposit_terms(document))
    if kind is ProductKind.TERM_LOAN:
        return TermLoanProduct(**identity, **_loan_terms(document))
    return CreditLineProduct(**identity, **_credit_line_terms(document))


def product_document(product: Product) -> Document:
    """The terms of ``product`` as a JSON-ready document."""
    if isinstance(product, DepositProduct):
        return _deposit_document(product)
    if isinstance(product, TermLoanProduct):
        return _loan_document(product)
    return _credit_line_document(product)


# --- deposit products -------------------------------------------------------------------


def _deposit_document(product: DepositProduct) -> Document:
    term = product.term_deposit
    return {
        "kind": product.kind.value,
        "rate": _rate_document(product.rate),
        "day_count": product.day_count.value,
        "compounding": product.compounding.value,
        "posting_frequency": product.posting_frequency.value,
        "monthly_maintenance_fee_minor": product.monthly_maintenance_fee_minor,
        "transaction_fee_minor": product.transaction_fee_minor,
        "minimum_opening_minor": product.minimum_opening_minor,
        "term_deposit": None
        if term is None
        else {
            "term": {"length": term.term.length, "unit": term.term.unit.value},
            "maturity_action": term.maturity_action.value,
            "early_withdrawal_penalty": _fee_document(term.early_withdrawal_penalty),
        },
    }


def _deposit_terms(document: Document) -> dict[str, Any]:
    term = document["term_deposit"]
    return {
        "kind": DepositKind(document["kind"]),
        "rate": _rate(document["rate"]),
        "day_count": DayCount(document["day_count"]),
        "compounding": Compounding(document["compounding"]),
        "posting_frequency": InterestPostingFrequency(document["posting_frequency"]),
        "monthly_maintenance_fee_minor": document["monthly_maintenance_fee_minor"],
        "transaction_fee_minor": document["transaction_fee_minor"],
        "minimum_opening_minor": document["minimum_opening_minor"],
        "term_deposit": None
        if term is None
        else TermDepositTerms(
            term=DepositTerm(term["term"]["length"], TermUnit(term["term"]["unit"])),
            maturity_action=MaturityAction(term["maturity_action"]),
            early_withdrawal_penalty=_required_fee(term["early_withdrawal_penalty"]),
        ),
    }


def _rate_document(rate: InterestRate) -> Document:
    if isinstance(rate, FixedRate):
        return {"type": "fixed", "annual_rate": _decimal_text(rate.annual_rate)}
    return {
        "type": "tiered",
        "method": rate.method.value,
        "tiers": [
            {"from_minor": tier.from_minor, "annual_rate": _decimal_text(tier.annual_rate)}
            for tier in rate.tiers
        ],
    }


def _rate(document: Document) -> InterestRate:
    if document["type"] == "fixed":
        return FixedRate(_decimal(document["annual_rate"]))
    return TieredRate(
        tiers=tuple(
            RateTier(tier["from_minor"], _decimal(tier["annual_rate"]))
            for tier in document["tiers"]
        ),
        method=TierMethod(document["method"]),
    )


# --- term loan products -----------------------------------------------------------------


def _loan_document(product: TermLoanProduct) -> Document:
    return {
        "annual_rate": _decimal_text(product.annual_rate),
        "day_count": product.day_count.value,
        "method": product.method.value,
        "frequency": product.frequency.value,
        "min_amount_minor": product.min_amount_minor,
        "max_amount_minor": product.max_amount_minor,
        "min_installments": product.min_installments,
        "max_installments": product.max_installments,
        "late_fee": _fee_document(product.late_fee),
        "late_fee_grace_days": product.late_fee_grace_days,
        "early_repayment_fee": _fee_document(product.early_repayment_fee),
        "grace": {
            "principal_periods": product.grace.principal_periods,
            "interest_periods": product.grace.interest_periods,
        },
        "allocation_order": [component.value for component in product.allocation_order.components],
        "prepayment_strategy": product.prepayment_strategy.value,
        "overpayment_policy": product.overpayment_policy.value,
    }


def _loan_terms(document: Document) -> dict[str, Any]:
    grace = document["grace"]
    return {
        "annual_rate": _decimal(document["annual_rate"]),
        "day_count": DayCount(document["day_count"]),
        "method": AmortizationMethod(document["method"]),
        "frequency": RepaymentFrequency(document["frequency"]),
        "min_amount_minor": document["min_amount_minor"],
        "max_amount_minor": document["max_amount_minor"],
        "min_installments": document["min_installments"],
        "max_installments": document["max_installments"],
        "late_fee": _fee(document["late_fee"]),
        "late_fee_grace_days": document["late_fee_grace_days"],
        "early_repayment_fee": _fee(document["early_repayment_fee"]),
        "grace": GracePeriods(grace["principal_periods"], grace["interest_periods"]),
        "allocation_order": AllocationOrder(
            tuple(Component(component) for component in document["allocation_order"])
        ),
        "prepayment_strategy": PrepaymentStrategy(document["prepayment_strategy"]),
        "overpayment_policy": OverpaymentPolicy(document["overpayment_policy"]),
    }


# --- credit line products ---------------------------------------------------------------


def _credit_line_document(product: CreditLineProduct) -> Document:
    return {
        "max_limit_minor": product.max_limit_minor,
        "annual_rate": _decimal_text(product.annual_rate),
        "day_count": product.day_count.value,
        "statement_day": product.statement_day,
        "minimum_payment": {
            "rate": _decimal_text(product.minimum_payment.rate),
            "floor_minor": product.minimum_payment.floor_minor,
        },
        "grace_days": product.grace_days,
        "late_fee": _fee_document(product.late_fee),
    }


def _credit_line_terms(document: Document) -> dict[str, Any]:
    minimum = document["minimum_payment"]
    return {
        "max_limit_minor": document["max_limit_minor"],
        "annual_rate": _decimal(document["annual_rate"]),
        "day_count": DayCount(document["day_count"]),
        "statement_day": document["statement_day"],
        "minimum_payment": MinimumPaymentRule(_decimal(minimum["rate"]), minimum["floor_minor"]),
        "grace_days": document["grace_days"],
        "late_fee": _fee(document["late_fee"]),
    }


# --- shared pieces ----------------------------------------------------------------------


def _fee_document(rule: FeeRule | None) -> Document | None:
    if rule is None:
        return None
    if rule.kind is FeeKind.FIXED:
        return {"kind": FeeKind.FIXED.value, "amount_minor": rule.amount_minor}
    return {"kind": FeeKind.PERCENT.value, "rate": _decimal_text(rule.rate)}


def _fee(document: Document | None) -> FeeRule | None:
    return None if document is None else _required_fee(document)


def _required_fee(document: Document) -> FeeRule:
    if FeeKind(document["kind"]) is FeeKind.FIXED:
        return FeeRule.fixed(document["amount_minor"])
    return FeeRule.percent(_decimal(document["rate"]))


def _decimal_text(value: Decimal) -> str:
    """Plain positional notation, every digit kept: ``Decimal("1E-10")`` is
    ``"0.0000000001"``."""
    return format(value, "f")


def _decimal(text: str) -> Decimal:
    if not isinstance(text, str):  # a JSON number would be a float on the way in
        raise TypeError(f"a stored rate is a decimal string, not {type(text).__name__}")
    return Decimal(text)
