"""Helpers of the security tests: walking the application's routes, forging tokens by hand,
running an application of a test's own, reading what the database really holds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Table, select

from core_banking.api import create_app
from core_banking.api.routes import route_contexts
from core_banking.api.security import Requires
from core_banking.config import Settings
from core_banking.ports import Clock
from support.api import Api

# --------------------------------------------------------------------------- the route walk


@dataclass(frozen=True)
class WalkedRoute:
    path: str
    methods: frozenset[str]
    is_api_route: bool
    requirements: tuple[Requires, ...]  # every Requires found in its dependency tree

    @property
    def requirement(self) -> Requires:
        (only,) = self.requirements
        return only


def requirements_in(dependant: Dependant) -> list[Requires]:
    """Every ``Requires`` instance among the dependencies of ``dependant``, at any depth."""
    found: list[Requires] = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, Requires):
            found.append(sub.call)
        found += requirements_in(sub)
    return found


def walk(app: FastAPI) -> list[WalkedRoute]:
    """Every route the application serves, with included routers looked into."""
    walked = []
    for route in route_contexts(app.routes):
        original = getattr(route, "original_route", route)
        is_api = isinstance(original, APIRoute)
        walked.append(
            WalkedRoute(
                path=getattr(route, "path_format", route.path),  # as documented
                methods=frozenset(route.methods or ()),
                is_api_route=is_api,
                requirements=tuple(requirements_in(route.dependant)) if is_api else (),
            )
        )
    return walked


def sample_path(template: str) -> str:
    """A syntactically valid path for a route template: ids are random UUIDs, names a
    role name."""
    parts = []
    for part in template.split("/"):
        if part.startswith("{") and part.endswith("}"):
            part = "probe" if part == "{name}" else str(uuid.uuid4())
        parts.append(part)
    return "/".join(parts)


async def call(
    http: httpx.AsyncClient, method: str, template: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """The route called with valid path parameters, a minimal JSON body where it takes one,
    and an Idempotency-Key."""
    body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
    return await http.request(
        method,
        sample_path(template),
        headers={**(headers or {}), "Idempotency-Key": f"walk-{uuid.uuid4().hex}"},
        json=body,
    )


# --------------------------------------------------------------------------- tokens


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unpadded_b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def signed_token(claims: dict[str, Any], secret: str, algorithm: str = "HS256") -> str:
    """A JWT signed by hand (HMAC), so that any algorithm and any key can be used."""
    signing_input = f"{b64url_json({'alg': algorithm, 'typ': 'JWT'})}.{b64url_json(claims)}"
    digest = hmac.new(secret.encode(), signing_input.encode(), _HASHES[algorithm]).digest()
    return f"{signing_input}.{b64url(digest)}"


def unsigned_token(claims: dict[str, Any]) -> str:
    """``alg: none``: a header, the claims and an empty signature."""
    return f"{b64url_json({'alg': 'none', 'typ': 'JWT'})}.{b64url_json(claims)}."


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified."""
    claims: dict[str, Any] = json.loads(unpadded_b64decode(token.split(".")[1]))
    return claims


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- own applications


def client_for(app: FastAPI, address: str = "127.0.0.1", port: int = 50000) -> httpx.AsyncClient:
    """An in-process client whose connections come from ``address``."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, port)),
        base_url="http://nexum",
    )


@asynccontextmanager
async def serving(settings: Settings, clock: Clock | None = None) -> AsyncIterator[FastAPI]:
    """A started application of its own (migrating its database on start-up)."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def own_api(
    settings: Settings, clock: Clock | None = None, address: str = "127.0.0.1"
) -> AsyncIterator[tuple[FastAPI, Api]]:
    """A started application of its own and an Api talking to it from ``address``."""
    async with serving(settings, clock) as app, client_for(app, address) as client:
        yield app, Api(client)


# --------------------------------------------------------------------------- the database


async def raw_rows(app: FastAPI, table: Table, *where: Any) -> list[dict[str, Any]]:
    """Rows exactly as stored, bypassing every repository (and so every decryption)."""
    async with app.state.bank.storage.engine.connect() as conn:
        result = await conn.execute(select(table).where(*where))
        return [dict(row) for row in result.mappings()]


def plaintext_found(rows: Iterable[dict[str, Any]], secrets: Iterable[str]) -> list[str]:
    """``table.column: secret`` for every stored value that contains one of ``secrets``,
    compared without case."""
    needles = [secret.casefold() for secret in secrets]
    found = []
    for row in rows:
        for column, value in row.items():
            if value is None:
                continue
            if isinstance(value, memoryview):
                value = bytes(value)
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            folded = text.casefold()
            found += [f"{column}: {needle}" for needle in needles if needle in folded]
    return found
