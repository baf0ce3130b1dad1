"""Customers: the people and businesses the bank holds money for.

Identity and status for now; know-your-customer data arrives with the API. A customer who
is not active cannot open new accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from core_banking.domain.errors import InvalidInput, InvalidTransition

MAX_NAME_LENGTH = 200


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


_ALLOWED_TRANSITIONS: dict[CustomerStatus, frozenset[CustomerStatus]] = {
    CustomerStatus.ACTIVE: frozenset({CustomerStatus.SUSPENDED, CustomerStatus.CLOSED}),
    CustomerStatus.SUSPENDED: frozenset({CustomerStatus.ACTIVE, CustomerStatus.CLOSED}),
    CustomerStatus.CLOSED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Customer:
    id: UUID
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    status: CustomerStatus
    created_at: datetime
    updated_at: datetime


def clean_name(value: str, field: str) -> str:
    """A name is 1 to 200 characters after trimming, with no control characters."""
    cleaned = value.strip() if isinstance(value, str) else ""
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise InvalidInput(f"{field} is 1 to {MAX_NAME_LENGTH} printable characters", field=field)
    return cleaned


def check_customer_transition(current: CustomerStatus, target: CustomerStatus) -> None:
    if target not in _ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(
            f"a customer cannot go from {current} to {target}",
            current=str(current),
            target=str(target),
        )
