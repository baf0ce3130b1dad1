"""What every route shares: problem details for every error status, request ids, the public
probes, and an OpenAPI document a client generator can trust."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.api import Api, key, money

pytestmark = pytest.mark.http

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "instance", "request_id"}
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    422: "Unprocessable request",
}
DEFAULT_MAX_REQUEST_SIZE = 16_777_216
PUBLIC_OPERATIONS = {"health", "health_live", "health_ready", "auth_login", "auth_setup", "metrics"}


def assert_exact_problem(
    response: httpx.Response, status: int, code: str, path: str, *, extra: set[str] = frozenset()
) -> dict[str, Any]:
    """The RFC 9457 shape, exactly: these members and no others."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert set(body) == PROBLEM_KEYS | extra, body
    # (that it is sent once is test_every_response_carries_one_request_id's business)
    assert set(response.headers.get_list("X-Request-ID")) == {body["request_id"]}
    assert body["type"] == f"https://nexum.dev/problems/{code}"
    assert body["title"] == TITLES[status]
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["instance"] == path
    return body


# --- problem details ----------------------------------------------------------------------


async def test_401_without_credentials(api: Api) -> None:
    response = await api.http.get("/customers")
    assert_exact_problem(response, 401, "unauthenticated", "/customers")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "nxk_not-a-real-key"},
        {"Authorization": "Bearer nxk_not-a-real-key"},
    ],
)
async def test_401_with_bad_credentials(api: Api, headers: dict[str, str]) -> None:
    response = await api.http.get("/auth/me", headers=headers)
    assert_exact_problem(response, 401, "unauthenticated", "/auth/me")


async def test_401_with_a_token_signed_by_someone_else(api: Api) -> None:
    admin = await api.admin()
    header, payload, _ = admin["Authorization"].removeprefix("Bearer ").split(".")
    forged = f"{header}.{payload}.{'A' * 43}"
    response = await api.http.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


async def test_403_names_the_missing_permission(api: Api) -> None:
    response = await api.http.post(
        "/customers",
        headers=await api.as_role("auditor"),
        json={"given_name": "A", "family_name": "B"},
    )
    body = assert_exact_problem(response, 403, "forbidden", "/customers", extra={"context"})
    assert body["context"] == {"permission": "customers:write"}


async def test_404_for_an_unknown_route(api: Api) -> None:
    for headers in ({}, await api.admin()):
        response = await api.http.get("/no/such/route", headers=headers)
        assert_exact_problem(response, 404, "not_found", "/no/such/route")


async def test_404_for_an_unknown_resource_has_its_id(api: Api) -> None:
    missing = str(uuid.uuid4())
    response = await api.http.get(f"/accounts/{missing}", headers=await api.admin())
    body = assert_exact_problem(
        response, 404, "not_found", f"/accounts/{missing}", extra={"context"}
    )
    assert body["context"] == {"account_id": missing}


async def test_405_for_a_method_the_route_lacks(api: Api) -> None:
    response = await api.http.put("/transactions/deposit", headers=await api.admin(), json={})
    assert_exact_problem(response, 405, "method_not_allowed", "/transactions/deposit")
    assert response.headers["Allow"] == "POST"


async def test_405_names_every_method_of_a_path_served_by_several_routes(api: Api) -> None:
    # GET /customers and POST /customers are two routes; Allow must name both.
    response = await api.http.delete("/customers", headers=await api.admin())
    assert_exact_problem(response, 405, "method_not_allowed", "/customers")
    assert response.headers["Allow"] == "GET, POST"


async def test_400_for_malformed_json(api: Api) -> None:
    response = await api.http.post(
        "/customers",
        headers={**await api.admin(), "Content-Type": "application/json"},
        content=b'{"given_name": "Ada", ',
    )
    assert_exact_problem(response, 400, "malformed_json", "/customers")


async def test_413_for_a_body_over_the_size_limit(api: Api) -> None:
    response = await api.http.post(
        "/customers",
        headers={**await api.admin(), "Content-Type": "application/json"},
        content=b" " * (DEFAULT_MAX_REQUEST_SIZE + 1),
    )
    body = assert_exact_problem(response, 413, "request_too_large", "/customers")
    assert str(DEFAULT_MAX_REQUEST_SIZE) in body["detail"]


async def test_422_lists_the_fields_at_fault(api: Api) -> None:
    response = await api.http.post(
        "/transactions/transfer",
        headers={**await api.admin(), "Idempotency-Key": key()},
        json={
            "from_account_id": "not-a-uuid",
            "to_account_id": str(uuid.uuid4()),
            "amount": {"amount": 5, "currency": "usd"},
            "surprise": 1,
        },
    )
    body = assert_exact_problem(
        response, 422, "validation_failed", "/transactions/transfer", extra={"errors"}
    )
    fields = {error["field"] for error in body["errors"]}
    assert fields == {
        "body.from_account_id",
        "body.amount.amount",
        "body.amount.currency",
        "body.surprise",
    }
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
        assert error["message"]


async def test_domain_refusals_are_problems_with_context(api: Api) -> None:
    customer = await api.customer()
    account = await api.account(customer["customer_id"])
    response = await api.http.post(
        "/transactions/withdraw",
        headers={**await api.admin(), "Idempotency-Key": key()},
        json={"account_id": account["account_id"], "amount": money("1.00")},
    )
    body = assert_exact_problem(
        response, 422, "insufficient_funds", "/transactions/withdraw", extra={"context"}
    )
    assert body["context"] == {"account_id": account["account_id"]}


# --- request ids --------------------------------------------------------------------------


async def test_a_given_request_id_is_echoed(api: Api) -> None:
    request_id = f"req-{uuid.uuid4().hex}:1.a_b"
    ok = await api.http.get("/health/live", headers={"X-Request-ID": request_id})
    assert ok.headers["X-Request-ID"] == request_id
    refused = await api.http.get("/customers", headers={"X-Request-ID": request_id})
    assert refused.headers["X-Request-ID"] == request_id
    assert refused.json()["request_id"] == request_id


@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 129, "semi;colon"])
async def test_a_request_id_is_generated_when_missing_or_unusable(
    api: Api, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    first = await api.http.get("/customers", headers=headers)
    second = await api.http.get("/customers", headers=headers)
    for response in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
        assert response.json()["request_id"] == response.headers["X-Request-ID"]
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def test_every_response_carries_one_request_id(api: Api) -> None:
    """Including those the middleware answers itself (413), whose problem already names it."""
    admin = await api.admin()
    responses = [
        await api.http.get("/health/live"),
        await api.http.get("/customers", headers=admin),
        await api.http.get("/no/such/route"),
        await api.http.post(
            "/customers",
            headers={**admin, "Content-Type": "application/json"},
            content=b" " * (DEFAULT_MAX_REQUEST_SIZE + 1),
        ),
    ]
    for response in responses:
        assert len(response.headers.get_list("X-Request-ID")) == 1, (
            response.status_code,
            response.headers.get_list("X-Request-ID"),
        )


# --- public probes ------------------------------------------------------------------------


async def test_health_probes_need_no_credentials(api: Api) -> None:
    await api.customer()  # so the audit trail has a last entry to report
    live = await api.http.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "alive"}

    health = await api.http.get("/health")
    assert health.status_code == 200, health.text
    report = health.json()
    assert report["status"] in {"healthy", "degraded"}
    assert report["components"]["database"]["status"] == "healthy"
    assert report["components"]["database"]["response_time_ms"] >= 0
    assert isinstance(report["version"], str)

    ready = await api.http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


async def test_metrics_for_a_principal_with_metrics_read(api: Api) -> None:
    await api.http.get("/health/live")
    for headers in (await api.admin(), await api.as_role("auditor")):
        response = await api.http.get("/metrics", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        assert "nexum_requests_total" in response.text


async def _samples(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await api.http.get("/metrics", headers=await api.admin())
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_money_moved_is_counted_in_the_guides_metrics(api: Api) -> None:
    account = await api.account()
    before = await _samples(api)
    await api.deposit(account["account_id"], "10.00")
    await api.deposit(account["account_id"], "5.00")
    too_much = await api.http.post(
        "/transactions/withdraw",
        headers={**await api.admin(), "Idempotency-Key": key()},
        json={"account_id": account["account_id"], "amount": money("99.00")},
    )
    assert too_much.status_code == 422, too_much.text
    after = await _samples(api)

    def grown(name: str, **labels: str) -> float:
        sample = (name, frozenset(labels.items()))
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    assert grown("nexum_transactions_processed_total", type="deposit", status="completed") == 2
    assert grown("nexum_transactions_processed_total", type="withdrawal", status="refused") == 1
    deposits = {"method": "POST", "endpoint": "/transactions/deposit"}
    assert grown("nexum_requests_total", **deposits) == 2
    assert grown("nexum_request_duration_seconds_count", **deposits) == 2
    audited = {
        dict(labels)["action"]: grown(name, **dict(labels))
        for name, labels in after
        if name == "nexum_audit_events_total"
    }
    assert sum(audited.values()) >= 2, audited


async def test_docs_and_redoc_answer(api: Api) -> None:
    for path in ("/docs", "/redoc"):
        response = await api.http.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in response.text


# --- the OpenAPI document -----------------------------------------------------------------


@pytest.fixture
async def openapi(api: Api) -> dict[str, Any]:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def variants(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema, or each non-null alternative of an anyOf/oneOf, resolved."""
    alternatives = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return [resolve(document, s) for s in alternatives if s.get("type") != "null"]


async def test_every_operation_has_a_unique_operation_id(openapi: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in operations(openapi)]
    assert None not in ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(ids) >= 40


async def test_every_protected_operation_documents_401_403_and_its_permission(
    openapi: dict[str, Any],
) -> None:
    for method, path, operation in operations(openapi):
        if operation["operationId"] in PUBLIC_OPERATIONS:
            continue
        where = f"{method} {path}"
        assert {"401", "403"} <= set(operation["responses"]), where
        assert operation.get("security"), where
        assert operation.get("x-permission"), where


async def test_error_responses_are_documented_as_problems(openapi: dict[str, Any]) -> None:
    """Every 4xx an operation documents is the Problem schema as application/problem+json,
    which is what the API sends (a generated client can then parse every refusal)."""
    undocumented = [
        f"{method} {path} {status}"
        for method, path, operation in operations(openapi)
        for status, response in operation["responses"].items()
        if status.startswith("4")
        and response.get("content", {}).get(PROBLEM, {}).get("schema")
        != {"$ref": "#/components/schemas/Problem"}
    ]
    assert undocumented == []


async def test_money_moving_posts_require_an_idempotency_key(openapi: dict[str, Any]) -> None:
    money_posts = [
        (path, operation)
        for method, path, operation in operations(openapi)
        if method == "POST" and (path.startswith("/transactions") or "/holds" in path)
    ]
    assert {operation["operationId"] for _, operation in money_posts} == {
        "transactions_deposit",
        "transactions_withdraw",
        "transactions_transfer",
        "transactions_batch",
        "transactions_reverse",
        "holds_place",
        "holds_capture",
        "holds_release",
    }
    for path, operation in money_posts:
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        assert headers["Idempotency-Key"]["required"] is True, path
        assert headers["Idempotency-Key"]["schema"]["maxLength"] == 255, path


async def test_every_money_amount_is_a_patterned_string(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    money_schemas = {
        name
        for name, schema in schemas.items()
        if set(schema.get("properties", {})) == {"amount", "currency"}
    }
    assert {"MoneyIn", "MoneyOut"} <= money_schemas
    for name in money_schemas:
        amount = schemas[name]["properties"]["amount"]
        assert amount["type"] == "string", name
        assert amount["pattern"], name
        assert re.fullmatch(amount["pattern"].strip("^$"), "100.25"), name
        assert not re.fullmatch(amount["pattern"].strip("^$"), "1e3"), name
        assert schemas[name]["properties"]["currency"]["pattern"] == "^[A-Z]{3}$", name

    checked = 0
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            if field != "amount" or name in money_schemas:
                continue
            for variant in variants(openapi, prop):
                assert set(variant.get("properties", {})) == {"amount", "currency"}, (name, field)
                checked += 1
    assert checked >= 10
