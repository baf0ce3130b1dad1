"""Who is behind a token or an API key, remembered in Redis between requests: used while
nothing changed, never once a change could alter the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import update

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.commands import RequestContext
from core_banking.domain.errors import Unavailable
from core_banking.domain.security import Permission, Unauthenticated
from core_banking.domain.users import Role, UserStatus
from core_banking.ports import NoTelemetry
from core_banking.services.auth import NewApiKey, NewUser, UserChanges
from core_banking.storage.schema import sessions
from support.banking import FakeClock
from support.databases import migrate

ADMIN = RequestContext(actor="user:admin-test")
PASSWORD = "a long passphrase for tests"


class CountingTelemetry(NoTelemetry):
    def __init__(self) -> None:
        self.lookups: list[bool] = []

    def cache(self, name: str, hit: bool) -> None:
        assert name == "principal"
        self.lookups.append(hit)


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    migrate(url)
    return url


@pytest.fixture
async def cached_bank(own_url: str, redis_url: str) -> AsyncIterator[tuple[Nexum, Any]]:
    telemetry = CountingTelemetry()
    bank = build(
        settings_for(own_url, redis_url=redis_url, cache_ttl_seconds="300"),
        clock=FakeClock(),
        telemetry=telemetry,
    )
    try:
        yield bank, telemetry
    finally:
        await bank.aclose()


async def signed_in(bank: Nexum, roles: Sequence[str] = ("teller",)) -> tuple[str, Any]:
    username = f"user-{uuid4().hex[:10]}"
    user = await bank.auth.create_user(
        NewUser(username, PASSWORD, "Test User", roles=tuple(roles)), ADMIN
    )
    login = await bank.auth.login(username, PASSWORD, ADMIN)
    return login.access_token, user


async def test_a_token_is_answered_from_the_cache_until_something_changes(cached_bank):
    bank, telemetry = cached_bank
    token, user = await signed_in(bank)
    first = await bank.auth.principal_for_token(token)
    second = await bank.auth.principal_for_token(token)
    assert first == second
    assert first.id == user.id
    assert Permission.TRANSACTIONS_DEPOSIT in first.permissions
    assert telemetry.lookups == [False, True]

    # the database alone changes (as a migration or another tool might): the cache still
    # answers, which is what makes it a cache, until the counters say otherwise
    async with bank.storage.engine.begin() as conn:
        await conn.execute(update(sessions).values(revoked_at=bank.clock.now()))
    assert (await bank.auth.principal_for_token(token)).id == user.id

    await bank.auth.revoke_sessions(user.id, ADMIN)
    with pytest.raises(Unauthenticated):
        await bank.auth.principal_for_token(token)


async def test_logout_takes_effect_at_once(cached_bank):
    bank, _ = cached_bank
    token, _ = await signed_in(bank)
    principal = await bank.auth.principal_for_token(token)
    await bank.auth.principal_for_token(token)  # cached now
    await bank.auth.logout(principal, ADMIN)
    with pytest.raises(Unauthenticated):
        await bank.auth.principal_for_token(token)


async def test_disabling_a_user_or_changing_roles_takes_effect_at_once(cached_bank):
    bank, _ = cached_bank
    token, user = await signed_in(bank, ("teller",))
    await bank.auth.principal_for_token(token)
    await bank.auth.update_user(user.id, UserChanges(status=UserStatus.DISABLED), ADMIN)
    with pytest.raises(Unauthenticated):
        await bank.auth.principal_for_token(token)


async def test_a_changed_role_changes_every_cached_holder_at_once(cached_bank):
    bank, _ = cached_bank
    await bank.auth.save_role(
        Role("reporter", "reads", frozenset({Permission.ACCOUNTS_READ}), None, False), ADMIN
    )
    token, _ = await signed_in(bank, ("reporter",))
    assert Permission.ACCOUNTS_READ in (await bank.auth.principal_for_token(token)).permissions
    await bank.auth.save_role(
        Role("reporter", "reads", frozenset({Permission.CUSTOMERS_READ}), None, False), ADMIN
    )
    permissions = (await bank.auth.principal_for_token(token)).permissions
    assert permissions == frozenset({Permission.CUSTOMERS_READ})


async def test_a_session_idle_too_long_ends_even_when_cached(cached_bank):
    bank, _ = cached_bank
    token, _ = await signed_in(bank)
    await bank.auth.principal_for_token(token)
    bank.clock.advance(minutes=bank.config.session_timeout_minutes + 1)
    with pytest.raises(Unauthenticated):
        await bank.auth.principal_for_token(token)


async def test_api_keys_are_cached_and_their_revocation_takes_effect_at_once(cached_bank):
    bank, telemetry = cached_bank
    admin = await bank.auth.principal_for_token((await signed_in(bank, ("admin",)))[0])
    issued = await bank.auth.create_api_key(
        NewApiKey("channel", frozenset({Permission.ACCOUNTS_READ})), admin, ADMIN
    )
    assert (await bank.auth.principal_for_api_key(issued.secret)).id == issued.key.id
    assert (await bank.auth.principal_for_api_key(issued.secret)).id == issued.key.id
    assert telemetry.lookups[-2:] == [False, True]
    key_id, _ = issued.secret.removeprefix("nxk_").split("_", 1)
    with pytest.raises(Unauthenticated):  # the cached digest still checks the secret
        await bank.auth.principal_for_api_key(f"nxk_{key_id}_{'0' * 43}")
    await bank.auth.revoke_api_key(issued.key.id, ADMIN)
    with pytest.raises(Unauthenticated):
        await bank.auth.principal_for_api_key(issued.secret)


async def test_an_expired_api_key_is_refused_even_when_cached(cached_bank):
    bank, _ = cached_bank
    admin = await bank.auth.principal_for_token((await signed_in(bank, ("admin",)))[0])
    issued = await bank.auth.create_api_key(
        NewApiKey(
            "short",
            frozenset({Permission.ACCOUNTS_READ}),
            expires_at=bank.clock.now() + timedelta(minutes=5),
        ),
        admin,
        ADMIN,
    )
    await bank.auth.principal_for_api_key(issued.secret)
    bank.clock.advance(minutes=6)
    with pytest.raises(Unauthenticated):
        await bank.auth.principal_for_api_key(issued.secret)


async def test_without_redis_requests_are_answered_and_changes_are_refused(own_url):
    """Redis unreachable: the database answers who is asking; a change that would leave an
    answer cached elsewhere is refused (503), not half made."""
    bank = build(
        settings_for(own_url, redis_url="redis://127.0.0.1:1/15", cache_ttl_seconds="300"),
        clock=FakeClock(),
    )
    try:
        uncached = build(settings_for(own_url), storage=bank.storage, clock=bank.clock)
        token, user = await signed_in(uncached)
        assert (await bank.auth.principal_for_token(token)).id == user.id
        with pytest.raises(Unavailable):
            await bank.auth.revoke_sessions(user.id, ADMIN)
        assert (await uncached.auth.principal_for_token(token)).id == user.id  # unchanged
    finally:
        await bank.aclose()
