"""The FastAPI application: built from configuration at start-up, torn down at shutdown.

Start-up wires the bank (``core_banking.bootstrap.build``) and, when NEXUM_AUTO_MIGRATE is
on, brings the schema up to date first. The resources grow route by route; until a route
declares its permission it does not exist, and the only routes without authentication are
the public ones (health probes and the API documentation).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core_banking import __version__
from core_banking.api.health import router as health_router
from core_banking.bootstrap import build, migration_manager
from core_banking.config import Settings, get_config


def create_app(config: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = config or get_config()
        bank = build(settings)
        if settings.auto_migrate:
            await migration_manager(settings, bank.storage).migrate_up_async()
        app.state.bank = bank
        try:
            yield
        finally:
            await bank.aclose()

    app = FastAPI(
        title="Nexum Core Banking API",
        version=__version__,
        description="Customers, deposit accounts, a double-entry ledger, payments and holds.",
        lifespan=lifespan,
    )
    app.include_router(health_router)
    return app
