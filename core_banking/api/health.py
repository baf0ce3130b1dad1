"""Health probes: liveness (the process answers) and readiness (the database answers and
its schema is current). Public by design: load balancers and orchestrators call them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from core_banking.bootstrap import Nexum, migration_manager
from core_banking.observability.health import UNHEALTHY, health_report

router = APIRouter(tags=["health"])


@router.get("/health/live", operation_id="health_live", summary="The process is alive")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/health",
    operation_id="health",
    summary="Health of Nexum and each dependency: healthy, degraded or unhealthy",
    responses={503: {"description": "Unhealthy: the database is unreachable"}},
)
async def health(request: Request) -> JSONResponse:
    bank: Nexum = request.app.state.bank
    report = await health_report(
        bank.storage,
        bank.config,
        request.app.state.redis,
        request.app.state.kafka_probe,
        replicas=bank.router,
    )
    return JSONResponse(report, status_code=503 if report["status"] == UNHEALTHY else 200)


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
