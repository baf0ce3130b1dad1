"""Schema migrations through MigrationManager, on SQLite and on PostgreSQL: status, up, down
and up again; the migrated schema against ``core_banking.storage.schema.metadata``; the
reference data migrate_up seeds; concurrent migrators; and the deployment guide's migration
snippets, run verbatim the way an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core_banking.domain.audit import AUDIT_SHARDS, genesis_hash
from core_banking.domain.chart import CHART, gl_account_id
from core_banking.domain.money import all_currencies
from core_banking.migrations import MigrationManager
from core_banking.storage import (
    PostgreSQLStorage,
    SQLiteStorage,
    UnsupportedDatabase,
    create_storage,
)
from core_banking.storage.schema import metadata
from core_banking.storage.urls import async_url
from core_banking.storage.verification import verify_ledger
from support.databases import create_postgres_database, drop_postgres_database

HEAD = "0001_ledger_core"
_APPEND_ONLY = ("journal_entries", "journal_lines", "audit_events")
LEDGER_TABLES = set(metadata.tables)

# The deployment guide's migration snippets, verbatim (Development Setup and Production
# Deployment, "Run production migrations"), each run as `python -c "<snippet>"`.
GUIDE_DEVELOPMENT_SNIPPET = """
from core_banking.storage import PostgreSQLStorage
from core_banking.migrations import MigrationManager
from core_banking.config import get_config

config = get_config()
storage = PostgreSQLStorage(config.database_url)
mm = MigrationManager(storage)
mm.migrate_up()
"""

GUIDE_PRODUCTION_SNIPPET = """
from core_banking.storage import PostgreSQLStorage
from core_banking.migrations import MigrationManager
from core_banking.config import get_config

config = get_config()
storage = PostgreSQLStorage(config.database_url)
mm = MigrationManager(storage)
applied = mm.migrate_up()
for migration in applied:
    print(f'Applied: {migration}')
"""

# What the guide exports before the development snippet (the URL is the test's own).
GUIDE_DEVELOPMENT_ENVIRONMENT = {
    "NEXUM_LOG_LEVEL": "DEBUG",
    "NEXUM_JWT_SECRET": "dev-secret-change-in-production",
    "NEXUM_ENCRYPTION_ENABLED": "false",
}


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on the backend under test."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url


@pytest.fixture
def migrated_url(empty_url: str) -> str:
    assert MigrationManager(empty_url).migrate_up() == [HEAD]
    return empty_url


@pytest.fixture
async def other_postgres_url() -> AsyncIterator[str]:
    """A second empty PostgreSQL database (tmp_postgres_url gives one per test)."""
    url = await create_postgres_database("nexum_test_own")
    try:
        yield url
    finally:
        await drop_postgres_database(url)


async def inspect_database(url: str, work: Any) -> Any:
    """Run ``work(sync_connection)`` on a connection of its own."""
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


async def query(url: str, sql: str) -> list[Any]:
    return await inspect_database(url, lambda conn: conn.execute(text(sql)).all())


def table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def environment_with(url: str, **extra: str) -> dict[str, str]:
    """The current environment without any NEXUM_* setting, plus the database URL."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("NEXUM_")}
    environ["NEXUM_DATABASE_URL"] = url
    environ.update(extra)
    return environ


# --- status, up, down -----------------------------------------------------------------------


def test_status_of_an_empty_database_shows_the_migration_pending(empty_url):
    status = MigrationManager(empty_url).status()
    assert status.current is None
    assert status.head == HEAD
    assert status.pending == (HEAD,)
    assert not status.is_current


async def test_migrate_up_applies_the_migration_once(empty_url):
    manager = MigrationManager(empty_url)
    assert manager.migrate_up() == [HEAD]
    status = manager.status()
    assert (status.current, status.pending, status.is_current) == (HEAD, (), True)
    assert manager.migrate_up() == []
    assert await inspect_database(empty_url, table_names) == LEDGER_TABLES | {"alembic_version"}
    assert await query(empty_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


async def test_migrate_down_leaves_no_tables(empty_url, backend):
    manager = MigrationManager(empty_url)
    assert manager.migrate_down() == []  # nothing to undo on an empty database
    assert manager.migrate_up() == [HEAD]

    assert manager.migrate_down() == [HEAD]

    # Alembic keeps its own bookkeeping table, emptied; nothing of Nexum's remains.
    assert await inspect_database(empty_url, table_names) == {"alembic_version"}
    assert await query(empty_url, "SELECT version_num FROM alembic_version") == []
    if backend == "postgresql":
        functions = await query(
            empty_url, "SELECT proname FROM pg_proc WHERE proname LIKE 'nexum%'"
        )
        assert functions == []
    else:
        triggers = await query(empty_url, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert triggers == []
    status = manager.status()
    assert (status.current, status.pending) == (None, (HEAD,))
    assert manager.migrate_down() == []


async def test_migrate_up_works_again_after_migrate_down(empty_url):
    manager = MigrationManager(empty_url)
    assert manager.migrate_up() == [HEAD]
    assert manager.migrate_down("base") == [HEAD]

    assert manager.migrate_up() == [HEAD]

    assert manager.status().is_current
    assert await inspect_database(empty_url, table_names) == LEDGER_TABLES | {"alembic_version"}
    [(count,)] = await query(empty_url, "SELECT COUNT(*) FROM audit_chain_heads")
    assert count == AUDIT_SHARDS


async def test_migrate_up_and_status_work_inside_a_running_event_loop(empty_url):
    """The server migrates at start-up from inside its event loop: the synchronous API runs
    on a worker thread with a loop of its own, and the async variants are awaitable."""
    manager = MigrationManager(empty_url)
    assert (await manager.status_async()).pending == (HEAD,)
    assert manager.migrate_up() == [HEAD]
    assert await manager.migrate_up_async() == []
    assert (await manager.status_async()).is_current


# --- the migrated schema --------------------------------------------------------------------


def _schema_differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _check_constraints(conn: Connection) -> dict[str, set[str]]:
    inspector = inspect(conn)
    return {
        table: {str(check["name"]) for check in inspector.get_check_constraints(table)}
        for table in LEDGER_TABLES
    }


async def test_the_migrated_schema_matches_the_metadata(migrated_url, backend):
    """Alembic's autogenerate comparison (tables, columns, types, nullability, server
    defaults, indexes, unique and foreign keys; column comments on PostgreSQL only, since
    SQLite has none) finds no difference at all. What it does not compare is checked
    beside it: CHECK constraints on both backends, and on PostgreSQL the index methods,
    the partial index's predicate and the tables' fillfactor."""
    assert await inspect_database(migrated_url, _schema_differences) == []

    # Enum columns are PostgreSQL enum types there, and text with a CHECK on SQLite.
    expected_checks = {
        name: {
            str(c.name)
            for c in table.constraints
            if isinstance(c, CheckConstraint)
            and not (backend == "postgresql" and getattr(c, "_type_bound", False))
            and (c._ddl_if is None or c._ddl_if.dialect in (None, backend))
        }
        for name, table in metadata.tables.items()
    }
    assert await inspect_database(migrated_url, _check_constraints) == expected_checks

    if backend == "postgresql":
        indexes = dict(await query(migrated_url, "SELECT indexname, indexdef FROM pg_indexes"))
        assert "USING brin (posted_at)" in indexes["ix_journal_entries_posted_at"]
        assert "USING brin (occurred_at)" in indexes["ix_audit_events_occurred_at"]
        assert indexes["uq_journal_entries_reversal_of"].startswith("CREATE UNIQUE INDEX")
        assert "WHERE (reversal_of IS NOT NULL)" in indexes["uq_journal_entries_reversal_of"]
        options = dict(
            await query(
                migrated_url,
                "SELECT relname, reloptions FROM pg_class"
                " WHERE relname IN ('accounts', 'audit_chain_heads')",
            )
        )
        assert options == {"accounts": ["fillfactor=70"], "audit_chain_heads": ["fillfactor=50"]}
    else:
        [(partial,)] = await query(
            migrated_url,
            "SELECT sql FROM sqlite_master WHERE name = 'uq_journal_entries_reversal_of'",
        )
        assert partial.startswith("CREATE UNIQUE INDEX")
        assert "WHERE reversal_of IS NOT NULL" in partial


async def test_append_only_guards_exist_after_migration(migrated_url, backend):
    if backend == "postgresql":
        rows = await query(
            migrated_url,
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        )
        expected = {f"trg_{table}_append_only" for table in _APPEND_ONLY} | {
            "trg_journal_lines_balanced",
            "trg_accounts_identity",
        }
    else:
        rows = await query(migrated_url, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
        expected = {
            f"trg_{table}_no_{event}" for table in _APPEND_ONLY for event in ("update", "delete")
        }
    assert {name for (name,) in rows} == expected


async def test_an_account_is_either_the_banks_or_a_customers(migrated_url, backend):
    """PostgreSQL checks it with a trigger on the identity columns, SQLite with a CHECK."""
    insert = (
        "INSERT INTO accounts (id, kind, account_type, currency, status, name, code, number,"
        " created_at, updated_at) VALUES ('0194e3a0-0000-7000-8000-000000000001', 'gl', 'asset',"
        " 'USD', 'active', 'x', '9999', '123456789012', '2026-01-01', '2026-01-01')"
    )
    with pytest.raises(DBAPIError) as refused:
        await query(migrated_url, insert)
    expected = "nexum:invalid_account_identity" if backend == "postgresql" else "CHECK"
    assert expected in str(refused.value)


# --- reference data -------------------------------------------------------------------------


async def test_migrate_up_seeds_the_gl_chart_in_every_currency(migrated_url):
    rows = await query(
        migrated_url,
        "SELECT id, code, currency, account_type, kind, status, posted_minor FROM accounts",
    )
    expected = {
        (gl_account_id(spec.code, currency.code), spec.code.value, currency.code)
        for currency in all_currencies()
        for spec in CHART
    }
    assert len(rows) == len(expected) == len(CHART) * len(all_currencies())
    found = {(_as_uuid(row.id), row.code, row.currency) for row in rows}
    assert found == expected
    types = {spec.code.value: spec.account_type.value for spec in CHART}
    assert all(row.account_type == types[row.code] for row in rows)
    assert {(row.kind, row.status, row.posted_minor) for row in rows} == {("gl", "active", 0)}


def _as_uuid(value: Any) -> UUID:
    """Ids come back as UUIDs from PostgreSQL and as 32 hex digits from SQLite."""
    return value if isinstance(value, UUID) else UUID(value)


async def test_migrate_up_again_does_not_duplicate_the_chart(migrated_url):
    assert MigrationManager(migrated_url).migrate_up() == []
    [(count,)] = await query(migrated_url, "SELECT COUNT(*) FROM accounts")
    assert count == len(CHART) * len(all_currencies())


async def test_there_are_audit_shards_chains_each_at_its_genesis(migrated_url, backend):
    heads = await query(
        migrated_url, "SELECT shard, seq, head_hash FROM audit_chain_heads ORDER BY shard"
    )
    assert [(row.shard, row.seq, bytes(row.head_hash)) for row in heads] == [
        (shard, 0, genesis_hash(shard)) for shard in range(AUDIT_SHARDS)
    ]
    if backend == "postgresql":
        assert await query(migrated_url, "SELECT nexum_audit_shards()") == [(AUDIT_SHARDS,)]
    # a migrated, empty ledger verifies clean
    storage = create_storage(migrated_url)
    try:
        assert (await verify_ledger(storage)).violations == []
    finally:
        await storage.dispose()


# --- concurrency (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.postgres
async def test_concurrent_migrate_up_applies_the_schema_once(tmp_postgres_url):
    """Two API processes starting at once with NEXUM_AUTO_MIGRATE=true: the advisory lock
    lets one migrate while the other waits, then finds nothing to do."""
    start = threading.Barrier(2)
    results: list[list[str]] = []
    failures: list[BaseException] = []

    def migrator() -> None:
        manager = MigrationManager(tmp_postgres_url, timeout_seconds=60)
        start.wait()
        try:
            results.append(manager.migrate_up())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=migrator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads)

    assert failures == []
    assert sorted(results) == [[], [HEAD]]
    assert await query(tmp_postgres_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert await query(tmp_postgres_url, "SELECT COUNT(*) FROM audit_chain_heads") == [
        (AUDIT_SHARDS,)
    ]
    assert await query(tmp_postgres_url, "SELECT COUNT(*) FROM accounts") == [
        (len(CHART) * len(all_currencies()),)
    ]
    assert MigrationManager(tmp_postgres_url).status().is_current


# --- the deployment guide -------------------------------------------------------------------


def _start_snippet(snippet: str, environ: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", snippet],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.postgres
def test_the_guides_migration_snippets_work_verbatim(
    tmp_postgres_url, other_postgres_url, tmp_path
):
    """Each snippet on a fresh database of its own; both run at once to save time."""
    development = _start_snippet(
        GUIDE_DEVELOPMENT_SNIPPET,
        environment_with(tmp_postgres_url, **GUIDE_DEVELOPMENT_ENVIRONMENT),
        tmp_path,
    )
    production = _start_snippet(
        GUIDE_PRODUCTION_SNIPPET, environment_with(other_postgres_url), tmp_path
    )
    development_out, development_err = development.communicate(timeout=120)
    production_out, production_err = production.communicate(timeout=120)

    assert development.returncode == 0, development_err
    assert development_out == ""
    assert MigrationManager(tmp_postgres_url).status().is_current

    assert production.returncode == 0, production_err
    assert production_out.splitlines() == [f"Applied: {HEAD}"]
    assert MigrationManager(other_postgres_url).status().is_current

    assert not list(tmp_path.iterdir())  # nothing written where the operator stands


# --- wrong URLs -----------------------------------------------------------------------------


def test_postgresql_storage_refuses_a_sqlite_url_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"PostgreSQLStorage needs a postgresql URL, not sqlite"):
        PostgreSQLStorage("sqlite:///x.db")
    with pytest.raises(ValueError, match=r"SQLiteStorage needs a sqlite URL, not postgresql"):
        SQLiteStorage("postgresql://postgres@127.0.0.1:5432/postgres")
    assert not (tmp_path / "x.db").exists()


def test_migration_manager_refuses_an_unsupported_database():
    with pytest.raises(UnsupportedDatabase, match="PostgreSQL or SQLite, not 'mysql'"):
        MigrationManager("mysql://nexum@localhost/nexum")
    with pytest.raises(UnsupportedDatabase, match="asyncpg"):
        MigrationManager("postgresql+psycopg2://nexum@localhost/nexum")
