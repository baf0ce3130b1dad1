"""Fixtures shared by the whole suite.

``bank`` is a Nexum wired to a migrated database, once per backend: the same test runs on
SQLite and on PostgreSQL. Databases are created for the test session and dropped after it;
every test makes its own customers and accounts, so tests never see each other's money.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core_banking.bootstrap import Nexum, build
from core_banking.config import Settings, load_config
from core_banking.storage import Storage, create_storage
from support.banking import FakeClock
from support.databases import (
    create_postgres_database,
    drop_postgres_database,
    migrate,
    postgres_available,
    postgres_required,
    sqlite_url,
)

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--base-url",
        default=None,
        help="run the HTTP tests against a deployed Nexum at this URL",
    )


def settings_for(url: str, **overrides: str) -> Settings:
    environ = {"NEXUM_DATABASE_URL": url, "NEXUM_ENVIRONMENT": "test"}
    environ.update({f"NEXUM_{name.upper()}": value for name, value in overrides.items()})
    return load_config(environ)


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A migrated PostgreSQL database for this test session."""
    problem = await postgres_available()
    if problem is not None:
        if postgres_required():
            pytest.fail(problem)
        pytest.skip(problem)
    url = await create_postgres_database()
    try:
        migrate(url)
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database for this test session."""
    url = sqlite_url(tmp_path_factory.mktemp("sqlite"))
    migrate(url)
    return url


@pytest.fixture(scope="session")
async def sqlite_storage(sqlite_database_url: str) -> AsyncIterator[Storage]:
    storage = create_storage(sqlite_database_url)
    yield storage
    await storage.dispose()


@pytest.fixture(scope="session")
async def postgresql_storage(postgres_url: str) -> AsyncIterator[Storage]:
    storage = create_storage(postgres_url, pool_size=10)
    yield storage
    await storage.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql":
        request.applymarker(pytest.mark.postgres)
    return name


@pytest.fixture
def storage(backend: str, request: pytest.FixtureRequest) -> Storage:
    found: Storage = request.getfixturevalue(f"{backend}_storage")
    return found


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bank(storage: Storage, clock: FakeClock) -> Nexum:
    """A bank on the session database of the backend under test, with a fake clock."""
    config = settings_for(storage.database_url)
    return build(config, storage=storage, clock=clock)


@pytest.fixture
def tmp_sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database of this test's own."""
    return sqlite_url(tmp_path)


@pytest.fixture
async def tmp_postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database of this test's own."""
    problem = await postgres_available()
    if problem is not None:
        if postgres_required():
            pytest.fail(problem)
        pytest.skip(problem)
    url = await create_postgres_database("nexum_test_own")
    try:
        yield url
    finally:
        await drop_postgres_database(url)
