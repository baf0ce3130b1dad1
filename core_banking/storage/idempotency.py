"""Claiming idempotency keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.errors import IdempotencyKeyReused
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.storage.schema import idempotency_keys
from core_banking.storage.sql import insert_or_ignore


class IdempotencyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, claim: IdempotencyClaim, now: datetime) -> UUID | None:
        """Claim (scope, key) for this command, or return the entity the first claim made.

        A concurrent claimant of the same key waits on the unique index until the first
        transaction ends, then sees its row (or takes the key if the first rolled back).
        """
        inserted = await self._conn.execute(
            insert_or_ignore(self._conn, idempotency_keys).values(
                scope=claim.scope,
                key=claim.key,
                operation=claim.operation,
                fingerprint=claim.fingerprint,
                entity_id=claim.entity_id,
                created_at=now,
            )
        )
        if inserted.rowcount == 1:
            return None
        row = (
            await self._conn.execute(
                select(idempotency_keys.c.fingerprint, idempotency_keys.c.entity_id).where(
                    idempotency_keys.c.scope == claim.scope, idempotency_keys.c.key == claim.key
                )
            )
        ).one()
        if bytes(row.fingerprint) != claim.fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was used for a different request", key=claim.key
            )
        entity_id: UUID = row.entity_id
        return entity_id
