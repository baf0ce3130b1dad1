"""Opening an account with an opening deposit, through the account service, on SQLite and
PostgreSQL: a product's minimum opening balance refuses less (and nothing is written: no
account, no entry), the deposit is posted with the opening (cash into the vault, or a
transfer from a funding account, whose funds and currency are checked), a replay of the
opening returns the same account and posts nothing more, and the ledger verifies clean.

Expected figures are the test's own; the session database is shared, so each test looks
at its own accounts and customers only.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from core_banking.bootstrap import Nexum
from core_banking.domain.accounts import Account, ProductType
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import Deposit, OpenAccount
from core_banking.domain.customers import Customer
from core_banking.domain.errors import CurrencyMismatch, InsufficientFunds, InvalidInput
from core_banking.domain.ledger import EntryType
from core_banking.domain.lending.errors import BelowMinimumOpening
from core_banking.storage.schema import accounts, journal_entries, journal_lines
from support.banking import CONTEXT, assert_verified, key, money, new_account, new_customer
from support.products import create_product, deposit_terms

MINIMUM_MINOR = 100_00


async def minimum_product(bank: Nexum, currency: str = "USD") -> UUID:
    record = await create_product(
        bank,
        currency=currency,
        terms=deposit_terms(minimum_opening_minor=MINIMUM_MINOR),
        active=True,
    )
    return record.product.product_id


def opening(customer: Customer, product_id: UUID, **changes: Any) -> OpenAccount:
    fields: dict[str, Any] = {
        "customer_id": customer.id,
        "product": None,
        "currency": "USD",
        "name": "Opened with money",
        "product_id": product_id,
        "idempotency_key": key(),
        **changes,
    }
    return OpenAccount(**fields)


async def balance_of(bank: Nexum, account_id: UUID) -> int:
    async with bank.storage.engine.connect() as conn:
        found = await conn.scalar(
            select(accounts.c.posted_minor).where(accounts.c.id == account_id)
        )
    return int(found)


async def accounts_of(bank: Nexum, customer: Customer) -> int:
    async with bank.storage.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(accounts).where(accounts.c.customer_id == customer.id)
        )
    return int(count)


async def entry_count(bank: Nexum) -> int:
    async with bank.storage.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(journal_entries)))


async def entries_on(bank: Nexum, account: Account) -> list[tuple[str, str | None, str, int]]:
    """(entry type, reference, side, amount) of each line on ``account``, oldest first."""
    async with bank.storage.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    journal_entries.c.entry_type,
                    journal_entries.c.reference,
                    journal_lines.c.side,
                    journal_lines.c.amount_minor,
                )
                .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
                .where(journal_lines.c.account_id == account.id)
                .order_by(journal_lines.c.account_seq)
            )
        ).all()
    return [(row[0], row[1], str(getattr(row[2], "value", row[2])), row[3]) for row in rows]


# --- the minimum ------------------------------------------------------------------------------


@pytest.mark.parametrize("deposited", [None, "99.99"])
async def test_less_than_the_minimum_opens_nothing(bank, deposited):
    product_id = await minimum_product(bank)
    customer = await new_customer(bank)
    entries = await entry_count(bank)
    command = opening(
        customer, product_id, opening_deposit=None if deposited is None else money(deposited)
    )

    with pytest.raises(BelowMinimumOpening) as refused:
        await bank.accounts.open(command, CONTEXT)

    assert refused.value.code == "below_minimum_opening_balance"
    assert refused.value.context["minimum_opening_minor"] == MINIMUM_MINOR
    assert await accounts_of(bank, customer) == 0
    assert await entry_count(bank) == entries
    # the key was not used up: the corrected request opens the account
    corrected = opening(
        customer,
        product_id,
        opening_deposit=money("100.00"),
        idempotency_key=command.idempotency_key,
    )
    assert (await bank.accounts.open(corrected, CONTEXT)).posted_minor == MINIMUM_MINOR


@pytest.mark.parametrize("deposited", ["100.00", "250.50"])
async def test_the_minimum_or_more_is_deposited_in_cash_with_the_opening(bank, deposited):
    product_id = await minimum_product(bank)
    customer = await new_customer(bank)
    cash = gl_account_id(GLCode.CASH, "USD")
    vault = await balance_of(bank, cash)

    account = await bank.accounts.open(
        opening(customer, product_id, opening_deposit=money(deposited)), CONTEXT
    )

    amount = money(deposited).minor
    assert account.posted_minor == amount
    assert await balance_of(bank, account.id) == amount
    assert await entries_on(bank, account) == [
        (EntryType.DEPOSIT.value, "opening deposit", "C", amount)
    ]
    assert await balance_of(bank, cash) >= vault + amount  # other tests share the vault
    await assert_verified(bank.storage)


async def test_an_account_without_a_product_takes_an_opening_deposit_of_any_size(bank):
    customer = await new_customer(bank)
    command = OpenAccount(
        customer.id,
        ProductType.CHECKING,
        "USD",
        "Plain",
        idempotency_key=key(),
        opening_deposit=money("0.01"),
    )
    account = await bank.accounts.open(command, CONTEXT)
    assert await balance_of(bank, account.id) == 1


# --- funded from an account -------------------------------------------------------------------


async def test_a_funding_account_pays_the_opening_deposit(bank):
    product_id = await minimum_product(bank)
    payer = await new_account(bank)  # another customer's: allowed
    await bank.ledger.deposit(Deposit(payer.id, money("300.00"), key()), CONTEXT)
    customer = await new_customer(bank)

    account = await bank.accounts.open(
        opening(customer, product_id, opening_deposit=money("120.00"), funding_account_id=payer.id),
        CONTEXT,
    )

    assert await balance_of(bank, account.id) == 120_00
    assert await balance_of(bank, payer.id) == 300_00 - 120_00
    assert await entries_on(bank, account) == [
        (EntryType.TRANSFER.value, "opening deposit", "C", 120_00)
    ]
    assert (await entries_on(bank, payer))[-1] == (
        EntryType.TRANSFER.value,
        "opening deposit",
        "D",
        120_00,
    )
    await assert_verified(bank.storage)


async def test_a_funding_account_without_the_funds_opens_nothing(bank):
    product_id = await minimum_product(bank)
    payer = await new_account(bank)
    await bank.ledger.deposit(Deposit(payer.id, money("100.00"), key()), CONTEXT)
    customer = await new_customer(bank)
    entries = await entry_count(bank)

    with pytest.raises(InsufficientFunds):
        await bank.accounts.open(
            opening(
                customer, product_id, opening_deposit=money("100.01"), funding_account_id=payer.id
            ),
            CONTEXT,
        )

    assert await accounts_of(bank, customer) == 0
    assert await entry_count(bank) == entries
    assert await balance_of(bank, payer.id) == 100_00


async def test_an_opening_deposit_in_another_currency_is_refused(bank):
    product_id = await minimum_product(bank)
    customer = await new_customer(bank)
    euros = await new_account(bank, "EUR")
    await bank.ledger.deposit(Deposit(euros.id, money("500.00", "EUR"), key()), CONTEXT)
    entries = await entry_count(bank)

    with pytest.raises(CurrencyMismatch):
        await bank.accounts.open(
            opening(customer, product_id, opening_deposit=money("100.00", "EUR")), CONTEXT
        )
    with pytest.raises(CurrencyMismatch):  # the funding account's currency, by the ledger
        await bank.accounts.open(
            opening(
                customer, product_id, opening_deposit=money("100.00"), funding_account_id=euros.id
            ),
            CONTEXT,
        )

    assert await accounts_of(bank, customer) == 0
    assert await entry_count(bank) == entries
    assert await balance_of(bank, euros.id) == 500_00


async def test_a_funding_account_without_a_deposit_or_a_deposit_without_a_key_is_refused(bank):
    product_id = await minimum_product(bank)
    customer = await new_customer(bank)
    payer = await new_account(bank)
    with pytest.raises(InvalidInput) as no_deposit:
        await bank.accounts.open(
            opening(customer, product_id, funding_account_id=payer.id), CONTEXT
        )
    assert no_deposit.value.context["field"] == "opening_deposit"
    with pytest.raises(InvalidInput) as no_key:
        await bank.accounts.open(
            opening(customer, product_id, opening_deposit=money("100.00"), idempotency_key=None),
            CONTEXT,
        )
    assert no_key.value.context["field"] == "idempotency_key"
    assert await accounts_of(bank, customer) == 0


# --- idempotency ------------------------------------------------------------------------------


async def test_a_replayed_opening_returns_the_account_and_posts_once(bank):
    product_id = await minimum_product(bank)
    payer = await new_account(bank)
    await bank.ledger.deposit(Deposit(payer.id, money("500.00"), key()), CONTEXT)
    customer = await new_customer(bank)
    command = opening(
        customer, product_id, opening_deposit=money("150.00"), funding_account_id=payer.id
    )
    entries = await entry_count(bank)

    first = await bank.accounts.open(command, CONTEXT)
    again = await bank.accounts.open(command, CONTEXT)

    assert again == first
    assert await accounts_of(bank, customer) == 1
    assert await entry_count(bank) == entries + 1
    assert await balance_of(bank, first.id) == 150_00
    assert await balance_of(bank, payer.id) == 500_00 - 150_00
    await assert_verified(bank.storage)
