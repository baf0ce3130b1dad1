"""A database holding a Nexum ledger: its engine, its transactions, its retries.

Writes go through `atomically`, which runs the caller's work in one transaction, commits,
and retries the whole transaction a bounded number of times when the database reports a
transient conflict (a deadlock or a serialization failure). Reads go through `read`, on a
connection in autocommit mode so a single query costs a single round trip.

A lost connection (the server restarted, crashed or refused us) is retried too, with a
longer pause, wherever running the work again cannot repeat it: reads always, a write
transaction when the loss came before its COMMIT was sent (the server rolled it back). A
loss during COMMIT leaves the outcome unknown and is raised: the caller retries with its
idempotency key, which was written in that same transaction.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core_banking.domain.audit import AuditRecord
from core_banking.domain.errors import DomainError
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import PostingRequest, PostingResult
from core_banking.ports import FieldCipher, NoTelemetry, PreparedPosting, Telemetry, UnitOfWork
from core_banking.security.encryption import PlaintextFields
from core_banking.storage.errors import DatabaseUnavailable, connection_lost, is_transient
from core_banking.storage.unit_of_work import SqlUnitOfWork
from core_banking.storage.urls import async_url

T = TypeVar("T")

MAX_ATTEMPTS = 5
_BACKOFF_BASE_SECONDS = 0.005
_BACKOFF_MAX_SECONDS = 0.2
# After a lost connection: pauses of 0.1, 0.2, 0.4, 0.8 s (half to all of it), so a request
# rides through a server restart of about a second and fails (503) within 1.5 s otherwise.
_RECONNECT_BACKOFF_BASE_SECONDS = 0.05
_RECONNECT_BACKOFF_MAX_SECONDS = 0.8


def _always(_exc: BaseException) -> bool:
    return True


def _never(_exc: BaseException) -> bool:
    return False


class Storage:
    """The engine and transaction discipline shared by both databases."""

    backend: ClassVar[str]

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 30,
        echo: bool = False,
        audit_enabled: bool = True,
        events_enabled: bool = False,
        cipher: FieldCipher | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.url = async_url(url)
        if self.url.get_backend_name() != self.backend:
            raise ValueError(
                f"{type(self).__name__} needs a {self.backend} URL, "
                f"not {self.url.get_backend_name()}; use create_storage() to choose by URL"
            )
        self.audit_enabled = audit_enabled
        self.events_enabled = events_enabled
        """Write the event outbox (NEXUM_ENABLE_KAFKA_EVENTS): PostgreSQL's triggers look
        at the connection's nexum.outbox setting, SQLite's writers at this flag."""
        self.cipher: FieldCipher = cipher or PlaintextFields()
        self.telemetry: Telemetry = telemetry or NoTelemetry()
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=False,
            echo=echo,
            hide_parameters=True,  # echo and error messages never quote values: personal data
            **self._engine_options(),
        )
        self._configure(self.engine)
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def _engine_options(self) -> dict[str, Any]:
        return {}

    def _configure(self, engine: AsyncEngine) -> None:
        """Hook for dialect-specific engine events."""

    @property
    def database_url(self) -> str:
        """The URL with its password, for tools (Alembic) that open their own connection."""
        return self.url.render_as_string(hide_password=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url.render_as_string(hide_password=True)!r})"

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            await self._begin_write(conn)
            async with conn.begin():
                yield conn

    async def _begin_write(self, conn: AsyncConnection) -> None:
        """Hook: prepare a connection for a write transaction."""

    def unit_of_work(
        self, conn: AsyncConnection, *, audit_enabled: bool | None = None
    ) -> SqlUnitOfWork:
        """The repositories of one transaction on ``conn``."""
        return SqlUnitOfWork(
            conn,
            audit_enabled=self.audit_enabled if audit_enabled is None else audit_enabled,
            cipher=self.cipher,
            events_enabled=self.events_enabled,
        )

    async def atomically(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        committing = False

        async def attempt() -> T:
            nonlocal committing
            committing = False
            async with self._transaction() as conn:
                uow = self.unit_of_work(conn)
                result = await work(uow)
                committing = True  # from here a lost connection leaves the outcome unknown
            self.telemetry.audited(uow.audit.appended)
            return result

        return await self.retrying(attempt, reconnect=lambda _exc: not committing)

    async def post_entry(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        return await self.atomically(lambda uow: uow.ledger.post(request, claim, audit))

    async def post_each(
        self, postings: Sequence[PreparedPosting]
    ) -> list[PostingResult | DomainError]:
        """One transaction each, one after the other."""
        outcomes: list[PostingResult | DomainError] = []
        for posting in postings:
            try:
                outcomes.append(
                    await self.post_entry(posting.request, posting.claim, posting.audit)
                )
            except DomainError as refusal:
                outcomes.append(refusal)
        return outcomes

    async def statement_by_statement(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work`` whose every statement stands alone: an insert-or-ignore, a
        conditional update, each right whatever runs between two of them (the HTTP
        idempotency records are written so). Here, in one transaction; PostgreSQL commits
        each statement by itself, sparing the BEGIN and COMMIT round trips."""
        return await self.atomically(work)

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await self.retrying(lambda: self.read_once(work), reconnect=_always)

    async def read_once(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """``read`` without retries (a router tries elsewhere instead)."""
        async with self.autocommit_engine.connect() as conn:
            return await work(self.unit_of_work(conn, audit_enabled=False))

    async def read_replica(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """A read that a replica could serve; one database has none, so: ``read``."""
        return await self.read(work)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction that sees one consistent state of the whole database."""
        async with self.engine.connect() as conn:
            await self._begin_snapshot(conn)
            async with conn.begin():
                yield conn

    async def _begin_snapshot(self, conn: AsyncConnection) -> None:
        """Hook: prepare a connection for a consistent multi-query read."""

    async def retrying(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        reconnect: Callable[[BaseException], bool] = _never,
    ) -> T:
        """Run ``attempt``, again after a short random pause if it hit a transient conflict,
        or lost its connection and ``reconnect(error)`` says running it again is safe; at
        most MAX_ATTEMPTS times. A connection loss it gives up on is raised as
        DatabaseUnavailable, caused by the driver's error."""
        number = 1
        while True:
            try:
                return await attempt()
            except Exception as exc:
                again = number < MAX_ATTEMPTS
                lost = connection_lost(exc)
                if again and is_transient(exc):
                    ceiling = min(_BACKOFF_MAX_SECONDS, _BACKOFF_BASE_SECONDS * 2**number)
                    pause = random.uniform(0, ceiling)  # noqa: S311 - jitter, not secrets
                elif again and lost and reconnect(exc):
                    ceiling = min(
                        _RECONNECT_BACKOFF_MAX_SECONDS, _RECONNECT_BACKOFF_BASE_SECONDS * 2**number
                    )
                    pause = random.uniform(ceiling / 2, ceiling)  # noqa: S311
                elif lost:
                    raise DatabaseUnavailable("the database cannot be reached") from exc
                else:
                    raise
            await asyncio.sleep(pause)
            number += 1

    async def ping(self) -> float:
        """Round-trip time of a trivial query, in milliseconds."""
        started = time.perf_counter()
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return (time.perf_counter() - started) * 1000

    async def dispose(self) -> None:
        await self.engine.dispose()
