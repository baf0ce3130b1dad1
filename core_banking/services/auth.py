"""Authentication and the administration of users, roles, sessions and API keys.

A login checks the password (argon2id), counts failures and locks the user after
MAX_FAILED_LOGINS in a row until the lock lifts, and on success opens a server-side session
and issues an access token bound to it. Every request's token is checked against its
session, so logout and revocation take effect at once and idle sessions expire. Every login,
failure, lock and administrative change is in the audit trail.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from core_banking.domain.audit import AuditRecord
from core_banking.domain.commands import RequestContext
from core_banking.domain.customers import clean_name
from core_banking.domain.errors import Conflict, InvalidInput, NotFound, Unavailable
from core_banking.domain.ids import uuid7
from core_banking.domain.passwords import check_password
from core_banking.domain.security import (
    Forbidden,
    Permission,
    Principal,
    PrincipalKind,
    Unauthenticated,
    combined_limit,
)
from core_banking.domain.users import (
    ApiKey,
    Role,
    Session,
    User,
    UserStatus,
    clean_role_name,
    clean_username,
)
from core_banking.ports import Clock, LedgerStore, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.principal_cache import CachedAccess, PrincipalCache

SESSION_TOUCH_INTERVAL = timedelta(seconds=30)
logger = logging.getLogger("core_banking.auth")
MAX_PAGE = 100


class SetupDone(Conflict):
    code = "setup_already_done"


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, stored_hash: str, password: str) -> bool: ...

    def needs_rehash(self, stored_hash: str) -> bool: ...


class TokenClaims(Protocol):
    @property
    def user_id(self) -> UUID: ...

    @property
    def session_id(self) -> UUID: ...


class TokenCodec(Protocol):
    def issue(self, user_id: UUID, session_id: UUID, now: datetime) -> tuple[str, datetime]: ...

    def decode(self, token: str, now: datetime) -> TokenClaims: ...


class ApiKeyCodec(Protocol):
    def new_secret(self) -> str: ...

    def format_key(self, key_id: UUID, secret: str) -> str: ...

    def parse_key(self, presented: str) -> tuple[UUID, str] | None: ...

    def secret_digest(self, secret: str) -> bytes: ...

    def secret_matches(self, secret: str, digest: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class AuthSettings:
    password_min_length: int
    session_idle_timeout: timedelta


@dataclass(frozen=True, slots=True)
class Login:
    access_token: str
    expires_at: datetime
    session_id: UUID
    user: User


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    password: str
    full_name: str
    email: str | None = None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserChanges:
    full_name: str | None = None
    email: str | None = None
    status: UserStatus | None = None
    roles: tuple[str, ...] | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    permissions: frozenset[Permission]
    amount_limit: Decimal | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    key: ApiKey
    secret: str  # the full key, shown once


class AuthService:
    def __init__(
        self,
        store: LedgerStore,
        clock: Clock,
        passwords: PasswordHasher,
        tokens: TokenCodec,
        api_key_codec: ApiKeyCodec,
        settings: AuthSettings,
        principals: PrincipalCache | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._passwords = passwords
        self._tokens = tokens
        self._keys = api_key_codec
        self._settings = settings
        self._principals = principals
        """Answers to "who is this?" shared between processes, when a cache is configured."""
        # Verifying against a real hash of a random password costs what checking a real
        # user's password costs: a wrong username answers as slowly as a wrong password.
        self._decoy_hash = passwords.hash(secrets.token_urlsafe(16))

    # --- first administrator --------------------------------------------------------------

    async def setup(self, new_admin: NewUser, context: RequestContext) -> User:
        """Create the first user, an administrator. Refused once any user exists."""
        draft = self._new_user(replace(new_admin, roles=("admin",)))

        async def work(uow: UnitOfWork) -> User:
            await uow.serialize_setup()
            if await uow.users.any_exist():
                raise SetupDone("set-up is done: an administrator already exists")
            await uow.users.insert(draft)
            await uow.audit.append(
                self._audit(context, "auth.setup", "user", draft.id, {"username": draft.username})
            )
            return draft

        return await self._store.atomically(work)

    # --- logging in and out ---------------------------------------------------------------

    async def login(self, username: str, password: str, context: RequestContext) -> Login:
        """Open a session for the right password; count and audit every failure."""
        try:
            name = clean_username(username)
        except InvalidInput:
            name = None
        now = self._clock.now()

        async def work(uow: UnitOfWork) -> Login | str:
            user = await uow.users.by_username(name, lock=True) if name else None
            if user is None:
                self._passwords.verify(self._decoy_hash, password)  # as slow as a real check
                failure: str | None = "bad_credentials"
            else:
                failure = self._login_failure(user, password, now)
            if user is None or failure is not None:
                reason = failure or "bad_credentials"
                await self._record_failure(uow, user, name or "", reason, context, now)
                return reason
            return await self._open_session(uow, user, password, context, now)

        outcome = await self._store.atomically(work)
        if isinstance(outcome, str):
            raise Unauthenticated(_FAILURE_MESSAGES[outcome], reason=outcome)
        return outcome

    def _login_failure(self, user: User, password: str, now: datetime) -> str | None:
        if user.is_locked(now):
            return "locked"
        if user.status is not UserStatus.ACTIVE:
            return "disabled"
        if not self._passwords.verify(user.password_hash, password):
            return "bad_credentials"
        return None

    async def _record_failure(
        self,
        uow: UnitOfWork,
        user: User | None,
        username: str,
        reason: str,
        context: RequestContext,
        now: datetime,
    ) -> None:
        details: dict[str, object] = {"username": username, "reason": reason}
        if user is not None and reason == "bad_credentials":
            failures, locked_until = user.after_failed_login(now)
            await uow.users.update(user.id, now, failed_logins=failures, locked_until=locked_until)
            details["failed_logins"] = failures
            if locked_until is not None and not user.is_locked(now):
                details["locked_until"] = locked_until.isoformat()
        await uow.audit.append(
            self._audit(
                context,
                "auth.login_failed",
                "user",
                user.id if user else None,
                details,
            )
        )

    async def _open_session(
        self, uow: UnitOfWork, user: User, password: str, context: RequestContext, now: datetime
    ) -> Login:
        session_id = uuid7()
        token, expires_at = self._tokens.issue(user.id, session_id, now)
        await uow.sessions.insert(
            Session(
                id=session_id,
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
                revoked_at=None,
                client_address=context.client_address,
            )
        )
        changes: dict[str, object] = {
            "failed_logins": 0,
            "locked_until": None,
            "last_login_at": now,
        }
        if self._passwords.needs_rehash(user.password_hash):
            changes["password_hash"] = self._passwords.hash(password)
        await uow.users.update(user.id, now, **changes)
        await uow.audit.append(
            self._audit(context, "auth.login", "session", session_id, {"user_id": str(user.id)})
        )
        return Login(access_token=token, expires_at=expires_at, session_id=session_id, user=user)

    async def logout(self, principal: Principal, context: RequestContext) -> None:
        if principal.session_id is None:
            raise InvalidInput("only a user's session can be logged out")
        session_id = principal.session_id

        async def work(uow: UnitOfWork) -> None:
            now = self._clock.now()
            await uow.sessions.revoke(session_id, now)
            await uow.audit.append(self._audit(context, "auth.logout", "session", session_id))

        await self._invalidating(lambda cache: cache.user_changed(principal.id), work)

    # --- who is asking --------------------------------------------------------------------

    async def principal_for_token(self, token: str) -> Principal:
        """The user behind a live session's token, or Unauthenticated."""
        now = self._clock.now()
        claims = self._tokens.decode(token, now)

        async def load() -> CachedAccess:
            return await self._session_access(claims.session_id, claims.user_id, now)

        access = (
            await self._principals.session(claims.session_id, claims.user_id, load)
            if self._principals is not None
            else await load()
        )
        if (
            access.expires_at is None
            or access.last_seen_at is None
            or not (
                now < access.expires_at
                and now - access.last_seen_at <= self._settings.session_idle_timeout
            )
        ):
            raise Unauthenticated("the session has ended; log in again")
        return access.principal

    async def _session_access(self, session_id: UUID, user_id: UUID, now: datetime) -> CachedAccess:
        """The session, its user and their roles, read without a write transaction; the
        session's last-seen time is written only when it is SESSION_TOUCH_INTERVAL old."""

        async def look_up(uow: UnitOfWork) -> tuple[Session, Principal]:
            session = await uow.sessions.get(session_id)
            if session is None or session.user_id != user_id:
                raise Unauthenticated("the session does not exist")
            if not session.is_live(now, self._settings.session_idle_timeout):
                raise Unauthenticated("the session has ended; log in again")
            user = await uow.users.get(session.user_id)
            if user is None or user.status is not UserStatus.ACTIVE:
                raise Unauthenticated("the user is disabled")
            roles = await uow.roles.named(user.roles)
            principal = Principal(
                id=user.id,
                kind=PrincipalKind.USER,
                name=user.username,
                permissions=frozenset(p for role in roles for p in role.permissions),
                amount_limit=combined_limit([role.amount_limit for role in roles]),
                roles=user.roles,
                session_id=session.id,
            )
            return session, principal

        session, principal = await self._store.read(look_up)
        last_seen = session.last_seen_at
        if now - last_seen >= SESSION_TOUCH_INTERVAL:
            await self._store.atomically(lambda uow: uow.sessions.touch(session_id, now))
            last_seen = now
        return CachedAccess(principal, expires_at=session.expires_at, last_seen_at=last_seen)

    async def principal_for_api_key(self, presented: str) -> Principal:
        parsed = self._keys.parse_key(presented)
        if parsed is None:
            raise Unauthenticated("the API key is not valid")
        key_id, secret = parsed
        now = self._clock.now()

        async def load() -> CachedAccess:
            return await self._api_key_access(key_id, secret, now)

        access = (
            await self._principals.api_key(key_id, load)
            if self._principals is not None
            else await load()
        )
        if access.secret_digest is None or not self._keys.secret_matches(
            secret, access.secret_digest
        ):
            raise Unauthenticated("the API key is not valid")
        if access.expires_at is not None and now >= access.expires_at:
            raise Unauthenticated("the API key is revoked or expired")
        return access.principal

    async def _api_key_access(self, key_id: UUID, secret: str, now: datetime) -> CachedAccess:
        """The key, read without a write transaction; its last use is written only when it
        is SESSION_TOUCH_INTERVAL old. A revoked key is never an answer to cache, and only
        the holder of the secret learns that it was revoked."""
        key = await self._store.read(lambda uow: uow.api_keys.get(key_id))
        if key is None or not self._keys.secret_matches(secret, key.secret_digest):
            raise Unauthenticated("the API key is not valid")
        if key.revoked_at is not None:
            raise Unauthenticated("the API key is revoked or expired")
        if key.last_used_at is None or now - key.last_used_at >= SESSION_TOUCH_INTERVAL:
            await self._store.atomically(lambda uow: uow.api_keys.mark_used(key_id, now))
        principal = Principal(
            id=key.id,
            kind=PrincipalKind.API_KEY,
            name=key.name,
            permissions=key.permissions,
            amount_limit=key.amount_limit,
        )
        return CachedAccess(
            principal,
            expires_at=key.expires_at,
            last_seen_at=now,
            secret_digest=key.secret_digest,
        )

    # --- users ----------------------------------------------------------------------------

    async def create_user(self, new_user: NewUser, context: RequestContext) -> User:
        draft = self._new_user(new_user)

        async def work(uow: UnitOfWork) -> User:
            await self._check_roles_exist(uow, draft.roles)
            await uow.users.insert(draft)
            await uow.audit.append(
                self._audit(
                    context,
                    "user.created",
                    "user",
                    draft.id,
                    {"username": draft.username, "roles": list(draft.roles)},
                )
            )
            return draft

        return await self._store.atomically(work)

    async def update_user(
        self, user_id: UUID, changes: UserChanges, context: RequestContext
    ) -> User:
        """Change a user's details, status, roles or password. Disabling a user, changing
        roles or resetting a password ends every session the user has open."""

        async def work(uow: UnitOfWork) -> User:
            now = self._clock.now()
            user = await uow.users.lock(user_id)
            values: dict[str, object] = {}
            if changes.full_name is not None:
                values["full_name"] = clean_name(changes.full_name, "full_name")
            if changes.email is not None:
                values["email"] = changes.email
            if changes.status is not None:
                values["status"] = changes.status.value
            if changes.password is not None:
                check_password(
                    changes.password,
                    min_length=self._settings.password_min_length,
                    username=user.username,
                )
                values["password_hash"] = self._passwords.hash(changes.password)
                values["failed_logins"] = 0
                values["locked_until"] = None
            if values:
                await uow.users.update(user.id, now, **values)
            if changes.roles is not None:
                await self._check_roles_exist(uow, changes.roles)
                await uow.users.set_roles(user.id, changes.roles)
            ended = 0
            if (
                changes.status is UserStatus.DISABLED
                or changes.roles is not None
                or changes.password is not None
            ):
                ended = await uow.sessions.revoke_all_of(user.id, now)
            changed = sorted({*values} | ({"roles"} if changes.roles is not None else set()))
            changed = [name for name in changed if name != "password_hash"] + (
                ["password"] if changes.password is not None else []
            )
            await uow.audit.append(
                self._audit(
                    context,
                    "user.updated",
                    "user",
                    user.id,
                    {"changed": changed, "sessions_ended": ended},
                )
            )
            return _must(await uow.users.get(user.id), "user")

        return await self._invalidating(lambda cache: cache.user_changed(user_id), work)

    async def revoke_sessions(self, user_id: UUID, context: RequestContext) -> int:
        async def work(uow: UnitOfWork) -> int:
            await uow.users.lock(user_id)
            ended = await uow.sessions.revoke_all_of(user_id, self._clock.now())
            await uow.audit.append(
                self._audit(context, "user.sessions_revoked", "user", user_id, {"sessions": ended})
            )
            return ended

        return await self._invalidating(lambda cache: cache.user_changed(user_id), work)

    async def users(self, limit: int, after: UUID | None) -> list[User]:
        return await self._store.read(lambda uow: uow.users.list(min(limit, MAX_PAGE), after))

    async def user(self, user_id: UUID) -> User:
        return _must(await self._store.read(lambda uow: uow.users.get(user_id)), "user")

    # --- roles ----------------------------------------------------------------------------

    async def roles(self) -> list[Role]:
        return await self._store.read(lambda uow: uow.roles.all())

    async def save_role(self, role: Role, context: RequestContext) -> Role:
        """Create or replace a custom role; the built-in roles are defined by the code."""
        clean_role_name(role.name)
        if role.amount_limit is not None and role.amount_limit < 0:
            raise InvalidInput("an amount limit is zero or more", field="amount_limit")

        async def work(uow: UnitOfWork) -> Role:
            existing = await uow.roles.get(role.name)
            if existing is not None and existing.builtin:
                raise Forbidden("built-in roles cannot be changed", role=role.name)
            saved = Role(role.name, role.description, role.permissions, role.amount_limit, False)
            await uow.roles.save(saved, self._clock.now())
            await uow.audit.append(
                self._audit(
                    context,
                    "role.saved",
                    "role",
                    None,
                    {
                        "role": role.name,
                        "permissions": sorted(p.value for p in role.permissions),
                        "amount_limit": str(role.amount_limit) if role.amount_limit else None,
                    },
                )
            )
            return saved

        return await self._invalidating(lambda cache: cache.roles_changed(), work)

    async def delete_role(self, name: str, context: RequestContext) -> None:
        async def work(uow: UnitOfWork) -> None:
            role = _must(await uow.roles.get(name), "role")
            if role.builtin:
                raise Forbidden("built-in roles cannot be deleted", role=name)
            if await uow.roles.holders(name):
                raise Conflict("the role is still given to users", role=name)
            await uow.roles.delete(name)
            await uow.audit.append(
                self._audit(context, "role.deleted", "role", None, {"role": name})
            )

        await self._invalidating(lambda cache: cache.roles_changed(), work)

    # --- API keys -------------------------------------------------------------------------

    async def create_api_key(
        self, new_key: NewApiKey, creator: Principal, context: RequestContext
    ) -> IssuedApiKey:
        """A key for a machine client, with at most the permissions its creator has."""
        name = clean_name(new_key.name, "name")
        beyond = new_key.permissions - creator.permissions
        if beyond:
            raise Forbidden(
                "a key cannot have permissions its creator lacks",
                permissions=sorted(p.value for p in beyond),
            )
        if not new_key.permissions:
            raise InvalidInput("a key needs at least one permission", field="permissions")
        now = self._clock.now()
        if new_key.expires_at is not None and new_key.expires_at <= now:
            raise InvalidInput("a key expires in the future", field="expires_at")
        if creator.kind is not PrincipalKind.USER:
            raise Forbidden("API keys are created by users")
        secret = self._keys.new_secret()
        key = ApiKey(
            id=uuid7(),
            name=name,
            permissions=new_key.permissions,
            amount_limit=new_key.amount_limit,
            created_by=creator.id,
            created_at=now,
            expires_at=new_key.expires_at,
            revoked_at=None,
            last_used_at=None,
            secret_digest=self._keys.secret_digest(secret),
        )

        async def work(uow: UnitOfWork) -> None:
            await uow.api_keys.insert(key)
            await uow.audit.append(
                self._audit(
                    context,
                    "api_key.created",
                    "api_key",
                    key.id,
                    {"name": name, "permissions": sorted(p.value for p in key.permissions)},
                )
            )

        await self._store.atomically(work)
        return IssuedApiKey(key=key, secret=self._keys.format_key(key.id, secret))

    async def api_keys(self) -> list[ApiKey]:
        return await self._store.read(lambda uow: uow.api_keys.list())

    async def revoke_api_key(self, key_id: UUID, context: RequestContext) -> ApiKey:
        async def work(uow: UnitOfWork) -> ApiKey:
            _must(await uow.api_keys.get(key_id), "API key")
            await uow.api_keys.revoke(key_id, self._clock.now())
            await uow.audit.append(self._audit(context, "api_key.revoked", "api_key", key_id))
            return _must(await uow.api_keys.get(key_id), "API key")

        return await self._invalidating(lambda cache: cache.api_key_changed(key_id), work)

    # --- helpers --------------------------------------------------------------------------

    async def _invalidating[T](
        self,
        bump: Callable[[PrincipalCache], Awaitable[None]],
        work: Callable[[UnitOfWork], Awaitable[T]],
    ) -> T:
        """Run ``work``, a change that alters who someone is, with the cached answers it
        affects invalidated before (so an unreachable cache refuses the change) and after
        (so nothing cached from the old state in between is used)."""
        if self._principals is None:
            return await self._store.atomically(work)
        try:
            await bump(self._principals)
        except Exception as exc:
            raise Unavailable("the shared cache cannot be reached; nothing was changed") from exc
        result = await self._store.atomically(work)
        try:
            await bump(self._principals)
        except Exception:  # done, and what was cached before it is already void
            logger.exception("The shared cache could not be told of a change just made")
        return result

    def _new_user(self, new_user: NewUser) -> User:
        username = clean_username(new_user.username)
        check_password(
            new_user.password,
            min_length=self._settings.password_min_length,
            username=username,
        )
        now = self._clock.now()
        return User(
            id=uuid7(),
            username=username,
            full_name=clean_name(new_user.full_name, "full_name"),
            email=new_user.email,
            password_hash=self._passwords.hash(new_user.password),
            status=UserStatus.ACTIVE,
            roles=tuple(sorted(set(new_user.roles))),
            failed_logins=0,
            locked_until=None,
            created_at=now,
            updated_at=now,
            last_login_at=None,
        )

    @staticmethod
    async def _check_roles_exist(uow: UnitOfWork, names: tuple[str, ...]) -> None:
        found = {role.name for role in await uow.roles.named(names)}
        missing = sorted(set(names) - found)
        if missing:
            raise InvalidInput("no such role", field="roles", roles=missing)

    def _audit(
        self,
        context: RequestContext,
        action: str,
        entity_type: str,
        entity_id: UUID | None,
        details: dict[str, object] | None = None,
    ) -> AuditRecord:
        return audit_record(
            context,
            self._clock.now(),
            action,
            entity_type,
            entity_id if entity_id is not None else uuid7(),
            {"client_address": context.client_address, **(details or {})},
        )


def _must[T](value: T | None, what: str) -> T:
    if value is None:
        raise NotFound(f"no such {what}")
    return value


_FAILURE_MESSAGES = {
    "bad_credentials": "wrong username or password",
    "locked": "too many failed logins: the user is locked for a while",
    "disabled": "the user is disabled",
}
