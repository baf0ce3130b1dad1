"""Test databases that tests create and drop themselves.

PostgreSQL tests use the server named by NEXUM_TEST_POSTGRES_URL (default: the local
server, user postgres). When it cannot be reached, PostgreSQL tests are skipped with the
reason, unless NEXUM_TEST_REQUIRE_POSTGRES=1 (CI sets it), which turns that into a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from core_banking.migrations import MigrationManager

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_postgres_url() -> str:
    return os.environ.get("NEXUM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_required() -> bool:
    return os.environ.get("NEXUM_TEST_REQUIRE_POSTGRES", "") == "1"


def _driver_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def postgres_available() -> str | None:
    """None when the server answers, otherwise why not."""
    try:
        conn = await asyncpg.connect(_driver_dsn(admin_postgres_url()), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {admin_postgres_url()} is not reachable: {exc}"
    await conn.close()
    return None


async def create_postgres_database(prefix: str = "nexum_test") -> str:
    """A new empty database; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(_driver_dsn(admin_postgres_url()))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_postgres_url()).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(_driver_dsn(admin_postgres_url()))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# Every migration, oldest first: what migrating an empty database applies. Named here once,
# so a test states the expected history rather than asking the code under test for it.
REVISIONS = (
    "0001_ledger_core",
    "0002_security_and_pii",
    "0003_event_outbox",
    "0004_products",
    "0005_close_of_business",
    "0006_deposit_interest",
    "0007_loans",
    "0008_credit_lines",
    "0009_maintenance_fees",
    "0010_term_deposits",
    "0011_transaction_fees",
    "0012_batch_posting",
    "0013_set_based_batch_posting",
    "0014_claimed_keys_found_by_index",
)
HEAD = REVISIONS[-1]


def sqlite_url(directory: Path, name: str = "nexum.db") -> str:
    return f"sqlite:///{directory / name}"


@contextmanager
def postgres_database_on(loop: asyncio.AbstractEventLoop, prefix: str) -> Iterator[str]:
    """A new empty database for synchronous test code driving ``loop`` (as Hypothesis
    tests do), dropped afterwards; the test is skipped, or failed when PostgreSQL is
    required, if the server cannot be reached."""
    problem = loop.run_until_complete(postgres_available())
    if problem is not None:
        if postgres_required():
            pytest.fail(problem)
        pytest.skip(problem)
    url = loop.run_until_complete(create_postgres_database(prefix))
    try:
        yield url
    finally:
        loop.run_until_complete(drop_postgres_database(url))


def migrate(url: str) -> list[str]:
    return MigrationManager(url).migrate_up()


def run(coroutine):  # type: ignore[no-untyped-def]
    """Run a coroutine to completion from synchronous test code."""
    return asyncio.run(coroutine)
