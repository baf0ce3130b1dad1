"""/term-deposits over HTTP: placing a deposit from a term-deposit product under an
Idempotency-Key (replayed, never placed twice), reading and listing, closing early with the
penalty, the refusals as problems, and who may do what. Each test makes its own customers,
products and deposits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.api import Api, key, money
from support.problems import assert_problem
from support.products import product_body

pytestmark = pytest.mark.http

TERM_DEPOSIT = {
    "deposit_type": "term_deposit",
    "compounding": "none",
    "posting_frequency": "at_maturity",
    "transaction_fee": money("0.00"),
    "minimum_opening_balance": money("500.00"),
    "term_deposit": {
        "term": {"length": 6, "unit": "months"},
        "maturity_action": "payout",
        "early_withdrawal_penalty": {"kind": "fixed", "amount": money("25.00")},
    },
}


async def term_deposit_product(api: Api) -> dict[str, Any]:
    headers = await api.admin()
    response = await api.http.post(
        "/products", headers=headers, json=product_body("deposit", **TERM_DEPOSIT)
    )
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    activated = await api.http.post(
        f"/products/{product['product_id']}/versions/1/activate", headers=headers
    )
    assert activated.status_code == 200, activated.text
    return product


async def place(
    api: Api,
    amount: str = "1000.00",
    *,
    idempotency_key: str | None = None,
    headers: dict[str, str] | None = None,
    account: dict[str, Any] | None = None,
    product: dict[str, Any] | None = None,
) -> tuple[httpx.Response, dict[str, Any]]:
    account = account or await api.funded_account("2000.00")
    product = product or await term_deposit_product(api)
    response = await api.http.post(
        "/term-deposits",
        headers={**(headers or await api.admin()), "Idempotency-Key": idempotency_key or key()},
        json={
            "customer_id": account["customer_id"],
            "product_id": product["product_id"],
            "amount": money(amount),
            "funding_account_id": account["account_id"],
        },
    )
    return response, account


async def balance_of(api: Api, account_id: str) -> str:
    response = await api.http.get(f"/accounts/{account_id}", headers=await api.admin())
    assert response.status_code == 200, response.text
    amount: str = response.json()["balances"]["posted"]["amount"]
    return amount


async def test_a_deposit_is_placed_read_and_listed(api):
    response, account = await place(api, "1500.00")
    assert response.status_code == 201, response.text
    deposit = response.json()
    assert (deposit["status"], deposit["principal"], deposit["balance"]) == (
        "active",
        money("1500.00"),
        money("1500.00"),
    )
    assert deposit["term"] == {"length": 6, "unit": "months"}
    assert (deposit["maturity_action"], deposit["term_number"]) == ("payout", 1)
    assert deposit["payout_account_id"] == account["account_id"]
    assert deposit["account_number"]
    assert await balance_of(api, account["account_id"]) == "500.00"

    read = await api.http.get(
        f"/term-deposits/{deposit['term_deposit_id']}", headers=await api.admin()
    )
    assert read.json() == deposit
    listed = await api.http.get(
        "/term-deposits",
        params={"customer_id": account["customer_id"], "status": "active"},
        headers=await api.admin(),
    )
    assert [item["term_deposit_id"] for item in listed.json()["items"]] == [
        deposit["term_deposit_id"]
    ]
    # not an ordinary account: the accounts API does not serve it
    plain = await api.http.get(f"/accounts/{deposit['term_deposit_id']}", headers=await api.admin())
    assert_problem(plain, 404, "not_found")


async def test_a_replayed_key_places_once(api):
    repeated = key()
    first, account = await place(api, idempotency_key=repeated)
    product_id = first.json()["product_id"]
    again = await api.http.post(
        "/term-deposits",
        headers={**await api.admin(), "Idempotency-Key": repeated},
        json={
            "customer_id": account["customer_id"],
            "product_id": product_id,
            "amount": money("1000.00"),
            "funding_account_id": account["account_id"],
        },
    )
    assert (again.status_code, again.json()) == (201, first.json())
    assert await balance_of(api, account["account_id"]) == "1000.00"


async def test_refusals_are_problems(api):
    below, _ = await place(api, "499.99")
    assert_problem(below, 422, "below_minimum_opening_balance")
    too_many_decimals, _ = await place(api, "600.001")
    assert_problem(too_many_decimals, 422, "invalid_amount")
    more_than_held, _ = await place(api, "2000.01")
    assert_problem(more_than_held, 422, "insufficient_funds")
    unknown = await api.http.get(
        "/term-deposits/0190d5a0-0000-7000-8000-000000000000", headers=await api.admin()
    )
    assert_problem(unknown, 404, "not_found")


async def test_closing_early_charges_the_penalty_once(api):
    response, account = await place(api, "1000.00")
    deposit = response.json()
    closing = key()
    url = f"/term-deposits/{deposit['term_deposit_id']}/close"
    headers = {**await api.admin(), "Idempotency-Key": closing}

    closed = await api.http.post(url, headers=headers, json={"reason": "moving abroad"})
    again = await api.http.post(url, headers=headers, json={"reason": "moving abroad"})
    twice = await api.http.post(
        url, headers={**await api.admin(), "Idempotency-Key": key()}, json={}
    )

    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["balance"]) == ("closed_early", money("0.00"))
    assert closed.json()["account_status"] == "closed"
    assert (again.status_code, again.json()) == (200, closed.json())
    assert_problem(twice, 422, "invalid_transition")
    assert await balance_of(api, account["account_id"]) == "1975.00"  # 1000 back less 25


async def test_tellers_place_deposits_within_their_limit_and_auditors_only_read(api):
    teller = await api.as_role("teller")
    placed, _ = await place(api, "1000.00", headers=teller)
    assert placed.status_code == 201, placed.text
    account = await api.funded_account("20000.00")
    above_limit, _ = await place(api, "10000.01", headers=teller, account=account)
    assert_problem(above_limit, 403, "amount_above_role_limit")

    auditor = await api.as_role("auditor")
    read = await api.http.get(f"/term-deposits/{placed.json()['term_deposit_id']}", headers=auditor)
    assert read.status_code == 200
    refused, _ = await place(api, "1000.00", headers=auditor)
    assert_problem(refused, 403, "forbidden")
