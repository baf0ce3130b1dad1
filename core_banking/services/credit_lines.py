"""Credit lines: opening one from a product, drawing, paying, freezing and closing.

A line's balance is on the bank's general-ledger account 1300 (credit lines receivable), its
share of it kept in the subledger of movements (docs/adr/0009-credit-line-ledger.md). A draw
is one entry, debit 1300, credit the customer's deposit account; a payment the reverse, split
between fees, billed interest and principal in that order. Each is one transaction: lock the
line, claim the idempotency key, post, record the movement and the line's new balances.
Interest and statements are the close of business's (``services/credit_line_close.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from uuid import UUID

from core_banking.domain.accounts import Side
from core_banking.domain.chart import GLCode
from core_banking.domain.commands import RequestContext
from core_banking.domain.customers import CustomerStatus
from core_banking.domain.errors import (
    CurrencyMismatch,
    InvalidAmount,
    InvariantViolation,
    NotFound,
    RuleViolation,
)
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType, JournalEntry, Leg, check_reference
from core_banking.domain.lending.catalog import kind_of
from core_banking.domain.lending.credit_line_accounts import (
    CreditLine,
    CreditLineStatement,
    CreditLineStatus,
    CreditLineTerms,
    Movement,
    MovementKind,
)
from core_banking.domain.lending.credit_line_products import CreditLineProduct
from core_banking.domain.lending.errors import ProductNotActive, WrongProductKind
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.money import Money
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import Clock, CreditLineQuery, LedgerStore, UnitOfWork
from core_banking.services.accounts import own_deposit_account
from core_banking.services.auditing import audit_record
from core_banking.services.postings import PostingPreparer, claim_for, customer_leg, gl_leg

MAX_PAGE = 100
MAX_STATEMENTS_PAGE = 100


@dataclass(frozen=True, slots=True)
class _Planned:
    """A draw or payment decided: its legs, and the signed change to what the line owes."""

    legs: tuple[Leg, ...]
    kind: MovementKind
    principal_minor: int = 0
    interest_minor: int = 0
    fees_minor: int = 0


type _Plan = Callable[[CreditLine, Money], _Planned]
"""Checks a draw or payment against the locked line and plans it."""
type _Check = Callable[[CreditLine], None]


@dataclass(frozen=True, slots=True)
class OpenCreditLine:
    customer_id: UUID
    product_id: UUID
    deposit_account_id: UUID
    limit: Money
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class DrawOnCreditLine:
    credit_line_id: UUID
    amount: Money
    idempotency_key: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class PayCreditLine:
    credit_line_id: UUID
    amount: Money
    idempotency_key: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class CreditLineMovement:
    """A draw or a payment as posted: the entry, the line's share of it, the line after."""

    line: CreditLine
    entry: JournalEntry
    movement: Movement
    replayed: bool


class CreditLineService:
    def __init__(self, store: LedgerStore, clock: Clock, policy: BusinessPolicy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._preparer = PostingPreparer(clock, policy)

    async def open(self, command: OpenCreditLine, context: RequestContext) -> CreditLine:
        """A line for an active customer from a credit-line product's active version, with
        a limit up to the product's maximum, drawing into and paid from one of the
        customer's active deposit accounts in the product's currency."""
        line_id = uuid7()
        claim = (
            claim_for("credit_line_open", command, context, line_id)
            if command.idempotency_key is not None
            else None
        )

        async def work(uow: UnitOfWork) -> CreditLine:
            now = self._clock.now()
            if claim is not None:
                existing = await uow.idempotency.claim(claim, now)
                if existing is not None:
                    return await _existing(uow, existing)
            customer = await uow.customers.lock(command.customer_id)
            if customer.status is not CustomerStatus.ACTIVE:
                raise RuleViolation(f"customer is {customer.status}", customer_id=str(customer.id))
            product = await _active_credit_line_product(uow, command.product_id)
            code = product.currency.code
            _check_limit(command.limit, product)
            await own_deposit_account(
                uow, command.deposit_account_id, customer.id, code, "a credit line draws into"
            )
            await uow.accounts.ensure_chart(code, now)
            today = self._clock.today()
            line = CreditLine(
                id=line_id,
                customer_id=customer.id,
                deposit_account_id=command.deposit_account_id,
                product_id=product.product_id,
                product_version=product.version,
                currency=code,
                status=CreditLineStatus.ACTIVE,
                limit_minor=command.limit.minor,
                principal_minor=0,
                interest_minor=0,
                fees_minor=0,
                terms=CreditLineTerms.of(product),
                accrued_interest=Decimal(0),
                interest_residue=Decimal(0),
                accrued_through=None,
                period_start=today,
                period_opening_minor=0,
                opened_on=today,
                created_at=now,
                updated_at=now,
            )
            await uow.credit_lines.insert(line)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "credit_line.opened",
                    "credit_line",
                    line.id,
                    {
                        "customer_id": str(customer.id),
                        "product_id": str(product.product_id),
                        "product_version": product.version,
                        "deposit_account_id": str(command.deposit_account_id),
                        "limit_minor": line.limit_minor,
                        "currency": code,
                    },
                )
            )
            return await _existing(uow, line.id)

        return await self._store.atomically(work)

    async def draw(self, command: DrawOnCreditLine, context: RequestContext) -> CreditLineMovement:
        """Lend within the available limit: debit 1300, credit the customer's account."""

        def plan(line: CreditLine, amount: Money) -> _Planned:
            line.check_draw(amount.minor)
            legs = (
                gl_leg(GLCode.CREDIT_LINES_RECEIVABLE, Side.DEBIT, amount),
                customer_leg(line.deposit_account_id, Side.CREDIT, amount),
            )
            return _Planned(legs, MovementKind.DRAW, principal_minor=amount.minor)

        return await self._move(EntryType.CREDIT_LINE_DRAW, command, context, plan)

    async def pay(self, command: PayCreditLine, context: RequestContext) -> CreditLineMovement:
        """Repay from the customer's account (it needs the funds): fees first, then billed
        interest, then principal; more than the line owes is refused. The payment counts
        toward the minimum of the line's unpaid statements."""
        today = self._clock.today()

        def plan(line: CreditLine, amount: Money) -> _Planned:
            split = line.split_payment(amount.minor, today)
            legs = (
                customer_leg(line.deposit_account_id, Side.DEBIT, amount, funds_only=True),
                gl_leg(GLCode.CREDIT_LINES_RECEIVABLE, Side.CREDIT, amount),
            )
            return _Planned(
                legs,
                MovementKind.PAYMENT,
                principal_minor=-split.principal_minor,
                interest_minor=-split.interest_minor,
                fees_minor=-split.fees_minor,
            )

        return await self._move(EntryType.CREDIT_LINE_PAYMENT, command, context, plan)

    async def _move(
        self,
        entry_type: EntryType,
        command: DrawOnCreditLine | PayCreditLine,
        context: RequestContext,
        plan: _Plan,
    ) -> CreditLineMovement:
        """One draw or payment, in one transaction: claim the key (a replay answers with the
        first result), lock the line, post the entry, record the movement."""
        self._policy.check_transaction_amount(command.amount)
        check_reference(command.reference)
        entry_id = uuid7()
        claim = claim_for(entry_type.value, command, context, entry_id)

        async def work(uow: UnitOfWork) -> CreditLineMovement:
            now = self._clock.now()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _replayed(uow, existing)
            line = await uow.credit_lines.lock(command.credit_line_id)
            if command.amount.currency.code != line.currency:
                raise CurrencyMismatch(
                    f"the credit line is in {line.currency}", credit_line_id=str(line.id)
                )
            planned = plan(line, command.amount)
            prepared = self._preparer.prepare(
                entry_type,
                planned.legs,
                command,
                context,
                Channel.API,
                amount=command.amount,
                entry_id=entry_id,
                details={"credit_line_id": str(line.id)},
            )
            result = await uow.ledger.post(prepared.request, None, prepared.audit)
            movement = Movement(
                entry_id=entry_id,
                credit_line_id=line.id,
                kind=planned.kind,
                business_date=prepared.request.business_date,
                currency=line.currency,
                principal_minor=planned.principal_minor,
                interest_minor=planned.interest_minor,
                fees_minor=planned.fees_minor,
            )
            await uow.credit_lines.record_movement(movement, now)
            if movement.kind is MovementKind.PAYMENT:
                await uow.credit_lines.count_payment(line.id, command.amount.minor, now)
            return CreditLineMovement(
                line=await _existing(uow, line.id),
                entry=result.entry,
                movement=movement,
                replayed=False,
            )

        return await self._store.atomically(work)

    async def freeze(
        self, credit_line_id: UUID, reason: str | None, context: RequestContext
    ) -> CreditLine:
        """Stop draws; payments, interest and statements go on."""
        return await self._change_status(
            credit_line_id, CreditLineStatus.FROZEN, reason, context, CreditLine.check_freeze
        )

    async def close(
        self, credit_line_id: UUID, reason: str | None, context: RequestContext
    ) -> CreditLine:
        """For good, once nothing is owed or accrued."""
        return await self._change_status(
            credit_line_id, CreditLineStatus.CLOSED, reason, context, CreditLine.check_close
        )

    async def _change_status(
        self,
        credit_line_id: UUID,
        status: CreditLineStatus,
        reason: str | None,
        context: RequestContext,
        check: _Check,
    ) -> CreditLine:
        async def work(uow: UnitOfWork) -> CreditLine:
            now = self._clock.now()
            line = await uow.credit_lines.lock(credit_line_id)
            check(line)
            await uow.credit_lines.set_status(line.id, status, now)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "credit_line.status_changed",
                    "credit_line",
                    line.id,
                    {"from": line.status.value, "to": status.value, "reason": reason},
                )
            )
            return await _existing(uow, line.id)

        return await self._store.atomically(work)

    async def get(self, credit_line_id: UUID) -> CreditLine:
        line = await self._store.read(lambda uow: uow.credit_lines.get(credit_line_id))
        if line is None:
            raise NotFound("no such credit line", credit_line_id=str(credit_line_id))
        return line

    async def search(self, query: CreditLineQuery) -> list[CreditLine]:
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_PAGE))
        return await self._store.read_replica(lambda uow: uow.credit_lines.search(bounded))

    async def statements(
        self, credit_line_id: UUID, limit: int, before: date | None = None
    ) -> list[CreditLineStatement]:
        """The line's statements, newest first, dated before ``before`` if given."""
        await self.get(credit_line_id)
        bounded = min(max(limit, 1), MAX_STATEMENTS_PAGE)
        return await self._store.read(
            lambda uow: uow.credit_lines.statements(credit_line_id, bounded, before)
        )


def _check_limit(limit: Money, product: CreditLineProduct) -> None:
    if limit.currency.code != product.currency.code:
        raise CurrencyMismatch(
            f"the product is in {product.currency.code}", product_id=str(product.product_id)
        )
    if not 0 < limit.minor <= product.max_limit_minor:
        raise InvalidAmount(
            "a credit limit is positive and at most the product's maximum",
            field="limit",
            max_limit_minor=product.max_limit_minor,
        )


async def _active_credit_line_product(uow: UnitOfWork, product_id: UUID) -> CreditLineProduct:
    """The version of ``product_id`` that opens lines now, locked shared until the line is
    written (no activation or retirement slips in between)."""
    await uow.products.lock(product_id, shared=True)
    record = await uow.products.active(product_id)
    if record is None:
        raise ProductNotActive(
            "the product has no active version to open credit lines from",
            product_id=str(product_id),
        )
    product = record.product
    if not isinstance(product, CreditLineProduct):
        raise WrongProductKind(
            f"a {kind_of(product)} product opens no credit line", product_id=str(product_id)
        )
    if product.status is not ProductStatus.ACTIVE:
        raise InvariantViolation("the active version is not active", product_id=str(product_id))
    return product


async def _existing(uow: UnitOfWork, credit_line_id: UUID) -> CreditLine:
    line = await uow.credit_lines.get(credit_line_id)
    if line is None:
        raise InvariantViolation("credit line vanished", credit_line_id=str(credit_line_id))
    return line


async def _replayed(uow: UnitOfWork, entry_id: UUID) -> CreditLineMovement:
    """The first result of a repeated draw or payment, as it stands now."""
    entry = await uow.journal.entry(entry_id)
    movement = await uow.credit_lines.movement(entry_id)
    if entry is None or movement is None:
        raise InvariantViolation("an idempotency key names a missing entry", entry_id=entry_id)
    return CreditLineMovement(
        line=await _existing(uow, movement.credit_line_id),
        entry=entry,
        movement=movement,
        replayed=True,
    )
