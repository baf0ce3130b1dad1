"""Reading database errors: which ones are worth a retry, and which are the bank's rules
speaking from inside the database.

The PostgreSQL posting function refuses a posting with ``RAISE EXCEPTION 'nexum:<code>'``
and a JSON detail; those become the same typed domain errors the SQLite adapter raises from
Python. Deadlocks and serialization failures are transient: the whole transaction is
retried a bounded number of times.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from dataclasses import dataclass
from typing import Any

from core_banking.domain import errors as domain

_RULE_ERRORS: dict[str, type[domain.DomainError]] = {
    cls.code: cls
    for cls in (
        domain.InsufficientFunds,
        domain.AccountNotOperational,
        domain.CurrencyMismatch,
        domain.WrongAccountKind,
        domain.DailyLimitExceeded,
        domain.IdempotencyKeyReused,
        domain.UnbalancedEntry,
        domain.AlreadyReversed,
    )
}
_RULE_ERRORS["account_not_found"] = domain.NotFound

_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
_RULE_PREFIX = "nexum:"


@dataclass(frozen=True, slots=True)
class DriverError:
    """What the driver said, whichever driver said it."""

    sqlstate: str | None
    message: str
    detail: str | None
    constraint: str | None


def driver_error(exc: BaseException) -> DriverError | None:
    """The driver's own exception behind SQLAlchemy's wrappers: the innermost one, which
    carries the server's detail and constraint name."""
    found: DriverError | None = None
    seen: BaseException | None = exc
    while seen is not None:
        sqlstate = getattr(seen, "sqlstate", None)
        if isinstance(sqlstate, str):
            found = DriverError(
                sqlstate=sqlstate,
                message=str(getattr(seen, "message", "") or seen),
                detail=getattr(seen, "detail", None),
                constraint=getattr(seen, "constraint_name", None),
            )
        elif isinstance(seen, sqlite3.Error):
            found = DriverError(sqlstate=None, message=str(seen), detail=None, constraint=None)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return found


def is_transient(exc: BaseException) -> bool:
    """Deadlock, serialization failure, lock timeout, or SQLite busy: try again."""
    error = driver_error(exc)
    if error is None:
        return False
    if error.sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return error.sqlstate is None and "database is locked" in error.message


class DatabaseUnavailable(Exception):
    """The database could not be reached, or the connection was lost, and running the work
    again was not safe or did not help. If the loss came in flight, whether the work
    committed is unknown: a retry with the same idempotency key settles it."""


class ConnectionClosed(Exception):
    """The driver's connection was closed when a statement failed, whatever the driver said:
    asyncpg can report a server going away mid-statement as an internal protocol error
    ("cannot switch to state 12; another operation (2) is in progress")."""


# Class 08 (connection exception), and the server going away: administrator shutdown,
# crash shutdown, "cannot connect now" (starting up, shutting down, in recovery).
_CONNECTION_SQLSTATES = frozenset(
    {"08000", "08001", "08003", "08004", "08006", "08007", "57P01", "57P02", "57P03"}
)
# asyncpg says this when a statement is about to be sent on a connection it already knows
# to be closed: nothing reached the server.
_CLOSED_BEFORE_USE = ("connection is closed", "the underlying connection is closed")


def causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (SQLAlchemy's ``orig``, then causes)."""
    found: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(found) < 16:
        found.append(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return found


def connection_lost(exc: BaseException) -> bool:
    """The database connection failed or was lost (the server restarted, crashed, refused
    or dropped it), as opposed to the statement being refused. Whether the work it carried
    was committed is unknown unless :func:`never_reached_server` says so."""
    for seen in causes(exc):
        if isinstance(seen, ConnectionClosed) or getattr(seen, "connection_invalidated", False):
            return True
        if getattr(seen, "sqlstate", None) in _CONNECTION_SQLSTATES:
            return True
        if isinstance(seen, ConnectionError | socket.gaierror):
            return True
        if type(seen).__name__ == "InterfaceError" and _closed_before_use(seen):
            return True
    return False


def never_reached_server(exc: BaseException) -> bool:
    """A connection failure that happened before the statement was sent: the connection
    could not be opened (refused, the server starting up) or was already known to be closed.
    Running the same work again cannot repeat anything."""
    for seen in causes(exc):
        if isinstance(seen, ConnectionRefusedError | socket.gaierror):
            return True
        if getattr(seen, "sqlstate", None) == "57P03":  # cannot connect now
            return True
        if type(seen).__name__ == "InterfaceError" and _closed_before_use(seen):
            return True
    return False


def _closed_before_use(exc: BaseException) -> bool:
    return any(str(exc).endswith(message) for message in _CLOSED_BEFORE_USE)


def violated_constraint(exc: BaseException) -> str | None:
    """The name of the unique or check constraint a statement broke, on either database."""
    error = driver_error(exc)
    if error is None:
        return None
    if error.constraint:
        return error.constraint
    if "UNIQUE constraint failed:" in error.message:  # SQLite names columns, not constraints
        return error.message.split("UNIQUE constraint failed:", 1)[1].strip()
    return None


def rule_violation(exc: BaseException) -> domain.DomainError | None:
    """The domain error a database-side rule raised, if this is one."""
    error = driver_error(exc)
    if error is None or not error.message.startswith(_RULE_PREFIX):
        return None
    code = error.message.removeprefix(_RULE_PREFIX).split()[0]
    context: dict[str, Any] = json.loads(error.detail) if error.detail else {}
    message = str(context.pop("message", code.replace("_", " ")))
    cls = _RULE_ERRORS.get(code)
    if cls is None:
        raise domain.InvariantViolation(f"the database refused a posting: {code}", **context)
    return cls(message, **context)
