"""The unit of work: the repositories of one transaction, on one connection."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.storage.accounts import AccountRepository
from core_banking.storage.audit import AuditWriter
from core_banking.storage.customers import CustomerRepository
from core_banking.storage.holds import HoldRepository
from core_banking.storage.idempotency import IdempotencyRepository
from core_banking.storage.journal import JournalReader
from core_banking.storage.posting_postgres import PostgresPostingWriter
from core_banking.storage.posting_sqlite import SqlitePostingWriter


class SqlUnitOfWork:
    def __init__(self, conn: AsyncConnection, *, audit_enabled: bool) -> None:
        self.connection = conn
        self.accounts = AccountRepository(conn)
        self.customers = CustomerRepository(conn)
        self.holds = HoldRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        self.journal = JournalReader(conn)
        self.audit = AuditWriter(conn, enabled=audit_enabled)
        self.ledger: PostgresPostingWriter | SqlitePostingWriter = (
            PostgresPostingWriter(conn, audit_enabled=audit_enabled)
            if conn.dialect.name == "postgresql"
            else SqlitePostingWriter(conn, self.audit)
        )
