"""Running a prepared SQLAlchemy statement: through SQLAlchemy, or straight on asyncpg.

A statement through SQLAlchemy's ``Connection`` costs about 600 Python calls on top of the
driver's own 70 or so (connection wrapper, events, compiled cache, result machinery). For
the few statements every money-moving request runs, PostgreSQL takes the statement as
SQLAlchemy compiles it for asyncpg, once, and runs it on the pooled asyncpg connection.
The statement is still written once, with SQLAlchemy; its types' bind and result
processors still apply, so both ways read and write the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Delete, Insert, Select, Update
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Statement = Insert | Update | Delete | Select[Any]


class Statements(Protocol):
    """Where a repository's prepared statements run."""

    @property
    def dialect_name(self) -> str: ...

    async def count(self, statement: Statement, parameters: Mapping[str, Any]) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it touched."""
        ...

    async def first(
        self, statement: Statement, parameters: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """Run a SELECT; its first row by column name, or None."""
        ...


class SqlAlchemyStatements:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @property
    def dialect_name(self) -> str:
        return self._conn.dialect.name

    async def count(self, statement: Statement, parameters: Mapping[str, Any]) -> int:
        result = await self._conn.execute(statement, dict(parameters))
        return int(result.rowcount)

    async def first(
        self, statement: Statement, parameters: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        row = (await self._conn.execute(statement, dict(parameters))).first()
        return None if row is None else dict(row._mapping)


class _Compiled:
    """A statement as asyncpg runs it: its SQL, and how to bind and read its values."""

    def __init__(self, statement: Statement) -> None:
        dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        self.defaults = dict(compiled.params)
        self.binders = tuple(
            compiled.binds[name].type.bind_processor(dialect) for name in self.names
        )
        self.readers = {
            column.key: column.type.result_processor(dialect, None)
            for column in getattr(statement, "selected_columns", ())
        }

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, bind in zip(self.names, self.binders, strict=True):
            value = parameters[name] if name in parameters else self.defaults[name]
            values.append(value if bind is None else bind(value))
        return values

    def row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: value if (read := self.readers.get(name)) is None else read(value)
            for name, value in record.items()
        }


@lru_cache(maxsize=64)
def _compile(statement: Statement) -> _Compiled:
    """Compiled once per statement: the statements run here are built once, at import."""
    return _Compiled(statement)


class DriverStatements:
    """Statements on an asyncpg connection, outside any transaction: each commits alone."""

    dialect_name = "postgresql"

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    async def count(self, statement: Statement, parameters: Mapping[str, Any]) -> int:
        compiled = _compile(statement)
        status: str = await self._driver.execute(compiled.sql, *compiled.arguments(parameters))
        return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 1", "UPDATE 1", "DELETE 0"

    async def first(
        self, statement: Statement, parameters: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        compiled = _compile(statement)
        record = await self._driver.fetchrow(compiled.sql, *compiled.arguments(parameters))
        return None if record is None else compiled.row(record)
