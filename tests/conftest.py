"""Fixtures shared by the whole suite.

``bank`` is a Nexum wired to a migrated database, once per backend: the same test runs on
SQLite and on PostgreSQL. Databases are created for the test session and dropped after it;
every test makes its own customers and accounts, so tests never see each other's money.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core_banking.api import create_app
from core_banking.bootstrap import Nexum, build
from core_banking.config import Settings, load_config
from core_banking.storage import Storage, create_storage
from support.api import Api
from support.banking import FakeClock
from support.databases import (
    create_postgres_database,
    drop_postgres_database,
    migrate,
    postgres_available,
    postgres_required,
    sqlite_url,
)
from support.redis import named_redis_url, require_redis

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--base-url",
        default=None,
        help="run the HTTP tests (marked http) against a deployed Nexum at this URL; "
        "credentials from NEXUM_TEST_ADMIN_USERNAME and NEXUM_TEST_ADMIN_PASSWORD",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --base-url only the HTTP tests run, once each: they are what can reach a
    deployed server; tests of the local databases are deselected, not skipped.

    Slow tests (marked slow) are collected first. pytest-xdist hands tests to its workers
    in collection order as each asks for more, so the long ones start at once and the run
    ends on short ones, instead of one worker finishing a minute-long test alone."""
    if config.getoption("--base-url"):
        selected, deselected = [], []
        for item in items:
            callspec = getattr(item, "callspec", None)
            backend = callspec.params.get("backend") if callspec else None
            if item.get_closest_marker("http") and backend in (None, "sqlite"):
                selected.append(item)
            else:
                deselected.append(item)
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


TEST_JWT_SECRET = "a-test-signing-secret-that-is-long-enough-for-hs256"


def settings_for(url: str, **overrides: str) -> Settings:
    """Settings for a test: its database, a long enough token secret, no rate limits
    (unless a test turns them on)."""
    environ = {
        "NEXUM_DATABASE_URL": url,
        "NEXUM_ENVIRONMENT": "test",
        "NEXUM_JWT_SECRET": TEST_JWT_SECRET,
        "NEXUM_ENABLE_RATE_LIMITING": "false",
    }
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


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def sqlite_app(sqlite_database_url: str) -> AsyncIterator[FastAPI]:
    async with running(create_app(settings_for(sqlite_database_url))) as app:
        yield app


@pytest.fixture(scope="session")
async def postgresql_app(postgres_url: str) -> AsyncIterator[FastAPI]:
    async with running(create_app(settings_for(postgres_url))) as app:
        yield app


@pytest.fixture
def app(request: pytest.FixtureRequest, backend: str) -> FastAPI | None:
    """The running in-process app of the backend under test (None with --base-url)."""
    if request.config.getoption("--base-url"):
        return None
    found: FastAPI = request.getfixturevalue(f"{backend}_app")
    return found


@pytest.fixture(scope="session")
def signed_in() -> dict[str, dict[str, dict[str, str]]]:
    """Headers of the users tests sign in as, per server, kept for the whole session so that
    each role's user is created and logged in once."""
    return {}


@pytest.fixture
async def api(
    request: pytest.FixtureRequest,
    app: FastAPI | None,
    backend: str,
    signed_in: dict[str, dict[str, dict[str, str]]],
) -> AsyncIterator[Api]:
    """The HTTP API: in process on the backend under test, or the deployed server named by
    --base-url."""
    base_url = request.config.getoption("--base-url")
    if app is None:
        client = httpx.AsyncClient(base_url=base_url, timeout=30)
    else:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nexum")
    async with client:
        yield Api(client, signed_in.setdefault(base_url or backend, {}))


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


@pytest.fixture
async def redis_url() -> str:
    """The test Redis (database 15), with a client name of this test's own."""
    await require_redis()
    return named_redis_url("test")
