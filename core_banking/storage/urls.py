"""Database URLs as operators write them, turned into the async drivers Nexum uses.

The deployment guide writes ``postgresql://user:pw@host/db`` and ``sqlite:///nexum.db``;
SQLAlchemy's async engine needs ``postgresql+asyncpg://`` and ``sqlite+aiosqlite://``.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

_ASYNC_DRIVERS = {"postgresql": "asyncpg", "sqlite": "aiosqlite"}
_ALIASES = {"postgres": "postgresql"}


class UnsupportedDatabase(ValueError):
    pass


def async_url(raw: str | URL) -> URL:
    """The URL with its async driver; refuses databases Nexum does not support."""
    url = make_url(raw)
    backend = _ALIASES.get(url.get_backend_name(), url.get_backend_name())
    if backend not in _ASYNC_DRIVERS:
        raise UnsupportedDatabase(
            f"Nexum runs on PostgreSQL or SQLite, not {backend!r} (NEXUM_DATABASE_URL)"
        )
    driver = _ASYNC_DRIVERS[backend]
    explicit_driver = url.drivername.partition("+")[2]
    if explicit_driver not in ("", driver):
        raise UnsupportedDatabase(f"use the {driver} driver for {backend}, not {url.drivername}")
    return url.set(drivername=f"{backend}+{driver}")


def backend_of(raw: str | URL) -> str:
    """'postgresql' or 'sqlite'."""
    return async_url(raw).get_backend_name()
