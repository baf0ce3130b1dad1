"""The HTTP layer's memory of money-moving requests, by (principal, Idempotency-Key).

The first request claims the key in its own short transaction (so a concurrent duplicate
sees it at once and is told 409), then records its response when it succeeds. A refused or
failed request releases the key, so the client can fix the cause and retry with it. A claim
left behind by a process that died is taken over after ``stale_after``; the ledger's own
idempotency claim (written with the posting) then makes the retry return the first entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.ports import Claimed, FieldCipher, InFlight, Mismatch, Replay
from core_banking.storage.schema import http_idempotency
from core_banking.storage.sql import insert_or_ignore

ClaimOutcome = Claimed | Replay | InFlight | Mismatch
_CLAIM_ATTEMPTS = 3


class HttpIdempotencyRepository:
    """Response bodies can hold personal data (a created customer), so they are stored
    through the field cipher like the customer rows themselves."""

    def __init__(self, conn: AsyncConnection, cipher: FieldCipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def claim(
        self,
        principal: str,
        key: str,
        fingerprint: bytes,
        now: datetime,
        stale_after: timedelta,
    ) -> ClaimOutcome:
        for _ in range(_CLAIM_ATTEMPTS):
            inserted = await self._conn.execute(
                insert_or_ignore(self._conn, http_idempotency).values(
                    principal=principal,
                    key=key,
                    fingerprint=fingerprint,
                    completed=False,
                    created_at=now,
                )
            )
            if inserted.rowcount == 1:
                return Claimed()
            row = (
                await self._conn.execute(
                    select(http_idempotency).where(
                        http_idempotency.c.principal == principal, http_idempotency.c.key == key
                    )
                )
            ).one_or_none()
            if row is not None:
                break
            # PostgreSQL, READ COMMITTED: the request holding the key was refused and
            # released it between our insert and this read; the key is free, try again
        else:
            return InFlight()  # taken and released over and over: the client retries
        if bytes(row.fingerprint) != fingerprint:
            return Mismatch()
        if row.completed:
            return Replay(status_code=row.status_code, body=self._cipher.decrypt(row.response_body))
        if now - row.created_at < stale_after:
            return InFlight()
        taken = await self._conn.execute(
            update(http_idempotency)
            .where(
                http_idempotency.c.principal == principal,
                http_idempotency.c.key == key,
                http_idempotency.c.completed.is_(False),
                http_idempotency.c.created_at == row.created_at,
            )
            .values(created_at=now)
        )
        return Claimed() if taken.rowcount == 1 else InFlight()

    async def complete(
        self, principal: str, key: str, status_code: int, body: str, now: datetime
    ) -> None:
        await self._conn.execute(
            update(http_idempotency)
            .where(http_idempotency.c.principal == principal, http_idempotency.c.key == key)
            .values(
                completed=True,
                status_code=status_code,
                response_body=self._cipher.encrypt(body),
                completed_at=now,
            )
        )

    async def release(self, principal: str, key: str) -> None:
        await self._conn.execute(
            delete(http_idempotency).where(
                http_idempotency.c.principal == principal,
                http_idempotency.c.key == key,
                http_idempotency.c.completed.is_(False),
            )
        )
