"""The bank's staff and machine clients: users, roles, sessions and API keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from core_banking.domain.errors import InvalidInput
from core_banking.domain.passwords import LOCKOUT, MAX_FAILED_LOGINS
from core_banking.domain.security import Permission

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
_ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{1,31}")


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


def clean_username(value: str) -> str:
    """3 to 64 characters: lower-case letters, digits, dot, dash, underscore."""
    cleaned = value.strip().lower() if isinstance(value, str) else ""
    if not _USERNAME.fullmatch(cleaned):
        raise InvalidInput(
            "a username is 3 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
            field="username",
        )
    return cleaned


def clean_role_name(value: str) -> str:
    if not isinstance(value, str) or not _ROLE_NAME.fullmatch(value):
        raise InvalidInput("a role name is 2 to 32 of a-z, 0-9 and '_'", field="name")
    return value


@dataclass(frozen=True, slots=True)
class User:
    id: UUID
    username: str
    full_name: str
    email: str | None
    password_hash: str
    status: UserStatus
    roles: tuple[str, ...]
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_failed_login(self, now: datetime) -> tuple[int, datetime | None]:
        """The failure count and lock after one more failed password: the lock starts at
        the MAX_FAILED_LOGINS-th failure in a row and lifts after LOCKOUT."""
        failures = self.failed_logins + 1
        return failures, (now + LOCKOUT if failures >= MAX_FAILED_LOGINS else self.locked_until)


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    description: str
    permissions: frozenset[Permission]
    amount_limit: Decimal | None
    builtin: bool


@dataclass(frozen=True, slots=True)
class Session:
    id: UUID
    user_id: UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    client_address: str | None

    def is_live(self, now: datetime, idle_timeout: timedelta) -> bool:
        """Not revoked, not past the token's expiry, not idle longer than the timeout."""
        return (
            self.revoked_at is None
            and now < self.expires_at
            and now - self.last_seen_at <= idle_timeout
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: UUID
    name: str
    permissions: frozenset[Permission]
    amount_limit: Decimal | None
    created_by: UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    secret_digest: bytes

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)
