"""Schema migrations through MigrationManager, on SQLite and on PostgreSQL: status, up, down
(one step, and to base) and up again; the migrated schema against
``core_banking.storage.schema.metadata``, and the schema one step down against the first
revision's own; the reference data migrate_up seeds (the GL chart, the built-in roles);
concurrent migrators; and the deployment guide's migration snippets, run verbatim the way an
operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Enum, Executable, delete, inspect, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core_banking.domain.audit import AUDIT_SHARDS, genesis_hash
from core_banking.domain.chart import CHART, gl_account_id
from core_banking.domain.money import all_currencies
from core_banking.domain.security import DEFAULT_ROLES
from core_banking.migrations import MigrationManager
from core_banking.storage import (
    PostgreSQLStorage,
    SQLiteStorage,
    UnsupportedDatabase,
    create_storage,
)
from core_banking.storage.schema import customers, metadata, roles
from core_banking.storage.sqlite import configure_sqlite_engine
from core_banking.storage.urls import async_url
from core_banking.storage.verification import verify_ledger
from support.databases import (
    HEAD,
    REVISIONS,
    create_postgres_database,
    drop_postgres_database,
    sqlite_url,
)

LEDGER, SECURITY = REVISIONS[0], REVISIONS[1]
_APPEND_ONLY = ("journal_entries", "journal_lines", "audit_events")
_MIGRATIONS_DIRECTORY = Path(__file__).resolve().parents[2] / "core_banking" / "migrations"

# The tables each revision creates.
LEDGER_TABLES = {
    "customers",
    "accounts",
    "journal_entries",
    "journal_lines",
    "holds",
    "idempotency_keys",
    "audit_chain_heads",
    "audit_events",
}
SECURITY_TABLES = {
    "roles",
    "users",
    "user_roles",
    "sessions",
    "api_keys",
    "http_idempotency",
    "customer_name_tokens",
}
OUTBOX_TABLES = {"outbox_events", "outbox_relay_lease"}
PRODUCTS_TABLES = {"products"}
CLOSE_OF_BUSINESS_TABLES = {
    "business_calendar",
    "close_of_business_runs",
    "close_of_business_steps",
}
LOANS_TABLES = {"loans", "loan_installments", "loan_prepayments"}
DEPOSIT_INTEREST_TABLES = {
    "deposit_interest_terms",
    "deposit_interest_tiers",
    "deposit_interest_accruals",
    "deposit_interest_state",
}
MAINTENANCE_FEE_TABLES = {"deposit_fee_terms", "deposit_maintenance_fees"}
TERM_DEPOSIT_TABLES = {"term_deposits"}
TRANSACTION_FEE_TABLES = {"deposit_transaction_fees"}
CREDIT_LINE_TABLES = {
    "credit_lines",
    "credit_line_movements",
    "credit_line_accruals",
    "credit_line_statements",
}
ALL_TABLES = (
    LEDGER_TABLES
    | SECURITY_TABLES
    | OUTBOX_TABLES
    | PRODUCTS_TABLES
    | CLOSE_OF_BUSINESS_TABLES
    | LOANS_TABLES
    | DEPOSIT_INTEREST_TABLES
    | CREDIT_LINE_TABLES
    | MAINTENANCE_FEE_TABLES
    | TERM_DEPOSIT_TABLES
    | TRANSACTION_FEE_TABLES
)

# The built-in roles' amount limits as the roles table stores them: text, NULL for none.
BUILTIN_AMOUNT_LIMITS = {
    "admin": None,
    "auditor": "0",
    "customer_service": "0",
    "loan_officer": "250000.00",
    "manager": None,
    "teller": "10000.00",
}

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
    assert MigrationManager(empty_url).migrate_up() == list(REVISIONS)
    return empty_url


@pytest.fixture
async def other_postgres_url() -> AsyncIterator[str]:
    """A second empty PostgreSQL database (tmp_postgres_url gives one per test)."""
    url = await create_postgres_database("nexum_test_own")
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
def reference_url(
    backend: str, empty_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> str:
    """A second empty database on the backend under test (after empty_url, which skips or
    fails the test when PostgreSQL cannot be reached)."""
    if backend == "sqlite":
        return sqlite_url(tmp_path, "reference.db")
    url: str = request.getfixturevalue("other_postgres_url")
    return url


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


async def execute(url: str, *statements: Executable) -> None:
    """Run ``statements`` in one committed transaction."""
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(statement)
    finally:
        await engine.dispose()


def _alembic_upgrade(conn: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIRECTORY))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def upgrade_with_alembic_only(url: str, revision: str) -> None:
    """Alembic's own upgrade to ``revision``, without MigrationManager and its reference
    data: the independent yardstick a downgraded schema is compared with."""
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        configure_sqlite_engine(engine, busy_timeout_ms=30_000)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_alembic_upgrade, revision)
            await conn.commit()
    finally:
        await engine.dispose()


def table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def schema_snapshot(conn: Connection) -> dict[str, Any]:
    """Everything of Nexum's in the schema, as comparable values: per table its columns (in
    order, with type, nullability, server default and comment), primary key, foreign keys,
    indexes, unique and CHECK constraints; on PostgreSQL also the enum types with their
    labels, the functions and the triggers; on SQLite the triggers."""
    inspector = inspect(conn)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("comment"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (
                    str(fk["name"]),
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (str(ix["name"]), tuple(map(str, ix["column_names"])), ix["unique"])
                for ix in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (str(uq["name"]), tuple(uq["column_names"]))
                for uq in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (str(ck["name"]), ck["sqltext"]) for ck in inspector.get_check_constraints(table)
            ),
        }
    snapshot: dict[str, Any] = {"tables": tables}
    if conn.dialect.name == "postgresql":
        snapshot["enum_types"] = dict(conn.execute(text(_PG_ENUM_TYPES)).all())
        snapshot["functions"] = sorted(
            conn.execute(text("SELECT proname FROM pg_proc WHERE proname LIKE 'nexum%'")).all()
        )
        snapshot["triggers"] = sorted(
            conn.execute(
                text(
                    "SELECT tgname, tgrelid::regclass::text, pg_get_triggerdef(oid)"
                    " FROM pg_trigger WHERE NOT tgisinternal"
                )
            ).all()
        )
    else:
        snapshot["triggers"] = sorted(
            conn.execute(
                text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
        )
    return snapshot


_PG_ENUM_TYPES = (
    "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)"
    " FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname"
)


def environment_with(url: str, **extra: str) -> dict[str, str]:
    """The current environment without any NEXUM_* setting, plus the database URL."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("NEXUM_")}
    environ["NEXUM_DATABASE_URL"] = url
    environ.update(extra)
    return environ


# --- status, up, down -----------------------------------------------------------------------


def test_the_tables_are_those_of_the_metadata():
    assert set(metadata.tables) == ALL_TABLES
    assert len(ALL_TABLES) == (
        len(LEDGER_TABLES)
        + len(SECURITY_TABLES)
        + len(OUTBOX_TABLES)
        + len(PRODUCTS_TABLES)
        + len(CLOSE_OF_BUSINESS_TABLES)
        + len(LOANS_TABLES)
        + len(DEPOSIT_INTEREST_TABLES)
        + len(CREDIT_LINE_TABLES)
        + len(MAINTENANCE_FEE_TABLES)
        + len(TERM_DEPOSIT_TABLES)
        + len(TRANSACTION_FEE_TABLES)
    )


def test_status_of_an_empty_database_shows_every_migration_pending(empty_url):
    status = MigrationManager(empty_url).status()
    assert status.current is None
    assert status.head == HEAD
    assert status.pending == REVISIONS
    assert not status.is_current


async def test_migrate_up_applies_the_migrations_once_in_order(empty_url):
    manager = MigrationManager(empty_url)
    assert manager.migrate_up() == list(REVISIONS)
    status = manager.status()
    assert (status.current, status.pending, status.is_current) == (HEAD, (), True)
    assert manager.migrate_up() == []
    assert await inspect_database(empty_url, table_names) == ALL_TABLES | {"alembic_version"}
    assert await query(empty_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


async def test_migrate_down_to_base_leaves_no_tables(empty_url, backend):
    manager = MigrationManager(empty_url)
    assert manager.migrate_down() == []  # nothing to undo on an empty database
    assert manager.migrate_down("base") == []
    assert manager.migrate_up() == list(REVISIONS)

    assert manager.migrate_down("base") == list(reversed(REVISIONS))  # newest first

    # Alembic keeps its own bookkeeping table, emptied; nothing of Nexum's remains.
    assert await inspect_database(empty_url, table_names) == {"alembic_version"}
    assert await query(empty_url, "SELECT version_num FROM alembic_version") == []
    if backend == "postgresql":
        functions = await query(
            empty_url, "SELECT proname FROM pg_proc WHERE proname LIKE 'nexum%'"
        )
        assert functions == []
        enum_types = await query(empty_url, "SELECT typname FROM pg_type WHERE typtype = 'e'")
        assert enum_types == []
    else:
        triggers = await query(empty_url, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert triggers == []
    status = manager.status()
    assert (status.current, status.pending) == (None, REVISIONS)
    assert manager.migrate_down() == []
    assert manager.migrate_down("base") == []


async def test_migrate_down_undoes_one_step_leaving_the_first_revisions_schema(
    empty_url, reference_url
):
    """One step down from the security revision is the schema of the ledger revision
    exactly, compared with a database Alembic alone brought to it; the ledger's rows (and
    customers' personal data, decrypted back into plain columns) survive it."""
    manager = MigrationManager(empty_url)
    assert manager.migrate_up(SECURITY) == [LEDGER, SECURITY]
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    customer_id = UUID("0194e3a0-0000-7000-8000-0000000000c1")
    await execute(
        empty_url,
        customers.insert().values(
            id=customer_id,
            given_name="Ada",
            family_name="Lovelace",
            email="ada@example.com",
            phone="+441234567890",
            date_of_birth="1815-12-10",
            status="active",
            kyc_status="verified",
            kyc_tier=2,
            created_at=now,
            updated_at=now,
        ),
    )

    assert manager.migrate_down() == [SECURITY]

    assert await inspect_database(empty_url, table_names) == LEDGER_TABLES | {"alembic_version"}
    assert await query(empty_url, "SELECT version_num FROM alembic_version") == [(LEDGER,)]
    status = manager.status()
    assert (status.current, status.pending) == (LEDGER, REVISIONS[1:])
    await upgrade_with_alembic_only(reference_url, LEDGER)
    assert await inspect_database(empty_url, schema_snapshot) == await inspect_database(
        reference_url, schema_snapshot
    )
    assert await query(
        empty_url, "SELECT given_name, family_name, email, phone, status FROM customers"
    ) == [("Ada", "Lovelace", "ada@example.com", "+441234567890", "active")]
    [(gl_accounts,)] = await query(empty_url, "SELECT COUNT(*) FROM accounts")
    assert gl_accounts == len(CHART) * len(all_currencies())

    # and back up: the missing steps only
    assert manager.migrate_up() == list(REVISIONS[1:])
    assert manager.status().is_current
    assert await inspect_database(empty_url, _schema_differences) == []
    assert await query(
        empty_url, "SELECT given_name, family_name, kyc_status, kyc_tier FROM customers"
    ) == [("Ada", "Lovelace", "pending", 0)]


@pytest.mark.parametrize("step", range(1, len(REVISIONS)), ids=REVISIONS[1:])
async def test_each_revision_undoes_exactly_what_it_did(empty_url, reference_url, step):
    """Up to a revision and one step down is, schema for schema (tables, columns, indexes,
    constraints, triggers, functions, types), the revision before it as Alembic alone
    builds it."""
    manager = MigrationManager(empty_url)
    assert manager.migrate_up(REVISIONS[step]) == list(REVISIONS[: step + 1])
    assert manager.migrate_down() == [REVISIONS[step]]
    await upgrade_with_alembic_only(reference_url, REVISIONS[step - 1])
    assert await inspect_database(empty_url, schema_snapshot) == await inspect_database(
        reference_url, schema_snapshot
    )


async def test_migrate_down_step_by_step_and_to_a_named_revision(empty_url):
    manager = MigrationManager(empty_url)
    assert manager.migrate_up() == list(REVISIONS)
    assert manager.migrate_down(LEDGER) == list(reversed(REVISIONS[1:]))
    assert manager.status().current == LEDGER
    assert manager.migrate_up() == list(REVISIONS[1:])

    for revision in reversed(REVISIONS):
        assert manager.migrate_down() == [revision]
    assert manager.migrate_down() == []
    assert manager.status().current is None
    assert await inspect_database(empty_url, table_names) == {"alembic_version"}


async def test_migrate_up_works_again_after_migrate_down(empty_url):
    manager = MigrationManager(empty_url)
    assert manager.migrate_up() == list(REVISIONS)
    assert manager.migrate_down("base") == list(reversed(REVISIONS))

    assert manager.migrate_up() == list(REVISIONS)

    assert manager.status().is_current
    assert await inspect_database(empty_url, table_names) == ALL_TABLES | {"alembic_version"}
    [(count,)] = await query(empty_url, "SELECT COUNT(*) FROM audit_chain_heads")
    assert count == AUDIT_SHARDS
    assert await query(empty_url, "SELECT name FROM roles ORDER BY name") == [
        (name,) for name in sorted(BUILTIN_AMOUNT_LIMITS)
    ]
    assert await inspect_database(empty_url, _schema_differences) == []


async def test_migrate_up_to_an_earlier_revision_stops_there(empty_url):
    """Reference data is seeded for the tables the revision reached has, and no others."""
    manager = MigrationManager(empty_url)
    assert manager.migrate_up(LEDGER) == [LEDGER]
    assert manager.status().current == LEDGER
    [(gl_accounts,)] = await query(empty_url, "SELECT COUNT(*) FROM accounts")
    assert gl_accounts == len(CHART) * len(all_currencies())
    assert manager.migrate_up() == list(REVISIONS[1:])


async def test_migrate_up_and_status_work_inside_a_running_event_loop(empty_url):
    """The server migrates at start-up from inside its event loop: the synchronous API runs
    on a worker thread with a loop of its own, and the async variants are awaitable."""
    manager = MigrationManager(empty_url)
    assert (await manager.status_async()).pending == REVISIONS
    assert manager.migrate_up() == list(REVISIONS)
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
        for table in ALL_TABLES
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
        # the enum types, each with exactly the metadata's values in order
        enum_types = dict(await query(migrated_url, _PG_ENUM_TYPES))
        assert enum_types == {
            str(column.type.name): list(column.type.enums)
            for table in metadata.tables.values()
            for column in table.columns
            if isinstance(column.type, Enum)
        }
    else:
        [(partial,)] = await query(
            migrated_url,
            "SELECT sql FROM sqlite_master WHERE name = 'uq_journal_entries_reversal_of'",
        )
        assert partial.startswith("CREATE UNIQUE INDEX")
        assert "WHERE reversal_of IS NOT NULL" in partial


async def test_the_guards_and_outbox_triggers_exist_after_migration(migrated_url, backend):
    if backend == "postgresql":
        rows = await query(
            migrated_url,
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        )
        expected = {f"trg_{table}_append_only" for table in _APPEND_ONLY} | {
            "trg_journal_lines_balanced",
            "trg_accounts_identity",
            "trg_journal_lines_outbox",
            "trg_audit_events_outbox",
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


async def _builtin_role_rows(url: str) -> list[tuple[Any, ...]]:
    """Every role, ordered by name: (name, description, permissions, amount_limit, builtin,
    created_at); updated_at is left out, as every sync rewrites it."""

    def read(conn: Connection) -> list[tuple[Any, ...]]:
        statement = select(
            roles.c.name,
            roles.c.description,
            roles.c.permissions,
            roles.c.amount_limit,
            roles.c.builtin,
            roles.c.created_at,
        ).order_by(roles.c.name)
        return [tuple(row) for row in conn.execute(statement)]

    rows: list[tuple[Any, ...]] = await inspect_database(url, read)
    return rows


def _expected_builtin_roles() -> list[tuple[Any, ...]]:
    """(name, description, permissions, amount_limit, builtin) of DEFAULT_ROLES, by name."""
    return [
        (
            spec.name,
            spec.description,
            sorted(permission.value for permission in spec.permissions),
            None if spec.amount_limit is None else str(spec.amount_limit),
            True,
        )
        for spec in sorted(DEFAULT_ROLES, key=lambda spec: spec.name)
    ]


async def test_migrate_up_seeds_exactly_the_builtin_roles(migrated_url):
    rows = await _builtin_role_rows(migrated_url)
    assert [row[:5] for row in rows] == _expected_builtin_roles()
    # amount limits are stored as text in major units, NULL for no limit
    assert await query(migrated_url, "SELECT name, amount_limit FROM roles ORDER BY name") == (
        sorted(BUILTIN_AMOUNT_LIMITS.items())
    )
    assert {spec.name: spec.amount_limit for spec in DEFAULT_ROLES} == {
        name: None if limit is None else Decimal(limit)
        for name, limit in BUILTIN_AMOUNT_LIMITS.items()
    }
    assert all(isinstance(row[5], datetime) and row[5].tzinfo is not None for row in rows)

    # migrate_up again: nothing applied, the roles unchanged
    assert MigrationManager(migrated_url).migrate_up() == []
    assert await _builtin_role_rows(migrated_url) == rows


async def test_migrate_up_restores_the_builtin_roles_and_keeps_custom_ones(migrated_url):
    """Built-in roles follow the code: an edited one is put back, a deleted one comes back;
    a role of the bank's own is left alone."""
    rows = await _builtin_role_rows(migrated_url)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    custom = {
        "name": "branch_clerk",
        "description": "Reads customers.",
        "permissions": ["customers:read"],
        "amount_limit": "5.00",
        "builtin": False,
        "created_at": now,
        "updated_at": now,
    }
    await execute(
        migrated_url,
        update(roles)
        .where(roles.c.name == "teller")
        .values(permissions=["audit:read"], amount_limit="99999999.00", description="edited"),
        delete(roles).where(roles.c.name == "auditor"),
        roles.insert().values(**custom),
    )

    assert MigrationManager(migrated_url).migrate_up() == []

    after = await _builtin_role_rows(migrated_url)
    builtin = [row for row in after if row[4]]
    assert [row[:5] for row in builtin] == _expected_builtin_roles()
    unchanged = {row[0]: row for row in rows if row[0] != "auditor"}
    assert {row[0]: row for row in builtin if row[0] != "auditor"} == unchanged
    assert [row for row in after if not row[4]] == [
        ("branch_clerk", "Reads customers.", ["customers:read"], "5.00", False, now)
    ]


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
    assert sorted(results) == [[], list(REVISIONS)]
    assert await query(tmp_postgres_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert await query(tmp_postgres_url, "SELECT COUNT(*) FROM audit_chain_heads") == [
        (AUDIT_SHARDS,)
    ]
    assert await query(tmp_postgres_url, "SELECT COUNT(*) FROM accounts") == [
        (len(CHART) * len(all_currencies()),)
    ]
    assert await query(tmp_postgres_url, "SELECT name FROM roles ORDER BY name") == [
        (name,) for name in sorted(BUILTIN_AMOUNT_LIMITS)
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
    assert production_out.splitlines() == [f"Applied: {revision}" for revision in REVISIONS]
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
