"""The ledger's money operations, end to end through the services, on SQLite and PostgreSQL.

Every test opens its own customers and accounts. The bank's general-ledger accounts are
shared by the whole session, so their movements are measured as differences.

A refusal must leave nothing behind: `assert_refused` checks that every account involved
is exactly as it was, that no journal entry was written and that the idempotency key was
not consumed (the same key then succeeds once the cause is fixed).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from core_banking.bootstrap import Nexum
from core_banking.domain.accounts import Account, AccountStatus, Side
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import (
    ChangeAccountStatus,
    ChargeFee,
    Counterparty,
    Deposit,
    PlaceHold,
    ReceiveExternalTransfer,
    RequestContext,
    Reverse,
    SendExternalTransfer,
    Transfer,
    Withdraw,
)
from core_banking.domain.errors import (
    AccountNotOperational,
    AlreadyReversed,
    CurrencyMismatch,
    DailyLimitExceeded,
    DomainError,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidTransition,
    NotFound,
    TransactionLimitExceeded,
    WrongAccountKind,
)
from core_banking.domain.ledger import Channel, EntryType, JournalEntry, PostingResult
from core_banking.domain.money import Money
from core_banking.storage import posting_postgres
from core_banking.storage.schema import audit_events, idempotency_keys, journal_entries
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, funded_account, key, money, new_account

CASH = gl_account_id(GLCode.CASH, "USD")
CLEARING = gl_account_id(GLCode.EXTERNAL_CLEARING, "USD")
FEE_INCOME = gl_account_id(GLCode.FEE_INCOME, "USD")

D, C = Side.DEBIT, Side.CREDIT

METADATA = {
    "terminal": "T-7",
    "sequence": 42,
    "night": False,
    "note": "café ✓",
    "nested": {"tags": ["a", None, 2**62]},
}


# --------------------------------------------------------------------------- helpers


def lines(entry: JournalEntry) -> list[tuple[UUID, Side, int, str, int, int]]:
    """Each line as (account, side, amount, currency, balance after, account seq)."""
    assert [line.line_no for line in entry.lines] == list(range(1, len(entry.lines) + 1))
    return [
        (
            line.account_id,
            line.side,
            line.amount_minor,
            line.currency,
            line.balance_after_minor,
            line.account_seq,
        )
        for line in entry.lines
    ]


def state(account: Account) -> tuple[Any, ...]:
    """Everything a posting may change on an account."""
    return (
        account.status,
        account.posted_minor,
        account.held_minor,
        account.line_seq,
        account.daily_debit_minor,
        account.daily_debit_date,
        account.last_posted_at,
    )


async def get(bank: Nexum, account_id: UUID) -> Account:
    return await bank.accounts.get(account_id)


async def posted(bank: Nexum, account_id: UUID) -> int:
    return (await bank.accounts.get(account_id)).posted_minor


async def entry_count(bank: Nexum) -> int:
    async with bank.storage.autocommit_engine.connect() as conn:
        count: int = await conn.scalar(select(func.count()).select_from(journal_entries))
    return count


async def key_claimed(bank: Nexum, idempotency_key: str, actor: str = CONTEXT.actor) -> bool:
    async with bank.storage.autocommit_engine.connect() as conn:
        found = await conn.scalar(
            select(idempotency_keys.c.entity_id).where(
                idempotency_keys.c.scope == actor, idempotency_keys.c.key == idempotency_key
            )
        )
    return found is not None


async def assert_refused(
    bank: Nexum,
    error: type[DomainError],
    operation: Callable[[], Awaitable[Any]],
    *,
    accounts: tuple[UUID, ...],
    idempotency_key: str | None = None,
) -> DomainError:
    """``operation`` raises ``error`` and writes nothing: every account in ``accounts`` is
    unchanged, no entry is added, and ``idempotency_key`` is still free."""
    before = [state(await get(bank, account_id)) for account_id in accounts]
    entries_before = await entry_count(bank)
    with pytest.raises(error) as refused:
        await operation()
    assert [state(await get(bank, account_id)) for account_id in accounts] == before
    assert await entry_count(bank) == entries_before
    if idempotency_key is not None:
        assert not await key_claimed(bank, idempotency_key)
    return refused.value


async def deposit(bank: Nexum, account_id: UUID, amount: str, currency: str = "USD") -> None:
    await bank.ledger.deposit(Deposit(account_id, money(amount, currency), key()), CONTEXT)


async def freeze(bank: Nexum, account_id: UUID, status: AccountStatus) -> None:
    await bank.accounts.change_status(ChangeAccountStatus(account_id, status, "test"), CONTEXT)


# ------------------------------------------------------------- the six operations


async def test_deposit_credits_the_customer_and_debits_cash(bank, clock):
    account = await new_account(bank)
    cash = await get(bank, CASH)

    result = await bank.ledger.deposit(
        Deposit(
            account.id,
            money("250.00"),
            key(),
            channel=Channel.ATM,
            reference="atm-0042",
            metadata=METADATA,
        ),
        CONTEXT,
    )

    assert result.replayed is False
    entry = result.entry
    assert entry.entry_type is EntryType.DEPOSIT
    assert lines(entry) == [
        (CASH, D, 25000, "USD", cash.posted_minor + 25000, cash.line_seq + 1),
        (account.id, C, 25000, "USD", 25000, 1),
    ]
    assert (entry.channel, entry.reference) == (Channel.ATM, "atm-0042")
    assert entry.metadata == METADATA
    assert (entry.actor, entry.request_id, entry.reversal_of) == ("teller:test", "req-test", None)
    assert (entry.business_date, entry.value_date) == (clock.today(), clock.today())

    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.held_minor, stored.available_minor) == (25000, 0, 25000)
    assert (stored.line_seq, stored.daily_debit_minor) == (1, 0)
    assert await posted(bank, CASH) == cash.posted_minor + 25000
    assert await bank.ledger.entry(entry.id) == entry

    second = await bank.ledger.deposit(Deposit(account.id, money("0.01"), key()), CONTEXT)
    assert second.entry.channel is Channel.BRANCH
    assert second.entry.reference is None
    assert second.entry.metadata == {}
    assert lines(second.entry)[1] == (account.id, C, 1, "USD", 25001, 2)
    assert await posted(bank, account.id) == 25001


async def test_withdrawal_debits_the_customer_credits_cash_and_counts_toward_the_day(bank, clock):
    account = await funded_account(bank, "1000.00")
    cash = await get(bank, CASH)

    result = await bank.ledger.withdraw(
        Withdraw(account.id, money("300.25"), key(), channel=Channel.ATM, reference="w-1"),
        CONTEXT,
    )

    entry = result.entry
    assert (entry.entry_type, entry.channel, entry.reference) == (
        EntryType.WITHDRAWAL,
        Channel.ATM,
        "w-1",
    )
    assert lines(entry) == [
        (account.id, D, 30025, "USD", 69975, 2),
        (CASH, C, 30025, "USD", cash.posted_minor - 30025, cash.line_seq + 1),
    ]
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.available_minor, stored.line_seq) == (69975, 69975, 2)
    assert (stored.daily_debit_minor, stored.daily_debit_date) == (30025, clock.today())
    assert await posted(bank, CASH) == cash.posted_minor - 30025
    assert await bank.ledger.entry(entry.id) == entry


async def test_transfer_moves_money_between_two_customers_and_touches_no_gl_account(bank):
    source = await funded_account(bank, "500.00")
    target = await funded_account(bank, "20.00")
    cash_before = await posted(bank, CASH)

    result = await bank.ledger.transfer(
        Transfer(
            source.id,
            target.id,
            money("120.50"),
            key(),
            reference="rent",
            metadata={"invoice": "INV-9"},
        ),
        CONTEXT,
    )

    entry = result.entry
    assert entry.entry_type is EntryType.TRANSFER
    assert (entry.channel, entry.reference, entry.metadata) == (
        Channel.API,
        "rent",
        {"invoice": "INV-9"},
    )
    assert lines(entry) == [
        (source.id, D, 12050, "USD", 37950, 2),
        (target.id, C, 12050, "USD", 14050, 2),
    ]
    stored_source, stored_target = await get(bank, source.id), await get(bank, target.id)
    assert (stored_source.posted_minor, stored_source.daily_debit_minor) == (37950, 12050)
    assert (stored_target.posted_minor, stored_target.daily_debit_minor) == (14050, 0)
    assert await posted(bank, CASH) == cash_before
    assert await bank.ledger.entry(entry.id) == entry


async def test_receiving_an_external_transfer_debits_clearing_and_keeps_the_counterparty(
    bank, clock
):
    account = await new_account(bank)
    clearing = await get(bank, CLEARING)
    value_date = clock.today() - timedelta(days=1)

    result = await bank.ledger.receive_external(
        ReceiveExternalTransfer(
            account.id,
            money("75.10"),
            Counterparty("Grace Hopper", "DE89370400440532013000", "COBADEFFXXX"),
            key(),
            reference="e2e-123",
            metadata={"scheme": "sepa"},
            value_date=value_date,
        ),
        CONTEXT,
    )

    entry = result.entry
    assert entry.entry_type is EntryType.EXTERNAL_TRANSFER_IN
    assert (entry.channel, entry.reference) == (Channel.WIRE, "e2e-123")
    assert (entry.business_date, entry.value_date) == (clock.today(), value_date)
    assert entry.metadata == {
        "scheme": "sepa",
        "counterparty": {
            "name": "Grace Hopper",
            "account": "DE89370400440532013000",
            "bank_code": "COBADEFFXXX",
        },
    }
    assert lines(entry) == [
        (CLEARING, D, 7510, "USD", clearing.posted_minor + 7510, clearing.line_seq + 1),
        (account.id, C, 7510, "USD", 7510, 1),
    ]
    assert await posted(bank, account.id) == 7510
    assert await posted(bank, CLEARING) == clearing.posted_minor + 7510
    assert await bank.ledger.entry(entry.id) == entry


async def test_sending_an_external_transfer_credits_clearing_and_counts_toward_the_day(bank, clock):
    account = await funded_account(bank, "200.00")
    clearing = await get(bank, CLEARING)

    result = await bank.ledger.send_external(
        SendExternalTransfer(
            account.id,
            money("60.00"),
            Counterparty("Alan Turing", "GB29NWBK60161331926819"),
            key(),
            channel=Channel.ACH,
        ),
        CONTEXT,
    )

    entry = result.entry
    assert (entry.entry_type, entry.channel) == (EntryType.EXTERNAL_TRANSFER_OUT, Channel.ACH)
    assert entry.metadata == {
        "counterparty": {
            "name": "Alan Turing",
            "account": "GB29NWBK60161331926819",
            "bank_code": None,
        }
    }
    assert lines(entry) == [
        (account.id, D, 6000, "USD", 14000, 2),
        (CLEARING, C, 6000, "USD", clearing.posted_minor - 6000, clearing.line_seq + 1),
    ]
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.daily_debit_minor, stored.daily_debit_date) == (
        14000,
        6000,
        clock.today(),
    )
    assert await posted(bank, CLEARING) == clearing.posted_minor - 6000
    assert await bank.ledger.entry(entry.id) == entry


async def test_a_fee_credits_fee_income_and_does_not_count_toward_the_day(bank):
    account = await funded_account(bank, "50.00")
    fees = await get(bank, FEE_INCOME)

    result = await bank.ledger.charge_fee(
        ChargeFee(account.id, money("2.50"), "monthly maintenance", key()), CONTEXT
    )

    entry = result.entry
    assert (entry.entry_type, entry.channel, entry.reference) == (
        EntryType.FEE,
        Channel.SYSTEM,
        None,
    )
    assert entry.metadata == {"reason": "monthly maintenance"}
    assert lines(entry) == [
        (account.id, D, 250, "USD", 4750, 2),
        (FEE_INCOME, C, 250, "USD", fees.posted_minor + 250, fees.line_seq + 1),
    ]
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.daily_debit_minor, stored.daily_debit_date) == (
        4750,
        0,
        None,
    )
    assert await posted(bank, FEE_INCOME) == fees.posted_minor + 250
    assert await bank.ledger.entry(entry.id) == entry


# ------------------------------------------------------------------ available funds


async def test_withdrawing_exactly_the_available_balance_succeeds(bank):
    account = await funded_account(bank, "100.00")
    await bank.ledger.withdraw(Withdraw(account.id, money("100.00"), key()), CONTEXT)
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.available_minor) == (0, 0)


async def test_withdrawing_one_cent_more_than_available_is_refused(bank):
    account = await funded_account(bank, "100.00")
    attempt = key()
    command = Withdraw(account.id, money("100.01"), attempt)

    await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.withdraw(command, CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=attempt,
    )

    await deposit(bank, account.id, "0.01")
    retried = await bank.ledger.withdraw(command, CONTEXT)
    assert retried.replayed is False
    assert lines(retried.entry)[0] == (account.id, D, 10001, "USD", 0, 3)
    assert await posted(bank, account.id) == 0


async def test_every_spending_operation_is_refused_beyond_the_available_balance(bank):
    account = await funded_account(bank, "10.00")
    other = await new_account(bank)
    counterparty = Counterparty("X", "123")
    too_much = money("10.01")
    refusals: list[tuple[Callable[[str], Awaitable[Any]], tuple[UUID, ...]]] = [
        (lambda k: bank.ledger.withdraw(Withdraw(account.id, too_much, k), CONTEXT), (CASH,)),
        (
            lambda k: bank.ledger.transfer(Transfer(account.id, other.id, too_much, k), CONTEXT),
            (other.id,),
        ),
        (
            lambda k: bank.ledger.send_external(
                SendExternalTransfer(account.id, too_much, counterparty, k), CONTEXT
            ),
            (CLEARING,),
        ),
        (
            lambda k: bank.ledger.charge_fee(ChargeFee(account.id, too_much, "fee", k), CONTEXT),
            (FEE_INCOME,),
        ),
    ]
    for operation, others in refusals:
        attempt = key()
        await assert_refused(
            bank,
            InsufficientFunds,
            lambda operation=operation, attempt=attempt: operation(attempt),
            accounts=(account.id, *others),
            idempotency_key=attempt,
        )
    assert await posted(bank, account.id) == 1000


async def test_money_on_hold_is_not_available_for_a_withdrawal(bank):
    account = await funded_account(bank, "100.00")
    await bank.holds.place(PlaceHold(account.id, money("40.00"), key()), CONTEXT)
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.held_minor, stored.available_minor) == (10000, 4000, 6000)

    await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("60.01"), key()), CONTEXT),
        accounts=(account.id, CASH),
    )
    await bank.ledger.withdraw(Withdraw(account.id, money("60.00"), key()), CONTEXT)
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.held_minor, stored.available_minor) == (4000, 4000, 0)


async def test_an_overdraft_lets_the_balance_go_negative_down_to_minus_the_limit(bank):
    account = await funded_account(bank, "100.00", overdraft="50.00")
    assert account.available_minor == 15000

    result = await bank.ledger.withdraw(Withdraw(account.id, money("150.00"), key()), CONTEXT)

    assert lines(result.entry)[0] == (account.id, D, 15000, "USD", -5000, 2)
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.available_minor) == (-5000, 0)
    await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("0.01"), key()), CONTEXT),
        accounts=(account.id, CASH),
    )
    # money paid in first covers the overdraft
    await deposit(bank, account.id, "5.00")
    assert (await get(bank, account.id)).posted_minor == -4500


async def test_an_account_minimum_balance_must_stay_available(bank):
    account = await funded_account(bank, "100.00", min_balance="20.00")

    await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("80.01"), key()), CONTEXT),
        accounts=(account.id, CASH),
    )
    await bank.ledger.withdraw(Withdraw(account.id, money("80.00"), key()), CONTEXT)
    assert await posted(bank, account.id) == 2000
    # fees must respect the minimum too
    await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.charge_fee(ChargeFee(account.id, money("0.01"), "fee", key()), CONTEXT),
        accounts=(account.id, FEE_INCOME),
    )


# ------------------------------------------------------------------------------ limits


async def test_a_single_transaction_above_100000_is_refused_and_100000_is_allowed(bank):
    account = await new_account(bank, daily_limit="500000.00")
    too_big = key()

    await assert_refused(
        bank,
        TransactionLimitExceeded,
        lambda: bank.ledger.deposit(Deposit(account.id, money("100000.01"), too_big), CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=too_big,
    )
    for _ in range(2):
        await bank.ledger.deposit(Deposit(account.id, money("100000.00"), key()), CONTEXT)
    assert await posted(bank, account.id) == 20_000_000

    await assert_refused(
        bank,
        TransactionLimitExceeded,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("100000.01"), key()), CONTEXT),
        accounts=(account.id, CASH),
    )
    other = await new_account(bank)
    await assert_refused(
        bank,
        TransactionLimitExceeded,
        lambda: bank.ledger.transfer(
            Transfer(account.id, other.id, money("100000.01"), key()), CONTEXT
        ),
        accounts=(account.id, other.id),
    )
    await bank.ledger.withdraw(Withdraw(account.id, money("100000.00"), key()), CONTEXT)
    assert await posted(bank, account.id) == 10_000_000


async def test_the_default_daily_limit_counts_withdrawals_transfers_and_external_payments(
    bank, clock
):
    account = await funded_account(bank, "21000.00")
    other = await new_account(bank)
    today = clock.today()

    await bank.ledger.withdraw(Withdraw(account.id, money("6000.00"), key()), CONTEXT)
    await bank.ledger.transfer(Transfer(account.id, other.id, money("3000.00"), key()), CONTEXT)
    await bank.ledger.send_external(
        SendExternalTransfer(account.id, money("1000.00"), Counterparty("X", "1"), key()),
        CONTEXT,
    )
    stored = await get(bank, account.id)
    assert (stored.daily_debit_minor, stored.daily_debit_date) == (1_000_000, today)

    over = key()
    await assert_refused(
        bank,
        DailyLimitExceeded,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("0.01"), over), CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=over,
    )
    await assert_refused(
        bank,
        DailyLimitExceeded,
        lambda: bank.ledger.transfer(Transfer(account.id, other.id, money("0.01"), key()), CONTEXT),
        accounts=(account.id, other.id),
    )
    await assert_refused(
        bank,
        DailyLimitExceeded,
        lambda: bank.ledger.send_external(
            SendExternalTransfer(account.id, money("0.01"), Counterparty("X", "1"), key()),
            CONTEXT,
        ),
        accounts=(account.id, CLEARING),
    )

    # a fee is the bank's charge, not the customer's spending
    await bank.ledger.charge_fee(ChargeFee(account.id, money("25.00"), "wire fee", key()), CONTEXT)
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.daily_debit_minor) == (1_097_500, 1_000_000)
    # the receiving side of a transfer does not use up its own limit
    assert (await get(bank, other.id)).daily_debit_minor == 0

    clock.next_business_day()
    retried = await bank.ledger.withdraw(Withdraw(account.id, money("0.01"), over), CONTEXT)
    assert retried.replayed is False
    assert retried.entry.business_date == today + timedelta(days=1)
    stored = await get(bank, account.id)
    assert (stored.daily_debit_minor, stored.daily_debit_date) == (1, today + timedelta(days=1))
    await bank.ledger.withdraw(Withdraw(account.id, money("9999.99"), key()), CONTEXT)
    assert (await get(bank, account.id)).daily_debit_minor == 1_000_000


async def test_an_account_daily_limit_override_replaces_the_default(bank, clock):
    low = await funded_account(bank, "2000.00", daily_limit="500.00")
    other = await new_account(bank)

    await bank.ledger.withdraw(Withdraw(low.id, money("300.00"), key()), CONTEXT)
    await bank.ledger.transfer(Transfer(low.id, other.id, money("200.00"), key()), CONTEXT)
    await assert_refused(
        bank,
        DailyLimitExceeded,
        lambda: bank.ledger.withdraw(Withdraw(low.id, money("0.01"), key()), CONTEXT),
        accounts=(low.id, CASH),
    )
    await bank.ledger.charge_fee(ChargeFee(low.id, money("1.00"), "fee", key()), CONTEXT)
    clock.next_business_day()
    await bank.ledger.withdraw(Withdraw(low.id, money("500.00"), key()), CONTEXT)
    stored = await get(bank, low.id)
    assert (stored.posted_minor, stored.daily_debit_minor) == (99_900, 50_000)

    high = await new_account(bank, daily_limit="20000.00")
    await deposit(bank, high.id, "25000.00")
    await bank.ledger.withdraw(Withdraw(high.id, money("15000.00"), key()), CONTEXT)
    await bank.ledger.withdraw(Withdraw(high.id, money("5000.00"), key()), CONTEXT)
    await assert_refused(
        bank,
        DailyLimitExceeded,
        lambda: bank.ledger.withdraw(Withdraw(high.id, money("0.01"), key()), CONTEXT),
        accounts=(high.id, CASH),
    )
    assert await posted(bank, high.id) == 500_000


# ------------------------------------------------------------------- malformed requests


async def test_an_amount_in_another_currency_is_refused(bank):
    account = await funded_account(bank, "100.00")
    euro_account = await new_account(bank, "EUR")  # the EUR chart exists from here on
    attempt = key()

    await assert_refused(
        bank,
        CurrencyMismatch,
        lambda: bank.ledger.deposit(Deposit(account.id, money("10.00", "EUR"), attempt), CONTEXT),
        accounts=(account.id, CASH, gl_account_id(GLCode.CASH, "EUR")),
        idempotency_key=attempt,
    )
    await assert_refused(
        bank,
        CurrencyMismatch,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("1.00", "EUR"), key()), CONTEXT),
        accounts=(account.id, CASH, gl_account_id(GLCode.CASH, "EUR")),
    )
    await assert_refused(
        bank,
        CurrencyMismatch,
        lambda: bank.ledger.transfer(
            Transfer(account.id, euro_account.id, money("1.00"), key()), CONTEXT
        ),
        accounts=(account.id, euro_account.id),
    )


async def test_a_transfer_to_a_general_ledger_account_is_refused(bank):
    account = await funded_account(bank, "100.00")
    for gl in (CASH, FEE_INCOME):
        await assert_refused(
            bank,
            WrongAccountKind,
            lambda gl=gl: bank.ledger.transfer(
                Transfer(account.id, gl, money("10.00"), key()), CONTEXT
            ),
            accounts=(account.id, gl),
        )
    await assert_refused(
        bank,
        WrongAccountKind,
        lambda: bank.ledger.withdraw(Withdraw(CLEARING, money("1.00"), key()), CONTEXT),
        accounts=(CLEARING, CASH),
    )
    await assert_refused(
        bank,
        WrongAccountKind,
        lambda: bank.ledger.deposit(Deposit(FEE_INCOME, money("1.00"), key()), CONTEXT),
        accounts=(FEE_INCOME, CASH),
    )
    # cash in to the cash account itself would put both legs on one account, as two kinds
    await assert_refused(
        bank,
        InvalidInput,
        lambda: bank.ledger.deposit(Deposit(CASH, money("1.00"), key()), CONTEXT),
        accounts=(CASH,),
    )


async def test_a_transfer_to_the_same_account_is_refused(bank):
    account = await funded_account(bank, "100.00")
    await assert_refused(
        bank,
        InvalidInput,
        lambda: bank.ledger.transfer(
            Transfer(account.id, account.id, money("10.00"), key()), CONTEXT
        ),
        accounts=(account.id,),
    )


async def test_an_unknown_account_or_entry_is_not_found(bank):
    account = await funded_account(bank, "100.00")
    nobody = uuid.uuid4()
    attempt = key()
    await assert_refused(
        bank,
        NotFound,
        lambda: bank.ledger.deposit(Deposit(nobody, money("1.00"), attempt), CONTEXT),
        accounts=(CASH,),
        idempotency_key=attempt,
    )
    await assert_refused(
        bank,
        NotFound,
        lambda: bank.ledger.withdraw(Withdraw(nobody, money("1.00"), key()), CONTEXT),
        accounts=(CASH,),
    )
    await assert_refused(
        bank,
        NotFound,
        lambda: bank.ledger.transfer(Transfer(account.id, nobody, money("1.00"), key()), CONTEXT),
        accounts=(account.id,),
    )
    with pytest.raises(NotFound):
        await bank.ledger.entry(nobody)
    with pytest.raises(NotFound):
        await bank.ledger.reverse(Reverse(nobody, "typo", key()), CONTEXT)


async def test_a_zero_amount_or_an_overlong_reference_is_refused(bank):
    account = await funded_account(bank, "100.00")
    await assert_refused(
        bank,
        InvalidAmount,
        lambda: bank.ledger.deposit(Deposit(account.id, money("0.00"), key()), CONTEXT),
        accounts=(account.id, CASH),
    )
    await assert_refused(
        bank,
        InvalidInput,
        lambda: bank.ledger.deposit(
            Deposit(account.id, money("1.00"), key(), reference="r" * 141), CONTEXT
        ),
        accounts=(account.id, CASH),
    )
    result = await bank.ledger.deposit(
        Deposit(account.id, money("1.00"), key(), reference="r" * 140), CONTEXT
    )
    assert result.entry.reference == "r" * 140


# --------------------------------------------------------------------- account status


async def test_a_frozen_account_moves_no_money_until_it_is_unfrozen(bank):
    account = await funded_account(bank, "100.00")
    other = await funded_account(bank, "100.00")
    await freeze(bank, account.id, AccountStatus.FROZEN)
    deposit_key, withdraw_key = key(), key()
    deposit_in = Deposit(account.id, money("10.00"), deposit_key)
    withdraw_out = Withdraw(account.id, money("10.00"), withdraw_key)

    await assert_refused(
        bank,
        AccountNotOperational,
        lambda: bank.ledger.deposit(deposit_in, CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=deposit_key,
    )
    await assert_refused(
        bank,
        AccountNotOperational,
        lambda: bank.ledger.withdraw(withdraw_out, CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=withdraw_key,
    )
    for source, target in ((account.id, other.id), (other.id, account.id)):
        await assert_refused(
            bank,
            AccountNotOperational,
            lambda source=source, target=target: bank.ledger.transfer(
                Transfer(source, target, money("1.00"), key()), CONTEXT
            ),
            accounts=(account.id, other.id),
        )

    await freeze(bank, account.id, AccountStatus.ACTIVE)
    assert (await bank.ledger.deposit(deposit_in, CONTEXT)).replayed is False
    assert (await bank.ledger.withdraw(withdraw_out, CONTEXT)).replayed is False
    await bank.ledger.transfer(Transfer(other.id, account.id, money("1.00"), key()), CONTEXT)
    stored = await get(bank, account.id)
    assert (stored.status, stored.posted_minor, stored.line_seq) == (
        AccountStatus.ACTIVE,
        10100,
        4,
    )


async def test_a_dormant_account_accepts_credits_but_refuses_debits(bank):
    account = await funded_account(bank, "100.00")
    other = await funded_account(bank, "100.00")
    await freeze(bank, account.id, AccountStatus.DORMANT)

    await bank.ledger.deposit(Deposit(account.id, money("5.00"), key()), CONTEXT)
    await bank.ledger.transfer(Transfer(other.id, account.id, money("5.00"), key()), CONTEXT)
    assert await posted(bank, account.id) == 11000

    attempt = key()
    await assert_refused(
        bank,
        AccountNotOperational,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("1.00"), attempt), CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=attempt,
    )
    await assert_refused(
        bank,
        AccountNotOperational,
        lambda: bank.ledger.charge_fee(
            ChargeFee(account.id, money("1.00"), "dormancy fee", key()), CONTEXT
        ),
        accounts=(account.id, FEE_INCOME),
    )
    await freeze(bank, account.id, AccountStatus.ACTIVE)
    await bank.ledger.withdraw(Withdraw(account.id, money("1.00"), attempt), CONTEXT)
    assert await posted(bank, account.id) == 10900


async def test_a_closed_account_moves_no_money_at_all(bank):
    account = await new_account(bank)
    other = await funded_account(bank, "100.00")
    await freeze(bank, account.id, AccountStatus.CLOSED)
    refusals: list[tuple[Callable[[], Awaitable[Any]], tuple[UUID, ...]]] = [
        (
            lambda: bank.ledger.deposit(Deposit(account.id, money("1.00"), key()), CONTEXT),
            (CASH,),
        ),
        (
            lambda: bank.ledger.withdraw(Withdraw(account.id, money("1.00"), key()), CONTEXT),
            (CASH,),
        ),
        (
            lambda: bank.ledger.transfer(
                Transfer(other.id, account.id, money("1.00"), key()), CONTEXT
            ),
            (other.id,),
        ),
        (
            lambda: bank.ledger.receive_external(
                ReceiveExternalTransfer(account.id, money("1.00"), Counterparty("X", "1"), key()),
                CONTEXT,
            ),
            (CLEARING,),
        ),
        (
            lambda: bank.ledger.charge_fee(
                ChargeFee(account.id, money("1.00"), "closing fee", key()), CONTEXT
            ),
            (FEE_INCOME,),
        ),
    ]
    for operation, others in refusals:
        await assert_refused(bank, AccountNotOperational, operation, accounts=(account.id, *others))
    assert await posted(bank, other.id) == 10000


# --------------------------------------------------------------------------- reversals


async def test_reversing_a_transfer_mirrors_its_lines_and_restores_both_balances(bank):
    source = await funded_account(bank, "100.00")
    target = await funded_account(bank, "10.00")
    original = (
        await bank.ledger.transfer(Transfer(source.id, target.id, money("30.00"), key()), CONTEXT)
    ).entry

    result = await bank.ledger.reverse(Reverse(original.id, "sent in error", key()), CONTEXT)

    reversal = result.entry
    assert result.replayed is False
    assert (reversal.entry_type, reversal.reversal_of, reversal.channel) == (
        EntryType.REVERSAL,
        original.id,
        Channel.SYSTEM,
    )
    assert reversal.metadata == {"reason": "sent in error"}
    assert lines(reversal) == [
        (source.id, C, 3000, "USD", 10000, 3),
        (target.id, D, 3000, "USD", 1000, 3),
    ]
    assert await posted(bank, source.id) == 10000
    assert await posted(bank, target.id) == 1000
    assert await bank.ledger.entry(reversal.id) == reversal


async def test_reversing_a_deposit_takes_the_money_back_from_the_customer_and_cash(bank):
    account = await new_account(bank)
    cash_before = await posted(bank, CASH)
    original = (
        await bank.ledger.deposit(Deposit(account.id, money("42.00"), key()), CONTEXT)
    ).entry
    cash = await get(bank, CASH)

    reversal = (
        await bank.ledger.reverse(Reverse(original.id, "counterfeit", key()), CONTEXT)
    ).entry

    assert lines(reversal) == [
        (CASH, C, 4200, "USD", cash.posted_minor - 4200, cash.line_seq + 1),
        (account.id, D, 4200, "USD", 0, 2),
    ]
    assert await posted(bank, account.id) == 0
    assert await posted(bank, CASH) == cash_before


async def test_an_entry_is_reversed_at_most_once(bank):
    account = await funded_account(bank, "100.00")
    original = (
        await bank.ledger.deposit(Deposit(account.id, money("10.00"), key()), CONTEXT)
    ).entry
    await bank.ledger.reverse(Reverse(original.id, "first", key()), CONTEXT)
    assert await posted(bank, account.id) == 10000

    second = key()
    await assert_refused(
        bank,
        AlreadyReversed,
        lambda: bank.ledger.reverse(Reverse(original.id, "again", second), CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=second,
    )
    assert await posted(bank, account.id) == 10000


async def test_a_second_reversal_is_refused_as_already_reversed_even_when_funds_are_short(bank):
    """The entry is already undone: that is the reason to give, not the balance."""
    account = await new_account(bank)
    original = (
        await bank.ledger.deposit(Deposit(account.id, money("10.00"), key()), CONTEXT)
    ).entry
    first_key = key()
    first = await bank.ledger.reverse(Reverse(original.id, "mistake", first_key), CONTEXT)
    replay = await bank.ledger.reverse(Reverse(original.id, "mistake", first_key), CONTEXT)
    assert (replay.replayed, replay.entry) == (True, first.entry)
    assert await posted(bank, account.id) == 0

    second = key()
    await assert_refused(
        bank,
        AlreadyReversed,
        lambda: bank.ledger.reverse(Reverse(original.id, "again", second), CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=second,
    )


async def test_a_reversal_cannot_itself_be_reversed(bank):
    account = await funded_account(bank, "100.00")
    original = (
        await bank.ledger.withdraw(Withdraw(account.id, money("10.00"), key()), CONTEXT)
    ).entry
    reversal = (await bank.ledger.reverse(Reverse(original.id, "undo", key()), CONTEXT)).entry
    await assert_refused(
        bank,
        InvalidTransition,
        lambda: bank.ledger.reverse(Reverse(reversal.id, "redo", key()), CONTEXT),
        accounts=(account.id, CASH),
    )
    assert await posted(bank, account.id) == 10000


async def test_a_reversal_that_would_overdraw_the_account_is_refused(bank):
    account = await new_account(bank)
    original = (
        await bank.ledger.deposit(Deposit(account.id, money("100.00"), key()), CONTEXT)
    ).entry
    await bank.ledger.withdraw(Withdraw(account.id, money("100.00"), key()), CONTEXT)
    attempt = key()
    command = Reverse(original.id, "bounced", attempt)

    await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.reverse(command, CONTEXT),
        accounts=(account.id, CASH),
        idempotency_key=attempt,
    )

    await deposit(bank, account.id, "100.00")
    result = await bank.ledger.reverse(command, CONTEXT)
    assert (result.replayed, result.entry.reversal_of) == (False, original.id)
    assert await posted(bank, account.id) == 0


async def test_two_concurrent_reversals_of_one_entry_let_exactly_one_through(bank):
    account = await funded_account(bank, "100.00")
    original = (
        await bank.ledger.deposit(Deposit(account.id, money("10.00"), key()), CONTEXT)
    ).entry
    entries_before = await entry_count(bank)

    outcomes = await asyncio.gather(
        *(bank.ledger.reverse(Reverse(original.id, "race", key()), CONTEXT) for _ in range(2)),
        return_exceptions=True,
    )

    succeeded = [o for o in outcomes if isinstance(o, PostingResult)]
    refused = [o for o in outcomes if not isinstance(o, PostingResult)]
    assert len(succeeded) == 1, outcomes
    assert [type(o) for o in refused] == [AlreadyReversed], outcomes
    assert succeeded[0].entry.reversal_of == original.id
    assert await entry_count(bank) == entries_before + 1
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.line_seq) == (10000, 3)


async def test_concurrent_withdrawals_never_spend_more_than_is_available(bank):
    account = await funded_account(bank, "100.00")

    outcomes = await asyncio.gather(
        *(
            bank.ledger.withdraw(Withdraw(account.id, money("30.00"), key()), CONTEXT)
            for _ in range(5)
        ),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == [
        "InsufficientFunds",
        "InsufficientFunds",
        "PostingResult",
        "PostingResult",
        "PostingResult",
    ], outcomes
    balances = sorted(
        o.entry.lines[0].balance_after_minor for o in outcomes if isinstance(o, PostingResult)
    )
    assert balances == [1000, 4000, 7000]
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.line_seq, stored.daily_debit_minor) == (1000, 4, 9000)


# ------------------------------------------------------------------------- idempotency


async def test_repeating_a_command_with_its_key_replays_the_first_entry(bank):
    account = await new_account(bank)
    command = Deposit(account.id, money("10.00"), key(), reference="once")
    first = await bank.ledger.deposit(command, CONTEXT)
    entries = await entry_count(bank)

    again = await bank.ledger.deposit(command, CONTEXT)

    assert (first.replayed, again.replayed) == (False, True)
    assert again.entry == first.entry
    assert await entry_count(bank) == entries
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.line_seq) == (1000, 1)


async def test_reusing_a_key_for_a_different_request_is_refused(bank):
    account = await funded_account(bank, "100.00")
    used = key()
    await bank.ledger.deposit(Deposit(account.id, money("10.00"), used), CONTEXT)

    await assert_refused(
        bank,
        IdempotencyKeyReused,
        lambda: bank.ledger.deposit(Deposit(account.id, money("10.01"), used), CONTEXT),
        accounts=(account.id, CASH),
    )
    await assert_refused(
        bank,
        IdempotencyKeyReused,
        lambda: bank.ledger.withdraw(Withdraw(account.id, money("10.00"), used), CONTEXT),
        accounts=(account.id, CASH),
    )
    assert await posted(bank, account.id) == 11000


async def test_a_key_belongs_to_its_actor(bank):
    account = await new_account(bank)
    shared = key()
    mine = await bank.ledger.deposit(Deposit(account.id, money("10.00"), shared), CONTEXT)
    theirs = await bank.ledger.deposit(
        Deposit(account.id, money("10.00"), shared), RequestContext(actor="other")
    )

    assert theirs.replayed is False
    assert theirs.entry.id != mine.entry.id
    assert (theirs.entry.actor, theirs.entry.request_id) == ("other", None)
    assert await key_claimed(bank, shared, "other")
    # in a third actor's scope the key is free for a different request too
    third = await bank.ledger.deposit(
        Deposit(account.id, money("0.50"), shared), RequestContext(actor="third")
    )
    assert third.replayed is False
    assert await posted(bank, account.id) == 2050


async def test_ten_concurrent_identical_deposits_with_one_key_post_once(bank):
    account = await new_account(bank)
    command = Deposit(account.id, money("10.00"), key())
    cash_before = await posted(bank, CASH)

    results = await asyncio.gather(*(bank.ledger.deposit(command, CONTEXT) for _ in range(10)))

    assert len({result.entry.id for result in results}) == 1
    assert sorted(result.replayed for result in results) == [False] + [True] * 9
    stored = await get(bank, account.id)
    assert (stored.posted_minor, stored.line_seq) == (1000, 1)
    assert await posted(bank, CASH) == cash_before + 1000


@pytest.mark.parametrize(
    "bad_key",
    ["", "k" * 256, "has space", "tab\there", "ключ"],
    ids=["empty", "256-chars", "space", "tab", "non-ascii"],
)
async def test_an_invalid_idempotency_key_is_refused(bank, bad_key):
    account = await funded_account(bank, "100.00")
    other = await new_account(bank)
    await assert_refused(
        bank,
        InvalidInput,
        lambda: bank.ledger.deposit(Deposit(account.id, money("1.00"), bad_key), CONTEXT),
        accounts=(account.id, CASH),
    )
    await assert_refused(
        bank,
        InvalidInput,
        lambda: bank.ledger.transfer(
            Transfer(account.id, other.id, money("1.00"), bad_key), CONTEXT
        ),
        accounts=(account.id, other.id),
    )


async def test_a_255_character_key_is_accepted(bank):
    account = await new_account(bank)
    longest = ("x" * 255 + key())[-255:]
    result = await bank.ledger.deposit(Deposit(account.id, money("1.00"), longest), CONTEXT)
    assert result.replayed is False
    assert await key_claimed(bank, longest)


# ------------------------------------------------------------------------ other currencies


async def test_a_currency_without_decimals_works_end_to_end(bank):
    account = await new_account(bank, "JPY")
    other = await new_account(bank, "JPY")
    cash = gl_account_id(GLCode.CASH, "JPY")
    cash_before = await posted(bank, cash)

    result = await bank.ledger.deposit(
        Deposit(account.id, Money.parse("1500", "JPY"), key()), CONTEXT
    )
    assert lines(result.entry)[1] == (account.id, C, 1500, "JPY", 1500, 1)
    await bank.ledger.withdraw(Withdraw(account.id, Money.parse("1", "JPY"), key()), CONTEXT)
    await bank.ledger.transfer(
        Transfer(account.id, other.id, Money.parse("499", "JPY"), key()), CONTEXT
    )
    await bank.ledger.charge_fee(
        ChargeFee(account.id, Money.parse("1000", "JPY"), "fee", key()), CONTEXT
    )
    assert (await posted(bank, account.id), await posted(bank, other.id)) == (0, 499)
    assert await posted(bank, cash) == cash_before + 1499
    await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.withdraw(Withdraw(account.id, Money.parse("1", "JPY"), key()), CONTEXT),
        accounts=(account.id, cash),
    )
    # the bank's limits in yen: 100000.00 and 10000.00 have no fraction to keep
    await assert_refused(
        bank,
        TransactionLimitExceeded,
        lambda: bank.ledger.deposit(
            Deposit(other.id, Money.parse("100001", "JPY"), key()), CONTEXT
        ),
        accounts=(other.id, cash),
    )
    await bank.ledger.deposit(Deposit(other.id, Money.parse("100000", "JPY"), key()), CONTEXT)
    await bank.ledger.withdraw(Withdraw(other.id, Money.parse("10000", "JPY"), key()), CONTEXT)
    await assert_refused(
        bank,
        DailyLimitExceeded,
        lambda: bank.ledger.withdraw(Withdraw(other.id, Money.parse("1", "JPY"), key()), CONTEXT),
        accounts=(other.id, cash),
    )
    assert await posted(bank, other.id) == 90499


async def test_a_currency_with_three_decimals_works_end_to_end(bank):
    account = await new_account(bank, "BHD")
    other = await new_account(bank, "BHD")
    fees = gl_account_id(GLCode.FEE_INCOME, "BHD")
    fees_before = await posted(bank, fees)

    result = await bank.ledger.deposit(
        Deposit(account.id, Money.parse("12.345", "BHD"), key()), CONTEXT
    )
    assert lines(result.entry)[1] == (account.id, C, 12345, "BHD", 12345, 1)
    await bank.ledger.withdraw(Withdraw(account.id, Money.parse("0.005", "BHD"), key()), CONTEXT)
    await bank.ledger.transfer(
        Transfer(account.id, other.id, Money.parse("2.34", "BHD"), key()), CONTEXT
    )
    fee = await bank.ledger.charge_fee(
        ChargeFee(account.id, Money.parse("0.001", "BHD"), "fee", key()), CONTEXT
    )
    assert lines(fee.entry)[0] == (account.id, D, 1, "BHD", 9999, 4)
    assert (await posted(bank, account.id), await posted(bank, other.id)) == (9999, 2340)
    assert await posted(bank, fees) == fees_before + 1
    await assert_refused(
        bank,
        TransactionLimitExceeded,
        lambda: bank.ledger.deposit(
            Deposit(account.id, Money.parse("100000.001", "BHD"), key()), CONTEXT
        ),
        accounts=(account.id, gl_account_id(GLCode.CASH, "BHD")),
    )
    await bank.ledger.deposit(Deposit(account.id, Money.parse("100000.000", "BHD"), key()), CONTEXT)
    assert await posted(bank, account.id) == 100_009_999


# ------------------------------------------------------------------------ the whole ledger


async def test_the_ledger_verifies_clean_after_a_mix_of_operations(bank, clock):
    first = await funded_account(bank, "1000.00")
    second = await funded_account(bank, "250.00", overdraft="100.00")
    euro = await funded_account(bank, "80.00", "EUR")
    party = Counterparty("Ada", "NL91ABNA0417164300")

    await bank.ledger.transfer(Transfer(first.id, second.id, money("125.00"), key()), CONTEXT)
    await bank.ledger.withdraw(Withdraw(second.id, money("450.00"), key()), CONTEXT)
    await bank.ledger.receive_external(
        ReceiveExternalTransfer(first.id, money("19.99"), party, key()), CONTEXT
    )
    sent = await bank.ledger.send_external(
        SendExternalTransfer(first.id, money("300.00"), party, key()), CONTEXT
    )
    await bank.ledger.charge_fee(ChargeFee(euro.id, money("1.50", "EUR"), "fx", key()), CONTEXT)
    await bank.ledger.reverse(Reverse(sent.entry.id, "returned", key()), CONTEXT)
    await bank.holds.place(PlaceHold(first.id, money("5.00"), key()), CONTEXT)
    with pytest.raises(InsufficientFunds):
        await bank.ledger.withdraw(Withdraw(second.id, money("100.00"), key()), CONTEXT)
    clock.next_business_day()
    await bank.ledger.withdraw(Withdraw(first.id, money("1.00"), key()), CONTEXT)

    assert (await posted(bank, first.id), await posted(bank, second.id)) == (89_399, -7_500)
    assert await posted(bank, euro.id) == 7_850
    report = await verify_ledger(bank.storage)
    assert report.violations == []
    assert report.ok


# --------------------------------------------------------- batches: all or nothing, one call


def mixed_operations(first: UUID, second: UUID, third: UUID) -> list[Any]:
    """Every kind of money command, the accounts named several times each, so that each
    line's balance-after and position depend on the operations before it in the batch."""
    party = Counterparty("Ada", "NL91ABNA0417164300")
    return [
        Transfer(first, second, money("125.00"), key(), metadata=METADATA),
        Withdraw(second, money("30.25"), key(), reference="atm"),
        Deposit(third, money("7.10"), key()),
        ChargeFee(first, money("1.50"), "statement", key()),
        Transfer(third, first, money("500.00"), key()),
        ReceiveExternalTransfer(second, money("19.99"), party, key()),
        SendExternalTransfer(first, money("300.00"), party, key()),
        Transfer(second, third, money("0.01"), key()),
    ]


async def three_accounts(bank: Nexum) -> list[Account]:
    return [
        await funded_account(bank, "1000.00"),
        await funded_account(bank, "50.00"),
        await funded_account(bank, "600.00", daily_limit="900.00"),
    ]


async def audit_details(bank: Nexum, entry_id: UUID) -> list[dict[str, Any]]:
    """The audit records of an entry: their payloads, without the entry's own id."""
    async with bank.storage.autocommit_engine.connect() as conn:
        payloads = (
            await conn.scalars(
                select(audit_events.c.payload).where(
                    audit_events.c.entity_type == "journal_entry",
                    audit_events.c.entity_id == str(entry_id),
                )
            )
        ).all()
    return [{k: v for k, v in json.loads(p).items() if k != "entity_id"} for p in payloads]


async def test_a_batch_posts_exactly_what_posting_one_by_one_posts(bank):
    """The same operations, as one batch on three accounts and one by one on three others
    funded alike: the same lines with the same balances-after and positions, the same
    accounts afterwards, and an audit record per entry saying the same."""
    batched, alone = await three_accounts(bank), await three_accounts(bank)
    as_alone = {a.id: b.id for a, b in zip(batched, alone, strict=True)}
    same = {b.id: b.id for b in alone}

    together = await bank.ledger.execute_together(
        mixed_operations(*(a.id for a in batched)), CONTEXT
    )
    singly = [
        await bank.ledger.execute(command, CONTEXT)
        for command in mixed_operations(*(a.id for a in alone))
    ]

    def customer_view(entry: JournalEntry, named: dict[UUID, UUID]) -> list[tuple[Any, ...]]:
        # the bank's GL accounts are shared, so only their movements compare
        return [
            (named[account], *rest) if account in named else (account, *rest[:3])
            for account, *rest in lines(entry)
        ]

    assert len(together) == len(singly) == 8
    for batch_result, single_result in zip(together, singly, strict=True):
        assert batch_result.replayed is False
        entry, expected = batch_result.entry, single_result.entry
        assert (entry.entry_type, entry.reference, entry.metadata, entry.channel) == (
            expected.entry_type,
            expected.reference,
            expected.metadata,
            expected.channel,
        )
        assert customer_view(entry, as_alone) == customer_view(expected, same)
        assert await bank.ledger.entry(entry.id) == entry  # what was returned is what is stored
        (audited,) = await audit_details(bank, entry.id)
        named_alike = json.dumps(audited)
        for account, other in as_alone.items():
            named_alike = named_alike.replace(str(account), str(other))
        assert [json.loads(named_alike)] == await audit_details(bank, expected.id)
    for account, other in as_alone.items():
        assert state(await get(bank, account))[:-1] == state(await get(bank, other))[:-1]
    assert (await verify_ledger(bank.storage)).violations == []


def each_on_its_own(first: UUID, second: UUID, third: UUID) -> list[Any]:
    """Operations whose fate depends on those before them: five refused (more than group
    commit peels off before going one by one), one refused before posting."""
    return [
        Transfer(first, second, money("125.00"), key()),
        Withdraw(second, money("200.00"), key()),  # 175.00 there: refused
        Withdraw(second, money("175.00"), key()),  # all of it
        Transfer(second, third, money("0.01"), key()),  # nothing left: refused
        Deposit(third, money("7.10"), key()),
        Transfer(first, first, money("1.00"), key()),  # refused before posting
        Withdraw(third, money("600.00"), key()),
        Withdraw(third, money("7.10"), key()),
        Transfer(first, third, money("800.00"), key()),
        Withdraw(third, money("300.00"), key()),  # 907.10 today, over 900.00: refused
        ChargeFee(first, money("1.50"), "statement", key()),
        Withdraw(first, money("73.50"), key()),  # all of it
        Withdraw(first, money("0.01"), key()),  # refused
        Deposit(second, money("3.00"), key()),
        Withdraw(second, money("3.01"), key()),  # refused
    ]


async def test_each_on_its_own_posts_and_refuses_what_one_by_one_does(bank):
    """``execute_each`` against ``execute`` one command at a time on twin accounts: the
    same refusals for the same reasons, the same lines, the same accounts afterwards."""
    grouped, alone = await three_accounts(bank), await three_accounts(bank)
    as_alone = {a.id: b.id for a, b in zip(grouped, alone, strict=True)}
    same = {b.id: b.id for b in alone}

    outcomes = await bank.ledger.execute_each(each_on_its_own(*(a.id for a in grouped)), CONTEXT)
    expected: list[PostingResult | DomainError] = []
    for command in each_on_its_own(*(a.id for a in alone)):
        try:
            expected.append(await bank.ledger.execute(command, CONTEXT))
        except DomainError as refusal:
            expected.append(refusal)

    def customer_view(entry: JournalEntry, named: dict[UUID, UUID]) -> list[tuple[Any, ...]]:
        return [
            (named[account], *rest) if account in named else (account, *rest[:3])
            for account, *rest in lines(entry)
        ]

    assert [type(outcome) for outcome in outcomes] == [type(other) for other in expected]
    assert sum(isinstance(outcome, DomainError) for outcome in outcomes) == 6
    for outcome, other in zip(outcomes, expected, strict=True):
        if isinstance(other, DomainError):
            assert isinstance(outcome, DomainError)
            assert outcome.code == other.code
            context = json.dumps(outcome.context)
            for account, twin in as_alone.items():
                context = context.replace(str(account), str(twin))
            assert json.loads(context) == other.context  # no operation_index: each its own
        else:
            assert isinstance(outcome, PostingResult)
            assert customer_view(outcome.entry, as_alone) == customer_view(other.entry, same)
            assert await bank.ledger.entry(outcome.entry.id) == outcome.entry
    for account, other in as_alone.items():
        assert state(await get(bank, account))[:-1] == state(await get(bank, other))[:-1]
    assert (await verify_ledger(bank.storage)).violations == []


@pytest.mark.parametrize("refused_at", [0, 3, 5])
async def test_a_refusal_in_a_batch_names_its_operation_and_writes_nothing(bank, refused_at):
    """The withdrawal is refused (after 0, 3 or all 5 other operations: past the middle,
    only because of the transfers before it in the batch); it is named by its place, and
    nothing of the batch stays: no entry, no balance moved, no key used."""
    first = await funded_account(bank, "100.00")
    second = await funded_account(bank, "20.00")
    third = await new_account(bank)
    fine = [
        Transfer(first.id, second.id, money("50.00"), key()),
        Deposit(third.id, money("5.00"), key()),
        Transfer(second.id, third.id, money("60.00"), key()),
        Deposit(first.id, money("1.00"), key()),
        Withdraw(third.id, money("1.00"), key()),
    ]
    too_much = Withdraw(second.id, money("10.01"), key())  # 20 + 50 - 60 = 10.00 left
    commands = [*fine[:refused_at], too_much, *fine[refused_at:]]
    if refused_at == 0:
        commands[0] = Withdraw(second.id, money("20.01"), key())

    refusal = await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.execute_together(commands, CONTEXT),
        accounts=(first.id, second.id, third.id, CASH),
    )

    assert refusal.context["operation_index"] == refused_at
    assert refusal.context["account_id"] == str(second.id)
    assert [await key_claimed(bank, c.idempotency_key) for c in commands] == [False] * 6


async def test_an_unknown_account_in_a_batch_is_named_by_its_operation(bank):
    account = await funded_account(bank, "100.00")
    missing = uuid.uuid4()
    commands = [
        Withdraw(account.id, money("1.00"), key()),
        Transfer(account.id, missing, money("1.00"), key()),
        Deposit(account.id, money("1.00"), key()),
    ]

    refusal = await assert_refused(
        bank,
        NotFound,
        lambda: bank.ledger.execute_together(commands, CONTEXT),
        accounts=(account.id, CASH),
    )

    assert (refusal.context["operation_index"], refusal.context["account_id"]) == (1, str(missing))


async def test_a_batch_sent_again_returns_its_first_results(bank):
    source = await funded_account(bank, "100.00")
    target = await new_account(bank)
    commands = [
        Transfer(source.id, target.id, money("10.00"), key()),
        Withdraw(target.id, money("4.00"), key()),
    ]
    first = await bank.ledger.execute_together(commands, CONTEXT)
    entries = await entry_count(bank)

    again = await bank.ledger.execute_together(commands, CONTEXT)

    assert [(r.replayed, r.entry) for r in again] == [(True, r.entry) for r in first]
    assert await entry_count(bank) == entries
    assert (await posted(bank, source.id), await posted(bank, target.id)) == (9000, 600)

    # some keys already used, the rest new: the old ones replay, the new ones post
    extended = await bank.ledger.execute_together(
        [*commands, Deposit(target.id, money("1.00"), key())], CONTEXT
    )
    assert [r.replayed for r in extended] == [True, True, False]
    assert [r.entry for r in extended[:2]] == [r.entry for r in first]
    assert await posted(bank, target.id) == 700

    # a key of the batch used before for another request: that operation is refused
    reused = [
        Deposit(target.id, money("1.00"), key()),
        Withdraw(target.id, money("5.00"), commands[1].idempotency_key),
    ]
    refusal = await assert_refused(
        bank,
        IdempotencyKeyReused,
        lambda: bank.ledger.execute_together(reused, CONTEXT),
        accounts=(source.id, target.id, CASH),
        idempotency_key=reused[0].idempotency_key,
    )
    assert refusal.context["operation_index"] == 1


async def test_a_batch_longer_than_one_call_keeps_its_order_and_names_its_refusal(
    bank, monkeypatch
):
    """PostgreSQL posts a batch in calls of at most ENTRIES_PER_CALL entries (two here):
    the entries chain across calls, and a refusal in a later call is named by its place in
    the whole batch, not in its call. (SQLite posts one by one and has no calls to split.)"""
    monkeypatch.setattr(posting_postgres, "ENTRIES_PER_CALL", 2)
    account = await funded_account(bank, "10.00")
    withdrawals = [Withdraw(account.id, money("2.00"), key()) for _ in range(4)]

    refusal = await assert_refused(
        bank,
        InsufficientFunds,
        lambda: bank.ledger.execute_together(
            [*withdrawals, Withdraw(account.id, money("2.01"), key())], CONTEXT
        ),
        accounts=(account.id, CASH),
    )
    assert refusal.context["operation_index"] == 4

    results = await bank.ledger.execute_together(
        [*withdrawals, Withdraw(account.id, money("2.00"), key())], CONTEXT
    )
    assert [lines(r.entry)[0][4:] for r in results] == [
        (800, 2),
        (600, 3),
        (400, 4),
        (200, 5),
        (0, 6),
    ]
