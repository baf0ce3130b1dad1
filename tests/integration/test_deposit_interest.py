"""Deposit interest through the close-of-business steps, on SQLite and on PostgreSQL: the
accrual on the closing balance of the business date (a back-dated run too, and whatever
the wall clock said when the postings were written), tiered rates,
each day count, reruns that change nothing, a month of accruals and its posting (the ledger
entry, the interest expense, the residue carried into the next month), what does and does
not accrue, and the steps' place in the close of business.

Expected figures are worked out here by plain decimal arithmetic (balance x rate x days /
year, rounded half to even at four places), never taken from the code under test. The
session database is shared by many tests and the steps work on every account in it, so
each test looks at its own accounts only and uses business dates after the accounts it
opens.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from conftest import settings_for
from core_banking.bootstrap import Nexum, build, close_of_business_steps, deposit_interest_steps
from core_banking.domain.accounts import Account, AccountStatus
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import (
    ChangeAccountStatus,
    CloseAccount,
    Deposit,
    OpenAccount,
    Transfer,
    Withdraw,
)
from core_banking.domain.errors import InvalidTransition
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import InterestPostingFrequency
from core_banking.domain.lending.rates import FixedRate, RateTier, TieredRate, TierMethod
from core_banking.ports import CloseOfBusinessStep
from core_banking.storage import Storage, create_storage
from core_banking.storage import deposit_interest as interest_storage
from core_banking.storage.schema import (
    accounts,
    deposit_interest_accruals,
    journal_entries,
    journal_lines,
    outbox_events,
)
from support.banking import (
    CONTEXT,
    FakeClock,
    NoClock,
    assert_verified,
    key,
    money,
    new_account,
    new_customer,
)
from support.databases import migrate
from support.products import create_product, deposit_terms

FOUR_PLACES = Decimal("0.0001")
TODAY = datetime.now(UTC).date()


# --- helpers ----------------------------------------------------------------------------------


def steps(storage: Storage) -> tuple[CloseOfBusinessStep, CloseOfBusinessStep]:
    accrual, posting = deposit_interest_steps(storage, 4)
    return accrual, posting


def ignore(_done: int, _total: int) -> None:
    return None


async def accrue(storage: Storage, day: date) -> int:
    return await steps(storage)[0].run(day, ignore)


async def post(storage: Storage, day: date) -> int:
    return await steps(storage)[1].run(day, ignore)


async def close_days(storage: Storage, first: date, last: date) -> None:
    """Accrue and post every day from ``first`` to ``last``, as the close of business does."""
    day = first
    while day <= last:
        await accrue(storage, day)
        await post(storage, day)
        day += timedelta(days=1)


async def interest_account(bank: Nexum, currency: str = "USD", **terms: Any) -> Account:
    record = await create_product(
        bank, currency=currency, terms=deposit_terms(**terms), active=True
    )
    customer = await new_customer(bank)
    return await bank.accounts.open(
        OpenAccount(customer.id, None, currency, "Saver", product_id=record.product.product_id),
        CONTEXT,
    )


async def deposit(bank: Nexum, account: Account, amount: str) -> None:
    await bank.ledger.deposit(Deposit(account.id, money(amount, account.currency), key()), CONTEXT)


async def deposit_on(
    bank: Nexum, clock: FakeClock, account: Account, amount: str, day: date
) -> None:
    """A deposit of business date ``day``: the bank's clock is moved to that business date
    (the wall clock, which stamps the line's posting time, stays where it is)."""
    clock.business_date = day
    await deposit(bank, account, amount)


async def withdraw_on(
    bank: Nexum, clock: FakeClock, account: Account, amount: str, day: date
) -> None:
    clock.business_date = day
    await bank.ledger.withdraw(
        Withdraw(account.id, money(amount, account.currency), key()), CONTEXT
    )


async def posting_times(storage: Storage, account: Account) -> list[datetime]:
    async with storage.engine.connect() as conn:
        found = await conn.execute(
            select(journal_lines.c.posted_at).where(journal_lines.c.account_id == account.id)
        )
        return list(found.scalars())


async def accruals_of(
    storage: Storage, account: Account
) -> dict[date, tuple[int, Decimal, Decimal]]:
    """business date -> (closing balance used, rate applied, amount accrued)."""
    table = deposit_interest_accruals
    async with storage.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    table.c.business_date,
                    table.c.closing_balance_minor,
                    table.c.annual_rate,
                    table.c.accrued,
                ).where(table.c.account_id == account.id)
            )
        ).all()
    return {row[0]: (row[1], Decimal(row[2]), Decimal(row[3])) for row in rows}


def daily(balance: str, rate: str, days: int = 1, year: int = 365) -> Decimal:
    """A day's interest by hand: balance x rate x days / year, half to even at 4 places."""
    return (Decimal(balance) * Decimal(rate) * days / year).quantize(
        FOUR_PLACES, rounding=ROUND_HALF_EVEN
    )


async def balance_of(storage: Storage, account_id: UUID) -> int:
    async with storage.engine.connect() as conn:
        found = await conn.scalar(
            select(accounts.c.posted_minor).where(accounts.c.id == account_id)
        )
    return int(found)


async def interest_entries(storage: Storage, account: Account) -> list[list[tuple[Any, ...]]]:
    """The lines (account, side, amount) of each interest posting to ``account``."""
    async with storage.engine.connect() as conn:
        entry_ids = (
            (
                await conn.execute(
                    select(journal_lines.c.entry_id)
                    .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
                    .where(
                        journal_lines.c.account_id == account.id,
                        journal_entries.c.entry_type == "interest_posting",
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
                    )
                    .where(journal_lines.c.entry_id == entry_id)
                    .order_by(journal_lines.c.line_no)
                )
            ).all()
            entries.append([(line[0], side_value(line[1]), line[2]) for line in lines])
    return entries


def side_value(side: Any) -> str:
    return str(getattr(side, "value", side))


# --- the closing balance ----------------------------------------------------------------------


async def test_accrual_uses_the_closing_balance_of_its_own_business_date(bank, storage, clock):
    day = TODAY + timedelta(days=5)
    account = await interest_account(bank)
    await deposit_on(bank, clock, account, "1000.00", day)
    await deposit_on(bank, clock, account, "500.00", day + timedelta(days=1))

    # Run back-dated: day + 1's deposit is already on the books, and must not count for day.
    await accrue(storage, day)
    await accrue(storage, day + timedelta(days=1))
    await accrue(storage, day + timedelta(days=2))  # after the last posting: the balance

    assert await accruals_of(storage, account) == {
        day: (100000, Decimal("0.0525"), Decimal("0.1438")),
        day + timedelta(days=1): (150000, Decimal("0.0525"), Decimal("0.2158")),
        day + timedelta(days=2): (150000, Decimal("0.0525"), Decimal("0.2158")),
    }
    assert daily("1000.00", "0.0525") == Decimal("0.1438")  # 52.50 / 365 = 0.143835...
    assert daily("1500.00", "0.0525") == Decimal("0.2158")  # 78.75 / 365 = 0.215753...
    position = await bank.deposit_interest.position(account.id)
    assert position.accrued == Decimal("0.5754")
    assert position.last_accrual_date == day + timedelta(days=2)
    assert (position.residue, position.last_posting_date) == (Decimal(0), None)


async def test_a_day_that_closes_on_zero_accrues_on_zero_and_none_before_the_first_deposit(
    bank, storage, clock
):
    day = TODAY + timedelta(days=7)
    account = await interest_account(bank)
    await deposit_on(bank, clock, account, "250.00", day)
    await withdraw_on(bank, clock, account, "250.00", day)
    await deposit_on(bank, clock, account, "250.00", day + timedelta(days=1))

    # Run back-dated: day + 1's deposit is already on the books. The day before the first
    # deposit has no closing balance and accrues nothing; day closes on zero.
    await accrue(storage, day - timedelta(days=1))
    await accrue(storage, day)

    assert await accruals_of(storage, account) == {day: (0, Decimal("0.0525"), Decimal(0))}


async def test_postings_on_a_virtual_clock_accrue_on_their_business_dates(bank, storage, clock):
    # A test of a year in 2025 runs on a virtual clock: the postings carry business dates in
    # 2025 but are written (and stamped) today. The business date decides, not the stamp.
    opened, topped_up = date(2025, 3, 10), date(2025, 3, 12)
    clock.business_date = opened
    account = await interest_account(bank)
    await deposit(bank, account, "1000.00")
    clock.business_date = topped_up
    await deposit(bank, account, "500.00")

    for offset in range(-1, 4):
        await accrue(storage, opened + timedelta(days=offset))

    assert await accruals_of(storage, account) == {
        date(2025, 3, 10): (100000, Decimal("0.0525"), daily("1000.00", "0.0525")),
        date(2025, 3, 11): (100000, Decimal("0.0525"), daily("1000.00", "0.0525")),
        date(2025, 3, 12): (150000, Decimal("0.0525"), daily("1500.00", "0.0525")),
        date(2025, 3, 13): (150000, Decimal("0.0525"), daily("1500.00", "0.0525")),
    }
    # Every line was stamped by the wall clock after all these dates had ended (and the
    # account was created after them): by posting times, none of them had a balance.
    stamps = await posting_times(storage, account)
    assert len(stamps) == 2
    assert min(stamps) >= datetime(2025, 3, 14, tzinfo=UTC)
    assert (await bank.accounts.get(account.id)).created_at >= datetime(2025, 3, 14, tzinfo=UTC)


async def test_a_rerun_of_a_date_writes_nothing_and_changes_nothing(bank, storage):
    day = TODAY + timedelta(days=9)
    account = await interest_account(bank)
    await deposit(bank, account, "800.00")

    assert await accrue(storage, day) >= 1
    before = await accruals_of(storage, account), await bank.deposit_interest.position(account.id)
    assert await accrue(storage, day) == 0
    after = await accruals_of(storage, account), await bank.deposit_interest.position(account.id)

    assert before == after
    assert after[0][day][2] == daily("800.00", "0.0525")


# --- rates and day counts ---------------------------------------------------------------------

TIERS = (
    RateTier(0, Decimal("0.01")),
    RateTier(1000_00, Decimal("0.02")),
    RateTier(5000_00, Decimal("0.03")),
)


@pytest.mark.parametrize(
    ("method", "balance", "yearly", "rate_applied"),
    [
        # banded: 1 % on 1,000, 2 % on 4,000, 3 % on 1,000 = 10 + 80 + 30
        (TierMethod.BANDED, "6000.00", "120", "0.03"),
        # whole: 3 % on all 6,000
        (TierMethod.WHOLE, "6000.00", "180", "0.03"),
        (TierMethod.BANDED, "500.00", "5", "0.01"),
        (TierMethod.WHOLE, "500.00", "5", "0.01"),
        # exactly on a threshold: banded 1 % on 1,000; whole 2 % on 1,000
        (TierMethod.BANDED, "1000.00", "10", "0.02"),
        (TierMethod.WHOLE, "1000.00", "20", "0.02"),
    ],
)
async def test_tiered_rates(bank, storage, method, balance, yearly, rate_applied):
    day = TODAY + timedelta(days=11)
    account = await interest_account(bank, rate=TieredRate(TIERS, method))
    await deposit(bank, account, balance)

    await accrue(storage, day)

    expected = (Decimal(yearly) / 365).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)
    closing = int(Decimal(balance) * 100)
    assert (await accruals_of(storage, account))[day] == (
        closing,
        Decimal(rate_applied),
        expected,
    )


# 10,000.00 at 3.65 % earns 365.00 a year. Under the 30/360 conventions a day counts 1/360,
# but the 30th of a 31-day month counts 0 and the last day of February 3 (non-leap year).
DAY_COUNT_CASES = [
    (DayCount.ACTUAL_365_FIXED, date(2031, 1, 15), "1.0000"),
    (DayCount.ACTUAL_365_FIXED, date(2031, 2, 28), "1.0000"),
    (DayCount.ACTUAL_360, date(2031, 1, 15), "1.0139"),  # 365 / 360 = 1.013888...
    (DayCount.ACTUAL_360, date(2031, 1, 30), "1.0139"),
    (DayCount.THIRTY_360, date(2031, 1, 15), "1.0139"),
    (DayCount.THIRTY_360, date(2031, 1, 30), "0.0000"),
    (DayCount.THIRTY_360, date(2031, 1, 31), "1.0139"),
    (DayCount.THIRTY_360, date(2031, 2, 28), "3.0417"),  # 3 x 365 / 360 = 3.041666...
    (DayCount.THIRTY_E_360, date(2031, 1, 30), "0.0000"),
    (DayCount.THIRTY_E_360, date(2031, 1, 31), "1.0139"),
    (DayCount.THIRTY_E_360, date(2031, 2, 28), "3.0417"),
]


@pytest.mark.parametrize(("day_count", "day", "expected"), DAY_COUNT_CASES)
async def test_each_day_count(bank, storage, day_count, day, expected):
    account = await interest_account(bank, rate=FixedRate(Decimal("0.0365")), day_count=day_count)
    await deposit(bank, account, "10000.00")

    await accrue(storage, day)

    assert (await accruals_of(storage, account))[day][2] == Decimal(expected)


async def test_a_currency_without_decimals_accrues_at_the_precision(bank, storage):
    day = TODAY + timedelta(days=13)
    account = await interest_account(bank, currency="JPY", rate=FixedRate(Decimal("0.0125")))
    await deposit(bank, account, "99999")

    await accrue(storage, day)

    # 99,999 x 1.25 % / 365 = 3.42462328... yen
    assert (await accruals_of(storage, account))[day][2] == Decimal("3.4246")


# --- who accrues --------------------------------------------------------------------------


async def test_frozen_and_dormant_accounts_accrue_closed_and_productless_ones_do_not(bank, storage):
    day = TODAY + timedelta(days=15)
    frozen, dormant, closed = [await interest_account(bank) for _ in range(3)]
    plain = await new_account(bank)
    for account in (frozen, dormant, plain):
        await deposit(bank, account, "100.00")
    for account, status in (
        (frozen, AccountStatus.FROZEN),
        (dormant, AccountStatus.DORMANT),
        (closed, AccountStatus.CLOSED),
    ):
        await bank.accounts.change_status(ChangeAccountStatus(account.id, status, "test"), CONTEXT)

    await accrue(storage, day)

    assert day in await accruals_of(storage, frozen)
    assert day in await accruals_of(storage, dormant)
    assert await accruals_of(storage, closed) == {}
    assert await accruals_of(storage, plain) == {}


async def test_closing_an_account_settles_its_interest_and_pays_it_out(bank, storage, clock):
    day = TODAY + timedelta(days=40)
    account = await interest_account(bank)
    assert account.customer_id is not None
    payout = await new_account(bank, customer=await bank.customers.get(account.customer_id))
    await deposit_on(bank, clock, account, "10000.00", day)
    for offset in range(3):
        await accrue(storage, day + timedelta(days=offset))
    interest = int(3 * daily("10000.00", "0.0525") * 100)  # 3 x 1.4384 = 4.3152: 4.31
    await withdraw_on(bank, clock, account, "10000.00", day + timedelta(days=3))

    with pytest.raises(InvalidTransition) as refused:
        await bank.accounts.close(CloseAccount(account.id, "moving away"), CONTEXT)
    assert refused.value.context["balance"] == "4.31"
    assert await interest_entries(storage, account) == []  # the refusal wrote nothing

    closing = key()
    closed = await bank.accounts.close(
        CloseAccount(account.id, "moving away", payout.id, closing), CONTEXT
    )
    again = await bank.accounts.close(
        CloseAccount(account.id, "moving away", payout.id, closing), CONTEXT
    )

    assert interest == 4_31
    assert (closed.status, closed.posted_minor) == (AccountStatus.CLOSED, 0)
    assert again == closed
    assert await balance_of(storage, payout.id) == interest
    assert await interest_entries(storage, account) == [
        [
            (gl_account_id(GLCode.INTEREST_EXPENSE, "USD"), "D", interest),
            (account.id, "C", interest),
        ]
    ]
    await assert_verified(storage)


async def test_an_account_accrues_no_day_before_it_was_opened(bank, storage):
    account = await interest_account(bank)
    await deposit(bank, account, "100.00")

    await accrue(storage, TODAY - timedelta(days=1))

    assert await accruals_of(storage, account) == {}


# --- posting ------------------------------------------------------------------------------


async def test_a_month_of_accruals_posts_whole_cents_and_carries_the_residue(bank, storage):
    monthly = await interest_account(bank)
    small = await interest_account(bank)
    quarterly = await interest_account(bank, posting_frequency=InterestPostingFrequency.QUARTERLY)
    await deposit(bank, monthly, "1234.56")
    await deposit(bank, small, "1.00")
    await deposit(bank, quarterly, "1234.56")
    expense = gl_account_id(GLCode.INTEREST_EXPENSE, "USD")
    expense_before = await balance_of(storage, expense)

    await close_days(storage, date(2030, 4, 1), date(2030, 4, 30))

    # April: 30 days of 1,234.56 x 5.25 % / 365 = 0.177572... -> 0.1776 a day.
    april_daily = daily("1234.56", "0.0525")
    assert april_daily == Decimal("0.1776")
    april = april_daily * 30  # 5.3280
    april_posted = april.quantize(Decimal("0.01"), rounding=ROUND_DOWN)  # 5.32
    april_residue = april - april_posted  # 0.0080
    accrued = await accruals_of(storage, monthly)
    assert sum(amount for _, _, amount in accrued.values()) == april
    assert await interest_entries(storage, monthly) == [
        [(expense, "D", 532), (monthly.id, "C", 532)]
    ]
    assert april_posted == Decimal("5.32")
    assert await balance_of(storage, monthly.id) == 123456 + 532
    position = await bank.deposit_interest.position(monthly.id)
    assert (position.accrued, position.residue, position.credited_minor) == (
        Decimal(0),
        april_residue,
        532,
    )
    assert position.last_posting_date == date(2030, 4, 30)

    # 1.00 earns 0.000143... -> 0.0001 a day: nothing to post, 0.0030 carried.
    small_position = await bank.deposit_interest.position(small.id)
    assert await interest_entries(storage, small) == []
    assert (small_position.accrued, small_position.residue) == (Decimal(0), Decimal("0.0030"))
    assert small_position.last_posting_date == date(2030, 4, 30)

    # A quarterly product posts at the end of June, not of April.
    quarterly_position = await bank.deposit_interest.position(quarterly.id)
    assert quarterly_position.accrued == april
    assert quarterly_position.last_posting_date is None

    assert await post(storage, date(2030, 4, 30)) == 0  # a rerun posts nothing twice
    assert len(await interest_entries(storage, monthly)) == 1
    await assert_verified(storage)

    # May: the posted interest earns too (compounding at posting), and April's residue is
    # carried: 31 x 1,239.88 x 5.25 % / 365 = 31 x 0.1783 = 5.5273; + 0.0080 = 5.5353.
    await close_days(storage, date(2030, 5, 1), date(2030, 5, 31))
    may = daily("1239.88", "0.0525") * 31
    assert may == Decimal("5.5273")
    may_posted = (may + april_residue).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    assert may_posted == Decimal("5.53")
    position = await bank.deposit_interest.position(monthly.id)
    assert position.residue == may + april_residue - may_posted
    assert position.credited_minor == 532 + 553
    assert await balance_of(storage, monthly.id) == 123456 + 532 + 553
    posted = sum(entry[1][2] for entry in await interest_entries(storage, monthly))
    accrued_total = sum(amount for _, _, amount in (await accruals_of(storage, monthly)).values())
    assert Decimal(posted) / 100 + position.residue == accrued_total

    expense_after = await balance_of(storage, expense)
    assert expense_after - expense_before >= 532 + 553  # other tests' accounts post too
    await assert_verified(storage)


async def test_posting_on_a_day_that_ends_no_period_posts_nothing(bank, storage):
    account = await interest_account(bank)
    await deposit(bank, account, "5000.00")
    await accrue(storage, date(2030, 7, 14))

    assert await post(storage, date(2030, 7, 14)) == 0
    assert await interest_entries(storage, account) == []


# --- wiring -------------------------------------------------------------------------------


def test_the_close_of_business_accrues_then_posts_after_expiring_holds(storage):
    names = [step.name for step in close_of_business_steps(storage, NoClock())]
    assert names[:3] == ["expire_holds", "deposit_interest_accrual", "deposit_interest_posting"]


# --- over HTTP ------------------------------------------------------------------------------


async def test_the_interest_position_over_http(bank, storage, api):
    day = TODAY + timedelta(days=17)
    account = await interest_account(bank)
    plain = await new_account(bank)
    await deposit(bank, account, "2000.00")
    await accrue(storage, day)
    headers = await api.as_role("auditor")

    response = await api.http.get(f"/accounts/{account.id}/interest", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "account_id": str(account.id),
        "product_id": str(account.product_id),
        "product_version": 1,
        "accrued_unposted": "0.2877",  # 2,000 x 5.25 % / 365 = 0.287671...
        "residue": "0",
        "credited": {"amount": "0.00", "currency": "USD"},
        "last_accrual_date": day.isoformat(),
        "last_posting_date": None,
    }
    missing = await api.http.get(f"/accounts/{plain.id}/interest", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


# --- events -------------------------------------------------------------------------------


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    migrate(url)
    return url


async def test_a_posting_announces_the_customers_line_in_the_outbox(own_url, clock):
    # the outbox is written when events are on; no broker is needed to see it
    storage = create_storage(own_url, events_enabled=True)
    bank = build(settings_for(own_url), storage=storage, clock=clock)
    try:
        account = await interest_account(bank)
        await deposit(bank, account, "3650.00")
        await close_days(bank.storage, date(2030, 6, 30), date(2030, 6, 30))

        async with bank.storage.engine.connect() as conn:
            announced = (
                await conn.execute(
                    select(outbox_events.c.account_id, outbox_events.c.account_seq).where(
                        outbox_events.c.kind == "line"
                    )
                )
            ).all()
        # the opening deposit (position 1) and the interest (position 2); no GL lines
        assert sorted(announced) == [(account.id, 1), (account.id, 2)]
        assert await interest_entries(bank.storage, account) == [
            [
                (gl_account_id(GLCode.INTEREST_EXPENSE, "USD"), "D", 52),  # 3,650 x 5.25 % / 365
                (account.id, "C", 52),
            ]
        ]
        await assert_verified(bank.storage)
    finally:
        await bank.aclose()


# --- chunks -------------------------------------------------------------------------------


async def test_chunks_of_a_few_accounts_do_the_same_work_and_report_progress(
    bank, storage, monkeypatch
):
    monkeypatch.setattr(interest_storage, "ACCRUAL_CHUNK", 3)
    monkeypatch.setattr(interest_storage, "POSTING_CHUNK", 2)
    balances = ["100.00", "2500.00", "0.01", "99999.99", "730.00", "1.00", "5000.00"]
    savers = [await interest_account(bank) for _ in balances]
    for account, balance in zip(savers, balances, strict=True):
        await deposit(bank, account, balance)
    day = date(2031, 3, 31)
    accrual, posting = steps(storage)
    reports: list[tuple[int, int]] = []

    await accrual.run(day, lambda done, total: reports.append((done, total)))

    dones = [done for done, _ in reports]
    assert len(reports) >= 3
    assert dones == sorted(dones)
    assert dones[-1] == reports[-1][1]
    for account, balance in zip(savers, balances, strict=True):
        assert (await accruals_of(storage, account))[day][2] == daily(balance, "0.0525")

    reports.clear()
    await posting.run(day, lambda done, total: reports.append((done, total)))

    assert len(reports) >= 4
    for account, balance in zip(savers, balances, strict=True):
        expected_minor = int(daily(balance, "0.0525") * 100)  # whole cents, toward zero
        entries = await interest_entries(storage, account)
        assert [entry[1][2] for entry in entries] == ([expected_minor] if expected_minor else [])
    await assert_verified(storage)


async def test_posting_while_customers_move_money_loses_nothing(bank, storage):
    savers = [await interest_account(bank) for _ in range(6)]
    for account in savers:
        await deposit(bank, account, "1000.00")
    day = date(2031, 5, 31)
    await accrue(storage, day)

    async def transfers(offset: int) -> None:
        for number in range(8):
            payer = savers[(offset + number) % len(savers)]
            payee = savers[(offset + number + 1) % len(savers)]
            await bank.ledger.transfer(Transfer(payer.id, payee.id, money("1.00"), key()), CONTEXT)

    await asyncio.gather(post(storage, day), *(transfers(offset) for offset in range(3)))

    # 1,000.00 x 5.25 % / 365 = 0.1438: 14 cents each, whatever moved meanwhile
    credited = [
        (await bank.deposit_interest.position(account.id)).credited_minor for account in savers
    ]
    assert credited == [14] * len(savers)
    total = sum([await balance_of(storage, account.id) for account in savers])
    assert total == len(savers) * (100000 + 14)
    await assert_verified(storage)


async def test_the_residue_keeps_the_accrual_precision_on_both_databases(bank, storage, api):
    account = await interest_account(bank)
    await deposit(bank, account, "1234.56")
    day = date(2031, 7, 31)
    await accrue(storage, day)
    await post(storage, day)

    response = await api.http.get(
        f"/accounts/{account.id}/interest", headers=await api.as_role("auditor")
    )

    # 1,234.56 x 5.25 % / 365 = 0.1776 accrued: 0.17 posted, 0.0076 carried
    assert response.json()["residue"] == "0.0076"
    assert response.json()["accrued_unposted"] == "0"
    assert response.json()["credited"] == {"amount": "0.17", "currency": "USD"}
