"""An atomic batch posted set-based is the batch posted entry by entry, on PostgreSQL.

``nexum_post_entries`` (migration 0013) checks and posts a whole batch with one statement a
table; ``nexum_post_entries_one_by_one`` (0012) calls ``nexum_post_entry`` for each entry,
the path the rest of the suite holds equal to SQLite's. Hypothesis draws a few accounts
(balance, overdraft, daily limit, status) and a batch of deposits, withdrawals, transfers
and fees among them. Each example opens the accounts twice, alike, posts the batch on one
set with each function, and the outcomes must be the same: the same refusal (code, the
operation and the account it names) or the same lines (balance after each and place in its
account's history) and the same account figures afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.accounts import AccountStatus
from core_banking.domain.commands import (
    ChangeAccountStatus,
    ChargeFee,
    Deposit,
    Transfer,
    Withdraw,
)
from core_banking.domain.errors import DomainError
from core_banking.domain.money import Money
from core_banking.services.ledger import MoneyCommand
from core_banking.storage import posting_postgres
from core_banking.storage.schema import accounts
from support.banking import CONTEXT, funded_account, key, new_account
from support.databases import (
    migrate,
    postgres_database_on,
)

ACCOUNTS = 4
# The writer's batch statement (a module constant it reads at each call), calling the
# one-by-one function instead.
ONE_BY_ONE = text(
    posting_postgres._NAMED_MANY.text.replace(
        "nexum_post_entries(", "nexum_post_entries_one_by_one("
    )
)


@dataclass(frozen=True)
class AccountCase:
    balance_cents: int
    overdraft: str | None
    daily_limit: str | None
    status: AccountStatus


@dataclass(frozen=True)
class Operation:
    kind: str  # deposit, withdraw, transfer or fee
    account: int
    other: int
    cents: int


account_cases = st.builds(
    AccountCase,
    # round amounts, so that running sums land exactly on limits and balances
    balance_cents=st.sampled_from([0, 500, 1_000, 2_000, 5_000]),
    overdraft=st.sampled_from([None, "10.00"]),
    daily_limit=st.sampled_from([None, "20.00", "45.00"]),
    status=st.sampled_from(
        [AccountStatus.ACTIVE] * 6 + [AccountStatus.FROZEN, AccountStatus.DORMANT]
    ),
)
operations = st.builds(
    Operation,
    kind=st.sampled_from(["deposit", "withdraw", "transfer", "transfer", "fee"]),
    account=st.integers(min_value=0, max_value=ACCOUNTS - 1),
    other=st.integers(min_value=1, max_value=ACCOUNTS - 1),
    cents=st.sampled_from([1, 100, 500, 1_000, 2_000, 2_500]),
)


def command_of(operation: Operation, ids: list[UUID]) -> MoneyCommand:
    account = ids[operation.account]
    amount = Money.of(operation.cents, "USD")
    match operation.kind:
        case "deposit":
            return Deposit(account, amount, key())
        case "withdraw":
            return Withdraw(account, amount, key())
        case "transfer":
            other = ids[(operation.account + operation.other) % ACCOUNTS]
            return Transfer(account, other, amount, key())
        case _:
            return ChargeFee(account, amount, "service fee", key())


async def open_accounts(bank: Nexum, cases: list[AccountCase]) -> list[UUID]:
    ids = []
    for case in cases:
        options = {"overdraft": case.overdraft, "daily_limit": case.daily_limit}
        if case.balance_cents:
            amount = str(Money.of(case.balance_cents, "USD").amount_string())
            account = await funded_account(bank, amount, **{k: v for k, v in options.items() if v})
        else:
            account = await new_account(bank, **options)  # type: ignore[arg-type]
        if case.status is not AccountStatus.ACTIVE:
            await bank.accounts.change_status(
                ChangeAccountStatus(account.id, case.status, "property test"), CONTEXT
            )
        ids.append(account.id)
    return ids


async def outcome(bank: Nexum, ids: list[UUID], batch: list[Operation]) -> Any:
    """What posting the batch did, with the accounts named by their place in ``ids``."""
    place = {account: str(index) for index, account in enumerate(ids)}
    try:
        results = await bank.ledger.execute_together(
            [command_of(operation, ids) for operation in batch], CONTEXT
        )
    except DomainError as refusal:
        named = {
            k: place.get(UUID(v), v) if k == "account_id" else v for k, v in refusal.context.items()
        }
        return ("refused", refusal.code, named)
    lines = [
        (
            place[line.account_id],
            line.side,
            line.amount_minor,
            line.balance_after_minor,
            line.account_seq,
        )
        for result in results
        for line in result.entry.lines
        if line.account_id in place
    ]
    async with bank.storage.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    accounts.c.id,
                    accounts.c.posted_minor,
                    accounts.c.line_seq,
                    accounts.c.daily_debit_minor,
                    accounts.c.daily_debit_date,
                ).where(accounts.c.id.in_(ids))
            )
        ).all()
    figures = sorted((place[row.id], *row[1:]) for row in rows)
    return ("posted", lines, figures)


class Twins:
    """One bank on a database of its own; each example opens its accounts twice."""

    def __init__(self, bank: Nexum, loop: asyncio.AbstractEventLoop) -> None:
        self.bank = bank
        self.loop = loop

    def compare(self, cases: list[AccountCase], batch: list[Operation]) -> None:
        set_based_ids = self.loop.run_until_complete(open_accounts(self.bank, cases))
        one_by_one_ids = self.loop.run_until_complete(open_accounts(self.bank, cases))
        set_based = self.loop.run_until_complete(outcome(self.bank, set_based_ids, batch))
        with mock.patch.object(posting_postgres, "_NAMED_MANY", ONE_BY_ONE):
            one_by_one = self.loop.run_until_complete(outcome(self.bank, one_by_one_ids, batch))
        assert set_based == one_by_one


@contextmanager
def twins_on_postgres() -> Iterator[Twins]:
    loop = asyncio.new_event_loop()
    try:
        with postgres_database_on(loop, "nexum_test_batches") as url:
            migrate(url)
            bank = build(settings_for(url))
            try:
                yield Twins(bank, loop)
            finally:
                loop.run_until_complete(bank.aclose())
    finally:
        loop.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_batch_posted_set_based_is_the_batch_posted_one_by_one():
    with twins_on_postgres() as twins:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            cases=st.lists(account_cases, min_size=ACCOUNTS, max_size=ACCOUNTS),
            batch=st.lists(operations, min_size=1, max_size=12),
        )
        def check(cases: list[AccountCase], batch: list[Operation]) -> None:
            twins.compare(cases, batch)

        check()
