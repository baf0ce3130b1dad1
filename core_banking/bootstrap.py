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
from core_banking.ports import Clock, SystemClock, Telemetry
from core_banking.security import api_keys
from core_banking.security.encryption import FieldCipher
from core_banking.security.passwords import Argon2Passwords
from core_banking.security.tokens import JwtTokens
from core_banking.services.accounts import AccountService
from core_banking.services.audit_trail import AuditTrailService
from core_banking.services.auth import AuthService, AuthSettings
from core_banking.services.customers import CustomerService
from core_banking.services.holds import HoldService
from core_banking.services.ledger import LedgerService
from core_banking.storage import Storage, create_storage


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

    async def aclose(self) -> None:
        await self.storage.dispose()


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
        cipher=cipher_from(config),
        telemetry=telemetry,
    )


class _ApiKeyCodec:
    """The API key functions, as the object AuthService expects."""

    new_secret = staticmethod(api_keys.new_secret)
    format_key = staticmethod(api_keys.format_key)
    parse_key = staticmethod(api_keys.parse_key)
    secret_digest = staticmethod(api_keys.secret_digest)
    secret_matches = staticmethod(api_keys.secret_matches)


def auth_from(config: Settings, storage: Storage, clock: Clock) -> AuthService:
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
    )


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
    return Nexum(
        config=config,
        storage=storage,
        clock=clock,
        ledger=LedgerService(storage, clock, policy, telemetry),
        holds=HoldService(storage, clock, policy),
        accounts=AccountService(storage, clock),
        customers=CustomerService(storage, clock),
        auth=auth_from(config, storage, clock),
        audit_trail=AuditTrailService(storage),
    )
