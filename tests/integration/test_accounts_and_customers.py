"""Customers and deposit accounts through the services, on SQLite and on PostgreSQL: opening
accounts (numbers, limits, currencies, who may open one), the status life cycle, closing,
the balance at a past moment, and creating customers and changing their status."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core_banking.bootstrap import Nexum
from core_banking.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    AccountType,
    ProductType,
    is_valid_account_number,
)
from core_banking.domain.chart import CHART, GLCode, gl_account_id
from core_banking.domain.commands import (
    ChangeAccountStatus,
    CreateCustomer,
    Deposit,
    OpenAccount,
    PlaceHold,
    ReleaseHold,
    Withdraw,
)
from core_banking.domain.customers import CustomerStatus
from core_banking.domain.errors import (
    AccountNotOperational,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RuleViolation,
    UnknownCurrency,
    WrongAccountKind,
)
from core_banking.domain.holds import HoldStatus
from core_banking.domain.ids import uuid7
from core_banking.domain.money import Money
from core_banking.storage.schema import accounts as accounts_table
from core_banking.storage.verification import verify_ledger
from support.banking import (
    CONTEXT,
    funded_account,
    key,
    money,
    new_account,
    new_customer,
)

ALLOWED = {
    (AccountStatus.ACTIVE, AccountStatus.FROZEN),
    (AccountStatus.ACTIVE, AccountStatus.DORMANT),
    (AccountStatus.ACTIVE, AccountStatus.CLOSED),
    (AccountStatus.DORMANT, AccountStatus.ACTIVE),
    (AccountStatus.DORMANT, AccountStatus.FROZEN),
    (AccountStatus.DORMANT, AccountStatus.CLOSED),
    (AccountStatus.FROZEN, AccountStatus.ACTIVE),
}


def _open(customer_id, currency="USD", **fields) -> OpenAccount:  # type: ignore[no-untyped-def]
    fields.setdefault("product", ProductType.SAVINGS)
    fields.setdefault("name", "Rainy day")
    return OpenAccount(customer_id=customer_id, currency=currency, **fields)


async def _status(bank: Nexum, account: Account, status: AccountStatus) -> Account:
    return await bank.accounts.change_status(
        ChangeAccountStatus(account.id, status, f"to {status}"), CONTEXT
    )


async def _deposit(bank: Nexum, account: Account, amount: str) -> None:
    await bank.ledger.deposit(Deposit(account.id, money(amount), key()), CONTEXT)


async def _withdraw(bank: Nexum, account: Account, amount: str) -> None:
    await bank.ledger.withdraw(Withdraw(account.id, money(amount), key()), CONTEXT)


# --- opening accounts ----------------------------------------------------------------------


async def test_open_an_account(bank, clock):
    customer = await new_customer(bank)
    account = await bank.accounts.open(
        _open(
            customer.id,
            "EUR",
            product=ProductType.CHECKING,
            name="  Household  ",
            overdraft_limit=money("250.00", "EUR"),
            min_balance=money("10.00", "EUR"),
            daily_limit=money("500.00", "EUR"),
        ),
        CONTEXT,
    )

    assert account.kind is AccountKind.DEPOSIT
    assert account.account_type is AccountType.LIABILITY
    assert account.currency == "EUR"
    assert account.status is AccountStatus.ACTIVE
    assert account.name == "Household"
    assert account.code is None
    assert account.customer_id == customer.id
    assert account.product is ProductType.CHECKING
    assert (account.posted_minor, account.held_minor) == (0, 0)
    assert account.overdraft_limit_minor == 25000
    assert account.min_balance_minor == 1000
    assert account.daily_limit_minor == 50000
    assert (account.daily_debit_minor, account.daily_debit_date) == (0, None)
    assert (account.line_seq, account.last_posted_at) == (0, None)
    assert account.created_at == account.updated_at == clock.now()
    assert account.available_minor == 25000
    assert account.number is not None
    assert len(account.number) == 12
    assert is_valid_account_number(account.number)
    assert await bank.accounts.get(account.id) == account

    plain = await bank.accounts.open(_open(customer.id, "JPY"), CONTEXT)
    assert (plain.currency, plain.product) == ("JPY", ProductType.SAVINGS)
    assert plain.overdraft_limit_minor == 0
    assert plain.min_balance_minor is None
    assert plain.daily_limit_minor is None
    assert plain.number != account.number


async def test_the_chart_of_accounts_exists_for_the_accounts_currency(bank):
    account = await new_account(bank, "CHF")
    for spec in CHART:
        gl = await bank.accounts.get(gl_account_id(spec.code, account.currency))
        assert gl.kind is AccountKind.GENERAL_LEDGER
        assert gl.code == spec.code.value
        assert gl.currency == "CHF"
        assert gl.account_type is spec.account_type
        assert gl.number is None
        assert gl.customer_id is None
    async with bank.storage.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(accounts_table)
            .where(accounts_table.c.kind == "gl", accounts_table.c.currency == "CHF")
        )
    assert count == len(CHART) == 15
    # Money can move at once in the new currency.
    await bank.ledger.deposit(Deposit(account.id, money("1.00", "CHF"), key()), CONTEXT)
    assert (await bank.accounts.get(account.id)).posted_minor == 100
    assert (await bank.accounts.get(gl_account_id(GLCode.CASH, "CHF"))).line_seq >= 1


async def test_fifty_account_numbers_are_valid_and_unique(bank):
    customer = await new_customer(bank)
    opened = [await bank.accounts.open(_open(customer.id), CONTEXT) for _ in range(50)]
    numbers = [account.number for account in opened]
    assert all(number is not None and is_valid_account_number(number) for number in numbers)
    assert len(set(numbers)) == 50
    assert len({account.id for account in opened}) == 50
    async with bank.storage.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(accounts_table.c.number).where(accounts_table.c.customer_id == customer.id)
            )
        ).scalars()
        assert sorted(stored) == sorted(numbers)


async def test_only_an_active_customer_opens_accounts(bank):
    suspended = await new_customer(bank)
    await bank.customers.change_status(suspended.id, CustomerStatus.SUSPENDED, "kyc", CONTEXT)
    closed = await new_customer(bank)
    await bank.customers.change_status(closed.id, CustomerStatus.CLOSED, "left", CONTEXT)

    for customer in (suspended, closed):
        with pytest.raises(RuleViolation) as refused:
            await bank.accounts.open(_open(customer.id), CONTEXT)
        assert type(refused.value) is RuleViolation
        assert refused.value.context == {"customer_id": str(customer.id)}
    with pytest.raises(NotFound):
        await bank.accounts.open(_open(uuid7()), CONTEXT)

    async with bank.storage.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(accounts_table)
            .where(accounts_table.c.customer_id.in_([suspended.id, closed.id]))
        )
    assert count == 0

    await bank.customers.change_status(suspended.id, CustomerStatus.ACTIVE, "ok", CONTEXT)
    reopened = await bank.accounts.open(_open(suspended.id), CONTEXT)
    assert reopened.customer_id == suspended.id


@pytest.mark.parametrize("field", ["overdraft_limit", "min_balance", "daily_limit"])
async def test_limits_are_in_the_accounts_currency_and_not_negative(bank, field):
    customer = await new_customer(bank)
    for bad in (money("1.00", "EUR"), Money.of(-1, "USD")):
        with pytest.raises(InvalidInput) as refused:
            await bank.accounts.open(_open(customer.id, "USD", **{field: bad}), CONTEXT)
        assert type(refused.value) is InvalidInput
        assert refused.value.context == {"field": field}
    account = await bank.accounts.open(_open(customer.id, "USD", **{field: money("1.00")}), CONTEXT)
    assert getattr(account, f"{field}_minor") == 100


async def test_zero_limits(bank):
    customer = await new_customer(bank)
    with pytest.raises(InvalidInput) as refused:
        await bank.accounts.open(_open(customer.id, daily_limit=money("0.00")), CONTEXT)
    assert refused.value.context == {"field": "daily_limit"}
    account = await bank.accounts.open(
        _open(customer.id, overdraft_limit=money("0.00"), min_balance=money("0.00")), CONTEXT
    )
    assert (account.overdraft_limit_minor, account.min_balance_minor) == (0, 0)


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "ABC", " USD", ""])
async def test_unknown_currency_is_refused(bank, code):
    customer = await new_customer(bank)
    with pytest.raises(UnknownCurrency):
        await bank.accounts.open(_open(customer.id, code), CONTEXT)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Bad\nname", "Tab\there", "Nul\x00"])
async def test_account_name_is_checked(bank, name):
    customer = await new_customer(bank)
    with pytest.raises(InvalidInput) as refused:
        await bank.accounts.open(_open(customer.id, name=name), CONTEXT)
    assert refused.value.context == {"field": "name"}


async def test_open_is_idempotent_with_a_key(bank):
    customer = await new_customer(bank)
    command = _open(customer.id, name="Once", idempotency_key=key())
    first = await bank.accounts.open(command, CONTEXT)
    again = await bank.accounts.open(command, CONTEXT)
    assert again == first

    with pytest.raises(IdempotencyKeyReused):
        await bank.accounts.open(
            _open(customer.id, name="Twice", idempotency_key=command.idempotency_key), CONTEXT
        )
    # Without a key, every call opens a new account.
    other = await bank.accounts.open(_open(customer.id, name="Once"), CONTEXT)
    assert other.id != first.id
    async with bank.storage.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(accounts_table)
            .where(accounts_table.c.customer_id == customer.id)
        )
    assert count == 2


# --- the status life cycle -----------------------------------------------------------------


async def _account_in(bank: Nexum, status: AccountStatus) -> Account:
    account = await new_account(bank)
    if status is not AccountStatus.ACTIVE:
        account = await _status(bank, account, status)
    assert account.status is status
    return account


async def test_every_status_transition(bank, clock):
    statuses = list(AccountStatus)
    for current, target in itertools.product(statuses, statuses):
        account = await _account_in(bank, current)
        if (current, target) in ALLOWED:
            clock.advance(seconds=1)
            changed = await _status(bank, account, target)
            assert changed.status is target, (current, target)
            assert changed.updated_at == clock.now()
            assert (await bank.accounts.get(account.id)).status is target
        else:
            with pytest.raises(InvalidTransition) as refused:
                await _status(bank, account, target)
            assert refused.value.context == {"current": str(current), "target": str(target)}
            assert (await bank.accounts.get(account.id)).status is current, (current, target)


async def test_status_changes_only_for_deposit_accounts_that_exist(bank):
    with pytest.raises(WrongAccountKind):
        await bank.accounts.change_status(
            ChangeAccountStatus(gl_account_id(GLCode.CASH, "USD"), AccountStatus.FROZEN, "no"),
            CONTEXT,
        )
    assert (await bank.accounts.get(gl_account_id(GLCode.CASH, "USD"))).status is (
        AccountStatus.ACTIVE
    )
    with pytest.raises(NotFound):
        await bank.accounts.change_status(
            ChangeAccountStatus(uuid7(), AccountStatus.FROZEN, "no"), CONTEXT
        )
    with pytest.raises(NotFound):
        await bank.accounts.get(uuid7())


async def test_what_each_status_lets_through(bank):
    frozen = await funded_account(bank, "100.00")
    await _status(bank, frozen, AccountStatus.FROZEN)
    with pytest.raises(AccountNotOperational):
        await _deposit(bank, frozen, "1.00")
    with pytest.raises(AccountNotOperational):
        await _withdraw(bank, frozen, "1.00")

    dormant = await funded_account(bank, "100.00")
    await _status(bank, dormant, AccountStatus.DORMANT)
    await _deposit(bank, dormant, "1.00")  # credits still arrive
    with pytest.raises(AccountNotOperational):
        await _withdraw(bank, dormant, "1.00")

    assert (await bank.accounts.get(frozen.id)).posted_minor == 10000
    assert (await bank.accounts.get(dormant.id)).posted_minor == 10100


# --- closing -------------------------------------------------------------------------------


async def test_close_needs_a_zero_balance(bank):
    account = await funded_account(bank, "10.00")
    with pytest.raises(InvalidTransition):
        await _status(bank, account, AccountStatus.CLOSED)
    assert (await bank.accounts.get(account.id)).status is AccountStatus.ACTIVE

    await _withdraw(bank, account, "10.00")
    closed = await _status(bank, account, AccountStatus.CLOSED)
    assert closed.status is AccountStatus.CLOSED
    assert closed.posted_minor == 0

    with pytest.raises(AccountNotOperational):
        await _deposit(bank, account, "1.00")
    with pytest.raises(AccountNotOperational):
        await _withdraw(bank, account, "1.00")
    with pytest.raises(AccountNotOperational):
        await bank.holds.place(PlaceHold(account.id, money("1.00"), key()), CONTEXT)
    for target in (AccountStatus.ACTIVE, AccountStatus.DORMANT, AccountStatus.FROZEN):
        with pytest.raises(InvalidTransition):
            await _status(bank, account, target)
    after = await bank.accounts.get(account.id)
    assert (after.status, after.posted_minor, after.line_seq) == (AccountStatus.CLOSED, 0, 2)


async def test_close_is_refused_while_overdrawn(bank):
    account = await new_account(bank, overdraft="50.00")
    await _withdraw(bank, account, "20.00")
    assert (await bank.accounts.get(account.id)).posted_minor == -2000
    with pytest.raises(InvalidTransition):
        await _status(bank, account, AccountStatus.CLOSED)
    await _deposit(bank, account, "20.00")
    assert (await _status(bank, account, AccountStatus.CLOSED)).status is AccountStatus.CLOSED


async def test_close_is_refused_while_money_is_on_hold(bank):
    # A zero balance with an overdraft: the hold is the only thing in the way.
    account = await new_account(bank, overdraft="100.00")
    hold = await bank.holds.place(PlaceHold(account.id, money("40.00"), key()), CONTEXT)
    current = await bank.accounts.get(account.id)
    assert (current.posted_minor, current.held_minor) == (0, 4000)

    with pytest.raises(InvalidTransition) as refused:
        await _status(bank, account, AccountStatus.CLOSED)
    assert refused.value.context == {"account_id": str(account.id)}
    assert (await bank.accounts.get(account.id)).status is AccountStatus.ACTIVE

    released = await bank.holds.release(ReleaseHold(hold.id, key()), CONTEXT)
    assert released.status is HoldStatus.RELEASED
    assert (await _status(bank, account, AccountStatus.CLOSED)).status is AccountStatus.CLOSED


async def test_a_dormant_account_with_zero_balance_closes(bank):
    account = await _account_in(bank, AccountStatus.DORMANT)
    assert (await _status(bank, account, AccountStatus.CLOSED)).status is AccountStatus.CLOSED


# --- the balance at a past moment ----------------------------------------------------------


async def _pause() -> datetime:
    await asyncio.sleep(0.01)
    moment = datetime.now(UTC)
    await asyncio.sleep(0.01)
    return moment


async def test_balance_as_of(bank):
    account = await new_account(bank)
    other = await new_account(bank)
    before_anything = await _pause()

    await _deposit(bank, account, "100.00")
    after_first = await _pause()
    await _deposit(bank, account, "50.00")
    after_second = await _pause()
    await _withdraw(bank, account, "30.00")
    await _deposit(bank, other, "999.00")  # another account's postings change nothing here
    after_third = await _pause()

    assert await bank.accounts.balance_as_of(account.id, before_anything) == 0
    assert await bank.accounts.balance_as_of(account.id, after_first) == 10000
    assert await bank.accounts.balance_as_of(account.id, after_second) == 15000
    assert await bank.accounts.balance_as_of(account.id, after_third) == 12000
    current = await bank.accounts.get(account.id)
    assert current.posted_minor == 12000
    assert await bank.accounts.balance_as_of(account.id, datetime.now(UTC)) == 12000
    assert await bank.accounts.balance_as_of(other.id, after_second) == 0
    assert await bank.accounts.balance_as_of(other.id, after_third) == 99900
    with pytest.raises(NotFound):
        await bank.accounts.balance_as_of(uuid7(), after_third)


# --- customers -----------------------------------------------------------------------------


async def test_create_and_get_a_customer(bank, clock):
    customer = await bank.customers.create(
        CreateCustomer("  Grace ", "Hopper", email="grace@example.com", phone="+1 212 555 0123"),
        CONTEXT,
    )
    assert customer.given_name == "Grace"
    assert customer.family_name == "Hopper"
    assert customer.email == "grace@example.com"
    assert customer.phone == "+12125550123"
    assert customer.status is CustomerStatus.ACTIVE
    assert customer.created_at == customer.updated_at == clock.now()
    assert await bank.customers.get(customer.id) == customer

    unicode = await bank.customers.create(CreateCustomer("Zoë", "Ñúñez-O'Brien"), CONTEXT)
    assert (unicode.given_name, unicode.family_name) == ("Zoë", "Ñúñez-O'Brien")
    longest = await bank.customers.create(CreateCustomer("x" * 200, "y"), CONTEXT)
    assert len(longest.given_name) == 200
    assert unicode.id != customer.id != longest.id

    with pytest.raises(NotFound):
        await bank.customers.get(uuid7())


@pytest.mark.parametrize("field", ["given_name", "family_name"])
@pytest.mark.parametrize(
    "bad", ["", "    ", "x" * 201, "Ada\nLovelace", "Ada\x00", "\tAda\x07", "Ada\x1b[31m"]
)
async def test_customer_names_are_checked(bank, field, bad):
    names = {"given_name": "Ada", "family_name": "Lovelace", field: bad}
    with pytest.raises(InvalidInput) as refused:
        await bank.customers.create(CreateCustomer(**names), CONTEXT)
    assert refused.value.context == {"field": field}


async def test_contact_details_at_their_limits(bank):
    """An email address is at most 254 characters (RFC 5321's path limit) and a phone
    number at most 32 characters as written; longer is invalid input, never a database error
    or a silently stored value."""
    longest_email = "l" * 64 + "@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 57 + ".com"
    longest_phone = "+1 (212) 555-0123".replace(" ", " " * 8)
    assert (len(longest_email), len(longest_phone)) == (254, 31)
    fits = await bank.customers.create(
        CreateCustomer("Ada", "Lovelace", email=longest_email, phone=longest_phone), CONTEXT
    )
    assert (fits.email, fits.phone) == (longest_email, "+12125550123")
    with pytest.raises(InvalidInput) as refused:
        await bank.customers.create(
            CreateCustomer("Ada", "Lovelace", phone=longest_phone + "  "), CONTEXT
        )
    assert refused.value.context == {"field": "phone"}
    with pytest.raises(InvalidInput) as refused:
        await bank.customers.create(
            CreateCustomer("Ada", "Lovelace", email="l" + longest_email), CONTEXT
        )
    assert refused.value.context == {"field": "email"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "no-at-sign.example.com"),
        ("email", "@example.com"),
        ("email", "ada@"),
        ("email", "ada lovelace@example.com"),
        ("email", "l" * 65 + "@example.com"),
        ("email", "ada@localhost"),
        ("phone", "12345"),
        ("phone", "+1234567890123456"),
        ("phone", "call me maybe"),
        ("phone", "+1 555 0100"),
        ("phone", "020 7946 0958"),
    ],
)
async def test_malformed_contact_details_are_refused(bank, field, value):
    with pytest.raises(InvalidInput) as refused:
        await bank.customers.create(CreateCustomer("Ada", "Lovelace", **{field: value}), CONTEXT)
    assert refused.value.context == {"field": field}


async def test_international_contact_details_are_accepted(bank):
    customer = await bank.customers.create(
        CreateCustomer("Tarō", "Yamada", email="太郎@例え.テスト", phone="+81 3-1234-5678"),
        CONTEXT,
    )
    assert (customer.email, customer.phone) == ("太郎@例え.テスト", "+81312345678")


async def test_contact_details_are_kept_in_a_canonical_form(bank):
    customer = await bank.customers.create(
        CreateCustomer("Ada", "Lovelace", email=" Ada.L@Example.COM ", phone="+44 20 7946-0958"),
        CONTEXT,
    )
    assert (customer.email, customer.phone) == ("Ada.L@example.com", "+442079460958")


async def test_customer_status_transitions(bank, clock):
    allowed = {
        (CustomerStatus.ACTIVE, CustomerStatus.SUSPENDED),
        (CustomerStatus.ACTIVE, CustomerStatus.CLOSED),
        (CustomerStatus.SUSPENDED, CustomerStatus.ACTIVE),
        (CustomerStatus.SUSPENDED, CustomerStatus.CLOSED),
    }
    statuses = list(CustomerStatus)
    for current, target in itertools.product(statuses, statuses):
        customer = await new_customer(bank)
        if current is not CustomerStatus.ACTIVE:
            customer = await bank.customers.change_status(customer.id, current, "setup", CONTEXT)
        assert customer.status is current
        if (current, target) in allowed:
            clock.advance(seconds=1)
            changed = await bank.customers.change_status(customer.id, target, "why", CONTEXT)
            assert changed.status is target
            assert changed.updated_at == clock.now()
            assert changed.created_at < changed.updated_at
            assert await bank.customers.get(customer.id) == changed
        else:
            with pytest.raises(InvalidTransition):
                await bank.customers.change_status(customer.id, target, "why", CONTEXT)
            assert (await bank.customers.get(customer.id)).status is current, (current, target)

    with pytest.raises(NotFound):
        await bank.customers.change_status(uuid7(), CustomerStatus.SUSPENDED, "no", CONTEXT)


async def test_create_customer_is_idempotent_with_a_key(bank):
    command = CreateCustomer("Alan", "Turing", idempotency_key=key())
    first = await bank.customers.create(command, CONTEXT)
    assert await bank.customers.create(command, CONTEXT) == first
    with pytest.raises(IdempotencyKeyReused):
        await bank.customers.create(
            CreateCustomer("Alan", "Turin", idempotency_key=command.idempotency_key), CONTEXT
        )


async def test_the_ledger_is_consistent_after_account_work(bank):
    account = await funded_account(bank, "70.00")
    await _withdraw(bank, account, "70.00")
    await _status(bank, account, AccountStatus.CLOSED)
    report = await verify_ledger(bank.storage)
    assert report.violations == []
