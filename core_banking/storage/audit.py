"""Appending to the hash-chained audit trail, inside the caller's transaction.

PostgreSQL does it in one call to ``nexum_audit_append`` (which takes any chain head not
locked by another transaction); SQLite, which has one writer at a time, does the same steps
from Python.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.audit import AUDIT_SHARDS, AuditRecord, StoredAuditEvent, chain_hash
from core_banking.ports import AuditQuery
from core_banking.storage.outbox import OutboxRepository
from core_banking.storage.schema import audit_chain_heads, audit_events

_APPEND = text(
    "SELECT nexum_audit_append(:occurred_at, :actor, :action, :entity_type, :entity_id,"
    " :request_id, :payload)"
)


class AuditWriter:
    def __init__(
        self, conn: AsyncConnection, *, enabled: bool, outbox: OutboxRepository | None = None
    ) -> None:
        self._conn = conn
        self.enabled = enabled
        self._outbox = outbox
        """Where SQLite announces each event; PostgreSQL's trigger does it in the database."""
        self.appended: list[str] = []
        """The actions appended in this transaction (reported once it commits)."""

    async def append(self, record: AuditRecord) -> None:
        if not self.enabled:
            return
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(_APPEND, _parameters(record))
        else:
            await self._append_here(record)
        self.appended.append(record.action)

    def note(self, action: str) -> None:
        """Record an action the posting function appended inside the database."""
        self.appended.append(action)

    async def events(self, query: AuditQuery) -> list[StoredAuditEvent]:
        """A page of the trail, newest first, with the given filters."""
        statement = (
            select(audit_events)
            .order_by(
                audit_events.c.occurred_at.desc(),
                audit_events.c.shard.desc(),
                audit_events.c.seq.desc(),
            )
            .limit(query.limit)
        )
        if query.before is not None:
            statement = statement.where(
                tuple_(audit_events.c.occurred_at, audit_events.c.shard, audit_events.c.seq)
                < tuple_(*query.before)
            )
        for column, value in (
            (audit_events.c.entity_type, query.entity_type),
            (audit_events.c.entity_id, query.entity_id),
            (audit_events.c.actor, query.actor),
            (audit_events.c.action, query.action),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if query.since is not None:
            statement = statement.where(audit_events.c.occurred_at >= query.since)
        if query.until is not None:
            statement = statement.where(audit_events.c.occurred_at < query.until)
        return [
            StoredAuditEvent(
                shard=row.shard,
                seq=row.seq,
                occurred_at=row.occurred_at,
                actor=row.actor,
                action=row.action,
                entity_type=row.entity_type,
                entity_id=row.entity_id,
                request_id=row.request_id,
                payload=row.payload,
                hash=bytes(row.hash),
            )
            for row in await self._conn.execute(statement)
        ]

    async def _append_here(self, record: AuditRecord) -> None:
        shard = secrets.randbelow(AUDIT_SHARDS)
        head = (
            await self._conn.execute(
                select(audit_chain_heads.c.seq, audit_chain_heads.c.head_hash).where(
                    audit_chain_heads.c.shard == shard
                )
            )
        ).one()
        payload = record.payload()
        seq = head.seq + 1
        digest = chain_hash(bytes(head.head_hash), payload)
        await self._conn.execute(
            update(audit_chain_heads)
            .where(audit_chain_heads.c.shard == shard)
            .values(seq=seq, head_hash=digest)
        )
        await self._conn.execute(
            audit_events.insert().values(shard=shard, seq=seq, hash=digest, **_parameters(record))
        )
        if self._outbox is not None:
            await self._outbox.announce_audit(shard, seq, record.occurred_at)


def _parameters(record: AuditRecord) -> dict[str, object]:
    return {
        "occurred_at": record.occurred_at,
        "actor": record.actor,
        "action": record.action,
        "entity_type": record.entity_type,
        "entity_id": record.entity_id,
        "request_id": record.request_id,
        "payload": record.payload(),
    }
