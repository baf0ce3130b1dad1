"""Authentication and permissions for every route.

A request authenticates with ``Authorization: Bearer <access token>`` (a user's session) or
with an API key (``X-API-Key: nxk_…``, or as the bearer token). Every route that is not in
PUBLIC_PATHS declares exactly one ``Requires(permission)`` dependency — or
``Requires(AUTHENTICATED)`` for the few that any signed-in principal may call (who am I,
log out). tests/test_security.py walks every route of the application to prove it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from core_banking.api.rate_limits import Budget, RateLimiter
from core_banking.api.routes import route_contexts
from core_banking.bootstrap import Nexum
from core_banking.domain.commands import RequestContext
from core_banking.domain.security import Permission, Principal, Unauthenticated
from core_banking.observability.logging import bind_request

PUBLIC_PATHS: Final = frozenset(
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
        "/metrics",  # open to NEXUM_METRICS_ALLOWED_NETWORKS only; elsewhere metrics:read
    }
)

AUTHENTICATED: Final = "authenticated"
"""The requirement of routes any signed-in principal may call."""

MONEY_PERMISSIONS: Final = frozenset(
    {
        Permission.TRANSACTIONS_DEPOSIT,
        Permission.TRANSACTIONS_WITHDRAW,
        Permission.TRANSACTIONS_TRANSFER,
        Permission.TRANSACTIONS_REVERSE,
        Permission.TRANSACTIONS_BATCH,
        Permission.HOLDS_WRITE,
    }
)

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /auth/login")
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A machine client's API key (nxk_…)"
)


def bank_of(request: Request) -> Nexum:
    bank: Nexum = request.app.state.bank
    return bank


def limiter_of(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def client_of(request: Request) -> str:
    address: str | None = getattr(request.state, "client_address", None)
    return address or "unknown"


async def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    bank, limiter = bank_of(request), limiter_of(request)
    token = bearer.credentials if bearer is not None else None
    try:
        if api_key is not None:
            principal = await bank.auth.principal_for_api_key(api_key)
        elif token is not None and token.startswith("nxk_"):
            principal = await bank.auth.principal_for_api_key(token)
        elif token is not None:
            principal = await bank.auth.principal_for_token(token)
        else:
            raise Unauthenticated("authentication required: a bearer token or an API key")
    except Unauthenticated:
        await limiter.spend(Budget.GLOBAL, f"address:{client_of(request)}")
        raise
    await limiter.spend(Budget.GLOBAL, principal.actor)
    request.state.principal = principal
    bind_request(user_id=principal.actor)
    return principal


class Requires:
    """The dependency a route declares: the principal, having ``permission``."""

    def __init__(self, permission: Permission | str) -> None:
        self.permission = permission

    async def __call__(
        self, request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if isinstance(self.permission, Permission):
            principal.require(self.permission)
            if self.permission in MONEY_PERMISSIONS:
                await limiter_of(request).spend(Budget.TRANSACTIONS, principal.actor)
        return principal

    def __repr__(self) -> str:
        return f"Requires({self.permission})"


def context_of(request: Request, principal: Principal | None = None) -> RequestContext:
    """Who is acting, from where, under which request id: what the services record."""
    return RequestContext(
        actor=principal.actor if principal is not None else f"anonymous:{client_of(request)}",
        request_id=getattr(request.state, "request_id", None),
        client_address=getattr(request.state, "client_address", None),
    )


async def limit_auth_attempts(request: Request) -> None:
    """Login and set-up attempts per client address (NEXUM_RATE_LIMIT_AUTH)."""
    await limiter_of(request).spend(Budget.AUTH, client_of(request))


async def _bank(request: Request) -> Nexum:
    """``bank_of`` as a dependency. It is a coroutine because FastAPI runs a plain function
    dependency in a worker thread: a thread hop on every request, for one attribute read."""
    return bank_of(request)


BankDep = Annotated[Nexum, Depends(_bank)]


def requirement_of(route: APIRoute) -> Requires | None:
    """The Requires dependency a route declares, wherever it sits in its dependencies."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Requires):
            return dependency.call
        pending.extend(dependency.dependencies)
    return None


def api_routes(app: FastAPI) -> Iterator[tuple[str, frozenset[str], APIRoute]]:
    """Every API route of the application as (full path, methods, route), through
    included routers (FastAPI 0.16x keeps them nested)."""
    for context in route_contexts(app.routes):
        route = getattr(context, "original_route", context)
        if isinstance(route, APIRoute):
            path = getattr(context, "path_format", None) or route.path_format
            yield path, frozenset(route.methods or ()), route


def document_permissions(app: FastAPI) -> None:
    """Put each route's permission in the OpenAPI document as ``x-permission``."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_schema()
            for path, methods, route in api_routes(app):
                requirement = requirement_of(route)
                if requirement is None:
                    continue
                for method in methods:
                    operation = schema["paths"][path][method.lower()]
                    operation["x-permission"] = str(requirement.permission)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
