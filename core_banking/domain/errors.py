"""Every way a banking command can be refused, as typed exceptions with stable codes.

The hierarchy (each class carries a machine-readable ``code`` that never changes once
published, because API clients and operators match on it):

    DomainError
    ├── InvalidInput            the request itself is malformed (bad amount, unknown currency)
    │   ├── InvalidAmount
    │   ├── UnknownCurrency
    │   └── UnbalancedEntry
    ├── NotFound                the thing named does not exist
    ├── Conflict                the request clashes with what already happened
    │   ├── IdempotencyKeyReused
    │   ├── AlreadyReversed
    │   └── DuplicateAccountNumber
    └── RuleViolation           the request is well formed but the bank's rules refuse it
        ├── InsufficientFunds
        ├── AccountNotOperational   (frozen, dormant for debits, closed)
        ├── CurrencyMismatch
        ├── WrongAccountKind
        ├── TransactionLimitExceeded
        ├── DailyLimitExceeded
        ├── HoldNotActive
        ├── HoldAmountExceeded
        └── InvalidTransition
    Unavailable                 something the command needs cannot be reached; try again

``InvariantViolation`` is separate on purpose: it is never the caller's fault. It means the
stored ledger disagrees with itself, and it must stop the operation loudly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal the caller can understand and act on."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, {self.context!r})"


@contextmanager
def naming_the_operation(index: int) -> Iterator[None]:
    """Tag a refusal with the position of the command it refuses among several, as
    ``operation_index`` in its context (a tag already there, from deeper down, stays)."""
    try:
        yield
    except DomainError as refusal:
        refusal.context.setdefault("operation_index", index)
        raise


class InvalidInput(DomainError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"


class UnbalancedEntry(InvalidInput):
    code = "unbalanced_entry"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class IdempotencyKeyReused(Conflict):
    """The same idempotency key arrived with a different request."""

    code = "idempotency_key_reused"


class AlreadyReversed(Conflict):
    code = "already_reversed"


class DuplicateAccountNumber(Conflict):
    code = "duplicate_account_number"


class RuleViolation(DomainError):
    code = "rule_violation"


class InsufficientFunds(RuleViolation):
    code = "insufficient_funds"


class AccountNotOperational(RuleViolation):
    code = "account_not_operational"


class CurrencyMismatch(RuleViolation):
    code = "currency_mismatch"


class WrongAccountKind(RuleViolation):
    code = "wrong_account_kind"


class TransactionLimitExceeded(RuleViolation):
    code = "transaction_limit_exceeded"


class DailyLimitExceeded(RuleViolation):
    code = "daily_limit_exceeded"


class HoldNotActive(RuleViolation):
    code = "hold_not_active"


class HoldAmountExceeded(RuleViolation):
    code = "hold_amount_exceeded"


class InvalidTransition(RuleViolation):
    code = "invalid_transition"


class Unavailable(DomainError):
    """Not the caller's fault and not refused: something the command needs (a shared cache)
    cannot be reached now, so the command was not carried out. Retry shortly."""

    code = "dependency_unavailable"


class InvariantViolation(Exception):
    """The ledger disagrees with itself. Never the caller's fault; always a stop."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context
