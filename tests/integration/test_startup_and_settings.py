"""The server's start-up honours NEXUM_AUTO_MIGRATE, migrations honour their timeout, and the
storage honours the pool settings."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from conftest import settings_for
from core_banking.api import create_app
from core_banking.bootstrap import storage_from
from core_banking.migrations import MigrationManager, MigrationTimeout
from support.databases import HEAD, REVISIONS, migrate


async def _get(app, path: str) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nexum") as client:
            return await client.get(path)


async def test_start_up_migrates_an_empty_database_when_auto_migrate_is_on(tmp_sqlite_url):
    app = create_app(settings_for(tmp_sqlite_url, auto_migrate="true"))
    response = await _get(app, "/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "schema": HEAD}


async def test_start_up_leaves_the_schema_alone_when_auto_migrate_is_off(tmp_sqlite_url):
    app = create_app(settings_for(tmp_sqlite_url, auto_migrate="false"))
    response = await _get(app, "/health/ready")
    assert response.status_code == 503
    assert response.json().get("pending") == list(REVISIONS), response.json()
    assert MigrationManager(tmp_sqlite_url).status().current is None


async def test_health_reports_the_database(tmp_sqlite_url):
    migrate(tmp_sqlite_url)
    app = create_app(settings_for(tmp_sqlite_url, auto_migrate="false"))
    response = await _get(app, "/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "healthy"
    assert body["components"]["database"]["status"] == "healthy"
    assert body["components"]["database"]["response_time_ms"] >= 0


@pytest.mark.postgres
async def test_a_migration_waiting_on_another_migrator_gives_up_at_its_timeout(tmp_postgres_url):
    """Another process holds the migration lock; the timeout (lock_timeout on the server)
    ends the wait with an error instead of hanging."""
    dsn = (
        make_url(tmp_postgres_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute("SELECT pg_advisory_lock(474148795757)")  # "nexum"
        manager = MigrationManager(tmp_postgres_url, timeout_seconds=1)
        started = time.monotonic()
        with pytest.raises(MigrationTimeout, match="NEXUM_MIGRATION_TIMEOUT_SECONDS"):
            await asyncio.to_thread(manager.migrate_up)
        assert time.monotonic() - started < 10
    finally:
        await holder.close()
    assert await asyncio.to_thread(MigrationManager(tmp_postgres_url).migrate_up) == list(REVISIONS)


def test_the_storage_honours_the_pool_settings(tmp_sqlite_url):
    config = settings_for(
        tmp_sqlite_url,
        database_pool_size="7",
        database_pool_overflow="3",
        database_pool_timeout="12",
        database_echo="true",
    )
    storage = storage_from(config)
    pool = storage.engine.pool
    assert (pool.size(), pool._max_overflow, pool.timeout()) == (7, 3, 12)
    assert storage.engine.echo is True


@pytest.mark.postgres
def test_the_postgresql_storage_honours_the_pool_settings(postgres_url):
    storage = storage_from(settings_for(postgres_url, database_pool_size="9"))
    assert storage.engine.pool.size() == 9
    assert storage.engine.dialect.name == "postgresql"
