"""Group commit on PostgreSQL: postings that wait together are posted together, and each
caller still hears exactly what posting alone would have told it; a caller cut off leaves
nothing written; and the batch function under it stays as fast as the claims grow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.commands import Deposit, Withdraw
from core_banking.domain.errors import IdempotencyKeyReused, InsufficientFunds
from core_banking.domain.ledger import PostingResult
from core_banking.storage.postgres import PostgreSQLStorage
from support.banking import CONTEXT, assert_verified, funded_account, key, money
from support.databases import migrate

pytestmark = [pytest.mark.postgres]


BATCHES = 8  # PL/pgSQL tries five custom plans before it settles on a generic one
KEYS_ADDED = 100_000


@pytest.fixture
async def bank(tmp_postgres_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Nexum]:
    """Ten pooled connections, or as many as the test names (indirect parametrisation)."""
    migrate(tmp_postgres_url)
    pool_size = getattr(request, "param", "10")
    nexum = build(settings_for(tmp_postgres_url, database_pool_size=pool_size))
    try:
        yield nexum
    finally:
        await nexum.aclose()


async def direct_connection(url: str) -> asyncpg.Connection:
    """A connection of the test's own, outside the bank's pool."""
    return await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def groups_posted(bank: Nexum) -> int:
    assert isinstance(bank.storage, PostgreSQLStorage)
    return bank.storage.group_commit.groups_posted


async def test_concurrent_withdrawals_post_in_groups_and_only_the_refused_are_refused(
    bank: Nexum,
) -> None:
    account = await funded_account(bank, "37.00")
    before = groups_posted(bank)

    outcomes = await asyncio.gather(
        *(
            bank.ledger.withdraw(Withdraw(account.id, money("1.00"), key()), CONTEXT)
            for _ in range(40)
        ),
        return_exceptions=True,
    )

    assert groups_posted(bank) > before
    posted = [outcome for outcome in outcomes if isinstance(outcome, PostingResult)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, InsufficientFunds)]
    # three refusals: fewer than group commit takes out before going one by one
    assert (len(posted), len(refused)) == (37, 3)
    # each refusal is the caller's own, as if posted alone: no place in someone's group
    assert all(refusal.context == {"account_id": str(account.id)} for refusal in refused)
    balances_after = sorted(
        line.balance_after_minor
        for result in posted
        for line in result.entry.lines
        if line.account_id == account.id
    )
    assert balances_after == [100 * n for n in range(37)]
    assert (await bank.accounts.get(account.id)).posted_minor == 0
    await assert_verified(bank.storage)


async def test_a_replayed_key_in_a_group_answers_with_the_first_posting(bank: Nexum) -> None:
    account = await funded_account(bank, "10.00")
    again = Deposit(account.id, money("5.00"), key())
    first = await bank.ledger.deposit(again, CONTEXT)
    before = groups_posted(bank)

    fresh = [Deposit(account.id, money("1.00"), key()) for _ in range(5)]
    results = await asyncio.gather(
        *(bank.ledger.deposit(command, CONTEXT) for command in [*fresh[:3], again, *fresh[3:]])
    )

    assert groups_posted(bank) > before
    replay = results[3]
    assert replay.replayed
    assert replay.entry.id == first.entry.id
    assert not any(result.replayed for index, result in enumerate(results) if index != 3)
    assert (await bank.accounts.get(account.id)).posted_minor == 10_00 + 5_00 + 5 * 1_00
    await assert_verified(bank.storage)


async def test_one_key_twice_in_a_group_posts_once_and_refuses_a_different_request(
    bank: Nexum,
) -> None:
    account = await funded_account(bank, "10.00")
    shared = key()
    same = Deposit(account.id, money("2.00"), shared)
    different = Deposit(account.id, money("3.00"), shared)
    before = groups_posted(bank)

    outcomes = await asyncio.gather(
        bank.ledger.deposit(Deposit(account.id, money("1.00"), key()), CONTEXT),
        bank.ledger.deposit(same, CONTEXT),
        bank.ledger.deposit(same, CONTEXT),
        bank.ledger.deposit(different, CONTEXT),
        return_exceptions=True,
    )

    assert groups_posted(bank) > before
    fresh, once, twice, reused = outcomes
    assert isinstance(fresh, PostingResult)
    assert not fresh.replayed
    assert isinstance(once, PostingResult)
    assert isinstance(twice, PostingResult)
    assert once.entry.id == twice.entry.id
    assert [once.replayed, twice.replayed] == [False, True]
    assert isinstance(reused, IdempotencyKeyReused)
    assert "operation_index" not in reused.context
    assert (await bank.accounts.get(account.id)).posted_minor == 10_00 + 1_00 + 2_00
    await assert_verified(bank.storage)


async def test_operations_each_on_their_own_are_posted_in_groups_in_order(bank: Nexum) -> None:
    """An independent batch: 120 withdrawals of 1.00 against 100.00 and a deposit of 10.00
    among them. Exactly the first 100 the balance covers post, in order: those after the
    money ran out are refused until the deposit, which lets ten more through."""
    account = await funded_account(bank, "100.00")
    before = groups_posted(bank)
    commands: list[Withdraw | Deposit] = [
        Withdraw(account.id, money("1.00"), key()) for _ in range(120)
    ]
    commands.insert(105, Deposit(account.id, money("10.00"), key()))

    outcomes = await bank.ledger.execute_each(commands, CONTEXT)

    assert groups_posted(bank) > before
    refused = [index for index, o in enumerate(outcomes) if isinstance(o, InsufficientFunds)]
    assert refused == [*range(100, 105), *range(116, 121)]
    assert (await bank.accounts.get(account.id)).posted_minor == 0
    await assert_verified(bank.storage)


async def test_a_posting_cancelled_while_it_waits_for_a_lock_is_cancelled_at_the_server(
    bank: Nexum, tmp_postgres_url: str
) -> None:
    """A request cut off at its deadline answers that nothing was written, so the caller's
    cancellation must not complete before the server has cancelled the statement: the
    lock let go the moment it does must find nothing left to commit. (The cancel request
    travels on a connection of its own: without the wait it loses the race now and then,
    so the test runs it several times.)"""
    account = await funded_account(bank, "100.00")
    holder = await direct_connection(tmp_postgres_url)
    try:
        for _ in range(8):
            await holder.execute("BEGIN")
            await holder.execute("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", account.id)
            deposit = asyncio.create_task(
                bank.ledger.deposit(Deposit(account.id, money("25.00"), key()), CONTEXT)
            )
            await asyncio.sleep(0.2)  # sent, and waiting for the row
            assert not deposit.done()
            deposit.cancel()
            with pytest.raises(asyncio.CancelledError):
                await deposit
            await holder.execute("ROLLBACK")
    finally:
        await holder.close()
    await asyncio.sleep(0.5)  # time enough for a statement still running to commit
    assert (await bank.accounts.get(account.id)).posted_minor == 100_00
    assert await bank.ledger.deposit(Deposit(account.id, money("1.00"), key()), CONTEXT)
    await assert_verified(bank.storage)


# --- the batch function's plans ------------------------------------------------------------
# PostgreSQL keeps a connection's plan of a statement in a PL/pgSQL function once it has
# made a generic one. A plan made while idempotency_keys was small must not go on scanning
# the whole table once it is large: every group commit and batch asks whether a key of
# theirs is already claimed (migration 0014).


async def scans_of_the_claims(bank: Nexum, observer: asyncpg.Connection) -> int:
    """Sequential scans of idempotency_keys so far, the pooled connection's included."""
    assert isinstance(bank.storage, PostgreSQLStorage)
    async with bank.storage.autocommit_engine.connect() as pooled:
        await pooled.exec_driver_sql("SELECT pg_stat_force_next_flush()")
    scans: int = await observer.fetchval(
        "SELECT pg_stat_clear_snapshot(), seq_scan FROM pg_stat_user_tables"
        " WHERE relname = 'idempotency_keys'",
        column=1,
    )
    return scans


@pytest.mark.parametrize("bank", ["1"], indirect=True)  # where every plan is cached
async def test_batches_look_up_their_keys_by_index_once_the_claims_are_many(
    bank: Nexum, tmp_postgres_url: str
) -> None:
    account = await funded_account(bank, "1000.00")

    async def batch() -> None:
        deposits = [Deposit(account.id, money("1.00"), key()) for _ in range(10)]
        await bank.ledger.execute_together(deposits, CONTEXT)

    for _ in range(BATCHES):  # the plans made while the table is small
        await batch()
    observer = await direct_connection(tmp_postgres_url)
    try:
        await observer.execute(
            "INSERT INTO idempotency_keys (scope, key, operation, fingerprint, entity_id,"
            " created_at) SELECT 'elsewhere', 'key-' || n, 'deposit', '\\x00'::bytea,"
            " gen_random_uuid(), now() FROM generate_series(1, $1) AS n",
            KEYS_ADDED,
        )
        before = await scans_of_the_claims(bank, observer)
        for _ in range(BATCHES):
            await batch()
        assert await scans_of_the_claims(bank, observer) == before
    finally:
        await observer.close()
    assert (await bank.accounts.get(account.id)).posted_minor == (1000 + 2 * BATCHES * 10) * 100
    await assert_verified(bank.storage)
