"""The accrual step's SQL against the domain's ``daily_accrual``, for random accounts.

Hypothesis draws batches of accounts, each with its own product (a fixed or a tiered rate,
banded or whole, any day count and compounding, in currencies of 0 to 4 decimals), a
balance (negative ones too), interest already credited and interest accrued but not yet
posted, then a business date and a precision. The accounts are written straight into a
database of the test's own, with the balanced journal entries that bring each to its
balance by the end of the date and, for some, one more entry of a later business date, all
stamped long ago (the business date, not the posting time, says which day an entry belongs
to). The accrual step runs for the date, and every accrual must be on the balance at the
end of the date and exactly the Decimal the domain computes: on PostgreSQL from NUMERIC
arithmetic written in SQL, on SQLite through the domain functions the SQL calls.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update

from core_banking.bootstrap import deposit_interest_steps
from core_banking.domain.accounts import AccountKind, AccountStatus, AccountType, Side
from core_banking.domain.ledger import EntryType
from core_banking.domain.lending.accrual import daily_accrual
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import (
    DepositKind,
    DepositProduct,
    InterestPostingFrequency,
)
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.rates import (
    Compounding,
    FixedRate,
    InterestRate,
    RateTier,
    TieredRate,
    TierMethod,
    accrual_base,
)
from core_banking.domain.money import currency
from core_banking.storage import Storage, create_storage
from core_banking.storage.product_documents import product_row
from core_banking.storage.schema import (
    accounts,
    customers,
    deposit_interest_accruals,
    deposit_interest_state,
    journal_entries,
    journal_lines,
    products,
)
from support.databases import (
    migrate,
    postgres_database_on,
    sqlite_url,
)

CURRENCIES = ("JPY", "USD", "BHD", "CLF")  # 0, 2, 3 and 4 decimals
LONG_AGO = datetime(1999, 1, 1, tzinfo=UTC)

rates = st.integers(min_value=0, max_value=10**7).map(lambda units: Decimal(units).scaleb(-6))
"""0 to 10 (1,000 %) a year, in millionths."""


@st.composite
def interest_rates(draw: st.DrawFn) -> InterestRate:
    if draw(st.booleans()):
        return FixedRate(draw(rates))
    thresholds = draw(st.lists(st.integers(min_value=1, max_value=10**12), max_size=5, unique=True))
    return TieredRate(
        tuple(RateTier(start, draw(rates)) for start in [0, *sorted(thresholds)]),
        draw(st.sampled_from(TierMethod)),
    )


@dataclass(frozen=True)
class Case:
    product: DepositProduct
    balance_minor: int
    """The closing balance of the business date."""
    credited_minor: int
    unposted: Decimal
    later_minor: int | None
    """The balance after a posting of a later business date, if any: not the date's."""


@st.composite
def cases(draw: st.DrawFn) -> Case:
    code = draw(st.sampled_from(CURRENCIES))
    product = DepositProduct(
        product_id=uuid.uuid4(),
        version=1,
        status=ProductStatus.ACTIVE,
        name="Random saver",
        currency=currency(code),
        kind=DepositKind.SAVINGS,
        rate=draw(interest_rates()),
        day_count=draw(st.sampled_from(DayCount)),
        compounding=draw(st.sampled_from(Compounding)),
        posting_frequency=InterestPostingFrequency.MONTHLY,
        monthly_maintenance_fee_minor=0,
        transaction_fee_minor=0,
        minimum_opening_minor=0,
        term_deposit=None,
    )
    return Case(
        product=product,
        balance_minor=draw(
            st.one_of(
                st.integers(min_value=-(10**6), max_value=10**6),
                st.integers(min_value=-(10**13), max_value=10**13),
            )
        ),
        credited_minor=draw(st.integers(min_value=0, max_value=10**9)),
        unposted=Decimal(draw(st.integers(min_value=0, max_value=10**12))).scaleb(-6),
        later_minor=draw(st.none() | st.integers(min_value=-(10**13), max_value=10**13)),
    )


def balances_by_date(case: Case, day: date) -> list[tuple[date, int]]:
    """The (business date, balance after) of each posting to the case's account, in order:
    up to ``day`` the postings that end it on its balance (one, or from zero a deposit of
    one and its withdrawal, as no posting moves nothing), then the later one, if any."""
    if case.balance_minor == 0:
        postings = [(day - timedelta(days=1), 1), (day, 0)]
    else:
        postings = [(day, case.balance_minor)]
    if case.later_minor is not None and case.later_minor != case.balance_minor:
        postings.append((day + timedelta(days=1), case.later_minor))
    return postings


def expected_accrual(case: Case, day: date, precision: int) -> Decimal:
    """What the domain says the day earns."""
    unit = case.product.currency
    base: Fraction = accrual_base(
        case.balance_minor,
        unit,
        case.product.compounding,
        credited_interest_minor=case.credited_minor,
        unposted_interest=case.unposted,
    )
    return daily_accrual(base, unit, case.product.rate, case.product.day_count, day, precision)


class Database:
    """A migrated database of the test's own, with one customer to own the accounts."""

    def __init__(self, storage: Storage, loop: asyncio.AbstractEventLoop) -> None:
        self.storage = storage
        self.loop = loop
        self.customer_id = uuid.uuid4()
        self.run(self._insert_customer())

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    async def _insert_customer(self) -> None:
        async with self.storage.engine.begin() as conn:
            await conn.execute(
                insert(customers).values(
                    id=self.customer_id,
                    given_name="Random",
                    family_name="Saver",
                    status="active",
                    created_at=LONG_AGO,
                    updated_at=LONG_AGO,
                )
            )

    async def accrue(
        self, batch: list[Case], day: date, precision: int
    ) -> dict[uuid.UUID, tuple[int, Decimal]]:
        """Write the accounts of ``batch``, run the accrual step for ``day``; each account's
        (closing balance used, accrued). The accounts are closed afterwards (their postings
        stay: the journal is append-only), so they accrue no more."""
        ids = [uuid.uuid4() for _ in batch]
        async with self.storage.engine.begin() as conn:
            for account_id, case in zip(ids, batch, strict=True):
                await self._insert_account(conn, account_id, case, day)
                await self._insert_postings(conn, account_id, case, day)
        try:
            accrual, _ = deposit_interest_steps(self.storage, precision)
            await accrual.run(day, lambda _done, _total: None)
            async with self.storage.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(
                            deposit_interest_accruals.c.account_id,
                            deposit_interest_accruals.c.closing_balance_minor,
                            deposit_interest_accruals.c.accrued,
                        ).where(deposit_interest_accruals.c.account_id.in_(ids))
                    )
                ).all()
        finally:
            async with self.storage.engine.begin() as conn:
                for table in (deposit_interest_accruals, deposit_interest_state):
                    await conn.execute(delete(table).where(table.c.account_id.in_(ids)))
                await conn.execute(
                    update(accounts)
                    .where(accounts.c.id.in_(ids))
                    .values(status=AccountStatus.CLOSED.value)
                )
        found = {row[0]: (row[1], Decimal(row[2])) for row in rows}
        return {account_id: found[account_id] for account_id in ids}

    async def _insert_account(
        self, conn: Any, account_id: uuid.UUID, case: Case, day: date
    ) -> None:
        product = case.product
        await conn.execute(
            insert(products).values(
                **product_row(product),
                created_at=LONG_AGO,
                created_by="property-test",
                updated_at=LONG_AGO,
            )
        )
        await conn.execute(
            insert(accounts).values(
                id=account_id,
                kind=AccountKind.DEPOSIT.value,
                account_type=AccountType.LIABILITY.value,
                currency=product.currency.code,
                status=AccountStatus.ACTIVE.value,
                name="Random saver",
                number=account_id.hex[:20],
                customer_id=self.customer_id,
                posted_minor=balances_by_date(case, day)[-1][1],
                line_seq=len(balances_by_date(case, day)),
                last_posted_at=LONG_AGO,
                overdraft_limit_minor=0,
                created_at=LONG_AGO,
                updated_at=LONG_AGO,
                product_id=product.product_id,
                product_version=product.version,
            )
        )
        await conn.execute(
            insert(deposit_interest_state).values(
                account_id=account_id,
                accrued=case.unposted,
                residue=Decimal(0),
                credited_minor=case.credited_minor,
                last_accrual_date=day - timedelta(days=1),
                last_posting_date=None,
            )
        )

    async def _insert_postings(
        self, conn: Any, account_id: uuid.UUID, case: Case, day: date
    ) -> None:
        """The case's postings: each a balanced entry against a productless account of its
        own (which earns nothing), the customer's line carrying the balance after it."""
        code = case.product.currency.code
        counterpart = uuid.uuid4()
        postings = balances_by_date(case, day)
        await conn.execute(
            insert(accounts).values(
                id=counterpart,
                kind=AccountKind.DEPOSIT.value,
                account_type=AccountType.LIABILITY.value,
                currency=code,
                status=AccountStatus.ACTIVE.value,
                name="Random counterpart",
                number=counterpart.hex[:20],
                customer_id=self.customer_id,
                posted_minor=-postings[-1][1],
                line_seq=len(postings),
                last_posted_at=LONG_AGO,
                overdraft_limit_minor=0,
                created_at=LONG_AGO,
                updated_at=LONG_AGO,
            )
        )
        before = 0
        for seq, (business_date, after) in enumerate(postings, start=1):
            entry_id = uuid.uuid4()
            change = after - before
            credited, debited = (
                (account_id, counterpart) if change > 0 else (counterpart, account_id)
            )
            await conn.execute(
                insert(journal_entries).values(
                    id=entry_id,
                    entry_type=(EntryType.DEPOSIT if change > 0 else EntryType.WITHDRAWAL).value,
                    business_date=business_date,
                    value_date=business_date,
                    posted_at=LONG_AGO,
                    actor="property-test",
                    metadata={},
                )
            )
            await conn.execute(
                insert(journal_lines),
                [
                    {
                        "entry_id": entry_id,
                        "line_no": line_no,
                        "account_id": line_account,
                        "account_seq": seq,
                        "side": side,
                        "amount_minor": abs(change),
                        "currency": code,
                        "balance_after_minor": after if line_account == account_id else -after,
                        "posted_at": LONG_AGO,
                    }
                    for line_no, (line_account, side) in enumerate(
                        ((debited, Side.DEBIT), (credited, Side.CREDIT)), start=1
                    )
                ],
            )
            before = after


def check_accruals(database: Database) -> Callable[..., None]:
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        batch=st.lists(cases(), min_size=1, max_size=12),
        day=st.dates(min_value=date(2000, 1, 2), max_value=date(2040, 12, 31)),
        precision=st.integers(min_value=0, max_value=10),
    )
    def check(batch: list[Case], day: date, precision: int) -> None:
        found = database.run(database.accrue(batch, day, precision))
        expected = [(case.balance_minor, expected_accrual(case, day, precision)) for case in batch]
        assert list(found.values()) == expected

    return check


@contextmanager
def own_database(url: str, loop: asyncio.AbstractEventLoop) -> Iterator[Database]:
    migrate(url)
    storage = create_storage(url)
    try:
        yield Database(storage, loop)
    finally:
        loop.run_until_complete(storage.dispose())


def test_sql_accruals_are_the_domains_on_sqlite(tmp_path):
    loop = asyncio.new_event_loop()
    try:
        with own_database(sqlite_url(tmp_path), loop) as database:
            check_accruals(database)()
    finally:
        loop.close()


@pytest.mark.postgres
def test_sql_accruals_are_the_domains_on_postgresql():
    loop = asyncio.new_event_loop()
    try:
        with (
            postgres_database_on(loop, "nexum_test_interest") as url,
            own_database(url, loop) as database,
        ):
            check_accruals(database)()
    finally:
        loop.close()
