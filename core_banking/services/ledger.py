"""Moving money: deposits, withdrawals, transfers, external payments, fees, reversals.

Every command here becomes exactly one journal entry, posted in one database transaction
together with its idempotency claim and its audit record (on PostgreSQL under load, a
transaction it may share with other commands: group commit, ADR 0013). The service
decides the legs and the guards (which account must have the funds, what counts toward the
daily limit); the ledger checks them against the locked accounts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from core_banking.domain.accounts import Side
from core_banking.domain.chart import GLCode
from core_banking.domain.commands import (
    ChargeFee,
    Deposit,
    ReceiveExternalTransfer,
    RequestContext,
    Reverse,
    SendExternalTransfer,
    Transfer,
    Withdraw,
)
from core_banking.domain.errors import (
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    naming_the_operation,
)
from core_banking.domain.ledger import (
    CREDIT_LINE_ENTRY_TYPES,
    LOAN_ENTRY_TYPES,
    TERM_DEPOSIT_ENTRY_TYPES,
    Channel,
    EntryType,
    JournalEntry,
    Leg,
    PostingResult,
    reversal_legs,
)
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import (
    Clock,
    EntryQuery,
    LedgerStore,
    NoTelemetry,
    PreparedPosting,
    Telemetry,
    UnitOfWork,
)
from core_banking.services.postings import PostingPreparer, customer_leg, gl_leg

MAX_PAGE = 200
MAX_TOGETHER = 100_000

MoneyCommand = (
    Deposit | Withdraw | Transfer | ReceiveExternalTransfer | SendExternalTransfer | ChargeFee
)


def prepare_money_command(
    preparer: PostingPreparer, command: MoneyCommand, context: RequestContext
) -> PreparedPosting:
    """The posting, claim and audit record of one money command; the amount checked
    against the bank's single-transaction limit."""
    entry_type, legs = _plan(command)
    return preparer.prepare(
        entry_type, legs, command, context, command.channel, amount=command.amount
    )


def _plan(command: MoneyCommand) -> tuple[EntryType, tuple[Leg, ...]]:
    """Which entry a money command makes, and its legs with their guards."""
    amount = command.amount
    match command:
        case Deposit():
            return EntryType.DEPOSIT, (
                gl_leg(GLCode.CASH, Side.DEBIT, amount),
                customer_leg(command.account_id, Side.CREDIT, amount),
            )
        case Withdraw():
            return EntryType.WITHDRAWAL, (
                customer_leg(command.account_id, Side.DEBIT, amount, spending=True),
                gl_leg(GLCode.CASH, Side.CREDIT, amount),
            )
        case Transfer():
            if command.from_account_id == command.to_account_id:
                raise InvalidInput("a transfer needs two different accounts")
            return EntryType.TRANSFER, (
                customer_leg(command.from_account_id, Side.DEBIT, amount, spending=True),
                customer_leg(command.to_account_id, Side.CREDIT, amount),
            )
        case ReceiveExternalTransfer():
            return EntryType.EXTERNAL_TRANSFER_IN, (
                gl_leg(GLCode.EXTERNAL_CLEARING, Side.DEBIT, amount),
                customer_leg(command.account_id, Side.CREDIT, amount),
            )
        case SendExternalTransfer():
            return EntryType.EXTERNAL_TRANSFER_OUT, (
                customer_leg(command.account_id, Side.DEBIT, amount, spending=True),
                gl_leg(GLCode.EXTERNAL_CLEARING, Side.CREDIT, amount),
            )
        case ChargeFee():
            return EntryType.FEE, (
                customer_leg(command.account_id, Side.DEBIT, amount, funds_only=True),
                gl_leg(GLCode.FEE_INCOME, Side.CREDIT, amount),
            )


def _check_how_many(commands: Sequence[MoneyCommand]) -> None:
    if not 1 <= len(commands) <= MAX_TOGETHER:
        raise InvalidInput(f"1 to {MAX_TOGETHER} operations at once", field="operations")


class LedgerService:
    def __init__(
        self,
        store: LedgerStore,
        clock: Clock,
        policy: BusinessPolicy,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._store = store
        self._preparer = PostingPreparer(clock, policy)
        self._telemetry = telemetry or NoTelemetry()

    async def deposit(self, command: Deposit, context: RequestContext) -> PostingResult:
        """Cash in at a branch or ATM: debit the vault, credit the customer."""
        return await self.execute(command, context)

    async def withdraw(self, command: Withdraw, context: RequestContext) -> PostingResult:
        """Cash out: debit the customer (funds and daily limit checked), credit the vault."""
        return await self.execute(command, context)

    async def transfer(self, command: Transfer, context: RequestContext) -> PostingResult:
        """Between two deposit accounts of this bank."""
        return await self.execute(command, context)

    async def receive_external(
        self, command: ReceiveExternalTransfer, context: RequestContext
    ) -> PostingResult:
        """Money from another bank: debit clearing (the bank is owed it by the network),
        credit the customer."""
        return await self.execute(command, context)

    async def send_external(
        self, command: SendExternalTransfer, context: RequestContext
    ) -> PostingResult:
        """Money to another bank: debit the customer, credit clearing until it settles."""
        return await self.execute(command, context)

    async def charge_fee(self, command: ChargeFee, context: RequestContext) -> PostingResult:
        """A fee the bank earns. It needs the funds but does not use up the daily limit,
        which is the customer's own spending allowance."""
        return await self.execute(command, context)

    async def execute(self, command: MoneyCommand, context: RequestContext) -> PostingResult:
        """Post one money command as its own transaction."""
        prepared = self._prepare(command, context)
        return await self._observed(
            prepared.request.entry_type.value,
            self._store.post_entry(prepared.request, prepared.claim, prepared.audit),
        )

    async def _observed(self, entry_type: str, posting: Awaitable[PostingResult]) -> PostingResult:
        """Report the outcome of a posting to telemetry (replays are not new postings)."""
        started = time.perf_counter()
        try:
            result = await posting
        except DomainError as refusal:
            self._telemetry.refused(entry_type, refusal.code)
            raise
        if not result.replayed:
            self._telemetry.posted(result.entry, (time.perf_counter() - started) * 1000)
        return result

    async def execute_together(
        self, commands: Sequence[MoneyCommand], context: RequestContext
    ) -> list[PostingResult]:
        """Post several money commands in one transaction: all of them, or none. Their
        entries are separate, each with its own key. The first refusal propagates, with
        ``operation_index`` in its context naming the command that was refused."""
        _check_how_many(commands)
        prepared = []
        for index, command in enumerate(commands):
            with naming_the_operation(index):
                prepared.append(self._prepare(command, context))

        async def work(uow: UnitOfWork) -> list[PostingResult]:
            return await uow.ledger.post_many(prepared)

        started = time.perf_counter()
        try:
            results = await self._store.atomically(work)
        except DomainError as refusal:
            self._telemetry.refused("batch", refusal.code)
            raise
        each_ms = (time.perf_counter() - started) * 1000 / len(results)
        for result in results:
            if not result.replayed:
                self._telemetry.posted(result.entry, each_ms)
        return results

    async def execute_each(
        self, commands: Sequence[MoneyCommand], context: RequestContext
    ) -> list[PostingResult | DomainError]:
        """Post several money commands each on its own, in order: each gets its entry or
        its refusal, checked against what the commands before it posted. Not one
        transaction each: PostgreSQL posts them in groups (ADR 0013), which is the same to
        every command and far cheaper."""
        _check_how_many(commands)
        outcomes: dict[int, PostingResult | DomainError] = {}
        prepared: dict[int, PreparedPosting] = {}
        for index, command in enumerate(commands):
            try:
                prepared[index] = self._prepare(command, context)
            except DomainError as refusal:  # as ``execute`` raises it: not a posting refused
                outcomes[index] = refusal
        started = time.perf_counter()
        posted = await self._store.post_each(list(prepared.values())) if prepared else []
        each_ms = (time.perf_counter() - started) * 1000 / max(len(prepared), 1)
        for (index, posting), outcome in zip(prepared.items(), posted, strict=True):
            outcomes[index] = outcome
            if isinstance(outcome, DomainError):
                self._telemetry.refused(posting.request.entry_type.value, outcome.code)
            elif not outcome.replayed:
                self._telemetry.posted(outcome.entry, each_ms)
        return [outcomes[index] for index in range(len(commands))]

    def _prepare(self, command: MoneyCommand, context: RequestContext) -> PreparedPosting:
        return prepare_money_command(self._preparer, command, context)

    async def reverse(self, command: Reverse, context: RequestContext) -> PostingResult:
        """Undo an entry with its contra entry, once. A reversal is not itself reversed."""
        original = await self._store.read(lambda uow: uow.journal.entry(command.entry_id))
        if original is None:
            raise NotFound("no such journal entry", entry_id=str(command.entry_id))
        if original.entry_type is EntryType.REVERSAL:
            raise InvalidTransition("a reversal cannot itself be reversed")
        if original.entry_type in LOAN_ENTRY_TYPES:
            raise InvalidTransition("a loan's entries are corrected through the loan")
        if original.entry_type in CREDIT_LINE_ENTRY_TYPES:
            raise InvalidTransition("a credit line's entries are corrected through the line")
        if original.entry_type in TERM_DEPOSIT_ENTRY_TYPES:
            raise InvalidTransition("a term deposit's entries are not reversed on their own")
        return await self._post(
            EntryType.REVERSAL,
            reversal_legs(original),
            command,
            context,
            Channel.SYSTEM,
            reversal_of=original.id,
            details={"reason": command.reason},
        )

    async def entry(self, entry_id: UUID) -> JournalEntry:
        found = await self._store.read(lambda uow: uow.journal.entry(entry_id))
        if found is None:
            raise NotFound("no such journal entry", entry_id=str(entry_id))
        return found

    async def entries(self, query: EntryQuery) -> list[JournalEntry]:
        """A page of journal entries, newest first, filtered."""
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_PAGE))
        # a search of the journal may be a moment behind: a replica serves it (one entry by
        # id, which a client fetches right after posting it, is read on the primary)
        return await self._store.read_replica(lambda uow: uow.journal.entries(bounded))

    async def _post(
        self,
        entry_type: EntryType,
        legs: tuple[Leg, ...],
        command: Any,
        context: RequestContext,
        channel: Channel,
        *,
        reversal_of: UUID | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> PostingResult:
        prepared = self._preparer.prepare(
            entry_type,
            legs,
            command,
            context,
            channel,
            amount=getattr(command, "amount", None),
            reversal_of=reversal_of,
            details=details,
        )
        return await self._observed(
            entry_type.value,
            self._store.post_entry(prepared.request, prepared.claim, prepared.audit),
        )
