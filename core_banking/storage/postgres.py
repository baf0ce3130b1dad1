"""PostgreSQL: the production database.

Transactions run at READ COMMITTED, stated explicitly; correctness under concurrency comes
from row locks taken in one global order (accounts by id, holds before accounts), not from
the isolation level. A single posting is one call to ``nexum_post_entry`` in autocommit
mode: one round trip, one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.audit import AuditRecord
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import PostingRequest, PostingResult
from core_banking.storage.audit import AuditWriter
from core_banking.storage.base import Storage
from core_banking.storage.posting_postgres import PostgresPostingWriter

APPLICATION_NAME = "nexum"


class PostgreSQLStorage(Storage):
    backend = "postgresql"

    def __init__(
        self,
        url: str | URL,
        *,
        statement_timeout_seconds: float = 30,
        lock_timeout_seconds: float = 10,
        idle_in_transaction_timeout_seconds: float = 60,
        **options: Any,
    ) -> None:
        self._server_settings = {
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(int(statement_timeout_seconds * 1000)),
            "lock_timeout": str(int(lock_timeout_seconds * 1000)),
            "idle_in_transaction_session_timeout": str(
                int(idle_in_transaction_timeout_seconds * 1000)
            ),
        }
        super().__init__(url, **options)

    def _engine_options(self) -> dict[str, Any]:
        return {
            "isolation_level": "READ COMMITTED",
            "connect_args": {"server_settings": self._server_settings},
        }

    async def post_entry(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        async def attempt() -> PostingResult:
            async with self.autocommit_engine.connect() as conn:
                raw = await conn.get_raw_connection()
                trail = AuditWriter(conn, enabled=self.audit_enabled)
                writer = PostgresPostingWriter(conn, trail, driver=raw.driver_connection)
                result = await writer.post(request, claim, audit)
            self.telemetry.audited(trail.appended)
            return result

        return await self.retrying(attempt)

    async def _begin_snapshot(self, conn: AsyncConnection) -> None:
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
