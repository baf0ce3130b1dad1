"""Holds through the service, on SQLite and on PostgreSQL: placing, capturing (in part, in
full, to clearing or to another deposit account), releasing and expiring them, with every
refusal the life cycle and the bank's rules call for, and exact balances after each step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import pytest

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.accounts import Account, AccountStatus, Side
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import (
    CaptureHold,
    ChangeAccountStatus,
    Deposit,
    PlaceHold,
    ReleaseHold,
    Withdraw,
)
from core_banking.domain.errors import (
    AccountNotOperational,
    CurrencyMismatch,
    DailyLimitExceeded,
    HoldAmountExceeded,
    HoldNotActive,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    NotFound,
    TransactionLimitExceeded,
    WrongAccountKind,
)
from core_banking.domain.holds import Hold, HoldStatus
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType
from core_banking.storage import create_storage
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, funded_account, key, money, new_account
from support.databases import migrate

CLEARING_USD = gl_account_id(GLCode.EXTERNAL_CLEARING, "USD")
CASH_USD = gl_account_id(GLCode.CASH, "USD")


async def _place(
    bank: Nexum,
    account: Account,
    amount: str,
    *,
    currency: str = "USD",
    expires_in: timedelta | None = None,
    reference: str | None = None,
) -> Hold:
    expires_at = bank.clock.now() + expires_in if expires_in is not None else None
    return await bank.holds.place(
        PlaceHold(account.id, money(amount, currency), key(), expires_at, reference), CONTEXT
    )


async def _balances(bank: Nexum, account_id: UUID) -> tuple[int, int, int]:
    """(posted, held, available) of an account, fresh from the database."""
    account = await bank.accounts.get(account_id)
    return account.posted_minor, account.held_minor, account.available_minor


async def _posted(bank: Nexum, account_id: UUID) -> int:
    return (await bank.accounts.get(account_id)).posted_minor


async def _set_status(bank: Nexum, account: Account, status: AccountStatus) -> None:
    await bank.accounts.change_status(ChangeAccountStatus(account.id, status, "test"), CONTEXT)


async def _assert_ledger_ok(bank: Nexum) -> None:
    report = await verify_ledger(bank.storage)
    assert report.violations == []
    assert report.ok


# --- placing -------------------------------------------------------------------------------


async def test_placing_a_hold_lowers_available_not_posted(bank, clock):
    account = await funded_account(bank, "1000.00")
    assert await _balances(bank, account.id) == (100000, 0, 100000)

    hold = await _place(bank, account, "250.00", expires_in=timedelta(hours=1), reference="card-1")

    assert hold.account_id == account.id
    assert hold.amount_minor == 25000
    assert hold.currency == "USD"
    assert hold.status is HoldStatus.ACTIVE
    assert hold.expires_at == clock.now() + timedelta(hours=1)
    assert hold.reference == "card-1"
    assert hold.captured_minor == 0
    assert hold.capture_entry_id is None
    assert hold.created_at == clock.now()
    assert await bank.holds.get(hold.id) == hold
    assert await _balances(bank, account.id) == (100000, 25000, 75000)
    after = await bank.accounts.get(account.id)
    assert after.line_seq == account.line_seq  # a hold writes no journal line
    assert after.daily_debit_minor == 25000
    assert after.daily_debit_date == clock.today()

    second = await _place(bank, account, "0.01")
    assert second.expires_at is None
    assert await _balances(bank, account.id) == (100000, 25001, 74999)
    await _assert_ledger_ok(bank)


async def test_a_hold_needs_the_funds(bank):
    account = await funded_account(bank, "1000.00")
    with pytest.raises(InsufficientFunds):
        await _place(bank, account, "1000.01")
    assert await _balances(bank, account.id) == (100000, 0, 100000)

    await _place(bank, account, "600.00")
    with pytest.raises(InsufficientFunds):
        await _place(bank, account, "400.01")
    await _place(bank, account, "400.00")  # exactly what is left
    assert await _balances(bank, account.id) == (100000, 100000, 0)
    with pytest.raises(InsufficientFunds):
        await _place(bank, account, "0.01")


async def test_a_hold_may_use_the_overdraft(bank):
    account = await funded_account(bank, "100.00", overdraft="50.00")
    assert account.available_minor == 15000
    with pytest.raises(InsufficientFunds):
        await _place(bank, account, "150.01")
    await _place(bank, account, "150.00")
    assert await _balances(bank, account.id) == (10000, 15000, 0)


async def test_holds_only_on_active_deposit_accounts(bank):
    frozen = await funded_account(bank, "100.00")
    await _set_status(bank, frozen, AccountStatus.FROZEN)
    with pytest.raises(AccountNotOperational):
        await _place(bank, frozen, "10.00")

    dormant = await funded_account(bank, "100.00")
    await _set_status(bank, dormant, AccountStatus.DORMANT)
    with pytest.raises(AccountNotOperational):
        await _place(bank, dormant, "10.00")

    for account in (frozen, dormant):
        assert await _balances(bank, account.id) == (10000, 0, 10000)

    with pytest.raises(WrongAccountKind):
        await bank.holds.place(PlaceHold(CASH_USD, money("1.00"), key()), CONTEXT)
    with pytest.raises(NotFound):
        await bank.holds.place(PlaceHold(uuid7(), money("1.00"), key()), CONTEXT)

    usd = await funded_account(bank, "100.00")
    with pytest.raises(CurrencyMismatch):
        await _place(bank, usd, "1.00", currency="EUR")
    with pytest.raises(TransactionLimitExceeded):
        await _place(bank, usd, "100000.01")
    with pytest.raises(InvalidAmount):
        await _place(bank, usd, "0.00")
    assert await _balances(bank, usd.id) == (10000, 0, 10000)


async def test_expiry_must_be_in_the_future_and_within_90_days(bank, clock):
    account = await funded_account(bank, "100.00")
    for expires_in in (timedelta(0), timedelta(seconds=-1), timedelta(days=90, microseconds=1)):
        with pytest.raises(InvalidInput) as refused:
            await _place(bank, account, "1.00", expires_in=expires_in)
        assert refused.value.context == {"field": "expires_at"}
    assert await _balances(bank, account.id) == (10000, 0, 10000)

    longest = await _place(bank, account, "1.00", expires_in=timedelta(days=90))
    assert longest.expires_at == clock.now() + timedelta(days=90)
    shortest = await _place(bank, account, "1.00", expires_in=timedelta(microseconds=1))
    assert shortest.status is HoldStatus.ACTIVE
    assert await _balances(bank, account.id) == (10000, 200, 9800)


async def test_holds_count_toward_the_daily_limit(bank, clock):
    account = await funded_account(bank, "20000.00")  # default daily limit: 10000.00

    await _place(bank, account, "6000.00")
    with pytest.raises(DailyLimitExceeded):
        await _place(bank, account, "4000.01")
    await _place(bank, account, "4000.00")
    assert (await bank.accounts.get(account.id)).daily_debit_minor == 1000000
    # Spending is counted against the same allowance as the holds.
    with pytest.raises(DailyLimitExceeded):
        await bank.ledger.withdraw(Withdraw(account.id, money("0.01"), key()), CONTEXT)
    with pytest.raises(DailyLimitExceeded):
        await _place(bank, account, "0.01")
    assert await _balances(bank, account.id) == (2000000, 1000000, 1000000)

    clock.next_business_day()
    hold = await _place(bank, account, "0.01")
    assert hold.status is HoldStatus.ACTIVE
    after = await bank.accounts.get(account.id)
    assert after.daily_debit_minor == 1
    assert after.daily_debit_date == clock.today()


async def test_an_accounts_own_daily_limit_applies_to_holds(bank):
    account = await funded_account(bank, "1000.00", daily_limit="100.00")
    with pytest.raises(DailyLimitExceeded):
        await _place(bank, account, "100.01")
    await _place(bank, account, "60.00")
    with pytest.raises(DailyLimitExceeded):
        await _place(bank, account, "40.01")
    await _place(bank, account, "40.00")
    assert await _balances(bank, account.id) == (100000, 10000, 90000)


async def test_placing_is_idempotent(bank):
    account = await funded_account(bank, "100.00")
    command = PlaceHold(account.id, money("30.00"), key(), reference="auth-7")
    first = await bank.holds.place(command, CONTEXT)
    again = await bank.holds.place(command, CONTEXT)

    assert again == first
    assert await _balances(bank, account.id) == (10000, 3000, 7000)
    assert (await bank.accounts.get(account.id)).daily_debit_minor == 3000

    with pytest.raises(IdempotencyKeyReused):
        await bank.holds.place(
            PlaceHold(account.id, money("31.00"), command.idempotency_key, reference="auth-7"),
            CONTEXT,
        )
    assert await _balances(bank, account.id) == (10000, 3000, 7000)
    await _assert_ledger_ok(bank)


async def test_a_place_replay_after_the_expiry_time_returns_the_first_hold(bank, clock):
    """A retry of a successful placement gets the first result, whenever it arrives."""
    account = await funded_account(bank, "100.00")
    command = PlaceHold(account.id, money("10.00"), key(), clock.now() + timedelta(hours=1))
    first = await bank.holds.place(command, CONTEXT)

    clock.advance(hours=2)
    again = await bank.holds.place(command, CONTEXT)

    assert again.id == first.id
    assert await _balances(bank, account.id) == (10000, 1000, 9000)


async def test_a_hold_reference_is_at_most_140_characters(bank):
    """As for postings: a longer reference is refused as invalid input, on both databases
    (the column is VARCHAR(140))."""
    account = await funded_account(bank, "100.00")
    longest = await _place(bank, account, "1.00", reference="r" * 140)
    assert longest.reference == "r" * 140
    with pytest.raises(InvalidInput) as refused:
        await _place(bank, account, "1.00", reference="r" * 141)
    assert refused.value.context == {"field": "reference"}
    assert await _balances(bank, account.id) == (10000, 100, 9900)


# --- capturing -----------------------------------------------------------------------------


async def test_partial_capture_posts_the_amount_and_releases_the_rest(bank):
    account = await funded_account(bank, "1000.00")
    hold = await _place(bank, account, "50.00", expires_in=timedelta(days=1))
    clearing_before = await _posted(bank, CLEARING_USD)
    assert await _balances(bank, account.id) == (100000, 5000, 95000)

    result = await bank.holds.capture(CaptureHold(hold.id, key(), money("30.00")), CONTEXT)

    assert result.replayed is False
    entry = result.entry
    assert entry.entry_type is EntryType.HOLD_CAPTURE
    assert entry.channel is Channel.CARD
    assert [(line.account_id, line.side, line.amount_minor) for line in entry.lines] == [
        (account.id, Side.DEBIT, 3000),
        (CLEARING_USD, Side.CREDIT, 3000),
    ]
    assert entry.lines[0].balance_after_minor == 97000
    stored = await bank.ledger.entry(entry.id)
    assert stored.lines == entry.lines

    assert await _balances(bank, account.id) == (97000, 0, 97000)
    # The clearing account is an asset: the credit of 30.00 lowers its balance by 3000.
    assert await _posted(bank, CLEARING_USD) == clearing_before - 3000
    captured = await bank.holds.get(hold.id)
    assert captured.status is HoldStatus.CAPTURED
    assert captured.captured_minor == 3000
    assert captured.capture_entry_id == entry.id
    assert captured.amount_minor == 5000
    await _assert_ledger_ok(bank)


async def test_full_capture_without_an_amount(bank):
    account = await funded_account(bank, "1000.00")
    hold = await _place(bank, account, "50.00")
    clearing_before = await _posted(bank, CLEARING_USD)

    result = await bank.holds.capture(CaptureHold(hold.id, key()), CONTEXT)

    assert [line.amount_minor for line in result.entry.lines] == [5000, 5000]
    assert await _balances(bank, account.id) == (95000, 0, 95000)
    assert await _posted(bank, CLEARING_USD) == clearing_before - 5000
    captured = await bank.holds.get(hold.id)
    assert (captured.status, captured.captured_minor) == (HoldStatus.CAPTURED, 5000)
    assert captured.capture_entry_id == result.entry.id


async def test_capture_to_a_destination_deposit_account(bank):
    payer = await funded_account(bank, "1000.00")
    merchant = await funded_account(bank, "10.00")
    hold = await _place(bank, payer, "80.00")
    clearing_before = await _posted(bank, CLEARING_USD)

    result = await bank.holds.capture(
        CaptureHold(hold.id, key(), money("75.50"), destination_account_id=merchant.id), CONTEXT
    )

    assert [(line.account_id, line.side, line.amount_minor) for line in result.entry.lines] == [
        (payer.id, Side.DEBIT, 7550),
        (merchant.id, Side.CREDIT, 7550),
    ]
    assert await _balances(bank, payer.id) == (92450, 0, 92450)
    assert await _balances(bank, merchant.id) == (8550, 0, 8550)
    assert await _posted(bank, CLEARING_USD) == clearing_before
    assert (await bank.holds.get(hold.id)).captured_minor == 7550
    await _assert_ledger_ok(bank)


async def test_capture_destination_must_be_a_usable_deposit_account_in_the_currency(bank):
    payer = await funded_account(bank, "100.00")
    hold = await _place(bank, payer, "20.00")
    euro = await new_account(bank, "EUR")
    frozen = await new_account(bank)
    await _set_status(bank, frozen, AccountStatus.FROZEN)

    with pytest.raises(CurrencyMismatch):
        await bank.holds.capture(
            CaptureHold(hold.id, key(), destination_account_id=euro.id), CONTEXT
        )
    with pytest.raises(AccountNotOperational):
        await bank.holds.capture(
            CaptureHold(hold.id, key(), destination_account_id=frozen.id), CONTEXT
        )
    with pytest.raises(WrongAccountKind):
        await bank.holds.capture(
            CaptureHold(hold.id, key(), destination_account_id=CASH_USD), CONTEXT
        )
    with pytest.raises(NotFound):
        await bank.holds.capture(
            CaptureHold(hold.id, key(), destination_account_id=uuid7()), CONTEXT
        )
    assert (await bank.holds.get(hold.id)).status is HoldStatus.ACTIVE
    assert await _balances(bank, payer.id) == (10000, 2000, 8000)
    assert await _posted(bank, frozen.id) == 0

    # A dormant account still receives money.
    dormant = await new_account(bank)
    await _set_status(bank, dormant, AccountStatus.DORMANT)
    await bank.holds.capture(
        CaptureHold(hold.id, key(), destination_account_id=dormant.id), CONTEXT
    )
    assert await _posted(bank, dormant.id) == 2000
    assert await _balances(bank, payer.id) == (8000, 0, 8000)


async def test_capture_refusals_leave_the_hold_active(bank):
    account = await funded_account(bank, "100.00")
    hold = await _place(bank, account, "50.00")

    with pytest.raises(HoldAmountExceeded):
        await bank.holds.capture(CaptureHold(hold.id, key(), money("50.01")), CONTEXT)
    with pytest.raises(InvalidInput):
        await bank.holds.capture(CaptureHold(hold.id, key(), money("10.00", "EUR")), CONTEXT)
    with pytest.raises(InvalidAmount):
        await bank.holds.capture(CaptureHold(hold.id, key(), money("0.00")), CONTEXT)
    with pytest.raises(NotFound):
        await bank.holds.capture(CaptureHold(uuid7(), key()), CONTEXT)

    assert await bank.holds.get(hold.id) == hold
    assert await _balances(bank, account.id) == (10000, 5000, 5000)
    # The refused keys were not used up: the first one now captures.
    result = await bank.holds.capture(CaptureHold(hold.id, key(), money("50.00")), CONTEXT)
    assert result.replayed is False
    assert await _balances(bank, account.id) == (5000, 0, 5000)


async def test_a_hold_is_captured_once(bank):
    account = await funded_account(bank, "100.00")
    hold = await _place(bank, account, "50.00")
    command = CaptureHold(hold.id, key(), money("20.00"))
    first = await bank.holds.capture(command, CONTEXT)

    replay = await bank.holds.capture(command, CONTEXT)
    assert replay.replayed is True
    assert replay.entry.id == first.entry.id
    assert replay.entry.lines == first.entry.lines
    assert await _balances(bank, account.id) == (8000, 0, 8000)

    with pytest.raises(HoldNotActive):
        await bank.holds.capture(CaptureHold(hold.id, key(), money("20.00")), CONTEXT)
    with pytest.raises(HoldNotActive):
        await bank.holds.capture(CaptureHold(hold.id, key()), CONTEXT)
    with pytest.raises(HoldNotActive):
        await bank.holds.release(ReleaseHold(hold.id, key()), CONTEXT)
    with pytest.raises(IdempotencyKeyReused):
        await bank.holds.capture(
            CaptureHold(hold.id, command.idempotency_key, money("21.00")), CONTEXT
        )
    assert await _balances(bank, account.id) == (8000, 0, 8000)
    stored = await bank.holds.get(hold.id)
    assert (stored.status, stored.captured_minor) == (HoldStatus.CAPTURED, 2000)
    await _assert_ledger_ok(bank)


async def test_an_expired_hold_cannot_be_captured_but_can_be_released(bank, clock):
    account = await funded_account(bank, "100.00")
    hold = await _place(bank, account, "40.00", expires_in=timedelta(hours=1))

    clock.advance(hours=1)  # exactly at expiry: no longer live
    with pytest.raises(HoldNotActive):
        await bank.holds.capture(CaptureHold(hold.id, key()), CONTEXT)
    clock.advance(hours=1)
    with pytest.raises(HoldNotActive):
        await bank.holds.capture(CaptureHold(hold.id, key(), money("1.00")), CONTEXT)
    assert (await bank.holds.get(hold.id)).status is HoldStatus.ACTIVE  # not swept yet
    assert await _balances(bank, account.id) == (10000, 4000, 6000)

    released = await bank.holds.release(ReleaseHold(hold.id, key()), CONTEXT)
    assert released.status is HoldStatus.RELEASED
    assert await _balances(bank, account.id) == (10000, 0, 10000)


async def test_capture_uses_the_reserved_money_even_when_available_is_lower(bank):
    account = await funded_account(bank, "100.00")
    hold = await _place(bank, account, "80.00")
    await bank.ledger.withdraw(Withdraw(account.id, money("20.00"), key()), CONTEXT)
    assert await _balances(bank, account.id) == (8000, 8000, 0)
    with pytest.raises(InsufficientFunds):
        await bank.ledger.withdraw(Withdraw(account.id, money("0.01"), key()), CONTEXT)

    await bank.holds.capture(CaptureHold(hold.id, key()), CONTEXT)
    assert await _balances(bank, account.id) == (0, 0, 0)
    await _assert_ledger_ok(bank)


async def test_capture_is_refused_on_a_frozen_or_dormant_account(bank):
    account = await funded_account(bank, "100.00")
    hold = await _place(bank, account, "30.00")

    for status in (AccountStatus.FROZEN, AccountStatus.DORMANT):
        await _set_status(bank, account, status)
        with pytest.raises(AccountNotOperational):
            await bank.holds.capture(CaptureHold(hold.id, key()), CONTEXT)
        assert (await bank.holds.get(hold.id)).status is HoldStatus.ACTIVE
        assert await _balances(bank, account.id) == (10000, 3000, 7000)
        await _set_status(bank, account, AccountStatus.ACTIVE)

    await bank.holds.capture(CaptureHold(hold.id, key()), CONTEXT)
    assert await _balances(bank, account.id) == (7000, 0, 7000)


# --- releasing -----------------------------------------------------------------------------


async def test_release_gives_the_money_back(bank, clock):
    account = await funded_account(bank, "100.00")
    hold = await _place(bank, account, "45.00")
    other = await _place(bank, account, "5.00")
    assert await _balances(bank, account.id) == (10000, 5000, 5000)

    clock.advance(minutes=5)
    command = ReleaseHold(hold.id, key())
    released = await bank.holds.release(command, CONTEXT)

    assert released.id == hold.id
    assert released.status is HoldStatus.RELEASED
    assert released.captured_minor == 0
    assert released.capture_entry_id is None
    assert released.updated_at == clock.now()
    assert await _balances(bank, account.id) == (10000, 500, 9500)

    # The same key again: the same answer, nothing released twice.
    assert await bank.holds.release(command, CONTEXT) == released
    assert await _balances(bank, account.id) == (10000, 500, 9500)
    # A new key: the hold is no longer active.
    with pytest.raises(HoldNotActive):
        await bank.holds.release(ReleaseHold(hold.id, key()), CONTEXT)
    with pytest.raises(HoldNotActive):
        await bank.holds.capture(CaptureHold(hold.id, key()), CONTEXT)
    with pytest.raises(NotFound):
        await bank.holds.release(ReleaseHold(uuid7(), key()), CONTEXT)

    assert (await bank.holds.get(other.id)).status is HoldStatus.ACTIVE
    assert await _balances(bank, account.id) == (10000, 500, 9500)
    await _assert_ledger_ok(bank)


# --- expiring ------------------------------------------------------------------------------


@pytest.fixture
def own_database_url(backend: str, request: pytest.FixtureRequest) -> str:
    name = "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    url: str = request.getfixturevalue(name)
    migrate(url)
    return url


@pytest.fixture
async def own_bank(own_database_url: str, clock: FakeClock) -> AsyncIterator[Nexum]:
    """A bank on a database of this test's own, so a sweep sees only this test's holds."""
    bank = build(
        settings_for(own_database_url), storage=create_storage(own_database_url), clock=clock
    )
    yield bank
    await bank.aclose()


async def test_expire_due_expires_only_due_holds(own_bank, clock):
    bank = own_bank
    account = await funded_account(bank, "1000.00")
    soon = await _place(bank, account, "10.00", expires_in=timedelta(hours=1))
    later = await _place(bank, account, "20.00", expires_in=timedelta(hours=3))
    never = await _place(bank, account, "40.00")
    released = await _place(bank, account, "80.00", expires_in=timedelta(hours=1))
    captured = await _place(bank, account, "160.00", expires_in=timedelta(hours=1))
    await bank.holds.release(ReleaseHold(released.id, key()), CONTEXT)
    await bank.holds.capture(CaptureHold(captured.id, key(), money("100.00")), CONTEXT)
    assert await _balances(bank, account.id) == (90000, 7000, 83000)

    assert await bank.holds.expire_due(CONTEXT) == 0  # nothing is due yet
    clock.advance(hours=2)
    assert await bank.holds.expire_due(CONTEXT) == 1

    statuses = {
        hold.id: (await bank.holds.get(hold.id)).status
        for hold in (soon, later, never, released, captured)
    }
    assert statuses == {
        soon.id: HoldStatus.EXPIRED,
        later.id: HoldStatus.ACTIVE,
        never.id: HoldStatus.ACTIVE,
        released.id: HoldStatus.RELEASED,
        captured.id: HoldStatus.CAPTURED,
    }
    assert (await bank.holds.get(soon.id)).updated_at == clock.now()
    assert await _balances(bank, account.id) == (90000, 6000, 84000)
    await _assert_ledger_ok(bank)

    assert await bank.holds.expire_due(CONTEXT) == 0  # a second sweep finds nothing new
    clock.advance(hours=1)  # exactly at the later hold's expiry
    assert await bank.holds.expire_due(CONTEXT) == 1
    assert (await bank.holds.get(later.id)).status is HoldStatus.EXPIRED
    assert await _balances(bank, account.id) == (90000, 4000, 86000)

    with pytest.raises(HoldNotActive):
        await bank.holds.release(ReleaseHold(later.id, key()), CONTEXT)
    with pytest.raises(HoldNotActive):
        await bank.holds.capture(CaptureHold(soon.id, key()), CONTEXT)

    clock.advance(days=365)
    assert await bank.holds.expire_due(CONTEXT) == 0
    assert (await bank.holds.get(never.id)).status is HoldStatus.ACTIVE
    assert await _balances(bank, account.id) == (90000, 4000, 86000)
    await _assert_ledger_ok(bank)


async def test_expire_due_across_accounts_in_one_sweep(own_bank, clock):
    bank = own_bank
    first = await funded_account(bank, "100.00")
    second = await funded_account(bank, "100.00")
    for account, amounts in ((first, ("1.00", "2.00", "3.00")), (second, ("4.00", "5.00"))):
        for amount in amounts:
            await _place(bank, account, amount, expires_in=timedelta(minutes=30))
    keep = await _place(bank, second, "6.00", expires_in=timedelta(hours=5))
    assert await _balances(bank, first.id) == (10000, 600, 9400)
    assert await _balances(bank, second.id) == (10000, 1500, 8500)

    clock.advance(hours=1)
    assert await bank.holds.expire_due(CONTEXT) == 5
    assert await _balances(bank, first.id) == (10000, 0, 10000)
    assert await _balances(bank, second.id) == (10000, 600, 9400)
    assert (await bank.holds.get(keep.id)).status is HoldStatus.ACTIVE
    await _assert_ledger_ok(bank)


# --- the whole life cycle, and the ledger after it ------------------------------------------


async def test_a_day_of_holds_leaves_a_consistent_ledger(bank, clock):
    account = await funded_account(bank, "500.00")
    merchant = await new_account(bank)
    clearing_before = await _posted(bank, CLEARING_USD)

    a = await _place(bank, account, "100.00", expires_in=timedelta(hours=2))
    b = await _place(bank, account, "50.00")
    c = await _place(bank, account, "25.00", expires_in=timedelta(minutes=10))
    await bank.ledger.deposit(Deposit(account.id, money("10.00"), key()), CONTEXT)
    await bank.holds.capture(CaptureHold(a.id, key(), money("99.99")), CONTEXT)
    await bank.holds.capture(CaptureHold(b.id, key(), destination_account_id=merchant.id), CONTEXT)
    clock.advance(minutes=10)
    with pytest.raises(HoldNotActive):
        await bank.holds.capture(CaptureHold(c.id, key()), CONTEXT)
    await bank.holds.release(ReleaseHold(c.id, key()), CONTEXT)

    assert await _balances(bank, account.id) == (51000 - 9999 - 5000, 0, 51000 - 9999 - 5000)
    assert await _posted(bank, merchant.id) == 5000
    assert await _posted(bank, CLEARING_USD) == clearing_before - 9999
    await _assert_ledger_ok(bank)
