"""A deposit account's interest state, read and settled one account at a time.

The close of business posts interest set-based (storage/deposit_interest.py); closing an
account or a term deposit settles one account's interest inside its own transaction, here:
what accrued since the last posting and the residue carried, locked, then the state after
posting it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.storage.schema import deposit_interest_state


class InterestStateRepository:
    """Implements ``ports.InterestState``."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def unposted(self, account_id: UUID) -> tuple[Decimal, Decimal]:
        state = deposit_interest_state
        row = (
            await self._conn.execute(
                select(state.c.accrued, state.c.residue)
                .where(state.c.account_id == account_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            return Decimal(0), Decimal(0)
        return Decimal(row.accrued), Decimal(row.residue)

    async def posted(
        self, account_id: UUID, posted_minor: int, residue: Decimal, business_date: date
    ) -> None:
        state = deposit_interest_state
        await self._conn.execute(
            update(state)
            .where(state.c.account_id == account_id)
            .values(
                accrued=Decimal(0),
                residue=residue,
                credited_minor=state.c.credited_minor + posted_minor,
                last_posting_date=business_date,
            )
        )
