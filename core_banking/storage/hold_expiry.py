"""Expiring holds in bulk, for the close of business: set-based, a bounded batch at a time.

One batch is three statements in the caller's transaction, whatever its size: expire the
holds (one UPDATE … RETURNING), lock their accounts in id order, and take each account's
expired amounts off its held total (one UPDATE with a correlated sum). The holds are locked
before their accounts, the order every hold operation uses; an UPDATE that finds a hold no
longer active (captured or released meanwhile) leaves it alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.holds import Hold, HoldStatus
from core_banking.storage.holds import hold_from_row
from core_banking.storage.schema import accounts, holds

_ACTIVE = HoldStatus.ACTIVE.value


class HoldExpiryRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def count_due(self, cutoff: datetime) -> int:
        count = await self._conn.scalar(
            select(func.count())
            .select_from(holds)
            .where(holds.c.status == _ACTIVE, holds.c.expires_at < cutoff)
        )
        return int(count or 0)

    async def expire_before(self, cutoff: datetime, now: datetime, limit: int) -> list[Hold]:
        due = (
            select(holds.c.id)
            .where(holds.c.status == _ACTIVE, holds.c.expires_at < cutoff)
            .order_by(holds.c.id)
            .limit(limit)
        )
        rows = await self._conn.execute(
            update(holds)
            .where(holds.c.id.in_(due.scalar_subquery()), holds.c.status == _ACTIVE)
            .values(status=HoldStatus.EXPIRED.value, updated_at=now)
            .returning(*holds.c)
        )
        expired = [hold_from_row(row._mapping) for row in rows]
        if not expired:
            return []
        hold_ids = [hold.id for hold in expired]
        account_ids = sorted({hold.account_id for hold in expired})
        await self._conn.execute(
            select(accounts.c.id)
            .where(accounts.c.id.in_(account_ids))
            .order_by(accounts.c.id)
            .with_for_update()
        )
        released = (
            select(func.sum(holds.c.amount_minor))
            .where(holds.c.account_id == accounts.c.id, holds.c.id.in_(hold_ids))
            .scalar_subquery()
        )
        await self._conn.execute(
            update(accounts)
            .where(accounts.c.id.in_(account_ids))
            .values(held_minor=accounts.c.held_minor - released, updated_at=now)
        )
        return expired
