"""The ports: what the services need from the world, as Protocols.

Services are written against these and never import an adapter. The storage package
implements them for PostgreSQL and SQLite; tests can implement them with fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Protocol, TypeVar
from uuid import UUID

from core_banking.domain.accounts import Account, AccountStatus
from core_banking.domain.audit import AuditRecord, StoredAuditEvent
from core_banking.domain.close_of_business import CloseOfBusinessRun
from core_banking.domain.customers import Customer, CustomerStatus, KycStatus
from core_banking.domain.errors import DomainError
from core_banking.domain.events import EventMessage, OutboxBacklog, OutboxEntry
from core_banking.domain.holds import Hold, HoldStatus
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import (
    AccountLine,
    Channel,
    EntryType,
    JournalEntry,
    PostingRequest,
    PostingResult,
)
from core_banking.domain.lending.catalog import ProductKind, ProductRecord
from core_banking.domain.lending.credit_line_accounts import (
    CreditLine,
    CreditLineStatement,
    CreditLineStatus,
    Movement,
)
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import InterestPostingFrequency
from core_banking.domain.lending.interest_posting import InterestPosition
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.lending.loans import Installment, Loan
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.schedule import Prepayment
from core_banking.domain.lending.term_deposits import TermDeposit, TermDepositStatus
from core_banking.domain.users import ApiKey, Role, Session, User

T = TypeVar("T")


class FieldCipher(Protocol):
    """Encrypts personal data fields and computes blind indexes for finding them."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, stored: str) -> str: ...

    def blind_index(self, normalised: str) -> str: ...

    def blind_indexes(self, normalised: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """Filters for listing customers; every one given must match. Pages run newest first,
    ``after`` is the last id of the previous page."""

    limit: int
    after: UUID | None = None
    status: CustomerStatus | None = None
    kyc_status: KycStatus | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """One page of an account's history, newest first: lines before ``before_seq``,
    optionally within [since, until)."""

    account_id: UUID
    limit: int
    before_seq: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """One page of journal entries, newest first, after the cursor (the last id seen)."""

    limit: int
    before: UUID | None = None
    account_id: UUID | None = None
    entry_type: EntryType | None = None
    channel: Channel | None = None
    reference: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    limit: int
    before: tuple[datetime, int, int] | None = None  # (occurred_at, shard, seq) of the last seen
    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Telemetry(Protocol):
    """What the services and storage report for monitoring."""

    def posted(self, entry: JournalEntry, processing_time_ms: float) -> None: ...

    def refused(self, entry_type: str, code: str) -> None: ...

    def audited(self, actions: Sequence[str]) -> None: ...

    def cache(self, name: str, hit: bool) -> None: ...

    def published(self, topics: Sequence[str]) -> None: ...


class NoTelemetry:
    """Reports nothing: for tools and tests that do not monitor."""

    def posted(self, entry: JournalEntry, processing_time_ms: float) -> None:
        return None

    def refused(self, entry_type: str, code: str) -> None:
        return None

    def audited(self, actions: Sequence[str]) -> None:
        return None

    def cache(self, name: str, hit: bool) -> None:
        return None

    def published(self, topics: Sequence[str]) -> None:
        return None


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

    async def of_customer(self, customer_id: UUID) -> list[Account]: ...

    async def lock(self, account_id: UUID) -> Account: ...

    async def lock_many(self, account_ids: set[UUID]) -> dict[UUID, Account]:
        """Lock several accounts in id order, the one order every writer uses."""
        ...

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

    async def update(self, customer: Customer) -> None: ...

    async def search(self, query: CustomerQuery) -> list[Customer]: ...

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


class HoldExpiry(Protocol):
    """The close of business's sweep of holds that expire by a moment (the end of the
    business date)."""

    async def count_due(self, cutoff: datetime) -> int:
        """Active holds whose expiry time is before ``cutoff``."""
        ...

    async def expire_before(self, cutoff: datetime, now: datetime, limit: int) -> list[Hold]:
        """Expire up to ``limit`` of them and give their amounts back to their accounts'
        available balance, set-based; the holds expired."""
        ...


class Idempotency(Protocol):
    async def claim(self, claim: IdempotencyClaim, now: datetime) -> UUID | None: ...


class Users(Protocol):
    async def get(self, user_id: UUID) -> User | None: ...

    async def by_username(self, username: str, *, lock: bool = False) -> User | None: ...

    async def lock(self, user_id: UUID) -> User: ...

    async def list(self, limit: int, after: UUID | None) -> list[User]: ...

    async def any_exist(self) -> bool: ...

    async def insert(self, user: User) -> None: ...

    async def set_roles(self, user_id: UUID, role_names: Iterable[str]) -> None: ...

    async def update(self, user_id: UUID, now: datetime, **values: object) -> None: ...


class Roles(Protocol):
    async def all(self) -> list[Role]: ...

    async def get(self, name: str) -> Role | None: ...

    async def named(self, names: Iterable[str]) -> list[Role]: ...

    async def save(self, role: Role, now: datetime) -> None: ...

    async def delete(self, name: str) -> None: ...

    async def holders(self, name: str) -> int: ...


class Sessions(Protocol):
    async def insert(self, session: Session) -> None: ...

    async def get(self, session_id: UUID) -> Session | None: ...

    async def touch(self, session_id: UUID, now: datetime) -> None: ...

    async def revoke(self, session_id: UUID, now: datetime) -> bool: ...

    async def revoke_all_of(self, user_id: UUID, now: datetime) -> int: ...


class ApiKeys(Protocol):
    async def insert(self, key: ApiKey) -> None: ...

    async def get(self, key_id: UUID) -> ApiKey | None: ...

    async def list(self) -> list[ApiKey]: ...

    async def revoke(self, key_id: UUID, now: datetime) -> bool: ...

    async def mark_used(self, key_id: UUID, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Claimed:
    """This request holds the Idempotency-Key now."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The key's first request succeeded with this response."""

    status_code: int
    body: str


@dataclass(frozen=True, slots=True)
class InFlight:
    """Another request with the key is still being handled."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used with a different request."""


class HttpIdempotency(Protocol):
    async def claim(
        self,
        principal: str,
        key: str,
        fingerprint: bytes,
        now: datetime,
        stale_after: timedelta,
    ) -> Claimed | Replay | InFlight | Mismatch: ...

    async def complete(
        self, principal: str, key: str, status_code: int, body: str, now: datetime
    ) -> None: ...

    async def release(self, principal: str, key: str) -> None: ...


class Journal(Protocol):
    async def entry(self, entry_id: UUID) -> JournalEntry | None: ...

    async def history(self, query: HistoryQuery) -> list[AccountLine]: ...

    async def entries(self, query: EntryQuery) -> list[JournalEntry]: ...

    async def reversed_by(self, entry_id: UUID) -> UUID | None: ...

    async def balance_as_of(self, account_id: UUID, moment: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class PreparedPosting:
    """What the ledger writes for one command: the entry, the claim that makes it happen at
    most once, and the audit record that says who asked."""

    request: PostingRequest
    claim: IdempotencyClaim | None
    """None for an entry its command's own claim covers."""
    audit: AuditRecord


class Ledger(Protocol):
    async def post(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult: ...

    async def post_many(self, postings: Sequence[PreparedPosting]) -> list[PostingResult]:
        """Each posting in order, in the caller's transaction, exactly as ``post`` would
        post it, with a result each. A refusal names the posting it refuses by its place
        in ``postings``, ``operation_index`` in its context; the postings before it are
        written, so the caller rolls the transaction back."""
        ...


class AuditTrail(Protocol):
    async def append(self, record: AuditRecord) -> None: ...

    async def events(self, query: AuditQuery) -> list[StoredAuditEvent]: ...


class Outbox(Protocol):
    """The event outbox, as the relay drains it (rows are written beside the changes)."""

    async def take_lease(self, owner: str, now: datetime, until: datetime) -> bool: ...

    async def give_up_lease(self, owner: str, now: datetime) -> None: ...

    async def pending(self, limit: int) -> list[OutboxEntry]: ...

    async def remove(self, seqs: Sequence[int]) -> None: ...

    async def backlog(self) -> OutboxBacklog: ...


class EventPublisher(Protocol):
    """A message broker (Kafka) as the relay uses it."""

    async def publish(self, messages: Sequence[EventMessage]) -> int:
        """Send ``messages`` in order and wait (bounded) for the broker; the number of
        leading messages it acknowledged. Never raises for a delivery failure."""
        ...

    async def brokers_connected(self) -> int: ...

    async def close(self) -> None: ...


class SharedCache(Protocol):
    """A cache every process of the installation shares (Redis). Failures raise."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    async def bump(self, key: str) -> int:
        """Add one to the counter at ``key`` (created at 0); the new value."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ProductQuery:
    """Product versions matching every filter given, newest product first and then its
    newest version; ``after`` is the (product id, version) last seen."""

    limit: int
    after: tuple[UUID, int] | None = None
    kind: ProductKind | None = None
    status: ProductStatus | None = None
    currency: str | None = None


class Products(Protocol):
    """The product catalogue: every version of every product."""

    async def insert(self, record: ProductRecord) -> None: ...

    async def get(self, product_id: UUID, version: int) -> ProductRecord | None: ...

    async def latest(self, product_id: UUID, *, in_use: bool = False) -> ProductRecord | None:
        """The newest version; with ``in_use``, the newest that is not retired."""
        ...

    async def active(self, product_id: UUID) -> ProductRecord | None: ...

    async def lock(self, product_id: UUID, *, shared: bool = False) -> None:
        """Until the transaction ends: exclusively to change a product's versions, shared
        to open an account from it. Raises NotFound for an unknown product."""
        ...

    async def list(self, query: ProductQuery) -> list[ProductRecord]: ...

    async def set_status(
        self, product_id: UUID, version: int, status: ProductStatus, now: datetime
    ) -> None: ...


class CloseOfBusinessRuns(Protocol):
    """The business calendar and the runs of the close of business, by business date.

    A run is led by one process at a time through a lease (``lease_owner`` until
    ``lease_expires_at``): taken when it starts, renewed while it works, given up when it
    stops; one left by a process that died expires and may be taken over."""

    async def lock_calendar(self) -> date | None:
        """Lock the calendar until the transaction ends (every start of a run queues
        here); the last closed business date."""
        ...

    async def last_closed(self) -> date | None: ...

    async def get(self, business_date: date) -> CloseOfBusinessRun | None: ...

    async def unfinished(self) -> date | None:
        """The date of a run that started and has not finished, if any."""
        ...

    async def start(
        self, business_date: date, actor: str, owner: str, now: datetime, until: datetime
    ) -> None:
        """A new run of ``business_date``, led by ``owner`` until ``until``."""
        ...

    async def take_lease(
        self, business_date: date, owner: str, now: datetime, until: datetime
    ) -> bool:
        """Lead the unfinished run until ``until``: when ``owner`` already leads it or no
        one's lease is live at ``now``. True when ``owner`` leads it."""
        ...

    async def renew_lease(self, business_date: date, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease; False when ``owner`` no longer leads the run."""
        ...

    async def give_up_lease(self, business_date: date, owner: str, now: datetime) -> None: ...

    async def start_step(
        self, business_date: date, owner: str, name: str, position: int, now: datetime
    ) -> None:
        """Record that the step has begun (kept if it had begun before); raises
        RunLeaseLost unless ``owner`` still leads the run."""
        ...

    async def finish_step(
        self, business_date: date, owner: str, name: str, items_done: int, now: datetime
    ) -> None:
        """Mark the step done with its count; raises RunLeaseLost unless ``owner`` still
        leads the run."""
        ...

    async def close(self, business_date: date, owner: str, now: datetime) -> None:
        """Mark the run done and make it the calendar's last closed date; raises
        RunLeaseLost unless ``owner`` still leads the run."""
        ...

    async def recent(self, limit: int, before: date | None = None) -> list[CloseOfBusinessRun]:
        """Runs newest date first, those before ``before`` when given."""
        ...


@dataclass(frozen=True, slots=True)
class LoanQuery:
    """Loans matching every filter given, newest first; ``before`` is the last id seen."""

    limit: int
    before: UUID | None = None
    customer_id: UUID | None = None
    status: LoanStatus | None = None
    product_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class LateFeeCandidate:
    """An overdue installment with principal or interest unpaid and no late fee yet."""

    loan_id: UUID
    product_id: UUID
    product_version: int
    currency: str
    installment_number: int
    due_date: date
    unpaid_minor: int


class Loans(Protocol):
    """Loans, their installments and prepayments; and the close of business's set-based
    work on them."""

    async def insert(self, loan: Loan) -> None: ...

    async def get(self, loan_id: UUID) -> Loan | None: ...

    async def lock(self, loan_id: UUID) -> Loan:
        """Until the transaction ends; raises NotFound for an unknown loan."""
        ...

    async def lock_all(self, loan_ids: Collection[UUID]) -> None:
        """Lock these loans until the transaction ends, in id order."""
        ...

    async def save(self, loan: Loan) -> None:
        """Write what a loan's life changes: status, decisions, dates, credit, days late."""
        ...

    async def search(self, query: LoanQuery) -> list[Loan]: ...

    async def installments(self, loan_id: UUID) -> list[Installment]: ...

    async def insert_installments(
        self, loan_id: UUID, installments: Sequence[Installment]
    ) -> None: ...

    async def save_installments(
        self, loan_id: UUID, installments: Sequence[Installment]
    ) -> None: ...

    async def reschedule(self, loan_id: UUID, installments: Sequence[Installment]) -> None: ...

    async def prepayments(self, loan_id: UUID) -> list[Prepayment]: ...

    async def insert_prepayment(
        self, loan_id: UUID, seq: int, prepayment: Prepayment, entry_id: UUID
    ) -> None: ...

    async def loans_to_bill(self, business_date: date, limit: int) -> list[UUID]: ...

    async def bill_interest(
        self, loan_ids: Collection[UUID], business_date: date
    ) -> list[tuple[str, int]]: ...

    async def mark_due(self, business_date: date) -> int: ...

    async def refresh_delinquency(self, business_date: date, now: datetime) -> int: ...

    async def late_fee_candidates(
        self, business_date: date, after: tuple[UUID, int] | None, limit: int
    ) -> list[LateFeeCandidate]: ...

    async def charge_late_fees(
        self, fees: Sequence[tuple[UUID, int, int]], business_date: date
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class TermDepositQuery:
    """Term deposits matching every filter given, newest first; ``after`` is the last id
    seen."""

    limit: int
    after: UUID | None = None
    customer_id: UUID | None = None
    status: TermDepositStatus | None = None


class TermDeposits(Protocol):
    """Term deposits (docs/term-deposits.md)."""

    async def insert(self, deposit: TermDeposit) -> None: ...

    async def get(self, account_id: UUID) -> TermDeposit | None: ...

    async def lock(self, account_id: UUID) -> TermDeposit:
        """Until the transaction ends; raises NotFound for an unknown deposit."""
        ...

    async def search(self, query: TermDepositQuery) -> list[TermDeposit]: ...

    async def close(
        self, account_id: UUID, status: TermDepositStatus, closed_on: date, now: datetime
    ) -> None: ...


class InterestState(Protocol):
    """One deposit account's interest state, settled when the account or term deposit is
    closed (docs/interest.md)."""

    async def unposted(self, account_id: UUID) -> tuple[Decimal, Decimal]:
        """(accrued since the last posting, residue carried), locked; zeros when none."""
        ...

    async def posted(
        self, account_id: UUID, posted_minor: int, residue: Decimal, business_date: date
    ) -> None:
        """Nothing accrued any more, ``residue`` carried, ``posted_minor`` credited."""
        ...


class TermDepositMaturityBook(Protocol):
    """Term deposits' settlement at maturity, set-based (docs/term-deposits.md)."""

    async def settle(self, business_date: date, report: ProgressReport) -> int:
        """Pay out or roll over every deposit whose term ends with ``business_date``;
        returns the deposits settled."""
        ...


@dataclass(frozen=True, slots=True)
class CreditLineQuery:
    """Credit lines matching every filter given, newest first; ``after`` is the last id
    seen."""

    limit: int
    after: UUID | None = None
    customer_id: UUID | None = None
    status: CreditLineStatus | None = None
    currency: str | None = None


class CreditLines(Protocol):
    """Credit lines, their subledger of movements, their accruals and statements. The
    close-of-business methods are set-based over every line due, at most ``limit`` lines a
    call (docs/credit-lines.md)."""

    async def insert(self, line: CreditLine) -> None: ...

    async def get(self, credit_line_id: UUID) -> CreditLine | None: ...

    async def lock(self, credit_line_id: UUID) -> CreditLine:
        """Until the transaction ends; raises NotFound for an unknown line."""
        ...

    async def search(self, query: CreditLineQuery) -> list[CreditLine]: ...

    async def set_status(
        self, credit_line_id: UUID, status: CreditLineStatus, now: datetime
    ) -> None: ...

    async def record_movement(self, movement: Movement, now: datetime) -> None:
        """Write the movement and apply it to the line's balances."""
        ...

    async def movement(self, entry_id: UUID) -> Movement | None: ...

    async def count_payment(self, credit_line_id: UUID, amount_minor: int, now: datetime) -> None:
        """Count a payment toward the line's unpaid statements' minimums."""
        ...

    async def statements(
        self, credit_line_id: UUID, limit: int, before: date | None = None
    ) -> list[CreditLineStatement]: ...

    async def accrue(
        self,
        business_date: date,
        day_fractions: Mapping[DayCount, tuple[int, int]],
        precision: int,
        now: datetime,
        limit: int,
    ) -> int: ...

    async def mark_overdue(self, business_date: date, now: datetime, limit: int) -> int: ...

    async def unposted_late_fees(self) -> list[tuple[str, int]]: ...

    async def attach_late_fees(
        self, currency_code: str, entry_id: UUID, business_date: date, now: datetime
    ) -> None: ...

    async def cut_statements(
        self, business_date: date, statement_days: Sequence[int], now: datetime, limit: int
    ) -> int: ...

    async def unposted_interest(self, business_date: date) -> list[tuple[str, int]]: ...

    async def attach_interest(
        self, currency_code: str, entry_id: UUID, business_date: date
    ) -> None: ...


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

    @property
    def users(self) -> Users: ...

    @property
    def roles(self) -> Roles: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def api_keys(self) -> ApiKeys: ...

    @property
    def http_idempotency(self) -> HttpIdempotency: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def products(self) -> Products: ...

    @property
    def loans(self) -> Loans: ...

    @property
    def close_of_business(self) -> CloseOfBusinessRuns: ...

    @property
    def hold_expiry(self) -> HoldExpiry: ...

    @property
    def credit_lines(self) -> CreditLines: ...

    @property
    def term_deposits(self) -> TermDeposits: ...

    @property
    def interest_state(self) -> InterestState: ...

    async def serialize_setup(self) -> None:
        """Make concurrent first-admin set-ups queue, so only one can succeed."""
        ...


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

    async def post_each(
        self, postings: Sequence[PreparedPosting]
    ) -> list[PostingResult | DomainError]:
        """Post each of ``postings`` on its own terms, in order, as if one after the other:
        each gets its result or the refusal that stopped it, and is checked against the
        state the ones before it left. A failure that is not a refusal is raised (those
        before it may be posted: their claims make a retry answer with them)."""
        ...

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run read-only ``work`` outside any write transaction, on the primary: it sees
        every committed write, the caller's own included."""
        ...

    async def read_replica(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run read-only ``work`` where a read replica may serve it, a moment behind the
        primary (the primary when there is no usable replica). Never for a read that must
        see the caller's own writes or that feeds a decision: those use ``read``."""
        ...


ProgressReport = Callable[[int, int], None]
"""``report(done, total)``: how far a close-of-business step has got, in its own units."""


class CloseOfBusinessStep(Protocol):
    """One job of the close of business (accrue interest, post it, age loans, ...).

    The orchestrator runs the steps of a business date in order and records each one
    done. A step must be safe to run again for the same date after a crash at any point:
    whatever it commits (in as many transactions as it likes) records, in those same
    transactions, that it has been done for that date, so a second run does only what is
    left and changes nothing that was already done. Its work is set-based SQL over all
    the rows due, never a Python loop over accounts.
    """

    name: str
    """Stable and unique: it is stored with the run's progress."""

    async def run(self, business_date: date, report: ProgressReport) -> int:
        """Do the step's work for ``business_date``; returns how many items it did."""
        ...


class MaintenanceFeeBook(Protocol):
    """Deposit maintenance fees in storage: the set-based month-end charge over every due
    account (docs/close-of-business.md)."""

    async def charge(self, business_date: date, month: date, report: ProgressReport) -> int:
        """Charge ``month``'s maintenance fee (``month`` is its first day) on every account
        due, or record it waived where the available funds do not cover it; returns the
        accounts settled (none for a month already done)."""
        ...


class TransactionFeeBook(Protocol):
    """Deposit transaction fees in storage: the set-based daily charge over every account
    with fee-bearing debits (docs/close-of-business.md)."""

    async def charge(self, business_date: date, report: ProgressReport) -> int:
        """Charge the fee of each fee-bearing debit of ``business_date`` on every account
        due, one entry per account, or record it waived where the available funds do not
        cover it; returns the accounts settled (none for a date already done)."""
        ...


class DepositInterestBook(Protocol):
    """Deposit interest in storage: set-based accrual and posting over every due account
    (docs/interest.md)."""

    async def accrue(
        self,
        business_date: date,
        days: Mapping[DayCount, int],
        precision: int,
        report: ProgressReport,
    ) -> int:
        """Accrue one day of interest on the closing balance of ``business_date`` for every
        account due; ``days`` is each day count's days in that date. Returns the accruals
        written (none for a date already accrued)."""
        ...

    async def post_due(
        self,
        business_date: date,
        frequencies: Collection[InterestPostingFrequency],
        report: ProgressReport,
    ) -> int:
        """Post what has accrued on accounts whose product posts at one of ``frequencies``;
        returns the accounts settled (none for a date already posted)."""
        ...

    async def post_maturing(self, business_date: date, report: ProgressReport) -> int:
        """Post what has accrued on term deposits whose term ends with ``business_date``;
        returns the accounts settled."""
        ...

    async def position(self, account_id: UUID) -> InterestPosition | None:
        """An account's interest state; None for an account without a product."""
        ...
