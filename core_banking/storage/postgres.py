"""PostgreSQL: the production database.

Transactions run at READ COMMITTED, stated explicitly; correctness under concurrency comes
from row locks taken in one global order (accounts by id, holds before accounts), not from
the isolation level. A single posting is one call to ``nexum_post_entry`` in autocommit
mode: one round trip, one transaction; postings that wait at the same moment go together
in one call of ``nexum_post_entries`` (group commit, storage/group_commit.py).

After the server restarts or crashes, the pool's connections are dead. One that the driver
already knows to be closed is replaced at checkout, with every older pooled connection (no
extra round trip); one that dies in use is discarded, and the work retried where that is
safe (``Storage.retrying``). A posting lost in flight is retried only with its idempotency
claim, which makes the retry return the first posting if that one did commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core_banking.domain.audit import AuditRecord
from core_banking.domain.errors import DomainError
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import PostingRequest, PostingResult
from core_banking.ports import PreparedPosting, UnitOfWork
from core_banking.storage.audit import AuditWriter
from core_banking.storage.base import Storage
from core_banking.storage.errors import ConnectionClosed, connection_lost, never_reached_server
from core_banking.storage.group_commit import GroupCommit
from core_banking.storage.posting_postgres import PostgresPostingWriter

T = TypeVar("T")

APPLICATION_NAME = "nexum"
MAX_GROUP = 100
"""The most postings one group commit carries. It must stay within one call of the posting
function (``ENTRIES_PER_CALL``): one statement, which autocommit keeps whole."""
CANCEL_CONFIRMED_WITHIN = 3.0
"""Seconds a cancelled posting waits for the server to confirm its statement is over."""


class PostgreSQLStorage(Storage):
    backend = "postgresql"

    def __init__(
        self,
        url: str | URL,
        *,
        statement_timeout_seconds: float = 30,
        lock_timeout_seconds: float = 10,
        idle_in_transaction_timeout_seconds: float = 60,
        connect_timeout_seconds: float | None = None,
        **options: Any,
    ) -> None:
        self._connect_timeout = connect_timeout_seconds  # None: the driver's (60 s)
        self._server_settings = {
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(int(statement_timeout_seconds * 1000)),
            "lock_timeout": str(int(lock_timeout_seconds * 1000)),
            "idle_in_transaction_session_timeout": str(
                int(idle_in_transaction_timeout_seconds * 1000)
            ),
            # read by the outbox triggers (sql/0003_event_outbox.sql)
            "nexum.outbox": "on" if options.get("events_enabled") else "off",
        }
        super().__init__(url, **options)
        self.group_commit = GroupCommit(
            self._post_grouped_alone,
            self._post_together,
            lanes=max(1, self.pool_size // 2),
            max_group=MAX_GROUP,
        )

    def _engine_options(self) -> dict[str, Any]:
        connect_args: dict[str, Any] = {"server_settings": self._server_settings}
        if self._connect_timeout is not None:
            connect_args["timeout"] = self._connect_timeout
        return {"isolation_level": "READ COMMITTED", "connect_args": connect_args}

    def _configure(self, engine: AsyncEngine) -> None:
        discard_closed_connections(engine)

    async def statement_by_statement(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async def attempt() -> T:
            async with self.autocommit_engine.connect() as conn:
                return await work(self.unit_of_work(conn, audit_enabled=False))

        return await self.retrying(attempt)

    async def post_entry(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        """A posting with a claim and an audit record joins the postings waiting with it
        (group commit); a reversal goes alone, being refused by its own constraint, and so
        does a posting without a claim, which a group lost in flight could not retry."""
        if claim is None or audit is None or request.reversal_of is not None:
            return await self._post_alone(request, claim, audit)
        return await self.group_commit.post(PreparedPosting(request, claim, audit))

    async def post_each(
        self, postings: Sequence[PreparedPosting]
    ) -> list[PostingResult | DomainError]:
        """In groups, each a transaction, refusals taken out as group commit does; postings
        a group could not retry (no claim) or that reverse go one by one."""
        if any(p.claim is None or p.request.reversal_of is not None for p in postings):
            return await super().post_each(postings)
        outcomes: list[PostingResult | DomainError] = []
        for outcome in await self.group_commit.post_in_order(postings):
            if isinstance(outcome, Exception) and not isinstance(outcome, DomainError):
                raise outcome
            outcomes.append(outcome)
        return outcomes

    async def _post_grouped_alone(self, posting: PreparedPosting) -> PostingResult:
        return await self._post_alone(posting.request, posting.claim, posting.audit)

    async def _post_together(self, postings: Sequence[PreparedPosting]) -> list[PostingResult]:
        """One call of ``nexum_post_entries`` in autocommit: one statement, one transaction.
        Every posting has its claim, so a group lost in flight is retried: what did commit
        comes back replayed."""

        async def attempt() -> list[PostingResult]:
            async with self._posting_connection() as conn:
                trail = AuditWriter(conn, enabled=self.audit_enabled)
                results = await PostgresPostingWriter(conn, trail).post_many(postings)
            self.telemetry.audited(trail.appended)
            return results

        return await self.retrying(attempt, reconnect=lambda _exc: True)

    async def _post_alone(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        async def attempt() -> PostingResult:
            async with self._posting_connection() as conn:
                raw = await conn.get_raw_connection()
                trail = AuditWriter(conn, enabled=self.audit_enabled)
                writer = PostgresPostingWriter(conn, trail, driver=raw.driver_connection)
                try:
                    result = await writer.post(request, claim, audit)
                except Exception as exc:
                    lost = connection_lost(exc)
                    driver = raw.driver_connection
                    closed = driver is not None and bool(driver.is_closed())
                    if lost or closed:
                        # The driver's own error bypasses SQLAlchemy, which would otherwise
                        # put the dead connection back in the pool for the next posting.
                        await conn.invalidate(exc)
                    if closed and not lost:  # lost in flight, under another name
                        raise ConnectionClosed("the connection closed under a posting") from exc
                    raise
            self.telemetry.audited(trail.appended)
            return result

        # Lost in flight, the call may have committed; with a claim, a retry finds it and
        # answers with that posting (replayed), so only then is it safe to run again.
        return await self.retrying(
            attempt, reconnect=lambda exc: claim is not None or never_reached_server(exc)
        )

    @asynccontextmanager
    async def _posting_connection(self) -> AsyncIterator[AsyncConnection]:
        """An autocommit connection for a posting's statement. Cancelled while the statement
        runs (a request past its deadline), it passes the cancellation on only once the
        server has cancelled the statement: until then a statement waiting for a lock
        could still go on and commit after the caller had answered that nothing was
        written."""
        async with self.autocommit_engine.connect() as conn:
            try:
                yield conn
            except asyncio.CancelledError:
                await _until_cancelled_at_the_server(conn)
                raise

    async def _begin_snapshot(self, conn: AsyncConnection) -> None:
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


async def _until_cancelled_at_the_server(conn: AsyncConnection) -> None:
    """asyncpg sends the cancel request of a cancelled statement on a connection of its
    own, in the background, and runs the connection's next statement only after the
    server has answered the cancelled one: so a ``SELECT 1`` returns when the statement
    is over. At most ``CANCEL_CONFIRMED_WITHIN`` seconds; a connection that cannot say
    is the pool's to discard."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None or driver.is_closed():
        return
    try:
        await driver.execute("SELECT 1", timeout=CANCEL_CONFIRMED_WITHIN)
    except Exception:  # the cancellation goes on either way; the connection is discarded
        await conn.invalidate()


def discard_closed_connections(engine: AsyncEngine) -> None:
    """At checkout, replace a pooled connection the driver already knows is closed (the
    server restarted or dropped it), and with it every connection pooled before it: they
    belonged to the same server. Costs no round trip, unlike a pre-ping."""

    @event.listens_for(engine.sync_engine, "checkout")
    def check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise InvalidatePoolError("the server closed this pooled connection")
