"""The audit trail: who did what, to which entity, from which request, and when.

Records are chained with SHA-256: each record's hash covers the previous hash in its chain
and its own canonical payload, so changing, removing or reordering any record breaks every
hash after it. A single chain would make every commit in the bank wait for the one before
it (the head row is locked until commit). The trail is therefore kept as AUDIT_SHARDS
independent chains; a writer takes whichever head is free, so concurrent transactions never
queue on the audit trail, and verification walks each chain on its own.
See docs/adr/0003-sharded-audit-chain.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core_banking.domain.canonical import canonical_json

AUDIT_SHARDS = 64
HASH_BYTES = 32


@dataclass(frozen=True, slots=True)
class AuditRecord:
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    request_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> str:
        """The canonical text that the chain hashes and the trail stores verbatim."""
        return canonical_json(
            {
                "occurred_at": self.occurred_at,
                "actor": self.actor,
                "action": self.action,
                "entity_type": self.entity_type,
                "entity_id": self.entity_id,
                "request_id": self.request_id,
                "details": dict(self.details),
            }
        )


def genesis_hash(shard: int) -> bytes:
    """The hash every chain starts from, different per shard."""
    return hashlib.sha256(f"nexum-audit-genesis:{shard}".encode()).digest()


def chain_hash(previous: bytes, payload: str) -> bytes:
    """sha256(previous hash ‖ UTF-8 payload) — the same bytes the database computes."""
    return hashlib.sha256(previous + payload.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class StoredAuditEvent:
    """An audit record as the trail holds it, for people to read."""

    shard: int
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    request_id: str | None
    payload: str
    hash: bytes


@dataclass(frozen=True, slots=True)
class StoredAuditRecord:
    shard: int
    seq: int
    payload: str
    hash: bytes


def first_break(
    shard: int, records: Iterable[StoredAuditRecord], head_seq: int, head_hash: bytes
) -> str | None:
    """Walk one chain in sequence order; describe the first break, or None if it holds.

    The stored head must match the last record, so a truncated tail is caught too.
    """
    previous = genesis_hash(shard)
    expected_seq = 1
    for record in records:
        if record.seq != expected_seq:
            return f"audit shard {shard}: expected seq {expected_seq}, found {record.seq}"
        if chain_hash(previous, record.payload) != record.hash:
            return f"audit shard {shard}: hash mismatch at seq {record.seq}"
        previous = record.hash
        expected_seq += 1
    if head_seq != expected_seq - 1 or (head_seq > 0 and head_hash != previous):
        return f"audit shard {shard}: head at seq {head_seq} does not match the chain"
    return None
