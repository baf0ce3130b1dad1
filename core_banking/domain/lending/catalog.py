"""The product catalogue: products of every kind, as the bank keeps and serves them.

A product is one of three dataclasses (:class:`DepositProduct`, :class:`TermLoanProduct`,
:class:`CreditLineProduct`), each an immutable version with the life cycle of
:mod:`~core_banking.domain.lending.products`. This module adds what the catalogue needs on
top of them:

* :class:`ProductKind`, the name of each dataclass in the catalogue;
* :func:`new_product`, version 1 of a product, as a draft, from its kind and terms (every
  field but the identity: id, version, status, name and currency);
* :class:`ProductRecord`, a version as stored, with who created it and when;
* :func:`account_product_type`, what kind of deposit account a product version opens.

At most one version of a product is active at a time: activating a version retires the one
that was active (the service does both in one transaction, and the database refuses a second
active version). Accounts keep the version they were opened under.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from core_banking.domain.accounts import ProductType
from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending.credit_line_products import CreditLineProduct
from core_banking.domain.lending.deposit_products import DepositKind, DepositProduct
from core_banking.domain.lending.errors import ProductNotActive, WrongProductKind
from core_banking.domain.lending.loan_products import TermLoanProduct
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.money import Currency


class ProductKind(StrEnum):
    DEPOSIT = "deposit"
    TERM_LOAN = "term_loan"
    CREDIT_LINE = "credit_line"


Product = DepositProduct | TermLoanProduct | CreditLineProduct
"""Any version of any product."""

_CLASSES: Final[dict[ProductKind, type[Product]]] = {
    ProductKind.DEPOSIT: DepositProduct,
    ProductKind.TERM_LOAN: TermLoanProduct,
    ProductKind.CREDIT_LINE: CreditLineProduct,
}

IDENTITY_FIELDS: Final = frozenset({"product_id", "version", "status", "name", "currency"})
"""The fields every product starts with; the rest are its terms."""


def kind_of(product: Product) -> ProductKind:
    if isinstance(product, DepositProduct):
        return ProductKind.DEPOSIT
    if isinstance(product, TermLoanProduct):
        return ProductKind.TERM_LOAN
    return ProductKind.CREDIT_LINE


def new_product(
    kind: ProductKind,
    *,
    product_id: UUID,
    name: str,
    currency: Currency,
    terms: Mapping[str, Any],
) -> Product:
    """Version 1 of a new product, a draft. ``terms`` are the product's fields but its
    identity; fields with a default may be left out. Every field is checked by the
    product's own validation."""
    product_class = _CLASSES[kind]
    fields = {field.name: field for field in dataclasses.fields(product_class)}
    unknown = sorted(terms.keys() - (fields.keys() - IDENTITY_FIELDS))
    if unknown:
        raise InvalidInput(f"a {kind} product has no field {unknown[0]}", field=unknown[0])
    missing = sorted(
        name
        for name, field in fields.items()
        if name not in IDENTITY_FIELDS
        and name not in terms
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    )
    if missing:
        raise InvalidInput(f"a {kind} product needs {missing[0]}", field=missing[0])
    return product_class(
        product_id=product_id,
        version=1,
        status=ProductStatus.DRAFT,
        name=name,
        currency=currency,
        **terms,
    )


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """One version of a product as the catalogue stores it."""

    product: Product
    created_at: datetime
    created_by: str
    """The actor who created this version (``user:<id>``, ``api_key:<id>``)."""
    updated_at: datetime
    """When its status last changed (its creation, until then)."""

    @property
    def kind(self) -> ProductKind:
        return kind_of(self.product)


def account_product_type(product: Product) -> ProductType:
    """The deposit account ``product`` opens: a savings or a checking account, from an
    active savings or checking product version.

    Lending products open loans and credit lines, not deposit accounts; a term-deposit
    product opens a term deposit (services/term_deposits.py), whose account ordinary
    payments cannot reach.
    """
    if not isinstance(product, DepositProduct):
        raise WrongProductKind(
            f"a {kind_of(product)} product opens no deposit account",
            product_id=str(product.product_id),
        )
    if product.kind is DepositKind.TERM_DEPOSIT:
        raise WrongProductKind(
            "a term deposit product does not open a plain deposit account",
            product_id=str(product.product_id),
        )
    if product.status is not ProductStatus.ACTIVE:
        raise ProductNotActive(
            f"version {product.version} of this product is {product.status}",
            product_id=str(product.product_id),
        )
    return ProductType(product.kind.value)
