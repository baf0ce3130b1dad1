"""The product catalogue's rules: a new product from its kind and terms, and which deposit
account a product version opens."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from lending_factories import (
    PRODUCT_ID,
    USD,
    credit_line_product,
    loan_product,
    savings_product,
    term_deposit_product,
)

from core_banking.domain.accounts import ProductType
from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending.catalog import (
    IDENTITY_FIELDS,
    Product,
    ProductKind,
    account_product_type,
    kind_of,
    new_product,
)
from core_banking.domain.lending.deposit_products import DepositKind
from core_banking.domain.lending.errors import ProductNotActive, WrongProductKind
from core_banking.domain.lending.products import ProductStatus


def terms_of(product: Product) -> dict[str, Any]:
    return {
        field.name: getattr(product, field.name)
        for field in dataclasses.fields(product)
        if field.name not in IDENTITY_FIELDS
    }


@pytest.mark.parametrize(
    ("kind", "template"),
    [
        (ProductKind.DEPOSIT, term_deposit_product()),
        (ProductKind.TERM_LOAN, loan_product()),
        (ProductKind.CREDIT_LINE, credit_line_product()),
    ],
)
def test_a_new_product_is_version_one_a_draft_of_its_kind(kind, template):
    product = new_product(
        kind, product_id=PRODUCT_ID, name=template.name, currency=USD, terms=terms_of(template)
    )
    assert kind_of(product) is kind
    assert product == dataclasses.replace(template, version=1, status=ProductStatus.DRAFT)


def test_fields_with_a_default_may_be_left_out():
    terms = terms_of(loan_product())
    for defaulted in ("grace", "allocation_order", "prepayment_strategy", "overpayment_policy"):
        del terms[defaulted]
    product = new_product(
        ProductKind.TERM_LOAN,
        product_id=PRODUCT_ID,
        name="Personal loan",
        currency=USD,
        terms=terms,
    )
    assert product == dataclasses.replace(loan_product(), status=ProductStatus.DRAFT)


@pytest.mark.parametrize(
    ("kind", "terms", "field"),
    [
        (ProductKind.DEPOSIT, {**terms_of(savings_product()), "colour": "red"}, "colour"),
        (ProductKind.DEPOSIT, {**terms_of(savings_product()), "version": 2}, "version"),
        (ProductKind.TERM_LOAN, terms_of(savings_product()), "compounding"),
        (ProductKind.CREDIT_LINE, {}, "annual_rate"),
        (ProductKind.DEPOSIT, {**terms_of(savings_product()), "rate": Decimal("0.05")}, "rate"),
    ],
    ids=["unknown", "identity", "another kind's", "nothing", "invalid"],
)
def test_terms_that_do_not_make_the_product_are_refused(kind, terms, field):
    with pytest.raises(InvalidInput) as refused:
        new_product(kind, product_id=PRODUCT_ID, name="Broken", currency=USD, terms=terms)
    assert refused.value.context == {"field": field}


def test_an_active_savings_or_checking_version_opens_an_account_of_its_type():
    active = savings_product(status=ProductStatus.ACTIVE)
    assert account_product_type(active) is ProductType.SAVINGS
    checking = dataclasses.replace(active, kind=DepositKind.CHECKING)
    assert account_product_type(checking) is ProductType.CHECKING


@pytest.mark.parametrize(
    ("product", "error"),
    [
        (savings_product(status=ProductStatus.DRAFT), ProductNotActive),
        (savings_product(status=ProductStatus.RETIRED), ProductNotActive),
        (term_deposit_product(status=ProductStatus.ACTIVE), WrongProductKind),
        (loan_product(status=ProductStatus.ACTIVE), WrongProductKind),
        (credit_line_product(status=ProductStatus.ACTIVE), WrongProductKind),
    ],
    ids=["draft", "retired", "term deposit", "term loan", "credit line"],
)
def test_other_versions_open_no_deposit_account(product, error):
    with pytest.raises(error) as refused:
        account_product_type(product)
    assert refused.value.context == {"product_id": str(PRODUCT_ID)}
