"""Reading and writing customers, with their personal data through the field cipher.

Names, email, phone, date of birth and KYC documents are written with ``cipher.encrypt``
(ciphertext when encryption is on) and read with ``cipher.decrypt``. Email and phone are
found through their blind index, names through the blind indexes of their words
(``customer_name_tokens``): nothing is ever searched by decrypting every row.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.customers import (
    Customer,
    CustomerStatus,
    DocumentKind,
    IdentityDocument,
    Kyc,
    KycStatus,
)
from core_banking.domain.errors import NotFound
from core_banking.ports import CustomerQuery, FieldCipher
from core_banking.storage.schema import customer_name_tokens, customers

_WORD = re.compile(r"\w+")
MAX_NAME_TOKENS = 16


def name_tokens(*names: str) -> set[str]:
    """The words of a name, compared without case and in Unicode's compatibility form."""
    words = _WORD.findall(unicodedata.normalize("NFKC", " ".join(names)).casefold())
    return set(words[:MAX_NAME_TOKENS])


def _documents_text(documents: tuple[IdentityDocument, ...]) -> str:
    return json.dumps(
        [
            {
                "kind": document.kind.value,
                "number": document.number,
                "issuing_country": document.issuing_country,
                "expires_on": document.expires_on.isoformat() if document.expires_on else None,
            }
            for document in documents
        ],
        separators=(",", ":"),
    )


def _documents(text: str | None) -> tuple[IdentityDocument, ...]:
    if not text:
        return ()
    return tuple(
        IdentityDocument(
            kind=DocumentKind(item["kind"]),
            number=item["number"],
            issuing_country=item["issuing_country"],
            expires_on=date.fromisoformat(item["expires_on"]) if item["expires_on"] else None,
        )
        for item in json.loads(text)
    )


class CustomerRepository:
    def __init__(self, conn: AsyncConnection, cipher: FieldCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _encrypt(self, value: str | None) -> str | None:
        return self._cipher.encrypt(value) if value is not None else None

    def _decrypt(self, value: str | None) -> str | None:
        return self._cipher.decrypt(value) if value is not None else None

    def _from_row(self, row: RowMapping) -> Customer:
        birth = self._decrypt(row["date_of_birth"])
        return Customer(
            id=row["id"],
            given_name=self._cipher.decrypt(row["given_name"]),
            family_name=self._cipher.decrypt(row["family_name"]),
            email=self._decrypt(row["email"]),
            phone=self._decrypt(row["phone"]),
            status=CustomerStatus(row["status"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            date_of_birth=date.fromisoformat(birth) if birth else None,
            kyc=Kyc(
                status=KycStatus(row["kyc_status"]),
                tier=row["kyc_tier"],
                documents=_documents(self._decrypt(row["kyc_documents"])),
                updated_at=row["kyc_updated_at"],
            ),
        )

    def personal_columns(self, customer: Customer) -> dict[str, Any]:
        """What the cipher writes for a customer's personal data, indexes included."""
        return {
            "given_name": self._cipher.encrypt(customer.given_name),
            "family_name": self._cipher.encrypt(customer.family_name),
            "email": self._encrypt(customer.email),
            "phone": self._encrypt(customer.phone),
            "date_of_birth": self._encrypt(
                customer.date_of_birth.isoformat() if customer.date_of_birth else None
            ),
            "email_index": self._cipher.blind_index(f"email:{customer.email.casefold()}")
            if customer.email
            else None,
            "phone_index": self._cipher.blind_index(f"phone:{customer.phone}")
            if customer.phone
            else None,
            "kyc_documents": self._encrypt(_documents_text(customer.kyc.documents))
            if customer.kyc.documents
            else None,
        }

    async def get(self, customer_id: UUID) -> Customer | None:
        row = (
            await self._conn.execute(select(customers).where(customers.c.id == customer_id))
        ).first()
        return self._from_row(row._mapping) if row else None

    async def lock(self, customer_id: UUID) -> Customer:
        row = (
            await self._conn.execute(
                select(customers).where(customers.c.id == customer_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("no such customer", customer_id=str(customer_id))
        return self._from_row(row._mapping)

    async def insert(self, customer: Customer) -> None:
        await self._conn.execute(
            customers.insert().values(
                id=customer.id,
                status=customer.status.value,
                kyc_status=customer.kyc.status.value,
                kyc_tier=customer.kyc.tier,
                kyc_updated_at=customer.kyc.updated_at,
                created_at=customer.created_at,
                updated_at=customer.updated_at,
                **self.personal_columns(customer),
            )
        )
        await self._write_name_tokens(customer)

    async def update(self, customer: Customer) -> None:
        """Write every field of ``customer`` (personal data, status, KYC) and re-index it."""
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer.id)
            .values(
                status=customer.status.value,
                kyc_status=customer.kyc.status.value,
                kyc_tier=customer.kyc.tier,
                kyc_updated_at=customer.kyc.updated_at,
                updated_at=customer.updated_at,
                **self.personal_columns(customer),
            )
        )
        await self._conn.execute(
            delete(customer_name_tokens).where(customer_name_tokens.c.customer_id == customer.id)
        )
        await self._write_name_tokens(customer)

    async def set_status(self, customer_id: UUID, status: CustomerStatus, now: datetime) -> None:
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(status=status.value, updated_at=now)
        )

    async def _write_name_tokens(self, customer: Customer) -> None:
        tokens = name_tokens(customer.given_name, customer.family_name)
        if tokens:
            await self._conn.execute(
                customer_name_tokens.insert(),
                [
                    {"token": self._cipher.blind_index(f"name:{token}"), "customer_id": customer.id}
                    for token in sorted(tokens)
                ],
            )

    async def search(self, query: CustomerQuery) -> list[Customer]:
        """Customers matching every given criterion, newest first, after the cursor."""
        statement = select(customers).order_by(customers.c.id.desc()).limit(query.limit)
        if query.after is not None:
            statement = statement.where(customers.c.id < query.after)
        if query.status is not None:
            statement = statement.where(customers.c.status == query.status.value)
        if query.kyc_status is not None:
            statement = statement.where(customers.c.kyc_status == query.kyc_status.value)
        if query.email is not None:
            statement = statement.where(
                customers.c.email_index.in_(
                    self._cipher.blind_indexes(f"email:{query.email.casefold()}")
                )
            )
        if query.phone is not None:
            statement = statement.where(
                customers.c.phone_index.in_(self._cipher.blind_indexes(f"phone:{query.phone}"))
            )
        for token in sorted(name_tokens(query.name or "")):
            matching = (
                select(customer_name_tokens.c.customer_id)
                .where(
                    customer_name_tokens.c.token.in_(self._cipher.blind_indexes(f"name:{token}"))
                )
                .scalar_subquery()
            )
            statement = statement.where(customers.c.id.in_(matching))
        rows = await self._conn.execute(statement)
        return [self._from_row(row._mapping) for row in rows]

    async def count(self) -> int:
        return int(await self._conn.scalar(select(func.count()).select_from(customers)) or 0)
