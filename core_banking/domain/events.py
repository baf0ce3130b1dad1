"""The events Nexum publishes, and how each is rendered from the record it announces.

The outbox points at records the ledger already keeps: a journal line of a customer's
account, or an audit event. This module turns those records into messages, so the
catalogue (docs/events.md) lives in one place whatever the database. Messages carry ids,
amounts, statuses and dates, never personal data or free text (names, contact details,
references, reasons): consumers that need those read them through the API, with a
permission.

A message's id is derived from its outbox row and what it announces, so a message sent
again after a relay restart carries the same id, and consumers deduplicate by it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from core_banking.domain.accounts import Side
from core_banking.domain.audit import StoredAuditEvent
from core_banking.domain.canonical import canonical_json
from core_banking.domain.errors import InvariantViolation
from core_banking.domain.money import Money

SCHEMA_VERSION = 1


class Topic(StrEnum):
    """Topic names, after NEXUM_KAFKA_TOPIC_PREFIX and a dot: ``nexum.transactions``."""

    TRANSACTIONS = "transactions"
    ACCOUNTS = "accounts"
    CUSTOMERS = "customers"
    AUDIT = "audit"


@dataclass(frozen=True, slots=True)
class PostedLine:
    """A journal line of a customer's account, with what its entry says about it."""

    entry_id: UUID
    entry_type: str
    account_id: UUID
    account_seq: int
    side: Side
    amount_minor: int
    currency: str
    balance_after_minor: int
    posted_at: datetime
    business_date: date
    value_date: date
    channel: str | None
    reversal_of: UUID | None


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One message for the broker: its topic, its partition key, and its body."""

    topic: Topic
    key: str
    event_id: UUID
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any]

    def body(self) -> str:
        """The message value: a canonical JSON envelope around ``data``."""
        return canonical_json(
            {
                "event_id": self.event_id,
                "event_type": self.event_type,
                "schema_version": SCHEMA_VERSION,
                "occurred_at": self.occurred_at,
                "data": dict(self.data),
            }
        )


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"amount": Money.of(minor, currency).amount_string(), "currency": currency}


def line_messages(source_id: UUID, line: PostedLine) -> list[EventMessage]:
    """``transaction.posted`` on the account's partition: one per line of a customer's
    account, in the account's own order (``account_seq`` has no gaps)."""
    return [
        EventMessage(
            topic=Topic.TRANSACTIONS,
            key=str(line.account_id),
            event_id=uuid5(source_id, Topic.TRANSACTIONS.value),
            event_type="transaction.posted",
            occurred_at=line.posted_at,
            data={
                "transaction_id": str(line.entry_id),
                "transaction_type": line.entry_type,
                "account_id": str(line.account_id),
                "account_seq": line.account_seq,
                "side": "debit" if line.side is Side.DEBIT else "credit",
                "amount": _money(line.amount_minor, line.currency),
                "balance_after": _money(line.balance_after_minor, line.currency),
                "business_date": line.business_date.isoformat(),
                "value_date": line.value_date.isoformat(),
                "channel": line.channel,
                "reversal_of": str(line.reversal_of) if line.reversal_of else None,
            },
        )
    ]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A row of the outbox with the record it points at: a line, or an audit event."""

    seq: int
    id: UUID
    line: PostedLine | None = None
    audit: StoredAuditEvent | None = None

    def messages(self) -> list[EventMessage]:
        if self.line is not None:
            return line_messages(self.id, self.line)
        if self.audit is not None:
            return audit_messages(self.id, self.audit)
        raise InvariantViolation("an outbox row points at no record", outbox_seq=self.seq)


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """What waits in the outbox: how many rows (at least, when ``capped``), since when."""

    pending: int
    capped: bool
    oldest: datetime | None


# --- events announced by the audit trail ---------------------------------------------------

type _Announce = Callable[[StoredAuditEvent, Mapping[str, Any]], list[tuple[str, dict[str, Any]]]]
"""From an audit event and its details: (partition key, data) of each message it announces."""


def _account_opened(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
    data = {
        "account_id": event.entity_id,
        "customer_id": details["customer_id"],
        "currency": details["currency"],
        "product": details["product"],
    }
    return [(event.entity_id, data)]


def _status_changed(id_field: str) -> _Announce:
    def announce(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
        data = {id_field: event.entity_id, "from": details["from"], "to": details["to"]}
        return [(event.entity_id, data)]

    return announce


def _hold(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
    data: dict[str, Any] = {"hold_id": event.entity_id, "account_id": details["account_id"]}
    if "amount_minor" in details:
        data["amount"] = _money(details["amount_minor"], details["currency"])
    return [(details["account_id"], data)]


def _hold_captured(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
    data = {
        "hold_id": details["hold_id"],
        "account_id": details["account_id"],
        "transaction_id": event.entity_id,
    }
    return [(details["account_id"], data)]


def _holds_expired(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
    return [
        (hold["account_id"], {"hold_id": hold["hold_id"], "account_id": hold["account_id"]})
        for hold in details["holds"]
    ]


def _customer(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
    return [(event.entity_id, {"customer_id": event.entity_id})]


def _customer_updated(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
    return [(event.entity_id, {"customer_id": event.entity_id, "fields": details["fields"]})]


def _kyc_updated(event: StoredAuditEvent, details: Mapping[str, Any]) -> list[Any]:
    data = {
        "customer_id": event.entity_id,
        "status": details["status"],
        "tier": details["tier"],
        "documents": details["documents"],
    }
    return [(event.entity_id, data)]


# audit action -> (topic, event type, what it announces)
ANNOUNCED: Mapping[str, tuple[Topic, str, _Announce]] = {
    "account.opened": (Topic.ACCOUNTS, "account.opened", _account_opened),
    "account.status_changed": (
        Topic.ACCOUNTS,
        "account.status_changed",
        _status_changed("account_id"),
    ),
    "hold.placed": (Topic.ACCOUNTS, "hold.placed", _hold),
    "hold.released": (Topic.ACCOUNTS, "hold.released", _hold),
    "ledger.hold_capture": (Topic.ACCOUNTS, "hold.captured", _hold_captured),
    "holds.expired": (Topic.ACCOUNTS, "hold.expired", _holds_expired),
    "customer.created": (Topic.CUSTOMERS, "customer.created", _customer),
    "customer.updated": (Topic.CUSTOMERS, "customer.updated", _customer_updated),
    "customer.status_changed": (
        Topic.CUSTOMERS,
        "customer.status_changed",
        _status_changed("customer_id"),
    ),
    "customer.kyc_updated": (Topic.CUSTOMERS, "customer.kyc_updated", _kyc_updated),
}


def audit_messages(source_id: UUID, event: StoredAuditEvent) -> list[EventMessage]:
    """``audit.recorded`` for every audit event (without its details, which may name
    people), and the domain events the catalogue derives from it."""
    messages = [
        EventMessage(
            topic=Topic.AUDIT,
            key=f"{event.entity_type}:{event.entity_id}",
            event_id=uuid5(source_id, Topic.AUDIT.value),
            event_type="audit.recorded",
            occurred_at=event.occurred_at,
            data={
                "shard": event.shard,
                "seq": event.seq,
                "actor": event.actor,
                "action": event.action,
                "entity_type": event.entity_type,
                "entity_id": event.entity_id,
                "request_id": event.request_id,
                "hash": event.hash.hex(),
            },
        )
    ]
    announced = ANNOUNCED.get(event.action)
    if announced is None:
        return messages
    topic, event_type, announce = announced
    details = json.loads(event.payload)["details"]
    for number, (key, data) in enumerate(announce(event, details)):
        messages.append(
            EventMessage(
                topic=topic,
                key=str(key),
                event_id=uuid5(source_id, f"{topic.value}:{number}"),
                event_type=event_type,
                occurred_at=event.occurred_at,
                data=data,
            )
        )
    return messages
