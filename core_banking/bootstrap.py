"""The composition root: the one place that turns configuration into a working bank.

Everything else receives its collaborators; only this module decides which storage, clock
and policy they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core_banking.config import Settings, get_config
from core_banking.domain.policy import BusinessPolicy
from core_banking.migrations import MigrationManager
from core_banking.ports import Clock, CloseOfBusinessStep, SharedCache, SystemClock, Telemetry
from core_banking.security import api_keys
from core_banking.security.encryption import FieldCipher
from core_banking.security.passwords import Argon2Passwords
from core_banking.security.tokens import JwtTokens
from core_banking.services.accounts import AccountService
from core_banking.services.audit_trail import AuditTrailService
from core_banking.services.auth import SESSION_TOUCH_INTERVAL, AuthService, AuthSettings
from core_banking.services.close_of_business import CloseOfBusinessService
from core_banking.services.credit_line_close import CreditLineInterestStep, CreditLineStatementsStep
from core_banking.services.credit_lines import CreditLineService
from core_banking.services.customers import CustomerService
from core_banking.services.deposit_interest import (
    DepositInterestAccrual,
    DepositInterestPosting,
    DepositInterestService,
)
from core_banking.services.event_relay import EventRelay
from core_banking.services.hold_expiry import ExpireHoldsStep
from core_banking.services.holds import HoldService
from core_banking.services.ledger import LedgerService
from core_banking.services.loans import LoanService
from core_banking.services.loans_due import LoansDueStep
from core_banking.services.maintenance_fees import DepositMaintenanceFees
from core_banking.services.principal_cache import PrincipalCache
from core_banking.services.products import ProductService
from core_banking.services.term_deposits import TermDepositMaturity, TermDepositService
from core_banking.services.transaction_fees import DepositTransactionFees
from core_banking.storage import DatabaseRouter, Storage, create_storage
from core_banking.storage.deposit_interest import SqlDepositInterest
from core_banking.storage.maintenance_fees import SqlMaintenanceFees
from core_banking.storage.term_deposit_maturity import SqlTermDepositMaturity
from core_banking.storage.transaction_fees import SqlTransactionFees


@dataclass(frozen=True, slots=True)
class Nexum:
    """A bank: its storage and the services that work on it."""

    config: Settings
    storage: Storage
    clock: Clock
    ledger: LedgerService
    holds: HoldService
    accounts: AccountService
    customers: CustomerService
    auth: AuthService
    audit_trail: AuditTrailService
    products: ProductService
    loans: LoanService
    close_of_business: CloseOfBusinessService
    deposit_interest: DepositInterestService
    credit_lines: CreditLineService
    term_deposits: TermDepositService
    router: DatabaseRouter
    """``storage`` and the read replicas (NEXUM_DATABASE_REPLICA_URLS): the store of the
    services with reads that may lag; auth and holds decide on what they read, so they use
    ``storage`` alone."""
    events: EventRelay | None = None
    """The outbox relay to Kafka, when NEXUM_ENABLE_KAFKA_EVENTS is on."""
    cache: SharedCache | None = None
    """The shared cache (Redis), when NEXUM_REDIS_URL is set and NEXUM_CACHE_TTL_SECONDS > 0."""

    async def aclose(self) -> None:
        if self.events is not None:
            await self.events.publisher.close()
        if self.cache is not None:
            await self.cache.aclose()
        await self.router.dispose()  # the primary (``storage``) and the replicas


def policy_from(config: Settings) -> BusinessPolicy:
    return BusinessPolicy(
        max_transaction_amount=config.max_transaction_amount,
        max_daily_transaction_limit=config.max_daily_transaction_limit,
        min_account_balance=config.min_account_balance,
    )


def cipher_from(config: Settings) -> FieldCipher:
    """Encrypts new values under the master key when encryption is on; reads values written
    under the master key or any previous key either way."""
    master = config.master_key_bytes()
    previous = config.previous_key_bytes()
    if config.encryption_enabled:
        return FieldCipher(master, config.encryption_provider.value, previous)
    return FieldCipher(None, config.encryption_provider.value, [*previous, *filter(None, [master])])


def storage_from(config: Settings, telemetry: Telemetry | None = None) -> Storage:
    return create_storage(
        config.database_url,
        pool_size=config.database_pool_size,
        max_overflow=config.database_pool_overflow,
        pool_timeout=config.database_pool_timeout,
        echo=config.database_echo,
        audit_enabled=config.enable_audit_logging,
        events_enabled=config.enable_kafka_events,
        cipher=cipher_from(config),
        telemetry=telemetry,
    )


def router_from(
    config: Settings, storage: Storage, telemetry: Telemetry | None = None
) -> DatabaseRouter:
    """The primary and the configured read replicas, which get the primary's pool settings
    and cipher (they hold the same encrypted rows) and are never written to."""
    return DatabaseRouter(
        storage,
        config.database_replica_urls,
        max_lag_seconds=config.database_replica_max_lag_seconds,
        pool_size=config.database_pool_size,
        max_overflow=config.database_pool_overflow,
        pool_timeout=config.database_pool_timeout,
        echo=config.database_echo,
        audit_enabled=False,
        cipher=storage.cipher,
        telemetry=telemetry,
    )


class _ApiKeyCodec:
    """The API key functions, as the object AuthService expects."""

    new_secret = staticmethod(api_keys.new_secret)
    format_key = staticmethod(api_keys.format_key)
    parse_key = staticmethod(api_keys.parse_key)
    secret_digest = staticmethod(api_keys.secret_digest)
    secret_matches = staticmethod(api_keys.secret_matches)


def cache_from(config: Settings) -> SharedCache | None:
    """Redis as the shared cache (redis comes with the ``full`` extra, imported only then)."""
    if config.redis_url is None or config.cache_ttl_seconds == 0:
        return None
    from core_banking.cache.redis_cache import RedisCache

    return RedisCache(config.redis_url, max_connections=config.connection_pool_size)


def auth_from(
    config: Settings,
    storage: Storage,
    clock: Clock,
    cache: SharedCache | None = None,
    telemetry: Telemetry | None = None,
) -> AuthService:
    """Authentication; with a shared cache, who is behind a session or key is remembered for
    NEXUM_CACHE_TTL_SECONDS, at most as long as a session's last-seen time may lag."""
    principals = (
        PrincipalCache(
            cache,
            min(config.cache_ttl_seconds, int(SESSION_TOUCH_INTERVAL.total_seconds())),
            telemetry,
        )
        if cache is not None
        else None
    )
    return AuthService(
        storage,
        clock,
        Argon2Passwords(),
        JwtTokens(
            config.jwt_secret.get_secret_value(),
            config.jwt_algorithm.value,
            timedelta(hours=config.jwt_expiry_hours),
        ),
        _ApiKeyCodec(),
        AuthSettings(
            password_min_length=config.password_min_length,
            session_idle_timeout=timedelta(minutes=config.session_timeout_minutes),
        ),
        principals,
    )


def relay_from(
    config: Settings, storage: Storage, clock: Clock, telemetry: Telemetry | None = None
) -> EventRelay | None:
    """The outbox relay with a Kafka producer, when events are on (confluent-kafka comes
    with the ``full`` extra, so it is imported only then)."""
    if not config.enable_kafka_events:
        return None
    from core_banking.messaging.kafka import KafkaPublisher

    publisher = KafkaPublisher(
        config.kafka_bootstrap_servers,
        config.kafka_topic_prefix,
        delivery_timeout_seconds=config.kafka_delivery_timeout_seconds,
    )
    return EventRelay(
        storage, publisher, clock, batch_size=config.kafka_batch_size, telemetry=telemetry
    )


def close_of_business_steps(
    storage: Storage, clock: Clock, *, interest_precision: int = 4
) -> list[CloseOfBusinessStep]:
    """The close of business's steps, in the order they run for each business date: the one
    list to extend with a new step (docs/close-of-business.md). They work on the primary:
    each decides on what it reads."""
    return [
        ExpireHoldsStep(storage, clock),
        *deposit_interest_steps(storage, interest_precision),
        *deposit_fee_steps(storage),
        TermDepositMaturity(SqlDepositInterest(storage), SqlTermDepositMaturity(storage)),
        LoansDueStep(storage, clock),
        *credit_line_steps(storage, clock, interest_precision),
    ]


def credit_line_steps(storage: Storage, clock: Clock, precision: int) -> list[CloseOfBusinessStep]:
    """A day's interest on every open credit line, then overdue minimums and statements
    (docs/credit-lines.md)."""
    return [
        CreditLineInterestStep(storage, clock, precision),
        CreditLineStatementsStep(storage, clock),
    ]


def deposit_fee_steps(storage: Storage) -> list[CloseOfBusinessStep]:
    """The month's maintenance fee at month end, then the day's per-transaction fees
    (docs/close-of-business.md). After the interest steps: a fee of D never lowers the
    balance D's interest accrues on."""
    return [
        DepositMaintenanceFees(SqlMaintenanceFees(storage)),
        DepositTransactionFees(SqlTransactionFees(storage)),
    ]


def deposit_interest_steps(storage: Storage, precision: int) -> list[CloseOfBusinessStep]:
    """Accrue every interest-bearing deposit account's day, then post where a period ends
    (NEXUM_INTEREST_CALCULATION_PRECISION decimals kept in accruals; docs/interest.md)."""
    book = SqlDepositInterest(storage)
    return [DepositInterestAccrual(book, precision), DepositInterestPosting(book)]


def migration_manager(config: Settings, storage: Storage) -> MigrationManager:
    return MigrationManager(storage, timeout_seconds=config.migration_timeout_seconds)


def build(
    config: Settings | None = None,
    *,
    storage: Storage | None = None,
    clock: Clock | None = None,
    telemetry: Telemetry | None = None,
) -> Nexum:
    """Wire a bank from configuration (``get_config()`` by default)."""
    config = config or get_config()
    storage = storage or storage_from(config, telemetry)
    clock = clock or SystemClock()
    policy = policy_from(config)
    router = router_from(config, storage, telemetry)
    cache = cache_from(config)
    return Nexum(
        config=config,
        storage=storage,
        clock=clock,
        ledger=LedgerService(router, clock, policy, telemetry),
        holds=HoldService(storage, clock, policy),
        accounts=AccountService(router, clock, policy),
        customers=CustomerService(router, clock),
        auth=auth_from(config, storage, clock, cache, telemetry),
        audit_trail=AuditTrailService(router),
        products=ProductService(router, clock),
        loans=LoanService(router, clock, policy),
        close_of_business=CloseOfBusinessService(
            storage,
            clock,
            close_of_business_steps(
                storage, clock, interest_precision=config.interest_calculation_precision
            ),
        ),
        deposit_interest=DepositInterestService(SqlDepositInterest(storage)),
        credit_lines=CreditLineService(router, clock, policy),
        term_deposits=TermDepositService(router, clock, policy),
        router=router,
        events=relay_from(config, storage, clock, telemetry),
        cache=cache,
    )
