"""Holds: reserving money before it moves, then capturing, releasing or letting it expire.

Every hold operation locks the hold before its account (the one order all of them use) and
claims its idempotency key first, inside the same transaction, so a retry after success
gets the first result instead of "hold already captured".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from core_banking.domain.accounts import AccountKind, Side
from core_banking.domain.chart import GLCode
from core_banking.domain.commands import CaptureHold, PlaceHold, ReleaseHold, RequestContext
from core_banking.domain.errors import InvalidInput, InvariantViolation, NotFound, WrongAccountKind
from core_banking.domain.holds import Hold, HoldStatus, place_hold
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType, PostingResult, check_reference
from core_banking.domain.money import Money
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import Clock, LedgerStore, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.postings import PostingPreparer, claim_for, customer_leg, gl_leg

MAX_HOLD_DURATION = timedelta(days=90)
EXPIRY_BATCH_SIZE = 1000


class HoldService:
    def __init__(self, store: LedgerStore, clock: Clock, policy: BusinessPolicy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._preparer = PostingPreparer(clock, policy)

    async def place(self, command: PlaceHold, context: RequestContext) -> Hold:
        """Set money aside on an active deposit account that has it available."""
        self._policy.check_transaction_amount(command.amount)
        check_reference(command.reference)
        if command.expires_at is not None and command.expires_at.tzinfo is None:
            raise InvalidInput("a hold's expiry time carries a time zone", field="expires_at")
        now = self._clock.now()
        hold_id = uuid7()
        claim = claim_for("hold_place", command, context, hold_id)
        code = command.amount.currency.code

        async def work(uow: UnitOfWork) -> Hold:
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _existing_hold(uow, existing)
            if command.expires_at is not None and not (
                now < command.expires_at <= now + MAX_HOLD_DURATION
            ):
                raise InvalidInput(
                    f"a hold expires in the future and within {MAX_HOLD_DURATION.days} days",
                    field="expires_at",
                )
            account = await uow.accounts.lock(command.account_id)
            if account.kind is not AccountKind.DEPOSIT:
                raise WrongAccountKind("holds are placed on deposit accounts")
            placement = place_hold(
                account,
                command.amount.minor,
                code,
                self._clock.today(),
                {code: self._policy.limits_for(code)},
            )
            await uow.accounts.set_holds(
                account.id,
                held_minor=placement.held_minor,
                daily_debit_minor=placement.daily_debit_minor,
                daily_debit_date=placement.daily_debit_date,
                now=now,
            )
            hold = Hold(
                id=hold_id,
                account_id=account.id,
                amount_minor=command.amount.minor,
                currency=code,
                status=HoldStatus.ACTIVE,
                expires_at=command.expires_at,
                reference=command.reference,
                captured_minor=0,
                capture_entry_id=None,
                created_at=now,
                updated_at=now,
            )
            await uow.holds.insert(hold)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "hold.placed",
                    "hold",
                    hold.id,
                    {
                        "account_id": str(account.id),
                        "amount_minor": hold.amount_minor,
                        "currency": hold.currency,
                    },
                )
            )
            return hold

        return await self._store.atomically(work)

    async def capture(self, command: CaptureHold, context: RequestContext) -> PostingResult:
        """Post all or part of a live hold and release the rest, in one entry: debit the
        customer, credit the destination (a deposit account here, or clearing)."""
        entry_id = uuid7()
        claim = claim_for(EntryType.HOLD_CAPTURE.value, command, context, entry_id)

        async def work(uow: UnitOfWork) -> PostingResult:
            now = self._clock.now()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                entry = await uow.journal.entry(existing)
                if entry is None:
                    raise InvariantViolation("an idempotency key names a missing entry")
                return PostingResult(entry=entry, replayed=True)
            hold = await uow.holds.lock(command.hold_id)
            amount = command.amount or Money.of(hold.amount_minor, hold.currency)
            if amount.currency.code != hold.currency:
                raise InvalidInput("a capture is in the hold's currency", field="amount")
            hold.check_capturable(amount.minor, now)
            destination = (
                customer_leg(command.destination_account_id, Side.CREDIT, amount)
                if command.destination_account_id is not None
                else gl_leg(GLCode.EXTERNAL_CLEARING, Side.CREDIT, amount)
            )
            legs = (
                customer_leg(
                    hold.account_id, Side.DEBIT, amount, release_held_minor=hold.amount_minor
                ),
                destination,
            )
            prepared = self._preparer.prepare(
                EntryType.HOLD_CAPTURE,
                legs,
                command,
                context,
                Channel.CARD,
                entry_id=entry_id,
                details={"hold_id": str(hold.id), "account_id": str(hold.account_id)},
            )
            result = await uow.ledger.post(prepared.request, None, prepared.audit)
            await uow.holds.finish(
                hold.id,
                HoldStatus.CAPTURED,
                now,
                captured_minor=amount.minor,
                capture_entry_id=entry_id,
            )
            return result

        return await self._store.atomically(work)

    async def release(self, command: ReleaseHold, context: RequestContext) -> Hold:
        """Give a hold's amount back to the available balance."""
        claim = claim_for("hold_release", command, context, command.hold_id)

        async def work(uow: UnitOfWork) -> Hold:
            now = self._clock.now()
            if await uow.idempotency.claim(claim, now) is not None:
                return await _existing_hold(uow, command.hold_id)
            hold = await uow.holds.lock(command.hold_id)
            hold.check_releasable()
            account = await uow.accounts.lock(hold.account_id)
            await uow.accounts.set_holds(
                account.id,
                held_minor=account.held_minor - hold.amount_minor,
                daily_debit_minor=account.daily_debit_minor,
                daily_debit_date=account.daily_debit_date,
                now=now,
            )
            await uow.holds.finish(hold.id, HoldStatus.RELEASED, now)
            await uow.audit.append(
                audit_record(
                    context, now, "hold.released", "hold", hold.id, {"account_id": str(account.id)}
                )
            )
            return await _existing_hold(uow, hold.id)

        return await self._store.atomically(work)

    async def expire_due(self, context: RequestContext) -> int:
        """Expire every active hold past its expiry time, in bounded batches (one
        transaction each); the number expired."""
        total = 0
        while True:
            batch = await self._store.atomically(
                lambda uow: self._expire_batch(uow, context, self._clock.now())
            )
            total += batch
            if batch < EXPIRY_BATCH_SIZE:
                return total

    async def _expire_batch(self, uow: UnitOfWork, context: RequestContext, now: datetime) -> int:
        expired = await uow.holds.expire_due(now, EXPIRY_BATCH_SIZE)
        if expired:
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "holds.expired",
                    "hold_batch",
                    uuid7(),
                    {
                        "holds": [
                            {"hold_id": str(hold.id), "account_id": str(hold.account_id)}
                            for hold in expired
                        ]
                    },
                )
            )
        return len(expired)

    async def get(self, hold_id: UUID) -> Hold:
        hold = await self._store.read(lambda uow: uow.holds.get(hold_id))
        if hold is None:
            raise NotFound("no such hold", hold_id=str(hold_id))
        return hold


async def _existing_hold(uow: UnitOfWork, hold_id: UUID) -> Hold:
    hold = await uow.holds.get(hold_id)
    if hold is None:
        raise InvariantViolation("an idempotency key names a missing hold", hold_id=hold_id)
    return hold
