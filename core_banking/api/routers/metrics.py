"""/metrics: Prometheus's view of Nexum.

Readable without credentials from NEXUM_METRICS_ALLOWED_NETWORKS (loopback by default, so
``curl http://localhost:8090/metrics`` works on the host, as the deployment guide shows);
from anywhere else it takes a principal with ``metrics:read`` (give Prometheus an API key).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from core_banking.api.problems import responses
from core_banking.api.security import bank_of, client_of, current_principal
from core_banking.domain.security import Permission
from core_banking.observability.metrics import exposition

router = APIRouter(tags=["health"])

_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def _from_allowed_network(request: Request) -> bool:
    """The client's address is in the allowed networks. A request that a proxy forwarded
    (it carries X-Forwarded-For) counts as local only when the proxy is trusted and the
    client it names is itself allowed: a reverse proxy on the same host must not make
    every client look like 127.0.0.1."""
    peer = request.client.host if request.client else None
    forwarded = "x-forwarded-for" in request.headers or "x-real-ip" in request.headers
    if forwarded and client_of(request) == peer:
        return False
    try:
        address = ipaddress.ip_address(client_of(request))
    except ValueError:
        return False
    networks = bank_of(request).config.metrics_allowed_networks
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics (from the allowed networks, or with metrics:read)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **responses(401, 403, 429),
    },
)
async def metrics(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Response:
    if not _from_allowed_network(request):
        principal = await current_principal(request, bearer, api_key)
        principal.require(Permission.METRICS_READ)
    body, content_type = exposition()
    return Response(body, media_type=content_type)
