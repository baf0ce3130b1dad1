"""What authentication remembers between requests, and what it checks on every one.

A token's signature and a cached principal's decoding are remembered by their exact text;
a token's expiry and a cached principal's generations are checked on each use.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt
import pytest

from core_banking.domain.security import Permission, Principal, PrincipalKind, Unauthenticated
from core_banking.security import tokens as tokens_module
from core_banking.security.tokens import JwtTokens
from core_banking.services.principal_cache import CachedAccess, PrincipalCache

SECRET = "s" * 48
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _tokens() -> JwtTokens:
    return JwtTokens(SECRET, "HS256", timedelta(hours=1))


def _counting_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    verified: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        verified.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens_module.jwt, "decode", counting)
    return verified


def test_a_token_is_verified_once_and_its_expiry_checked_at_every_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified = _counting_verifications(monkeypatch)
    tokens = _tokens()
    token, expires_at = tokens.issue(uuid.uuid4(), uuid.uuid4(), NOW)

    first = tokens.decode(token, NOW)
    assert tokens.decode(token, expires_at - timedelta(seconds=1)) == first
    assert verified == [token]
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.decode(token, expires_at)


def test_a_refused_token_is_refused_again_and_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified = _counting_verifications(monkeypatch)
    tokens = _tokens()
    good, _ = tokens.issue(uuid.uuid4(), uuid.uuid4(), NOW)
    tokens.decode(good, NOW)
    header, payload, signature = good.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"

    for _ in range(2):
        with pytest.raises(Unauthenticated, match="not valid"):
            tokens.decode(forged, NOW)
    assert verified == [good, forged, forged]


def test_tokens_are_remembered_per_secret() -> None:
    """A token one secret verified means nothing under another."""
    token, _ = _tokens().issue(uuid.uuid4(), uuid.uuid4(), NOW)
    _tokens().decode(token, NOW)
    other = JwtTokens("o" * 48, "HS256", timedelta(hours=1))
    with pytest.raises(Unauthenticated, match="not valid"):
        other.decode(token, NOW)


class MemoryCache:
    """The shared cache, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self.values.get(key) for key in keys]

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self.values[key] = value

    async def bump(self, key: str) -> int:
        value = int(self.values.get(key, b"0")) + 1
        self.values[key] = str(value).encode()
        return value

    async def aclose(self) -> None:
        return None


def _access(permissions: frozenset[Permission]) -> CachedAccess:
    principal = Principal(
        id=uuid.uuid4(),
        kind=PrincipalKind.USER,
        name="teller",
        permissions=permissions,
        amount_limit=Decimal("1000.00"),
        roles=("teller",),
        session_id=uuid.uuid4(),
    )
    return CachedAccess(principal, expires_at=NOW + timedelta(hours=1), last_seen_at=NOW)


async def test_a_remembered_principal_still_answers_to_its_generations() -> None:
    cache = PrincipalCache(MemoryCache(), ttl_seconds=60)
    before = _access(frozenset({Permission.TRANSACTIONS_TRANSFER}))
    after = _access(frozenset())
    user_id, session_id = before.principal.id, before.principal.session_id
    assert session_id is not None
    answers = iter([before, after])
    loads = 0

    async def load() -> CachedAccess:
        nonlocal loads
        loads += 1
        return next(answers)

    assert await cache.session(session_id, user_id, load) == before
    assert await cache.session(session_id, user_id, load) == before
    assert await cache.session(session_id, user_id, load) == before
    assert loads == 1
    await cache.user_changed(user_id)  # roles taken away, say
    assert await cache.session(session_id, user_id, load) == after
    assert loads == 2
