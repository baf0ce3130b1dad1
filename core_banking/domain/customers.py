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


MAX_EMAIL_LENGTH = 320
MAX_LOCAL_PART_LENGTH = 64
MAX_PHONE_LENGTH = 32
_PHONE_SEPARATORS = str.maketrans("", "", " -.()")


def clean_email(value: str | None) -> str | None:
    """An address of the form local@domain, at most 320 characters, without spaces or
    control characters; the domain is lower-cased (the local part is the mailbox owner's
    and is kept as written). Deliverability is not this function's business."""
    if value is None:
        return None
    cleaned = value.strip() if isinstance(value, str) else ""
    local, at, domain = cleaned.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(cleaned) > MAX_EMAIL_LENGTH
        or len(local) > MAX_LOCAL_PART_LENGTH
        or any(character.isspace() or not character.isprintable() for character in cleaned)
    ):
        raise InvalidInput("email is an address like name@example.com", field="email")
    return f"{local}@{domain.lower()}"


def clean_phone(value: str | None) -> str | None:
    """A phone number of 6 to 15 digits, optionally after a leading '+', once spaces,
    dashes, dots and brackets are taken out (the E.164 length limit)."""
    if value is None:
        return None
    raw = value.strip() if isinstance(value, str) else ""
    compact = raw.translate(_PHONE_SEPARATORS)
    digits = compact.removeprefix("+")
    if (
        len(raw) > MAX_PHONE_LENGTH
        or not digits.isascii()
        or not digits.isdigit()
        or not 6 <= len(digits) <= 15
    ):
        raise InvalidInput("phone is 6 to 15 digits, optionally after a '+'", field="phone")
    return compact


def check_customer_transition(current: CustomerStatus, target: CustomerStatus) -> None:
    if target not in _ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(
            f"a customer cannot go from {current} to {target}",
            current=str(current),
            target=str(target),
        )
