"""The HTTP layer's idempotency records at the storage level: races a client cannot
arrange on purpose, arranged here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core_banking.ports import Claimed, InFlight
from core_banking.security.encryption import PlaintextFields
from core_banking.storage import Storage
from core_banking.storage.http_idempotency import HttpIdempotencyRepository
from support.banking import key

pytestmark = pytest.mark.postgres

FINGERPRINT = b"f" * 32
STALE_AFTER = timedelta(minutes=2)


async def test_a_claim_released_between_the_insert_and_the_read_is_taken(
    postgresql_storage: Storage,
) -> None:
    """Request A holds the key; B's insert is ignored; A is refused and releases the key
    before B reads the row (READ COMMITTED lets B see that). B must take the key, not fail
    on a row that is gone."""
    storage, principal, idempotency_key = postgresql_storage, "user:a", key()
    now = datetime.now(UTC)
    first = await storage.atomically(
        lambda uow: uow.http_idempotency.claim(
            principal, idempotency_key, FINGERPRINT, now, STALE_AFTER
        )
    )
    assert isinstance(first, Claimed)

    class ReleasedAfterTheInsert:
        """B's connection, on which A's release lands right after B's first statement."""

        def __init__(self, conn: Any) -> None:
            self.conn = conn
            self.dialect = conn.dialect
            self.statements = 0

        async def execute(self, *args: Any, **kwargs: Any) -> Any:
            result = await self.conn.execute(*args, **kwargs)
            self.statements += 1
            if self.statements == 1:
                await storage.atomically(
                    lambda uow: uow.http_idempotency.release(principal, idempotency_key)
                )
            return result

    async with storage.engine.connect() as conn, conn.begin():
        racing = ReleasedAfterTheInsert(conn)
        records = HttpIdempotencyRepository(racing, PlaintextFields())  # type: ignore[arg-type]
        second = await records.claim(principal, idempotency_key, FINGERPRINT, now, STALE_AFTER)
    assert isinstance(second, Claimed)
    assert racing.statements == 3  # ignored insert, read of a vanished row, successful insert

    third = await storage.atomically(
        lambda uow: uow.http_idempotency.claim(
            principal, idempotency_key, FINGERPRINT, now, STALE_AFTER
        )
    )
    assert isinstance(third, InFlight)  # B's claim stands
