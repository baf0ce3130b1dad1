"""/transactions over HTTP: deposits, withdrawals, transfers (here and to other banks), the
amounts the API accepts, reading entries, reversals and batches."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from support.api import Api, key, money
from support.problems import assert_problem, field_errors

pytestmark = pytest.mark.http


async def post(
    api: Api, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api.http.post(
        path, headers={**(headers or await api.admin()), "Idempotency-Key": key()}, json=body
    )


def line_of(entry: dict[str, Any], account_id: str) -> dict[str, Any]:
    (line,) = [line for line in entry["lines"] if line["account_id"] == account_id]
    return line


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


# --- deposits -----------------------------------------------------------------------------


async def test_cash_deposit(api: Api) -> None:
    account = await api.account()
    account_id = account["account_id"]
    response = await post(
        api,
        "/transactions/deposit",
        {
            "account_id": account_id,
            "amount": money("100.25"),
            "channel": "atm",
            "reference": "cash in",
            "metadata": {"branch": "Leeds", "till": 4, "checked": True, "note": None},
        },
        await api.as_role("teller"),
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    uuid.UUID(entry["transaction_id"])
    assert entry["type"] == "deposit"
    assert entry["status"] == "posted"
    assert entry["amount"] == usd("100.25")
    assert entry["channel"] == "atm"
    assert entry["reference"] == "cash in"
    assert entry["metadata"] == {"branch": "Leeds", "till": 4, "checked": True, "note": None}
    assert entry["reversal_of"] is None
    assert entry["business_date"] == entry["value_date"]
    assert len(entry["lines"]) == 2
    cash, credit = entry["lines"]
    assert cash["account_id"] != account_id
    assert cash["direction"] == "debit"
    assert cash["amount"] == usd("100.25")
    assert credit == {
        "account_id": account_id,
        "direction": "credit",
        "amount": usd("100.25"),
        "balance_after": usd("100.25"),
    }
    assert await api.balances(account_id) == {
        "posted": "100.25",
        "held": "0.00",
        "available": "100.25",
    }


async def test_deposit_from_another_bank_is_an_external_transfer_in(api: Api) -> None:
    account = await api.account()
    counterparty = {
        "name": "Charles Babbage",
        "account": "GB29NWBK60161331926819",
        "bank_code": "NWBKGB2L",
    }
    response = await post(
        api,
        "/transactions/deposit",
        {
            "account_id": account["account_id"],
            "amount": money("75.00"),
            "counterparty": counterparty,
            "channel": "wire",
        },
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["type"] == "external_transfer_in"
    assert entry["channel"] == "wire"
    assert entry["metadata"] == {"counterparty": counterparty}
    assert line_of(entry, account["account_id"])["balance_after"] == usd("75.00")
    (clearing,) = [line for line in entry["lines"] if line["account_id"] != account["account_id"]]
    assert clearing["direction"] == "debit"


async def test_deposit_with_a_value_date(api: Api) -> None:
    account = await api.account()
    response = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("1.00"), "value_date": "2024-02-29"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["value_date"] == "2024-02-29"


async def test_deposit_to_unknown_account_is_404(api: Api) -> None:
    missing = str(uuid.uuid4())
    response = await post(
        api, "/transactions/deposit", {"account_id": missing, "amount": money("1.00")}
    )
    body = assert_problem(response, 404, "not_found")
    assert body["context"] == {"account_id": missing}


async def test_deposit_in_another_currency_is_refused(api: Api) -> None:
    account = await api.account()
    response = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("1.00", "EUR")},
    )
    assert_problem(response, 422, "currency_mismatch")
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"


# --- withdrawals --------------------------------------------------------------------------


async def test_withdraw(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    response = await post(
        api,
        "/transactions/withdraw",
        {"account_id": account_id, "amount": money("40.01")},
        await api.as_role("teller"),
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["type"] == "withdrawal"
    assert entry["channel"] == "branch"
    assert entry["amount"] == usd("40.01")
    assert line_of(entry, account_id) == {
        "account_id": account_id,
        "direction": "debit",
        "amount": usd("40.01"),
        "balance_after": usd("59.99"),
    }
    (cash,) = [line for line in entry["lines"] if line["account_id"] != account_id]
    assert cash["direction"] == "credit"
    assert (await api.balances(account_id))["posted"] == "59.99"


async def test_withdraw_more_than_available_is_refused(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    response = await post(
        api, "/transactions/withdraw", {"account_id": account_id, "amount": money("100.01")}
    )
    body = assert_problem(response, 422, "insufficient_funds")
    assert body["context"] == {"account_id": account_id}
    assert (await api.balances(account_id))["posted"] == "100.00"
    everything = await post(
        api, "/transactions/withdraw", {"account_id": account_id, "amount": money("100.00")}
    )
    assert everything.status_code == 201
    assert line_of(everything.json(), account_id)["balance_after"] == usd("0.00")


async def test_withdraw_into_the_overdraft_and_not_below_the_minimum(api: Api) -> None:
    overdrawn = await api.account(overdraft_limit=money("50.00"))
    await api.deposit(overdrawn["account_id"], "10.00")
    response = await post(
        api,
        "/transactions/withdraw",
        {"account_id": overdrawn["account_id"], "amount": money("60.00")},
    )
    assert response.status_code == 201, response.text
    assert line_of(response.json(), overdrawn["account_id"])["balance_after"] == usd("-50.00")
    assert await api.balances(overdrawn["account_id"]) == {
        "posted": "-50.00",
        "held": "0.00",
        "available": "0.00",
    }
    beyond = await post(
        api,
        "/transactions/withdraw",
        {"account_id": overdrawn["account_id"], "amount": money("0.01")},
    )
    assert_problem(beyond, 422, "insufficient_funds")

    keeping = await api.account(min_balance=money("10.00"))
    await api.deposit(keeping["account_id"], "100.00")
    below = await post(
        api,
        "/transactions/withdraw",
        {"account_id": keeping["account_id"], "amount": money("90.01")},
    )
    assert_problem(below, 422, "insufficient_funds")
    down_to = await post(
        api,
        "/transactions/withdraw",
        {"account_id": keeping["account_id"], "amount": money("90.00")},
    )
    assert down_to.status_code == 201


async def test_withdrawals_stay_within_the_daily_limit(api: Api) -> None:
    account = await api.account(daily_limit=money("100.00"))
    account_id = account["account_id"]
    await api.deposit(account_id, "500.00")
    first = await post(
        api, "/transactions/withdraw", {"account_id": account_id, "amount": money("60.00")}
    )
    assert first.status_code == 201
    over = await post(
        api, "/transactions/withdraw", {"account_id": account_id, "amount": money("40.01")}
    )
    body = assert_problem(over, 422, "daily_limit_exceeded")
    assert body["context"]["account_id"] == account_id
    up_to = await post(
        api, "/transactions/withdraw", {"account_id": account_id, "amount": money("40.00")}
    )
    assert up_to.status_code == 201
    assert (await api.balances(account_id))["posted"] == "400.00"


async def test_a_single_transaction_stays_within_the_banks_limit(api: Api) -> None:
    account = await api.account()
    response = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("100000.01")},
    )
    body = assert_problem(response, 422, "transaction_limit_exceeded")
    assert body["context"] == {"limit": "100000.00"}
    at_limit = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("100000.00")},
    )
    assert at_limit.status_code == 201


async def test_a_role_moves_at_most_its_amount_limit(api: Api) -> None:
    account = await api.account()
    teller = await api.as_role("teller")
    over = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("10000.01")},
        teller,
    )
    body = assert_problem(over, 403, "amount_above_role_limit")
    assert body["context"] == {"limit": "10000.00"}
    at = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("10000.00")},
        teller,
    )
    assert at.status_code == 201
    # the limit is in major units of any currency: 10000 yen, not 10000.00 converted
    yen = await api.account(currency="JPY")
    over_yen = await post(
        api,
        "/transactions/deposit",
        {"account_id": yen["account_id"], "amount": money("10001", "JPY")},
        teller,
    )
    assert assert_problem(over_yen, 403, "amount_above_role_limit")["context"] == {"limit": "10000"}


@pytest.mark.parametrize(
    ("role", "path", "permission"),
    [
        ("auditor", "/transactions/deposit", "transactions:deposit"),
        ("customer_service", "/transactions/withdraw", "transactions:withdraw"),
        ("loan_officer", "/transactions/transfer", "transactions:transfer"),
    ],
)
async def test_money_moves_need_their_permission(
    api: Api, role: str, path: str, permission: str
) -> None:
    account = await api.funded_account("10.00")
    other = await api.account()
    body: dict[str, Any] = {"amount": money("1.00")}
    if path.endswith("transfer"):
        body |= {"from_account_id": account["account_id"], "to_account_id": other["account_id"]}
    else:
        body["account_id"] = account["account_id"]
    response = await post(api, path, body, await api.as_role(role))
    assert assert_problem(response, 403, "forbidden")["context"] == {"permission": permission}
    assert (await api.balances(account["account_id"]))["posted"] == "10.00"


# --- transfers ----------------------------------------------------------------------------


async def test_transfer_between_accounts(api: Api) -> None:
    source = await api.funded_account("100.00")
    target = await api.funded_account("5.00")
    response = await post(
        api,
        "/transactions/transfer",
        {
            "from_account_id": source["account_id"],
            "to_account_id": target["account_id"],
            "amount": money("30.5"),
            "reference": "rent March",
        },
        await api.as_role("teller"),
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["type"] == "transfer"
    assert entry["channel"] == "api"
    assert entry["amount"] == usd("30.50")
    assert entry["reference"] == "rent March"
    assert entry["lines"] == [
        {
            "account_id": source["account_id"],
            "direction": "debit",
            "amount": usd("30.50"),
            "balance_after": usd("69.50"),
        },
        {
            "account_id": target["account_id"],
            "direction": "credit",
            "amount": usd("30.50"),
            "balance_after": usd("35.50"),
        },
    ]
    assert (await api.balances(source["account_id"]))["posted"] == "69.50"
    assert (await api.balances(target["account_id"]))["posted"] == "35.50"


async def test_transfer_to_another_bank(api: Api) -> None:
    source = await api.funded_account("100.00")
    counterparty = {"name": "Ada Byron", "account": "DE89370400440532013000", "bank_code": None}
    response = await post(
        api,
        "/transactions/transfer",
        {
            "from_account_id": source["account_id"],
            "to_account_id": None,
            "counterparty": counterparty,
            "amount": money("20.00"),
        },
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["type"] == "external_transfer_out"
    assert entry["metadata"] == {"counterparty": counterparty}
    assert line_of(entry, source["account_id"]) == {
        "account_id": source["account_id"],
        "direction": "debit",
        "amount": usd("20.00"),
        "balance_after": usd("80.00"),
    }


async def test_transfer_to_another_bank_needs_a_counterparty(api: Api) -> None:
    source = await api.funded_account("100.00")
    response = await post(
        api,
        "/transactions/transfer",
        {"from_account_id": source["account_id"], "to_account_id": None, "amount": money("1.00")},
    )
    assert_problem(response, 422, "counterparty_required")
    missing = await post(
        api,
        "/transactions/transfer",
        {"from_account_id": source["account_id"], "amount": money("1.00")},
    )
    assert_problem(missing, 422, "validation_failed")
    assert field_errors(missing) == {"body.to_account_id"}
    assert (await api.balances(source["account_id"]))["posted"] == "100.00"


async def test_transfer_refusals(api: Api) -> None:
    source = await api.funded_account("100.00")
    target = await api.account()
    euro = await api.account(currency="EUR")

    async def transfer(to: str, amount: dict[str, str]) -> httpx.Response:
        return await post(
            api,
            "/transactions/transfer",
            {"from_account_id": source["account_id"], "to_account_id": to, "amount": amount},
        )

    assert_problem(await transfer(target["account_id"], money("100.01")), 422, "insufficient_funds")
    assert_problem(await transfer(source["account_id"], money("1.00")), 422, "invalid_input")
    assert_problem(await transfer(euro["account_id"], money("1.00")), 422, "currency_mismatch")
    assert_problem(await transfer(str(uuid.uuid4()), money("1.00")), 404, "not_found")
    deposit = await api.deposit(target["account_id"], "1.00")
    (cash,) = [
        line["account_id"]
        for line in deposit["lines"]
        if line["account_id"] != target["account_id"]
    ]
    assert_problem(await transfer(cash, money("1.00")), 422, "wrong_account_kind")
    assert (await api.balances(source["account_id"]))["posted"] == "100.00"
    assert (await api.balances(target["account_id"]))["posted"] == "1.00"


# --- amounts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("100.001", "invalid_amount"),  # more decimals than USD has
        ("0.00", "invalid_amount"),
        ("0", "invalid_amount"),
        ("1e3", "validation_failed"),
        ("-5.00", "validation_failed"),
        (" 5.00", "validation_failed"),
        ("5.00 ", "validation_failed"),
        ("05.00", "validation_failed"),
        ("5.", "validation_failed"),
        (".5", "validation_failed"),
        ("1,000.00", "validation_failed"),
        ("NaN", "validation_failed"),
        ("", "validation_failed"),
        ("1" * 41, "validation_failed"),
    ],
)
async def test_deposit_refuses_malformed_amounts(api: Api, amount: str, code: str) -> None:
    account = await api.account()
    response = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money(amount)},
    )
    assert_problem(response, 422, code)
    if code == "validation_failed":
        assert field_errors(response) == {"body.amount.amount"}
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"


@pytest.mark.parametrize("amount", [100, 100.5, None, True])
async def test_an_amount_is_a_string_never_a_number(api: Api, amount: Any) -> None:
    account = await api.account()
    response = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": {"amount": amount, "currency": "USD"}},
    )
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {"body.amount.amount"}


@pytest.mark.parametrize(
    ("currency", "status", "code"),
    [
        ("usd", 422, "validation_failed"),
        ("ZZZ", 422, "unknown_currency"),
        ("US", 422, "validation_failed"),
    ],
)
async def test_deposit_refuses_unknown_currencies(
    api: Api, currency: str, status: int, code: str
) -> None:
    account = await api.account()
    response = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("1.00", currency)},
    )
    assert_problem(response, status, code)


@pytest.mark.parametrize(
    ("currency", "good", "bad"),
    [("JPY", "1500", "100.50"), ("BHD", "1.250", "1.2500"), ("USD", "1.5", "1.505")],
)
async def test_amounts_follow_the_currencys_decimals(
    api: Api, currency: str, good: str, bad: str
) -> None:
    account = await api.account(currency=currency)
    refused = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money(bad, currency)},
    )
    body = assert_problem(refused, 422, "invalid_amount")
    assert body["context"]["currency"] == currency
    accepted = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money(good, currency)},
    )
    assert accepted.status_code == 201, accepted.text
    expected = {"JPY": "1500", "BHD": "1.250", "USD": "1.50"}[currency]
    assert accepted.json()["amount"] == {"amount": expected, "currency": currency}
    assert line_of(accepted.json(), account["account_id"])["balance_after"] == {
        "amount": expected,
        "currency": currency,
    }


async def test_money_requests_refuse_unknown_fields_and_long_references(api: Api) -> None:
    account = await api.account()
    extra = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("1.00"), "memo": "x"},
    )
    assert_problem(extra, 422, "validation_failed")
    assert field_errors(extra) == {"body.memo"}
    long_reference = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("1.00"), "reference": "r" * 141},
    )
    assert_problem(long_reference, 422, "validation_failed")
    assert field_errors(long_reference) == {"body.reference"}
    channel = await post(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("1.00"), "channel": "pigeon"},
    )
    assert_problem(channel, 422, "validation_failed")
    assert field_errors(channel) == {"body.channel"}


# --- reading ------------------------------------------------------------------------------


async def test_get_a_transaction(api: Api) -> None:
    source = await api.funded_account("100.00")
    target = await api.account()
    posted = await post(
        api,
        "/transactions/transfer",
        {
            "from_account_id": source["account_id"],
            "to_account_id": target["account_id"],
            "amount": money("12.00"),
            "metadata": {"invoice": "INV-1"},
        },
    )
    response = await api.http.get(
        f"/transactions/{posted.json()['transaction_id']}", headers=await api.as_role("auditor")
    )
    assert response.status_code == 200
    assert response.json() == posted.json()


async def test_get_unknown_transaction_is_404(api: Api) -> None:
    missing = uuid.uuid4()
    response = await api.http.get(f"/transactions/{missing}", headers=await api.admin())
    body = assert_problem(response, 404, "not_found")
    assert body["context"] == {"entry_id": str(missing)}


async def test_list_transactions_filtered(api: Api) -> None:
    account = await api.account()
    account_id = account["account_id"]
    reference = f"ref-{uuid.uuid4().hex}"
    first = await api.deposit(account_id, "50.00")
    second = (
        await post(
            api,
            "/transactions/withdraw",
            {"account_id": account_id, "amount": money("5.00"), "reference": reference},
        )
    ).json()
    third = (
        await post(
            api,
            "/transactions/deposit",
            {"account_id": account_id, "amount": money("1.00"), "channel": "mobile"},
        )
    ).json()
    await api.funded_account("1.00")  # someone else's

    async def ids(**params: Any) -> list[str]:
        response = await api.http.get(
            "/transactions", headers=await api.as_role("auditor"), params=params
        )
        assert response.status_code == 200, response.text
        return [entry["transaction_id"] for entry in response.json()["items"]]

    def newest_first(*entries: dict[str, Any]) -> list[str]:
        """Newest first is highest id first: ids are time-ordered (UUIDv7)."""
        return sorted((e["transaction_id"] for e in entries), key=uuid.UUID, reverse=True)

    assert await ids(account_id=account_id) == newest_first(first, second, third)
    assert await ids(account_id=account_id, type="withdrawal") == [second["transaction_id"]]
    assert await ids(account_id=account_id, type="deposit") == newest_first(first, third)
    assert await ids(reference=reference) == [second["transaction_id"]]
    assert await ids(account_id=account_id, channel="mobile") == [third["transaction_id"]]
    assert await ids(account_id=account_id, **{"from": second["posted_at"]}) == newest_first(
        second, third
    )
    assert await ids(account_id=account_id, to=second["posted_at"]) == [first["transaction_id"]]
    assert await ids(account_id=account_id, to="2000-01-01T00:00:00Z") == []
    assert await ids(account_id=str(uuid.uuid4())) == []

    listed = await api.http.get(
        "/transactions", headers=await api.admin(), params={"reference": reference}
    )
    assert listed.json() == {"items": [second], "next_cursor": None}


async def test_list_transactions_pages_with_a_cursor(api: Api) -> None:
    account = await api.account()
    posted = [
        (await api.deposit(account["account_id"], f"{n}.00"))["transaction_id"] for n in (1, 2, 3)
    ]
    admin = await api.admin()
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"account_id": account["account_id"], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.http.get("/transactions", headers=admin, params=params)).json()
        pages += 1
        seen.extend(entry["transaction_id"] for entry in page["items"])
        cursor = page["next_cursor"]
        if cursor is None or pages > 3:
            break
    assert pages == 2
    assert sorted(seen) == sorted(posted)
    assert seen == sorted(seen, key=uuid.UUID, reverse=True)


async def test_list_transactions_refuses_bad_filters(api: Api) -> None:
    admin = await api.admin()
    for params, field in (
        ({"type": "gift"}, "query.type"),
        ({"limit": 201}, "query.limit"),
        ({"account_id": "nope"}, "query.account_id"),
        ({"from": "yesterday"}, "query.from"),
    ):
        response = await api.http.get("/transactions", headers=admin, params=params)
        assert_problem(response, 422, "validation_failed")
        assert field_errors(response) == {field}


async def test_list_transactions_time_filters_need_a_time_zone(api: Api) -> None:
    response = await api.http.get(
        "/transactions", headers=await api.admin(), params={"to": "2024-01-01T00:00:00"}
    )
    assert response.status_code == 422, response.text


async def test_list_transactions_refuses_a_forged_cursor(api: Api) -> None:
    response = await api.http.get(
        "/transactions",
        headers=await api.admin(),
        params={"cursor": "Im5vdC1hLXV1aWQi"},  # base64 of JSON "not-a-uuid"
    )
    assert_problem(response, 400, "bad_cursor")


async def test_reading_transactions_needs_transactions_read(api: Api) -> None:
    _, headers = await api.new_user()
    response = await api.http.get("/transactions", headers=headers)
    assert assert_problem(response, 403, "forbidden")["context"] == {
        "permission": "transactions:read"
    }


# --- reversals ----------------------------------------------------------------------------


async def test_reverse_posts_the_mirror_entry_once(api: Api) -> None:
    source = await api.funded_account("100.00")
    target = await api.account()
    original = (
        await post(
            api,
            "/transactions/transfer",
            {
                "from_account_id": source["account_id"],
                "to_account_id": target["account_id"],
                "amount": money("40.00"),
            },
        )
    ).json()
    response = await post(
        api,
        f"/transactions/{original['transaction_id']}/reverse",
        {"reason": "sent to the wrong account"},
        await api.as_role("manager"),
    )
    assert response.status_code == 201, response.text
    reversal = response.json()
    assert reversal["type"] == "reversal"
    assert reversal["reversal_of"] == original["transaction_id"]
    assert reversal["channel"] == "system"
    assert reversal["metadata"] == {"reason": "sent to the wrong account"}
    assert reversal["amount"] == usd("40.00")
    assert reversal["lines"] == [
        {
            "account_id": source["account_id"],
            "direction": "credit",
            "amount": usd("40.00"),
            "balance_after": usd("100.00"),
        },
        {
            "account_id": target["account_id"],
            "direction": "debit",
            "amount": usd("40.00"),
            "balance_after": usd("0.00"),
        },
    ]
    assert (await api.balances(source["account_id"]))["posted"] == "100.00"
    assert (await api.balances(target["account_id"]))["posted"] == "0.00"

    again = await post(
        api, f"/transactions/{original['transaction_id']}/reverse", {"reason": "again"}
    )
    body = assert_problem(again, 409, "already_reversed")
    assert body["context"] == {"entry_id": original["transaction_id"]}
    of_reversal = await post(
        api, f"/transactions/{reversal['transaction_id']}/reverse", {"reason": "undo the undo"}
    )
    assert_problem(of_reversal, 422, "invalid_transition")
    assert (await api.balances(source["account_id"]))["posted"] == "100.00"


async def test_reverse_refusals(api: Api) -> None:
    account = await api.funded_account("100.00")
    deposit_id = (await api.deposit(account["account_id"], "30.00"))["transaction_id"]
    spend = await post(
        api,
        "/transactions/withdraw",
        {"account_id": account["account_id"], "amount": money("120.00")},
    )
    assert spend.status_code == 201
    # taking the 30.00 back would leave the account below zero
    spent = await post(api, f"/transactions/{deposit_id}/reverse", {"reason": "duplicate"})
    assert_problem(spent, 422, "insufficient_funds")
    unknown = await post(api, f"/transactions/{uuid.uuid4()}/reverse", {"reason": "x"})
    assert_problem(unknown, 404, "not_found")
    no_reason = await post(api, f"/transactions/{deposit_id}/reverse", {"reason": ""})
    assert_problem(no_reason, 422, "validation_failed")
    assert field_errors(no_reason) == {"body.reason"}
    teller = await post(
        api, f"/transactions/{deposit_id}/reverse", {"reason": "x"}, await api.as_role("teller")
    )
    assert assert_problem(teller, 403, "forbidden")["context"] == {
        "permission": "transactions:reverse"
    }
    assert (await api.balances(account["account_id"]))["posted"] == "10.00"


# --- batches ------------------------------------------------------------------------------


async def batch(
    api: Api, mode: str, operations: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await post(api, "/transactions/batch", {"mode": mode, "operations": operations}, headers)


async def test_independent_batch_posts_what_it_can(api: Api) -> None:
    account = await api.funded_account("100.00")
    other = await api.account()
    account_id = account["account_id"]
    response = await batch(
        api,
        "independent",
        [
            {"type": "deposit", "account_id": account_id, "amount": money("10.00")},
            {"type": "withdraw", "account_id": account_id, "amount": money("1000.00")},
            {
                "type": "transfer",
                "from_account_id": account_id,
                "to_account_id": other["account_id"],
                "amount": money("5.00"),
            },
        ],
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["mode"] == "independent"
    assert (result["posted"], result["failed"]) == (2, 1)
    statuses = [(item["index"], item["status"]) for item in result["results"]]
    assert statuses == [(0, "posted"), (1, "failed"), (2, "posted")]
    assert result["results"][0]["transaction"]["type"] == "deposit"
    assert result["results"][0]["error"] is None
    assert result["results"][1]["transaction"] is None
    assert result["results"][1]["error"] == {
        "code": "insufficient_funds",
        "detail": "insufficient available funds",
    }
    assert result["results"][2]["transaction"]["type"] == "transfer"
    assert await api.balances(account_id) == {
        "posted": "105.00",
        "held": "0.00",
        "available": "105.00",
    }
    assert (await api.balances(other["account_id"]))["posted"] == "5.00"
    for item in (result["results"][0], result["results"][2]):
        fetched = await api.http.get(
            f"/transactions/{item['transaction']['transaction_id']}", headers=await api.admin()
        )
        assert fetched.json() == item["transaction"]


async def test_atomic_batch_posts_everything(api: Api) -> None:
    first = await api.funded_account("100.00")
    second = await api.account()
    response = await batch(
        api,
        "atomic",
        [
            {
                "type": "transfer",
                "from_account_id": first["account_id"],
                "to_account_id": second["account_id"],
                "amount": money("60.00"),
            },
            {"type": "withdraw", "account_id": second["account_id"], "amount": money("60.00")},
        ],
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["mode"], result["posted"], result["failed"]) == ("atomic", 2, 0)
    assert [item["status"] for item in result["results"]] == ["posted", "posted"]
    assert [item["transaction"]["type"] for item in result["results"]] == [
        "transfer",
        "withdrawal",
    ]
    assert (await api.balances(first["account_id"]))["posted"] == "40.00"
    assert (await api.balances(second["account_id"]))["posted"] == "0.00"


async def test_atomic_batch_with_a_refusal_posts_nothing(api: Api) -> None:
    first = await api.funded_account("100.00")
    second = await api.funded_account("100.00")
    response = await batch(
        api,
        "atomic",
        [
            {"type": "deposit", "account_id": first["account_id"], "amount": money("10.00")},
            {"type": "withdraw", "account_id": second["account_id"], "amount": money("500.00")},
        ],
    )
    assert response.status_code == 422, response.text
    result = response.json()
    assert result["mode"] == "atomic"
    assert result["posted"] == 0
    assert result["posted"] + result["failed"] == 2
    assert [item["status"] for item in result["results"]] == ["not_attempted", "failed"]
    assert result["results"][1]["error"]["code"] == "insufficient_funds"
    assert [item["transaction"] for item in result["results"]] == [None, None]
    assert (await api.balances(first["account_id"]))["posted"] == "100.00"
    assert (await api.balances(second["account_id"]))["posted"] == "100.00"


async def test_atomic_batch_marks_the_operation_that_was_refused(api: Api) -> None:
    """The refused operation is the withdrawal (index 1), even though the transfer before
    it also names the account the refusal is about."""
    first = await api.funded_account("100.00")
    second = await api.funded_account("100.00")
    response = await batch(
        api,
        "atomic",
        [
            {
                "type": "transfer",
                "from_account_id": first["account_id"],
                "to_account_id": second["account_id"],
                "amount": money("10.00"),
            },
            {"type": "withdraw", "account_id": second["account_id"], "amount": money("500.00")},
        ],
    )
    assert response.status_code == 422, response.text
    result = response.json()
    assert [item["status"] for item in result["results"]] == ["not_attempted", "failed"]
    assert result["results"][1]["error"]["code"] == "insufficient_funds"
    assert (await api.balances(first["account_id"]))["posted"] == "100.00"
    assert (await api.balances(second["account_id"]))["posted"] == "100.00"


async def test_batch_larger_than_the_configured_size_is_refused(api: Api) -> None:
    account = await api.account()
    operation = {"type": "deposit", "account_id": account["account_id"], "amount": money("1.00")}
    response = await batch(api, "independent", [operation] * 1001)
    body = assert_problem(response, 422, "batch_too_large")
    assert body["context"] == {"limit": 1000}
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"


async def test_batch_needs_the_permission_of_every_operation_type(api: Api) -> None:
    role = f"batch_{uuid.uuid4().hex[:12]}"
    saved = await api.http.put(
        f"/auth/roles/{role}",
        headers=await api.admin(),
        json={
            "description": "deposits in batches only",
            "permissions": ["transactions:batch", "transactions:deposit", "accounts:read"],
        },
    )
    assert saved.status_code == 200, saved.text
    _, headers = await api.new_user(role)
    account = await api.funded_account("100.00")
    deposit = {"type": "deposit", "account_id": account["account_id"], "amount": money("1.00")}
    withdraw = {"type": "withdraw", "account_id": account["account_id"], "amount": money("1.00")}

    refused = await batch(api, "independent", [deposit, withdraw], headers)
    body = assert_problem(refused, 403, "forbidden")
    assert body["context"] == {"permission": "transactions:withdraw"}
    assert (await api.balances(account["account_id"]))["posted"] == "100.00"

    allowed = await batch(api, "atomic", [deposit, deposit], headers)
    assert allowed.status_code == 200, allowed.text
    assert (await api.balances(account["account_id"]))["posted"] == "102.00"

    teller = await batch(api, "atomic", [deposit], await api.as_role("teller"))
    assert assert_problem(teller, 403, "forbidden")["context"] == {
        "permission": "transactions:batch"
    }


async def test_batch_refuses_malformed_requests(api: Api) -> None:
    account = await api.account()
    deposit = {"type": "deposit", "account_id": account["account_id"], "amount": money("1.00")}
    empty = await batch(api, "atomic", [])
    assert_problem(empty, 422, "validation_failed")
    assert field_errors(empty) == {"body.operations"}
    mode = await batch(api, "eventually", [deposit])
    assert_problem(mode, 422, "validation_failed")
    assert field_errors(mode) == {"body.mode"}
    kind = await batch(api, "atomic", [{**deposit, "type": "gift"}])
    assert_problem(kind, 422, "validation_failed")
    external = await batch(
        api,
        "independent",
        [
            deposit,
            {
                "type": "transfer",
                "from_account_id": account["account_id"],
                "to_account_id": None,
                "amount": money("1.00"),
            },
        ],
    )
    assert_problem(external, 422, "counterparty_required")
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"
