"""Customers: the people and businesses the bank holds money for.

Identity and status for now; know-your-customer data arrives with the API. A customer who
is not active cannot open new accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
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


class KycStatus(StrEnum):
    """Know-your-customer review: pending until documents are checked, then verified or
    rejected; verified becomes expired when its documents do."""

    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"


class DocumentKind(StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    DRIVING_LICENCE = "driving_licence"
    RESIDENCE_PERMIT = "residence_permit"
    TAX_ID = "tax_id"
    PROOF_OF_ADDRESS = "proof_of_address"


MAX_KYC_TIER = 3
MAX_DOCUMENTS = 10
_IDENTITY_DOCUMENTS = frozenset(DocumentKind) - {DocumentKind.PROOF_OF_ADDRESS}


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    kind: DocumentKind
    number: str
    issuing_country: str
    expires_on: date | None = None

    def __post_init__(self) -> None:
        number = self.number.strip() if isinstance(self.number, str) else ""
        if not number or len(number) > 64 or not number.isprintable():
            raise InvalidInput("a document number is 1 to 64 printable characters", field="number")
        country = self.issuing_country
        if not (
            isinstance(country, str)
            and len(country) == 2
            and country.isascii()
            and country.isupper()
        ):
            raise InvalidInput(
                "the issuing country is an ISO 3166-1 alpha-2 code", field="issuing_country"
            )
        object.__setattr__(self, "number", number)


@dataclass(frozen=True, slots=True)
class Kyc:
    status: KycStatus = KycStatus.PENDING
    tier: int = 0
    documents: tuple[IdentityDocument, ...] = ()
    updated_at: datetime | None = None


def check_kyc(
    status: KycStatus, tier: int, documents: tuple[IdentityDocument, ...], today: date
) -> None:
    """A verified customer has a tier of 1 or more and at least one identity document that
    has not expired; tiers run 0 (none) to 3 (enhanced due diligence)."""
    if not isinstance(tier, int) or isinstance(tier, bool) or not 0 <= tier <= MAX_KYC_TIER:
        raise InvalidInput(f"the KYC tier is 0 to {MAX_KYC_TIER}", field="tier")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInput(f"at most {MAX_DOCUMENTS} documents", field="documents")
    if status is KycStatus.VERIFIED:
        valid = [
            document
            for document in documents
            if document.kind in _IDENTITY_DOCUMENTS
            and (document.expires_on is None or document.expires_on > today)
        ]
        if tier < 1 or not valid:
            raise InvalidInput(
                "verification needs a tier of 1 or more and an unexpired identity document",
                field="status",
            )


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
    date_of_birth: date | None = None
    kyc: Kyc = field(default_factory=Kyc)

    def check_changeable(self) -> None:
        """A closed customer's record is kept as it was closed: no detail or KYC changes."""
        if self.status is CustomerStatus.CLOSED:
            raise InvalidTransition("a closed customer is not changed")


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
