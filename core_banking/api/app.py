"""The FastAPI application: configured at construction, wired to the bank at start-up.

Start-up builds the bank (``core_banking.bootstrap.build``) and, with NEXUM_AUTO_MIGRATE on,
first brings the schema up to date. Around every request, from the outside in: the request
id and client address, CORS, the body size limit, the deadline. Every route but the public
ones (core_banking.api.security.PUBLIC_PATHS) needs authentication and one named permission.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.middleware import Middleware
from fastapi.middleware.cors import CORSMiddleware

from core_banking import __version__
from core_banking.api import problems
from core_banking.api.health import router as health_router
from core_banking.api.middleware import BodyLimit, Deadline, RequestContext
from core_banking.api.observe import Observe
from core_banking.api.rate_limits import RateLimiter
from core_banking.api.routers import (
    accounts,
    audit,
    auth,
    close_of_business,
    credit_lines,
    customers,
    loans,
    metrics,
    products,
    term_deposits,
    transactions,
)
from core_banking.api.security import document_permissions
from core_banking.bootstrap import build, migration_manager
from core_banking.config import Settings, get_config
from core_banking.observability.logging import configure_logging
from core_banking.observability.metrics import PrometheusTelemetry
from core_banking.observability.monitors import watch_ledger, watch_pool, watch_replicas
from core_banking.ports import Clock

if TYPE_CHECKING:
    from core_banking.observability.tracing import Tracing

DESCRIPTION = """\
Customers, deposit accounts, a double-entry ledger, payments and holds.

**Money** is always `{"amount": "100.00", "currency": "USD"}`: the amount a decimal string
with no more decimals than the currency has, never a number.

**Authentication**: `POST /auth/login` gives an access token for
`Authorization: Bearer …`; machine clients use an API key (`X-API-Key: nxk_…`). Every route
says which permission it needs.

**Idempotency**: every money-moving POST needs an `Idempotency-Key` header; a retry with the
same key returns the first response.

**Errors** are RFC 9457 problem details with a stable `code`.
"""

OPENAPI_TAGS = [
    {"name": "authentication", "description": "Set-up, login, users, roles, API keys."},
    {"name": "customers", "description": "Customers and their KYC."},
    {"name": "accounts", "description": "Deposit accounts, statements, status, holds."},
    {"name": "products", "description": "The product catalogue: versions and their life cycle."},
    {
        "name": "loans",
        "description": "Term loans: application, approval, disbursement, repayment, write-off.",
    },
    {"name": "credit lines", "description": "Revolving credit: draws, payments, statements."},
    {"name": "transactions", "description": "Moving money and reading the journal."},
    {"name": "audit", "description": "The hash-chained audit trail."},
    {
        "name": "close of business",
        "description": "Closing business dates: the day's work, once per date, in order.",
    },
    {"name": "health", "description": "Public probes."},
]


def redis_client(settings: Settings) -> Any:
    """A Redis client for health checks when NEXUM_REDIS_URL is set (the rate limiter
    keeps its own connection)."""
    if settings.redis_url is None:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(
        settings.redis_url,
        max_connections=settings.connection_pool_size,
        socket_timeout=2,
        socket_connect_timeout=2,
    )


RELAY_STOP_SECONDS = 15.0
"""How long shutdown waits for the event relay's last cycle (its sends are bounded at 10 s)."""


def create_app(config: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The application for ``config`` (``get_config()`` by default); ``clock`` lets tests
    move time."""
    settings = config or get_config()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bank = build(settings, clock=clock, telemetry=PrometheusTelemetry())
        if tracing is not None:
            tracing.trace_databases(
                db.engine for db in (bank.router.primary, *bank.router.replicas)
            )
        if settings.auto_migrate:
            await migration_manager(settings, bank.storage).migrate_up_async()
        app.state.bank = bank
        app.state.rate_limiter = RateLimiter(settings)
        app.state.redis = redis_client(settings)
        app.state.kafka_probe = bank.events
        watchers = [
            asyncio.create_task(watch_pool(bank.storage)),
            asyncio.create_task(watch_ledger(bank.storage)),
            asyncio.create_task(watch_replicas(bank.router)),
        ]
        stop_relaying = asyncio.Event()
        relaying = asyncio.create_task(bank.events.run(stop_relaying)) if bank.events else None
        try:
            yield
        finally:
            stop_relaying.set()
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            if relaying is not None:  # let a cycle finish and hand the lease over
                finished, _ = await asyncio.wait({relaying}, timeout=RELAY_STOP_SECONDS)
                if not finished:
                    relaying.cancel()
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await app.state.rate_limiter.aclose()
            await bank.aclose()
            if tracing is not None:
                tracing.shutdown()

    origins = list(settings.cors_origins)
    app = FastAPI(
        title="Nexum Core Banking API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestContext, trusted_proxies=settings.trusted_proxies),
            Middleware(Observe),
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_credentials="*" not in origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "Idempotency-Key",
                    "X-API-Key",
                    "X-Request-ID",
                ],
                expose_headers=["X-Request-ID", "Idempotent-Replayed", "Retry-After"],
            ),
            Middleware(BodyLimit, max_bytes=settings.api_max_request_size),
            Middleware(Deadline, seconds=settings.api_timeout),
        ],
    )
    tracing: Tracing | None = None
    if settings.enable_tracing:  # the OpenTelemetry SDK is loaded only when tracing is on
        from core_banking.observability.tracing import Tracing

        tracing = Tracing.start(app, settings)
    app.state.tracing = tracing
    problems.install(app)
    app.include_router(health_router)
    # FastAPI matches a request against the routes in the order they were included, so the
    # busiest resources come first: a transfer was matched after every other resource's
    # routes, a fifth of the Python calls of a whole transfer request (docs/benchmarks.md).
    for resource in (
        transactions,
        accounts,
        auth,
        customers,
        products,
        loans,
        credit_lines,
        term_deposits,
        audit,
        close_of_business,
        metrics,
    ):
        app.include_router(resource.router)
    document_permissions(app)
    return app
