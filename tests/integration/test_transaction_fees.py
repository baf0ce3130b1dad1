"""Deposit transaction fees through the close-of-business step, on SQLite and PostgreSQL:
the product's fee times the account's fee-bearing debits of the business date (withdrawals,
transfers out, external payments out, captured holds), one entry per account and day, the
fee income credited; other entry types, other days and incoming money cost nothing; an
account whose available funds do not cover the day's fees waived and recorded with the
reason; once per account and day (a rerun changes nothing); products without a fee, plain
accounts and closed accounts left alone; the step's place in the close of business.

Expected figures are the test's own (the fee, the debits, the deposits); the session
database is shared, so each test looks at its own accounts only, and each posts on a
business date of its own far enough ahead that no other test posts on it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, text

from conftest import settings_for
from core_banking.bootstrap import Nexum, build, close_of_business_steps
from core_banking.domain.accounts import Account, AccountStatus
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import (
    CaptureHold,
    ChangeAccountStatus,
    ChargeFee,
    Counterparty,
    Deposit,
    OpenAccount,
    PlaceHold,
    ReceiveExternalTransfer,
    Reverse,
    SendExternalTransfer,
    Transfer,
    Withdraw,
)
from core_banking.migrations import MigrationManager
from core_banking.services.transaction_fees import DepositTransactionFees
from core_banking.storage import Storage
from core_banking.storage.schema import (
    accounts,
    deposit_transaction_fees,
    journal_entries,
    journal_lines,
)
from core_banking.storage.transaction_fees import SqlTransactionFees
from support.banking import (
    CONTEXT,
    FakeClock,
    NoClock,
    assert_verified,
    entry_count,
    key,
    money,
    new_account,
    new_customer,
)
from support.databases import REVISIONS, migrate
from support.products import create_product, deposit_terms

FEE_MINOR = 25
PAYEE = Counterparty("Grace Hopper", "DE89370400440532013000")


def ignore(_done: int, _total: int) -> None:
    return None


async def run_step(storage: Storage, day: date) -> int:
    return await DepositTransactionFees(SqlTransactionFees(storage)).run(day, ignore)


async def fee_account(
    bank: Nexum, fee_minor: int = FEE_MINOR, overdraft: str | None = None
) -> Account:
    record = await create_product(
        bank, currency="USD", terms=deposit_terms(transaction_fee_minor=fee_minor), active=True
    )
    customer = await new_customer(bank)
    return await bank.accounts.open(
        OpenAccount(
            customer.id,
            None,
            "USD",
            "Per-transaction fees",
            overdraft_limit=None if overdraft is None else money(overdraft),
            product_id=record.product.product_id,
        ),
        CONTEXT,
    )


async def deposit(bank: Nexum, account: Account, amount: str) -> UUID:
    return (await bank.ledger.deposit(Deposit(account.id, money(amount), key()), CONTEXT)).entry.id


async def withdraw(bank: Nexum, account: Account, amount: str) -> None:
    await bank.ledger.withdraw(Withdraw(account.id, money(amount), key()), CONTEXT)


async def balance_of(storage: Storage, account_id: UUID) -> int:
    async with storage.engine.connect() as conn:
        found = await conn.scalar(
            select(accounts.c.posted_minor).where(accounts.c.id == account_id)
        )
    return int(found)


async def fee_entries(storage: Storage, account: Account) -> list[dict[str, Any]]:
    """Each transaction fee entry on ``account``: its header and its lines (account, side,
    amount)."""
    entries = journal_entries
    async with storage.engine.connect() as conn:
        headers = (
            await conn.execute(
                select(
                    entries.c.id, entries.c.business_date, entries.c.reference, entries.c.metadata
                )
                .join(journal_lines, journal_lines.c.entry_id == entries.c.id)
                .where(
                    journal_lines.c.account_id == account.id,
                    entries.c.entry_type == "transaction_fee",
                )
                .order_by(journal_lines.c.account_seq)
            )
        ).all()
        found = []
        for header in headers:
            lines = (
                await conn.execute(
                    select(
                        journal_lines.c.account_id,
                        journal_lines.c.side,
                        journal_lines.c.amount_minor,
                    )
                    .where(journal_lines.c.entry_id == header.id)
                    .order_by(journal_lines.c.line_no)
                )
            ).all()
            found.append(
                {
                    "id": header.id,
                    "business_date": header.business_date,
                    "reference": header.reference,
                    "metadata": header.metadata,
                    "lines": [
                        (line[0], str(getattr(line[1], "value", line[1])), line[2])
                        for line in lines
                    ],
                }
            )
    return found


async def days_of(storage: Storage, account: Account) -> dict[date, tuple[Any, ...]]:
    """business date -> (debits, fee, charged entry or None, waived reason or None)."""
    table = deposit_transaction_fees
    async with storage.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    table.c.business_date,
                    table.c.debits,
                    table.c.fee_minor,
                    table.c.entry_id,
                    table.c.waived_reason,
                ).where(table.c.account_id == account.id)
            )
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


# --- the step's place -------------------------------------------------------------------------


def test_the_close_of_business_charges_transaction_fees_after_the_maintenance_fee(storage):
    names = [step.name for step in close_of_business_steps(storage, NoClock())]
    maintenance = names.index("deposit_maintenance_fees")
    assert names[maintenance + 1] == "deposit_transaction_fees"
    assert names.index("deposit_interest_accrual") < maintenance


# --- charging ---------------------------------------------------------------------------------


async def test_the_fee_is_charged_once_per_fee_bearing_debit_of_the_day(bank, storage, clock):
    day = date(2032, 1, 14)
    account = await fee_account(bank)
    other = await new_account(bank)
    clock.business_date = day - timedelta(days=1)
    await deposit(bank, account, "100.00")
    await withdraw(bank, account, "1.00")  # the day before: not D's
    clock.business_date = day
    await withdraw(bank, account, "2.00")
    await withdraw(bank, account, "3.00")
    await bank.ledger.transfer(Transfer(account.id, other.id, money("4.00"), key()), CONTEXT)
    await bank.ledger.send_external(
        SendExternalTransfer(account.id, money("5.00"), PAYEE, key()), CONTEXT
    )
    hold = await bank.holds.place(PlaceHold(account.id, money("6.00"), key()), CONTEXT)
    await bank.holds.capture(CaptureHold(hold.id, key(), amount=money("6.00")), CONTEXT)
    clock.business_date = day + timedelta(days=1)
    await withdraw(bank, account, "7.00")  # the day after: not D's
    before = 100_00 - 1_00 - 2_00 - 3_00 - 4_00 - 5_00 - 6_00 - 7_00
    assert await balance_of(storage, account.id) == before
    fee_income = gl_account_id(GLCode.FEE_INCOME, "USD")
    income_before = await balance_of(storage, fee_income)

    assert await run_step(storage, day) >= 1

    [entry] = await fee_entries(storage, account)
    assert entry["lines"] == [(account.id, "D", 5 * FEE_MINOR), (fee_income, "C", 5 * FEE_MINOR)]
    assert entry["business_date"] == day
    assert entry["reference"] == "transaction fees 2032-01-14, 5 debits"
    assert entry["metadata"] == {"business_date": "2032-01-14", "debits": 5}
    assert await balance_of(storage, account.id) == before - 5 * FEE_MINOR
    assert await balance_of(storage, fee_income) >= income_before + 5 * FEE_MINOR
    assert await days_of(storage, account) == {day: (5, 5 * FEE_MINOR, entry["id"], None)}
    await assert_verified(storage)


async def test_money_coming_in_and_the_banks_own_entries_cost_nothing(bank, storage, clock):
    day = date(2032, 2, 9)
    clock.business_date = day
    account = await fee_account(bank)
    payer = await new_account(bank)
    await deposit(bank, payer, "50.00")
    mistaken = await deposit(bank, account, "100.00")
    await bank.ledger.transfer(Transfer(payer.id, account.id, money("10.00"), key()), CONTEXT)
    await bank.ledger.receive_external(
        ReceiveExternalTransfer(account.id, money("20.00"), PAYEE, key()), CONTEXT
    )
    await bank.ledger.charge_fee(ChargeFee(account.id, money("1.00"), "statement", key()), CONTEXT)
    await bank.ledger.reverse(Reverse(mistaken, "keyed twice", key()), CONTEXT)  # a debit
    entries = await entry_count(storage)

    await run_step(storage, day)

    assert await fee_entries(storage, account) == []
    assert await days_of(storage, account) == {}
    assert await balance_of(storage, account.id) == 10_00 + 20_00 - 1_00
    assert await entry_count(storage) == entries  # nor the payer's transfer: no fee product
    await assert_verified(storage)


async def test_a_rerun_of_the_day_charges_nothing_more(bank, storage, clock):
    day = date(2032, 3, 3)
    clock.business_date = day
    account = await fee_account(bank)
    await deposit(bank, account, "20.00")
    await withdraw(bank, account, "5.00")
    await withdraw(bank, account, "5.00")
    await run_step(storage, day)
    entries, balance = await entry_count(storage), await balance_of(storage, account.id)
    recorded = await days_of(storage, account)
    assert balance == 10_00 - 2 * FEE_MINOR

    assert await run_step(storage, day) == 0

    assert await entry_count(storage) == entries
    assert await balance_of(storage, account.id) == balance
    assert await days_of(storage, account) == recorded
    assert len(await fee_entries(storage, account)) == 1
    await assert_verified(storage)


async def test_each_day_is_charged_for_its_own_debits(bank, storage, clock):
    first, second = date(2032, 4, 6), date(2032, 4, 7)
    account = await fee_account(bank, fee_minor=1_00)
    clock.business_date = first
    await deposit(bank, account, "50.00")
    await withdraw(bank, account, "1.00")
    clock.business_date = second
    for _ in range(3):
        await withdraw(bank, account, "1.00")

    await run_step(storage, first)
    await run_step(storage, second)

    assert [
        (entry["business_date"], entry["lines"][0][2])
        for entry in await fee_entries(storage, account)
    ] == [(first, 1_00), (second, 3_00)]
    assert await balance_of(storage, account.id) == 50_00 - 4_00 - 4_00
    assert sorted(await days_of(storage, account)) == [first, second]
    await assert_verified(storage)


# --- insufficient funds -----------------------------------------------------------------------


async def test_fees_the_funds_do_not_cover_are_waived_and_recorded(bank, storage, clock):
    day = date(2032, 5, 11)
    clock.business_date = day
    short = await fee_account(bank)
    await deposit(bank, short, "10.49")
    await withdraw(bank, short, "5.00")
    await withdraw(bank, short, "5.00")  # 0.49 left, 0.50 owed
    exact = await fee_account(bank)
    await deposit(bank, exact, "10.50")
    await withdraw(bank, exact, "5.00")
    await withdraw(bank, exact, "5.00")  # 0.50 left, 0.50 owed
    within = await fee_account(bank, overdraft="1.00")
    await deposit(bank, within, "1.00")
    await withdraw(bank, within, "1.00")  # 0.00 left, 0.25 owed, within the overdraft

    await run_step(storage, day)

    assert await fee_entries(storage, short) == []
    assert await balance_of(storage, short.id) == 49  # never a part of the fees
    assert await days_of(storage, short) == {day: (2, 2 * FEE_MINOR, None, "insufficient_funds")}
    assert await balance_of(storage, exact.id) == 0
    assert len(await fee_entries(storage, exact)) == 1
    assert await balance_of(storage, within.id) == -FEE_MINOR
    assert len(await fee_entries(storage, within)) == 1

    # a waived day stays waived: funds arriving later do not bring its fees back
    await deposit(bank, short, "100.00")
    await run_step(storage, day)
    assert await fee_entries(storage, short) == []
    assert await balance_of(storage, short.id) == 100_49
    await assert_verified(storage)


# --- which accounts ---------------------------------------------------------------------------


async def test_feeless_plain_and_closed_accounts_pay_nothing(bank, storage, clock):
    day = date(2032, 6, 15)
    clock.business_date = day
    feeless = await fee_account(bank, fee_minor=0)
    plain = await new_account(bank)
    closed = await fee_account(bank)
    frozen = await fee_account(bank)
    for account in (feeless, plain, closed, frozen):
        await deposit(bank, account, "10.00")
        await withdraw(bank, account, "10.00" if account is closed else "1.00")
    await bank.accounts.change_status(
        ChangeAccountStatus(closed.id, AccountStatus.CLOSED, "test"), CONTEXT
    )
    await bank.accounts.change_status(
        ChangeAccountStatus(frozen.id, AccountStatus.FROZEN, "test"), CONTEXT
    )

    await run_step(storage, day)

    for spared in (feeless, plain, closed):
        assert await fee_entries(storage, spared) == []
        assert await days_of(storage, spared) == {}
    assert await balance_of(storage, feeless.id) == 9_00
    assert await balance_of(storage, plain.id) == 9_00
    # a frozen account pays for what it did before it was frozen, as maintenance fees go
    assert await balance_of(storage, frozen.id) == 9_00 - FEE_MINOR
    await assert_verified(storage)


# --- the migration ----------------------------------------------------------------------------


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on the backend under test."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url


async def fee_terms(storage: Storage) -> list[tuple[Any, ...]]:
    async with storage.engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM deposit_fee_terms"))
        return [tuple(row) for row in rows]


async def test_the_migration_has_the_fee_terms_derived_again_and_goes_down(own_url):
    """Down from 0011_transaction_fees keeps the derived maintenance fees; up again deletes
    the derived rows, which the next fee step derives with the transaction fee."""
    migrate(own_url)
    bank = build(settings_for(own_url), clock=FakeClock())
    try:
        account = await fee_account(bank, fee_minor=40)
        await run_step(bank.storage, date(2032, 7, 1))
        [(_, _, maintenance_minor, transaction_minor)] = await fee_terms(bank.storage)
        assert (maintenance_minor, transaction_minor) == (0, 40)
    finally:
        await bank.aclose()

    manager = MigrationManager(own_url)
    later = list(REVISIONS[REVISIONS.index("0011_transaction_fees") :])
    assert manager.migrate_down("0010_term_deposits") == later[::-1]
    assert manager.migrate_up() == later

    bank = build(settings_for(own_url), clock=FakeClock(business_date=date(2032, 7, 2)))
    try:
        assert await fee_terms(bank.storage) == []
        await deposit(bank, account, "10.00")
        await withdraw(bank, account, "1.00")
        await run_step(bank.storage, date(2032, 7, 2))
        assert [row[2:] for row in await fee_terms(bank.storage)] == [(0, 40)]
        assert await balance_of(bank.storage, account.id) == 9_00 - 40
        await assert_verified(bank.storage)
    finally:
        await bank.aclose()
