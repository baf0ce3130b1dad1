"""Reading and writing holds, and sweeping the expired ones."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.errors import NotFound
from core_banking.domain.holds import Hold, HoldStatus
from core_banking.storage.schema import accounts, holds


def hold_from_row(row: RowMapping) -> Hold:
    return Hold(
        id=row["id"],
        account_id=row["account_id"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        status=HoldStatus(row["status"]),
        expires_at=row["expires_at"],
        reference=row["reference"],
        captured_minor=row["captured_minor"],
        capture_entry_id=row["capture_entry_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class HoldRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, hold_id: UUID) -> Hold | None:
        row = (await self._conn.execute(select(holds).where(holds.c.id == hold_id))).first()
        return hold_from_row(row._mapping) if row else None

    async def lock(self, hold_id: UUID) -> Hold:
        """Lock the hold first, then its account: the order every hold operation uses."""
        row = (
            await self._conn.execute(select(holds).where(holds.c.id == hold_id).with_for_update())
        ).first()
        if row is None:
            raise NotFound("no such hold", hold_id=str(hold_id))
        return hold_from_row(row._mapping)

    async def insert(self, hold: Hold) -> None:
        await self._conn.execute(
            holds.insert().values(
                id=hold.id,
                account_id=hold.account_id,
                amount_minor=hold.amount_minor,
                currency=hold.currency,
                status=hold.status.value,
                expires_at=hold.expires_at,
                reference=hold.reference,
                captured_minor=hold.captured_minor,
                capture_entry_id=hold.capture_entry_id,
                created_at=hold.created_at,
                updated_at=hold.updated_at,
            )
        )

    async def finish(
        self,
        hold_id: UUID,
        status: HoldStatus,
        now: datetime,
        *,
        captured_minor: int = 0,
        capture_entry_id: UUID | None = None,
    ) -> None:
        await self._conn.execute(
            update(holds)
            .where(holds.c.id == hold_id)
            .values(
                status=status.value,
                captured_minor=captured_minor,
                capture_entry_id=capture_entry_id,
                updated_at=now,
            )
        )

    async def expire_due(self, now: datetime, limit: int) -> list[Hold]:
        """Mark up to ``limit`` active holds past their expiry as expired and give their
        amounts back to the accounts' available balance, in two set-based statements."""
        due = (
            select(holds.c.id)
            .where(holds.c.status == HoldStatus.ACTIVE.value, holds.c.expires_at <= now)
            .order_by(holds.c.id)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows = await self._conn.execute(
            update(holds)
            .where(holds.c.id.in_(due.scalar_subquery()))
            .values(status=HoldStatus.EXPIRED.value, updated_at=now)
            .returning(*holds.c)
        )
        expired = [hold_from_row(row._mapping) for row in rows]
        released: dict[UUID, int] = {}
        for hold in expired:
            released[hold.account_id] = released.get(hold.account_id, 0) + hold.amount_minor
        for account_id in sorted(released):
            await self._conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(held_minor=accounts.c.held_minor - released[account_id], updated_at=now)
            )
        return expired

    async def active_total(self, account_id: UUID) -> int:
        total = await self._conn.scalar(
            select(func.coalesce(func.sum(holds.c.amount_minor), 0)).where(
                holds.c.account_id == account_id, holds.c.status == HoldStatus.ACTIVE.value
            )
        )
        return int(total or 0)
