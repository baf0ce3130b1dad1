"""The HTTP layer's memory of money-moving requests, by (principal, Idempotency-Key).

The first request claims the key in its own short transaction (so a concurrent duplicate
sees it at once and is told 409), then records its response when it succeeds. A refused or
failed request releases the key, so the client can fix the cause and retry with it. A claim
left behind by a process that died is taken over after ``stale_after``; the ledger's own
idempotency claim (written with the posting) then makes the retry return the first entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.ports import Claimed, FieldCipher, InFlight, Mismatch, Replay
from core_banking.storage.schema import http_idempotency

ClaimOutcome = Claimed | Replay | InFlight | Mismatch
_CLAIM_ATTEMPTS = 3

# Every money-moving request runs these, so they are built once: a statement built per call
# costs SQLAlchemy a fresh cache key each time, most of what the claim and the stored
# response cost in Python.
_THIS_KEY = (http_idempotency.c.principal == bindparam("b_principal")) & (
    http_idempotency.c.key == bindparam("b_key")
)
_CLAIM = {
    name: dialect.insert(http_idempotency)
    .values(
        principal=bindparam("b_principal"),
        key=bindparam("b_key"),
        fingerprint=bindparam("b_fingerprint"),
        completed=False,
        created_at=bindparam("b_now"),
    )
    .on_conflict_do_nothing()
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_READ = select(http_idempotency).where(_THIS_KEY)
_TAKE_OVER = (
    update(http_idempotency)
    .where(
        _THIS_KEY,
        http_idempotency.c.completed.is_(False),
        http_idempotency.c.created_at == bindparam("b_claimed_at"),
    )
    .values(created_at=bindparam("b_now"))
)
_COMPLETE = (
    update(http_idempotency)
    .where(_THIS_KEY)
    .values(
        completed=True,
        status_code=bindparam("b_status_code"),
        response_body=bindparam("b_body"),
        completed_at=bindparam("b_now"),
    )
)
_RELEASE = delete(http_idempotency).where(_THIS_KEY, http_idempotency.c.completed.is_(False))


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
        this_key = {"b_principal": principal, "b_key": key}
        for _ in range(_CLAIM_ATTEMPTS):
            inserted = await self._conn.execute(
                _CLAIM[self._conn.dialect.name],
                {**this_key, "b_fingerprint": fingerprint, "b_now": now},
            )
            if inserted.rowcount == 1:
                return Claimed()
            row = (await self._conn.execute(_READ, this_key)).one_or_none()
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
            _TAKE_OVER, {**this_key, "b_claimed_at": row.created_at, "b_now": now}
        )
        return Claimed() if taken.rowcount == 1 else InFlight()

    async def complete(
        self, principal: str, key: str, status_code: int, body: str, now: datetime
    ) -> None:
        await self._conn.execute(
            _COMPLETE,
            {
                "b_principal": principal,
                "b_key": key,
                "b_status_code": status_code,
                "b_body": self._cipher.encrypt(body),
                "b_now": now,
            },
        )

    async def release(self, principal: str, key: str) -> None:
        await self._conn.execute(_RELEASE, {"b_principal": principal, "b_key": key})
