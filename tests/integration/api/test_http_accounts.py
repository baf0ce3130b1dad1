"""/accounts over HTTP: opening, balances now and at a past moment, statements, status
changes and holds. Each test opens its own accounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from support.api import Api, key, money
from support.problems import assert_problem, field_errors
from support.products import product_body

pytestmark = pytest.mark.http


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso(value: datetime) -> str:
    return value.isoformat()


async def open_account(api: Api, **fields: Any) -> httpx.Response:
    customer = await api.customer()
    return await api.http.post(
        "/accounts",
        headers=await api.admin(),
        json={
            "customer_id": customer["customer_id"],
            "product_type": "savings",
            "currency": "USD",
            "name": "Rainy day",
            **fields,
        },
    )


async def post_money(
    api: Api, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api.http.post(
        path,
        headers={**(headers or await api.admin()), "Idempotency-Key": key()},
        json=body,
    )


# --- opening ------------------------------------------------------------------------------


async def test_open_returns_an_active_account_with_zero_balances(api: Api) -> None:
    customer = await api.customer()
    response = await api.http.post(
        "/accounts",
        headers=await api.as_role("teller"),
        json={
            "customer_id": customer["customer_id"],
            "product_type": "savings",
            "currency": "USD",
            "name": "  Rainy day ",
        },
    )
    assert response.status_code == 201, response.text
    account = response.json()
    number = account["account_number"]
    assert len(number) == 12
    assert number.isdigit()
    assert number[0] != "0"
    assert int(number[-2:]) == 98 - (int(number[:-2]) * 100) % 97  # ISO 7064 MOD 97-10
    zero = {"amount": "0.00", "currency": "USD"}
    assert account["balances"] == {"posted": zero, "held": zero, "available": zero}
    assert account["overdraft_limit"] == zero
    assert account["min_balance"] is None
    assert account["daily_limit"] is None
    assert account["status"] == "active"
    assert account["product_type"] == "savings"
    assert account["currency"] == "USD"
    assert account["name"] == "Rainy day"
    assert account["customer_id"] == customer["customer_id"]

    fetched = await api.http.get(f"/accounts/{account['account_id']}", headers=await api.admin())
    assert fetched.status_code == 200
    assert fetched.json() == account


async def test_open_with_limits_returns_them_as_money(api: Api) -> None:
    response = await open_account(
        api,
        overdraft_limit=money("50.00"),
        min_balance=money("10.5"),
        daily_limit=money("500"),
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["overdraft_limit"] == {"amount": "50.00", "currency": "USD"}
    assert account["min_balance"] == {"amount": "10.50", "currency": "USD"}
    assert account["daily_limit"] == {"amount": "500.00", "currency": "USD"}
    assert account["balances"]["available"] == {"amount": "50.00", "currency": "USD"}


async def test_open_with_explicit_zero_limits(api: Api) -> None:
    """An overdraft limit and a minimum balance of zero are ordinary values (the service
    checks only that they are not negative); zero differs from "the bank's default"."""
    response = await open_account(api, overdraft_limit=money("0.00"), min_balance=money("0.00"))
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["overdraft_limit"] == {"amount": "0.00", "currency": "USD"}
    assert account["min_balance"] == {"amount": "0.00", "currency": "USD"}


async def test_open_in_a_currency_without_decimals(api: Api) -> None:
    response = await open_account(api, currency="JPY", daily_limit=money("150000", "JPY"))
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["balances"]["posted"] == {"amount": "0", "currency": "JPY"}
    assert account["daily_limit"] == {"amount": "150000", "currency": "JPY"}


@pytest.mark.parametrize("field", ["overdraft_limit", "min_balance", "daily_limit"])
async def test_open_refuses_a_limit_in_another_currency(api: Api, field: str) -> None:
    response = await open_account(api, **{field: money("10.00", "EUR")})
    body = assert_problem(response, 422, "invalid_input")
    assert body["context"] == {"field": field}


async def test_open_refuses_a_limit_with_too_many_decimals(api: Api) -> None:
    response = await open_account(api, overdraft_limit=money("10.001"))
    assert_problem(response, 422, "invalid_amount")


async def test_open_for_unknown_customer_is_404(api: Api) -> None:
    missing = uuid.uuid4()
    response = await api.http.post(
        "/accounts",
        headers=await api.admin(),
        json={
            "customer_id": str(missing),
            "product_type": "checking",
            "currency": "USD",
            "name": "x",
        },
    )
    body = assert_problem(response, 404, "not_found")
    assert body["context"] == {"customer_id": str(missing)}


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"currency": "ABC"}, 422, "unknown_currency", None),
        ({"currency": "usd"}, 422, "validation_failed", "body.currency"),
        ({"product_type": "loan"}, 422, "validation_failed", "body.product_type"),
        ({"name": ""}, 422, "validation_failed", "body.name"),
        ({"colour": "red"}, 422, "validation_failed", "body.colour"),
    ],
)
async def test_open_refuses_malformed_requests(
    api: Api, fields: dict[str, str], status: int, code: str, field: str | None
) -> None:
    response = await open_account(api, **fields)
    assert_problem(response, status, code)
    if field is not None:
        assert field_errors(response) == {field}


async def test_open_needs_accounts_open(api: Api) -> None:
    customer = await api.customer()
    response = await api.http.post(
        "/accounts",
        headers=await api.as_role("customer_service"),
        json={
            "customer_id": customer["customer_id"],
            "product_type": "checking",
            "currency": "USD",
            "name": "x",
        },
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["context"] == {"permission": "accounts:open"}


async def test_open_with_an_idempotency_key_is_replayed(api: Api) -> None:
    customer = await api.customer()
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {
        "customer_id": customer["customer_id"],
        "product_type": "checking",
        "currency": "USD",
        "name": "Everyday",
    }
    first = await api.http.post("/accounts", headers=headers, json=body)
    second = await api.http.post("/accounts", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    listed = await api.http.get(
        f"/customers/{customer['customer_id']}/accounts", headers=await api.admin()
    )
    assert [a["account_id"] for a in listed.json()] == [first.json()["account_id"]]


# --- opening deposits -----------------------------------------------------------------------


async def minimum_product(api: Api, minimum: str = "100.00") -> str:
    """An active savings product with this minimum opening balance; its id."""
    created = await api.http.post(
        "/products",
        headers=await api.admin(),
        json=product_body(minimum_opening_balance=money(minimum)),
    )
    assert created.status_code == 201, created.text
    product_id: str = created.json()["product_id"]
    activated = await api.http.post(
        f"/products/{product_id}/versions/1/activate", headers=await api.admin()
    )
    assert activated.status_code == 200, activated.text
    return product_id


async def open_with(
    api: Api, headers: dict[str, str] | None = None, **fields: Any
) -> tuple[httpx.Response, str]:
    """POST /accounts for a new customer, under a fresh Idempotency-Key; the response and
    the customer's id."""
    customer = await api.customer()
    response = await api.http.post(
        "/accounts",
        headers={**(headers or await api.admin()), "Idempotency-Key": key()},
        json={
            "customer_id": customer["customer_id"],
            "currency": "USD",
            "name": "With money",
            **fields,
        },
    )
    return response, customer["customer_id"]


async def accounts_of(api: Api, customer_id: str) -> list[dict[str, Any]]:
    listed = await api.http.get(f"/customers/{customer_id}/accounts", headers=await api.admin())
    assert listed.status_code == 200, listed.text
    result: list[dict[str, Any]] = listed.json()
    return result


async def test_a_product_with_a_minimum_refuses_less_and_opens_nothing(api: Api) -> None:
    product_id = await minimum_product(api)
    for fields in ({}, {"opening_deposit": money("99.99")}):
        response, customer_id = await open_with(api, product_id=product_id, **fields)
        body = assert_problem(response, 422, "below_minimum_opening_balance")
        assert body["context"]["minimum_opening_minor"] == 100_00
        assert await accounts_of(api, customer_id) == []


async def test_the_minimum_in_cash_opens_the_account_with_that_balance(api: Api) -> None:
    product_id = await minimum_product(api)
    response, customer_id = await open_with(
        api, await api.as_role("teller"), product_id=product_id, opening_deposit=money("100.00")
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["balances"]["posted"] == money("100.00")
    assert account["balances"]["available"] == money("100.00")
    assert [a["account_id"] for a in await accounts_of(api, customer_id)] == [account["account_id"]]
    lines = await api.http.get(
        f"/accounts/{account['account_id']}/transactions", headers=await api.admin()
    )
    assert lines.status_code == 200, lines.text
    [line] = lines.json()["items"]
    assert line["amount"] == money("100.00")


async def test_a_funding_account_pays_the_opening_deposit(api: Api) -> None:
    product_id = await minimum_product(api)
    payer = await api.funded_account("300.00")
    response, _ = await open_with(
        api,
        product_id=product_id,
        opening_deposit=money("125.50"),
        funding_account_id=payer["account_id"],
    )
    assert response.status_code == 201, response.text
    assert response.json()["balances"]["posted"] == money("125.50")
    assert (await api.balances(payer["account_id"]))["posted"] == "174.50"


async def test_an_opening_deposit_in_another_currency_is_refused(api: Api) -> None:
    product_id = await minimum_product(api)
    euros = await api.funded_account("500.00", currency="EUR")
    for fields in (
        {"opening_deposit": money("100.00", "EUR")},
        {"opening_deposit": money("100.00"), "funding_account_id": euros["account_id"]},
    ):
        response, customer_id = await open_with(api, product_id=product_id, **fields)
        assert_problem(response, 422, "currency_mismatch")
        assert await accounts_of(api, customer_id) == []
    assert (await api.balances(euros["account_id"]))["posted"] == "500.00"


async def test_a_replayed_opening_returns_the_same_account_and_posts_once(api: Api) -> None:
    product_id = await minimum_product(api)
    payer = await api.funded_account("400.00")
    customer = await api.customer()
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {
        "customer_id": customer["customer_id"],
        "product_id": product_id,
        "currency": "USD",
        "name": "Once",
        "opening_deposit": money("150.00"),
        "funding_account_id": payer["account_id"],
    }
    first = await api.http.post("/accounts", headers=headers, json=body)
    second = await api.http.post("/accounts", headers=headers, json=body)
    assert first.status_code == second.status_code == 201, first.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert len(await accounts_of(api, customer["customer_id"])) == 1
    assert (await api.balances(payer["account_id"]))["posted"] == "250.00"


async def test_an_opening_deposit_needs_a_key_and_positive_money(api: Api) -> None:
    customer = await api.customer()
    body = {
        "customer_id": customer["customer_id"],
        "product_type": "savings",
        "currency": "USD",
        "name": "x",
        "opening_deposit": money("10.00"),
    }
    no_key = await api.http.post("/accounts", headers=await api.admin(), json=body)
    assert_problem(no_key, 422, "invalid_input", field="idempotency_key")
    for amount in ("0.00", "10.001"):
        response, _ = await open_with(api, product_type="savings", opening_deposit=money(amount))
        assert response.status_code == 422, response.text
    assert await accounts_of(api, customer["customer_id"]) == []


async def test_an_opening_deposit_needs_the_permission_and_limit_to_move_it(api: Api) -> None:
    name = f"opener_{uuid.uuid4().hex[:8]}"
    created = await api.http.put(
        f"/auth/roles/{name}",
        headers=await api.admin(),
        json={
            "description": "opens accounts, moves no money",
            "permissions": ["accounts:open", "customers:read", "accounts:read"],
            "amount_limit": None,
        },
    )
    assert created.status_code == 200, created.text
    _, opener = await api.new_user(name)
    payer = await api.funded_account("50.00")
    cash, _ = await open_with(api, opener, product_type="savings", opening_deposit=money("1.00"))
    assert assert_problem(cash, 403, "forbidden")["context"] == {
        "permission": "transactions:deposit"
    }
    funded, _ = await open_with(
        api,
        opener,
        product_type="savings",
        opening_deposit=money("1.00"),
        funding_account_id=payer["account_id"],
    )
    assert assert_problem(funded, 403, "forbidden")["context"] == {
        "permission": "transactions:transfer"
    }
    plain, _ = await open_with(api, opener, product_type="savings")
    assert plain.status_code == 201, plain.text  # no money moves: accounts:open is enough

    over, customer_id = await open_with(
        api, await api.as_role("teller"), product_type="savings", opening_deposit=money("10000.01")
    )
    assert assert_problem(over, 403, "amount_above_role_limit")["context"] == {"limit": "10000.00"}
    assert await accounts_of(api, customer_id) == []


# --- reading ------------------------------------------------------------------------------


async def test_balances_after_deposits_and_holds(api: Api) -> None:
    account = await api.account(overdraft_limit=money("50.00"))
    account_id = account["account_id"]
    await api.deposit(account_id, "100.00")
    await api.deposit(account_id, "25.5")
    hold = await post_money(api, f"/accounts/{account_id}/holds", {"amount": money("30.25")})
    assert hold.status_code == 201, hold.text

    response = await api.http.get(f"/accounts/{account_id}", headers=await api.as_role("auditor"))
    assert response.status_code == 200
    assert response.json()["balances"] == {
        "posted": {"amount": "125.50", "currency": "USD"},
        "held": {"amount": "30.25", "currency": "USD"},
        "available": {"amount": "145.25", "currency": "USD"},
    }
    assert moment(response.json()["updated_at"]) > moment(account["updated_at"])


async def test_get_unknown_account_is_404(api: Api) -> None:
    missing = uuid.uuid4()
    response = await api.http.get(f"/accounts/{missing}", headers=await api.admin())
    body = assert_problem(response, 404, "not_found")
    assert body["context"] == {"account_id": str(missing)}


async def test_the_banks_own_ledger_accounts_are_not_served(api: Api) -> None:
    account = await api.account()
    deposit = await api.deposit(account["account_id"], "1.00")
    (cash,) = [
        line["account_id"]
        for line in deposit["lines"]
        if line["account_id"] != account["account_id"]
    ]
    admin = await api.admin()
    for path in (f"/accounts/{cash}", f"/accounts/{cash}/transactions"):
        assert_problem(await api.http.get(path, headers=admin), 404, "not_found")
    as_of = await api.http.get(
        f"/accounts/{cash}/balance", headers=admin, params={"as_of": iso(datetime.now(UTC))}
    )
    assert_problem(as_of, 404, "not_found")
    freeze = await api.http.post(f"/accounts/{cash}/freeze", headers=admin, json={"reason": "x"})
    assert_problem(freeze, 404, "not_found")
    hold = await post_money(api, f"/accounts/{cash}/holds", {"amount": money("1.00")})
    assert_problem(hold, 404, "not_found")


async def test_get_needs_accounts_read(api: Api) -> None:
    account = await api.account()
    _, headers = await api.new_user()
    response = await api.http.get(f"/accounts/{account['account_id']}", headers=headers)
    body = assert_problem(response, 403, "forbidden")
    assert body["context"] == {"permission": "accounts:read"}


# --- balance at a moment ------------------------------------------------------------------


async def line_times(api: Api, account_id: str) -> list[datetime]:
    """When each of the account's lines was posted, oldest first (the account's own clock,
    which the balance at a moment and the statement filters are defined on)."""
    response = await api.http.get(f"/accounts/{account_id}/transactions", headers=await api.admin())
    return [moment(line["posted_at"]) for line in reversed(response.json()["items"])]


async def test_balance_as_of_before_between_and_after_postings(api: Api) -> None:
    account = await api.account()
    account_id = account["account_id"]
    await api.deposit(account_id, "100.00")
    await api.deposit(account_id, "0.01")
    first_at, second_at = await line_times(api, account_id)
    assert first_at < second_at

    async def posted_at(when: datetime) -> dict[str, Any]:
        response = await api.http.get(
            f"/accounts/{account_id}/balance",
            headers=await api.as_role("auditor"),
            params={"as_of": iso(when)},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["account_id"] == account_id
        assert moment(body["as_of"]) == when
        return body["posted"]

    zero = {"amount": "0.00", "currency": "USD"}
    assert await posted_at(datetime(2000, 1, 1, tzinfo=UTC)) == zero
    assert await posted_at(first_at - timedelta(microseconds=1)) == zero
    assert await posted_at(first_at) == {"amount": "100.00", "currency": "USD"}
    between = second_at - timedelta(microseconds=1)
    assert await posted_at(between) == {"amount": "100.00", "currency": "USD"}
    assert await posted_at(second_at) == {"amount": "100.01", "currency": "USD"}
    later = second_at + timedelta(days=1)
    assert await posted_at(later) == {"amount": "100.01", "currency": "USD"}
    # the same instant written in another time zone
    india = timezone(timedelta(hours=5, minutes=30))
    assert await posted_at(between.astimezone(india)) == {"amount": "100.00", "currency": "USD"}


async def test_balance_as_of_a_transactions_posting_time_includes_it(api: Api) -> None:
    account = await api.account()
    entry = await api.deposit(account["account_id"], "7.00")
    response = await api.http.get(
        f"/accounts/{account['account_id']}/balance",
        headers=await api.admin(),
        params={"as_of": entry["posted_at"]},
    )
    assert response.json()["posted"] == {"amount": "7.00", "currency": "USD"}


async def test_balance_as_of_needs_a_time_zone(api: Api) -> None:
    account = await api.account()
    response = await api.http.get(
        f"/accounts/{account['account_id']}/balance",
        headers=await api.admin(),
        params={"as_of": "2024-01-01T00:00:00"},
    )
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {"query.as_of"}


async def test_balance_as_of_needs_a_moment(api: Api) -> None:
    account = await api.account()
    admin = await api.admin()
    missing = await api.http.get(f"/accounts/{account['account_id']}/balance", headers=admin)
    assert_problem(missing, 422, "validation_failed")
    assert field_errors(missing) == {"query.as_of"}
    garbage = await api.http.get(
        f"/accounts/{account['account_id']}/balance", headers=admin, params={"as_of": "soon"}
    )
    assert_problem(garbage, 422, "validation_failed")
    assert field_errors(garbage) == {"query.as_of"}


async def test_balance_as_of_for_unknown_account_is_404(api: Api) -> None:
    response = await api.http.get(
        f"/accounts/{uuid.uuid4()}/balance",
        headers=await api.admin(),
        params={"as_of": "2024-01-01T00:00:00Z"},
    )
    assert_problem(response, 404, "not_found")


# --- statement ----------------------------------------------------------------------------


async def statement_account(api: Api) -> tuple[str, list[dict[str, Any]]]:
    """An account with three postings: +100.00, -30.00, +5.25 (posted entries returned)."""
    account = await api.account()
    account_id = account["account_id"]
    entries = [await api.deposit(account_id, "100.00")]
    withdrawal = await post_money(
        api,
        "/transactions/withdraw",
        {"account_id": account_id, "amount": money("30.00"), "reference": "rent", "channel": "atm"},
    )
    assert withdrawal.status_code == 201, withdrawal.text
    entries.append(withdrawal.json())
    entries.append(await api.deposit(account_id, "5.25"))
    return account_id, entries


async def test_statement_lines_newest_first(api: Api) -> None:
    account_id, entries = await statement_account(api)
    response = await api.http.get(
        f"/accounts/{account_id}/transactions", headers=await api.as_role("auditor")
    )
    assert response.status_code == 200
    page = response.json()
    assert page["next_cursor"] is None
    lines = page["items"]
    assert [line["sequence"] for line in lines] == [3, 2, 1]
    assert [line["transaction_id"] for line in lines] == [
        e["transaction_id"] for e in reversed(entries)
    ]
    assert [line["type"] for line in lines] == ["deposit", "withdrawal", "deposit"]
    assert [line["direction"] for line in lines] == ["credit", "debit", "credit"]
    assert [line["amount"]["amount"] for line in lines] == ["5.25", "30.00", "100.00"]
    assert [line["balance_after"]["amount"] for line in lines] == ["75.25", "70.00", "100.00"]
    assert {line["amount"]["currency"] for line in lines} == {"USD"}
    assert [line["channel"] for line in lines] == ["branch", "atm", "branch"]
    assert [line["reference"] for line in lines] == [None, "rent", None]


async def test_a_statement_line_has_its_transactions_posting_time(api: Api) -> None:
    """One posting, one moment: the statement and the journal agree on when it happened
    (so a client can take a transaction's posted_at to /balance or to a statement filter)."""
    account_id, entries = await statement_account(api)
    response = await api.http.get(f"/accounts/{account_id}/transactions", headers=await api.admin())
    lines = response.json()["items"]
    assert [line["posted_at"] for line in lines] == [e["posted_at"] for e in reversed(entries)]


async def test_statement_pages_with_a_cursor(api: Api) -> None:
    account_id, _ = await statement_account(api)
    admin = await api.admin()
    url = f"/accounts/{account_id}/transactions"
    first = (await api.http.get(url, headers=admin, params={"limit": 2})).json()
    assert [line["sequence"] for line in first["items"]] == [3, 2]
    assert first["next_cursor"] is not None
    second = (
        await api.http.get(url, headers=admin, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [line["sequence"] for line in second["items"]] == [1]
    assert second["next_cursor"] is None


async def test_statement_filters_by_time(api: Api) -> None:
    account_id, _ = await statement_account(api)
    admin = await api.admin()
    url = f"/accounts/{account_id}/transactions"
    _, middle_at, last_at = await line_times(api, account_id)
    middle, last = iso(middle_at), iso(last_at)

    async def sequences(**params: str) -> list[int]:
        response = await api.http.get(url, headers=admin, params=params)
        assert response.status_code == 200, response.text
        return [line["sequence"] for line in response.json()["items"]]

    assert await sequences(**{"from": middle}) == [3, 2]  # from is inclusive
    assert await sequences(to=middle) == [1]  # to is exclusive
    assert await sequences(**{"from": middle, "to": last}) == [2]
    assert await sequences(**{"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}) == []


async def test_statement_time_filters_need_a_time_zone(api: Api) -> None:
    """Like as_of on /balance: a naive from/to is the caller's mistake, answered 422."""
    account = await api.account()
    response = await api.http.get(
        f"/accounts/{account['account_id']}/transactions",
        headers=await api.admin(),
        params={"from": "2024-01-01T00:00:00"},
    )
    assert response.status_code == 422, response.text


async def test_statement_refuses_a_forged_cursor(api: Api) -> None:
    account = await api.account()
    response = await api.http.get(
        f"/accounts/{account['account_id']}/transactions",
        headers=await api.admin(),
        params={"cursor": "Im5vdC1hLXNlcSI"},  # base64 of JSON "not-a-seq"
    )
    assert_problem(response, 400, "bad_cursor")


async def test_statement_limit_is_bounded_and_account_must_exist(api: Api) -> None:
    account = await api.account()
    admin = await api.admin()
    for limit in (0, 201):
        response = await api.http.get(
            f"/accounts/{account['account_id']}/transactions",
            headers=admin,
            params={"limit": limit},
        )
        assert_problem(response, 422, "validation_failed")
        assert field_errors(response) == {"query.limit"}
    missing = await api.http.get(f"/accounts/{uuid.uuid4()}/transactions", headers=admin)
    assert_problem(missing, 404, "not_found")


async def test_statement_needs_transactions_read(api: Api) -> None:
    account = await api.account()
    _, headers = await api.new_user()
    response = await api.http.get(
        f"/accounts/{account['account_id']}/transactions", headers=headers
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["context"] == {"permission": "transactions:read"}


# --- status -------------------------------------------------------------------------------


async def change(
    api: Api, account_id: str, action: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api.http.post(
        f"/accounts/{account_id}/{action}",
        headers=headers or await api.admin(),
        json={"reason": f"test {action}"},
    )


async def test_a_frozen_account_moves_no_money_until_unfrozen(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    frozen = await change(api, account_id, "freeze", await api.as_role("customer_service"))
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["status"] == "frozen"
    assert frozen.json()["balances"]["posted"] == {"amount": "100.00", "currency": "USD"}

    deposit = await post_money(
        api, "/transactions/deposit", {"account_id": account_id, "amount": money("1.00")}
    )
    body = assert_problem(deposit, 422, "account_not_operational")
    assert body["context"] == {"account_id": account_id, "status": "frozen"}
    withdraw = await post_money(
        api, "/transactions/withdraw", {"account_id": account_id, "amount": money("1.00")}
    )
    assert_problem(withdraw, 422, "account_not_operational")
    hold = await post_money(api, f"/accounts/{account_id}/holds", {"amount": money("1.00")})
    assert_problem(hold, 422, "account_not_operational")
    again = await change(api, account_id, "freeze")
    assert_problem(again, 422, "invalid_transition")
    closing = await change(api, account_id, "close")
    assert_problem(closing, 422, "invalid_transition")
    assert await api.balances(account_id) == {
        "posted": "100.00",
        "held": "0.00",
        "available": "100.00",
    }

    unfrozen = await change(api, account_id, "unfreeze")
    assert unfrozen.status_code == 200
    assert unfrozen.json()["status"] == "active"
    await api.deposit(account_id, "1.00")
    assert (await api.balances(account_id))["posted"] == "101.00"


async def test_unfreezing_an_active_account_is_refused(api: Api) -> None:
    account = await api.account()
    response = await change(api, account["account_id"], "unfreeze")
    body = assert_problem(response, 422, "invalid_transition")
    assert body["context"] == {"current": "active", "target": "active"}


async def test_an_account_closes_only_when_empty_and_closing_is_final(api: Api) -> None:
    account = await api.funded_account("40.00")
    account_id = account["account_id"]
    refused = await change(api, account_id, "close")
    body = assert_problem(refused, 422, "invalid_transition")
    assert body["context"] == {"account_id": account_id, "balance": "40.00"}

    hold = await post_money(api, f"/accounts/{account_id}/holds", {"amount": money("40.00")})
    hold_id = hold.json()["hold_id"]
    captured = await post_money(
        api, f"/accounts/{account_id}/holds/{hold_id}/capture", {"amount": money("40.00")}
    )
    assert captured.status_code == 201
    assert await api.balances(account_id) == {"posted": "0.00", "held": "0.00", "available": "0.00"}

    closed = await change(api, account_id, "close", await api.as_role("manager"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    deposit = await post_money(
        api, "/transactions/deposit", {"account_id": account_id, "amount": money("1.00")}
    )
    assert_problem(deposit, 422, "account_not_operational")
    for action in ("freeze", "unfreeze", "close"):
        assert_problem(await change(api, account_id, action), 422, "invalid_transition")


async def test_closing_pays_what_the_account_holds_to_a_payout_account_once(api: Api) -> None:
    account = await api.funded_account("40.00")
    account_id = account["account_id"]
    payout = await api.account(customer_id=account["customer_id"])
    url = f"/accounts/{account_id}/close"
    body = {"reason": "moving away", "payout_account_id": payout["account_id"]}

    without_key = await api.http.post(url, headers=await api.admin(), json=body)
    assert_problem(without_key, 422, "invalid_input")
    teller = await api.as_role("teller")
    not_allowed = await api.http.post(url, headers={**teller, "Idempotency-Key": key()}, json=body)
    assert_problem(not_allowed, 403, "forbidden")
    elsewhere = await api.account()
    not_theirs = await api.http.post(
        url,
        headers={**await api.admin(), "Idempotency-Key": key()},
        json={**body, "payout_account_id": elsewhere["account_id"]},
    )
    assert_problem(not_theirs, 422, "wrong_account_kind")

    headers = {**await api.admin(), "Idempotency-Key": key()}
    closed = await api.http.post(url, headers=headers, json=body)
    again = await api.http.post(url, headers=headers, json=body)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["balances"]["posted"]["amount"]) == (
        "closed",
        "0.00",
    )
    assert (again.status_code, again.json()) == (200, closed.json())
    assert (await api.balances(payout["account_id"]))["posted"] == "40.00"


async def test_an_account_with_money_on_hold_does_not_close(api: Api) -> None:
    account = await api.account(overdraft_limit=money("20.00"))
    account_id = account["account_id"]
    hold = await post_money(api, f"/accounts/{account_id}/holds", {"amount": money("5.00")})
    assert hold.status_code == 201
    assert (await api.balances(account_id))["posted"] == "0.00"
    assert_problem(await change(api, account_id, "close"), 422, "invalid_transition")


async def test_status_changes_need_their_permissions_and_a_reason(api: Api) -> None:
    account = await api.account()
    account_id = account["account_id"]
    teller = await api.as_role("teller")
    freeze = await change(api, account_id, "freeze", teller)
    assert assert_problem(freeze, 403, "forbidden")["context"] == {"permission": "accounts:freeze"}
    close = await change(api, account_id, "close", await api.as_role("customer_service"))
    assert assert_problem(close, 403, "forbidden")["context"] == {"permission": "accounts:close"}
    no_reason = await api.http.post(
        f"/accounts/{account_id}/freeze", headers=await api.admin(), json={}
    )
    assert_problem(no_reason, 422, "validation_failed")
    assert field_errors(no_reason) == {"body.reason"}
    missing = await change(api, str(uuid.uuid4()), "freeze")
    assert_problem(missing, 404, "not_found")
    assert (await api.http.get(f"/accounts/{account_id}", headers=teller)).json()[
        "status"
    ] == "active"


# --- holds --------------------------------------------------------------------------------


async def place(api: Api, account_id: str, amount: str, **fields: Any) -> httpx.Response:
    return await post_money(
        api, f"/accounts/{account_id}/holds", {"amount": money(amount), **fields}
    )


async def test_place_a_hold_lowers_the_available_balance(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    expires = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    response = await post_money(
        api,
        f"/accounts/{account_id}/holds",
        {"amount": money("30.00"), "expires_at": iso(expires), "reference": "card auth 1"},
        await api.as_role("teller"),
    )
    assert response.status_code == 201, response.text
    hold = response.json()
    assert hold["account_id"] == account_id
    assert hold["amount"] == {"amount": "30.00", "currency": "USD"}
    assert hold["status"] == "active"
    assert moment(hold["expires_at"]) == expires
    assert hold["reference"] == "card auth 1"
    assert hold["captured"] == {"amount": "0.00", "currency": "USD"}
    assert hold["capture_transaction_id"] is None
    assert await api.balances(account_id) == {
        "posted": "100.00",
        "held": "30.00",
        "available": "70.00",
    }

    fetched = await api.http.get(
        f"/accounts/{account_id}/holds/{hold['hold_id']}", headers=await api.as_role("auditor")
    )
    assert fetched.status_code == 200
    assert fetched.json() == hold


async def test_a_hold_needs_the_money_available(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    assert (await place(api, account_id, "60.00")).status_code == 201
    refused = await place(api, account_id, "40.01")
    body = assert_problem(refused, 422, "insufficient_funds")
    assert body["context"] == {"account_id": account_id}
    assert (await place(api, account_id, "40.00")).status_code == 201
    assert await api.balances(account_id) == {
        "posted": "100.00",
        "held": "100.00",
        "available": "0.00",
    }


@pytest.mark.parametrize(
    ("days", "field"),
    [(-1, "expires_at"), (91, "expires_at")],
)
async def test_a_hold_expires_in_the_future_within_90_days(api: Api, days: int, field: str) -> None:
    account = await api.funded_account("100.00")
    expires = datetime.now(UTC) + timedelta(days=days)
    response = await place(api, account["account_id"], "1.00", expires_at=iso(expires))
    assert assert_problem(response, 422, "invalid_input")["context"] == {"field": field}
    assert (await api.balances(account["account_id"]))["held"] == "0.00"


async def test_a_hold_in_another_currency_is_refused(api: Api) -> None:
    account = await api.funded_account("100.00")
    response = await post_money(
        api, f"/accounts/{account['account_id']}/holds", {"amount": money("1.00", "EUR")}
    )
    assert_problem(response, 422, "currency_mismatch")


async def test_a_hold_needs_an_idempotency_key(api: Api) -> None:
    account = await api.funded_account("100.00")
    response = await api.http.post(
        f"/accounts/{account['account_id']}/holds",
        headers=await api.admin(),
        json={"amount": money("1.00")},
    )
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {"header.Idempotency-Key"}
    assert (await api.balances(account["account_id"]))["held"] == "0.00"


async def test_capture_part_of_a_hold_posts_it_and_releases_the_rest(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    hold = (await place(api, account_id, "30.00")).json()
    response = await post_money(
        api,
        f"/accounts/{account_id}/holds/{hold['hold_id']}/capture",
        {"amount": money("12.34"), "reference": "settled"},
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["type"] == "hold_capture"
    assert entry["status"] == "posted"
    assert entry["amount"] == {"amount": "12.34", "currency": "USD"}
    assert entry["reference"] == "settled"
    customer_lines = [line for line in entry["lines"] if line["account_id"] == account_id]
    assert customer_lines == [
        {
            "account_id": account_id,
            "direction": "debit",
            "amount": {"amount": "12.34", "currency": "USD"},
            "balance_after": {"amount": "87.66", "currency": "USD"},
        }
    ]
    assert len(entry["lines"]) == 2
    assert await api.balances(account_id) == {
        "posted": "87.66",
        "held": "0.00",
        "available": "87.66",
    }
    after = (
        await api.http.get(
            f"/accounts/{account_id}/holds/{hold['hold_id']}", headers=await api.admin()
        )
    ).json()
    assert after["status"] == "captured"
    assert after["captured"] == {"amount": "12.34", "currency": "USD"}
    assert after["capture_transaction_id"] == entry["transaction_id"]

    again = await post_money(api, f"/accounts/{account_id}/holds/{hold['hold_id']}/capture", {})
    assert_problem(again, 422, "hold_not_active")
    release = await post_money(api, f"/accounts/{account_id}/holds/{hold['hold_id']}/release", {})
    assert_problem(release, 422, "hold_not_active")


async def test_capture_the_whole_hold_into_another_account(api: Api) -> None:
    account = await api.funded_account("100.00")
    destination = await api.account()
    account_id = account["account_id"]
    hold = (await place(api, account_id, "45.00")).json()
    response = await post_money(
        api,
        f"/accounts/{account_id}/holds/{hold['hold_id']}/capture",
        {"destination_account_id": destination["account_id"]},
    )
    assert response.status_code == 201, response.text
    lines = {line["account_id"]: line for line in response.json()["lines"]}
    assert lines[account_id]["direction"] == "debit"
    assert lines[destination["account_id"]]["direction"] == "credit"
    assert lines[destination["account_id"]]["balance_after"] == {
        "amount": "45.00",
        "currency": "USD",
    }
    assert (await api.balances(account_id))["posted"] == "55.00"
    assert (await api.balances(destination["account_id"]))["posted"] == "45.00"


async def test_capture_more_than_the_hold_is_refused(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    hold = (await place(api, account_id, "30.00")).json()
    response = await post_money(
        api,
        f"/accounts/{account_id}/holds/{hold['hold_id']}/capture",
        {"amount": money("30.01")},
    )
    body = assert_problem(response, 422, "hold_amount_exceeded")
    assert body["context"] == {"hold_id": hold["hold_id"]}
    assert await api.balances(account_id) == {
        "posted": "100.00",
        "held": "30.00",
        "available": "70.00",
    }
    still = await api.http.get(
        f"/accounts/{account_id}/holds/{hold['hold_id']}", headers=await api.admin()
    )
    assert still.json()["status"] == "active"


async def test_release_gives_the_money_back(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    hold = (await place(api, account_id, "30.00")).json()
    response = await post_money(
        api,
        f"/accounts/{account_id}/holds/{hold['hold_id']}/release",
        {},
        await api.as_role("teller"),
    )
    assert response.status_code == 200, response.text
    released = response.json()
    assert released["status"] == "released"
    assert released["hold_id"] == hold["hold_id"]
    assert released["captured"] == {"amount": "0.00", "currency": "USD"}
    assert released["capture_transaction_id"] is None
    assert await api.balances(account_id) == {
        "posted": "100.00",
        "held": "0.00",
        "available": "100.00",
    }
    capture = await post_money(api, f"/accounts/{account_id}/holds/{hold['hold_id']}/capture", {})
    assert_problem(capture, 422, "hold_not_active")


async def test_a_hold_is_reached_only_through_its_own_account(api: Api) -> None:
    account = await api.funded_account("100.00")
    other = await api.funded_account("100.00")
    hold = (await place(api, account["account_id"], "30.00")).json()
    wrong = f"/accounts/{other['account_id']}/holds/{hold['hold_id']}"

    assert_problem(await api.http.get(wrong, headers=await api.admin()), 404, "not_found")
    assert_problem(await post_money(api, f"{wrong}/capture", {}), 404, "not_found")
    assert_problem(await post_money(api, f"{wrong}/release", {}), 404, "not_found")
    unknown = f"/accounts/{account['account_id']}/holds/{uuid.uuid4()}"
    assert_problem(await api.http.get(unknown, headers=await api.admin()), 404, "not_found")

    assert await api.balances(account["account_id"]) == {
        "posted": "100.00",
        "held": "30.00",
        "available": "70.00",
    }
    assert (await api.balances(other["account_id"]))["posted"] == "100.00"


async def test_holds_need_holds_write(api: Api) -> None:
    account = await api.funded_account("100.00")
    response = await post_money(
        api,
        f"/accounts/{account['account_id']}/holds",
        {"amount": money("1.00")},
        await api.as_role("customer_service"),
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["context"] == {"permission": "holds:write"}


async def test_a_teller_holds_at_most_their_role_limit(api: Api) -> None:
    account = await api.funded_account("20000.00")
    teller = await api.as_role("teller")
    response = await post_money(
        api,
        f"/accounts/{account['account_id']}/holds",
        {"amount": money("10000.01")},
        teller,
    )
    body = assert_problem(response, 403, "amount_above_role_limit")
    assert body["context"] == {"limit": "10000.00"}
    assert (await api.balances(account["account_id"]))["held"] == "0.00"
