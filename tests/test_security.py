"""Security, proved over HTTP: who may call what, tokens, sessions, lockout, passwords, API
keys, amount limits, rate limits and personal data at rest.

Most tests run on SQLite and on PostgreSQL. Those that need their own configuration or a
clock they can move start an application of their own on a database of their own; the rate
limit tests run on SQLite only, since rate limits never touch the database.

The route walk builds its matrix from the application's routes, not from a list written
here: a new route that is neither public nor guarded by exactly one Requires fails it, and
every role must be refused exactly the routes whose permission it lacks. Not marked
``http``: many tests start their own application or read the database.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import secrets
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from conftest import TEST_JWT_SECRET, settings_for
from core_banking.api import create_app
from core_banking.api.security import AUTHENTICATED, MONEY_PERMISSIONS, PUBLIC_PATHS
from core_banking.config import Settings
from core_banking.domain.passwords import LOCKOUT, MAX_FAILED_LOGINS
from core_banking.domain.security import DEFAULT_ROLES, Permission
from core_banking.security.encryption import PlaintextFields, key_id_of
from core_banking.security.passwords import Argon2Passwords
from core_banking.storage.customers import name_tokens
from core_banking.storage.schema import customer_name_tokens, customers, metadata, users
from support.api import ADMIN_PASSWORD, ADMIN_USERNAME, ROLES, USER_PASSWORD, Api, key, money
from support.banking import FakeClock
from support.problems import assert_problem
from support.redis import REDIS_URL
from support.security import (
    b64url_json,
    bearer,
    call,
    claims_of,
    client_for,
    own_api,
    plaintext_found,
    raw_rows,
    serving,
    signed_token,
    unsigned_token,
    walk,
)

EXPECTED_PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/health/live",
        "/health/ready",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/auth/login",
        "/auth/setup",
        # Guards itself: open to NEXUM_METRICS_ALLOWED_NETWORKS, elsewhere metrics:read.
        "/metrics",
    }
)
ANY_SIGNED_IN_PRINCIPAL = {("/auth/logout", "POST"), ("/auth/me", "GET")}
# The product catalogue by built-in role, as docs/security.md states it: every role reads
# it, administrators and managers keep it.
CATALOGUE_PERMISSIONS = {
    "admin": {"products:read", "products:write"},
    "manager": {"products:read", "products:write"},
    "teller": {"products:read"},
    "loan_officer": {"products:read"},
    "auditor": {"products:read"},
    "customer_service": {"products:read"},
}
# Credit lines by built-in role, as docs/security.md states it: every role reads them,
# administrators, managers and loan officers open and service them.
CREDIT_LINE_PERMISSIONS = {
    "admin": {"credit_lines:read", "credit_lines:write"},
    "manager": {"credit_lines:read", "credit_lines:write"},
    "teller": {"credit_lines:read"},
    "loan_officer": {"credit_lines:read", "credit_lines:write"},
    "auditor": {"credit_lines:read"},
    "customer_service": {"credit_lines:read"},
}
# Term deposits by built-in role, as docs/security.md states it: every role reads them,
# administrators, managers and tellers place and close them.
TERM_DEPOSIT_PERMISSIONS = {
    "admin": {"term_deposits:read", "term_deposits:write"},
    "manager": {"term_deposits:read", "term_deposits:write"},
    "teller": {"term_deposits:read", "term_deposits:write"},
    "loan_officer": {"term_deposits:read"},
    "auditor": {"term_deposits:read"},
    "customer_service": {"term_deposits:read"},
}
LOGOUT = ("/auth/logout", "POST")
NEXUM = Path(sys.executable).with_name("nexum")
ENCRYPTED_COLUMNS = (
    "given_name",
    "family_name",
    "email",
    "phone",
    "date_of_birth",
    "kyc_documents",
)


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on the backend under test."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url


def retry_after(response: httpx.Response) -> int:
    assert_problem(response, 429, "rate_limited")
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 60, seconds
    return seconds


async def me(api: Api, headers: dict[str, str]) -> httpx.Response:
    return await api.http.get("/auth/me", headers=headers)


async def login(
    http: httpx.AsyncClient, username: str, password: str, **headers: str
) -> httpx.Response:
    return await http.post(
        "/auth/login", json={"username": username, "password": password}, headers=headers
    )


async def username_of(api: Api, headers: dict[str, str]) -> str:
    response = await me(api, headers)
    assert response.status_code == 200, response.text
    name: str = response.json()["name"]
    return name


async def fresh_session(api: Api, headers: dict[str, str]) -> dict[str, str]:
    """Another session of the user behind ``headers`` (the first administrator, or a user
    support.api made)."""
    name = await username_of(api, headers)
    return await api.login(name, ADMIN_PASSWORD if name == ADMIN_USERNAME else USER_PASSWORD)


async def audit(api: Api, action: str, **filters: str) -> list[dict[str, Any]]:
    """Audit events of ``action``, oldest first."""
    response = await api.http.get(
        "/audit/events",
        headers=await api.admin(),
        params={"action": action, "limit": "500", **filters},
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["items"]
    return events[::-1]


async def deposit(
    api: Api, headers: dict[str, str], account_id: str, amount: str, currency: str = "USD"
) -> httpx.Response:
    return await api.http.post(
        "/transactions/deposit",
        headers={**headers, "Idempotency-Key": key()},
        json={"account_id": account_id, "amount": money(amount, currency)},
    )


def limited(url: str, **overrides: str) -> Settings:
    return settings_for(url, enable_rate_limiting="true", **overrides)


def new_master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def key_id(master: str) -> str:
    return key_id_of(base64.b64decode(master))


# --------------------------------------------------------------------------- 1. the route walk


def test_every_route_is_public_or_requires_exactly_one_permission(tmp_sqlite_url):
    app = create_app(settings_for(tmp_sqlite_url))  # built, never started
    routes = walk(app)
    served = {(route.path, method) for route in routes for method in route.methods}
    documented = {
        (path, method.upper())
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    # The walk sees inside included routers: everything the API documents, it found.
    assert documented <= served
    assert ("/transactions/deposit", "POST") in served

    problems = []
    for route in routes:
        if route.path in PUBLIC_PATHS:
            if route.requirements:
                problems.append(f"{route.path} is public yet requires {route.requirements}")
        elif not route.is_api_route:
            problems.append(f"{route.path} is neither public nor guarded by Requires")
        elif len(route.requirements) != 1:
            problems.append(f"{route.path} requires {list(route.requirements)}, not one")
        elif not (
            isinstance(route.requirement.permission, Permission)
            or route.requirement.permission == AUTHENTICATED
        ):
            problems.append(f"{route.path} requires {route.requirement.permission!r}")
    assert problems == [], "\n".join(problems)

    assert {route.path for route in routes} >= PUBLIC_PATHS  # no stale entries
    guarded = [route for route in routes if route.path not in PUBLIC_PATHS]
    signed_in_only = {
        (route.path, method)
        for route in guarded
        if route.requirement.permission == AUTHENTICATED
        for method in route.methods
    }
    assert signed_in_only == ANY_SIGNED_IN_PRINCIPAL
    # Each money permission guards only POSTs (and so spends the transactions budget).
    money_routes = [r for r in guarded if r.requirement.permission in MONEY_PERMISSIONS]
    assert {route.requirement.permission for route in money_routes} == MONEY_PERMISSIONS
    for route in money_routes:
        assert route.methods == {"POST"}, route.path


def test_each_builtin_role_has_its_catalogue_permissions():
    catalogue = {Permission.PRODUCTS_READ, Permission.PRODUCTS_WRITE}
    assert {
        spec.name: {permission.value for permission in spec.permissions & catalogue}
        for spec in DEFAULT_ROLES
    } == CATALOGUE_PERMISSIONS


def test_each_builtin_role_has_its_credit_line_permissions():
    credit_lines = {Permission.CREDIT_LINES_READ, Permission.CREDIT_LINES_WRITE}
    assert {
        spec.name: {permission.value for permission in spec.permissions & credit_lines}
        for spec in DEFAULT_ROLES
    } == CREDIT_LINE_PERMISSIONS


def test_each_builtin_role_has_its_term_deposit_permissions():
    term_deposits = {Permission.TERM_DEPOSITS_READ, Permission.TERM_DEPOSITS_WRITE}
    assert {
        spec.name: {permission.value for permission in spec.permissions & term_deposits}
        for spec in DEFAULT_ROLES
    } == TERM_DEPOSIT_PERMISSIONS


def test_public_paths_are_only_the_probes_the_docs_login_and_setup():
    unexpected = sorted(PUBLIC_PATHS - EXPECTED_PUBLIC_PATHS)
    missing = sorted(EXPECTED_PUBLIC_PATHS - PUBLIC_PATHS)
    assert (unexpected, missing) == ([], [])


async def test_without_credentials_every_route_but_the_public_ones_answers_401(api, app):
    wrong = []
    for route in walk(app):
        for method in sorted(route.methods - {"HEAD"}):
            response = await call(api.http, method, route.path)
            if route.path in PUBLIC_PATHS:
                if response.status_code in (401, 403) or response.status_code >= 500:
                    wrong.append(f"public {method} {route.path}: {response.status_code}")
                continue
            if (
                response.status_code != 401
                or response.json().get("code") != "unauthenticated"
                or response.headers.get("www-authenticate") != "Bearer"
            ):
                wrong.append(f"{method} {route.path}: {response.status_code} {response.text}")
    assert wrong == [], "\n".join(wrong)


async def test_each_role_is_refused_exactly_the_routes_it_lacks_the_permission_for(api, app):
    roles = {spec.name: spec.permissions for spec in DEFAULT_ROLES}
    assert set(roles) == set(ROLES)
    # The server's built-in roles are the domain's.
    response = await api.http.get("/auth/roles", headers=await api.admin())
    assert response.status_code == 200, response.text
    served_roles = {role["name"]: set(role["permissions"]) for role in response.json()}
    assert {name: served_roles[name] for name in roles} == {
        name: {permission.value for permission in permissions}
        for name, permissions in roles.items()
    }

    guarded = [route for route in walk(app) if route.path not in PUBLIC_PATHS]
    assert guarded
    mismatches = []
    refusals = 0
    for role, permissions in roles.items():
        headers = await api.as_role(role)
        for route in guarded:
            required = route.requirement.permission
            allowed = required == AUTHENTICATED or required in permissions
            for method in sorted(route.methods):
                used = headers
                if (route.path, method) == LOGOUT:  # log out a session of its own
                    used = await fresh_session(api, headers)
                response = await call(api.http, method, route.path, used)
                status = response.status_code
                if allowed:
                    ok = status not in (401, 403) and status < 500
                else:
                    refusals += 1
                    body = response.json()
                    ok = (
                        status == 403
                        and body.get("code") == "forbidden"
                        and body.get("context", {}).get("permission") == required
                    )
                if not ok:
                    mismatches.append(
                        f"{role} {method} {route.path} ({required}, "
                        f"{'allowed' if allowed else 'refused'}): {status} {response.text}"
                    )
    assert mismatches == [], "\n".join(mismatches)
    assert refusals > 0
    # The walk's calls ended none of the shared sessions.
    for role in roles:
        assert (await me(api, await api.as_role(role))).status_code == 200


async def test_metrics_need_metrics_read_from_outside_the_allowed_networks(api, app):
    """/metrics guards itself: open to NEXUM_METRICS_ALLOWED_NETWORKS (loopback by default),
    from anywhere else only with metrics:read."""
    response = await api.http.get("/metrics")  # the in-process client is 127.0.0.1
    assert response.status_code == 200, response.text
    async with client_for(app, "10.0.0.7") as outside:
        assert_problem(await outside.get("/metrics"), 401, "unauthenticated")
        response = await outside.get("/metrics", headers=await api.as_role("teller"))
        assert_problem(response, 403, "forbidden", permission="metrics:read")
        response = await outside.get("/metrics", headers=await api.as_role("auditor"))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")


# --------------------------------------------------------------------------- 2. tokens


async def test_forged_expired_and_malformed_tokens_are_refused(api):
    await api.admin()
    response = await login(api.http, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert response.status_code == 200, response.text
    session = response.json()
    issued = claims_of(session["access_token"])
    assert issued["sub"] == session["user_id"]
    assert issued["sid"] == session["session_id"]
    assert (issued["iss"], issued["typ"]) == ("nexum", "access")
    now = int(time.time())
    claims = {
        "sub": session["user_id"],
        "sid": session["session_id"],
        "iat": now,
        "exp": now + 3600,
        "iss": "nexum",
        "typ": "access",
    }
    # Control: a token made here the way the server makes them is accepted, so each refusal
    # below is for its one flaw.
    good = signed_token(claims, TEST_JWT_SECRET)
    accepted = await me(api, bearer(good))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["session_id"] == session["session_id"]

    header, _, signature = good.split(".")
    refused = {
        "signed with another secret": signed_token(claims, "another-secret-" + "x" * 40),
        "alg none": unsigned_token(claims),
        "alg none with the real signature": f"{unsigned_token(claims)}{signature}",
        "HS512 with the right secret": signed_token(claims, TEST_JWT_SECRET, "HS512"),
        "HS384 with the right secret": signed_token(claims, TEST_JWT_SECRET, "HS384"),
        "payload tampered": f"{header}.{b64url_json({**claims, 'exp': now + 10**7})}.{signature}",
        "expired": signed_token({**claims, "iat": now - 7200, "exp": now - 3600}, TEST_JWT_SECRET),
        "no such session": signed_token({**claims, "sid": str(uuid.uuid4())}, TEST_JWT_SECRET),
        "another user's session": signed_token(
            {**claims, "sub": str(uuid.uuid4())}, TEST_JWT_SECRET
        ),
        "not an access token": signed_token({**claims, "typ": "refresh"}, TEST_JWT_SECRET),
        "another issuer": signed_token({**claims, "iss": "not-nexum"}, TEST_JWT_SECRET),
        "no expiry": signed_token(
            {name: value for name, value in claims.items() if name != "exp"}, TEST_JWT_SECRET
        ),
        "garbage": "garbage",
        "three garbage segments": "abc.def.ghi",
        "empty": "",
    }
    details = {
        "expired": "the access token has expired",
        "no such session": "the session does not exist",
        "another user's session": "the session does not exist",
    }
    for flaw, token in refused.items():
        body = assert_problem(await me(api, bearer(token)), 401, "unauthenticated")
        if flaw in details:
            assert body["detail"] == details[flaw], flaw
    for headers in ({"Authorization": "Basic YWRtaW46YWRtaW4="}, {"Authorization": "Bearer"}, {}):
        assert_problem(await me(api, headers), 401, "unauthenticated")
    # None of that ended the real session.
    assert (await me(api, bearer(session["access_token"]))).status_code == 200


# --------------------------------------------------------------------------- 3. sessions


async def test_logout_revocation_and_disabling_end_sessions_at_once(api):
    admin = await api.admin()
    user_id, first = await api.new_user("teller")
    name = await username_of(api, first)
    second = await api.login(name, USER_PASSWORD)
    third = await api.login(name, USER_PASSWORD)

    # Logout ends this session, and only this one.
    response = await api.http.post("/auth/logout", headers=first)
    assert response.status_code == 204, response.text
    assert_problem(await me(api, first), 401, "unauthenticated")
    assert_problem(await api.http.post("/auth/logout", headers=first), 401, "unauthenticated")
    assert (await me(api, second)).status_code == 200

    # An administrator ends every session of a user.
    response = await api.http.post(f"/auth/users/{user_id}/revoke-sessions", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"sessions_ended": 2}
    for headers in (second, third):
        assert_problem(await me(api, headers), 401, "unauthenticated")
    response = await api.http.post(f"/auth/users/{uuid.uuid4()}/revoke-sessions", headers=admin)
    assert_problem(response, 404, "not_found")

    # The user may log in again; disabling the user ends that session too.
    fourth = await api.login(name, USER_PASSWORD)
    assert (await me(api, fourth)).status_code == 200
    response = await api.http.patch(
        f"/auth/users/{user_id}", headers=admin, json={"status": "disabled"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "disabled"
    assert_problem(await me(api, fourth), 401, "unauthenticated")
    response = await login(api.http, name, USER_PASSWORD)
    assert_problem(response, 401, "unauthenticated", reason="disabled")

    # Enabled again, the user logs in; a change of roles ends the session.
    response = await api.http.patch(
        f"/auth/users/{user_id}", headers=admin, json={"status": "active"}
    )
    assert response.status_code == 200, response.text
    fifth = await api.login(name, USER_PASSWORD)
    assert (await me(api, fifth)).status_code == 200
    response = await api.http.patch(
        f"/auth/users/{user_id}", headers=admin, json={"roles": ["auditor"]}
    )
    assert response.status_code == 200, response.text
    assert_problem(await me(api, fifth), 401, "unauthenticated")

    ended = await audit(api, "user.sessions_revoked", entity_id=user_id)
    assert [event["details"]["sessions"] for event in ended] == [2]
    logouts = await audit(api, "auth.logout")
    assert sum(event["actor"] == f"user:{user_id}" for event in logouts) == 1


async def test_an_idle_session_expires_and_use_keeps_a_session_alive(own_url):
    settings = settings_for(own_url)
    assert settings.session_timeout_minutes == 30  # the default
    clock = FakeClock()
    async with own_api(settings, clock) as (_, api):
        active = await api.admin()
        idle = await api.login(ADMIN_USERNAME, ADMIN_PASSWORD)

        clock.advance(minutes=20)
        assert (await me(api, active)).status_code == 200
        clock.advance(minutes=20)
        assert (await me(api, active)).status_code == 200  # 20 minutes since its last use
        body = assert_problem(await me(api, idle), 401, "unauthenticated")  # 40 minutes idle
        assert body["detail"] == "the session has ended; log in again"

        clock.advance(minutes=31)
        assert_problem(await me(api, active), 401, "unauthenticated")


async def test_the_idle_timeout_follows_the_setting(tmp_sqlite_url):
    clock = FakeClock()
    settings = settings_for(tmp_sqlite_url, session_timeout_minutes="5")
    async with own_api(settings, clock) as (_, api):
        session = await api.admin()
        clock.advance(minutes=4)
        assert (await me(api, session)).status_code == 200
        clock.advance(minutes=5, seconds=1)
        assert_problem(await me(api, session), 401, "unauthenticated")


# --------------------------------------------------------------------------- 4. lockout


async def test_failed_logins_lock_the_user_until_the_lock_lifts(own_url):
    clock = FakeClock()
    async with own_api(settings_for(own_url), clock) as (_, api):
        admin = await api.admin()
        user_id, _ = await api.new_user("teller")
        response = await api.http.get(f"/auth/users/{user_id}", headers=admin)
        name = response.json()["username"]

        async def attempt(password: str) -> httpx.Response:
            clock.advance(seconds=1)  # one a second: the audit trail orders them by time
            return await login(api.http, name, password)

        for n in range(MAX_FAILED_LOGINS):
            response = await attempt(f"not the password {n}")
            assert_problem(response, 401, "unauthenticated", reason="bad_credentials")
        locked_at = clock.now()

        # Locked: even the right password is refused, and saying so.
        assert_problem(await attempt(USER_PASSWORD), 401, "unauthenticated", reason="locked")
        assert_problem(await attempt("still wrong"), 401, "unauthenticated", reason="locked")
        user = (await api.http.get(f"/auth/users/{user_id}", headers=admin)).json()
        assert datetime.fromisoformat(user["locked_until"]) == locked_at + LOCKOUT

        clock.moment = locked_at + LOCKOUT - timedelta(seconds=2)
        response = await attempt(USER_PASSWORD)  # LOCKOUT - 1 s after the lock
        assert_problem(response, 401, "unauthenticated", reason="locked")
        clock.moment = locked_at + LOCKOUT
        assert (await attempt(USER_PASSWORD)).status_code == 200  # LOCKOUT + 1 s after it

        # A success resets the count: MAX - 1 failures on either side of it lock nothing.
        for _ in range(2):
            for n in range(MAX_FAILED_LOGINS - 1):
                response = await attempt(f"wrong again {n}")
                assert_problem(response, 401, "unauthenticated", reason="bad_credentials")
            assert (await attempt(USER_PASSWORD)).status_code == 200

        failures = await audit(api, "auth.login_failed", entity_id=user_id)
        assert [event["details"]["reason"] for event in failures] == (
            ["bad_credentials"] * MAX_FAILED_LOGINS
            + ["locked"] * 3
            + ["bad_credentials"] * (2 * (MAX_FAILED_LOGINS - 1))
        )
        assert [event["details"].get("failed_logins") for event in failures] == (
            list(range(1, MAX_FAILED_LOGINS + 1))
            + [None] * 3
            + list(range(1, MAX_FAILED_LOGINS)) * 2
        )
        assert [
            datetime.fromisoformat(event["details"]["locked_until"])
            for event in failures
            if "locked_until" in event["details"]
        ] == [locked_at + LOCKOUT]
        assert {event["details"]["username"] for event in failures} == {name}
        logins = await audit(api, "auth.login")
        # new_user's login, the one after the lock lifted, and the two after that
        assert sum(event["details"]["user_id"] == user_id for event in logins) == 4


async def test_a_wrong_username_costs_a_real_password_check(api, monkeypatch):
    await api.admin()
    checked: list[str] = []
    verify = Argon2Passwords.verify

    def counting(self: Argon2Passwords, stored_hash: str, password: str) -> bool:
        checked.append(stored_hash)
        return verify(self, stored_hash, password)

    monkeypatch.setattr(Argon2Passwords, "verify", counting)
    unknown = f"nobody-{uuid.uuid4().hex[:12]}"
    for username in (unknown, "Not A Valid Name!"):
        checked.clear()
        response = await login(api.http, username, "some password or other")
        assert_problem(response, 401, "unauthenticated", reason="bad_credentials")
        assert len(checked) == 1
        assert checked[0].startswith("$argon2id$")
    monkeypatch.undo()

    failures = await audit(api, "auth.login_failed")
    assert [
        event["details"]["reason"] for event in failures if event["details"]["username"] == unknown
    ] == ["bad_credentials"]


# --------------------------------------------------------------------------- 5. passwords


async def test_passwords_are_stored_as_argon2id(api, app):
    user_id, _ = await api.new_user("auditor")
    (row,) = await raw_rows(app, users, users.c.id == UUID(user_id))
    stored = row["password_hash"]
    assert stored.startswith("$argon2id$v=19$")
    assert USER_PASSWORD not in stored
    assert Argon2Passwords().verify(stored, USER_PASSWORD)
    administrators = await raw_rows(app, users, users.c.username == ADMIN_USERNAME)
    assert administrators[0]["password_hash"].startswith("$argon2id$")


async def test_weak_passwords_are_refused(api):
    admin = await api.admin()
    username = f"walter-{uuid.uuid4().hex[:8]}"
    weak = {
        "shorter than NEXUM_PASSWORD_MIN_LENGTH": "Ab3$xyz",
        "among the most common": "password123",
        "common, in other letters": "PassWord123",
        "one character repeated": "zzzzzzzzzzzz",
        "containing the username": f"my {username} passphrase",
        "containing the username in capitals": f"MY {username.upper()} PASSPHRASE",
    }
    for rule, password in weak.items():
        response = await api.http.post(
            "/auth/users",
            headers=admin,
            json={"username": username, "password": password, "full_name": "W", "roles": []},
        )
        body = assert_problem(response, 422, "weak_password", field="password")
        assert body["detail"], rule
    # None of them created the user: the name is still free.
    response = await api.http.post(
        "/auth/users",
        headers=admin,
        json={"username": username, "password": USER_PASSWORD, "full_name": "W", "roles": []},
    )
    assert response.status_code == 201, response.text
    # A new password is held to the same rules.
    response = await api.http.patch(
        f"/auth/users/{response.json()['user_id']}", headers=admin, json={"password": "password1"}
    )
    assert_problem(response, 422, "weak_password", field="password")


async def test_the_minimum_password_length_follows_the_setting(tmp_sqlite_url):
    async with own_api(settings_for(tmp_sqlite_url, password_min_length="12")) as (_, api):
        admin = await api.admin()
        for password, status in (("kettle-drum", 422), ("kettle-drums", 201)):
            response = await api.http.post(
                "/auth/users",
                headers=admin,
                json={"username": "lena", "password": password, "full_name": "L", "roles": []},
            )
            assert response.status_code == status, response.text


# --------------------------------------------------------------------------- 6. API keys


async def test_an_api_key_does_what_its_permissions_allow_and_no_more(api):
    admin = await api.admin()
    account = await api.account()
    response = await api.http.post(
        "/auth/api-keys",
        headers=admin,
        json={"name": "statement reader", "permissions": ["accounts:read"]},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["key"]
    assert secret.startswith(f"nxk_{UUID(created['api_key_id']).hex}_")
    key_id, _, key_secret = secret.removeprefix("nxk_").partition("_")
    assert len(key_secret) >= 40
    assert created["permissions"] == ["accounts:read"]

    # Listed, but never with the key.
    response = await api.http.get("/auth/api-keys", headers=admin)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [item["api_key_id"] for item in listed].count(created["api_key_id"]) == 1
    assert all("key" not in item for item in listed)
    assert key_secret not in response.text

    by_header = {"X-API-Key": secret}
    as_bearer = bearer(secret)
    for headers in (by_header, as_bearer):
        response = await api.http.get(f"/accounts/{account['account_id']}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["account_id"] == account["account_id"]
    who = (await me(api, by_header)).json()
    assert (who["kind"], who["permissions"], who["session_id"]) == (
        "api_key",
        ["accounts:read"],
        None,
    )
    response = await deposit(api, by_header, account["account_id"], "1.00")
    assert_problem(response, 403, "forbidden", permission="transactions:deposit")
    response = await api.http.get("/customers", headers=as_bearer)
    assert_problem(response, 403, "forbidden", permission="customers:read")
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"

    # A tampered or made-up key is no key.
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for wrong in (
        tampered,
        f"nxk_{key_id}_{key_secret[::-1]}",
        f"nxk_{uuid.uuid4().hex}_{key_secret}",
        f"nxk_{key_id}_",
        "nxk_short",
    ):
        for headers in ({"X-API-Key": wrong}, bearer(wrong)):
            response = await api.http.get(f"/accounts/{account['account_id']}", headers=headers)
            assert_problem(response, 401, "unauthenticated")

    # Revoked, it stops working at once.
    response = await api.http.post(f"/auth/api-keys/{created['api_key_id']}/revoke", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["revoked_at"] is not None
    for headers in (by_header, as_bearer):
        response = await api.http.get(f"/accounts/{account['account_id']}", headers=headers)
        assert_problem(response, 401, "unauthenticated")


async def test_a_key_never_gets_a_permission_its_creator_lacks(api):
    admin = await api.admin()
    body = {"name": "helper", "permissions": ["accounts:read"]}
    response = await api.http.post(
        "/auth/api-keys", headers=await api.as_role("manager"), json=body
    )
    assert_problem(response, 403, "forbidden", permission="api_keys:manage")

    role = f"keymaker_{uuid.uuid4().hex[:8]}"
    response = await api.http.put(
        f"/auth/roles/{role}",
        headers=admin,
        json={
            "description": "Issues read keys",
            "permissions": ["api_keys:manage", "accounts:read"],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["builtin"] is False
    _, keymaker = await api.new_user(role)
    for asked in (["users:write"], ["accounts:read", "users:write"]):
        response = await api.http.post(
            "/auth/api-keys", headers=keymaker, json={"name": "escalation", "permissions": asked}
        )
        assert_problem(response, 403, "forbidden", permissions=["users:write"])
    response = await api.http.post("/auth/api-keys", headers=keymaker, json=body)
    assert response.status_code == 201, response.text

    # The built-in roles cannot be widened instead.
    response = await api.http.put(
        "/auth/roles/teller",
        headers=admin,
        json={
            "description": "more",
            "permissions": [permission.value for permission in Permission],
        },
    )
    assert_problem(response, 403, "forbidden")


async def test_an_expired_key_is_refused(own_url):
    clock = FakeClock()
    async with own_api(settings_for(own_url), clock) as (_, api):
        admin = await api.admin()
        response = await api.http.post(
            "/auth/api-keys",
            headers=admin,
            json={
                "name": "for an hour",
                "permissions": ["accounts:read"],
                "expires_at": (clock.now() + timedelta(hours=1)).isoformat(),
            },
        )
        assert response.status_code == 201, response.text
        headers = {"X-API-Key": response.json()["key"]}
        clock.advance(minutes=59)
        assert (await me(api, headers)).status_code == 200
        clock.advance(minutes=2)
        body = assert_problem(await me(api, headers), 401, "unauthenticated")
        assert body["detail"] == "the API key is revoked or expired"


# --------------------------------------------------------------------------- 7. amount limits


async def test_a_role_moves_at_most_its_amount_limit(api):
    teller = await api.as_role("teller")
    usd = (await api.account())["account_id"]
    assert (await deposit(api, teller, usd, "10000.00")).status_code == 201
    response = await deposit(api, teller, usd, "10000.01")
    assert_problem(response, 403, "amount_above_role_limit", limit="10000.00")
    response = await api.http.post(
        "/transactions/withdraw",
        headers={**teller, "Idempotency-Key": key()},
        json={"account_id": usd, "amount": money("10000.01")},
    )
    assert_problem(response, 403, "amount_above_role_limit", limit="10000.00")
    other = (await api.account())["account_id"]
    response = await api.http.post(
        "/transactions/transfer",
        headers={**teller, "Idempotency-Key": key()},
        json={"from_account_id": usd, "to_account_id": other, "amount": money("10000.01")},
    )
    assert_problem(response, 403, "amount_above_role_limit", limit="10000.00")
    response = await api.http.post(
        f"/accounts/{usd}/holds",
        headers={**teller, "Idempotency-Key": key()},
        json={"amount": money("10000.01")},
    )
    assert_problem(response, 403, "amount_above_role_limit", limit="10000.00")
    assert await api.balances(usd) == {
        "posted": "10000.00",
        "held": "0.00",
        "available": "10000.00",
    }

    # The limit is in major units of any currency.
    jpy = (await api.account(currency="JPY"))["account_id"]
    assert (await deposit(api, teller, jpy, "10000", "JPY")).status_code == 201
    response = await deposit(api, teller, jpy, "10001", "JPY")
    assert_problem(response, 403, "amount_above_role_limit", limit="10000")
    assert (await api.balances(jpy))["posted"] == "10000"

    # A manager has no role limit; the bank's NEXUM_MAX_TRANSACTION_AMOUNT still applies.
    manager = await api.as_role("manager")
    assert (await deposit(api, manager, usd, "20000.00")).status_code == 201
    assert (await deposit(api, manager, usd, "100000.00")).status_code == 201
    response = await deposit(api, manager, usd, "100000.01")
    assert_problem(response, 422, "transaction_limit_exceeded")
    assert (await api.balances(usd))["posted"] == "130000.00"


# --------------------------------------------------------------------------- 8. rate limits


async def test_login_attempts_are_limited_per_address(tmp_sqlite_url):
    async with serving(limited(tmp_sqlite_url, rate_limit_auth="3")) as app:
        async with client_for(app, "10.0.0.7") as guesser:
            for n in range(3):
                response = await login(guesser, "nobody", f"guess {n}")
                assert_problem(response, 401, "unauthenticated")
            response = await login(guesser, "nobody", "guess 4")
            retry_after(response)
            assert response.json()["context"] == {"budget": "auth"}
            setup = {"username": "mallory", "password": USER_PASSWORD, "full_name": "M"}
            retry_after(await guesser.post("/auth/setup", json=setup))
            # Health probes are never limited (and answer as usual).
            probes = [
                (path, (await guesser.get(path)).status_code)
                for path in ("/health", "/health/live", "/health/ready") * 5
            ]
            assert [probe for probe in probes if probe[1] == 429] == []
            assert [probe for probe in probes if probe[1] != 200] == []
        async with client_for(app, "10.0.0.8") as neighbour:
            assert_problem(await login(neighbour, "nobody", "guess"), 401, "unauthenticated")


async def test_each_principal_has_its_own_global_budget(tmp_sqlite_url):
    async with own_api(limited(tmp_sqlite_url, rate_limit_global="5")) as (app, api):
        admin = await api.admin()  # set-up and login count against the auth budget only
        _, auditor = await api.new_user("auditor")  # the administrator's first request
        for _ in range(4):
            assert (await me(api, admin)).status_code == 200
        response = await me(api, admin)
        retry_after(response)
        assert response.json()["context"] == {"budget": "global"}
        assert (await me(api, auditor)).status_code == 200  # another principal
        for _ in range(10):
            assert (await api.http.get("/health/live")).status_code == 200

        # Requests that fail authentication spend their address's budget.
        async with client_for(app, "10.0.0.9") as stranger:
            for _ in range(5):
                response = await stranger.get("/auth/me", headers=bearer("guessed.token.value"))
                assert_problem(response, 401, "unauthenticated")
            retry_after(await stranger.get("/auth/me", headers=bearer("guessed.token.value")))
        async with client_for(app, "10.0.0.10") as other:
            assert_problem(await other.get("/auth/me"), 401, "unauthenticated")


async def test_money_moving_requests_have_their_own_budget(tmp_sqlite_url):
    async with own_api(limited(tmp_sqlite_url, rate_limit_transactions="2")) as (_, api):
        admin = await api.admin()
        account = (await api.account())["account_id"]
        for _ in range(2):
            assert (await deposit(api, admin, account, "1.00")).status_code == 201
        response = await deposit(api, admin, account, "1.00")
        retry_after(response)
        assert response.json()["context"] == {"budget": "transactions"}
        response = await api.http.post(
            f"/accounts/{account}/holds",
            headers={**admin, "Idempotency-Key": key()},
            json={"amount": money("1.00")},
        )
        retry_after(response)
        # Reading goes on.
        response = await api.http.get(f"/accounts/{account}", headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["balances"]["posted"]["amount"] == "2.00"
        response = await api.http.get(f"/accounts/{account}/transactions", headers=admin)
        assert response.status_code == 200, response.text
        # Another principal still moves money.
        teller = await api.as_role("teller")
        assert (await deposit(api, teller, account, "1.00")).status_code == 201


async def redis_connections_named(url: str) -> int:
    import redis.asyncio

    name = url.partition("client_name=")[2]
    client = redis.asyncio.from_url(REDIS_URL)
    try:
        return sum(entry.get("name") == name for entry in await client.client_list())
    finally:
        await client.aclose()


async def test_api_processes_share_one_budget_through_redis(tmp_sqlite_url, redis_url):
    # An address of this run alone, so that no other run's attempts count.
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    shared = limited(tmp_sqlite_url, rate_limit_auth="3", redis_url=redis_url)
    async with (
        serving(shared) as first,
        serving(shared) as second,
        client_for(first, address) as one,
        client_for(second, address) as two,
    ):
        for http in (one, one, two):
            assert_problem(await login(http, "nobody", "guess"), 401, "unauthenticated")
        retry_after(await login(two, "nobody", "guess"))
        retry_after(await login(one, "nobody", "guess"))

    # Control: without Redis each process counts on its own.
    alone = limited(tmp_sqlite_url, rate_limit_auth="3")
    async with (
        serving(alone) as first,
        serving(alone) as second,
        client_for(first, address) as one,
        client_for(second, address) as two,
    ):
        for http in (one, one, two, two, two):
            assert_problem(await login(http, "nobody", "guess"), 401, "unauthenticated")


async def test_stopping_the_app_closes_the_rate_limiters_redis_connection(
    tmp_sqlite_url, redis_url
):
    settings = limited(tmp_sqlite_url, redis_url=redis_url)
    async with serving(settings) as app, client_for(app, "10.0.0.7") as http:
        assert_problem(await login(http, "nobody", "guess"), 401, "unauthenticated")
        assert await redis_connections_named(redis_url) >= 1  # the limiter's, in use
    assert await redis_connections_named(redis_url) == 0


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(tmp_sqlite_url):
    settings = limited(tmp_sqlite_url, rate_limit_auth="3", trusted_proxies="10.0.0.1")
    async with serving(settings) as app:
        async with client_for(app, "10.0.0.7") as direct:
            for n in range(3):
                response = await login(
                    direct, "nobody", "guess", **{"X-Forwarded-For": f"198.51.100.{n + 10}"}
                )
                assert_problem(response, 401, "unauthenticated")
            # Whatever it claims, the connection's address has spent its budget.
            retry_after(
                await login(direct, "nobody", "guess", **{"X-Forwarded-For": "198.51.100.99"})
            )
        async with client_for(app, "10.0.0.1") as proxy:

            async def via_proxy(forwarded: str | None) -> httpx.Response:
                headers = {"X-Forwarded-For": forwarded} if forwarded else {}
                return await login(proxy, "nobody", "guess", **headers)

            for _ in range(3):
                assert_problem(await via_proxy("198.51.100.1"), 401, "unauthenticated")
            retry_after(await via_proxy("198.51.100.1"))
            # Another client behind the same proxy has its own budget ...
            assert_problem(await via_proxy("198.51.100.2"), 401, "unauthenticated")
            assert_problem(await via_proxy("198.51.100.2, 10.0.0.1"), 401, "unauthenticated")
            # ... and a client cannot escape by prepending addresses of its own.
            retry_after(await via_proxy("203.0.113.66, 198.51.100.1"))
            assert_problem(await via_proxy(None), 401, "unauthenticated")  # the proxy itself

        async with client_for(app) as local:
            api = Api(local)
            addresses = {
                event["details"]["client_address"]
                for event in await audit(api, "auth.login_failed")
            }
        assert addresses == {"10.0.0.7", "198.51.100.1", "198.51.100.2", "10.0.0.1"}


# --------------------------------------------------------------------------- 9. PII at rest


_PHONE_LINES = itertools.count(secrets.randbelow(500))  # a London drama number each


@dataclass(frozen=True)
class Person:
    given_name: str
    family_name: str
    email: str
    phone: str
    phone_e164: str
    date_of_birth: str
    document_number: str

    @classmethod
    def made_up(cls) -> Person:
        tag = uuid.uuid4().hex[:8]
        line = next(_PHONE_LINES)
        return cls(
            given_name=f"Ottilie Marguerite{tag}",
            family_name=f"Vandermolen{tag}",
            email=f"ottilie.{tag}@example.org",
            phone=f"+44 20 7946 {line:04d}",
            phone_e164=f"+44207946{line:04d}",
            date_of_birth="1985-03-14",
            document_number=f"P{tag.upper()}X",
        )

    def fields(self) -> dict[str, str]:
        return {
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email": self.email,
            "phone": self.phone,
            "date_of_birth": self.date_of_birth,
        }

    def secrets(self) -> list[str]:
        """Every piece of it that must never be stored in plaintext."""
        return [
            *self.given_name.split(),
            self.family_name,
            self.email,
            self.email.split("@")[0],
            self.phone,
            self.phone_e164,
            self.phone_e164.removeprefix("+44"),
            self.date_of_birth,
            self.document_number,
        ]

    def kyc(self) -> dict[str, Any]:
        return {
            "status": "verified",
            "tier": 1,
            "documents": [
                {
                    "kind": "passport",
                    "number": self.document_number,
                    "issuing_country": "GB",
                    "expires_on": "2034-06-30",
                }
            ],
        }


async def enrol(api: Api, person: Person, **headers: str) -> str:
    """The customer ``person`` with a verified KYC review; its id."""
    admin = await api.admin()
    response = await api.http.post("/customers", headers={**admin, **headers}, json=person.fields())
    assert response.status_code == 201, response.text
    customer_id: str = response.json()["customer_id"]
    response = await api.http.put(f"/customers/{customer_id}/kyc", headers=admin, json=person.kyc())
    assert response.status_code == 200, response.text
    return customer_id


async def assert_readable_and_found(api: Api, customer_id: str, person: Person) -> None:
    admin = await api.admin()
    response = await api.http.get(f"/customers/{customer_id}", headers=admin)
    assert response.status_code == 200, response.text
    got = response.json()
    assert (got["given_name"], got["family_name"], got["email"], got["phone"]) == (
        person.given_name,
        person.family_name,
        person.email,
        person.phone_e164,
    )
    assert got["date_of_birth"] == person.date_of_birth
    assert [document["number"] for document in got["kyc"]["documents"]] == [person.document_number]
    for query in (
        {"email": person.email},
        {"phone": person.phone},
        {"phone": person.phone_e164},
        {"name": person.family_name},
        {"name": person.given_name.split()[1].lower()},
        {"name": f"Ottilie {person.family_name.upper()}"},
    ):
        response = await api.http.get("/customers", headers=admin, params=query)
        assert response.status_code == 200, response.text
        found = [item["customer_id"] for item in response.json()["items"]]
        assert found == [customer_id], query


async def stored_customer(app: Any, customer_id: str) -> dict[str, Any]:
    (row,) = await raw_rows(app, customers, customers.c.id == UUID(customer_id))
    return row


@pytest.mark.parametrize("provider", ["fernet", "aesgcm"])
async def test_personal_data_is_encrypted_at_rest_and_still_found(own_url, provider):
    master = new_master_key()
    settings = settings_for(
        own_url,
        encryption_enabled="true",
        encryption_master_key=master,
        encryption_provider=provider,
    )
    person, decoy = Person.made_up(), Person.made_up()
    async with own_api(settings) as (app, api):
        admin = await api.admin()
        customer_id = await enrol(api, person)
        response = await api.http.post(
            "/customers",
            headers=admin,
            json={
                "given_name": "Decoy",
                "family_name": "Customer",
                "email": decoy.email,
                "phone": "+33 1 23 45 67 89",
            },
        )
        assert response.status_code == 201, response.text
        decoy_id = response.json()["customer_id"]

        row = await stored_customer(app, customer_id)
        assert plaintext_found([row], person.secrets()) == []
        for column in ENCRYPTED_COLUMNS:
            assert row[column].startswith(f"enc:{provider}:{key_id(master)}:"), column
        tokens = await raw_rows(
            app, customer_name_tokens, customer_name_tokens.c.customer_id == UUID(customer_id)
        )
        words = name_tokens(person.given_name, person.family_name)
        assert len(tokens) == len(words) == 3
        assert plaintext_found(tokens, person.secrets()) == []
        # The indexes are keyed: nobody without the key can compute them.
        unkeyed = {PlaintextFields().blind_index(f"name:{word}") for word in words}
        assert not unkeyed & {token["token"] for token in tokens}

        await assert_readable_and_found(api, customer_id, person)
        response = await api.http.get("/customers", headers=admin, params={"email": decoy.email})
        assert [item["customer_id"] for item in response.json()["items"]] == [decoy_id]


async def test_no_table_keeps_personal_data_in_plaintext(own_url):
    """Beyond the customers table: a customer created with an Idempotency-Key, as a client
    that retries safely does, must leave no plaintext anywhere in the database."""
    settings = settings_for(
        own_url, encryption_enabled="true", encryption_master_key=new_master_key()
    )
    person = Person.made_up()
    async with own_api(settings) as (app, api):
        customer_id = await enrol(api, person, **{"Idempotency-Key": key()})
        await assert_readable_and_found(api, customer_id, person)
        leaks = []
        for table in metadata.sorted_tables:
            rows = await raw_rows(app, table)
            leaks += [f"{table.name}.{leak}" for leak in plaintext_found(rows, person.secrets())]
    assert leaks == [], "\n".join(leaks)


async def rotate_keys(url: str, **settings: str) -> str:
    """``nexum keys rotate``, as an operator runs it; its output."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("NEXUM_")}
    environ.update(
        {
            "NEXUM_DATABASE_URL": url,
            "NEXUM_ENVIRONMENT": "test",
            "NEXUM_JWT_SECRET": TEST_JWT_SECRET,
            "COLUMNS": "220",
        }
    )
    environ.update({f"NEXUM_{name.upper()}": value for name, value in settings.items()})
    process = await asyncio.create_subprocess_exec(
        str(NEXUM),
        "keys",
        "rotate",
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, (out.decode(), err.decode())
    return out.decode()


async def test_key_rotation_keeps_data_readable_and_rewrites_it_under_the_new_key(own_url, backend):
    provider = {"sqlite": "fernet", "postgresql": "aesgcm"}[backend]  # each provider once
    old, new = new_master_key(), new_master_key()
    encrypted = {"encryption_enabled": "true", "encryption_provider": provider}
    person, later = Person.made_up(), Person.made_up()

    async with own_api(settings_for(own_url, **encrypted, encryption_master_key=old)) as (
        app,
        api,
    ):
        customer_id = await enrol(api, person)
        assert (await stored_customer(app, customer_id))["email"].startswith(
            f"enc:{provider}:{key_id(old)}:"
        )

    # The new key is current, the old one still known: old data is read and found.
    during = settings_for(
        own_url, **encrypted, encryption_master_key=new, encryption_previous_keys=old
    )
    async with own_api(during) as (app, api):
        await assert_readable_and_found(api, customer_id, person)
        assert (await stored_customer(app, customer_id))["email"].startswith(
            f"enc:{provider}:{key_id(old)}:"
        )  # reading rewrites nothing
        later_id = await enrol(api, later)  # new data is written under the new key
        assert (await stored_customer(app, later_id))["email"].startswith(
            f"enc:{provider}:{key_id(new)}:"
        )

    output = await rotate_keys(
        own_url,
        **encrypted,
        encryption_master_key=new,
        encryption_previous_keys=old,
    )
    assert f"re-encrypted 2 customer(s) under key {key_id(new)}" in output

    # Only the new key now: everything is readable and found.
    async with own_api(settings_for(own_url, **encrypted, encryption_master_key=new)) as (
        app,
        api,
    ):
        for stored_id, someone in ((customer_id, person), (later_id, later)):
            row = await stored_customer(app, stored_id)
            for column in ENCRYPTED_COLUMNS:
                assert row[column].startswith(f"enc:{provider}:{key_id(new)}:"), column
            assert plaintext_found([row], someone.secrets()) == []
            await assert_readable_and_found(api, stored_id, someone)
        rows = await raw_rows(app, customers)
        assert plaintext_found(rows, [key_id(old)]) == []
