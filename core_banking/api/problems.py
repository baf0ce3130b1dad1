"""Errors as RFC 9457 problem details (``application/problem+json``), with a stable
``code`` that clients match on.

Every refusal the domain can raise maps to one status here; validation errors list the
fields at fault; anything unexpected is a 500 that says only that, with the request id to
quote — never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from core_banking.api.routes import route_contexts
from core_banking.domain import errors
from core_banking.domain.security import Forbidden, Unauthenticated
from core_banking.observability.metrics import ERRORS
from core_banking.storage.errors import DatabaseUnavailable, connection_lost

PROBLEM_TYPE_BASE = "https://nexum.dev/problems/"
MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("core_banking.api")


class FieldError(BaseModel):
    field: str = Field(description="Where in the request: body.amount.currency, query.limit, …")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus Nexum's stable ``code``."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable reason, e.g. insufficient_funds.")
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = None
    errors: list[FieldError] | None = None
    context: dict[str, Any] | None = Field(None, description="Ids and limits involved.")


class ProblemError(Exception):
    """Raised by the HTTP layer itself (idempotency, limits, timeouts). ``extensions`` are
    members of the problem beside the standard ones (RFC 9457, section 3.2)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
        self.extensions = extensions
        self.context = context


_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def status_of(error: errors.DomainError) -> int:
    """The HTTP status a domain refusal deserves."""
    if isinstance(error, Unauthenticated):
        return 401
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, errors.NotFound):
        return 404
    if isinstance(error, errors.IdempotencyKeyReused):
        return 422
    if isinstance(error, errors.Conflict):
        return 409
    if isinstance(error, errors.Unavailable):
        return 503
    return 422  # invalid input and the bank's rules


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    field_errors: list[FieldError] | None = None,
    context: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    ERRORS.labels(type=code).inc()
    problem = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=field_errors,
        context=context or None,
    )
    return JSONResponse(
        {**(extensions or {}), **problem.model_dump(exclude_none=True)},
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _plain(context: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe context: ids and dates as strings."""
    return {
        key: value if isinstance(value, int | str | list | None) else str(value)
        for key, value in context.items()
    }


async def _domain_error(request: Request, error: errors.DomainError) -> JSONResponse:
    status = status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    return problem_response(
        request, status, error.code, error.message, headers=headers, context=_plain(error.context)
    )


async def _problem_error(request: Request, error: ProblemError) -> JSONResponse:
    return problem_response(
        request,
        error.status,
        error.code,
        error.detail,
        headers=error.headers,
        context=_plain(error.context),
        extensions=error.extensions,
    )


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    details = list(error.errors())
    if any(item.get("type") == "json_invalid" for item in details):
        return problem_response(
            request, 400, "malformed_json", "the request body is not valid JSON"
        )
    return problem_response(
        request,
        422,
        "validation_failed",
        "the request does not match the schema",
        field_errors=[
            FieldError(
                field=".".join(str(part) for part in item.get("loc", ())),
                message=str(item.get("msg", "invalid")),
            )
            for item in details
        ],
    )


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}
    headers = dict(error.headers) if error.headers else {}
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_methods_serving(request))
    return problem_response(
        request,
        error.status_code,
        codes.get(error.status_code, f"http_{error.status_code}"),
        str(error.detail),
        headers=headers or None,
    )


def _methods_serving(request: Request) -> list[str]:
    """Every method some route serves at the request's path. Starlette's own 405 names
    only the methods of the first route whose path matched, but a path with GET and PATCH
    is two routes; RFC 9110 wants the Allow header to name them all."""
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    methods: set[str] = set()
    for route in route_contexts(request.app.routes):
        if route.methods and compile_path(route.path)[0].match(path):
            methods |= route.methods
    return sorted(methods)


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """503 with Retry-After: the database, not the request, is at fault. Registered for
    DatabaseUnavailable so it is answered like any refusal: the catch-all handler below
    runs in Starlette's outermost middleware, which re-raises afterwards, and the server
    then logs a traceback and drops the client's connection."""
    cause = error.__cause__ if isinstance(error, DatabaseUnavailable) else error
    logger.warning("database unavailable: %s", type(cause).__name__)
    return problem_response(
        request,
        503,
        "service_unavailable",
        "the service cannot reach its database; try again shortly",
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    if _is_unavailable(error):
        return await _database_unavailable(request, error)
    logger.exception("unexpected error handling %s %s", request.method, request.url.path)
    return problem_response(
        request, 500, "internal_error", "something went wrong on our side; quote the request id"
    )


def _is_unavailable(error: BaseException) -> bool:
    """Connection failures and pool timeouts: the database, not the request, is at fault."""
    if connection_lost(error):  # refused, dropped, or the server shutting down or starting
        return True
    seen: BaseException | None = error
    while seen is not None:
        name = type(seen).__name__
        if isinstance(seen, ConnectionError | OSError | TimeoutError) or name in {
            "CannotConnectNowError",
            "ConnectionDoesNotExistError",
            "InterfaceError",
            "TooManyConnectionsError",
        }:
            return True
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return False


def install(app: FastAPI) -> None:
    """Register the handlers; each receives only the exception type it is registered for,
    which Starlette's signature cannot express (hence the ignores)."""
    app.add_exception_handler(errors.DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(ProblemError, _problem_error)  # type: ignore[arg-type]
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the problem responses a route can return."""
    return {
        status: {
            "model": Problem,
            "description": _TITLES.get(status, "Error"),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def common_statuses(*extra: int) -> Iterable[int]:
    """What every authenticated route can answer besides its own outcomes."""
    return (400, 401, 403, 413, 422, 429, 500, 503, *extra)
