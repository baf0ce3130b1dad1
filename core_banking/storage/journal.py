"""Reading the journal: entries with their lines, and balances at a past moment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.accounts import Side
from core_banking.domain.errors import InvariantViolation
from core_banking.domain.ledger import (
    AccountLine,
    Channel,
    EntryType,
    JournalEntry,
    JournalLine,
    PostingRequest,
    PostingResult,
)
from core_banking.ports import EntryQuery, HistoryQuery
from core_banking.storage.schema import journal_entries, journal_lines


def entry_from_request(
    request: PostingRequest,
    posted_at: datetime,
    account_seqs: Sequence[int],
    balances_after: Sequence[int],
) -> JournalEntry:
    """The entry a fresh posting wrote, without reading it back."""
    return JournalEntry(
        id=request.entry_id,
        entry_type=request.entry_type,
        business_date=request.business_date,
        value_date=request.value_date,
        posted_at=posted_at,
        actor=request.actor,
        channel=request.channel,
        reference=request.reference,
        metadata=dict(request.metadata),
        request_id=request.request_id,
        reversal_of=request.reversal_of,
        lines=tuple(
            JournalLine(
                line_no=number,
                account_id=leg.account_id,
                side=leg.side,
                amount_minor=leg.amount_minor,
                currency=leg.currency,
                account_seq=seq,
                balance_after_minor=balance,
            )
            for number, (leg, seq, balance) in enumerate(
                zip(request.legs, account_seqs, balances_after, strict=True), start=1
            )
        ),
    )


def entry_row(request: PostingRequest, posted_at: datetime) -> dict[str, Any]:
    return {
        "id": request.entry_id,
        "entry_type": request.entry_type.value,
        "business_date": request.business_date,
        "value_date": request.value_date,
        "posted_at": posted_at,
        "actor": request.actor,
        "channel": request.channel.value if request.channel else None,
        "reference": request.reference,
        "metadata": dict(request.metadata),
        "request_id": request.request_id,
        "reversal_of": request.reversal_of,
    }


class JournalReader:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def entry(self, entry_id: UUID) -> JournalEntry | None:
        found = await self._assemble(
            select(journal_entries).where(journal_entries.c.id == entry_id)
        )
        return found[0] if found else None

    async def entries(self, query: EntryQuery) -> list[JournalEntry]:
        """A page of entries, newest first (ids are time-ordered UUIDv7)."""
        statement = select(journal_entries).order_by(journal_entries.c.id.desc()).limit(query.limit)
        if query.before is not None:
            statement = statement.where(journal_entries.c.id < query.before)
        if query.entry_type is not None:
            statement = statement.where(journal_entries.c.entry_type == query.entry_type.value)
        if query.channel is not None:
            statement = statement.where(journal_entries.c.channel == query.channel.value)
        if query.reference is not None:
            statement = statement.where(journal_entries.c.reference == query.reference)
        if query.since is not None:
            statement = statement.where(journal_entries.c.posted_at >= query.since)
        if query.until is not None:
            statement = statement.where(journal_entries.c.posted_at < query.until)
        if query.account_id is not None:
            statement = statement.where(
                journal_entries.c.id.in_(
                    select(journal_lines.c.entry_id).where(
                        journal_lines.c.account_id == query.account_id
                    )
                )
            )
        return await self._assemble(statement)

    async def _assemble(self, headers_statement: Select[Any]) -> list[JournalEntry]:
        """Entries for the headers the statement selects, each with its lines (two queries,
        however many entries)."""
        headers = (await self._conn.execute(headers_statement)).all()
        if not headers:
            return []
        lines: dict[UUID, list[JournalLine]] = {header.id: [] for header in headers}
        rows = await self._conn.execute(
            select(journal_lines)
            .where(journal_lines.c.entry_id.in_(list(lines)))
            .order_by(journal_lines.c.entry_id, journal_lines.c.line_no)
        )
        for line in rows:
            lines[line.entry_id].append(
                JournalLine(
                    line_no=line.line_no,
                    account_id=line.account_id,
                    side=Side(line.side),
                    amount_minor=line.amount_minor,
                    currency=line.currency,
                    account_seq=line.account_seq,
                    balance_after_minor=line.balance_after_minor,
                )
            )
        return [
            JournalEntry(
                id=header.id,
                entry_type=EntryType(header.entry_type),
                business_date=header.business_date,
                value_date=header.value_date,
                posted_at=header.posted_at,
                actor=header.actor,
                channel=Channel(header.channel) if header.channel is not None else None,
                reference=header.reference,
                metadata=header.metadata,
                request_id=header.request_id,
                reversal_of=header.reversal_of,
                lines=tuple(lines[header.id]),
            )
            for header in headers
        ]

    async def history(self, query: HistoryQuery) -> list[AccountLine]:
        """A page of one account's lines with their entries' headers, newest first."""
        statement = (
            select(
                journal_lines.c.account_seq,
                journal_lines.c.entry_id,
                journal_lines.c.side,
                journal_lines.c.amount_minor,
                journal_lines.c.currency,
                journal_lines.c.balance_after_minor,
                journal_lines.c.posted_at,
                journal_entries.c.entry_type,
                journal_entries.c.business_date,
                journal_entries.c.value_date,
                journal_entries.c.reference,
                journal_entries.c.channel,
            )
            .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
            .where(journal_lines.c.account_id == query.account_id)
            .order_by(journal_lines.c.account_seq.desc())
            .limit(query.limit)
        )
        if query.before_seq is not None:
            statement = statement.where(journal_lines.c.account_seq < query.before_seq)
        if query.since is not None:
            statement = statement.where(journal_lines.c.posted_at >= query.since)
        if query.until is not None:
            statement = statement.where(journal_lines.c.posted_at < query.until)
        return [
            AccountLine(
                account_seq=row.account_seq,
                entry_id=row.entry_id,
                entry_type=EntryType(row.entry_type),
                posted_at=row.posted_at,
                business_date=row.business_date,
                value_date=row.value_date,
                side=Side(row.side),
                amount_minor=row.amount_minor,
                currency=row.currency,
                balance_after_minor=row.balance_after_minor,
                reference=row.reference,
                channel=Channel(row.channel) if row.channel is not None else None,
            )
            for row in await self._conn.execute(statement)
        ]

    async def reversed_by(self, entry_id: UUID) -> UUID | None:
        """The id of the entry that reversed ``entry_id``, if any."""
        found: UUID | None = await self._conn.scalar(
            select(journal_entries.c.id).where(journal_entries.c.reversal_of == entry_id)
        )
        return found

    async def balance_as_of(self, account_id: UUID, moment: datetime) -> int:
        """The posted balance at ``moment``: one index lookup on (account_id, posted_at)."""
        balance = await self._conn.scalar(
            select(journal_lines.c.balance_after_minor)
            .where(journal_lines.c.account_id == account_id, journal_lines.c.posted_at <= moment)
            .order_by(journal_lines.c.posted_at.desc(), journal_lines.c.account_seq.desc())
            .limit(1)
        )
        return int(balance) if balance is not None else 0


async def replayed_result(journal: JournalReader, entry_id: UUID) -> PostingResult:
    """The stored entry that an earlier use of the idempotency key produced."""
    entry = await journal.entry(entry_id)
    if entry is None:
        raise InvariantViolation("an idempotency key names a missing entry", entry_id=entry_id)
    return PostingResult(entry=entry, replayed=True)
