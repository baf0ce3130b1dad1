"""OpenTelemetry tracing, when NEXUM_ENABLE_TRACING is true: a span for every HTTP request,
every SQL statement and every Redis command, exported as the standard OTEL_* environment
variables say.

The OpenTelemetry SDK reads its own settings: ``OTEL_TRACES_EXPORTER`` (``otlp`` when unset,
as the specification says; ``console``; ``none``; several comma-separated),
``OTEL_EXPORTER_OTLP_ENDPOINT`` and the rest of ``OTEL_EXPORTER_OTLP_*`` (protocol, headers,
timeout, certificates), ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (the service is
"nexum", with Nexum's version and NEXUM_ENVIRONMENT, unless they say otherwise),
``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG``, ``OTEL_BSP_*`` (batching),
``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` (routes not traced, e.g. ``health,metrics``).

The request's X-Request-ID is on its server span (``http.response.header.x_request_id``), so
a trace and the request's log lines find each other.

No personal data leaves in a span. What the instrumentations record is the method, route
template (the span's name: ``POST /customers``), path (ids only) and status of a request; the
SQL text of a statement (values are always bound parameters, and parameters are not
recorded); the name of a Redis command (its arguments, keys included, become ``?``). Before
export every span also loses what could quote a person: the query string of its URL (a
search by email or phone), the client's address and user agent, exception messages and
stack traces (the exception's type stays) and status descriptions (database drivers quote
the offending value in them).

The tracer provider is the application's own, handed to each instrumentation, not the
process-wide global one: nothing else (FastAPI's native telemetry included, which stays off
while no global provider is set) sends spans through it or around its redaction.

This module imports the OpenTelemetry SDK at the top; ``core_banking.api.app`` imports it
only when tracing is on, so with tracing off no SDK, instrumentation or exporter is loaded
and no provider is set. It needs the ``full`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk._configuration import (
    _get_exporter_entry_point,
    _get_exporter_names,
    _import_exporters,
)
from opentelemetry.sdk.resources import (
    DEPLOYMENT_ENVIRONMENT,
    SERVICE_NAME,
    SERVICE_VERSION,
    OTELResourceDetector,
    Resource,
)
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.status import Status
from opentelemetry.util.types import AttributeValue
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking import __version__
from core_banking.config import Settings

__all__ = [
    "DEFAULT_SERVICE_NAME",
    "REQUEST_ID_ATTRIBUTE",
    "Tracing",
    "exporters_from_environment",
    "redacted",
]

DEFAULT_SERVICE_NAME: Final = "nexum"
REQUEST_ID_ATTRIBUTE: Final = "http.response.header.x_request_id"

# Attributes that can quote a person (what they searched for, where they are, what they
# typed that an exception repeated): never exported.
_DROPPED: Final = frozenset(
    {
        "url.query",
        "client.address",
        "client.port",
        "net.peer.ip",
        "net.peer.port",
        "http.client_ip",
        "net.sock.peer.addr",
        "net.sock.peer.port",
        "http.user_agent",
        "user_agent.original",
        "exception.message",
        "exception.stacktrace",
    }
)
# Attributes holding a URL or a request target: exported without their query string.
_WITHOUT_QUERY: Final = frozenset({"http.url", "url.full", "http.target"})


def _clean(attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
    cleaned: dict[str, AttributeValue] = {}
    for name, value in (attributes or {}).items():
        if name in _DROPPED:
            continue
        if name in _WITHOUT_QUERY and isinstance(value, str):
            value = value.split("?", 1)[0]
        cleaned[name] = value
    return cleaned


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span`` as it may leave the process: see the module's documentation."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_clean(span.attributes),
        events=[
            Event(event.name, _clean(event.attributes), event.timestamp) for event in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class _Redacting(SpanProcessor):
    """Hands ``redacted(span)``, never the span itself, to the processor that exports."""

    def __init__(self, exporting: SpanProcessor) -> None:
        self._exporting = exporting

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        self._exporting.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self._exporting.on_end(redacted(span))

    def shutdown(self) -> None:
        self._exporting.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporting.force_flush(timeout_millis)


def _resource(settings: Settings) -> Resource:
    """Nexum's defaults, under whatever OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES say."""
    given = OTELResourceDetector().detect().attributes
    defaults = {
        SERVICE_NAME: DEFAULT_SERVICE_NAME,
        SERVICE_VERSION: __version__,
        DEPLOYMENT_ENVIRONMENT: settings.environment.value,
    }
    return Resource.create({name: value for name, value in defaults.items() if name not in given})


def exporters_from_environment() -> list[SpanExporter]:
    """The exporters OTEL_TRACES_EXPORTER names, chosen and configured by the SDK itself
    (``otlp`` when the variable is unset; its protocol from OTEL_EXPORTER_OTLP_PROTOCOL).

    The SDK keeps this reading of the environment in its (underscored) configuration
    module, which ``opentelemetry-instrument`` uses; calling it here, rather than copying
    it, keeps the names and their meaning exactly the SDK's. The test of this function
    fails if a release renames them."""
    if OTEL_TRACES_EXPORTER in os.environ:
        names = _get_exporter_names("traces")
    else:
        names = [_get_exporter_entry_point("otlp", "traces")]
    classes, _, _ = _import_exporters(names, [], [])
    return [exporter() for exporter in classes.values()]


class Tracing:
    """Tracing of one application: :meth:`start` it before the application first runs (the
    HTTP instrumentation wraps its middleware), :meth:`trace_databases` once the storage exists,
    :meth:`shutdown` last (it sends what is still buffered)."""

    def __init__(self, app: FastAPI, provider: TracerProvider) -> None:
        self.app = app
        self.provider = provider

    @classmethod
    def start(cls, app: FastAPI, settings: Settings) -> Tracing:
        provider = TracerProvider(resource=_resource(settings))  # sampler from OTEL_TRACES_*
        tracing = cls(app, provider)
        for exporter in exporters_from_environment():
            tracing.export_to(exporter)
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=provider,
            http_capture_headers_server_response=["x-request-id"],
            exclude_spans=["receive", "send"],
        )
        RedisInstrumentor().instrument(tracer_provider=provider)
        return tracing

    def export_to(self, exporter: SpanExporter) -> None:
        """Send every span, redacted, to ``exporter`` (in batches)."""
        self.provider.add_span_processor(_Redacting(BatchSpanProcessor(exporter)))

    def trace_databases(self, engines: Iterable[AsyncEngine]) -> None:
        """Trace the statements of these engines (the primary's and every replica's)."""
        # The instrumentation declares SQLAlchemy < 2.1 and would otherwise refuse (logging
        # an error) on the 2.1 we run; the engine events it listens to are unchanged in 2.1,
        # and tests/integration/test_tracing.py proves the statements are traced.
        SQLAlchemyInstrumentor().instrument(
            engines=[engine.sync_engine for engine in engines],
            tracer_provider=self.provider,
            enable_commenter=False,
            skip_dep_check=True,
        )

    def shutdown(self) -> None:
        """Stop instrumenting (the Redis and SQLAlchemy instrumentations patch the libraries
        for the whole process) and flush what is left to the exporters."""
        instrumentors: list[Any] = [SQLAlchemyInstrumentor(), RedisInstrumentor()]
        for instrumentor in instrumentors:
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
        self.provider.shutdown()
