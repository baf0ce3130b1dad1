"""/auth over HTTP: set-up, login and logout, who am I, users, roles and API keys.

The shared administrator and role users are never logged out, disabled or changed here:
tests that do that to a user create that user first.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from support.api import USER_PASSWORD, Api, key, money
from support.problems import assert_problem, field_errors

pytestmark = pytest.mark.http

ALL_PERMISSIONS = {
    "customers:read",
    "customers:write",
    "customers:kyc",
    "accounts:read",
    "accounts:open",
    "accounts:freeze",
    "accounts:close",
    "transactions:read",
    "transactions:deposit",
    "transactions:withdraw",
    "transactions:transfer",
    "transactions:reverse",
    "transactions:batch",
    "holds:write",
    "audit:read",
    "users:read",
    "users:write",
    "roles:read",
    "roles:write",
    "api_keys:manage",
    "metrics:read",
    "products:read",
    "products:write",
    "eod:read",
    "eod:run",
    "loans:read",
    "loans:write",
    "loans:approve",
    "loans:repay",
    "loans:write_off",
    "credit_lines:read",
    "credit_lines:write",
    "term_deposits:read",
    "term_deposits:write",
}
READ = {
    "customers:read",
    "accounts:read",
    "transactions:read",
    "products:read",
    "loans:read",
    "credit_lines:read",
    "term_deposits:read",
}
BUILTIN_ROLES: dict[str, tuple[set[str], str | None]] = {
    "admin": (ALL_PERMISSIONS, None),
    "manager": (
        ALL_PERMISSIONS - {"users:write", "roles:write", "api_keys:manage", "eod:run"},
        None,
    ),
    "teller": (
        READ
        | {
            "customers:write",
            "accounts:open",
            "transactions:deposit",
            "transactions:withdraw",
            "transactions:transfer",
            "holds:write",
            "loans:repay",
            "term_deposits:write",
        },
        "10000.00",
    ),
    "loan_officer": (
        READ | {"loans:write", "loans:approve", "loans:repay", "credit_lines:write"},
        "250000.00",
    ),
    "auditor": (
        READ | {"audit:read", "users:read", "roles:read", "metrics:read", "eod:read"},
        "0",
    ),
    "customer_service": (
        READ | {"customers:write", "customers:kyc", "accounts:freeze"},
        "0",
    ),
}


def username() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


def role_name() -> str:
    return f"role_{uuid.uuid4().hex[:12]}"


async def create_user(api: Api, *roles: str, **fields: Any) -> httpx.Response:
    body = {
        "username": username(),
        "password": USER_PASSWORD,
        "full_name": "Test User",
        "roles": list(roles),
        **fields,
    }
    return await api.http.post("/auth/users", headers=await api.admin(), json=body)


async def login(api: Api, name: str, password: str = USER_PASSWORD) -> httpx.Response:
    return await api.http.post("/auth/login", json={"username": name, "password": password})


async def me(api: Api, headers: dict[str, str]) -> httpx.Response:
    return await api.http.get("/auth/me", headers=headers)


# --- set-up, login, logout ----------------------------------------------------------------


async def test_setup_is_refused_once_an_administrator_exists(api: Api) -> None:
    await api.admin()
    response = await api.http.post(
        "/auth/setup",
        json={"username": username(), "password": USER_PASSWORD, "full_name": "Late"},
    )
    assert_problem(response, 409, "setup_already_done")


async def test_login_returns_a_bearer_token(api: Api) -> None:
    created = (await create_user(api, "teller", email="t@example.com")).json()
    response = await login(api, created["username"].upper())  # usernames ignore case
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user_id"] == created["user_id"]
    assert body["roles"] == ["teller"]
    uuid.UUID(body["session_id"])
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await me(api, headers)).json()["session_id"] == body["session_id"]
    fetched = (
        await api.http.get(f"/auth/users/{created['user_id']}", headers=await api.admin())
    ).json()
    assert fetched["last_login_at"] is not None


@pytest.mark.parametrize("password", ["wrong password for sure", ""])
async def test_login_with_a_wrong_password_is_401(api: Api, password: str) -> None:
    created = (await create_user(api)).json()
    response = await login(api, created["username"], password)
    body = assert_problem(response, 401, "unauthenticated")
    assert body["context"] == {"reason": "bad_credentials"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_login_of_an_unknown_user_is_the_same_401(api: Api) -> None:
    response = await login(api, username())
    body = assert_problem(response, 401, "unauthenticated")
    assert body["context"] == {"reason": "bad_credentials"}


async def test_five_failed_logins_lock_the_user(api: Api) -> None:
    created = (await create_user(api)).json()
    for _ in range(5):
        assert (await login(api, created["username"], "not the password")).status_code == 401
    locked = await login(api, created["username"])
    assert assert_problem(locked, 401, "unauthenticated")["context"] == {"reason": "locked"}
    user = (
        await api.http.get(f"/auth/users/{created['user_id']}", headers=await api.admin())
    ).json()
    assert user["locked_until"] is not None
    # an administrator's password reset lifts the lock
    reset = await api.http.patch(
        f"/auth/users/{created['user_id']}",
        headers=await api.admin(),
        json={"password": "a brand new passphrase"},
    )
    assert reset.status_code == 200
    assert reset.json()["locked_until"] is None
    assert (await login(api, created["username"], "a brand new passphrase")).status_code == 200


async def test_logout_ends_this_session_only(api: Api) -> None:
    created = (await create_user(api, "auditor")).json()
    first = {
        "Authorization": f"Bearer {(await login(api, created['username'])).json()['access_token']}"
    }
    second = {
        "Authorization": f"Bearer {(await login(api, created['username'])).json()['access_token']}"
    }
    response = await api.http.post("/auth/logout", headers=first)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await me(api, first), 401, "unauthenticated")
    assert (await me(api, second)).status_code == 200


async def test_an_api_key_has_no_session_to_log_out(api: Api) -> None:
    secret = (await create_key(api)).json()["key"]
    response = await api.http.post("/auth/logout", headers={"X-API-Key": secret})
    assert_problem(response, 422, "invalid_input")
    assert (await me(api, {"X-API-Key": secret})).status_code == 200


async def test_revoke_sessions_ends_every_session_of_a_user(api: Api) -> None:
    user_id, headers = await api.new_user("auditor")
    created = (await api.http.get(f"/auth/users/{user_id}", headers=await api.admin())).json()
    other = await login(api, created["username"])
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    response = await api.http.post(
        f"/auth/users/{user_id}/revoke-sessions", headers=await api.admin()
    )
    assert response.status_code == 200
    assert response.json() == {"sessions_ended": 2}
    assert_problem(await me(api, headers), 401, "unauthenticated")
    assert_problem(await me(api, other_headers), 401, "unauthenticated")
    missing = await api.http.post(
        f"/auth/users/{uuid.uuid4()}/revoke-sessions", headers=await api.admin()
    )
    assert_problem(missing, 404, "not_found")


# --- who am I -----------------------------------------------------------------------------


async def test_me_for_a_user(api: Api) -> None:
    user_id, headers = await api.new_user("teller", "auditor")
    response = await me(api, headers)
    assert response.status_code == 200
    body = response.json()
    assert body["principal_id"] == user_id
    assert body["kind"] == "user"
    assert body["name"].startswith("user-")
    assert body["roles"] == ["auditor", "teller"]
    assert body["permissions"] == sorted(BUILTIN_ROLES["teller"][0] | BUILTIN_ROLES["auditor"][0])
    assert body["amount_limit"] == "10000.00"  # the most generous of the roles' limits
    uuid.UUID(body["session_id"])


async def test_me_for_the_administrator(api: Api) -> None:
    body = (await me(api, await api.admin())).json()
    assert body["kind"] == "user"
    assert "admin" in body["roles"]
    assert set(body["permissions"]) == ALL_PERMISSIONS
    assert body["amount_limit"] is None


# --- users --------------------------------------------------------------------------------


async def test_create_get_and_list_users(api: Api) -> None:
    name = username()
    response = await api.http.post(
        "/auth/users",
        headers=await api.admin(),
        json={
            "username": f"  {name.upper()} ",
            "password": USER_PASSWORD,
            "full_name": " Grace Hopper ",
            "email": "grace@example.com",
            "roles": ["teller", "auditor", "teller"],
        },
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert set(user) == {
        "user_id",
        "username",
        "full_name",
        "email",
        "status",
        "roles",
        "locked_until",
        "created_at",
        "last_login_at",
    }
    assert user["username"] == name
    assert user["full_name"] == "Grace Hopper"
    assert user["email"] == "grace@example.com"
    assert user["status"] == "active"
    assert user["roles"] == ["auditor", "teller"]
    assert user["locked_until"] is None
    assert user["last_login_at"] is None

    fetched = await api.http.get(
        f"/auth/users/{user['user_id']}", headers=await api.as_role("auditor")
    )
    assert fetched.status_code == 200
    assert fetched.json() == user

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": 50}
        if cursor:
            params["cursor"] = cursor
        page = await api.http.get("/auth/users", headers=await api.admin(), params=params)
        assert page.status_code == 200
        ids = [item["user_id"] for item in page.json()["items"]]
        assert ids == sorted(ids, key=uuid.UUID)
        seen.extend(ids)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert len(seen) == len(set(seen))
    assert user["user_id"] in seen


async def test_users_list_refuses_bad_paging(api: Api) -> None:
    admin = await api.admin()
    for limit in (0, 101):
        response = await api.http.get("/auth/users", headers=admin, params={"limit": limit})
        assert_problem(response, 422, "validation_failed")
        assert field_errors(response) == {"query.limit"}
    for cursor in ("!!!", "Im5vdC1hLXV1aWQi"):  # not base64; base64 of JSON "not-a-uuid"
        response = await api.http.get("/auth/users", headers=admin, params={"cursor": cursor})
        assert_problem(response, 400, "bad_cursor")


async def test_duplicate_username_is_409(api: Api) -> None:
    created = (await create_user(api)).json()
    again = await create_user(api, username=created["username"].upper())
    body = assert_problem(again, 409, "conflict")
    assert body["context"] == {"username": created["username"]}


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"password": "short"}, 422, "weak_password"),
        ({"password": "password123"}, 422, "weak_password"),
        ({"password": "aaaaaaaaaaaa"}, 422, "weak_password"),
        ({"username": "bad name!"}, 422, "invalid_input"),
        ({"username": "ab"}, 422, "validation_failed"),
        ({"roles": ["nonexistent_role"]}, 422, "invalid_input"),
        ({"full_name": ""}, 422, "validation_failed"),
        ({"superuser": True}, 422, "validation_failed"),
    ],
)
async def test_create_user_refusals(
    api: Api, fields: dict[str, Any], status: int, code: str
) -> None:
    response = await create_user(api, **fields)
    assert_problem(response, status, code)


async def test_a_password_must_not_contain_the_username(api: Api) -> None:
    name = username()
    response = await create_user(api, username=name, password=f"my {name} passphrase")
    body = assert_problem(response, 422, "weak_password")
    assert body["context"] == {"field": "password"}


async def test_users_need_their_permissions(api: Api) -> None:
    teller = await api.as_role("teller")
    listed = await api.http.get("/auth/users", headers=teller)
    assert assert_problem(listed, 403, "forbidden")["context"] == {"permission": "users:read"}
    created = await api.http.post(
        "/auth/users",
        headers=await api.as_role("manager"),
        json={"username": username(), "password": USER_PASSWORD, "full_name": "X", "roles": []},
    )
    assert assert_problem(created, 403, "forbidden")["context"] == {"permission": "users:write"}


async def test_get_unknown_user_is_404(api: Api) -> None:
    response = await api.http.get(f"/auth/users/{uuid.uuid4()}", headers=await api.admin())
    assert_problem(response, 404, "not_found")
    patched = await api.http.patch(
        f"/auth/users/{uuid.uuid4()}", headers=await api.admin(), json={"full_name": "X"}
    )
    assert_problem(patched, 404, "not_found")


async def test_patch_details_keeps_sessions(api: Api) -> None:
    user_id, headers = await api.new_user("auditor")
    response = await api.http.patch(
        f"/auth/users/{user_id}",
        headers=await api.admin(),
        json={"full_name": "Renamed User", "email": "renamed@example.com"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Renamed User"
    assert response.json()["email"] == "renamed@example.com"
    assert response.json()["roles"] == ["auditor"]
    assert (await me(api, headers)).status_code == 200


async def test_patch_roles_changes_permissions_and_ends_sessions(api: Api) -> None:
    user_id, headers = await api.new_user("auditor")
    customer = await api.customer()
    refused = await api.http.patch(
        f"/customers/{customer['customer_id']}", headers=headers, json={"given_name": "X"}
    )
    assert_problem(refused, 403, "forbidden")

    response = await api.http.patch(
        f"/auth/users/{user_id}", headers=await api.admin(), json={"roles": ["customer_service"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["customer_service"]
    assert_problem(await me(api, headers), 401, "unauthenticated")

    name = response.json()["username"]
    fresh = {"Authorization": f"Bearer {(await login(api, name)).json()['access_token']}"}
    assert (await me(api, fresh)).json()["roles"] == ["customer_service"]
    allowed = await api.http.patch(
        f"/customers/{customer['customer_id']}", headers=fresh, json={"given_name": "X"}
    )
    assert allowed.status_code == 200

    unknown = await api.http.patch(
        f"/auth/users/{user_id}", headers=await api.admin(), json={"roles": ["no_such_role"]}
    )
    assert_problem(unknown, 422, "invalid_input")
    assert (await me(api, fresh)).json()["roles"] == ["customer_service"]


async def test_patch_password_follows_the_policy_and_ends_sessions(api: Api) -> None:
    user_id, headers = await api.new_user("auditor")
    weak = await api.http.patch(
        f"/auth/users/{user_id}", headers=await api.admin(), json={"password": "qwerty123"}
    )
    assert_problem(weak, 422, "weak_password")
    assert (await me(api, headers)).status_code == 200  # a refused change ends nothing

    changed = await api.http.patch(
        f"/auth/users/{user_id}",
        headers=await api.admin(),
        json={"password": "another long passphrase"},
    )
    assert changed.status_code == 200
    assert "password" not in changed.json()
    assert_problem(await me(api, headers), 401, "unauthenticated")
    name = changed.json()["username"]
    assert (await login(api, name)).status_code == 401
    assert (await login(api, name, "another long passphrase")).status_code == 200


async def test_a_disabled_user_cannot_log_in(api: Api) -> None:
    user_id, headers = await api.new_user("auditor")
    disabled = await api.http.patch(
        f"/auth/users/{user_id}", headers=await api.admin(), json={"status": "disabled"}
    )
    assert disabled.status_code == 200
    assert disabled.json()["status"] == "disabled"
    assert_problem(await me(api, headers), 401, "unauthenticated")
    refused = await login(api, disabled.json()["username"])
    assert assert_problem(refused, 401, "unauthenticated")["context"] == {"reason": "disabled"}

    enabled = await api.http.patch(
        f"/auth/users/{user_id}", headers=await api.admin(), json={"status": "active"}
    )
    assert enabled.json()["status"] == "active"
    assert (await login(api, disabled.json()["username"])).status_code == 200


# --- roles --------------------------------------------------------------------------------


async def test_roles_list_has_the_six_builtin_roles(api: Api) -> None:
    response = await api.http.get("/auth/roles", headers=await api.as_role("auditor"))
    assert response.status_code == 200
    roles = {role["name"]: role for role in response.json()}
    for name, (permissions, limit) in BUILTIN_ROLES.items():
        role = roles[name]
        assert role["builtin"] is True, name
        assert role["permissions"] == sorted(permissions), name
        assert role["amount_limit"] == limit, name
        assert role["description"]
    assert {name for name, role in roles.items() if role["builtin"]} == set(BUILTIN_ROLES)


async def test_custom_role_create_replace_use_and_delete(api: Api) -> None:
    name = role_name()
    url = f"/auth/roles/{name}"
    created = await api.http.put(
        url,
        headers=await api.admin(),
        json={
            "description": "reads customers, deposits a little",
            "permissions": ["transactions:deposit", "customers:read", "accounts:read"],
            "amount_limit": "25.5",
        },
    )
    assert created.status_code == 200, created.text
    assert created.json() == {
        "name": name,
        "description": "reads customers, deposits a little",
        "permissions": ["accounts:read", "customers:read", "transactions:deposit"],
        "amount_limit": "25.5",
        "builtin": False,
    }
    listed = (await api.http.get("/auth/roles", headers=await api.admin())).json()
    assert created.json() in listed

    user_id, headers = await api.new_user(name)
    account = await api.account()
    over = await api.http.post(
        "/transactions/deposit",
        headers={**headers, "Idempotency-Key": key()},
        json={"account_id": account["account_id"], "amount": money("25.51")},
    )
    assert assert_problem(over, 403, "amount_above_role_limit")["context"] == {"limit": "25.50"}
    within = await api.http.post(
        "/transactions/deposit",
        headers={**headers, "Idempotency-Key": key()},
        json={"account_id": account["account_id"], "amount": money("25.50")},
    )
    assert within.status_code == 201
    assert_problem(
        await api.http.post(
            "/customers", headers=headers, json={"given_name": "A", "family_name": "B"}
        ),
        403,
        "forbidden",
    )

    replaced = await api.http.put(
        url,
        headers=await api.admin(),
        json={"description": "now customers only", "permissions": ["customers:read"]},
    )
    assert replaced.status_code == 200
    assert replaced.json()["permissions"] == ["customers:read"]
    assert replaced.json()["amount_limit"] is None

    in_use = await api.http.delete(url, headers=await api.admin())
    assert_problem(in_use, 409, "conflict")
    await api.http.patch(
        f"/auth/users/{user_id}", headers=await api.admin(), json={"roles": ["auditor"]}
    )
    deleted = await api.http.delete(url, headers=await api.admin())
    assert deleted.status_code == 204
    assert deleted.content == b""
    names = {
        role["name"]
        for role in (await api.http.get("/auth/roles", headers=await api.admin())).json()
    }
    assert name not in names
    assert_problem(await api.http.delete(url, headers=await api.admin()), 404, "not_found")


@pytest.mark.parametrize("builtin", sorted(BUILTIN_ROLES))
async def test_builtin_roles_cannot_be_changed_or_deleted(api: Api, builtin: str) -> None:
    put = await api.http.put(
        f"/auth/roles/{builtin}",
        headers=await api.admin(),
        json={"description": "everything", "permissions": sorted(ALL_PERMISSIONS)},
    )
    assert assert_problem(put, 403, "forbidden")["context"] == {"role": builtin}
    deleted = await api.http.delete(f"/auth/roles/{builtin}", headers=await api.admin())
    assert_problem(deleted, 403, "forbidden")
    roles = {
        r["name"]: r for r in (await api.http.get("/auth/roles", headers=await api.admin())).json()
    }
    assert roles[builtin]["permissions"] == sorted(BUILTIN_ROLES[builtin][0])


@pytest.mark.parametrize(
    ("name", "body", "code", "field"),
    [
        ("Bad-Name", {"description": "x", "permissions": []}, "invalid_input", None),
        (
            "ok_name",
            {"description": "x", "permissions": ["money:print"]},
            "validation_failed",
            "body.permissions.0",
        ),
        (
            "ok_name",
            {"description": "x", "permissions": [], "amount_limit": "-1"},
            "validation_failed",
            "body.amount_limit",
        ),
        (
            "ok_name",
            {"description": "x", "permissions": [], "amount_limit": 5},
            "validation_failed",
            "body.amount_limit",
        ),
        (
            "ok_name",
            {"description": "", "permissions": []},
            "validation_failed",
            "body.description",
        ),
    ],
)
async def test_role_refusals(
    api: Api, name: str, body: dict[str, Any], code: str, field: str | None
) -> None:
    response = await api.http.put(f"/auth/roles/{name}", headers=await api.admin(), json=body)
    assert_problem(response, 422, code)
    if field is not None:
        assert field_errors(response) == {field}


async def test_roles_need_their_permissions(api: Api) -> None:
    listed = await api.http.get("/auth/roles", headers=await api.as_role("teller"))
    assert assert_problem(listed, 403, "forbidden")["context"] == {"permission": "roles:read"}
    saved = await api.http.put(
        f"/auth/roles/{role_name()}",
        headers=await api.as_role("manager"),
        json={"description": "x", "permissions": []},
    )
    assert assert_problem(saved, 403, "forbidden")["context"] == {"permission": "roles:write"}


# --- API keys -----------------------------------------------------------------------------


async def create_key(
    api: Api, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    body = {"name": f"key {uuid.uuid4().hex[:8]}", "permissions": ["customers:read"], **fields}
    return await api.http.post("/auth/api-keys", headers=headers or await api.admin(), json=body)


async def test_api_key_create_list_use_and_revoke(api: Api) -> None:
    admin_id = (await me(api, await api.admin())).json()["principal_id"]
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    response = await create_key(
        api,
        permissions=["customers:read", "accounts:read"],
        amount_limit="100.00",
        expires_at=expires.isoformat(),
    )
    assert response.status_code == 201, response.text
    issued = response.json()
    secret = issued["key"]
    assert secret.startswith("nxk_")
    assert issued["permissions"] == ["accounts:read", "customers:read"]
    assert issued["amount_limit"] == "100.00"
    assert issued["created_by"] == admin_id
    assert datetime.fromisoformat(issued["expires_at"]) == expires
    assert issued["revoked_at"] is None
    assert issued["last_used_at"] is None

    listed = await api.http.get("/auth/api-keys", headers=await api.admin())
    assert listed.status_code == 200
    assert secret not in listed.text
    assert secret.removeprefix("nxk_") not in listed.text
    (entry,) = [k for k in listed.json() if k["api_key_id"] == issued["api_key_id"]]
    assert "key" not in entry
    assert entry == {name: value for name, value in issued.items() if name != "key"}

    as_key = await me(api, {"X-API-Key": secret})
    assert as_key.status_code == 200, as_key.text
    assert as_key.json() == {
        "principal_id": issued["api_key_id"],
        "kind": "api_key",
        "name": issued["name"],
        "roles": [],
        "permissions": ["accounts:read", "customers:read"],
        "amount_limit": "100.00",
        "session_id": None,
    }
    as_bearer = await me(api, {"Authorization": f"Bearer {secret}"})
    assert as_bearer.status_code == 200
    customer = await api.customer()
    read = await api.http.get(
        f"/customers/{customer['customer_id']}", headers={"X-API-Key": secret}
    )
    assert read.status_code == 200
    write = await api.http.post(
        "/customers", headers={"X-API-Key": secret}, json={"given_name": "A", "family_name": "B"}
    )
    assert_problem(write, 403, "forbidden")

    revoked = await api.http.post(
        f"/auth/api-keys/{issued['api_key_id']}/revoke", headers=await api.admin()
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert "key" not in revoked.json()
    assert_problem(await me(api, {"X-API-Key": secret}), 401, "unauthenticated")


async def test_api_key_moves_at_most_its_amount_limit(api: Api) -> None:
    secret = (
        await create_key(api, permissions=["transactions:deposit"], amount_limit="50")
    ).json()["key"]
    account = await api.account()
    headers = {"X-API-Key": secret, "Idempotency-Key": key()}
    over = await api.http.post(
        "/transactions/deposit",
        headers=headers,
        json={"account_id": account["account_id"], "amount": money("50.01")},
    )
    assert_problem(over, 403, "amount_above_role_limit")
    within = await api.http.post(
        "/transactions/deposit",
        headers=headers,
        json={"account_id": account["account_id"], "amount": money("50.00")},
    )
    assert within.status_code == 201, within.text
    assert (await api.balances(account["account_id"]))["posted"] == "50.00"


async def test_api_key_refusals(api: Api) -> None:
    naive = await create_key(api, expires_at="2099-01-01T00:00:00")
    assert_problem(naive, 422, "validation_failed")
    assert field_errors(naive) == {"body.expires_at"}
    past = await create_key(api, expires_at="2000-01-01T00:00:00Z")
    assert assert_problem(past, 422, "invalid_input")["context"] == {"field": "expires_at"}
    none = await create_key(api, permissions=[])
    assert_problem(none, 422, "validation_failed")
    assert field_errors(none) == {"body.permissions"}
    unknown = await api.http.post(
        f"/auth/api-keys/{uuid.uuid4()}/revoke", headers=await api.admin()
    )
    assert_problem(unknown, 404, "not_found")


async def test_api_keys_need_api_keys_manage_and_no_more_than_the_creator_has(api: Api) -> None:
    manager = await create_key(api, await api.as_role("manager"))
    assert assert_problem(manager, 403, "forbidden")["context"] == {"permission": "api_keys:manage"}
    listed = await api.http.get("/auth/api-keys", headers=await api.as_role("manager"))
    assert_problem(listed, 403, "forbidden")

    role = role_name()
    await api.http.put(
        f"/auth/roles/{role}",
        headers=await api.admin(),
        json={"description": "key maker", "permissions": ["api_keys:manage", "customers:read"]},
    )
    _, headers = await api.new_user(role)
    allowed = await create_key(api, headers, permissions=["customers:read"])
    assert allowed.status_code == 201, allowed.text
    beyond = await create_key(api, headers, permissions=["customers:read", "accounts:read"])
    body = assert_problem(beyond, 403, "forbidden")
    assert body["context"] == {"permissions": ["accounts:read"]}
    # a key cannot make keys, even with api_keys:manage
    key_maker = (await create_key(api, permissions=["api_keys:manage"])).json()["key"]
    by_key = await create_key(api, {"X-API-Key": key_maker}, permissions=["api_keys:manage"])
    assert_problem(by_key, 403, "forbidden")
