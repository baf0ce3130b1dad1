"""Customer bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from core_banking.api.schemas.common import RequestModel
from core_banking.domain.customers import (
    Customer,
    CustomerStatus,
    DocumentKind,
    IdentityDocument,
    KycStatus,
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(max_length=320)]
Phone = Annotated[str, StringConstraints(max_length=32)]


class CustomerCreate(RequestModel):
    given_name: Name
    family_name: Name
    email: Email | None = Field(None, examples=["ada@example.com"])
    phone: Phone | None = Field(
        None, description="With its country code.", examples=["+44 20 7946 0958"]
    )
    date_of_birth: date | None = None


class CustomerUpdate(RequestModel):
    given_name: Name | None = None
    family_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    date_of_birth: date | None = None
    status: CustomerStatus | None = Field(
        None, description="active, suspended or closed (closed is final)."
    )


class DocumentIn(RequestModel):
    kind: DocumentKind
    number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issuing_country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    expires_on: date | None = None

    def to_document(self) -> IdentityDocument:
        return IdentityDocument(self.kind, self.number, self.issuing_country, self.expires_on)


class KycUpdate(RequestModel):
    status: KycStatus
    tier: int = Field(ge=0, le=3)
    documents: list[DocumentIn] = Field(default_factory=list, max_length=10)


class DocumentOut(BaseModel):
    kind: DocumentKind
    number: str
    issuing_country: str
    expires_on: date | None


class KycOut(BaseModel):
    status: KycStatus
    tier: int
    documents: list[DocumentOut]
    updated_at: datetime | None


class CustomerOut(BaseModel):
    customer_id: UUID
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    date_of_birth: date | None
    status: CustomerStatus
    kyc: KycOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls(
            customer_id=customer.id,
            given_name=customer.given_name,
            family_name=customer.family_name,
            email=customer.email,
            phone=customer.phone,
            date_of_birth=customer.date_of_birth,
            status=customer.status,
            kyc=KycOut(
                status=customer.kyc.status,
                tier=customer.kyc.tier,
                documents=[
                    DocumentOut(
                        kind=d.kind,
                        number=d.number,
                        issuing_country=d.issuing_country,
                        expires_on=d.expires_on,
                    )
                    for d in customer.kyc.documents
                ],
                updated_at=customer.kyc.updated_at,
            ),
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )
