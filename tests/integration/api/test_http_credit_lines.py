"""/credit-lines over HTTP: opening a line from a credit-line product, draws and payments as
money strings under an Idempotency-Key (replayed, never posted twice), the refusals as
problems, reading and listing lines and their statements, freezing and closing, and who may
do what. Each test makes its own customers, products and lines."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.api import Api, key, money
from support.problems import assert_problem
from support.products import product_body

pytestmark = pytest.mark.http


async def active_credit_line_product(api: Api, **changes: Any) -> dict[str, Any]:
    response = await api.http.post(
        "/products", headers=await api.admin(), json=product_body("credit_line", **changes)
    )
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    activated = await api.http.post(
        f"/products/{product['product_id']}/versions/1/activate", headers=await api.admin()
    )
    assert activated.status_code == 200, activated.text
    return product


async def open_line(
    api: Api, limit: str = "1000.00", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    product = await active_credit_line_product(api)
    account = await api.funded_account("500.00")
    response = await api.http.post(
        "/credit-lines",
        headers=headers or await api.admin(),
        json={
            "customer_id": account["customer_id"],
            "product_id": product["product_id"],
            "deposit_account_id": account["account_id"],
            "limit": money(limit),
        },
    )
    assert response.status_code == 201, response.text
    line: dict[str, Any] = response.json()
    return line


async def move(
    api: Api,
    line: dict[str, Any],
    action: str,
    amount: str,
    idempotency_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await api.http.post(
        f"/credit-lines/{line['credit_line_id']}/{action}",
        headers={**(headers or await api.admin()), "Idempotency-Key": idempotency_key or key()},
        json={"amount": money(amount)},
    )


async def test_a_line_opens_draws_and_is_paid_in_money_strings(api):
    line = await open_line(api)
    assert (line["status"], line["limit"], line["balance"], line["available"]) == (
        "active",
        money("1000.00"),
        money("0.00"),
        money("1000.00"),
    )
    assert line["terms"]["annual_rate"] == "0.1899"
    assert line["terms"]["minimum_payment_floor"] == money("25.00")

    drawn = await move(api, line, "draw", "400.00")
    paid = await move(api, line, "pay", "150.00")

    assert drawn.status_code == 201, drawn.text
    assert (drawn.json()["kind"], drawn.json()["principal"]) == ("draw", money("400.00"))
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["principal"], body["interest"], body["fees"]) == (
        money("150.00"),
        money("0.00"),
        money("0.00"),
    )
    assert (body["credit_line"]["balance"], body["credit_line"]["available"]) == (
        money("250.00"),
        money("750.00"),
    )
    # 500.00 funded + 400.00 drawn - 150.00 paid
    assert (await api.balances(line["deposit_account_id"]))["posted"] == "750.00"


async def test_a_repeated_draw_is_answered_from_the_first_and_posted_once(api):
    line = await open_line(api)
    same_key = key()

    first = await move(api, line, "draw", "100.00", same_key)
    again = await move(api, line, "draw", "100.00", same_key)
    other = await move(api, line, "draw", "100.01", same_key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert_problem(other, 422, "idempotency_key_reused")
    got = await api.http.get(f"/credit-lines/{line['credit_line_id']}", headers=await api.admin())
    assert got.json()["principal"] == money("100.00")


async def test_refusals_are_problems(api):
    line = await open_line(api, limit="100.00")

    assert_problem(await move(api, line, "draw", "100.01"), 422, "credit_limit_exceeded")
    assert_problem(await move(api, line, "pay", "0.01"), 422, "overpayment_refused")
    assert_problem(await move(api, line, "draw", "1.001"), 422, "invalid_amount")
    no_key = await api.http.post(
        f"/credit-lines/{line['credit_line_id']}/draw",
        headers=await api.admin(),
        json={"amount": money("1.00")},
    )
    assert no_key.status_code == 422
    unknown = await api.http.get(
        "/credit-lines/00000000-0000-7000-8000-000000000000", headers=await api.admin()
    )
    assert_problem(unknown, 404, "not_found")


async def test_a_frozen_line_draws_nothing_and_a_line_owing_nothing_closes(api):
    line = await open_line(api)
    path = f"/credit-lines/{line['credit_line_id']}"
    headers = await api.admin()

    frozen = await api.http.post(f"{path}/freeze", headers=headers, json={"reason": "fraud"})
    refused = await move(api, line, "draw", "1.00")
    closed = await api.http.post(f"{path}/close", headers=headers, json={"reason": "asked"})

    assert (frozen.status_code, frozen.json()["status"]) == (200, "frozen")
    assert_problem(refused, 422, "invalid_transition")
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")


async def test_lines_are_listed_by_customer_and_their_statements_read(api):
    line = await open_line(api)
    headers = await api.admin()

    listed = await api.http.get(
        "/credit-lines",
        headers=headers,
        params={"customer_id": line["customer_id"], "status": "active", "limit": "10"},
    )
    statements = await api.http.get(
        f"/credit-lines/{line['credit_line_id']}/statements", headers=headers
    )
    too_many = await api.http.get("/credit-lines", headers=headers, params={"limit": "101"})

    assert listed.status_code == 200
    assert [item["credit_line_id"] for item in listed.json()["items"]] == [line["credit_line_id"]]
    assert (statements.status_code, statements.json()) == (200, [])
    assert too_many.status_code == 422


async def test_tellers_read_lines_and_loan_officers_service_them(api):
    line = await open_line(api)
    teller = await api.as_role("teller")
    officer = await api.as_role("loan_officer")

    read = await api.http.get(f"/credit-lines/{line['credit_line_id']}", headers=teller)
    teller_draw = await move(api, line, "draw", "10.00", headers=teller)
    officer_draw = await move(api, line, "draw", "10.00", headers=officer)

    assert read.status_code == 200
    assert_problem(teller_draw, 403, "forbidden")
    assert officer_draw.status_code == 201, officer_draw.text
