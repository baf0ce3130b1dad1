"""Health probes: liveness (the process answers) and readiness (the database answers and
its schema is current). Public by design: load balancers and orchestrators call them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from core_banking import __version__
from core_banking.bootstrap import Nexum, migration_manager

router = APIRouter(tags=["health"])


@router.get("/health/live", operation_id="health_live", summary="The process is alive")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/health",
    operation_id="health",
    summary="Overall health with a database check",
    responses={503: {"description": "The database is unreachable"}},
)
async def health(request: Request) -> JSONResponse:
    bank: Nexum = request.app.state.bank
    database: dict[str, Any]
    try:
        database = {"status": "healthy", "response_time_ms": round(await bank.storage.ping(), 2)}
    except Exception as exc:  # any failure to reach the database is "unhealthy", not a 500
        database = {"status": "unhealthy", "error": type(exc).__name__}
    healthy = database["status"] == "healthy"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "components": {"database": database},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get(
    "/health/ready",
    operation_id="health_ready",
    summary="Ready for traffic: database reachable and migrations current",
    responses={503: {"description": "Not ready"}},
)
async def ready(request: Request) -> JSONResponse:
    bank: Nexum = request.app.state.bank
    try:
        status = await migration_manager(bank.config, bank.storage).status_async()
    except Exception as exc:  # unreachable database: not ready, and say why
        return JSONResponse({"status": "not_ready", "reason": type(exc).__name__}, 503)
    if not status.is_current:
        return JSONResponse(
            {"status": "not_ready", "reason": "migrations pending", "pending": status.pending},
            503,
        )
    return JSONResponse({"status": "ready", "schema": status.current})
