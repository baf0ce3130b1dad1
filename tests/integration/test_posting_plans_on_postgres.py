"""PostgreSQL keeps a connection's plan of a statement in a PL/pgSQL function once it has
made a generic one. A plan made while idempotency_keys was small must not go on scanning
the whole table once it is large: every group commit and every batch asks it whether a key
of theirs is already claimed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.commands import Deposit
from core_banking.storage.postgres import PostgreSQLStorage
from support.banking import CONTEXT, assert_verified, funded_account, key, money
from support.databases import migrate

pytestmark = [pytest.mark.postgres]

BATCHES = 8  # PL/pgSQL tries five custom plans before it settles on a generic one
KEYS_ADDED = 100_000


@pytest.fixture
async def bank(tmp_postgres_url: str) -> AsyncIterator[Nexum]:
    """One pooled connection, so every batch runs where the plans were cached."""
    migrate(tmp_postgres_url)
    nexum = build(settings_for(tmp_postgres_url, database_pool_size="1"))
    try:
        yield nexum
    finally:
        await nexum.aclose()


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


async def test_batches_look_up_their_keys_by_index_once_the_claims_are_many(
    bank: Nexum, tmp_postgres_url: str
) -> None:
    account = await funded_account(bank, "1000.00")

    async def batch() -> None:
        deposits = [Deposit(account.id, money("1.00"), key()) for _ in range(10)]
        await bank.ledger.execute_together(deposits, CONTEXT)

    for _ in range(BATCHES):  # the plans made while the table is small
        await batch()
    url = make_url(tmp_postgres_url).set(drivername="postgresql")
    observer = await asyncpg.connect(url.render_as_string(hide_password=False))
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
