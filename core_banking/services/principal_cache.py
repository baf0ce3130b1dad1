"""Who is behind a session or an API key, remembered between requests in a shared cache.

Every authenticated request needs its principal, which costs three queries (the session,
its user, the user's roles) for a token and one for an API key; the answers change rarely.
So an answer is kept in the shared cache (Redis) for NEXUM_CACHE_TTL_SECONDS, stamped with
generation counters, and used only while the counters are unchanged:

    user:<id>        bumped when the user logs out, is disabled, or has roles, password or
                     sessions changed or revoked
    roles            bumped when any role is saved or deleted
    api_key:<id>     bumped when the key is revoked

Checking costs one round trip (the answer and its counters in one MGET). A change bumps its
counter before it commits, so with the cache unreachable the change is refused instead of
leaving an answer cached elsewhere, and again after it commits, so an answer cached from
the old state in between is never used. A session's own limits (expiry, idle timeout) are
checked against the cached times on every use, and the session's last-seen time is still
written to the database as often as without a cache. When the cache cannot be read, the
database answers. Balances are never cached.

Reading an answer back (its JSON, every permission by name, the times) is remembered for
the last DECODED_ANSWERS answers by their exact bytes: the same bytes always read the same.
Whether an answer may be used is still decided on every request, by its generations and
the session's times.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from core_banking.domain.security import Permission, Principal, PrincipalKind
from core_banking.ports import NoTelemetry, SharedCache, Telemetry

logger = logging.getLogger("core_banking.cache")

_PREFIX = "nexum:auth:"
_ROLES_GENERATION = f"{_PREFIX}generation:roles"
DECODED_ANSWERS = 4096


def _user_generation(user_id: UUID) -> str:
    return f"{_PREFIX}generation:user:{user_id}"


def _key_generation(key_id: UUID) -> str:
    return f"{_PREFIX}generation:api_key:{key_id}"


@dataclass(frozen=True, slots=True)
class CachedAccess:
    """A principal and what decides, on each use, whether it may still act: the session's
    or key's expiry and last use, and (API keys) the digest the presented secret must match."""

    principal: Principal
    expires_at: datetime | None
    last_seen_at: datetime | None
    secret_digest: bytes | None = None


class PrincipalCache:
    def __init__(
        self, cache: SharedCache, ttl_seconds: int, telemetry: Telemetry | None = None
    ) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self._telemetry = telemetry or NoTelemetry()

    # --- reading ----------------------------------------------------------------------------

    async def session(
        self, session_id: UUID, user_id: UUID, load: Callable[[], Awaitable[CachedAccess]]
    ) -> CachedAccess:
        """The cached answer for a session, or ``load()``'s, cached for the next request."""
        return await self._lookup(
            f"{_PREFIX}session:{session_id}",
            (_user_generation(user_id), _ROLES_GENERATION),
            load,
        )

    async def api_key(
        self, key_id: UUID, load: Callable[[], Awaitable[CachedAccess]]
    ) -> CachedAccess:
        return await self._lookup(f"{_PREFIX}api_key:{key_id}", (_key_generation(key_id),), load)

    async def _lookup(
        self,
        key: str,
        generation_keys: tuple[str, ...],
        load: Callable[[], Awaitable[CachedAccess]],
    ) -> CachedAccess:
        try:
            cached, *generations = await self._cache.get_many([key, *generation_keys])
        except Exception:  # the cache is a shortcut; the database still answers
            logger.warning("The shared cache cannot be read; asking the database", exc_info=True)
            return await load()
        stamp = [int(value or 0) for value in generations]
        current = _current(cached, stamp)
        self._telemetry.cache("principal", hit=current is not None)
        if current is not None:
            return current
        fresh = await load()
        try:
            await self._cache.put(key, _encode(fresh, stamp), self._ttl)
        except Exception:
            logger.warning("The shared cache cannot be written", exc_info=True)
        return fresh

    # --- invalidating -------------------------------------------------------------------------

    async def user_changed(self, user_id: UUID) -> None:
        await self._cache.bump(_user_generation(user_id))

    async def roles_changed(self) -> None:
        await self._cache.bump(_ROLES_GENERATION)

    async def api_key_changed(self, key_id: UUID) -> None:
        await self._cache.bump(_key_generation(key_id))


def _current(cached: bytes | None, stamp: list[int]) -> CachedAccess | None:
    """The cached answer if it was stamped with the current generations (and is one this
    version of Nexum can read)."""
    if cached is None:
        return None
    stamped = _read(cached)
    if stamped is None:
        return None
    generations, access = stamped
    return access if list(generations) == stamp else None


@lru_cache(maxsize=DECODED_ANSWERS)
def _read(cached: bytes) -> tuple[tuple[int, ...], CachedAccess] | None:
    """A cached answer's generations and principal, or None for one this version cannot read."""
    try:
        document = json.loads(cached)
        return tuple(document["generations"]), _decode(document)
    except (ValueError, KeyError, TypeError):
        return None


def _encode(access: CachedAccess, generations: list[int]) -> bytes:
    principal = access.principal
    document: dict[str, Any] = {
        "generations": generations,
        "id": str(principal.id),
        "kind": principal.kind.value,
        "name": principal.name,
        "permissions": sorted(permission.value for permission in principal.permissions),
        "amount_limit": str(principal.amount_limit) if principal.amount_limit is not None else None,
        "roles": list(principal.roles),
        "session_id": str(principal.session_id) if principal.session_id else None,
        "expires_at": access.expires_at.isoformat() if access.expires_at else None,
        "last_seen_at": access.last_seen_at.isoformat() if access.last_seen_at else None,
        "secret_digest": access.secret_digest.hex() if access.secret_digest else None,
    }
    return json.dumps(document).encode()


def _decode(document: dict[str, Any]) -> CachedAccess:
    def moment(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    principal = Principal(
        id=UUID(document["id"]),
        kind=PrincipalKind(document["kind"]),
        name=document["name"],
        permissions=frozenset(Permission(value) for value in document["permissions"]),
        amount_limit=Decimal(document["amount_limit"])
        if document["amount_limit"] is not None
        else None,
        roles=tuple(document["roles"]),
        session_id=UUID(document["session_id"]) if document["session_id"] else None,
    )
    digest = document["secret_digest"]
    return CachedAccess(
        principal=principal,
        expires_at=moment(document["expires_at"]),
        last_seen_at=moment(document["last_seen_at"]),
        secret_digest=bytes.fromhex(digest) if digest else None,
    )
