"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp everywhere.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored as UTC
    text and given their zone back on the way out. Naive datetimes are refused: a naive
    timestamp in a ledger is a bug waiting for a daylight-saving change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give them a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal kept as text, for SQLite (which has no exact decimal type: its
    NUMERIC is a float). Only finite ``Decimal`` values are written, in plain notation, and
    they come back as exactly the same ``Decimal``. PostgreSQL uses NUMERIC instead
    (:data:`EXACT_DECIMAL`)."""

    impl = String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError("only finite Decimal values are stored as exact decimals")
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


EXACT_DECIMAL = Numeric(asdecimal=True).with_variant(DecimalText(), "sqlite")
"""An exact decimal column: NUMERIC on PostgreSQL, decimal text on SQLite; never a float."""
