"""SQLite: the embedded database for a first run and for development.

One writer at a time: every write transaction begins with BEGIN IMMEDIATE, so it takes the
database's write lock before reading anything it will decide on, and other writers wait
(up to the busy timeout) instead of failing half-way. WAL mode lets readers carry on
meanwhile; synchronous=FULL makes a commit durable before it is acknowledged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core_banking.storage.base import Storage
from core_banking.storage.interest_functions import register_interest_functions

WRITE_OPTION = "nexum_write"
"""Execution option that makes a connection's transactions BEGIN IMMEDIATE."""


def configure_sqlite_engine(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """Make every connection of ``engine`` durable (WAL, synchronous=FULL), enforce foreign
    keys, wait for the writer lock instead of failing, and begin transactions explicitly:
    BEGIN IMMEDIATE for writes, plain BEGIN for reads."""

    @event.listens_for(engine.sync_engine, "connect")
    def prepare(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun explicitly below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"busy_timeout={busy_timeout_ms}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")


class SQLiteStorage(Storage):
    backend = "sqlite"

    def _configure(self, engine: AsyncEngine) -> None:
        configure_sqlite_engine(engine, busy_timeout_ms=int(self.pool_timeout * 1000))
        register_interest_functions(engine)

    async def _begin_write(self, conn: AsyncConnection) -> None:
        await conn.execution_options(**{WRITE_OPTION: True})
