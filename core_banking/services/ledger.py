"""Moving money: deposits, withdrawals, transfers, external payments, fees, reversals.

Every command here becomes exactly one journal entry, posted in one database transaction
together with its idempotency claim and its audit record. The service decides the legs and
the guards (which account must have the funds, what counts toward the daily limit); the
ledger checks them against the locked accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from core_banking.domain.errors import InvalidInput, InvalidTransition, NotFound
from core_banking.domain.ledger import (
    Channel,
    EntryType,
    JournalEntry,
    Leg,
    PostingResult,
    reversal_legs,
)
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import Clock, LedgerStore
from core_banking.services.postings import PostingPreparer, customer_leg, gl_leg


class LedgerService:
    def __init__(self, store: LedgerStore, clock: Clock, policy: BusinessPolicy) -> None:
        self._store = store
        self._preparer = PostingPreparer(clock, policy)

    async def deposit(self, command: Deposit, context: RequestContext) -> PostingResult:
        """Cash in at a branch or ATM: debit the vault, credit the customer."""
        legs = (
            gl_leg(GLCode.CASH, Side.DEBIT, command.amount),
            customer_leg(command.account_id, Side.CREDIT, command.amount),
        )
        return await self._post(EntryType.DEPOSIT, legs, command, context, command.channel)

    async def withdraw(self, command: Withdraw, context: RequestContext) -> PostingResult:
        """Cash out: debit the customer (funds and daily limit checked), credit the vault."""
        legs = (
            customer_leg(command.account_id, Side.DEBIT, command.amount, spending=True),
            gl_leg(GLCode.CASH, Side.CREDIT, command.amount),
        )
        return await self._post(EntryType.WITHDRAWAL, legs, command, context, command.channel)

    async def transfer(self, command: Transfer, context: RequestContext) -> PostingResult:
        """Between two deposit accounts of this bank."""
        if command.from_account_id == command.to_account_id:
            raise InvalidInput("a transfer needs two different accounts")
        legs = (
            customer_leg(command.from_account_id, Side.DEBIT, command.amount, spending=True),
            customer_leg(command.to_account_id, Side.CREDIT, command.amount),
        )
        return await self._post(EntryType.TRANSFER, legs, command, context, command.channel)

    async def receive_external(
        self, command: ReceiveExternalTransfer, context: RequestContext
    ) -> PostingResult:
        """Money from another bank: debit clearing (the bank is owed it by the network),
        credit the customer."""
        legs = (
            gl_leg(GLCode.EXTERNAL_CLEARING, Side.DEBIT, command.amount),
            customer_leg(command.account_id, Side.CREDIT, command.amount),
        )
        return await self._post(
            EntryType.EXTERNAL_TRANSFER_IN, legs, command, context, command.channel
        )

    async def send_external(
        self, command: SendExternalTransfer, context: RequestContext
    ) -> PostingResult:
        """Money to another bank: debit the customer, credit clearing until it settles."""
        legs = (
            customer_leg(command.account_id, Side.DEBIT, command.amount, spending=True),
            gl_leg(GLCode.EXTERNAL_CLEARING, Side.CREDIT, command.amount),
        )
        return await self._post(
            EntryType.EXTERNAL_TRANSFER_OUT, legs, command, context, command.channel
        )

    async def charge_fee(self, command: ChargeFee, context: RequestContext) -> PostingResult:
        """A fee the bank earns. It needs the funds but does not use up the daily limit,
        which is the customer's own spending allowance."""
        legs = (
            customer_leg(command.account_id, Side.DEBIT, command.amount, funds_only=True),
            gl_leg(GLCode.FEE_INCOME, Side.CREDIT, command.amount),
        )
        return await self._post(EntryType.FEE, legs, command, context, command.channel)

    async def reverse(self, command: Reverse, context: RequestContext) -> PostingResult:
        """Undo an entry with its contra entry, once. A reversal is not itself reversed."""
        original = await self._store.read(lambda uow: uow.journal.entry(command.entry_id))
        if original is None:
            raise NotFound("no such journal entry", entry_id=str(command.entry_id))
        if original.entry_type is EntryType.REVERSAL:
            raise InvalidTransition("a reversal cannot itself be reversed")
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
        return await self._store.post_entry(prepared.request, prepared.claim, prepared.audit)
