"""Term deposits on SQLite and PostgreSQL: placing one (funded from the customer's account,
at least the product's minimum, once per idempotency key), ordinary payments kept out of it,
interest to its maturity and the payout of principal and interest, rollover into terms
counted from the first start, early closure with the penalty, a payout account that cannot
take the money, and reruns of a business date that change nothing.

Expected figures are worked out here by plain decimal arithmetic (principal x rate / 365,
rounded half to even at four places, a day at a time), never taken from the code under
test. The session database is shared and the close-of-business steps work on every
account in it, so each test uses business dates of its own (a year of its own) and looks
at its own deposits only.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from core_banking.bootstrap import Nexum, close_of_business_steps, deposit_interest_steps
from core_banking.domain.accounts import Account, AccountKind, AccountStatus
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import ChangeAccountStatus, Deposit, Reverse, Transfer, Withdraw
from core_banking.domain.errors import InsufficientFunds, InvalidTransition, WrongAccountKind
from core_banking.domain.lending.deposit_products import DepositTerm, MaturityAction, TermUnit
from core_banking.domain.lending.errors import BelowMinimumOpening, WrongProductKind
from core_banking.domain.lending.rates import Compounding, FixedRate
from core_banking.domain.lending.term_deposits import TermDeposit, TermDepositStatus
from core_banking.ports import TermDepositQuery
from core_banking.services.term_deposits import (
    CloseTermDeposit,
    OpenTermDeposit,
    TermDepositMaturity,
)
from core_banking.storage import Storage
from core_banking.storage.deposit_interest import SqlDepositInterest
from core_banking.storage.schema import (
    deposit_interest_accruals,
    journal_entries,
    journal_lines,
)
from core_banking.storage.term_deposit_maturity import SqlTermDepositMaturity
from support.banking import CONTEXT, FakeClock, assert_verified, funded_account, key, money
from support.products import create_product, deposit_terms, term_deposit_terms

RATE = Decimal("0.05")
FOUR_PLACES = Decimal("0.0001")


def ignore(_done: int, _total: int) -> None:
    return None


async def close_day(storage: Storage, day: date, *, accrue: bool = True) -> None:
    """The deposit steps of one close of business: accrual, posting, term deposit
    maturity (``accrue=False``: maturity alone, for tests about dates, not interest)."""
    accrual, posting = deposit_interest_steps(storage, 4)
    if accrue:
        await accrual.run(day, ignore)
        await posting.run(day, ignore)
    await TermDepositMaturity(SqlDepositInterest(storage), SqlTermDepositMaturity(storage)).run(
        day, ignore
    )


async def close_days(storage: Storage, first: date, last: date, **options: bool) -> None:
    day = first
    while day <= last:
        await close_day(storage, day, **options)
        day += timedelta(days=1)


def daily(principal_minor: int, rate: Decimal = RATE) -> Decimal:
    """One day's interest in major units on ``principal_minor`` cents, Actual/365F."""
    return (Decimal(principal_minor) / 100 * rate / 365).quantize(FOUR_PLACES, ROUND_HALF_EVEN)


def whole_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(ROUND_DOWN))


async def product_id(bank: Nexum, **terms: Any) -> UUID:
    record = await create_product(
        bank,
        currency="USD",
        name="Fixed term",
        terms=term_deposit_terms(**{"rate": FixedRate(RATE), **terms}),
        active=True,
    )
    return record.product.product_id


async def place(
    bank: Nexum,
    clock: FakeClock,
    on: date,
    amount: str,
    *,
    funding: Account | None = None,
    idempotency_key: str | None = None,
    **terms: Any,
) -> tuple[TermDeposit, Account]:
    """A deposit placed on business date ``on`` from a funded account (returned)."""
    funding = funding or await funded_account(bank, "100000.00")
    clock.business_date = on
    deposit = await bank.term_deposits.open(
        OpenTermDeposit(
            customer_id=_customer_of(funding),
            product_id=await product_id(bank, **terms),
            amount=money(amount),
            funding_account_id=funding.id,
            idempotency_key=idempotency_key or key(),
        ),
        CONTEXT,
    )
    return deposit, funding


def _customer_of(account: Account) -> UUID:
    assert account.customer_id is not None
    return account.customer_id


async def balance(bank: Nexum, account_id: UUID) -> int:
    return (await bank.accounts.get(account_id)).posted_minor


async def entries_on(storage: Storage, account_id: UUID) -> list[tuple[str, str, int]]:
    """(entry type, side, amount) of each line on the account, in order."""
    async with storage.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    journal_entries.c.entry_type, journal_lines.c.side, journal_lines.c.amount_minor
                )
                .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
                .where(journal_lines.c.account_id == account_id)
                .order_by(journal_lines.c.account_seq)
            )
        ).all()
    return [(row[0], str(getattr(row[1], "value", row[1])), row[2]) for row in rows]


async def counter_lines(
    storage: Storage, account_id: UUID, entry_type: str
) -> list[tuple[UUID, str, int]]:
    """The other lines (account, side, amount) of the account's entries of ``entry_type``."""
    async with storage.engine.connect() as conn:
        entries = (
            select(journal_lines.c.entry_id)
            .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
            .where(
                journal_lines.c.account_id == account_id,
                journal_entries.c.entry_type == entry_type,
            )
        )
        rows = (
            await conn.execute(
                select(
                    journal_lines.c.account_id, journal_lines.c.side, journal_lines.c.amount_minor
                )
                .where(
                    journal_lines.c.entry_id.in_(entries),
                    journal_lines.c.account_id != account_id,
                )
                .order_by(journal_lines.c.entry_id, journal_lines.c.line_no)
            )
        ).all()
    return [(row[0], str(getattr(row[1], "value", row[1])), row[2]) for row in rows]


# --- placing a deposit --------------------------------------------------------------------------


async def test_placing_moves_the_money_from_the_funding_account(bank, storage, clock):
    deposit, funding = await place(bank, clock, date(2031, 1, 31), "10000.00")

    assert await balance(bank, funding.id) == 90_000_00
    account = await bank.accounts.get(deposit.account_id)
    assert (account.kind, account.posted_minor, account.currency) == (
        AccountKind.TERM_DEPOSIT,
        10_000_00,
        "USD",
    )
    assert account.number
    assert account.customer_id == funding.customer_id
    assert (deposit.start_date, deposit.maturity_date, deposit.term_number) == (
        date(2031, 1, 31),
        date(2032, 1, 31),
        1,
    )
    assert (deposit.status, deposit.payout_account_id) == (TermDepositStatus.ACTIVE, funding.id)
    assert await entries_on(storage, deposit.account_id) == [
        ("term_deposit_opening", "C", 10_000_00)
    ]
    await assert_verified(storage)


async def test_a_repeated_key_places_once(bank, storage, clock):
    funding = await funded_account(bank, "5000.00")
    repeated = key()
    first, _ = await place(
        bank, clock, date(2031, 2, 1), "1000.00", funding=funding, idempotency_key=repeated
    )
    customer = _customer_of(funding)
    found = await bank.term_deposits.search(TermDepositQuery(limit=10, customer_id=customer))
    again = await bank.term_deposits.open(
        OpenTermDeposit(
            customer_id=customer,
            product_id=first.product_id,
            amount=money("1000.00"),
            funding_account_id=funding.id,
            idempotency_key=repeated,
        ),
        CONTEXT,
    )
    assert again.account_id == first.account_id
    assert [held.deposit.account_id for held in found] == [first.account_id]
    assert await balance(bank, funding.id) == 4_000_00


async def test_below_the_minimum_opening_balance_nothing_is_written(bank, storage, clock):
    funding = await funded_account(bank, "5000.00")
    with pytest.raises(BelowMinimumOpening):
        await place(
            bank, clock, date(2031, 3, 1), "999.99", funding=funding, minimum_opening_minor=1000_00
        )
    customer = _customer_of(funding)
    assert await bank.term_deposits.search(TermDepositQuery(limit=10, customer_id=customer)) == []
    assert await balance(bank, funding.id) == 5_000_00


async def test_more_than_the_funding_account_holds_is_refused(bank, storage, clock):
    funding = await funded_account(bank, "100.00")
    with pytest.raises(InsufficientFunds):
        await place(bank, clock, date(2031, 3, 2), "100.01", funding=funding)
    assert await balance(bank, funding.id) == 100_00


async def test_only_a_term_deposit_product_places_a_deposit(bank, clock):
    funding = await funded_account(bank)
    savings = await create_product(bank, currency="USD", terms=deposit_terms(), active=True)
    with pytest.raises(WrongProductKind):
        await bank.term_deposits.open(
            OpenTermDeposit(
                customer_id=_customer_of(funding),
                product_id=savings.product.product_id,
                amount=money("10.00"),
                funding_account_id=funding.id,
                idempotency_key=key(),
            ),
            CONTEXT,
        )


async def test_ordinary_payments_cannot_reach_a_term_deposit(bank, storage, clock):
    deposit, funding = await place(bank, clock, date(2031, 4, 1), "500.00")
    target = deposit.account_id
    attempts = (
        bank.ledger.deposit(Deposit(target, money("1.00"), key()), CONTEXT),
        bank.ledger.withdraw(Withdraw(target, money("1.00"), key()), CONTEXT),
        bank.ledger.transfer(Transfer(target, funding.id, money("1.00"), key()), CONTEXT),
        bank.ledger.transfer(Transfer(funding.id, target, money("1.00"), key()), CONTEXT),
    )
    for attempt in attempts:
        with pytest.raises(WrongAccountKind):
            await attempt
    assert await balance(bank, target) == 500_00


async def test_the_opening_entry_is_not_reversed_on_its_own(bank, storage, clock):
    deposit, _ = await place(bank, clock, date(2031, 4, 2), "500.00")
    async with storage.engine.connect() as conn:
        entry_id = await conn.scalar(
            select(journal_lines.c.entry_id).where(journal_lines.c.account_id == deposit.account_id)
        )
    with pytest.raises(InvalidTransition):
        await bank.ledger.reverse(Reverse(entry_id, "mistake", key()), CONTEXT)


# --- maturity -----------------------------------------------------------------------------------


async def test_payout_at_maturity_pays_principal_and_interest(bank, storage, clock):
    start = date(2032, 1, 10)
    deposit, funding = await place(
        bank, clock, start, "10000.00", term=DepositTerm(30, TermUnit.DAYS)
    )
    assert deposit.maturity_date == date(2032, 2, 9)
    await close_days(storage, start, date(2032, 2, 7))
    assert (await bank.term_deposits.get(deposit.account_id)).deposit.status is (
        TermDepositStatus.ACTIVE
    )
    await close_day(storage, date(2032, 2, 8))  # the term's last day

    interest = whole_cents(30 * daily(10_000_00))  # 30 x 1.3699 = 41.0970
    assert interest == 41_09
    held = await bank.term_deposits.get(deposit.account_id)
    assert (held.deposit.status, held.deposit.closed_on) == (
        TermDepositStatus.PAID_OUT,
        date(2032, 2, 8),
    )
    assert (held.account.status, held.account.posted_minor) == (AccountStatus.CLOSED, 0)
    assert await balance(bank, funding.id) == 90_000_00 + 10_000_00 + interest
    assert await counter_lines(storage, deposit.account_id, "interest_posting") == [
        (gl_account_id(GLCode.INTEREST_EXPENSE, "USD"), "D", interest)
    ]
    assert await entries_on(storage, deposit.account_id) == [
        ("term_deposit_opening", "C", 10_000_00),
        ("interest_posting", "C", interest),
        ("term_deposit_payout", "D", 10_000_00 + interest),
    ]

    await close_day(storage, date(2032, 2, 8))  # a rerun of the date
    await close_day(storage, date(2032, 2, 9))  # and the day after: nothing accrues any more
    assert len(await entries_on(storage, deposit.account_id)) == 3
    async with storage.engine.connect() as conn:
        accrued_days = await conn.scalar(
            select(func.count()).where(deposit_interest_accruals.c.account_id == deposit.account_id)
        )
    assert accrued_days == 30
    await assert_verified(storage)


async def test_rollover_terms_are_counted_from_the_first_start(bank, storage, clock):
    deposit, _ = await place(
        bank,
        clock,
        date(2033, 1, 31),
        "2000.00",
        term=DepositTerm(1, TermUnit.MONTHS),
        action=MaturityAction.ROLLOVER,
    )
    assert deposit.maturity_date == date(2033, 2, 28)

    await close_day(storage, date(2033, 2, 26), accrue=False)
    assert (await bank.term_deposits.get(deposit.account_id)).deposit.term_number == 1
    await close_day(storage, date(2033, 2, 27), accrue=False)
    second = (await bank.term_deposits.get(deposit.account_id)).deposit
    assert (second.term_number, second.term_start, second.maturity_date) == (
        2,
        date(2033, 2, 28),
        date(2033, 3, 31),  # 31 January + 2 months, not 28 February + 1 month
    )
    await close_day(storage, date(2033, 3, 30), accrue=False)
    third = (await bank.term_deposits.get(deposit.account_id)).deposit
    assert (third.term_number, third.term_start, third.maturity_date, third.status) == (
        3,
        date(2033, 3, 31),
        date(2033, 4, 30),
        TermDepositStatus.ACTIVE,
    )
    assert third.principal_minor == 2_000_00


async def test_a_rolled_over_deposit_earns_on_principal_and_interest(bank, storage, clock):
    start = date(2034, 5, 1)
    deposit, _ = await place(
        bank,
        clock,
        start,
        "20000.00",
        term=DepositTerm(10, TermUnit.DAYS),
        action=MaturityAction.ROLLOVER,
        compounding=Compounding.AT_POSTING,
    )
    await close_days(storage, start, date(2034, 5, 20))

    first = 10 * daily(20_000_00)
    first_cents = whole_cents(first)
    second_principal = 20_000_00 + first_cents
    second = 10 * daily(second_principal) + (first - Decimal(first_cents) / 100)
    held = await bank.term_deposits.get(deposit.account_id)
    assert (held.deposit.term_number, held.deposit.term_start) == (3, date(2034, 5, 21))
    assert held.deposit.principal_minor == second_principal + whole_cents(second)
    assert held.account.posted_minor == held.deposit.principal_minor
    await assert_verified(storage)


# --- early closure and awaited payouts ----------------------------------------------------------


async def test_early_closure_posts_interest_and_charges_the_penalty(bank, storage, clock):
    start = date(2035, 3, 1)
    deposit, funding = await place(bank, clock, start, "20000.00")
    await close_days(storage, start, date(2035, 3, 10))
    fee_income = gl_account_id(GLCode.FEE_INCOME, "USD")
    income_before = await balance(bank, fee_income)

    clock.business_date = date(2035, 3, 11)
    closing = key()
    closed = await bank.term_deposits.close(
        CloseTermDeposit(deposit.account_id, closing, "customer needs the money"), CONTEXT
    )

    interest = whole_cents(10 * daily(20_000_00))
    withdrawn = 20_000_00 + interest
    penalty = int((Decimal(withdrawn) * Decimal("0.01")).to_integral_value(ROUND_HALF_EVEN))
    assert (closed.status, closed.closed_on) == (TermDepositStatus.CLOSED_EARLY, date(2035, 3, 11))
    assert await balance(bank, funding.id) == 80_000_00 + withdrawn - penalty
    assert await balance(bank, fee_income) - income_before == penalty
    assert await balance(bank, deposit.account_id) == 0
    assert (await bank.accounts.get(deposit.account_id)).status is AccountStatus.CLOSED

    again = await bank.term_deposits.close(
        CloseTermDeposit(deposit.account_id, closing, "customer needs the money"), CONTEXT
    )
    assert again.status is TermDepositStatus.CLOSED_EARLY
    with pytest.raises(InvalidTransition):
        await bank.term_deposits.close(CloseTermDeposit(deposit.account_id, key()), CONTEXT)
    assert await balance(bank, funding.id) == 80_000_00 + withdrawn - penalty
    await assert_verified(storage)


async def test_a_payout_account_that_cannot_take_money_keeps_the_deposit_waiting(
    bank, storage, clock
):
    start = date(2036, 6, 1)
    deposit, funding = await place(bank, clock, start, "300.00", term=DepositTerm(3, TermUnit.DAYS))
    await bank.accounts.change_status(
        ChangeAccountStatus(funding.id, AccountStatus.FROZEN, "fraud report"), CONTEXT
    )
    await close_days(storage, start, date(2036, 6, 3), accrue=False)
    waiting = await bank.term_deposits.get(deposit.account_id)
    assert (waiting.deposit.status, waiting.account.posted_minor) == (
        TermDepositStatus.ACTIVE,
        300_00,
    )

    await bank.accounts.change_status(
        ChangeAccountStatus(funding.id, AccountStatus.ACTIVE, "cleared"), CONTEXT
    )
    await close_day(storage, date(2036, 6, 4), accrue=False)
    paid = await bank.term_deposits.get(deposit.account_id)
    assert (paid.deposit.status, paid.deposit.closed_on) == (
        TermDepositStatus.PAID_OUT,
        date(2036, 6, 4),
    )
    assert await balance(bank, funding.id) == 100_000_00
    await assert_verified(storage)


def test_maturity_runs_after_the_interest_posting(storage):
    names = [step.name for step in close_of_business_steps(storage, FakeClock())]
    assert names.index("deposit_interest_posting") < names.index("term_deposit_maturity")
