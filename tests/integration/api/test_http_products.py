"""/products over HTTP: creating products of each kind, their definitions as money strings
and rate strings, versions and the draft -> active -> retired life cycle, listing, accounts
opened from a product, the refusals as problems, and who may read and write the catalogue.
Each test makes its own products."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from support.api import Api, key
from support.problems import assert_problem, field_errors
from support.products import deposit_definition, money, product_body

pytestmark = pytest.mark.http

PRODUCT_KEYS = {
    "product_id",
    "version",
    "kind",
    "status",
    "name",
    "currency",
    "definition",
    "created_at",
    "created_by",
    "updated_at",
}


async def create(
    api: Api, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api.http.post("/products", headers=headers or await api.admin(), json=body)


async def created(api: Api, **fields: Any) -> dict[str, Any]:
    response = await create(api, product_body(**fields))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def change(api: Api, product: dict[str, Any], version: int, action: str) -> httpx.Response:
    return await api.http.post(
        f"/products/{product['product_id']}/versions/{version}/{action}",
        headers=await api.admin(),
    )


async def active_product(api: Api, **fields: Any) -> dict[str, Any]:
    product = await created(api, **fields)
    response = await change(api, product, 1, "activate")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def revise(
    api: Api, product: dict[str, Any], kind: str = "deposit", **changes: Any
) -> httpx.Response:
    body = product_body(kind, product["currency"], name="Easy saver, revised", **changes)
    del body["currency"]
    return await api.http.post(
        f"/products/{product['product_id']}/versions", headers=await api.admin(), json=body
    )


async def get_version(api: Api, product: dict[str, Any], version: int) -> dict[str, Any]:
    response = await api.http.get(
        f"/products/{product['product_id']}/versions/{version}", headers=await api.admin()
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def open_from(
    api: Api, product_id: str, currency: str = "USD", **fields: Any
) -> httpx.Response:
    customer = await api.customer()
    return await api.http.post(
        "/accounts",
        headers={**await api.admin(), "Idempotency-Key": key()},
        json={
            "customer_id": customer["customer_id"],
            "product_id": product_id,
            "currency": currency,
            "name": "From the catalogue",
            **fields,
        },
    )


# --- creating -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["deposit", "term_loan", "credit_line"])
async def test_create_returns_version_one_a_draft_with_the_definition_as_sent(
    api: Api, kind: str
) -> None:
    body = product_body(kind, "USD", name=f"A {kind} product")
    response = await create(api, body)

    assert response.status_code == 201, response.text
    product = response.json()
    assert set(product) == PRODUCT_KEYS
    assert (product["version"], product["status"], product["kind"]) == (1, "draft", kind)
    assert (product["name"], product["currency"]) == (body["name"], "USD")
    assert product["definition"] == body["definition"]
    assert product["created_by"].startswith("user:")
    assert product["created_at"] == product["updated_at"]

    admin = await api.admin()
    latest = await api.http.get(f"/products/{product['product_id']}", headers=admin)
    assert latest.status_code == 200
    assert latest.json() == product
    assert await get_version(api, product, 1) == product


async def test_create_a_term_deposit_and_a_tiered_rate(api: Api) -> None:
    definition = deposit_definition(
        "BHD",
        monthly_maintenance_fee=money("0.000", "BHD"),
        transaction_fee=money("0.250", "BHD"),
        minimum_opening_balance=money("100.000", "BHD"),
        deposit_type="term_deposit",
        compounding="none",
        posting_frequency="at_maturity",
        rate={
            "type": "tiered",
            "method": "whole",
            "tiers": [
                {"from_balance": money("0.000", "BHD"), "annual_rate": "0.01"},
                {"from_balance": money("5000.500", "BHD"), "annual_rate": "0.0125"},
            ],
        },
        term_deposit={
            "term": {"length": 90, "unit": "days"},
            "maturity_action": "rollover",
            "early_withdrawal_penalty": {"kind": "percent", "rate": "0.005"},
        },
    )
    body = {
        "kind": "deposit",
        "name": "90-day deposit",
        "currency": "BHD",
        "definition": definition,
    }
    response = await create(api, body)
    assert response.status_code == 201, response.text
    assert response.json()["definition"] == definition


async def test_amounts_come_back_with_the_currencys_decimals(api: Api) -> None:
    product = await created(api, transaction_fee=money("0.5"), minimum_opening_balance=money("100"))
    assert product["definition"]["transaction_fee"] == money("0.50")
    assert product["definition"]["minimum_opening_balance"] == money("100.00")


async def test_create_with_an_idempotency_key_is_replayed(api: Api) -> None:
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = product_body("credit_line")
    first = await create(api, body, headers)
    second = await create(api, body, headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    reused = await create(api, {**body, "name": "Another line"}, headers)
    assert_problem(reused, 422, "idempotency_key_reused")


# --- money and rates in a definition --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "context"),
    [
        ({"transaction_fee": money("0.251")}, "invalid_amount", {"field": "transaction_fee"}),
        (
            {"transaction_fee": money("1.5", "JPY")},
            "currency_mismatch",
            {"field": "transaction_fee"},
        ),
        (
            {"minimum_opening_balance": money("10000000000000.00")},
            "invalid_amount",
            {"field": "minimum_opening_balance"},
        ),
    ],
    ids=["extra decimals", "other currency", "too large"],
)
async def test_amounts_are_in_the_products_currency_and_never_rounded(
    api: Api, changes: dict[str, Any], code: str, context: dict[str, str]
) -> None:
    body = assert_problem(await create(api, product_body(**changes)), 422, code)
    assert body["context"] == context


FEE_AMOUNT = "body.deposit.definition.transaction_fee.amount"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"transaction_fee": {"amount": 0.25, "currency": "USD"}}, FEE_AMOUNT),
        ({"transaction_fee": money("-1.00")}, FEE_AMOUNT),
        ({"transaction_fee": money("1e3")}, FEE_AMOUNT),
        (
            {"transaction_fee": money("0.25", "usd")},
            "body.deposit.definition.transaction_fee.currency",
        ),
    ],
    ids=["json number", "negative", "exponent", "lower-case currency"],
)
async def test_amounts_are_decimal_strings(api: Api, changes: dict[str, Any], field: str) -> None:
    response = await create(api, product_body(**changes))
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {field}


def fixed_rate(rate: Any) -> dict[str, Any]:
    return {"rate": {"type": "fixed", "annual_rate": rate}}


RATE_FIELD = "body.deposit.definition.rate.fixed.annual_rate"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        (fixed_rate(0.05), "validation_failed", RATE_FIELD),
        (fixed_rate("5%"), "validation_failed", RATE_FIELD),
        (fixed_rate("-0.01"), "validation_failed", RATE_FIELD),
        (fixed_rate("0.00000000001"), "validation_failed", RATE_FIELD),
        (fixed_rate("5e-2"), "validation_failed", RATE_FIELD),
        (fixed_rate(".05"), "validation_failed", RATE_FIELD),
        (fixed_rate("10.5"), "invalid_input", None),
    ],
    ids=[
        "json number",
        "percent sign",
        "negative",
        "eleven decimals",
        "exponent",
        "no zero",
        "above 1000 %",
    ],
)
async def test_rates_are_plain_decimal_strings(
    api: Api, changes: dict[str, Any], code: str, field: str | None
) -> None:
    response = await create(api, product_body(**changes))
    assert_problem(response, 422, code)
    if field is not None:
        assert field_errors(response) == {field}


async def test_a_fee_rate_is_at_most_one_and_loan_terms_are_checked(api: Api) -> None:
    too_much = product_body("term_loan", early_repayment_fee={"kind": "percent", "rate": "1.5"})
    body = assert_problem(await create(api, too_much), 422, "invalid_input")
    assert body["context"] == {"field": "fee.rate"}
    upside_down = product_body("term_loan", min_amount=money("500.00"), max_amount=money("100.00"))
    body = assert_problem(await create(api, upside_down), 422, "invalid_input")
    assert body["context"] == {"field": "max_amount_minor"}
    unknown = {**product_body(), "kind": "mortgage"}
    assert_problem(await create(api, unknown), 422, "validation_failed")
    assert_problem(await create(api, product_body(currency="ABC")), 422, "unknown_currency")


# --- versions and life cycle ------------------------------------------------------------------


async def test_the_life_cycle_draft_active_retired_with_one_active_version(api: Api) -> None:
    product = await created(api)
    revised = await revise(api, product, transaction_fee=money("0.10"))
    assert revised.status_code == 201, revised.text
    second = revised.json()
    assert (second["version"], second["status"]) == (2, "draft")
    assert second["product_id"] == product["product_id"]
    assert second["name"] == "Easy saver, revised"
    assert second["definition"]["transaction_fee"] == money("0.10")
    assert await get_version(api, product, 1) == product  # the old version is unchanged

    first_active = await change(api, product, 1, "activate")
    assert first_active.status_code == 200, first_active.text
    assert first_active.json()["status"] == "active"
    second_active = await change(api, product, 2, "activate")
    assert second_active.json()["status"] == "active"
    old = await get_version(api, product, 1)
    assert old["status"] == "retired"
    assert old["definition"] == product["definition"]

    retired = await change(api, product, 2, "retire")
    assert retired.json()["status"] == "retired"
    again = await change(api, product, 1, "activate")
    body = assert_problem(again, 422, "invalid_transition")
    assert body["context"] == {"current": "retired", "target": "active"}


async def test_unknown_products_and_versions_are_404(api: Api) -> None:
    product = await created(api)
    admin = await api.admin()
    missing = str(uuid.uuid4())
    body = assert_problem(
        await api.http.get(f"/products/{missing}", headers=admin), 404, "not_found"
    )
    assert body["context"] == {"product_id": missing}
    body = assert_problem(await change(api, product, 9, "activate"), 404, "not_found")
    assert body["context"] == {"product_id": product["product_id"], "version": 9}
    assert_problem(await revise(api, {**product, "product_id": missing}), 404, "not_found")
    zero = await api.http.get(f"/products/{product['product_id']}/versions/0", headers=admin)
    assert_problem(zero, 422, "validation_failed")


async def test_a_revision_keeps_the_products_kind(api: Api) -> None:
    product = await created(api)
    body = assert_problem(await revise(api, product, "term_loan"), 422, "invalid_input")
    assert body["context"] == {"field": "kind"}
    with_currency = product_body()
    response = await api.http.post(
        f"/products/{product['product_id']}/versions",
        headers=await api.admin(),
        json=with_currency,
    )
    assert field_errors(response) == {"body.deposit.currency"}


# --- listing ----------------------------------------------------------------------------------


async def test_list_filters_and_pages_with_a_cursor(api: Api) -> None:
    admin = await api.admin()
    mine = [await created(api, currency="NOK", name=f"Saver {n}") for n in range(3)]
    loan = await created(api, kind="term_loan", currency="NOK")
    await change(api, mine[1], 1, "activate")

    seen: list[tuple[str, int]] = []
    params: dict[str, Any] = {"currency": "NOK", "limit": 2}
    for _ in range(100):
        response = await api.http.get("/products", headers=admin, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [(item["product_id"], item["version"]) for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    ours = [(p["product_id"], 1) for p in (loan, mine[2], mine[1], mine[0])]
    assert [entry for entry in seen if entry in ours] == ours  # newest first
    assert len(seen) == len(set(seen))

    active = await api.http.get(
        "/products", headers=admin, params={"currency": "NOK", "status": "active"}
    )
    assert mine[1]["product_id"] in {item["product_id"] for item in active.json()["items"]}
    assert all(item["status"] == "active" for item in active.json()["items"])
    loans = await api.http.get(
        "/products", headers=admin, params={"currency": "NOK", "kind": "term_loan"}
    )
    assert {item["kind"] for item in loans.json()["items"]} == {"term_loan"}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"cursor": "not-a-cursor"}, 400, "bad_cursor"),
        ({"cursor": "WyJ4IiwgMV0"}, 400, "bad_cursor"),  # ["x", 1]
        (
            {"cursor": "WyIwMTkwZjVhNC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCAiMSJd"},
            400,
            "bad_cursor",
        ),  # a version that is a string
        ({"limit": "101"}, 422, "validation_failed"),
        ({"status": "withdrawn"}, 422, "validation_failed"),
        ({"currency": "usd"}, 422, "validation_failed"),
    ],
    ids=["garbage", "bad id", "string version", "limit", "status", "currency"],
)
async def test_list_refuses_bad_parameters(
    api: Api, params: dict[str, str], status: int, code: str
) -> None:
    response = await api.http.get("/products", headers=await api.admin(), params=params)
    assert_problem(response, status, code)


# --- accounts opened from a product -----------------------------------------------------------


async def test_accounts_keep_the_version_they_were_opened_under(api: Api) -> None:
    product = await active_product(api)  # a minimum opening balance of 100.00
    opening = {"opening_deposit": money("100.00")}
    response = await open_from(api, product["product_id"], **opening)
    assert response.status_code == 201, response.text
    early = response.json()
    assert early["product_type"] == "savings"
    assert (early["product_id"], early["product_version"]) == (product["product_id"], 1)

    revised = await revise(api, product, deposit_type="checking")
    assert revised.status_code == 201, revised.text
    assert (await change(api, product, 2, "activate")).status_code == 200
    late = (await open_from(api, product["product_id"], **opening)).json()
    assert (late["product_type"], late["product_version"]) == ("checking", 2)

    again = await api.http.get(f"/accounts/{early['account_id']}", headers=await api.admin())
    assert again.json() == early


async def test_opening_by_product_type_reports_no_product(api: Api) -> None:
    account = await api.account()
    assert (account["product_type"], account["product_id"], account["product_version"]) == (
        "checking",
        None,
        None,
    )


async def test_opening_from_a_product_that_cannot_open_it_is_refused(api: Api) -> None:
    draft = await created(api)
    body = assert_problem(await open_from(api, draft["product_id"]), 422, "product_not_active")
    assert body["context"] == {"product_id": draft["product_id"]}

    retired = await active_product(api)
    await change(api, retired, 1, "retire")
    assert_problem(await open_from(api, retired["product_id"]), 422, "product_not_active")

    for kind in ("term_loan", "credit_line"):
        lending = await active_product(api, kind=kind)
        refused = await open_from(api, lending["product_id"])
        assert_problem(refused, 422, "wrong_product_kind", product_id=lending["product_id"])

    euro = await active_product(api, currency="EUR")
    assert_problem(await open_from(api, euro["product_id"], "USD"), 422, "currency_mismatch")

    savings = await active_product(api)
    both = await open_from(api, savings["product_id"], product_type="savings")
    assert_problem(both, 422, "invalid_input", field="product_id")
    customer = await api.customer()
    neither = await api.http.post(
        "/accounts",
        headers=await api.admin(),
        json={"customer_id": customer["customer_id"], "currency": "USD", "name": "x"},
    )
    assert_problem(neither, 422, "invalid_input", field="product_id")
    missing = str(uuid.uuid4())
    assert_problem(await open_from(api, missing), 404, "not_found", product_id=missing)
    listed = await api.http.get(
        f"/customers/{customer['customer_id']}/accounts", headers=await api.admin()
    )
    assert listed.json() == []


# --- who may read and write -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["teller", "loan_officer", "auditor", "customer_service"])
async def test_reading_roles_read_the_catalogue_and_cannot_change_it(api: Api, role: str) -> None:
    product = await created(api)
    headers = await api.as_role(role)
    for path in (f"/products/{product['product_id']}", "/products"):
        response = await api.http.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
    refusals = [
        await create(api, product_body(), headers),
        await api.http.post(
            f"/products/{product['product_id']}/versions/1/activate", headers=headers
        ),
    ]
    for response in refusals:
        assert_problem(response, 403, "forbidden", permission="products:write")
    assert (await get_version(api, product, 1))["status"] == "draft"


@pytest.mark.parametrize("role", ["admin", "manager"])
async def test_administrators_and_managers_keep_the_catalogue(api: Api, role: str) -> None:
    headers = await api.as_role(role)
    response = await create(api, product_body(), headers)
    assert response.status_code == 201, response.text
    product = response.json()
    activated = await api.http.post(
        f"/products/{product['product_id']}/versions/1/activate", headers=headers
    )
    assert activated.status_code == 200, activated.text


async def test_a_user_without_products_read_is_refused(api: Api) -> None:
    _, headers = await api.new_user()
    response = await api.http.get("/products", headers=headers)
    assert_problem(response, 403, "forbidden", permission="products:read")


# --- the OpenAPI document ---------------------------------------------------------------------


async def test_the_openapi_document_describes_products_exactly(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()
    operations = {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        if path.startswith("/products")
        for method, operation in methods.items()
    }
    assert {key: op["operationId"] for key, op in operations.items()} == {
        ("POST", "/products"): "products_create",
        ("GET", "/products"): "products_list",
        ("GET", "/products/{product_id}"): "products_get",
        ("GET", "/products/{product_id}/versions/{version}"): "products_get_version",
        ("POST", "/products/{product_id}/versions"): "products_revise",
        ("POST", "/products/{product_id}/versions/{version}/activate"): "products_activate",
        ("POST", "/products/{product_id}/versions/{version}/retire"): "products_retire",
    }
    for (method, _), operation in operations.items():
        expected = "products:read" if method == "GET" else "products:write"
        assert operation["x-permission"] == expected
    rates = [
        prop
        for name, schema in document["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if field in {"rate", "annual_rate"} and prop.get("type") == "string"
    ]
    assert len(rates) >= 4
    for prop in rates:
        assert re.fullmatch(prop["pattern"].strip("^$"), "0.0525")
        assert not re.fullmatch(prop["pattern"].strip("^$"), "5e-2")
