"""OpenTelemetry tracing (NEXUM_ENABLE_TRACING): spans for every HTTP request, its SQL
statements and Redis commands, each request's span carrying its X-Request-ID, and nothing in
any span that could name a person; with tracing off, nothing of OpenTelemetry's SDK is
loaded and no provider is set.

The spans are caught with the SDK's in-memory exporter, attached exactly as the exporters
OTEL_TRACES_EXPORTER names are (through the same redaction); the real exporters are switched
off with OTEL_TRACES_EXPORTER=none.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text

from conftest import running, settings_for
from core_banking.api import create_app
from core_banking.observability.tracing import (
    REQUEST_ID_ATTRIBUTE,
    Tracing,
    exporters_from_environment,
    redacted,
)
from core_banking.storage import create_storage
from support.api import ADMIN_PASSWORD, ADMIN_USERNAME, key, money
from support.databases import sqlite_url
from support.redis import named_redis_url, redis_problem

PROJECT = Path(__file__).resolve().parents[2]
OTEL_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS",
    "OTEL_PYTHON_EXCLUDED_URLS",
)


@pytest.fixture
def otel_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No OTEL_* setting from outside; no exporter that would reach for a collector."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    return monkeypatch


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if request.param == "sqlite" else "tmp_postgres_url"
    )
    return url


async def redis_available() -> str | None:
    """The test Redis with a client name of this test's own, or None (then the Redis part is
    skipped, unless NEXUM_TEST_REQUIRE_REDIS=1 makes that a failure)."""
    problem = await redis_problem()
    if problem is None:
        return named_redis_url("tracing")
    if os.environ.get("NEXUM_TEST_REQUIRE_REDIS") == "1":
        pytest.fail(problem)
    return None


# --- what a customer tells the bank, and must not find in a trace --------------------------

UNIQUE = uuid.uuid4().hex[:6]
GIVEN = f"Zebulonia{UNIQUE}"
FAMILY = f"Quaxleyworth{UNIQUE}"
EMAIL = f"zebulonia.{UNIQUE}@personal.example.net"
PHONE_WRITTEN, PHONE = "+44 20 7946 0321", "+442079460321"
BIRTH = "1961-07-23"
PASSPORT = f"PZ{UNIQUE.upper()}9182"
PAYER, PAYER_IBAN = f"Philomena Grindlewald{UNIQUE}", "GB82WEST12345698765432"
PERSONAL = {
    "given name": GIVEN,
    "family name": FAMILY,
    "email": EMAIL,
    "email local part": EMAIL.split("@")[0],
    "phone as written": PHONE_WRITTEN,
    "phone": PHONE,
    "national phone": "7946 0321",
    "date of birth": BIRTH,
    "passport number": PASSPORT,
    "payer": PAYER,
    "payer IBAN": PAYER_IBAN,
    "admin password": ADMIN_PASSWORD,
}


def span_text(span: ReadableSpan) -> str:
    """Everything a span would carry to a collector, as one text."""
    parts: list[Any] = [span.name, dict(span.attributes or {}), span.status.description]
    for event in span.events:
        parts += [event.name, dict(event.attributes or {})]
    parts.append(dict(span.resource.attributes))
    return repr(parts)


def leaks(spans: Sequence[ReadableSpan]) -> dict[str, list[str]]:
    """Which personal values appear in which spans (case-insensitively)."""
    found: dict[str, list[str]] = {}
    for span in spans:
        text = span_text(span).lower()
        for label, value in PERSONAL.items():
            if value.lower() in text:
                found.setdefault(label, []).append(span.name)
    return found


class Captured:
    """The spans an app exported (redacted), and the same spans as recorded (raw)."""

    def __init__(self, tracing: Tracing) -> None:
        self.exported = InMemorySpanExporter()
        self.recorded = InMemorySpanExporter()
        tracing.export_to(self.exported)
        tracing.provider.add_span_processor(SimpleSpanProcessor(self.recorded))

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exported.get_finished_spans()


async def a_day_with_personal_data(http: httpx.AsyncClient, request_id: str) -> dict[str, str]:
    """Set-up, login, a customer with everything personal, KYC, a search by email in the
    query string, an account, a deposit from a named payer's IBAN, the health report."""
    setup = await http.post(
        "/auth/setup",
        json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "full_name": "Founder"},
    )
    assert setup.status_code == 201, setup.text
    login = await http.post(
        "/auth/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    created = await http.post(
        "/customers",
        headers={**admin, "X-Request-ID": request_id},
        json={
            "given_name": GIVEN,
            "family_name": FAMILY,
            "email": EMAIL,
            "phone": PHONE_WRITTEN,
            "date_of_birth": BIRTH,
        },
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["customer_id"]
    kyc = await http.put(
        f"/customers/{customer_id}/kyc",
        headers=admin,
        json={
            "status": "verified",
            "tier": 2,
            "documents": [
                {
                    "kind": "passport",
                    "number": PASSPORT,
                    "issuing_country": "GB",
                    "expires_on": "2099-12-31",
                }
            ],
        },
    )
    assert kyc.status_code == 200, kyc.text
    for params in ({"email": EMAIL}, {"phone": PHONE}, {"name": FAMILY}):
        found = await http.get("/customers", headers=admin, params=params)
        assert found.status_code == 200, found.text
        assert [item["customer_id"] for item in found.json()["items"]] == [customer_id]
    account = await http.post(
        "/accounts",
        headers=admin,
        json={
            "customer_id": customer_id,
            "product_type": "checking",
            "currency": "EUR",
            "name": "Everyday",
        },
    )
    assert account.status_code == 201, account.text
    deposit = await http.post(
        "/transactions/deposit",
        headers={**admin, "Idempotency-Key": key()},
        json={
            "account_id": account.json()["account_id"],
            "amount": money("250.00", "EUR"),
            "channel": "wire",
            "counterparty": {"name": PAYER, "account": PAYER_IBAN, "bank_code": "WESTGB2L"},
        },
    )
    assert deposit.status_code == 201, deposit.text
    unnamed = await http.get("/health")  # no X-Request-ID sent: one is made up
    assert unnamed.status_code == 200, unnamed.text
    return {"customer_id": customer_id, "health_request_id": unnamed.headers["x-request-id"]}


@pytest.fixture
async def traced(
    empty_database: str, otel_environment: pytest.MonkeyPatch
) -> tuple[FastAPI, Captured, str | None]:
    redis_url = await redis_available()
    overrides = {"enable_tracing": "true", "auto_migrate": "true"}
    if redis_url is not None:  # the rate limiter and the health check talk to Redis
        overrides |= {"redis_url": redis_url, "enable_rate_limiting": "true"}
    app = create_app(settings_for(empty_database, **overrides))
    captured = Captured(app.state.tracing)
    return app, captured, redis_url


async def test_a_request_its_sql_and_redis_are_traced_with_the_request_id_and_no_personal_data(
    traced: tuple[FastAPI, Captured, str | None],
) -> None:
    app, captured, redis_url = traced
    request_id = f"trace-probe-{uuid.uuid4().hex[:12]}"
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    async with running(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://nexum") as http:
            answers = await a_day_with_personal_data(http, request_id)
    spans = captured.spans()  # shutting down flushed them

    # the request: one server span, named by its route, carrying the request id
    (create,) = [
        span
        for span in spans
        if span.kind is SpanKind.SERVER
        and span.attributes.get(REQUEST_ID_ATTRIBUTE) == (request_id,)
    ]
    assert create.name == "POST /customers"
    assert create.attributes["http.status_code"] == 201
    # a request id Nexum made up is on its span too
    health = [
        span
        for span in spans
        if span.kind is SpanKind.SERVER
        and span.attributes.get(REQUEST_ID_ATTRIBUTE) == (answers["health_request_id"],)
    ]
    assert [span.name for span in health] == ["GET /health"]

    # its SQL statements: spans in the same trace, below the request's span
    in_request = [
        span
        for span in spans
        if span.context.trace_id == create.context.trace_id and span is not create
    ]
    statements = [str(span.attributes.get("db.statement", "")) for span in in_request]
    assert any(statement.startswith("INSERT INTO customers") for statement in statements)
    assert all(span.parent is not None for span in in_request)
    assert {span.kind for span in in_request if "db.statement" in span.attributes} == {
        SpanKind.CLIENT
    }

    # Redis: the rate limiter's commands during the request, the health check's PING
    if redis_url is not None:
        redis_spans = [span for span in spans if span.attributes.get("db.system") == "redis"]
        assert any(span.context.trace_id == create.context.trace_id for span in redis_spans)
        assert any(span.name == "PING" for span in redis_spans)

    # the service, as OpenTelemetry names it by default
    assert create.resource.attributes["service.name"] == "nexum"

    # no personal datum, no client address in any exported span ...
    assert leaks(spans) == {}
    assert not [span.name for span in spans if "?" in str(span.attributes.get("http.url", ""))]
    assert not [span.name for span in spans if address in span_text(span)]
    # ... although the spans as recorded had the search terms in their URLs and the client's
    # address: the test can see them
    recorded = captured.recorded.get_finished_spans()
    assert "email" in leaks(recorded)
    assert [span.name for span in recorded if address in span_text(span)]


def test_exported_spans_lose_query_strings_client_details_and_exception_messages() -> None:
    recorded = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "GET /customers",
        kind=SpanKind.SERVER,
        attributes={
            "http.url": f"http://nexum/customers?email={EMAIL}",
            "http.target": f"/customers?name={FAMILY}",
            "url.query": f"phone={PHONE}",
            "net.peer.ip": "203.0.113.9",
            "http.user_agent": f"app/1.0 ({GIVEN})",
            "http.route": "/customers",
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            raise ValueError(f"invalid input for query argument $1: {EMAIL!r}")
        except ValueError as error:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, f"DataError: {EMAIL!r}")
    provider.shutdown()
    (raw,) = recorded.get_finished_spans()
    assert leaks([raw])  # the raw span quotes the customer everywhere

    clean = redacted(raw)
    assert leaks([clean]) == {}
    assert dict(clean.attributes) == {
        "http.url": "http://nexum/customers",
        "http.target": "/customers",
        "http.route": "/customers",
    }
    assert clean.status.status_code is StatusCode.ERROR
    assert clean.status.description is None
    (event,) = clean.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert clean.context == raw.context
    assert clean.name == raw.name


# --- configured by the standard OTEL_* variables -----------------------------------------


@pytest.fixture
def started(otel_environment: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start tracing on a bare application under the environment a test sets."""
    started: list[Tracing] = []

    def start() -> Tracing:
        tracing = Tracing.start(FastAPI(), settings_for("sqlite:///unused.db"))
        started.append(tracing)
        return tracing

    yield start
    for tracing in started:
        tracing.shutdown()


def test_service_name_resource_and_sampler_come_from_the_otel_variables(
    otel_environment: pytest.MonkeyPatch, started: Any
) -> None:
    default = started()
    assert default.provider.resource.attributes["service.name"] == "nexum"
    assert default.provider.resource.attributes["deployment.environment"] == "test"
    assert default.provider.sampler.get_description().startswith("ParentBased{root:AlwaysOnSampler")

    otel_environment.setenv("OTEL_SERVICE_NAME", "nexum-eu-west")
    otel_environment.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=core")
    otel_environment.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    otel_environment.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    configured = started()
    attributes = configured.provider.resource.attributes
    assert attributes["service.name"] == "nexum-eu-west"
    assert attributes["deployment.environment"] == "prod"
    assert attributes["team"] == "core"
    assert attributes["service.version"]
    assert configured.provider.sampler.get_description() == "TraceIdRatioBased{0.25}"


async def test_the_primary_and_every_replica_are_traced(started: Any, tmp_path: Path) -> None:
    """Reads may go to NEXUM_DATABASE_REPLICA_URLS: their engines are traced too."""
    tracing: Tracing = started()
    captured = Captured(tracing)
    directories = [tmp_path / "primary", tmp_path / "replica"]
    for directory in directories:
        directory.mkdir()
    databases = [create_storage(sqlite_url(directory)) for directory in directories]
    tracing.trace_databases(database.engine for database in databases)
    try:
        for database in databases:
            async with database.engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        for database in databases:
            await database.dispose()
    tracing.provider.force_flush()
    traced = {
        Path(str(span.attributes["db.name"])).parent.name
        for span in captured.spans()
        if span.attributes.get("db.statement") == "SELECT 1"
    }
    assert traced == {"primary", "replica"}


@pytest.mark.parametrize(
    ("exporters", "protocol", "expected"),
    [
        ("none", None, []),
        ("console", None, ["opentelemetry.sdk.trace.export.ConsoleSpanExporter"]),
        (
            None,  # unset: OTLP, as the specification says, over gRPC unless told otherwise
            None,
            ["opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter"],
        ),
        (
            "otlp,console",
            "http/protobuf",
            [
                "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter",
                "opentelemetry.sdk.trace.export.ConsoleSpanExporter",
            ],
        ),
    ],
)
def test_exporters_are_the_ones_otel_traces_exporter_names(
    otel_environment: pytest.MonkeyPatch,
    exporters: str | None,
    protocol: str | None,
    expected: list[str],
) -> None:
    if exporters is None:
        otel_environment.delenv("OTEL_TRACES_EXPORTER")
    else:
        otel_environment.setenv("OTEL_TRACES_EXPORTER", exporters)
    if protocol is not None:
        otel_environment.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    otel_environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    found = exporters_from_environment()
    try:
        assert [f"{type(e).__module__}.{type(e).__qualname__}" for e in found] == expected
    finally:
        for exporter in found:
            exporter.shutdown()


# --- off: nothing of OpenTelemetry at all -------------------------------------------------

_PROBE = """
import asyncio, json, sys
import httpx
from core_banking.api.app import create_app
from core_banking.config import load_config

async def main():
    app = create_app(load_config({
        "NEXUM_DATABASE_URL": sys.argv[1],
        "NEXUM_ENABLE_TRACING": sys.argv[2],
        "NEXUM_ENVIRONMENT": "test",
        "NEXUM_LOG_LEVEL": "WARNING",
    }))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nexum") as http:
            statuses = [
                (await http.post("/auth/setup", json={
                    "username": "founder", "password": "a long enough password",
                    "full_name": "Founder"})).status_code,
                (await http.get("/health")).status_code,
            ]
    tracing_modules = sorted(
        name for name in sys.modules
        if name == "core_banking.observability.tracing"
        or name.startswith(("opentelemetry.sdk", "opentelemetry.instrumentation",
                            "opentelemetry.exporter"))
    )
    from opentelemetry import _logs, metrics, trace
    print(json.dumps({
        "statuses": statuses,
        "tracing_modules": tracing_modules,
        "providers": [type(provider).__name__ for provider in (
            trace.get_tracer_provider(),
            metrics.get_meter_provider(),
            _logs.get_logger_provider(),
        )],
        "tracing": app.state.tracing is not None,
    }))

asyncio.run(main())
"""


@pytest.mark.parametrize("enabled", ["false", "true"])
def test_with_tracing_off_nothing_of_tracing_is_loaded_and_no_provider_is_set(
    enabled: str, tmp_sqlite_url: str
) -> None:
    """In a process of its own (this one has loaded the SDK already): with tracing off the
    app serves requests without loading the OpenTelemetry SDK, an instrumentation, an
    exporter or Nexum's tracing module, and sets no provider, so FastAPI's own telemetry
    (FastAPI imports the OpenTelemetry API, a no-op until a provider is set) stays off too.
    The same probe with tracing on sees the modules, so it can tell."""
    environment = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    environment |= {"OTEL_TRACES_EXPORTER": "none", "NEXUM_DATABASE_URL": tmp_sqlite_url}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, tmp_sqlite_url, enabled],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["statuses"] == [201, 200]
    unset = ["ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"]
    if enabled == "false":
        assert probe["tracing_modules"] == []
        assert probe["providers"] == unset
        assert probe["tracing"] is False
    else:
        assert "core_banking.observability.tracing" in probe["tracing_modules"]
        assert "opentelemetry.sdk.trace" in probe["tracing_modules"]
        assert "opentelemetry.instrumentation.sqlalchemy" in probe["tracing_modules"]
        assert probe["providers"] == unset  # the app's provider is its own, not global
        assert probe["tracing"] is True
