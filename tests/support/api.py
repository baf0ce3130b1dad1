"""Talking to the HTTP API in tests: an in-process app, a real server, or a deployed one
(``--base-url``), through the same small client."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

ADMIN_USERNAME = os.environ.get("NEXUM_TEST_ADMIN_USERNAME", "admin")
ADMIN_PASSWORD = os.environ.get("NEXUM_TEST_ADMIN_PASSWORD", "correct horse battery staple")
USER_PASSWORD = "a long passphrase for tests"
ROLES = ("admin", "manager", "teller", "loan_officer", "auditor", "customer_service")


def key() -> str:
    return f"http-{uuid.uuid4().hex}"


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


@dataclass
class Api:
    """An httpx client plus the few steps every API test repeats."""

    http: httpx.AsyncClient
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)
    """Shared by every test against the same server: don't log these users out."""

    async def admin(self) -> dict[str, str]:
        """Headers of the first administrator, set up on first use."""
        if "admin" not in self._headers:
            await self.http.post(
                "/auth/setup",
                json={
                    "username": ADMIN_USERNAME,
                    "password": ADMIN_PASSWORD,
                    "full_name": "Test Administrator",
                },
            )
            self._headers["admin"] = await self.login(ADMIN_USERNAME, ADMIN_PASSWORD)
        return self._headers["admin"]

    async def login(self, username: str, password: str) -> dict[str, str]:
        response = await self.http.post(
            "/auth/login", json={"username": username, "password": password}
        )
        if response.status_code != 200:
            raise AssertionError(f"login of {username} failed: {response.text}")
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def new_user(self, *roles: str) -> tuple[str, dict[str, str]]:
        """A fresh user with these roles, logged in: (user id, headers)."""
        username = f"user-{uuid.uuid4().hex[:12]}"
        response = await self.http.post(
            "/auth/users",
            headers=await self.admin(),
            json={
                "username": username,
                "password": USER_PASSWORD,
                "full_name": "Test User",
                "roles": list(roles),
            },
        )
        if response.status_code != 201:
            raise AssertionError(f"creating {username} failed: {response.text}")
        return response.json()["user_id"], await self.login(username, USER_PASSWORD)

    async def as_role(self, role: str) -> dict[str, str]:
        """Headers of a user holding exactly ``role`` (one user per role per client)."""
        if role not in self._headers:
            self._headers[role] = (await self.new_user(role))[1]
        return self._headers[role]

    async def customer(
        self, headers: dict[str, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {"given_name": "Ada", "family_name": "Lovelace", **fields}
        response = await self.http.post(
            "/customers", headers=headers or await self.admin(), json=body
        )
        if response.status_code != 201:
            raise AssertionError(response.text)
        result: dict[str, Any] = response.json()
        return result

    async def account(
        self,
        customer_id: str | None = None,
        currency: str = "USD",
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        customer_id = customer_id or (await self.customer())["customer_id"]
        response = await self.http.post(
            "/accounts",
            headers=headers or await self.admin(),
            json={
                "customer_id": customer_id,
                "product_type": "checking",
                "currency": currency,
                "name": "Test account",
                **fields,
            },
        )
        if response.status_code != 201:
            raise AssertionError(response.text)
        result: dict[str, Any] = response.json()
        return result

    async def deposit(
        self,
        account_id: str,
        amount: str,
        currency: str = "USD",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/transactions/deposit",
            headers={**(headers or await self.admin()), "Idempotency-Key": key()},
            json={"account_id": account_id, "amount": money(amount, currency)},
        )
        if response.status_code != 201:
            raise AssertionError(response.text)
        result: dict[str, Any] = response.json()
        return result

    async def funded_account(self, amount: str = "1000.00", **fields: Any) -> dict[str, Any]:
        account = await self.account(**fields)
        await self.deposit(account["account_id"], amount, account["currency"])
        return account

    async def balances(self, account_id: str) -> dict[str, str]:
        response = await self.http.get(f"/accounts/{account_id}", headers=await self.admin())
        return {name: value["amount"] for name, value in response.json()["balances"].items()}
