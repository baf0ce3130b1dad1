"""The HTTP layer's idempotency records at the storage level: races a client cannot
arrange on purpose, arranged here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core_banking.ports import Claimed, InFlight
from core_banking.security.encryption import PlaintextFields
from core_banking.storage import Storage
from core_banking.storage.http_idempotency import HttpIdempotencyRepository
from core_banking.storage.statements import DriverStatements, SqlAlchemyStatements, Statements
from support.banking import key

pytestmark = pytest.mark.postgres

FINGERPRINT = b"f" * 32
STALE_AFTER = timedelta(minutes=2)


@asynccontextmanager
async def _in_a_transaction(storage: Storage) -> AsyncIterator[Statements]:
    async with storage.engine.connect() as conn, conn.begin():
        yield SqlAlchemyStatements(conn)


@asynccontextmanager
async def _on_the_driver(storage: Storage) -> AsyncIterator[Statements]:
    """As PostgreSQL runs them for a request: each statement committing alone."""
    async with storage._driver_connection() as driver:  # type: ignore[attr-defined]
        yield DriverStatements(driver)


@pytest.mark.parametrize("statements_of", [_in_a_transaction, _on_the_driver])
async def test_a_claim_released_between_the_insert_and_the_read_is_taken(
    postgresql_storage: Storage,
    statements_of: Callable[[Storage], AbstractAsyncContextManager[Statements]],
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
        """B's statements, after the first of which A's release lands."""

        def __init__(self, statements: Statements) -> None:
            self.statements = statements
            self.dialect_name = statements.dialect_name
            self.run = 0

        async def count(self, statement: Any, parameters: Any) -> int:
            return await self._then_release(await self.statements.count(statement, parameters))

        async def first(self, statement: Any, parameters: Any) -> Any:
            return await self._then_release(await self.statements.first(statement, parameters))

        async def _then_release(self, result: Any) -> Any:
            self.run += 1
            if self.run == 1:
                await storage.atomically(
                    lambda uow: uow.http_idempotency.release(principal, idempotency_key)
                )
            return result

    async with statements_of(storage) as statements:
        racing = ReleasedAfterTheInsert(statements)
        records = HttpIdempotencyRepository(racing, PlaintextFields())
        second = await records.claim(principal, idempotency_key, FINGERPRINT, now, STALE_AFTER)
    assert isinstance(second, Claimed)
    assert racing.run == 3  # ignored insert, read of a vanished row, successful insert

    third = await storage.atomically(
        lambda uow: uow.http_idempotency.claim(
            principal, idempotency_key, FINGERPRINT, now, STALE_AFTER
        )
    )
    assert isinstance(third, InFlight)  # B's claim stands
