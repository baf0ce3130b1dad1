"""The unit of work: the repositories of one transaction, on one connection."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.ports import FieldCipher
from core_banking.storage.accounts import AccountRepository
from core_banking.storage.audit import AuditWriter
from core_banking.storage.close_of_business import CloseOfBusinessRepository
from core_banking.storage.credentials import ApiKeyRepository, SessionRepository
from core_banking.storage.credit_lines import CreditLineRepository
from core_banking.storage.customers import CustomerRepository
from core_banking.storage.hold_expiry import HoldExpiryRepository
from core_banking.storage.holds import HoldRepository
from core_banking.storage.http_idempotency import HttpIdempotencyRepository
from core_banking.storage.idempotency import IdempotencyRepository
from core_banking.storage.interest_state import InterestStateRepository
from core_banking.storage.journal import JournalReader
from core_banking.storage.loans import LoanRepository
from core_banking.storage.outbox import OutboxRepository
from core_banking.storage.posting_postgres import PostgresPostingWriter
from core_banking.storage.posting_sqlite import SqlitePostingWriter
from core_banking.storage.products import ProductRepository
from core_banking.storage.term_deposits import TermDepositRepository
from core_banking.storage.users import RoleRepository, UserRepository

_SETUP_LOCK = 0x6E65787573  # "nexus"


class SqlUnitOfWork:
    def __init__(
        self,
        conn: AsyncConnection,
        *,
        audit_enabled: bool,
        cipher: FieldCipher,
        events_enabled: bool = False,
    ) -> None:
        self.connection = conn
        self.outbox = OutboxRepository(conn, enabled=events_enabled)
        self.accounts = AccountRepository(conn)
        self.customers = CustomerRepository(conn, cipher)
        self.holds = HoldRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        self.journal = JournalReader(conn)
        self.audit = AuditWriter(conn, enabled=audit_enabled, outbox=self.outbox)
        self.users = UserRepository(conn)
        self.roles = RoleRepository(conn)
        self.sessions = SessionRepository(conn)
        self.api_keys = ApiKeyRepository(conn)
        self.http_idempotency = HttpIdempotencyRepository(conn, cipher)
        self.products = ProductRepository(conn)
        self.loans = LoanRepository(conn)
        self.close_of_business = CloseOfBusinessRepository(conn)
        self.hold_expiry = HoldExpiryRepository(conn)
        self.credit_lines = CreditLineRepository(conn)
        self.term_deposits = TermDepositRepository(conn)
        self.interest_state = InterestStateRepository(conn)
        self.ledger: PostgresPostingWriter | SqlitePostingWriter = (
            PostgresPostingWriter(conn, self.audit)
            if conn.dialect.name == "postgresql"
            else SqlitePostingWriter(conn, self.audit, self.outbox)
        )

    async def serialize_setup(self) -> None:
        """PostgreSQL: a transaction-scoped advisory lock; SQLite's writer lock already
        serialises every write transaction."""
        if self.connection.dialect.name == "postgresql":
            await self.connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SETUP_LOCK}
            )
