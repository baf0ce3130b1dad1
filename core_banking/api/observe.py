"""Every request measured and logged: one log line and two metrics per request.

The endpoint label is the route's template (``/accounts/{account_id}``), never the raw
path, so the number of series stays bounded; requests that match no route are "unmatched".
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core_banking.observability.logging import bind_request, clear_request, get_logger
from core_banking.observability.metrics import REQUEST_DURATION, REQUESTS, labelled

logger = get_logger("core_banking.api")
_QUIET = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})


def endpoint_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        clear_request()
        bind_request(request_id=scope.get("state", {}).get("request_id"))

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            elapsed = time.perf_counter() - started
            endpoint = endpoint_of(scope)
            method = scope["method"]
            labelled(REQUESTS, method, endpoint).inc()
            labelled(REQUEST_DURATION, method, endpoint).observe(elapsed)
            if endpoint not in _QUIET:
                logger.info(
                    "request completed",
                    method=method,
                    endpoint=endpoint,
                    status=status,
                    processing_time_ms=round(elapsed * 1000, 2),
                )
            clear_request()
