"""Opening deposit accounts and moving them through their life cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from core_banking.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    AccountType,
    Side,
    check_transition,
    new_account_number,
)
from core_banking.domain.audit import AuditRecord
from core_banking.domain.commands import (
    ChangeAccountStatus,
    CloseAccount,
    Deposit,
    OpenAccount,
    RequestContext,
    Transfer,
)
from core_banking.domain.customers import CustomerStatus, clean_name
from core_banking.domain.errors import (
    CurrencyMismatch,
    DuplicateAccountNumber,
    InvalidInput,
    InvalidTransition,
    InvariantViolation,
    NotFound,
    RuleViolation,
    WrongAccountKind,
)
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import AccountLine, Channel, EntryType
from core_banking.domain.lending.catalog import Product, account_product_type
from core_banking.domain.lending.deposit_products import DepositProduct
from core_banking.domain.lending.errors import ProductNotActive
from core_banking.domain.money import Money, currency
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import Clock, HistoryQuery, LedgerStore, PreparedPosting, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.interest_settlement import settle_interest
from core_banking.services.ledger import prepare_money_command
from core_banking.services.postings import PostingPreparer, claim_for, customer_leg

ACCOUNT_NUMBER_ATTEMPTS = 5
MAX_PAGE = 200
OPENING_REFERENCE = "opening deposit"


class AccountService:
    def __init__(self, store: LedgerStore, clock: Clock, policy: BusinessPolicy) -> None:
        self._store = store
        self._clock = clock
        self._preparer = PostingPreparer(clock, policy)

    async def open(self, command: OpenAccount, context: RequestContext) -> Account:
        """A new deposit account for an active customer, in one currency, with its own
        limits where given (the bank's defaults otherwise). Named by a product type, or
        opened from a catalogue product: its active version, which the account keeps.

        An opening deposit is posted in the same transaction as the opening, so there is
        never an account without it nor a deposit without its account; a product's minimum
        opening balance refuses less (none included). Its idempotency key is the
        opening's: a replay returns the account and posts nothing."""
        if (command.product is None) == (command.product_id is None):
            raise InvalidInput(
                "name either a product type or a product to open the account from",
                field="product_id",
            )
        code = currency(command.currency).code
        name = clean_name(command.name, "name")
        overdraft = _minor_or(command.overdraft_limit, code, "overdraft_limit", default=0)
        min_balance = _minor_or(command.min_balance, code, "min_balance", default=None)
        daily_limit = _minor_or(command.daily_limit, code, "daily_limit", default=None)
        if daily_limit == 0:
            raise InvalidInput("a daily limit is a positive amount", field="daily_limit")
        account_id = uuid7()
        claim = (
            claim_for("account_open", command, context, account_id)
            if command.idempotency_key is not None
            else None
        )
        opening = self._opening_posting(command, code, account_id, context)

        async def work(uow: UnitOfWork) -> Account:
            now = self._clock.now()
            if claim is not None:
                existing = await uow.idempotency.claim(claim, now)
                if existing is not None:
                    return await _existing(uow, existing)
            customer = await uow.customers.lock(command.customer_id)
            if customer.status is not CustomerStatus.ACTIVE:
                raise RuleViolation(f"customer is {customer.status}", customer_id=str(customer.id))
            product_type, product = command.product, None
            if command.product_id is not None:
                product = await _active_product(uow, command.product_id)
                product_type = account_product_type(product)
                if product.currency.code != code:
                    raise CurrencyMismatch(
                        f"the product is in {product.currency.code}, not {code}",
                        product_id=str(product.product_id),
                    )
                if isinstance(product, DepositProduct):
                    deposited = command.opening_deposit
                    product.require_opening_deposit(0 if deposited is None else deposited.minor)
            if product_type is None:
                raise InvariantViolation("an account without a product type")
            await uow.accounts.ensure_chart(code, now)
            account = Account.opened(
                id=account_id,
                kind=AccountKind.DEPOSIT,
                account_type=AccountType.LIABILITY,
                currency=code,
                name=name,
                customer_id=customer.id,
                number=await unused_account_number(uow),
                now=now,
                product=product_type,
                product_id=product.product_id if product else None,
                product_version=product.version if product else None,
                overdraft_limit_minor=overdraft,
                min_balance_minor=min_balance,
                daily_limit_minor=daily_limit,
            )
            await uow.accounts.insert(account)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "account.opened",
                    "account",
                    account.id,
                    {
                        "customer_id": str(customer.id),
                        "number": account.number,
                        "currency": code,
                        "product": product_type.value,
                        **(
                            {
                                "product_id": str(product.product_id),
                                "product_version": product.version,
                            }
                            if product
                            else {}
                        ),
                    },
                )
            )
            if opening is None:
                return account
            await uow.ledger.post(opening.request, None, opening.audit)  # claimed above
            return await _existing(uow, account.id)

        return await self._store.atomically(work)

    def _opening_posting(
        self, command: OpenAccount, code: str, account_id: UUID, context: RequestContext
    ) -> PreparedPosting | None:
        """The opening deposit as a posting into the new account: a transfer from the
        funding account (its funds and limits checked as any transfer's; its customer may
        be another) or cash. Prepared before the transaction, as every posting is."""
        amount = command.opening_deposit
        if amount is None:
            if command.funding_account_id is not None:
                raise InvalidInput(
                    "a funding account needs an opening deposit to fund", field="opening_deposit"
                )
            return None
        if amount.currency.code != code:
            raise CurrencyMismatch(
                f"the opening deposit is in {amount.currency.code}, not the account's {code}"
            )
        if command.idempotency_key is None:
            raise InvalidInput(
                "an opening deposit moves money: it needs an idempotency key",
                field="idempotency_key",
            )
        key, funding = command.idempotency_key, command.funding_account_id
        deposit = (
            Deposit(account_id, amount, key, reference=OPENING_REFERENCE)
            if funding is None
            else Transfer(funding, account_id, amount, key, reference=OPENING_REFERENCE)
        )
        return prepare_money_command(self._preparer, deposit, context)

    async def change_status(self, command: ChangeAccountStatus, context: RequestContext) -> Account:
        """Freeze, unfreeze, mark dormant, reactivate or close (as :meth:`close` without a
        payout account)."""
        if command.status is AccountStatus.CLOSED:
            return await self.close(CloseAccount(command.account_id, command.reason), context)

        async def work(uow: UnitOfWork) -> Account:
            now = self._clock.now()
            account = await _own_status(uow, command.account_id, command.status)
            await uow.accounts.set_status(account.id, command.status, now)
            await uow.audit.append(
                _status_changed(context, now, account, command.status, {"reason": command.reason})
            )
            return await _existing(uow, account.id)

        return await self._store.atomically(work)

    async def close(self, command: CloseAccount, context: RequestContext) -> Account:
        """Close an account with nothing on hold, in one transaction: the interest it has
        accrued is posted first (docs/interest.md), then what it holds goes to the payout
        account, if one is named; without one, anything left refuses the closing. An
        overdrawn account is never closed. A payout moves money: it needs an idempotency
        key, and the payout account must be an active deposit account of the same customer
        in the same currency (the customer's own money, so no daily limit applies)."""
        if command.payout_account_id is not None and command.idempotency_key is None:
            raise InvalidInput(
                "a payout moves money: it needs an idempotency key", field="idempotency_key"
            )
        claim = (
            claim_for("account_close", command, context, command.account_id)
            if command.idempotency_key is not None
            else None
        )

        async def work(uow: UnitOfWork) -> Account:
            now, today = self._clock.now(), self._clock.today()
            if claim is not None:
                existing = await uow.idempotency.claim(claim, now)
                if existing is not None:
                    return await _existing(uow, existing)
            account = await _own_status(uow, command.account_id, AccountStatus.CLOSED)
            if account.held_minor:
                raise InvalidTransition(
                    "an account is closed only with nothing on hold", account_id=str(account.id)
                )
            interest = await settle_interest(uow, self._preparer, account, command, context, today)
            balance = account.posted_minor + interest
            if balance < 0 or (balance > 0 and command.payout_account_id is None):
                raise InvalidTransition(
                    "an account is closed only with a zero balance, or with a payout account "
                    "for what it holds (its interest included)",
                    account_id=str(account.id),
                    balance=Money.of(balance, account.currency).amount_string(),
                )
            if balance > 0 and command.payout_account_id is not None:
                await own_deposit_account(
                    uow,
                    command.payout_account_id,
                    _customer_of(account),
                    account.currency,
                    "an account pays out to",
                )
                await self._pay_out(
                    uow, account, command.payout_account_id, balance, command, context
                )
            await uow.accounts.set_status(account.id, AccountStatus.CLOSED, now)
            await uow.audit.append(
                _status_changed(
                    context,
                    now,
                    account,
                    AccountStatus.CLOSED,
                    {
                        "reason": command.reason,
                        "interest_minor": interest,
                        "paid_out_minor": max(balance, 0),
                        "payout_account_id": str(command.payout_account_id)
                        if command.payout_account_id
                        else None,
                    },
                )
            )
            return await _existing(uow, account.id)

        return await self._store.atomically(work)

    async def _pay_out(
        self,
        uow: UnitOfWork,
        account: Account,
        payout_account_id: UUID,
        balance_minor: int,
        command: CloseAccount,
        context: RequestContext,
    ) -> None:
        """Everything the closing account holds, to its payout account, as one transfer."""
        amount = Money.of(balance_minor, account.currency)
        legs = (
            customer_leg(account.id, Side.DEBIT, amount, funds_only=True),
            customer_leg(payout_account_id, Side.CREDIT, amount),
        )
        prepared = self._preparer.prepare(
            EntryType.TRANSFER,
            legs,
            command,
            context,
            Channel.SYSTEM,
            amount=amount,
            details={"closing_account_id": str(account.id)},
            claimed=False,
        )
        await uow.ledger.post(prepared.request, None, prepared.audit)

    async def get(self, account_id: UUID) -> Account:
        account = await self._store.read(lambda uow: uow.accounts.get(account_id))
        if account is None:
            raise NotFound("no such account", account_id=str(account_id))
        return account

    async def history(self, query: HistoryQuery) -> list[AccountLine]:
        """A page of the account's statement lines, newest first."""
        await self.get(query.account_id)
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_PAGE))
        # a statement may be a moment behind: a replica serves it (the account check above
        # is on the primary, so a just-opened account is never "not found")
        return await self._store.read_replica(lambda uow: uow.journal.history(bounded))

    async def balance_as_of(self, account_id: UUID, moment: datetime) -> int:
        """The posted balance at a past moment, from the journal line in force then."""
        await self.get(account_id)
        return await self._store.read_replica(  # a report on the past: a replica serves it
            lambda uow: uow.journal.balance_as_of(account_id, moment)
        )


def _minor_or[D: (int, None)](money: Money | None, code: str, field: str, *, default: D) -> int | D:
    if money is None:
        return default
    if money.currency.code != code:
        raise InvalidInput(f"{field} must be in the account's currency {code}", field=field)
    if money.minor < 0:
        raise InvalidInput(f"{field} cannot be negative", field=field)
    return money.minor


async def _active_product(uow: UnitOfWork, product_id: UUID) -> Product:
    """The version of ``product_id`` that opens accounts now. The product stays locked
    (shared) until the account is written, so no activation or retirement slips in
    between."""
    await uow.products.lock(product_id, shared=True)
    record = await uow.products.active(product_id)
    if record is None:
        raise ProductNotActive(
            "the product has no active version to open accounts from", product_id=str(product_id)
        )
    return record.product


async def own_deposit_account(
    uow: UnitOfWork, account_id: UUID, customer_id: UUID, code: str, purpose: str
) -> Account:
    """``account_id`` if it is an active deposit account of ``customer_id`` in ``code``;
    ``purpose`` begins the refusal's message ("a credit line draws into")."""
    account = await uow.accounts.get(account_id)
    if account is None:
        raise NotFound("no such account", account_id=str(account_id))
    if account.kind is not AccountKind.DEPOSIT or account.customer_id != customer_id:
        raise WrongAccountKind(
            f"{purpose} a deposit account of its own customer", account_id=str(account_id)
        )
    if account.currency != code:
        raise CurrencyMismatch(
            f"the deposit account is in {account.currency}, the product in {code}",
            account_id=str(account_id),
        )
    if account.status is not AccountStatus.ACTIVE:
        raise RuleViolation(f"the deposit account is {account.status}", account_id=str(account_id))
    return account


async def unused_account_number(uow: UnitOfWork) -> str:
    """A fresh account number; the unique index catches the (astronomically rare) race."""
    for _ in range(ACCOUNT_NUMBER_ATTEMPTS):
        number = new_account_number()
        if not await uow.accounts.number_taken(number):
            return number
    raise DuplicateAccountNumber("could not find a free account number; try again")


async def _own_status(uow: UnitOfWork, account_id: UUID, target: AccountStatus) -> Account:
    """The deposit account, locked, if its life cycle allows ``target``."""
    account = await uow.accounts.lock(account_id)
    if account.kind is not AccountKind.DEPOSIT:
        raise WrongAccountKind("only deposit accounts change status")
    check_transition(account.status, target)
    return account


def _status_changed(
    context: RequestContext,
    now: datetime,
    account: Account,
    target: AccountStatus,
    details: dict[str, object],
) -> AuditRecord:
    return audit_record(
        context,
        now,
        "account.status_changed",
        "account",
        account.id,
        {"from": account.status.value, "to": target.value, **details},
    )


def _customer_of(account: Account) -> UUID:
    if account.customer_id is None:
        raise InvariantViolation("a deposit account without a customer", account_id=account.id)
    return account.customer_id


async def _existing(uow: UnitOfWork, account_id: UUID) -> Account:
    account = await uow.accounts.get(account_id)
    if account is None:
        raise InvariantViolation("account vanished", account_id=account_id)
    return account
