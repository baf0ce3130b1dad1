"""Deposit maintenance fees through the close-of-business step, on SQLite and PostgreSQL:
charged on the last day of a month only and once per account and month (a rerun changes
nothing), the fee income credited, an account whose available funds (overdraft included)
do not cover the fee waived and recorded with the reason, closed accounts and products
without a fee left alone, and the step's place in the close of business.

Expected figures are the test's own (the fee, the deposit, their difference); the session
database is shared, so each test looks at its own accounts only, and each uses a month of
its own far enough ahead that no other test charges it.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from core_banking.bootstrap import Nexum, close_of_business_steps
from core_banking.domain.accounts import Account, AccountStatus
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import ChangeAccountStatus, Deposit, OpenAccount, PlaceHold
from core_banking.services.maintenance_fees import DepositMaintenanceFees, is_month_end
from core_banking.storage import Storage
from core_banking.storage.maintenance_fees import SqlMaintenanceFees
from core_banking.storage.schema import (
    accounts,
    deposit_maintenance_fees,
    journal_entries,
    journal_lines,
)
from support.banking import (
    CONTEXT,
    NoClock,
    assert_verified,
    entry_count,
    key,
    money,
    new_account,
    new_customer,
)
from support.products import create_product, deposit_terms

FEE_MINOR = 5_00


def ignore(_done: int, _total: int) -> None:
    return None


async def run_step(storage: Storage, day: date) -> int:
    return await DepositMaintenanceFees(SqlMaintenanceFees(storage)).run(day, ignore)


async def fee_account(
    bank: Nexum, fee_minor: int = FEE_MINOR, overdraft: str | None = None
) -> Account:
    record = await create_product(
        bank,
        currency="USD",
        terms=deposit_terms(monthly_maintenance_fee_minor=fee_minor),
        active=True,
    )
    customer = await new_customer(bank)
    return await bank.accounts.open(
        OpenAccount(
            customer.id,
            None,
            "USD",
            "Fee-paying",
            overdraft_limit=None if overdraft is None else money(overdraft),
            product_id=record.product.product_id,
        ),
        CONTEXT,
    )


async def deposit(bank: Nexum, account: Account, amount: str) -> None:
    await bank.ledger.deposit(Deposit(account.id, money(amount), key()), CONTEXT)


async def balance_of(storage: Storage, account_id: UUID) -> int:
    async with storage.engine.connect() as conn:
        found = await conn.scalar(
            select(accounts.c.posted_minor).where(accounts.c.id == account_id)
        )
    return int(found)


async def fee_entries(storage: Storage, account: Account) -> list[list[tuple[Any, ...]]]:
    """The lines (account, side, amount, business date) of each fee entry on ``account``."""
    async with storage.engine.connect() as conn:
        entry_ids = (
            (
                await conn.execute(
                    select(journal_lines.c.entry_id)
                    .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
                    .where(
                        journal_lines.c.account_id == account.id,
                        journal_entries.c.entry_type == "maintenance_fee",
                    )
                    .order_by(journal_lines.c.account_seq)
                )
            )
            .scalars()
            .all()
        )
        entries = []
        for entry_id in entry_ids:
            lines = (
                await conn.execute(
                    select(
                        journal_lines.c.account_id,
                        journal_lines.c.side,
                        journal_lines.c.amount_minor,
                        journal_entries.c.business_date,
                    )
                    .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
                    .where(journal_lines.c.entry_id == entry_id)
                    .order_by(journal_lines.c.line_no)
                )
            ).all()
            entries.append(
                [
                    (line[0], str(getattr(line[1], "value", line[1])), line[2], line[3])
                    for line in lines
                ]
            )
    return entries


async def months_of(storage: Storage, account: Account) -> dict[date, tuple[Any, ...]]:
    """month -> (business date, fee, charged entry or None, waived reason or None)."""
    table = deposit_maintenance_fees
    async with storage.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    table.c.month,
                    table.c.business_date,
                    table.c.fee_minor,
                    table.c.entry_id,
                    table.c.waived_reason,
                ).where(table.c.account_id == account.id)
            )
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


# --- the calendar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 1, 31), True),
        (date(2027, 1, 30), False),
        (date(2027, 2, 28), True),
        (date(2028, 2, 28), False),  # a leap year
        (date(2028, 2, 29), True),
        (date(2027, 4, 30), True),
        (date(2027, 12, 31), True),
        (date(2027, 12, 1), False),
    ],
)
def test_the_month_ends_on_its_last_day(day, expected):
    assert is_month_end(day) is expected


def test_the_close_of_business_charges_fees_right_after_the_interest_steps(storage):
    names = [step.name for step in close_of_business_steps(storage, NoClock())]
    posting = names.index("deposit_interest_posting")
    assert names[posting + 1] == "deposit_maintenance_fees"


# --- charging ---------------------------------------------------------------------------------


async def test_the_fee_is_charged_on_the_last_day_of_the_month_only(bank, storage):
    account = await fee_account(bank)
    await deposit(bank, account, "100.00")
    fee_income = gl_account_id(GLCode.FEE_INCOME, "USD")

    for day in (date(2031, 1, 1), date(2031, 1, 15), date(2031, 1, 30)):
        assert await run_step(storage, day) == 0
    assert await fee_entries(storage, account) == []
    assert await months_of(storage, account) == {}
    income_before = await balance_of(storage, fee_income)

    assert await run_step(storage, date(2031, 1, 31)) >= 1

    assert await fee_entries(storage, account) == [
        [
            (account.id, "D", FEE_MINOR, date(2031, 1, 31)),
            (fee_income, "C", FEE_MINOR, date(2031, 1, 31)),
        ]
    ]
    assert await balance_of(storage, account.id) == 100_00 - FEE_MINOR
    # the income grew by at least this fee (other tests' accounts share the month's run)
    assert await balance_of(storage, fee_income) >= income_before + FEE_MINOR
    month = await months_of(storage, account)
    assert list(month) == [date(2031, 1, 1)]
    business_date, fee, entry_id, reason = month[date(2031, 1, 1)]
    assert (business_date, fee, reason) == (date(2031, 1, 31), FEE_MINOR, None)
    assert entry_id is not None
    await assert_verified(storage)


async def test_a_rerun_of_the_month_end_charges_nothing_more(bank, storage):
    account = await fee_account(bank)
    await deposit(bank, account, "20.00")
    await run_step(storage, date(2031, 2, 28))
    entries, balance = await entry_count(storage), await balance_of(storage, account.id)
    recorded = await months_of(storage, account)
    assert balance == 20_00 - FEE_MINOR

    assert await run_step(storage, date(2031, 2, 28)) == 0

    assert await entry_count(storage) == entries
    assert await balance_of(storage, account.id) == balance
    assert await months_of(storage, account) == recorded
    assert len(await fee_entries(storage, account)) == 1


async def test_each_month_is_charged_once(bank, storage):
    account = await fee_account(bank, fee_minor=2_50)
    await deposit(bank, account, "10.00")

    for day in (date(2031, 3, 31), date(2031, 4, 30), date(2031, 4, 30), date(2031, 5, 31)):
        await run_step(storage, day)

    assert [entry[0][3] for entry in await fee_entries(storage, account)] == [
        date(2031, 3, 31),
        date(2031, 4, 30),
        date(2031, 5, 31),
    ]
    assert await balance_of(storage, account.id) == 10_00 - 3 * 2_50
    assert sorted(await months_of(storage, account)) == [
        date(2031, 3, 1),
        date(2031, 4, 1),
        date(2031, 5, 1),
    ]
    await assert_verified(storage)


# --- insufficient funds -----------------------------------------------------------------------


async def test_a_fee_the_funds_do_not_cover_is_waived_and_recorded(bank, storage):
    short = await fee_account(bank)
    await deposit(bank, short, "4.99")
    exact = await fee_account(bank)
    await deposit(bank, exact, "5.00")
    empty = await fee_account(bank)
    entries = await entry_count(storage)

    await run_step(storage, date(2031, 6, 30))

    assert await fee_entries(storage, short) == []
    assert await balance_of(storage, short.id) == 4_99  # never a part of the fee
    assert await months_of(storage, short) == {
        date(2031, 6, 1): (date(2031, 6, 30), FEE_MINOR, None, "insufficient_funds")
    }
    assert await months_of(storage, empty) == {
        date(2031, 6, 1): (date(2031, 6, 30), FEE_MINOR, None, "insufficient_funds")
    }
    assert await balance_of(storage, exact.id) == 0
    assert len(await fee_entries(storage, exact)) == 1
    assert await entry_count(storage) >= entries + 1

    # a waived month stays waived: funds arriving later do not bring its fee back
    await deposit(bank, short, "100.00")
    await run_step(storage, date(2031, 6, 30))
    assert await fee_entries(storage, short) == []
    assert await balance_of(storage, short.id) == 104_99
    await assert_verified(storage)


async def test_the_overdraft_counts_towards_the_fee(bank, storage):
    within = await fee_account(bank, overdraft="10.00")
    await deposit(bank, within, "3.00")
    beyond = await fee_account(bank, overdraft="1.00")
    await deposit(bank, beyond, "3.00")

    await run_step(storage, date(2031, 7, 31))

    assert await balance_of(storage, within.id) == 3_00 - FEE_MINOR  # -2.00, in the overdraft
    assert len(await fee_entries(storage, within)) == 1
    assert await balance_of(storage, beyond.id) == 3_00
    assert (await months_of(storage, beyond))[date(2031, 7, 1)][3] == "insufficient_funds"
    await assert_verified(storage)


async def test_held_money_does_not_pay_the_fee(bank, storage):
    held = await fee_account(bank)
    await deposit(bank, held, "10.00")
    await bank.holds.place(PlaceHold(held.id, money("6.00"), key()), CONTEXT)  # 4.00 left
    free = await fee_account(bank)
    await deposit(bank, free, "10.00")
    await bank.holds.place(PlaceHold(free.id, money("5.00"), key()), CONTEXT)  # 5.00 left

    await run_step(storage, date(2031, 10, 31))

    assert await balance_of(storage, held.id) == 10_00
    assert (await months_of(storage, held))[date(2031, 10, 1)][3] == "insufficient_funds"
    assert await balance_of(storage, free.id) == 10_00 - FEE_MINOR
    await assert_verified(storage)


# --- which accounts ---------------------------------------------------------------------------


async def test_frozen_and_dormant_accounts_pay_closed_feeless_and_productless_ones_do_not(
    bank, storage
):
    frozen, dormant, closed = [await fee_account(bank) for _ in range(3)]
    feeless = await fee_account(bank, fee_minor=0)
    plain = await new_account(bank)
    for account in (frozen, dormant, feeless, plain):
        await deposit(bank, account, "50.00")
    for account, status in (
        (frozen, AccountStatus.FROZEN),
        (dormant, AccountStatus.DORMANT),
        (closed, AccountStatus.CLOSED),
    ):
        await bank.accounts.change_status(ChangeAccountStatus(account.id, status, "test"), CONTEXT)

    await run_step(storage, date(2031, 8, 31))

    for paying in (frozen, dormant):
        assert await balance_of(storage, paying.id) == 50_00 - FEE_MINOR
        assert len(await fee_entries(storage, paying)) == 1
    for spared in (closed, feeless, plain):
        assert await fee_entries(storage, spared) == []
        assert await months_of(storage, spared) == {}
    assert await balance_of(storage, feeless.id) == 50_00
    assert await balance_of(storage, plain.id) == 50_00
    await assert_verified(storage)
