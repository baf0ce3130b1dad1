"""The ports: what the services need from the world, as Protocols.

Services are written against these and never import an adapter. The storage package
implements them for PostgreSQL and SQLite; tests can implement them with fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Protocol, TypeVar
from uuid import UUID

from core_banking.domain.accounts import Account, AccountStatus
from core_banking.domain.audit import AuditRecord
from core_banking.domain.customers import Customer, CustomerStatus
from core_banking.domain.holds import Hold, HoldStatus
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import JournalEntry, PostingRequest, PostingResult

T = TypeVar("T")


class Clock(Protocol):
    """Wall-clock time, and the bank's business date (which may differ from it)."""

    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """Real time in UTC; the business date is today's UTC date."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()


class Accounts(Protocol):
    async def get(self, account_id: UUID) -> Account | None: ...

    async def lock(self, account_id: UUID) -> Account: ...

    async def number_taken(self, number: str) -> bool: ...

    async def insert(self, account: Account) -> None: ...

    async def set_status(self, account_id: UUID, status: AccountStatus, now: datetime) -> None: ...

    async def set_holds(
        self,
        account_id: UUID,
        *,
        held_minor: int,
        daily_debit_minor: int,
        daily_debit_date: date | None,
        now: datetime,
    ) -> None: ...

    async def ensure_chart(self, currency: str, now: datetime) -> None: ...


class Customers(Protocol):
    async def get(self, customer_id: UUID) -> Customer | None: ...

    async def lock(self, customer_id: UUID) -> Customer: ...

    async def insert(self, customer: Customer) -> None: ...

    async def set_status(
        self, customer_id: UUID, status: CustomerStatus, now: datetime
    ) -> None: ...


class Holds(Protocol):
    async def get(self, hold_id: UUID) -> Hold | None: ...

    async def lock(self, hold_id: UUID) -> Hold: ...

    async def insert(self, hold: Hold) -> None: ...

    async def finish(
        self,
        hold_id: UUID,
        status: HoldStatus,
        now: datetime,
        *,
        captured_minor: int = 0,
        capture_entry_id: UUID | None = None,
    ) -> None: ...

    async def expire_due(self, now: datetime, limit: int) -> list[Hold]: ...


class Idempotency(Protocol):
    async def claim(self, claim: IdempotencyClaim, now: datetime) -> UUID | None: ...


class Journal(Protocol):
    async def entry(self, entry_id: UUID) -> JournalEntry | None: ...

    async def reversed_by(self, entry_id: UUID) -> UUID | None: ...

    async def balance_as_of(self, account_id: UUID, moment: datetime) -> int: ...


class Ledger(Protocol):
    async def post(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult: ...


class AuditTrail(Protocol):
    async def append(self, record: AuditRecord) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction. Work done through it commits together or not at all."""

    @property
    def accounts(self) -> Accounts: ...

    @property
    def customers(self) -> Customers: ...

    @property
    def holds(self) -> Holds: ...

    @property
    def idempotency(self) -> Idempotency: ...

    @property
    def journal(self) -> Journal: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def audit(self) -> AuditTrail: ...


class LedgerStore(Protocol):
    """The storage as the services see it."""

    async def atomically(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction and commit; retried whole on a transient
        conflict (deadlock, serialization failure), so ``work`` must not have effects
        outside the transaction."""
        ...

    async def post_entry(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        """Post one entry as its own transaction (the fast path for single postings)."""
        ...

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run read-only ``work`` outside any write transaction."""
        ...
