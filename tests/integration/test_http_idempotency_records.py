"""The HTTP layer's idempotency records at the storage level: races a client cannot
arrange on purpose, arranged here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from core_banking.ports import Claimed, InFlight, Replay
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


async def test_a_statement_cancelled_in_flight_takes_its_connection_out_of_the_pool(
    postgresql_storage: Storage,
) -> None:
    """A caller cancelled mid-statement (a request past its deadline) leaves the connection
    in a state nobody knows: it is closed, not pooled again, and the next request is served."""
    storage = postgresql_storage
    held: dict[str, Any] = {}
    checked_out = asyncio.Event()

    async def sleep_on_the_driver() -> None:
        async with storage._driver_connection() as driver:  # type: ignore[attr-defined]
            held["driver"] = driver
            checked_out.set()
            await driver.fetchval("SELECT pg_sleep(5)")

    sleeping = asyncio.create_task(sleep_on_the_driver())
    await checked_out.wait()
    await asyncio.sleep(0.2)  # the statement is on its way
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert held["driver"].is_closed()

    claimed = await storage.request_records(
        lambda records: records.claim("user:a", key(), FINGERPRINT, datetime.now(UTC), STALE_AFTER)
    )
    assert isinstance(claimed, Claimed)


async def test_an_error_the_server_reports_keeps_the_connection(
    postgresql_storage: Storage,
) -> None:
    storage = postgresql_storage
    held: dict[str, Any] = {}

    async def divide_by_zero() -> None:
        async with storage._driver_connection() as driver:  # type: ignore[attr-defined]
            held["driver"] = driver
            await driver.fetchval("SELECT 1 / 0")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await divide_by_zero()
    assert not held["driver"].is_closed()
    async with storage._driver_connection() as driver:  # type: ignore[attr-defined]
        assert await driver.fetchval("SELECT 1") == 1


async def test_on_the_driver_values_are_bound_and_read_as_through_sqlalchemy(
    postgresql_storage: Storage,
) -> None:
    """The columns' types still judge what is written (a naive time is refused) and what
    is read (the stored response comes back the same either way)."""
    storage, principal, idempotency_key = postgresql_storage, "user:a", key()
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="naive"):
        await storage.request_records(
            lambda records: records.claim(
                principal, key(), FINGERPRINT, now.replace(tzinfo=None), STALE_AFTER
            )
        )
    await storage.request_records(
        lambda records: records.claim(principal, idempotency_key, FINGERPRINT, now, STALE_AFTER)
    )
    await storage.request_records(
        lambda records: records.complete(principal, idempotency_key, 201, '{"id": 1}', now)
    )
    on_the_driver = await storage.request_records(
        lambda records: records.claim(principal, idempotency_key, FINGERPRINT, now, STALE_AFTER)
    )
    through_sqlalchemy = await storage.atomically(
        lambda uow: uow.http_idempotency.claim(
            principal, idempotency_key, FINGERPRINT, now, STALE_AFTER
        )
    )
    assert on_the_driver == through_sqlalchemy == Replay(status_code=201, body='{"id": 1}')
