"""Who may do what: permissions, the roles that bundle them, and the principal a request
acts as.

Every API route names exactly one permission. A principal holds the union of its roles'
permissions (a user) or the permissions its key was given (a machine client). Roles also
carry an amount limit: the most a principal may move in one transaction, in major units of
any currency (a teller moves at most 10,000.00, whatever the currency); the most generous of
a principal's roles applies, and the bank-wide NEXUM_MAX_TRANSACTION_AMOUNT still caps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Final
from uuid import UUID

from core_banking.domain.errors import DomainError
from core_banking.domain.money import Money


class Permission(StrEnum):
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CUSTOMERS_KYC = "customers:kyc"
    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_OPEN = "accounts:open"
    ACCOUNTS_FREEZE = "accounts:freeze"
    ACCOUNTS_CLOSE = "accounts:close"
    TRANSACTIONS_READ = "transactions:read"
    TRANSACTIONS_DEPOSIT = "transactions:deposit"
    TRANSACTIONS_WITHDRAW = "transactions:withdraw"
    TRANSACTIONS_TRANSFER = "transactions:transfer"
    TRANSACTIONS_REVERSE = "transactions:reverse"
    TRANSACTIONS_BATCH = "transactions:batch"
    HOLDS_WRITE = "holds:write"
    AUDIT_READ = "audit:read"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    ROLES_READ = "roles:read"
    ROLES_WRITE = "roles:write"
    API_KEYS_MANAGE = "api_keys:manage"
    METRICS_READ = "metrics:read"
    PRODUCTS_READ = "products:read"
    PRODUCTS_WRITE = "products:write"
    EOD_READ = "eod:read"
    EOD_RUN = "eod:run"
    LOANS_READ = "loans:read"
    LOANS_WRITE = "loans:write"
    LOANS_APPROVE = "loans:approve"
    LOANS_REPAY = "loans:repay"
    LOANS_WRITE_OFF = "loans:write_off"
    CREDIT_LINES_READ = "credit_lines:read"
    CREDIT_LINES_WRITE = "credit_lines:write"
    TERM_DEPOSITS_READ = "term_deposits:read"
    TERM_DEPOSITS_WRITE = "term_deposits:write"


class PrincipalKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"


class Unauthenticated(DomainError):
    """No valid credentials: HTTP 401."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """Valid credentials without the permission: HTTP 403."""

    code = "forbidden"


class AmountAboveRoleLimit(Forbidden):
    code = "amount_above_role_limit"


@dataclass(frozen=True, slots=True)
class RoleSpec:
    name: str
    description: str
    permissions: frozenset[Permission]
    amount_limit: Decimal | None  # None: no limit beyond the bank's own


_READ = frozenset(
    {
        Permission.CUSTOMERS_READ,
        Permission.ACCOUNTS_READ,
        Permission.TRANSACTIONS_READ,
        Permission.PRODUCTS_READ,
        Permission.LOANS_READ,
        Permission.CREDIT_LINES_READ,
        Permission.TERM_DEPOSITS_READ,
    }
)

DEFAULT_ROLES: tuple[RoleSpec, ...] = (
    RoleSpec(
        "admin", "Everything, including users, roles and API keys.", frozenset(Permission), None
    ),
    RoleSpec(
        "manager",
        "Branch or operations manager: every customer, account and money operation, "
        "reversals and batches; reads users, roles and the audit trail.",
        frozenset(Permission)
        - {
            Permission.USERS_WRITE,
            Permission.ROLES_WRITE,
            Permission.API_KEYS_MANAGE,
            Permission.EOD_RUN,
        },
        None,
    ),
    RoleSpec(
        "teller",
        "Serves customers at the counter: customers, opening accounts and term deposits, "
        "deposits, withdrawals, transfers, holds and loan repayments up to 10,000.00 per "
        "transaction.",
        _READ
        | {
            Permission.CUSTOMERS_WRITE,
            Permission.ACCOUNTS_OPEN,
            Permission.TRANSACTIONS_DEPOSIT,
            Permission.TRANSACTIONS_WITHDRAW,
            Permission.TRANSACTIONS_TRANSFER,
            Permission.HOLDS_WRITE,
            Permission.LOANS_REPAY,
            Permission.TERM_DEPOSITS_WRITE,
        },
        Decimal("10000.00"),
    ),
    RoleSpec(
        "loan_officer",
        "Originates and services loans; reads customers, accounts and transactions.",
        _READ
        | {
            Permission.LOANS_WRITE,
            Permission.LOANS_APPROVE,
            Permission.LOANS_REPAY,
            Permission.CREDIT_LINES_WRITE,
        },
        Decimal("250000.00"),
    ),
    RoleSpec(
        "auditor",
        "Reads everything, changes nothing: the ledger, the audit trail, users and roles.",
        _READ
        | {
            Permission.AUDIT_READ,
            Permission.USERS_READ,
            Permission.ROLES_READ,
            Permission.METRICS_READ,
            Permission.EOD_READ,
        },
        Decimal("0"),
    ),
    RoleSpec(
        "customer_service",
        "Answers customers: reads their accounts and transactions, keeps contact details "
        "and KYC current, freezes an account on a fraud report.",
        _READ | {Permission.CUSTOMERS_WRITE, Permission.CUSTOMERS_KYC, Permission.ACCOUNTS_FREEZE},
        Decimal("0"),
    ),
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The user or machine client a request acts as."""

    id: UUID
    kind: PrincipalKind
    name: str
    permissions: frozenset[Permission]
    amount_limit: Decimal | None
    roles: tuple[str, ...] = ()
    session_id: UUID | None = None

    @property
    def actor(self) -> str:
        """How the ledger and audit trail name this principal; also its idempotency scope."""
        return f"{self.kind.value}:{self.id}"

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden(
                f"this requires the {permission.value} permission", permission=permission.value
            )

    def require_amount(self, amount: Money) -> None:
        """Refuse an amount above this principal's per-transaction limit."""
        if self.amount_limit is None:
            return
        limit = Money.from_decimal(self.amount_limit, amount.currency, rounding=ROUND_FLOOR)
        if amount.minor > limit.minor:
            raise AmountAboveRoleLimit(
                f"your roles allow at most {limit.amount_string()} {amount.currency.code} "
                "per transaction",
                limit=limit.amount_string(),
            )


LOAN_APPROVAL_LIMITS: Final[Mapping[str, Decimal | None]] = {
    "admin": None,
    "manager": Decimal("500000.00"),
    "loan_officer": Decimal("50000.00"),
}
"""The largest loan each built-in role may approve (maker-checker), in major units of any
currency like the amount limits; None: no limit. A role not named here approves nothing,
whatever its permissions, and so does a machine client: a loan is approved by a person."""


def loan_approval_limit(roles: Sequence[str]) -> Decimal | None:
    """The most generous loan approval limit of ``roles`` (0 when none of them has one)."""
    named = [LOAN_APPROVAL_LIMITS[role] for role in roles if role in LOAN_APPROVAL_LIMITS]
    return combined_limit(named)


def combined_limit(limits: list[Decimal | None]) -> Decimal | None:
    """The most generous of several roles' limits (None is no limit at all)."""
    if not limits or any(limit is None for limit in limits):
        return None if limits else Decimal("0")
    return max(limit for limit in limits if limit is not None)
