"""Staff users and the roles that grant them permissions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import RowMapping, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.errors import Conflict, NotFound
from core_banking.domain.security import DEFAULT_ROLES, Permission
from core_banking.domain.users import Role, User, UserStatus
from core_banking.storage.schema import roles, user_roles, users


def _limit_text(limit: Decimal | None) -> str | None:
    return str(limit) if limit is not None else None


def role_from_row(row: RowMapping) -> Role:
    limit = row["amount_limit"]
    return Role(
        name=row["name"],
        description=row["description"],
        permissions=frozenset(Permission(p) for p in row["permissions"]),
        amount_limit=Decimal(limit) if limit is not None else None,
        builtin=row["builtin"],
    )


class RoleRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def all(self) -> list[Role]:
        rows = await self._conn.execute(select(roles).order_by(roles.c.name))
        return [role_from_row(row._mapping) for row in rows]

    async def get(self, name: str) -> Role | None:
        row = (await self._conn.execute(select(roles).where(roles.c.name == name))).first()
        return role_from_row(row._mapping) if row else None

    async def named(self, names: Iterable[str]) -> list[Role]:
        rows = await self._conn.execute(select(roles).where(roles.c.name.in_(list(names))))
        return [role_from_row(row._mapping) for row in rows]

    async def save(self, role: Role, now: datetime) -> None:
        """Insert the role, or replace a custom role of that name."""
        values = {
            "description": role.description,
            "permissions": sorted(p.value for p in role.permissions),
            "amount_limit": _limit_text(role.amount_limit),
            "builtin": role.builtin,
            "updated_at": now,
        }
        updated = await self._conn.execute(
            update(roles).where(roles.c.name == role.name).values(**values)
        )
        if updated.rowcount == 0:
            await self._conn.execute(
                roles.insert().values(name=role.name, created_at=now, **values)
            )

    async def delete(self, name: str) -> None:
        await self._conn.execute(delete(roles).where(roles.c.name == name))

    async def holders(self, name: str) -> int:
        return int(
            await self._conn.scalar(
                select(func.count()).select_from(user_roles).where(user_roles.c.role_name == name)
            )
            or 0
        )

    async def sync_builtin(self, now: datetime) -> None:
        """Make the built-in roles what the code defines (reference data): add or correct
        the ones it defines, remove built-in roles it no longer defines unless someone still
        holds them. Rows already right are not touched."""
        defined = {
            spec.name: Role(spec.name, spec.description, spec.permissions, spec.amount_limit, True)
            for spec in DEFAULT_ROLES
        }
        stored = {role.name: role for role in await self.all()}
        for name, role in defined.items():
            if stored.get(name) != role:
                await self.save(role, now)
        for name, role in stored.items():
            if role.builtin and name not in defined and not await self.holders(name):
                await self.delete(name)


class UserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _roles_of(self, user_ids: list[UUID]) -> dict[UUID, tuple[str, ...]]:
        rows = await self._conn.execute(
            select(user_roles.c.user_id, user_roles.c.role_name)
            .where(user_roles.c.user_id.in_(user_ids))
            .order_by(user_roles.c.role_name)
        )
        found: dict[UUID, list[str]] = {user_id: [] for user_id in user_ids}
        for row in rows:
            found[row.user_id].append(row.role_name)
        return {user_id: tuple(names) for user_id, names in found.items()}

    def _from_row(self, row: RowMapping, role_names: tuple[str, ...]) -> User:
        return User(
            id=row["id"],
            username=row["username"],
            full_name=row["full_name"],
            email=row["email"],
            password_hash=row["password_hash"],
            status=UserStatus(row["status"]),
            roles=role_names,
            failed_logins=row["failed_logins"],
            locked_until=row["locked_until"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            last_login_at=row["last_login_at"],
        )

    async def _one(self, condition: object, *, lock: bool = False) -> User | None:
        statement = select(users).where(condition)  # type: ignore[arg-type]
        if lock:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        if row is None:
            return None
        return self._from_row(row._mapping, (await self._roles_of([row.id]))[row.id])

    async def get(self, user_id: UUID) -> User | None:
        return await self._one(users.c.id == user_id)

    async def by_username(self, username: str, *, lock: bool = False) -> User | None:
        return await self._one(users.c.username == username, lock=lock)

    async def lock(self, user_id: UUID) -> User:
        user = await self._one(users.c.id == user_id, lock=True)
        if user is None:
            raise NotFound("no such user", user_id=str(user_id))
        return user

    async def list(self, limit: int, after: UUID | None) -> list[User]:
        statement = select(users).order_by(users.c.id).limit(limit)
        if after is not None:
            statement = statement.where(users.c.id > after)
        rows = (await self._conn.execute(statement)).all()
        names = await self._roles_of([row.id for row in rows])
        return [self._from_row(row._mapping, names[row.id]) for row in rows]

    async def any_exist(self) -> bool:
        return (await self._conn.scalar(select(users.c.id).limit(1))) is not None

    async def insert(self, user: User) -> None:
        try:
            await self._conn.execute(
                users.insert().values(
                    id=user.id,
                    username=user.username,
                    full_name=user.full_name,
                    email=user.email,
                    password_hash=user.password_hash,
                    status=user.status.value,
                    failed_logins=user.failed_logins,
                    locked_until=user.locked_until,
                    created_at=user.created_at,
                    updated_at=user.updated_at,
                    last_login_at=user.last_login_at,
                )
            )
        except IntegrityError as exc:
            raise Conflict("that username is taken", username=user.username) from exc
        await self.set_roles(user.id, user.roles)

    async def set_roles(self, user_id: UUID, role_names: Iterable[str]) -> None:
        await self._conn.execute(delete(user_roles).where(user_roles.c.user_id == user_id))
        names = sorted(set(role_names))
        if names:
            await self._conn.execute(
                user_roles.insert(), [{"user_id": user_id, "role_name": n} for n in names]
            )

    async def update(self, user_id: UUID, now: datetime, **values: object) -> None:
        """Set columns of one user (status, password_hash, failed_logins, locked_until,
        last_login_at, full_name, email)."""
        await self._conn.execute(
            update(users).where(users.c.id == user_id).values(updated_at=now, **values)
        )


async def ensure_builtin_roles(conn: AsyncConnection, now: datetime) -> None:
    """Reference data sync, run after migrations."""
    await RoleRepository(conn).sync_builtin(now)
