"""Authentication, user, role and API key bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints, field_validator

from core_banking.api.schemas.common import AMOUNT_PATTERN, RequestModel
from core_banking.domain.security import Permission, Principal
from core_banking.domain.users import ApiKey, Role, User, UserStatus

Username = Annotated[str, StringConstraints(min_length=3, max_length=64)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
LimitText = Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN, max_length=24)]


def parse_limit(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # the pattern already excludes this
        raise ValueError("not a decimal amount") from None


class SetupRequest(RequestModel):
    username: Username
    password: Password
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: Annotated[str, StringConstraints(max_length=320)] | None = None


class LoginRequest(RequestModel):
    username: Annotated[str, StringConstraints(max_length=64)]
    password: Annotated[str, StringConstraints(max_length=256)]


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_at: datetime
    session_id: UUID
    user_id: UUID
    roles: list[str]


class UserOut(BaseModel):
    user_id: UUID
    username: str
    full_name: str
    email: str | None
    status: UserStatus
    roles: list[str]
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            user_id=user.id,
            username=user.username,
            full_name=user.full_name,
            email=user.email,
            status=user.status,
            roles=list(user.roles),
            locked_until=user.locked_until,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class UserCreate(SetupRequest):
    roles: list[Annotated[str, StringConstraints(max_length=32)]] = Field(max_length=20)


class UserUpdate(RequestModel):
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    status: UserStatus | None = None
    roles: list[Annotated[str, StringConstraints(max_length=32)]] | None = Field(
        None, max_length=20
    )
    password: Password | None = None


class MeOut(BaseModel):
    principal_id: UUID
    kind: str
    name: str
    roles: list[str]
    permissions: list[Permission]
    amount_limit: str | None = Field(description="Per transaction, major units; null: none.")
    session_id: UUID | None

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        return cls(
            principal_id=principal.id,
            kind=principal.kind.value,
            name=principal.name,
            roles=list(principal.roles),
            permissions=sorted(principal.permissions),
            amount_limit=str(principal.amount_limit)
            if principal.amount_limit is not None
            else None,
            session_id=principal.session_id,
        )


class RoleIn(RequestModel):
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    permissions: list[Permission] = Field(max_length=len(Permission))
    amount_limit: LimitText | None = Field(
        None, description="Most per transaction in major units of any currency; null: none."
    )


class RoleOut(BaseModel):
    name: str
    description: str
    permissions: list[Permission]
    amount_limit: str | None
    builtin: bool

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        return cls(
            name=role.name,
            description=role.description,
            permissions=sorted(role.permissions),
            amount_limit=str(role.amount_limit) if role.amount_limit is not None else None,
            builtin=role.builtin,
        )


class ApiKeyCreate(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    permissions: list[Permission] = Field(min_length=1, max_length=len(Permission))
    amount_limit: LimitText | None = None
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone (e.g. a trailing Z)")
        return value


class ApiKeyOut(BaseModel):
    api_key_id: UUID
    name: str
    permissions: list[Permission]
    amount_limit: str | None
    created_by: UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            api_key_id=key.id,
            name=key.name,
            permissions=sorted(key.permissions),
            amount_limit=str(key.amount_limit) if key.amount_limit is not None else None,
            created_by=key.created_by,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyIssued(ApiKeyOut):
    key: str = Field(description="The key itself. Shown once: store it now.")
