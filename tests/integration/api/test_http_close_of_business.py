"""/eod over HTTP: closing business dates (201 new, 200 for a date closed before, with the
stored run), the refusals as problems, reading runs and the calendar, and who may do what.

The business calendar is one per bank, so each test starts an application of its own on a
database of its own, with a clock it sets. Not marked ``http``: a deployed server's
calendar is not a test's to move.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from conftest import settings_for
from support.api import Api
from support.banking import FakeClock
from support.problems import assert_problem
from support.security import own_api

TODAY = date(2026, 11, 20)
RUN_KEYS = {"business_date", "status", "actor", "started_at", "finished_at", "steps"}
STEP_KEYS = {"name", "position", "status", "items_done", "started_at", "finished_at"}


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url


@pytest.fixture
async def eod_api(own_url: str) -> AsyncIterator[Api]:
    clock = FakeClock(moment=datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    async with own_api(settings_for(own_url), clock) as (_, api):
        yield api


def _day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def test_closing_dates_in_order_and_asking_again(eod_api):
    api = eod_api
    admin = await api.admin()
    response = await api.http.get("/eod/business-date", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"business_date": _day(0), "last_closed_date": None}

    response = await api.http.post("/eod/runs", headers=admin, json={"business_date": _day(-1)})
    assert response.status_code == 201, response.text
    run = response.json()
    assert set(run) == RUN_KEYS
    assert (run["business_date"], run["status"]) == (_day(-1), "done")
    assert run["actor"].startswith("user:")
    assert run["steps"][0]["name"] == "expire_holds"
    for position, step in enumerate(run["steps"]):
        assert set(step) == STEP_KEYS
        assert (step["position"], step["status"], step["items_done"]) == (position, "done", 0)

    again = await api.http.post("/eod/runs", headers=admin, json={"business_date": _day(-1)})
    assert again.status_code == 200, again.text
    assert again.json() == run
    response = await api.http.get(f"/eod/runs/{_day(-1)}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == run
    response = await api.http.get("/eod/business-date", headers=admin)
    assert response.json() == {"business_date": _day(0), "last_closed_date": _day(-1)}

    out_of_order = await api.http.post("/eod/runs", headers=admin, json={"business_date": _day(1)})
    assert_problem(out_of_order, 409, "business_date_out_of_order", expected=_day(0))
    response = await api.http.post("/eod/runs", headers=admin, json={"business_date": _day(0)})
    assert response.status_code == 201, response.text
    future = await api.http.post("/eod/runs", headers=admin, json={"business_date": _day(1)})
    assert_problem(future, 422, "business_date_in_future", today=_day(0))
    before_first = await api.http.post("/eod/runs", headers=admin, json={"business_date": _day(-5)})
    assert_problem(before_first, 409, "business_date_closed")


async def test_runs_are_listed_newest_first_a_page_at_a_time(eod_api):
    api = eod_api
    admin = await api.admin()
    for offset in (-3, -2, -1):
        response = await api.http.post(
            "/eod/runs", headers=admin, json={"business_date": _day(offset)}
        )
        assert response.status_code == 201, response.text

    first = await api.http.get("/eod/runs", headers=admin, params={"limit": 2})
    assert first.status_code == 200, first.text
    assert [run["business_date"] for run in first.json()["items"]] == [_day(-1), _day(-2)]
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    rest = await api.http.get("/eod/runs", headers=admin, params={"limit": 2, "cursor": cursor})
    assert [run["business_date"] for run in rest.json()["items"]] == [_day(-3)]
    assert rest.json()["next_cursor"] is None

    assert_problem(
        await api.http.get("/eod/runs", headers=admin, params={"cursor": "not-ours"}),
        400,
        "bad_cursor",
    )
    for limit in (0, 101):
        response = await api.http.get("/eod/runs", headers=admin, params={"limit": limit})
        assert_problem(response, 422, "validation_failed")


async def test_bad_requests_and_unknown_runs_are_problems(eod_api):
    api = eod_api
    admin = await api.admin()
    assert_problem(
        await api.http.get(f"/eod/runs/{_day(-1)}", headers=admin),
        404,
        "not_found",
        business_date=_day(-1),
    )
    for body in ({}, {"business_date": "20-11-2026"}, {"business_date": _day(0), "x": 1}):
        response = await api.http.post("/eod/runs", headers=admin, json=body)
        assert_problem(response, 422, "validation_failed")
    assert_problem(
        await api.http.get("/eod/runs/yesterday", headers=admin), 422, "validation_failed"
    )


async def test_only_administrators_close_dates_and_managers_and_auditors_read_them(eod_api):
    api = eod_api
    body = {"business_date": _day(0)}
    for role in ("manager", "auditor", "teller", "loan_officer", "customer_service"):
        response = await api.http.post("/eod/runs", headers=await api.as_role(role), json=body)
        assert_problem(response, 403, "forbidden", permission="eod:run")
    for role in ("manager", "auditor"):
        response = await api.http.get("/eod/business-date", headers=await api.as_role(role))
        assert response.status_code == 200, response.text
    for role in ("teller", "loan_officer", "customer_service"):
        response = await api.http.get("/eod/runs", headers=await api.as_role(role))
        assert_problem(response, 403, "forbidden", permission="eod:read")
    assert_problem(await api.http.get("/eod/runs"), 401, "unauthenticated")


async def test_the_openapi_document_states_the_outcomes(eod_api):
    response = await eod_api.http.get("/openapi.json")
    operation = response.json()["paths"]["/eod/runs"]["post"]
    assert {"200", "201", "409", "422", "403"} <= set(operation["responses"])
    assert operation["x-permission"] == "eod:run"
