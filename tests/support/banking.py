"""Short ways to set up customers, accounts and money in tests."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from core_banking.bootstrap import Nexum
from core_banking.domain.accounts import Account, ProductType
from core_banking.domain.commands import (
    CreateCustomer,
    Deposit,
    OpenAccount,
    RequestContext,
)
from core_banking.domain.customers import Customer
from core_banking.domain.money import Money
from core_banking.storage import Storage
from core_banking.storage.schema import journal_entries
from core_banking.storage.verification import verify_ledger

CONTEXT = RequestContext(actor="teller:test", request_id="req-test")
_counter = itertools.count()


def key() -> str:
    """A fresh idempotency key."""
    return f"test-{uuid.uuid4().hex}-{next(_counter)}"


def money(amount: str, currency: str = "USD") -> Money:
    return Money.parse(amount, currency, allow_zero=True)


@dataclass
class FakeClock:
    """Wall time and business date that tests set and move by hand."""

    moment: datetime = field(default_factory=lambda: datetime.now(UTC))
    business_date: date | None = None

    def now(self) -> datetime:
        return self.moment

    def today(self) -> date:
        return self.business_date or self.moment.date()

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)

    def next_business_day(self) -> None:
        self.business_date = self.today() + timedelta(days=1)


async def new_customer(bank: Nexum, given_name: str = "Ada") -> Customer:
    return await bank.customers.create(CreateCustomer(given_name, "Lovelace"), CONTEXT)


async def new_account(
    bank: Nexum,
    currency: str = "USD",
    *,
    product: ProductType = ProductType.CHECKING,
    overdraft: str | None = None,
    min_balance: str | None = None,
    daily_limit: str | None = None,
    customer: Customer | None = None,
) -> Account:
    customer = customer or await new_customer(bank)
    return await bank.accounts.open(
        OpenAccount(
            customer_id=customer.id,
            product=product,
            currency=currency,
            name="Test account",
            overdraft_limit=money(overdraft, currency) if overdraft else None,
            min_balance=money(min_balance, currency) if min_balance else None,
            daily_limit=money(daily_limit, currency) if daily_limit else None,
        ),
        CONTEXT,
    )


async def funded_account(
    bank: Nexum, amount: str = "1000.00", currency: str = "USD", **options: str
) -> Account:
    account = await new_account(bank, currency, **options)  # type: ignore[arg-type]
    await bank.ledger.deposit(Deposit(account.id, money(amount, currency), key()), CONTEXT)
    return await bank.accounts.get(account.id)


async def assert_verified(storage: Storage) -> None:
    """``nexum verify`` finds nothing wrong with the whole ledger."""
    report = await verify_ledger(storage)
    assert report.ok, report.violations


async def entry_count(storage: Storage) -> int:
    """Journal entries in the whole ledger."""
    async with storage.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(journal_entries)) or 0)


class NoClock:
    """A clock for code that must not read one."""

    def now(self) -> datetime:
        raise AssertionError("not used")

    def today(self) -> date:
        raise AssertionError("not used")
