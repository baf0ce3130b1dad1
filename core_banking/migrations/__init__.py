"""Schema migrations (Alembic), runnable from code as the deployment guide shows::

    storage = PostgreSQLStorage(config.database_url)
    applied = MigrationManager(storage).migrate_up()

`migrate_up`, `migrate_down` and `status` are synchronous, so they work from a plain
script; each runs Alembic on its own short-lived connection in a worker thread, which also
makes them safe to call from inside a running event loop (the server's start-up). The
``*_async`` variants are for async callers.

On PostgreSQL a session advisory lock serialises migrators, so several API processes
starting at once with NEXUM_AUTO_MIGRATE=true migrate exactly once; lock waits and
statements are bounded by the migration timeout (NEXUM_MIGRATION_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core_banking.domain.money import all_currencies
from core_banking.storage.accounts import AccountRepository
from core_banking.storage.errors import driver_error
from core_banking.storage.sqlite import WRITE_OPTION, configure_sqlite_engine
from core_banking.storage.urls import async_url
from core_banking.storage.users import RoleRepository

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 300
_ADVISORY_LOCK_KEY = 0x6E6578756D  # "nexum"
_BACKSTOP_SECONDS = 5
_TIMEOUT_SQLSTATES = frozenset({"55P03", "57014"})  # lock_not_available, query_canceled
_SCRIPT_LOCATION = Path(__file__).parent


class HasDatabaseURL(Protocol):
    @property
    def database_url(self) -> str: ...


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return not self.pending


class MigrationTimeout(TimeoutError):
    pass


class MigrationManager:
    def __init__(
        self, storage: HasDatabaseURL | str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        raw_url = storage if isinstance(storage, str) else storage.database_url
        self.database_url = async_url(raw_url).render_as_string(hide_password=False)
        self.timeout_seconds = timeout_seconds
        self._scripts = ScriptDirectory(str(_SCRIPT_LOCATION))

    # --- synchronous API (the guide's) -------------------------------------------------

    def migrate_up(self, target: str = "head") -> list[str]:
        """Apply every pending migration up to ``target``; the revisions applied, in order
        (an empty list when the schema was already current)."""
        return self._run_sync(self.migrate_up_async(target))

    def migrate_down(self, target: str = "-1") -> list[str]:
        """Undo migrations down to ``target`` (one step by default; "base" for all)."""
        return self._run_sync(self.migrate_down_async(target))

    def status(self) -> MigrationStatus:
        return self._run_sync(self.status_async())

    # --- asynchronous API ---------------------------------------------------------------

    async def migrate_up_async(self, target: str = "head") -> list[str]:
        applied = await self._with_connection(lambda conn: self._upgrade(conn, target))
        await self._seed_reference_data()
        return applied

    async def migrate_down_async(self, target: str = "-1") -> list[str]:
        return await self._with_connection(lambda conn: self._downgrade(conn, target))

    async def status_async(self) -> MigrationStatus:
        return await self._with_connection(self._status)

    # --- the work, on a synchronous Alembic connection ------------------------------------

    def _upgrade(self, conn: Connection, target: str) -> list[str]:
        current = self._current(conn)
        pending = [
            script.revision
            for script in reversed(list(self._scripts.iterate_revisions(target, current)))
        ]
        if pending:
            command.upgrade(self._config(conn), target)
        return pending

    def _downgrade(self, conn: Connection, target: str) -> list[str]:
        current = self._current(conn)
        if current is None:
            return []
        destination = self._resolve_down_target(current, target)
        undone = [
            script.revision for script in self._scripts.iterate_revisions(current, destination)
        ]
        if undone:
            command.downgrade(self._config(conn), target)
        return undone

    def _resolve_down_target(self, current: str, target: str) -> str | None:
        if target == "base":
            return None
        if target.startswith("-"):
            script = self._scripts.get_revision(current)
            for _ in range(int(target[1:])):
                if script is None or script.down_revision is None:
                    return None
                script = self._scripts.get_revision(str(script.down_revision))
            return script.revision if script is not None else None
        return target

    def _status(self, conn: Connection) -> MigrationStatus:
        current = self._current(conn)
        head = self._scripts.get_current_head()
        if head is None:
            raise RuntimeError("no migrations found")
        pending = tuple(
            script.revision
            for script in reversed(list(self._scripts.iterate_revisions("head", current)))
        )
        return MigrationStatus(current=current, head=head, pending=pending)

    @staticmethod
    def _current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def _config(conn: Connection) -> Config:
        config = Config()
        config.set_main_option("script_location", str(_SCRIPT_LOCATION))
        config.attributes["connection"] = conn
        return config

    def _engine(self) -> AsyncEngine:
        """A pool-less engine of its own: migrations may run in a thread with its own loop."""
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        if engine.dialect.name == "sqlite":
            configure_sqlite_engine(engine, busy_timeout_ms=int(self.timeout_seconds * 1000))
        return engine

    async def _with_connection(self, work: Callable[[Connection], T]) -> T:
        engine = self._engine()
        try:
            async with engine.connect() as conn:
                if conn.dialect.name == "sqlite":  # one migrator at a time: the writer lock
                    await conn.execution_options(**{WRITE_OPTION: True})
                if conn.dialect.name == "postgresql":
                    timeout_ms = int(self.timeout_seconds * 1000)
                    await conn.execute(text(f"SET lock_timeout = {timeout_ms}"))
                    await conn.execute(text(f"SET statement_timeout = {timeout_ms}"))
                    await conn.execute(
                        text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                    )
                    await conn.commit()
                result = await conn.run_sync(work)
                await conn.commit()
                return result
        finally:
            await engine.dispose()

    async def _seed_reference_data(self) -> None:
        """Reference data that follows the code rather than the schema history: the bank's
        general-ledger accounts in every ISO 4217 currency, and the built-in roles — each
        once the schema reached has its table. Idempotent."""
        engine = self._engine()
        now = datetime.now(UTC)
        try:
            async with engine.connect() as conn:
                if conn.dialect.name == "sqlite":  # read then write: take the writer lock first
                    await conn.execution_options(**{WRITE_OPTION: True})
                await conn.begin()
                tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
                if "accounts" in tables:
                    await AccountRepository(conn).ensure_charts(
                        [c.code for c in all_currencies()], now
                    )
                if "roles" in tables:
                    await RoleRepository(conn).sync_builtin(now)
                await conn.commit()
        finally:
            await engine.dispose()

    def _run_sync(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run in a fresh event loop on a worker thread. The database ends waits and
        statements at the timeout; the thread's own bound is a little longer, a backstop."""
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexum-migrate")
        future = pool.submit(asyncio.run, coroutine)
        try:
            return future.result(timeout=self.timeout_seconds + _BACKSTOP_SECONDS)
        except TimeoutError as exc:
            raise self._timed_out() from exc
        except Exception as exc:
            error = driver_error(exc)
            if error is not None and error.sqlstate in _TIMEOUT_SQLSTATES:
                raise self._timed_out() from exc
            raise
        finally:
            pool.shutdown(wait=False)

    def _timed_out(self) -> MigrationTimeout:
        return MigrationTimeout(
            f"migrations did not finish within {self.timeout_seconds} s "
            "(NEXUM_MIGRATION_TIMEOUT_SECONDS): another migration may hold the lock"
        )


__all__ = ["MigrationManager", "MigrationStatus", "MigrationTimeout"]
