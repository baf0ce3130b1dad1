"""Sessions (behind every access token) and API keys (for machine clients)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import RowMapping, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.security import Permission
from core_banking.domain.users import ApiKey, Session
from core_banking.storage.schema import api_keys, sessions


def session_from_row(row: RowMapping) -> Session:
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        client_address=row["client_address"],
    )


def api_key_from_row(row: RowMapping) -> ApiKey:
    limit = row["amount_limit"]
    return ApiKey(
        id=row["id"],
        name=row["name"],
        permissions=frozenset(Permission(p) for p in row["permissions"]),
        amount_limit=Decimal(limit) if limit is not None else None,
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        secret_digest=bytes(row["secret_digest"]),
    )


class SessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, session: Session) -> None:
        await self._conn.execute(
            sessions.insert().values(
                id=session.id,
                user_id=session.user_id,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                revoked_at=session.revoked_at,
                client_address=session.client_address,
            )
        )

    async def get(self, session_id: UUID) -> Session | None:
        row = (
            await self._conn.execute(select(sessions).where(sessions.c.id == session_id))
        ).first()
        return session_from_row(row._mapping) if row else None

    async def touch(self, session_id: UUID, now: datetime) -> None:
        await self._conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(last_seen_at=now)
        )

    async def revoke(self, session_id: UUID, now: datetime) -> bool:
        result = await self._conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    async def revoke_all_of(self, user_id: UUID, now: datetime) -> int:
        result = await self._conn.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)


class ApiKeyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, key: ApiKey) -> None:
        await self._conn.execute(
            api_keys.insert().values(
                id=key.id,
                name=key.name,
                secret_digest=key.secret_digest,
                permissions=sorted(p.value for p in key.permissions),
                amount_limit=str(key.amount_limit) if key.amount_limit is not None else None,
                created_by=key.created_by,
                created_at=key.created_at,
                expires_at=key.expires_at,
                revoked_at=key.revoked_at,
                last_used_at=key.last_used_at,
            )
        )

    async def get(self, key_id: UUID) -> ApiKey | None:
        row = (await self._conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return api_key_from_row(row._mapping) if row else None

    async def list(self) -> list[ApiKey]:
        rows = await self._conn.execute(select(api_keys).order_by(api_keys.c.created_at))
        return [api_key_from_row(row._mapping) for row in rows]

    async def revoke(self, key_id: UUID, now: datetime) -> bool:
        result = await self._conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    async def mark_used(self, key_id: UUID, now: datetime) -> None:
        await self._conn.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now)
        )
