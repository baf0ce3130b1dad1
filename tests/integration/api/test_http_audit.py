"""/audit/events over HTTP: who did what, under which request id, newest first, filtered
and paged. Every test reads only the events of entities it created."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import pytest

from support.api import Api, key, money
from support.problems import assert_problem

pytestmark = pytest.mark.http


async def events(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.http.get(
        "/audit/events", headers=await api.as_role("auditor"), params=params
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def admin_actor(api: Api) -> str:
    me = await api.http.get("/auth/me", headers=await api.admin())
    return f"user:{me.json()['principal_id']}"


async def customer_with_history(api: Api) -> str:
    """A customer created, then renamed twice: three events."""
    customer = await api.customer()
    for name in ("Second", "Third"):
        changed = await api.http.patch(
            f"/customers/{customer['customer_id']}",
            headers=await api.admin(),
            json={"given_name": name},
        )
        assert changed.status_code == 200
    return str(customer["customer_id"])


async def test_an_action_is_recorded_with_its_actor_and_request_id(api: Api) -> None:
    request_id = f"audit-{uuid.uuid4().hex}"
    created = await api.http.post(
        "/customers",
        headers={**await api.admin(), "X-Request-ID": request_id},
        json={"given_name": "Ada", "family_name": "Lovelace"},
    )
    customer_id = created.json()["customer_id"]
    page = await events(api, entity_type="customer", entity_id=customer_id)
    assert page["next_cursor"] is None
    (event,) = page["items"]
    assert event["action"] == "customer.created"
    assert event["entity_type"] == "customer"
    assert event["entity_id"] == customer_id
    assert event["actor"] == await admin_actor(api)
    assert event["request_id"] == request_id
    assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None
    assert isinstance(event["chain"]["shard"], int)
    assert event["chain"]["seq"] >= 1
    assert re.fullmatch(r"[0-9a-f]{64}", event["chain"]["hash"])


async def test_money_movements_are_recorded_with_their_legs(api: Api) -> None:
    account = await api.account()
    entry = await api.deposit(account["account_id"], "12.34")
    (event,) = (await events(api, entity_id=entry["transaction_id"]))["items"]
    assert event["action"] == "ledger.deposit"
    assert event["entity_type"] == "journal_entry"
    legs = event["details"]["legs"]
    assert [account["account_id"], "C", 1234, "USD"] in legs
    assert len(legs) == 2


async def test_events_newest_first_filtered_and_paged(api: Api) -> None:
    customer_id = await customer_with_history(api)
    everything = (await events(api, entity_id=customer_id))["items"]
    assert [e["action"] for e in everything] == [
        "customer.updated",
        "customer.updated",
        "customer.created",
    ]
    times = [e["occurred_at"] for e in everything]
    assert times == sorted(times, reverse=True)

    first = await events(api, entity_id=customer_id, limit=2)
    assert first["items"] == everything[:2]
    assert first["next_cursor"] is not None
    second = await events(api, entity_id=customer_id, limit=2, cursor=first["next_cursor"])
    assert second["items"] == everything[2:]
    assert second["next_cursor"] is None

    created = await events(api, entity_id=customer_id, action="customer.created")
    assert created["items"] == everything[2:]
    by_actor = await events(api, entity_id=customer_id, actor=await admin_actor(api))
    assert by_actor["items"] == everything
    someone_else = await events(api, entity_id=customer_id, actor=f"user:{uuid.uuid4()}")
    assert someone_else["items"] == []
    assert (await events(api, entity_id=customer_id, entity_type="account"))["items"] == []


async def test_events_filtered_by_time(api: Api) -> None:
    customer_id = await customer_with_history(api)
    newest, middle, oldest = (await events(api, entity_id=customer_id))["items"]
    since = await events(api, entity_id=customer_id, **{"from": middle["occurred_at"]})
    assert since["items"] == [newest, middle]  # from is inclusive
    until = await events(api, entity_id=customer_id, to=middle["occurred_at"])
    assert until["items"] == [oldest]  # to is exclusive


async def test_events_time_filters_need_a_time_zone(api: Api) -> None:
    response = await api.http.get(
        "/audit/events",
        headers=await api.as_role("auditor"),
        params={"from": "2024-01-01T00:00:00"},
    )
    assert response.status_code == 422, response.text


async def test_events_refuse_a_forged_cursor(api: Api) -> None:
    response = await api.http.get(
        "/audit/events",
        headers=await api.as_role("auditor"),
        params={"cursor": "WyJub3QtYS10aW1lIiwgMSwgMV0"},  # base64 of ["not-a-time", 1, 1]
    )
    assert_problem(response, 400, "bad_cursor")


async def test_events_refuse_bad_parameters(api: Api) -> None:
    auditor = await api.as_role("auditor")
    for params in ({"limit": 0}, {"limit": 501}, {"entity_type": "x" * 65}, {"to": "later"}):
        response = await api.http.get("/audit/events", headers=auditor, params=params)
        assert_problem(response, 422, "validation_failed")


async def test_reading_the_audit_trail_needs_audit_read(api: Api) -> None:
    response = await api.http.get("/audit/events", headers=await api.as_role("teller"))
    assert assert_problem(response, 403, "forbidden")["context"] == {"permission": "audit:read"}
    # and the refusal moved nothing: a teller's deposit is still recorded as theirs
    account = await api.account()
    deposit = await api.http.post(
        "/transactions/deposit",
        headers={**await api.as_role("teller"), "Idempotency-Key": key()},
        json={"account_id": account["account_id"], "amount": money("1.00")},
    )
    teller = await api.http.get("/auth/me", headers=await api.as_role("teller"))
    (event,) = (await events(api, entity_id=deposit.json()["transaction_id"]))["items"]
    assert event["actor"] == f"user:{teller.json()['principal_id']}"
