"""The product codec: any product, of any kind, stored as a row and its JSON document and
read back, is exactly the product it was (through the JSON text a database keeps); its
document holds no float anywhere, and money is integers of minor units, rates strings."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from core_banking.domain.lending.allocation import AllocationOrder, Component, OverpaymentPolicy
from core_banking.domain.lending.catalog import Product
from core_banking.domain.lending.credit_line_products import (
    MAX_GRACE_DAYS,
    CreditLineProduct,
    MinimumPaymentRule,
)
from core_banking.domain.lending.dates import MAX_INSTALLMENTS, RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import (
    MAX_TERM_DAYS,
    MAX_TERM_MONTHS,
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
    MAX_LATE_FEE_GRACE_DAYS,
    AmortizationMethod,
    GracePeriods,
    PrepaymentStrategy,
    TermLoanProduct,
)
from core_banking.domain.lending.products import MAX_NAME_LENGTH, MAX_VERSION, ProductStatus
from core_banking.domain.lending.rates import (
    MAX_TIERS,
    Compounding,
    FixedRate,
    RateTier,
    TieredRate,
    TierMethod,
)
from core_banking.domain.money import MAX_AMOUNT_MINOR, all_currencies
from core_banking.storage.product_documents import product_from_row, product_row

minor = st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR - 1)
positive_minor = st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR - 1)


def rates(maximum: int) -> st.SearchStrategy[Decimal]:
    """0 to ``maximum`` with up to ten decimals, in the several spellings a Decimal can
    have (``Decimal("0.050")``, ``Decimal("5E-2")``)."""
    scaled = st.integers(min_value=0, max_value=maximum * 10**10).map(
        lambda units: Decimal(units).scaleb(-10)
    )
    places = st.integers(min_value=0, max_value=10).flatmap(
        lambda digits: st.decimals(min_value=0, max_value=maximum, places=digits)
    )
    return st.one_of(scaled, places)


annual_rates = rates(10)
fraction_rates = rates(1)
fees = st.one_of(minor.map(FeeRule.fixed), fraction_rates.map(FeeRule.percent))


@st.composite
def identity(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "product_id": UUID(int=draw(st.integers(min_value=0, max_value=2**128 - 1))),
        "version": draw(st.integers(min_value=1, max_value=MAX_VERSION)),
        "status": draw(st.sampled_from(ProductStatus)),
        "name": draw(st.text(min_size=1, max_size=MAX_NAME_LENGTH).filter(str.isprintable)),
        "currency": draw(st.sampled_from(all_currencies())),
    }


@st.composite
def tiered_rates(draw: st.DrawFn) -> TieredRate:
    thresholds = draw(st.lists(positive_minor, max_size=MAX_TIERS - 1, unique=True).map(sorted))
    return TieredRate(
        tiers=tuple(RateTier(start, draw(annual_rates)) for start in [0, *thresholds]),
        method=draw(st.sampled_from(TierMethod)),
    )


@st.composite
def deposit_products(draw: st.DrawFn) -> DepositProduct:
    kind = draw(st.sampled_from(DepositKind))
    term = None
    frequencies = [
        f for f in InterestPostingFrequency if f is not InterestPostingFrequency.AT_MATURITY
    ]
    if kind is DepositKind.TERM_DEPOSIT:
        unit = draw(st.sampled_from(TermUnit))
        longest = MAX_TERM_DAYS if unit is TermUnit.DAYS else MAX_TERM_MONTHS
        term = TermDepositTerms(
            DepositTerm(draw(st.integers(min_value=1, max_value=longest)), unit),
            draw(st.sampled_from(MaturityAction)),
            draw(fees),
        )
        frequencies = list(InterestPostingFrequency)
    return DepositProduct(
        **draw(identity()),
        kind=kind,
        rate=draw(st.one_of(annual_rates.map(FixedRate), tiered_rates())),
        day_count=draw(st.sampled_from(DayCount)),
        compounding=draw(st.sampled_from(Compounding)),
        posting_frequency=draw(st.sampled_from(frequencies)),
        monthly_maintenance_fee_minor=draw(minor),
        transaction_fee_minor=draw(minor),
        minimum_opening_minor=draw(minor),
        term_deposit=term,
    )


@st.composite
def loan_products(draw: st.DrawFn) -> TermLoanProduct:
    low, high = sorted(draw(st.lists(positive_minor, min_size=2, max_size=2)))
    fewest = draw(st.integers(min_value=1, max_value=MAX_INSTALLMENTS))
    principal_grace = draw(st.integers(min_value=0, max_value=fewest - 1))
    return TermLoanProduct(
        **draw(identity()),
        annual_rate=draw(annual_rates),
        day_count=draw(st.sampled_from(DayCount)),
        method=draw(st.sampled_from(AmortizationMethod)),
        frequency=draw(st.sampled_from(RepaymentFrequency)),
        min_amount_minor=low,
        max_amount_minor=high,
        min_installments=fewest,
        max_installments=draw(st.integers(min_value=fewest, max_value=MAX_INSTALLMENTS)),
        late_fee=draw(st.none() | fees),
        late_fee_grace_days=draw(st.integers(min_value=0, max_value=MAX_LATE_FEE_GRACE_DAYS)),
        early_repayment_fee=draw(st.none() | fees),
        grace=GracePeriods(
            principal_grace, draw(st.integers(min_value=0, max_value=principal_grace))
        ),
        allocation_order=AllocationOrder(tuple(draw(st.permutations(list(Component))))),
        prepayment_strategy=draw(st.sampled_from(PrepaymentStrategy)),
        overpayment_policy=draw(st.sampled_from(OverpaymentPolicy)),
    )


@st.composite
def credit_line_products(draw: st.DrawFn) -> CreditLineProduct:
    return CreditLineProduct(
        **draw(identity()),
        max_limit_minor=draw(positive_minor),
        annual_rate=draw(annual_rates),
        day_count=draw(st.sampled_from(DayCount)),
        statement_day=draw(st.integers(min_value=1, max_value=31)),
        minimum_payment=MinimumPaymentRule(draw(fraction_rates), draw(minor)),
        grace_days=draw(st.integers(min_value=0, max_value=MAX_GRACE_DAYS)),
        late_fee=draw(st.none() | fees),
    )


products = st.one_of(deposit_products(), loan_products(), credit_line_products())


def through_json(row: dict[str, Any]) -> dict[str, Any]:
    """The row as a database hands it back: the document through its JSON text."""
    text = json.dumps(row["definition"], allow_nan=False)
    return {**row, "definition": json.loads(text)}


def leaves(document: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every value that is neither an object nor a list, with the key it is under."""
    if isinstance(document, dict):
        return [leaf for name, value in document.items() for leaf in leaves(value, name)]
    if isinstance(document, list):
        return [leaf for value in document for leaf in leaves(value, key)]
    return [(key, document)]


@given(products)
def test_decoding_the_encoded_product_gives_it_back_exactly(product: Product) -> None:
    assert product_from_row(through_json(product_row(product))) == product


@given(products)
def test_the_document_holds_no_float_and_every_rate_as_plain_text(product: Product) -> None:
    found = leaves(product_row(product)["definition"])
    assert not [value for _, value in found if isinstance(value, float)]
    rates_found = [value for key, value in found if key in {"rate", "annual_rate"}]
    assert rates_found  # every product has at least one rate
    for rate in rates_found:
        assert isinstance(rate, str)
        assert re.fullmatch(r"(0|[1-9][0-9]{0,2})(\.[0-9]{1,10})?", rate), rate
    money = [value for key, value in found if key.endswith("_minor")]
    assert all(type(value) is int for value in money)


def test_a_product_document_is_the_documented_shape() -> None:
    """One known product, spelled out: a change of format shows here first."""
    product = DepositProduct(
        product_id=UUID("0190f5a4-0000-7000-8000-000000000001"),
        version=3,
        status=ProductStatus.ACTIVE,
        name="Easy saver",
        currency=all_currencies()[0],
        kind=DepositKind.TERM_DEPOSIT,
        rate=TieredRate(
            (RateTier(0, Decimal("0.01")), RateTier(10_000_00, Decimal("1E-10"))),
            TierMethod.BANDED,
        ),
        day_count=DayCount.ACTUAL_365_FIXED,
        compounding=Compounding.NONE,
        posting_frequency=InterestPostingFrequency.AT_MATURITY,
        monthly_maintenance_fee_minor=250,
        transaction_fee_minor=0,
        minimum_opening_minor=100_00,
        term_deposit=TermDepositTerms(
            DepositTerm(12, TermUnit.MONTHS),
            MaturityAction.ROLLOVER,
            FeeRule.percent(Decimal("0.0150")),
        ),
    )
    row = product_row(product)
    assert {key: value for key, value in row.items() if key != "definition"} == {
        "product_id": product.product_id,
        "version": 3,
        "kind": "deposit",
        "status": "active",
        "name": "Easy saver",
        "currency": product.currency.code,
    }
    assert row["definition"] == {
        "kind": "term_deposit",
        "rate": {
            "type": "tiered",
            "method": "banded",
            "tiers": [
                {"from_minor": 0, "annual_rate": "0.01"},
                {"from_minor": 1_000_000, "annual_rate": "0.0000000001"},
            ],
        },
        "day_count": "actual/365f",
        "compounding": "none",
        "posting_frequency": "at_maturity",
        "monthly_maintenance_fee_minor": 250,
        "transaction_fee_minor": 0,
        "minimum_opening_minor": 10_000,
        "term_deposit": {
            "term": {"length": 12, "unit": "months"},
            "maturity_action": "rollover",
            "early_withdrawal_penalty": {"kind": "percent", "rate": "0.0150"},
        },
    }
    assert product_from_row(row) == product
