"""The transactional outbox: writing its rows (SQLite), and what the relay needs to drain it.

On PostgreSQL the rows are written by triggers (sql/0003_event_outbox.sql) whenever the
connection has ``nexum.outbox`` on; on SQLite the posting and audit writers call
:meth:`OutboxRepository.announce_lines` and :meth:`OutboxRepository.announce_audit` in the
same transaction. The relay reads pending rows oldest first, each joined to the record it
points at, and deletes them once the broker has them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.accounts import Side
from core_banking.domain.audit import StoredAuditEvent
from core_banking.domain.events import OutboxBacklog, OutboxEntry, PostedLine
from core_banking.domain.ids import uuid7
from core_banking.storage.schema import (
    audit_events,
    journal_entries,
    journal_lines,
    outbox_events,
    outbox_relay_lease,
)

RELAY_LEASE = "kafka"
BACKLOG_COUNT_CAP = 100_000
"""Counting a backlog stops here: a health check must stay cheap however long Kafka is away."""


class OutboxRepository:
    def __init__(self, conn: AsyncConnection, *, enabled: bool) -> None:
        self._conn = conn
        self.enabled = enabled
        """Whether this installation publishes events (NEXUM_ENABLE_KAFKA_EVENTS)."""

    # --- writing (SQLite; PostgreSQL's triggers do the same) --------------------------------

    async def announce_lines(self, lines: Iterable[tuple[UUID, int]], now: datetime) -> None:
        """Outbox rows for journal lines of customers' accounts: (account id, account seq)."""
        if not self.enabled:
            return
        rows = [
            {
                "id": uuid7(),
                "kind": "line",
                "account_id": account_id,
                "account_seq": seq,
                "created_at": now,
            }
            for account_id, seq in sorted(lines)
        ]
        if rows:
            await self._conn.execute(outbox_events.insert(), rows)

    async def announce_audit(self, shard: int, seq: int, now: datetime) -> None:
        if self.enabled:
            await self._conn.execute(
                outbox_events.insert().values(
                    id=uuid7(), kind="audit", audit_shard=shard, audit_seq=seq, created_at=now
                )
            )

    # --- relaying --------------------------------------------------------------------------

    async def take_lease(self, owner: str, now: datetime, until: datetime) -> bool:
        """Become (or stay) the relay until ``until``, unless another holds an unexpired
        lease. True when ``owner`` holds it."""
        result = await self._conn.execute(
            update(outbox_relay_lease)
            .where(
                outbox_relay_lease.c.name == RELAY_LEASE,
                (outbox_relay_lease.c.owner == owner) | (outbox_relay_lease.c.expires_at < now),
            )
            .values(owner=owner, expires_at=until)
        )
        return bool(result.rowcount)

    async def give_up_lease(self, owner: str, now: datetime) -> None:
        """Let another relay take over at once (a clean shutdown)."""
        await self._conn.execute(
            update(outbox_relay_lease)
            .where(outbox_relay_lease.c.name == RELAY_LEASE, outbox_relay_lease.c.owner == owner)
            .values(owner=None, expires_at=now)
        )

    async def pending(self, limit: int) -> list[OutboxEntry]:
        """The oldest ``limit`` rows, each with the record it points at."""
        line, entry, audit = journal_lines, journal_entries, audit_events
        statement = (
            select(
                outbox_events.c.seq.label("outbox_seq"),
                outbox_events.c.id.label("outbox_id"),
                outbox_events.c.kind,
                line.c.entry_id,
                line.c.account_id,
                line.c.account_seq,
                line.c.side,
                line.c.amount_minor,
                line.c.currency,
                line.c.balance_after_minor,
                line.c.posted_at,
                entry.c.entry_type,
                entry.c.business_date,
                entry.c.value_date,
                entry.c.channel,
                entry.c.reversal_of,
                audit.c.shard,
                audit.c.seq.label("audit_seq"),
                audit.c.occurred_at,
                audit.c.actor,
                audit.c.action,
                audit.c.entity_type,
                audit.c.entity_id,
                audit.c.request_id,
                audit.c.payload,
                audit.c.hash,
            )
            .select_from(
                outbox_events.outerjoin(
                    line,
                    and_(
                        line.c.account_id == outbox_events.c.account_id,
                        line.c.account_seq == outbox_events.c.account_seq,
                    ),
                )
                .outerjoin(entry, entry.c.id == line.c.entry_id)
                .outerjoin(
                    audit,
                    and_(
                        audit.c.shard == outbox_events.c.audit_shard,
                        audit.c.seq == outbox_events.c.audit_seq,
                    ),
                )
            )
            .order_by(outbox_events.c.seq)
            .limit(limit)
        )
        entries = []
        for row in await self._conn.execute(statement):
            posted = None
            recorded = None
            if row.kind == "line":
                posted = PostedLine(
                    entry_id=row.entry_id,
                    entry_type=row.entry_type,
                    account_id=row.account_id,
                    account_seq=row.account_seq,
                    side=Side(row.side),
                    amount_minor=row.amount_minor,
                    currency=row.currency,
                    balance_after_minor=row.balance_after_minor,
                    posted_at=row.posted_at,
                    business_date=row.business_date,
                    value_date=row.value_date,
                    channel=row.channel,
                    reversal_of=row.reversal_of,
                )
            else:
                recorded = StoredAuditEvent(
                    shard=row.shard,
                    seq=row.audit_seq,
                    occurred_at=row.occurred_at,
                    actor=row.actor,
                    action=row.action,
                    entity_type=row.entity_type,
                    entity_id=row.entity_id,
                    request_id=row.request_id,
                    payload=row.payload,
                    hash=bytes(row.hash),
                )
            entries.append(
                OutboxEntry(seq=row.outbox_seq, id=row.outbox_id, line=posted, audit=recorded)
            )
        return entries

    async def remove(self, seqs: Sequence[int]) -> None:
        """Forget rows the broker has acknowledged."""
        if seqs:
            await self._conn.execute(delete(outbox_events).where(outbox_events.c.seq.in_(seqs)))

    async def backlog(self) -> OutboxBacklog:
        """How many rows wait (counted up to BACKLOG_COUNT_CAP) and since when."""
        capped = select(outbox_events.c.seq).limit(BACKLOG_COUNT_CAP).subquery()
        count = await self._conn.scalar(select(func.count()).select_from(capped))
        oldest = await self._conn.scalar(
            select(outbox_events.c.created_at).order_by(outbox_events.c.seq).limit(1)
        )
        return OutboxBacklog(
            pending=int(count or 0), capped=count == BACKLOG_COUNT_CAP, oldest=oldest
        )
