"""Commands: what a caller asks the bank to do, as small immutable values.

Each money-moving command carries the caller's idempotency key. `parameters()` gives the
fields that define "the same request" for the idempotency fingerprint: everything except
the key itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from core_banking.domain.accounts import AccountStatus, ProductType
from core_banking.domain.ledger import Channel
from core_banking.domain.money import Money


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking, from where, under which request, and where their idempotency keys
    live: in the actor's own scope unless ``key_scope`` names another (a batch's items
    have one of their own, so no key a client sends can collide with them)."""

    actor: str
    request_id: str | None = None
    client_address: str | None = None
    key_scope: str | None = None

    @property
    def idempotency_scope(self) -> str:
        return self.key_scope or self.actor


@dataclass(frozen=True, slots=True)
class Deposit:
    account_id: UUID
    amount: Money
    idempotency_key: str
    channel: Channel = Channel.BRANCH
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    value_date: date | None = None


@dataclass(frozen=True, slots=True)
class Withdraw:
    account_id: UUID
    amount: Money
    idempotency_key: str
    channel: Channel = Channel.BRANCH
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    value_date: date | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    """Between two deposit accounts of this bank."""

    from_account_id: UUID
    to_account_id: UUID
    amount: Money
    idempotency_key: str
    channel: Channel = Channel.API
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    value_date: date | None = None


@dataclass(frozen=True, slots=True)
class Counterparty:
    """The other bank's customer in an external payment."""

    name: str
    account: str
    bank_code: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiveExternalTransfer:
    """Money arriving from another bank, settled through the clearing account."""

    account_id: UUID
    amount: Money
    counterparty: Counterparty
    idempotency_key: str
    channel: Channel = Channel.WIRE
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    value_date: date | None = None


@dataclass(frozen=True, slots=True)
class SendExternalTransfer:
    """Money leaving for another bank, settled through the clearing account."""

    account_id: UUID
    amount: Money
    counterparty: Counterparty
    idempotency_key: str
    channel: Channel = Channel.WIRE
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    value_date: date | None = None


@dataclass(frozen=True, slots=True)
class ChargeFee:
    account_id: UUID
    amount: Money
    reason: str
    idempotency_key: str
    channel: Channel = Channel.SYSTEM
    value_date: date | None = None


@dataclass(frozen=True, slots=True)
class Reverse:
    entry_id: UUID
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PlaceHold:
    account_id: UUID
    amount: Money
    idempotency_key: str
    expires_at: datetime | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class CaptureHold:
    """Post all or part of a hold; the rest is released. Without a destination the money
    goes out through the clearing account (a card or payment network settles it)."""

    hold_id: UUID
    idempotency_key: str
    amount: Money | None = None
    destination_account_id: UUID | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    hold_id: UUID
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class CreateCustomer:
    given_name: str
    family_name: str
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class OpenAccount:
    """Name either a ``product`` type (an account of that type, from no catalogue product)
    or a catalogue ``product_id`` (an account opened under that product's active version,
    whose kind decides the type), not both. An ``opening_deposit`` is posted with the
    opening: a transfer from ``funding_account_id`` when given, else cash; a product's
    minimum opening balance asks for one."""

    customer_id: UUID
    product: ProductType | None
    currency: str
    name: str
    overdraft_limit: Money | None = None
    min_balance: Money | None = None
    daily_limit: Money | None = None
    idempotency_key: str | None = None
    product_id: UUID | None = None
    opening_deposit: Money | None = None
    funding_account_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class ChangeAccountStatus:
    account_id: UUID
    status: AccountStatus
    reason: str


@dataclass(frozen=True, slots=True)
class CloseAccount:
    """Close a deposit account for good: its interest settled, what it then holds paid to
    ``payout_account_id`` (another deposit account of its customer), if any."""

    account_id: UUID
    reason: str
    payout_account_id: UUID | None = None
    idempotency_key: str | None = None


_LEAVES = (str, int, UUID, date, Enum, Decimal, type(None))
"""Values already plain: most of a command's fields, so they are recognised first (the
checks below, against a dataclass and the abstract Mapping, cost far more)."""


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """The fields of a dataclass type, looked up once per type; None for other types."""
    if kind not in _FIELD_NAMES:
        _FIELD_NAMES[kind] = (
            tuple(f.name for f in dataclasses.fields(kind))
            if dataclasses.is_dataclass(kind)
            else None
        )
    return _FIELD_NAMES[kind]


def _plain(value: Any) -> Any:
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, Money):
        return {"amount": value.amount_string(), "currency": value.currency.code}
    names = _field_names(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def parameters(command: Any) -> dict[str, Any]:
    """The command's fields without its idempotency key, in plain (canonicalisable) form."""
    plain = _plain(command)
    plain.pop("idempotency_key", None)
    return dict(plain)
