"""Idempotency-Key over HTTP: a retry returns the first response byte for byte and moves
no more money; a key is one request of one principal; refusals leave the key unused;
concurrent duplicates post once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from support.api import Api, key, money
from support.problems import assert_problem

pytestmark = pytest.mark.http

REPLAYED = "Idempotent-Replayed"


async def twice(
    api: Api, path: str, body: dict[str, Any] | None, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, httpx.Response]:
    """The same request twice under one new key."""
    keyed = {**(headers or await api.admin()), "Idempotency-Key": key()}
    first = await api.http.post(path, headers=keyed, json=body)
    second = await api.http.post(path, headers=keyed, json=body)
    return first, second


def assert_replayed(first: httpx.Response, second: httpx.Response, status: int) -> None:
    assert first.status_code == status, first.text
    assert REPLAYED not in first.headers
    assert second.status_code == status
    assert second.headers[REPLAYED] == "true"
    assert second.headers["content-type"] == "application/json"
    assert second.content == first.content


# --- replays ------------------------------------------------------------------------------


async def test_deposit_replay(api: Api) -> None:
    account = await api.account()
    first, second = await twice(
        api,
        "/transactions/deposit",
        {"account_id": account["account_id"], "amount": money("10.00")},
        await api.as_role("teller"),
    )
    assert_replayed(first, second, 201)
    assert (await api.balances(account["account_id"]))["posted"] == "10.00"


async def test_withdraw_replay(api: Api) -> None:
    account = await api.funded_account("100.00")
    first, second = await twice(
        api,
        "/transactions/withdraw",
        {"account_id": account["account_id"], "amount": money("30.00")},
    )
    assert_replayed(first, second, 201)
    assert (await api.balances(account["account_id"]))["posted"] == "70.00"


async def test_transfer_replay(api: Api) -> None:
    source = await api.funded_account("100.00")
    target = await api.account()
    first, second = await twice(
        api,
        "/transactions/transfer",
        {
            "from_account_id": source["account_id"],
            "to_account_id": target["account_id"],
            "amount": money("25.00"),
        },
    )
    assert_replayed(first, second, 201)
    assert (await api.balances(source["account_id"]))["posted"] == "75.00"
    assert (await api.balances(target["account_id"]))["posted"] == "25.00"


async def test_a_replay_answered_from_the_ledger_is_the_first_response_byte_for_byte(
    api: Api,
) -> None:
    """A posting's replay is rebuilt from the entry as stored, where PostgreSQL's jsonb
    keeps object keys in an order of its own: metadata and a counterparty whose keys are
    in no sorted order come back in key order, the same in the first answer and the
    replay."""
    source = await api.funded_account("100.00")
    first, second = await twice(
        api,
        "/transactions/transfer",
        {
            "from_account_id": source["account_id"],
            "to_account_id": None,
            "amount": money("12.50"),
            "channel": "wire",
            "reference": "invoice 7",
            "counterparty": {"name": "Ada Byron", "account": "DE89370400440532013000"},
            "metadata": {"zeta": 25, "a": {"yy": "x", "b": None}, "mid": "ünïcode"},
        },
    )
    assert_replayed(first, second, 201)
    assert list(first.json()["metadata"]) == ["a", "counterparty", "mid", "zeta"]
    assert (await api.balances(source["account_id"]))["posted"] == "87.50"


async def test_hold_place_replay(api: Api) -> None:
    account = await api.funded_account("100.00")
    first, second = await twice(
        api, f"/accounts/{account['account_id']}/holds", {"amount": money("40.00")}
    )
    assert_replayed(first, second, 201)
    assert await api.balances(account["account_id"]) == {
        "posted": "100.00",
        "held": "40.00",
        "available": "60.00",
    }


async def test_hold_capture_and_release_replays(api: Api) -> None:
    account = await api.funded_account("100.00")
    account_id = account["account_id"]
    holds = []
    for amount in ("10.00", "20.00"):
        placed = await api.http.post(
            f"/accounts/{account_id}/holds",
            headers={**await api.admin(), "Idempotency-Key": key()},
            json={"amount": money(amount)},
        )
        holds.append(placed.json()["hold_id"])

    first, second = await twice(
        api, f"/accounts/{account_id}/holds/{holds[0]}/capture", {"amount": money("4.00")}
    )
    assert_replayed(first, second, 201)
    first, second = await twice(api, f"/accounts/{account_id}/holds/{holds[1]}/release", None)
    assert_replayed(first, second, 200)
    assert await api.balances(account_id) == {
        "posted": "96.00",
        "held": "0.00",
        "available": "96.00",
    }


async def test_reverse_replay(api: Api) -> None:
    account = await api.account()
    deposit = await api.deposit(account["account_id"], "50.00")
    first, second = await twice(
        api, f"/transactions/{deposit['transaction_id']}/reverse", {"reason": "mistake"}
    )
    assert_replayed(first, second, 201)
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"


async def test_batch_replay(api: Api) -> None:
    account = await api.funded_account("100.00")
    operations = [
        {"type": "deposit", "account_id": account["account_id"], "amount": money("1.00")},
        {"type": "withdraw", "account_id": account["account_id"], "amount": money("500.00")},
    ]
    first, second = await twice(
        api, "/transactions/batch", {"mode": "independent", "operations": operations}
    )
    assert_replayed(first, second, 200)
    assert first.json()["posted"] == 1
    assert (await api.balances(account["account_id"]))["posted"] == "101.00"


# --- the key is one request ---------------------------------------------------------------


async def test_same_key_with_a_different_body_is_refused(api: Api) -> None:
    account = await api.account()
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {"account_id": account["account_id"], "amount": money("10.00")}
    first = await api.http.post("/transactions/deposit", headers=headers, json=body)
    assert first.status_code == 201
    for changed in (
        {**body, "amount": money("10.01")},
        {**body, "reference": "another"},
    ):
        refused = await api.http.post("/transactions/deposit", headers=headers, json=changed)
        assert_problem(refused, 422, "idempotency_key_reused")
    elsewhere = await api.http.post("/transactions/withdraw", headers=headers, json=body)
    assert_problem(elsewhere, 422, "idempotency_key_reused")
    assert (await api.balances(account["account_id"]))["posted"] == "10.00"
    # the first request is still what the key stands for
    again = await api.http.post("/transactions/deposit", headers=headers, json=body)
    assert_replayed(first, again, 201)


async def test_the_same_request_with_different_json_formatting_is_a_replay(api: Api) -> None:
    account = await api.account()
    headers = {
        **await api.admin(),
        "Idempotency-Key": key(),
        "Content-Type": "application/json",
    }
    compact = (
        f'{{"account_id":"{account["account_id"]}","amount":{{"amount":"3.00","currency":"USD"}}}}'
    )
    spaced = (
        f'{{ "amount": {{ "currency": "USD", "amount": "3.00" }},\n'
        f'  "account_id": "{account["account_id"]}" }}'
    )
    first = await api.http.post("/transactions/deposit", headers=headers, content=compact)
    second = await api.http.post("/transactions/deposit", headers=headers, content=spaced)
    assert_replayed(first, second, 201)
    assert (await api.balances(account["account_id"]))["posted"] == "3.00"


@pytest.mark.parametrize(
    "path",
    [
        "/transactions/deposit",
        "/transactions/withdraw",
        "/transactions/transfer",
        "/transactions/batch",
    ],
)
async def test_money_posts_need_an_idempotency_key(api: Api, path: str) -> None:
    account = await api.funded_account("100.00")
    other = await api.account()
    bodies: dict[str, dict[str, Any]] = {
        "/transactions/deposit": {"account_id": account["account_id"], "amount": money("1.00")},
        "/transactions/withdraw": {"account_id": account["account_id"], "amount": money("1.00")},
        "/transactions/transfer": {
            "from_account_id": account["account_id"],
            "to_account_id": other["account_id"],
            "amount": money("1.00"),
        },
        "/transactions/batch": {
            "mode": "atomic",
            "operations": [
                {"type": "deposit", "account_id": account["account_id"], "amount": money("1.00")}
            ],
        },
    }
    response = await api.http.post(path, headers=await api.admin(), json=bodies[path])
    assert_problem(response, 422, "validation_failed")
    assert {e["field"] for e in response.json()["errors"]} == {"header.Idempotency-Key"}
    assert (await api.balances(account["account_id"]))["posted"] == "100.00"


async def test_reverse_needs_an_idempotency_key(api: Api) -> None:
    account = await api.account()
    deposit = await api.deposit(account["account_id"], "5.00")
    response = await api.http.post(
        f"/transactions/{deposit['transaction_id']}/reverse",
        headers=await api.admin(),
        json={"reason": "x"},
    )
    assert_problem(response, 422, "validation_failed")
    assert (await api.balances(account["account_id"]))["posted"] == "5.00"


@pytest.mark.parametrize("bad", ["", "has space", "k" * 256, "caf\u00e9"])
async def test_an_idempotency_key_is_1_to_255_printable_ascii_characters(
    api: Api, bad: str
) -> None:
    account = await api.account()
    response = await api.http.post(
        "/transactions/deposit",
        headers=[*(await api.admin()).items(), ("Idempotency-Key", bad.encode())],
        json={"account_id": account["account_id"], "amount": money("1.00")},
    )
    assert_problem(response, 422, "validation_failed")
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"
    longest = await api.http.post(
        "/transactions/deposit",
        headers={**await api.admin(), "Idempotency-Key": (k := key()) + "~" * (255 - len(k))},
        json={"account_id": account["account_id"], "amount": money("1.00")},
    )
    assert longest.status_code == 201, longest.text


async def test_keys_belong_to_their_principal(api: Api) -> None:
    account = await api.account()
    shared = key()
    body = {"account_id": account["account_id"], "amount": money("10.00")}
    first_user = await api.as_role("teller")
    second_user = await api.as_role("manager")
    first = await api.http.post(
        "/transactions/deposit", headers={**first_user, "Idempotency-Key": shared}, json=body
    )
    second = await api.http.post(
        "/transactions/deposit", headers={**second_user, "Idempotency-Key": shared}, json=body
    )
    assert first.status_code == second.status_code == 201
    assert REPLAYED not in second.headers
    assert first.json()["transaction_id"] != second.json()["transaction_id"]
    assert (await api.balances(account["account_id"]))["posted"] == "20.00"
    # and another principal's different body under the same key is not a reuse either
    third = await api.http.post(
        "/transactions/deposit",
        headers={**await api.admin(), "Idempotency-Key": shared},
        json={**body, "amount": money("1.00")},
    )
    assert third.status_code == 201
    assert (await api.balances(account["account_id"]))["posted"] == "21.00"


# --- refusals keep nothing ----------------------------------------------------------------


async def test_a_refused_request_does_not_use_up_its_key(api: Api) -> None:
    account = await api.funded_account("10.00")
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {"account_id": account["account_id"], "amount": money("50.00")}
    refused = await api.http.post("/transactions/withdraw", headers=headers, json=body)
    assert_problem(refused, 422, "insufficient_funds")
    retried = await api.http.post("/transactions/withdraw", headers=headers, json=body)
    assert_problem(retried, 422, "insufficient_funds")
    assert REPLAYED not in retried.headers

    await api.deposit(account["account_id"], "40.00")
    succeeded = await api.http.post("/transactions/withdraw", headers=headers, json=body)
    assert succeeded.status_code == 201, succeeded.text
    assert REPLAYED not in succeeded.headers
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"
    replay = await api.http.post("/transactions/withdraw", headers=headers, json=body)
    assert_replayed(succeeded, replay, 201)


async def test_a_refused_hold_does_not_use_up_its_key(api: Api) -> None:
    account = await api.funded_account("10.00")
    headers = {**await api.admin(), "Idempotency-Key": key()}
    path = f"/accounts/{account['account_id']}/holds"
    refused = await api.http.post(path, headers=headers, json={"amount": money("20.00")})
    assert_problem(refused, 422, "insufficient_funds")
    await api.deposit(account["account_id"], "10.00")
    placed = await api.http.post(path, headers=headers, json={"amount": money("20.00")})
    assert placed.status_code == 201, placed.text
    assert (await api.balances(account["account_id"]))["held"] == "20.00"


async def test_a_refused_atomic_batch_does_not_use_up_its_key(api: Api) -> None:
    """The module's promise: "a request that is refused or fails keeps nothing, so it can be
    corrected and retried with the same key" — an atomic batch refused with 422 included."""
    account = await api.funded_account("10.00")
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {
        "mode": "atomic",
        "operations": [
            {"type": "withdraw", "account_id": account["account_id"], "amount": money("50.00")}
        ],
    }
    refused = await api.http.post("/transactions/batch", headers=headers, json=body)
    assert refused.status_code == 422, refused.text
    await api.deposit(account["account_id"], "40.00")
    retried = await api.http.post("/transactions/batch", headers=headers, json=body)
    assert retried.status_code == 200, retried.text
    assert REPLAYED not in retried.headers
    assert (await api.balances(account["account_id"]))["posted"] == "0.00"


async def test_a_request_refused_for_its_permission_does_not_use_up_its_key(api: Api) -> None:
    account = await api.account()
    shared = key()
    body = {"account_id": account["account_id"], "amount": money("20000.00")}
    teller = await api.as_role("teller")
    refused = await api.http.post(
        "/transactions/deposit", headers={**teller, "Idempotency-Key": shared}, json=body
    )
    assert_problem(refused, 403, "amount_above_role_limit")
    smaller = {**body, "amount": money("20.00")}
    accepted = await api.http.post(
        "/transactions/deposit", headers={**teller, "Idempotency-Key": shared}, json=smaller
    )
    assert accepted.status_code == 201, accepted.text
    assert (await api.balances(account["account_id"]))["posted"] == "20.00"


# --- concurrent duplicates ----------------------------------------------------------------


async def concurrently(
    count: int, send: Callable[[], Awaitable[httpx.Response]]
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(send() for _ in range(count))))


async def test_concurrent_duplicates_post_once(api: Api) -> None:
    account = await api.account()
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {"account_id": account["account_id"], "amount": money("10.00")}

    responses = await concurrently(
        5, lambda: api.http.post("/transactions/deposit", headers=headers, json=body)
    )
    originals = [r for r in responses if r.status_code == 201 and REPLAYED not in r.headers]
    assert len(originals) == 1, [(r.status_code, r.text) for r in responses]
    (original,) = originals
    for response in responses:
        if response is original:
            continue
        if response.status_code == 201:
            assert response.headers[REPLAYED] == "true"
            assert response.content == original.content
        else:
            assert_problem(response, 409, "idempotency_key_in_use")
    assert (await api.balances(account["account_id"]))["posted"] == "10.00"

    after = await api.http.post("/transactions/deposit", headers=headers, json=body)
    assert_replayed(original, after, 201)


async def test_a_retry_while_the_first_posting_runs_is_409(
    api: Api, app: FastAPI | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request is held inside the ledger; its retry is told 409 at once, not made
    to wait; once the first has answered, a retry is its replay."""
    if app is None:
        pytest.skip("holds a request inside the ledger: needs the app in this process")
    ledger = app.state.bank.ledger
    entered, go_on = asyncio.Event(), asyncio.Event()
    execute = ledger.execute

    async def held(*arguments: Any) -> Any:
        entered.set()
        await go_on.wait()
        return await execute(*arguments)

    monkeypatch.setattr(ledger, "execute", held)
    account = await api.account()
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {"account_id": account["account_id"], "amount": money("10.00")}
    first = asyncio.create_task(api.http.post("/transactions/deposit", headers=headers, json=body))
    await asyncio.wait_for(entered.wait(), 10)

    retry = await asyncio.wait_for(
        api.http.post("/transactions/deposit", headers=headers, json=body), 10
    )
    assert_problem(retry, 409, "idempotency_key_in_use")
    go_on.set()
    assert_replayed(
        await first, await api.http.post("/transactions/deposit", headers=headers, json=body), 201
    )
    assert (await api.balances(account["account_id"]))["posted"] == "10.00"


async def test_concurrent_duplicate_transfers_post_once(api: Api) -> None:
    source = await api.funded_account("100.00")
    target = await api.account()
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {
        "from_account_id": source["account_id"],
        "to_account_id": target["account_id"],
        "amount": money("60.00"),
    }
    responses = await concurrently(
        5, lambda: api.http.post("/transactions/transfer", headers=headers, json=body)
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert sum(1 for r in responses if r.status_code == 201 and REPLAYED not in r.headers) == 1
    assert (await api.balances(source["account_id"]))["posted"] == "40.00"
    assert (await api.balances(target["account_id"]))["posted"] == "60.00"


async def test_a_batch_and_a_single_request_with_related_keys_are_different_requests(
    api: Api,
) -> None:
    """Keys are the client's: "K:0" on a deposit and "K" on a batch are two keys, two
    requests, two deposits — the batch's items must not borrow the single request's key."""
    account = await api.account()
    shared = key()
    deposit = {"account_id": account["account_id"], "amount": money("5.00")}
    single = await api.http.post(
        "/transactions/deposit",
        headers={**await api.admin(), "Idempotency-Key": f"{shared}:0"},
        json=deposit,
    )
    assert single.status_code == 201
    batched = await api.http.post(
        "/transactions/batch",
        headers={**await api.admin(), "Idempotency-Key": shared},
        json={"mode": "independent", "operations": [{"type": "deposit", **deposit}]},
    )
    assert batched.status_code == 200, batched.text
    (item,) = batched.json()["results"]
    assert item["status"] == "posted"
    assert item["transaction"]["transaction_id"] != single.json()["transaction_id"]
    assert (await api.balances(account["account_id"]))["posted"] == "10.00"
