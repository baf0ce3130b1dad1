"""Post-deployment health checks, as the deployment guide runs them:

    python -m pytest tests/health_checks.py --base-url=http://localhost:8090

They check a deployed Nexum from the outside, read-only: ``/health`` (the guide's document:
status, timestamp, version and every component — the database with its response time and
connection pool, Redis, Kafka, encryption, the audit trail), the liveness and readiness
probes, ``/metrics``, the API documentation (``/docs``, ``/redoc``) and ``/openapi.json``.
Without ``--base-url`` they run against the in-process application instead (the ``api``
fixture of tests/conftest.py), on each database of the test suite.

They never create anything: no set-up, no user. ``/metrics`` answers without credentials
only to NEXUM_METRICS_ALLOWED_NETWORKS; from elsewhere the check logs in with
NEXUM_TEST_ADMIN_USERNAME and NEXUM_TEST_ADMIN_PASSWORD when both are set (a principal with
metrics:read), and is skipped, saying so, when they are not.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import httpx
import pytest

from support.api import Api

pytestmark = pytest.mark.http

HEALTHY = "healthy"
# What each component may report on a healthy Nexum: "disabled" when it is not configured.
COMPONENT_STATES = {
    "database": {HEALTHY},
    "redis": {HEALTHY, "disabled"},
    "kafka": {HEALTHY, "disabled"},
    "encryption": {"enabled", "disabled"},
    "audit_trail": {HEALTHY, "disabled"},
    "database_replicas": {HEALTHY, "disabled"},
}
GUIDE_METRICS = ("nexum_requests_total", "nexum_request_duration_seconds")


def json_of(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    return body


def aware_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} has no time zone"
    return moment


def milliseconds(value: Any) -> float:
    assert isinstance(value, int | float), value
    assert not isinstance(value, bool), value
    assert 0 <= value < 10_000, value
    return float(value)


async def test_health_reports_healthy_with_every_component(api: Api) -> None:
    response = await api.http.get("/health")
    report = json_of(response)
    unhealthy = {
        name: component
        for name, component in report.get("components", {}).items()
        if component.get("status") not in COMPONENT_STATES.get(name, {HEALTHY})
    }
    assert report["status"] == HEALTHY, f"Nexum is {report['status']}: {unhealthy}"
    assert set(report) == {"status", "timestamp", "version", "components"}
    aware_timestamp(report["timestamp"])
    assert isinstance(report["version"], str)
    assert report["version"]
    assert set(report["components"]) == set(COMPONENT_STATES)
    assert unhealthy == {}
    assert response.headers.get("x-request-id")


async def test_health_database_component_has_response_time_and_connection_pool(
    api: Api,
) -> None:
    database = json_of(await api.http.get("/health"))["components"]["database"]
    assert database["status"] == HEALTHY
    milliseconds(database["response_time_ms"])
    pool = database["connection_pool"]
    assert set(pool) == {"active", "idle", "total"}
    assert all(isinstance(pool[state], int) and pool[state] >= 0 for state in pool), pool
    assert pool["total"] == pool["active"] + pool["idle"]


async def test_health_dependency_components_say_what_they_are(api: Api) -> None:
    components = json_of(await api.http.get("/health"))["components"]
    redis, kafka = components["redis"], components["kafka"]
    if redis["status"] == HEALTHY:
        milliseconds(redis["response_time_ms"])
    if kafka["status"] == HEALTHY:
        assert isinstance(kafka["brokers_connected"], int)
        assert kafka["brokers_connected"] > 0
    encryption = components["encryption"]
    if encryption["status"] == "enabled":
        assert encryption["provider"] in {"fernet", "aesgcm"}
    audit = components["audit_trail"]
    if audit["status"] == HEALTHY and audit["last_entry"] is not None:
        aware_timestamp(audit["last_entry"])


async def test_health_reveals_no_configuration_secret(api: Api) -> None:
    text = (await api.http.get("/health")).text.lower()
    for secret_shaped in ("postgresql://", "sqlite:///", "redis://", "password", "secret"):
        assert secret_shaped not in text


async def test_liveness_probe(api: Api) -> None:
    assert json_of(await api.http.get("/health/live")) == {"status": "alive"}


async def test_readiness_probe_database_reachable_and_migrations_current(api: Api) -> None:
    ready = json_of(await api.http.get("/health/ready"))
    assert ready["status"] == "ready", ready
    assert isinstance(ready["schema"], str)
    assert ready["schema"]


async def metrics_credentials(api: Api) -> dict[str, str]:
    username = os.environ.get("NEXUM_TEST_ADMIN_USERNAME")
    password = os.environ.get("NEXUM_TEST_ADMIN_PASSWORD")
    if not (username and password):
        pytest.skip(
            "/metrics needs metrics:read from this address; set NEXUM_TEST_ADMIN_USERNAME "
            "and NEXUM_TEST_ADMIN_PASSWORD to check it (or run from an allowed network)"
        )
    return await api.login(username, password)


async def test_metrics_are_served_in_the_prometheus_format(api: Api) -> None:
    response = await api.http.get("/metrics")
    if response.status_code in (401, 403):  # not from NEXUM_METRICS_ALLOWED_NETWORKS
        response = await api.http.get("/metrics", headers=await metrics_credentials(api))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    for name in GUIDE_METRICS:
        assert f"# TYPE {name} " in response.text, f"{name} is missing"


async def test_openapi_document_describes_this_nexum(api: Api) -> None:
    document = json_of(await api.http.get("/openapi.json"))
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Nexum Core Banking API"
    version = json_of(await api.http.get("/health"))["version"]
    assert document["info"]["version"] == version
    for path in ("/health", "/auth/login", "/customers", "/accounts", "/transactions/transfer"):
        assert path in document["paths"], f"{path} is not documented"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_interactive_documentation_is_served(api: Api, page: str) -> None:
    response = await api.http.get(page)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
