"""The posting engine for SQLite, in Python.

SQLite has one writer at a time (the unit of work begins with BEGIN IMMEDIATE), so the
engine can read the accounts, decide with the domain rules, and write, without any other
writer in between. It does exactly what ``nexum_post_entry`` does on PostgreSQL, and the
same integration tests run against both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.accounts import AccountKind
from core_banking.domain.audit import AuditRecord
from core_banking.domain.errors import AlreadyReversed, UnbalancedEntry, naming_the_operation
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import (
    AccountPosting,
    Leg,
    PostingRequest,
    PostingResult,
    post_to_account,
)
from core_banking.ports import PreparedPosting
from core_banking.storage.accounts import AccountRepository
from core_banking.storage.audit import AuditWriter
from core_banking.storage.errors import violated_constraint
from core_banking.storage.idempotency import IdempotencyRepository
from core_banking.storage.journal import (
    JournalReader,
    entry_from_request,
    entry_row,
    replayed_result,
)
from core_banking.storage.outbox import OutboxRepository
from core_banking.storage.schema import accounts, journal_entries, journal_lines


class SqlitePostingWriter:
    def __init__(self, conn: AsyncConnection, audit: AuditWriter, outbox: OutboxRepository) -> None:
        self._conn = conn
        self._outbox = outbox
        self._accounts = AccountRepository(conn)
        self._idempotency = IdempotencyRepository(conn)
        self._journal = JournalReader(conn)
        self._audit = audit

    async def post(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        now = datetime.now(UTC)
        if claim is not None:
            existing = await self._idempotency.claim(claim, now)
            if existing is not None:
                return await replayed_result(self._journal, existing)

        if request.reversal_of is not None and await self._journal.reversed_by(request.reversal_of):
            raise AlreadyReversed(
                "this entry has already been reversed", entry_id=str(request.reversal_of)
            )
        legs_by_account: dict[UUID, list[Leg]] = defaultdict(list)
        for leg in request.legs:
            legs_by_account[leg.account_id].append(leg)
        locked = await self._accounts.lock_many(set(legs_by_account))
        postings = {
            account_id: post_to_account(
                locked[account_id], legs, request.business_date, request.limits
            )
            for account_id, legs in sorted(legs_by_account.items())
        }
        # Each account's posting time never goes backwards (the clock may); the entry's time
        # is the latest of its accounts'.
        posted_ats = {
            account_id: max(now, locked[account_id].last_posted_at or now)
            for account_id in postings
        }
        for account_id, posting in postings.items():
            await self._update_account(
                posting, len(legs_by_account[account_id]), posted_ats[account_id]
            )
        posted_at = max(posted_ats.values())
        seqs, balances = _line_positions(request.legs, postings)
        await self._insert_entry(request, posted_at, posted_ats, seqs, balances)
        await self._check_balanced(request.entry_id)
        await self._outbox.announce_lines(
            (
                (leg.account_id, seq)
                for leg, seq in zip(request.legs, seqs, strict=True)
                if locked[leg.account_id].kind is not AccountKind.GENERAL_LEDGER
            ),
            posted_at,
        )
        if audit is not None:
            await self._audit.append(audit)
        return PostingResult(
            entry=entry_from_request(request, posted_at, seqs, balances), replayed=False
        )

    async def post_many(self, postings: Sequence[PreparedPosting]) -> list[PostingResult]:
        """One by one: SQLite runs in process, so a posting costs no round trip."""
        results = []
        for index, posting in enumerate(postings):
            with naming_the_operation(index):
                results.append(await self.post(posting.request, posting.claim, posting.audit))
        return results

    async def _update_account(
        self, posting: AccountPosting, legs: int, posted_at: datetime
    ) -> None:
        await self._conn.execute(
            update(accounts)
            .where(accounts.c.id == posting.account_id)
            .values(
                posted_minor=posting.posted_minor,
                held_minor=posting.held_minor,
                line_seq=accounts.c.line_seq + legs,
                daily_debit_minor=posting.daily_debit_minor,
                daily_debit_date=posting.daily_debit_date,
                last_posted_at=posted_at,
                updated_at=posted_at,
            )
        )

    async def _insert_entry(
        self,
        request: PostingRequest,
        posted_at: datetime,
        line_posted_ats: dict[UUID, datetime],
        seqs: list[int],
        balances: list[int],
    ) -> None:
        try:
            await self._conn.execute(journal_entries.insert().values(entry_row(request, posted_at)))
        except IntegrityError as exc:
            if "reversal_of" in (violated_constraint(exc) or ""):
                raise AlreadyReversed(
                    "this entry has already been reversed", entry_id=str(request.reversal_of)
                ) from exc
            raise
        await self._conn.execute(
            journal_lines.insert(),
            [
                {
                    "entry_id": request.entry_id,
                    "line_no": number,
                    "account_id": leg.account_id,
                    "account_seq": seq,
                    "side": leg.side.value,
                    "amount_minor": leg.amount_minor,
                    "currency": leg.currency,
                    "balance_after_minor": balance,
                    "posted_at": line_posted_ats[leg.account_id],
                }
                for number, (leg, seq, balance) in enumerate(
                    zip(request.legs, seqs, balances, strict=True), start=1
                )
            ],
        )

    async def _check_balanced(self, entry_id: UUID) -> None:
        """SQLite has no deferred constraints, so the rule is checked here, before commit."""
        signed = case(
            (journal_lines.c.side == "D", journal_lines.c.amount_minor),
            else_=-journal_lines.c.amount_minor,
        )
        unbalanced = await self._conn.scalar(
            select(journal_lines.c.currency)
            .where(journal_lines.c.entry_id == entry_id)
            .group_by(journal_lines.c.currency)
            .having(func.sum(signed) != 0)
            .limit(1)
        )
        if unbalanced is not None:
            raise UnbalancedEntry("entry does not balance", currency=unbalanced)


def _line_positions(
    legs: tuple[Leg, ...], postings: dict[UUID, AccountPosting]
) -> tuple[list[int], list[int]]:
    """Each leg's place in its account's history and the balance after it, in leg order."""
    used: dict[UUID, int] = defaultdict(int)
    seqs: list[int] = []
    balances: list[int] = []
    for leg in legs:
        posting = postings[leg.account_id]
        index = used[leg.account_id]
        used[leg.account_id] += 1
        seqs.append(posting.first_seq + index)
        balances.append(posting.balances_after[index])
    return seqs, balances
