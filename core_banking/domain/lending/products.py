"""What every product shares: an identity, a version and a life cycle.

Products are data, and a product that accounts or loans were opened under must never change
under them: the account keeps the version it was opened with. So a product is an immutable
value, and "updating" one makes a new version of it (:func:`revise`) -- same product id,
next version number, back to draft -- while the old version stays exactly as it was.

Life cycle of one version::

    draft --activate--> active --retire--> retired
      |                                       ^
      +---------------retire------------------+

Only an active version opens new accounts or loans. A draft can be abandoned by retiring
it; a retired version is final, and cannot be revised (revise the active one instead).
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any, ClassVar, Final, Protocol
from uuid import UUID

from core_banking.domain.errors import InvalidInput, InvalidTransition, RuleViolation
from core_banking.domain.lending._checks import require_currency, require_int, require_member
from core_banking.domain.money import Currency

MAX_NAME_LENGTH: Final = 100
MAX_VERSION: Final = 1_000_000


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


_ALLOWED: Final[dict[ProductStatus, frozenset[ProductStatus]]] = {
    ProductStatus.DRAFT: frozenset({ProductStatus.ACTIVE, ProductStatus.RETIRED}),
    ProductStatus.ACTIVE: frozenset({ProductStatus.RETIRED}),
    ProductStatus.RETIRED: frozenset(),
}

_IDENTITY_FIELDS: Final = frozenset({"product_id", "version", "status", "currency"})
"""Fields a revision may not change: it is a new version of the same product in the same
currency (a product in another currency is another product)."""


class VersionedProduct(Protocol):
    """The fields every product dataclass starts with."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def product_id(self) -> UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def status(self) -> ProductStatus: ...
    @property
    def name(self) -> str: ...
    @property
    def currency(self) -> Currency: ...


def check_identity(product: VersionedProduct) -> None:
    """The shared field checks, called by each product's ``__post_init__``."""
    if not isinstance(product.product_id, UUID):
        raise InvalidInput("product_id must be a UUID", field="product_id")
    require_int(product.version, "version", minimum=1, maximum=MAX_VERSION)
    require_member(product.status, ProductStatus, "status")
    require_currency(product.currency)
    name = product.name
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(f"name is 1 to {MAX_NAME_LENGTH} printable characters", field="name")


def check_product_transition(current: ProductStatus, target: ProductStatus) -> None:
    if target not in _ALLOWED[current]:
        raise InvalidTransition(
            f"a product version cannot go from {current} to {target}",
            current=str(current),
            target=str(target),
        )


def activate[P: VersionedProduct](product: P) -> P:
    """The same version, active: it may now open accounts or loans."""
    check_product_transition(product.status, ProductStatus.ACTIVE)
    return dataclasses.replace(product, status=ProductStatus.ACTIVE)


def retire[P: VersionedProduct](product: P) -> P:
    """The same version, retired: existing accounts keep it, new ones cannot use it."""
    check_product_transition(product.status, ProductStatus.RETIRED)
    return dataclasses.replace(product, status=ProductStatus.RETIRED)


def revise[P: VersionedProduct](product: P, **changes: Any) -> P:
    """The next version of ``product`` with ``changes`` applied, as a draft.

    Every field is checked again by the product's own validation. A retired version cannot
    be revised, and the identity fields (id, version, status, currency) cannot be changed.
    """
    if product.status is ProductStatus.RETIRED:
        raise RuleViolation("a retired product version cannot be revised", field="status")
    unknown = sorted(changes.keys() - product.__dataclass_fields__.keys())
    if unknown:
        raise InvalidInput(f"a product has no field {unknown[0]}", field=unknown[0])
    fixed = sorted(_IDENTITY_FIELDS & changes.keys())
    if fixed:
        raise InvalidInput(f"a revision cannot change {', '.join(fixed)}", field=fixed[0])
    return dataclasses.replace(
        product, version=product.version + 1, status=ProductStatus.DRAFT, **changes
    )
