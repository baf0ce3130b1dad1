"""Reading and writing the product catalogue: one row per product version."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from core_banking.domain.errors import NotFound
from core_banking.domain.lending.catalog import ProductRecord
from core_banking.domain.lending.products import ProductStatus
from core_banking.ports import ProductQuery
from core_banking.storage.product_documents import product_from_row, product_row
from core_banking.storage.schema import products


def _record(row: RowMapping) -> ProductRecord:
    return ProductRecord(
        product=product_from_row(row),
        created_at=row["created_at"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
    )


def _versions_of(product_id: UUID) -> Select[tuple[object, ...]]:
    return select(products).where(products.c.product_id == product_id)


class ProductRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, record: ProductRecord) -> None:
        await self._conn.execute(
            products.insert().values(
                **product_row(record.product),
                created_at=record.created_at,
                created_by=record.created_by,
                updated_at=record.updated_at,
            )
        )

    async def get(self, product_id: UUID, version: int) -> ProductRecord | None:
        return await self._one(_versions_of(product_id).where(products.c.version == version))

    async def latest(self, product_id: UUID, *, in_use: bool = False) -> ProductRecord | None:
        statement = _versions_of(product_id).order_by(products.c.version.desc()).limit(1)
        if in_use:
            statement = statement.where(products.c.status != ProductStatus.RETIRED.value)
        return await self._one(statement)

    async def active(self, product_id: UUID) -> ProductRecord | None:
        return await self._one(
            _versions_of(product_id).where(products.c.status == ProductStatus.ACTIVE.value)
        )

    async def lock(self, product_id: UUID, *, shared: bool = False) -> None:
        """Lock the product (its first version's row, which every product has) until the
        transaction ends: exclusively to change its versions, ``shared`` to open an account
        from it (SQLite: the writer lock already serialises both)."""
        found = await self._conn.scalar(
            select(products.c.version)
            .where(products.c.product_id == product_id, products.c.version == 1)
            .with_for_update(read=shared)
        )
        if found is None:
            raise NotFound("no such product", product_id=str(product_id))

    async def list(self, query: ProductQuery) -> list[ProductRecord]:
        """Versions matching every given filter: newest product first, then its newest
        version, after the cursor (the last product id and version seen)."""
        statement = (
            select(products)
            .order_by(products.c.product_id.desc(), products.c.version.desc())
            .limit(query.limit)
        )
        if query.after is not None:
            last_id, last_version = query.after
            statement = statement.where(
                or_(
                    products.c.product_id < last_id,
                    and_(products.c.product_id == last_id, products.c.version < last_version),
                )
            )
        if query.kind is not None:
            statement = statement.where(products.c.kind == query.kind.value)
        if query.status is not None:
            statement = statement.where(products.c.status == query.status.value)
        if query.currency is not None:
            statement = statement.where(products.c.currency == query.currency)
        rows = await self._conn.execute(statement)
        return [_record(row._mapping) for row in rows]

    async def set_status(
        self, product_id: UUID, version: int, status: ProductStatus, now: datetime
    ) -> None:
        await self._conn.execute(
            update(products)
            .where(products.c.product_id == product_id, products.c.version == version)
            .values(status=status.value, updated_at=now)
        )

    async def _one(self, statement: Select[tuple[object, ...]]) -> ProductRecord | None:
        row = (await self._conn.execute(statement)).first()
        return _record(row._mapping) if row else None
