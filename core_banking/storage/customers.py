"""Reading and writing customer rows."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.customers import Customer, CustomerStatus
from core_banking.domain.errors import NotFound
from core_banking.storage.schema import customers


def customer_from_row(row: RowMapping) -> Customer:
    return Customer(
        id=row["id"],
        given_name=row["given_name"],
        family_name=row["family_name"],
        email=row["email"],
        phone=row["phone"],
        status=CustomerStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class CustomerRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, customer_id: UUID) -> Customer | None:
        row = (
            await self._conn.execute(select(customers).where(customers.c.id == customer_id))
        ).first()
        return customer_from_row(row._mapping) if row else None

    async def lock(self, customer_id: UUID) -> Customer:
        row = (
            await self._conn.execute(
                select(customers).where(customers.c.id == customer_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("no such customer", customer_id=str(customer_id))
        return customer_from_row(row._mapping)

    async def insert(self, customer: Customer) -> None:
        await self._conn.execute(
            customers.insert().values(
                id=customer.id,
                given_name=customer.given_name,
                family_name=customer.family_name,
                email=customer.email,
                phone=customer.phone,
                status=customer.status.value,
                created_at=customer.created_at,
                updated_at=customer.updated_at,
            )
        )

    async def set_status(self, customer_id: UUID, status: CustomerStatus, now: datetime) -> None:
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(status=status.value, updated_at=now)
        )
