"""Term deposits: placing one from a product, closing it early, and settling it at maturity.

A term deposit's money is on a ledger account of its own (kind ``term_deposit``), which
ordinary payments cannot name; only the commands here and the close of business move money
there (docs/term-deposits.md). Opening and closing are each one transaction: the records,
the entries, the idempotency claim and the audit record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final, cast
from uuid import UUID

from core_banking.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    AccountType,
    Side,
)
from core_banking.domain.chart import GLCode
from core_banking.domain.commands import RequestContext
from core_banking.domain.customers import CustomerStatus, clean_name
from core_banking.domain.errors import (
    CurrencyMismatch,
    InvariantViolation,
    NotFound,
    RuleViolation,
)
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType, Leg
from core_banking.domain.lending.deposit_products import DepositProduct, MaturityAction
from core_banking.domain.lending.errors import ProductNotActive
from core_banking.domain.lending.term_deposits import (
    TermDeposit,
    TermDepositStatus,
    maturity_of_term,
    term_deposit_terms,
)
from core_banking.domain.money import Money
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import (
    Clock,
    DepositInterestBook,
    LedgerStore,
    ProgressReport,
    TermDepositMaturityBook,
    TermDepositQuery,
    UnitOfWork,
)
from core_banking.services.accounts import own_deposit_account, unused_account_number
from core_banking.services.auditing import audit_record
from core_banking.services.interest_settlement import settle_interest
from core_banking.services.postings import PostingPreparer, claim_for, customer_leg, gl_leg

MATURITY_STEP: Final = "term_deposit_maturity"
MAX_PAGE: Final = 100


@dataclass(frozen=True, slots=True)
class OpenTermDeposit:
    """Place ``amount`` from ``funding_account_id`` under a term-deposit product. The money
    goes back to ``payout_account_id`` (the funding account when not given) at maturity or
    early closure; ``maturity_action`` overrides the product's."""

    customer_id: UUID
    product_id: UUID
    amount: Money
    funding_account_id: UUID
    payout_account_id: UUID | None = None
    maturity_action: MaturityAction | None = None
    name: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CloseTermDeposit:
    """Close a deposit now: before maturity an early withdrawal (with the product's
    penalty), after it the payout its maturity could not make."""

    term_deposit_id: UUID
    idempotency_key: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class HeldTermDeposit:
    """A term deposit and the ledger account that holds its money."""

    deposit: TermDeposit
    account: Account


class TermDepositService:
    def __init__(self, store: LedgerStore, clock: Clock, policy: BusinessPolicy) -> None:
        self._store = store
        self._clock = clock
        self._preparer = PostingPreparer(clock, policy)

    async def open(self, command: OpenTermDeposit, context: RequestContext) -> TermDeposit:
        """A deposit for an active customer from a term-deposit product's active version,
        funded in one entry from one of the customer's deposit accounts, at least the
        product's minimum opening balance. The funding account needs the funds; the daily
        limit, a customer's spending allowance, is not used up by moving money between
        the customer's own accounts."""
        account_id = uuid7()
        claim = (
            claim_for("term_deposit_open", command, context, account_id)
            if command.idempotency_key is not None
            else None
        )
        name = clean_name(command.name or "Term deposit", "name")

        async def work(uow: UnitOfWork) -> TermDeposit:
            now, today = self._clock.now(), self._clock.today()
            if claim is not None:
                existing = await uow.idempotency.claim(claim, now)
                if existing is not None:
                    return await _deposit(uow, existing)
            customer = await uow.customers.lock(command.customer_id)
            if customer.status is not CustomerStatus.ACTIVE:
                raise RuleViolation(f"customer is {customer.status}", customer_id=str(customer.id))
            product = await _active_product(uow, command.product_id)
            terms = term_deposit_terms(product)
            code = product.currency.code
            if command.amount.currency.code != code:
                raise CurrencyMismatch(
                    f"the product is in {code}, not {command.amount.currency.code}",
                    product_id=str(product.product_id),
                )
            product.require_opening_deposit(command.amount.minor)
            payout_id = command.payout_account_id or command.funding_account_id
            for account, purpose in (
                (command.funding_account_id, "a term deposit is funded from"),
                (payout_id, "a term deposit pays out to"),
            ):
                await own_deposit_account(uow, account, customer.id, code, purpose)
            await uow.accounts.ensure_chart(code, now)
            await uow.accounts.insert(
                _deposit_account(
                    account_id, customer.id, product, name, await unused_account_number(uow), now
                )
            )
            deposit = TermDeposit(
                account_id=account_id,
                customer_id=customer.id,
                product_id=product.product_id,
                product_version=product.version,
                currency=code,
                principal_minor=command.amount.minor,
                term=terms.term,
                maturity_action=command.maturity_action or terms.maturity_action,
                payout_account_id=payout_id,
                start_date=today,
                term_start=today,
                maturity_date=maturity_of_term(terms.term, today, 1),
                term_number=1,
                status=TermDepositStatus.ACTIVE,
                closed_on=None,
                created_at=now,
                updated_at=now,
            )
            await uow.term_deposits.insert(deposit)
            legs = (
                customer_leg(
                    command.funding_account_id, Side.DEBIT, command.amount, funds_only=True
                ),
                _term_deposit_leg(account_id, Side.CREDIT, command.amount.minor, code),
            )
            await self._post(uow, EntryType.TERM_DEPOSIT_OPENING, legs, command, context, deposit)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "term_deposit.opened",
                    "term_deposit",
                    account_id,
                    {
                        "customer_id": str(customer.id),
                        "product_id": str(product.product_id),
                        "product_version": product.version,
                        "principal_minor": deposit.principal_minor,
                        "currency": code,
                        "maturity_date": deposit.maturity_date.isoformat(),
                        "maturity_action": deposit.maturity_action.value,
                        "funding_account_id": str(command.funding_account_id),
                        "payout_account_id": str(payout_id),
                    },
                )
            )
            return deposit

        return await self._store.atomically(work)

    async def close(self, command: CloseTermDeposit, context: RequestContext) -> TermDeposit:
        """Close the deposit today: settle what has accrued, charge the early-withdrawal
        penalty on the balance when before maturity (never more than the balance), pay the
        rest to the payout account and close the deposit's account."""
        claim = claim_for("term_deposit_close", command, context, command.term_deposit_id)

        async def work(uow: UnitOfWork) -> TermDeposit:
            now, today = self._clock.now(), self._clock.today()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _deposit(uow, existing)
            deposit = await uow.term_deposits.lock(command.term_deposit_id)
            deposit.check_closable()
            terms = term_deposit_terms(await _product_of(uow, deposit))
            code = deposit.currency
            account = await uow.accounts.lock(deposit.account_id)
            interest = await settle_interest(
                uow,
                self._preparer,
                account,
                command,
                context,
                today,
                {"term_deposit_id": str(deposit.account_id)},
            )
            balance = account.posted_minor + interest
            penalty = min(
                terms.early_withdrawal_penalty_minor(balance, today, deposit.maturity_date),
                balance,
            )
            early = deposit.is_early(today)
            legs = tuple(
                leg
                for leg in (
                    _term_deposit_leg(deposit.account_id, Side.DEBIT, balance, code),
                    customer_leg(
                        deposit.payout_account_id, Side.CREDIT, Money.of(balance - penalty, code)
                    ),
                    gl_leg(GLCode.FEE_INCOME, Side.CREDIT, Money.of(penalty, code)),
                )
                if leg.amount_minor
            )
            if legs:
                entry_type = (
                    EntryType.TERM_DEPOSIT_EARLY_CLOSURE if early else EntryType.TERM_DEPOSIT_PAYOUT
                )
                await self._post(uow, entry_type, legs, command, context, deposit)
            status = TermDepositStatus.CLOSED_EARLY if early else TermDepositStatus.PAID_OUT
            await uow.accounts.set_status(deposit.account_id, AccountStatus.CLOSED, now)
            await uow.term_deposits.close(deposit.account_id, status, today, now)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "term_deposit.closed",
                    "term_deposit",
                    deposit.account_id,
                    {
                        "status": status.value,
                        "interest_minor": interest,
                        "penalty_minor": penalty,
                        "paid_minor": balance - penalty,
                        "payout_account_id": str(deposit.payout_account_id),
                        "reason": command.reason,
                    },
                )
            )
            return replace(deposit, status=status, closed_on=today, updated_at=now)

        return await self._store.atomically(work)

    async def get(self, term_deposit_id: UUID) -> HeldTermDeposit:
        """The deposit with its account (number and balance)."""

        async def read(uow: UnitOfWork) -> HeldTermDeposit:
            deposit = await uow.term_deposits.get(term_deposit_id)
            if deposit is None:
                raise NotFound("no such term deposit", term_deposit_id=str(term_deposit_id))
            return await _held(uow, deposit)

        return await self._store.read(read)

    async def search(self, query: TermDepositQuery) -> list[HeldTermDeposit]:
        """A page of deposits, each with its account; a replica serves it."""
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_PAGE))

        async def read(uow: UnitOfWork) -> list[HeldTermDeposit]:
            return [await _held(uow, found) for found in await uow.term_deposits.search(bounded)]

        return await self._store.read_replica(read)

    async def _post(
        self,
        uow: UnitOfWork,
        entry_type: EntryType,
        legs: tuple[Leg, ...],
        command: OpenTermDeposit | CloseTermDeposit,
        context: RequestContext,
        deposit: TermDeposit,
    ) -> None:
        """Post one entry of the deposit's, the deposit named in its metadata; what a
        customer places is a transaction within NEXUM_MAX_TRANSACTION_AMOUNT."""
        amount = command.amount if isinstance(command, OpenTermDeposit) else None
        prepared = self._preparer.prepare(
            entry_type,
            legs,
            command,
            context,
            Channel.API,
            amount=amount,
            details={"term_deposit_id": str(deposit.account_id)},
            claimed=False,
        )
        request = replace(
            prepared.request,
            metadata={**prepared.request.metadata, "term_deposit_id": str(deposit.account_id)},
        )
        await uow.ledger.post(request, None, prepared.audit)


class TermDepositMaturity:
    """Close-of-business step: post the interest of every deposit whose term ends with the
    day, then pay it out or roll it over."""

    name = MATURITY_STEP

    def __init__(self, interest: DepositInterestBook, maturity: TermDepositMaturityBook) -> None:
        self._interest = interest
        self._maturity = maturity

    async def run(self, business_date: date, report: ProgressReport) -> int:
        await self._interest.post_maturing(business_date, report)
        return await self._maturity.settle(business_date, report)


def _term_deposit_leg(account_id: UUID, side: Side, amount_minor: int, code: str) -> Leg:
    """A leg on a term deposit's own account (it must be one: no other account is reached
    through a term deposit)."""
    return Leg(
        account_id=account_id,
        side=side,
        amount_minor=amount_minor,
        currency=code,
        required_kind=AccountKind.TERM_DEPOSIT,
    )


def _deposit_account(
    account_id: UUID,
    customer_id: UUID,
    product: DepositProduct,
    name: str,
    number: str,
    now: datetime,
) -> Account:
    """The deposit's own ledger account: a liability of the bank, numbered, the customer's,
    opened from the product version (which its interest follows)."""
    return Account.opened(
        id=account_id,
        kind=AccountKind.TERM_DEPOSIT,
        account_type=AccountType.LIABILITY,
        currency=product.currency.code,
        name=name,
        customer_id=customer_id,
        number=number,
        now=now,
        product_id=product.product_id,
        product_version=product.version,
    )


async def _active_product(uow: UnitOfWork, product_id: UUID) -> DepositProduct:
    """The version of ``product_id`` that opens deposits now, if it is a term-deposit
    product, locked shared until the deposit is written (no activation or retirement slips
    in between)."""
    await uow.products.lock(product_id, shared=True)
    record = await uow.products.active(product_id)
    if record is None:
        raise ProductNotActive(
            "the product has no active version to open term deposits from",
            product_id=str(product_id),
        )
    term_deposit_terms(record.product)  # refuses any other kind of product
    return cast(DepositProduct, record.product)


async def _product_of(uow: UnitOfWork, deposit: TermDeposit) -> DepositProduct:
    """The product version the deposit was opened under, whatever its status is now."""
    record = await uow.products.get(deposit.product_id, deposit.product_version)
    if record is None or not isinstance(record.product, DepositProduct):
        raise InvariantViolation(
            "a term deposit names a missing product version",
            term_deposit_id=str(deposit.account_id),
        )
    return record.product


async def _held(uow: UnitOfWork, deposit: TermDeposit) -> HeldTermDeposit:
    account = await uow.accounts.get(deposit.account_id)
    if account is None:
        raise InvariantViolation(
            "a term deposit without its account", term_deposit_id=str(deposit.account_id)
        )
    return HeldTermDeposit(deposit, account)


async def _deposit(uow: UnitOfWork, account_id: UUID) -> TermDeposit:
    deposit = await uow.term_deposits.get(account_id)
    if deposit is None:
        raise InvariantViolation("term deposit vanished", term_deposit_id=str(account_id))
    return deposit
