"""End to end: Nexum started as operators start it (``python run.py``, configured by NEXUM_*
environment variables only), spoken to over real HTTP, then checked with ``nexum verify``.

Every test has an empty database of its own, on SQLite and on PostgreSQL, and a server of
its own that migrates it at start-up (tests/support/server.py starts and stops it).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from support.api import ADMIN_PASSWORD, ADMIN_USERNAME, Api, key, money
from support.databases import HEAD, create_postgres_database, drop_postgres_database, sqlite_url
from support.server import (
    STARTUP_COMPLETE,
    Server,
    client_port_of,
    nexum,
    running_server,
)

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"
CLEAN_EXIT = (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled gracefully


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on each backend."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if request.param == "sqlite" else "tmp_postgres_url"
    )
    return url


def client(server: Server, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, timeout=60, **options)


def amount_of(body: dict[str, Any]) -> Decimal:
    return Decimal(body["amount"]["amount"])


async def post(
    http: httpx.AsyncClient,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    idempotency_key: str | None = None,
) -> httpx.Response:
    extra = {"Idempotency-Key": idempotency_key or key()}
    return await http.post(path, json=body, headers={**headers, **extra})


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def balances(api: Api, account_id: str) -> tuple[str, str, str]:
    found = await api.balances(account_id)
    return found["posted"], found["held"], found["available"]


def verify_clean(database_url: str) -> None:
    result = nexum("verify", database_url=database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the ledger is consistent" in result.stdout, result.stdout


async def signed_up(api: Api) -> dict[str, str]:
    """The first administrator, set up through the API (201), and their headers."""
    setup = await api.http.post(
        "/auth/setup",
        json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "full_name": "Founder"},
    )
    assert setup.status_code == 201, setup.text
    return await api.admin()


# --- 1. a whole day at the bank ------------------------------------------------------------


async def test_a_whole_day_at_the_bank_then_the_ledger_verifies(empty_database, tmp_path):
    async with running_server(empty_database, tmp_path / "server") as server:
        async with client(server) as http:
            api = Api(http)
            await signed_up(api)
            again = await http.post(
                "/auth/setup",
                json={"username": "second", "password": ADMIN_PASSWORD, "full_name": "Late"},
            )
            assert again.status_code == 409, again.text  # set-up happens once

            _, teller = await api.new_user("teller")
            _, manager = await api.new_user("manager")

            async def open_for(given: str) -> str:
                customer = await api.customer(teller, given_name=given, family_name="Example")
                account = await api.account(customer["customer_id"], headers=teller)
                assert account["status"] == "active"
                return str(account["account_id"])

            alice, bob, carol, dave = [await open_for(name) for name in ("Al", "Bo", "Ca", "Da")]

            # morning: cash in at the counter
            first_key = key()
            first = created(
                await post(
                    http,
                    "/transactions/deposit",
                    {"account_id": alice, "amount": money("1000.00")},
                    teller,
                    first_key,
                )
            )
            assert first["type"] == "deposit"
            assert amount_of(first) == Decimal("1000.00")
            replay = await post(
                http,
                "/transactions/deposit",
                {"account_id": alice, "amount": money("1000.00")},
                teller,
                first_key,
            )
            assert replay.status_code == 201, replay.text
            assert replay.headers.get("idempotent-replayed") == "true"
            assert replay.json()["transaction_id"] == first["transaction_id"]
            reused = await post(
                http,
                "/transactions/deposit",
                {"account_id": alice, "amount": money("999.00")},
                teller,
                first_key,
            )
            problem(reused, 422, "idempotency_key_reused")
            await api.deposit(bob, "500.00", headers=teller)
            await api.deposit(carol, "250.00", headers=teller)

            withdrawal = created(
                await post(
                    http,
                    "/transactions/withdraw",
                    {"account_id": alice, "amount": money("120.50")},
                    teller,
                )
            )
            transfer = created(
                await post(
                    http,
                    "/transactions/transfer",
                    {"from_account_id": alice, "to_account_id": bob, "amount": money("200.00")},
                    teller,
                )
            )
            assert {
                (line["account_id"], line["direction"], line["balance_after"]["amount"])
                for line in transfer["lines"]
            } == {(alice, "debit", "679.50"), (bob, "credit", "700.00")}

            outgoing = created(
                await post(
                    http,
                    "/transactions/transfer",
                    {
                        "from_account_id": bob,
                        "to_account_id": None,
                        "amount": money("75.25"),
                        "counterparty": {"name": "ACME GmbH", "account": "DE89370400440532013000"},
                    },
                    teller,
                )
            )
            assert outgoing["type"] == "external_transfer_out"
            incoming = created(
                await post(
                    http,
                    "/transactions/deposit",
                    {
                        "account_id": carol,
                        "amount": money("300.00"),
                        "counterparty": {"name": "Payroll", "account": "GB29NWBK60161331926819"},
                    },
                    teller,
                )
            )
            assert incoming["type"] == "external_transfer_in"

            # a card hold at noon, captured in part to another customer
            hold = created(
                await post(
                    http,
                    f"/accounts/{alice}/holds",
                    {"amount": money("100.00"), "reference": "card-auth-1"},
                    teller,
                )
            )
            assert hold["status"] == "active"
            assert await balances(api, alice) == ("679.50", "100.00", "579.50")
            capture = created(
                await post(
                    http,
                    f"/accounts/{alice}/holds/{hold['hold_id']}/capture",
                    {"amount": money("60.00"), "destination_account_id": carol},
                    teller,
                )
            )
            assert capture["type"] == "hold_capture"
            assert amount_of(capture) == Decimal("60.00")
            held = await http.get(f"/accounts/{alice}/holds/{hold['hold_id']}", headers=teller)
            assert held.json()["status"] == "captured", held.text
            assert held.json()["captured"] == money("60.00")
            assert await balances(api, alice) == ("619.50", "0.00", "619.50")

            # the withdrawal was a mistake: only a manager may reverse it, and only once
            reason = {"reason": "teller keyed the wrong account"}
            path = f"/transactions/{withdrawal['transaction_id']}/reverse"
            problem(await post(http, path, reason, teller), 403, "forbidden")
            reversal = created(await post(http, path, reason, manager))
            assert reversal["type"] == "reversal"
            assert reversal["reversal_of"] == withdrawal["transaction_id"]
            problem(await post(http, path, reason, manager), 409, "already_reversed")

            # refusals move nothing
            big = {"account_id": bob, "amount": money("10000.01")}
            problem(
                await post(http, "/transactions/deposit", big, teller),
                403,
                "amount_above_role_limit",
            )
            too_much = {"account_id": bob, "amount": money("5000.00")}
            problem(
                await post(http, "/transactions/withdraw", too_much, teller),
                422,
                "insufficient_funds",
            )

            # afternoon: a manager's batches, one all-or-nothing that fails as a whole
            operations = [
                {"type": "deposit", "account_id": dave, "amount": money("50.00")},
                {
                    "type": "transfer",
                    "from_account_id": carol,
                    "to_account_id": dave,
                    "amount": money("25.00"),
                },
                {"type": "withdraw", "account_id": bob, "amount": money("10.00")},
            ]
            batch = {"mode": "atomic", "operations": operations}
            problem(await post(http, "/transactions/batch", batch, teller), 403, "forbidden")
            posted = await post(http, "/transactions/batch", batch, manager)
            assert posted.status_code == 200, posted.text
            assert posted.json()["posted"] == 3
            assert posted.json()["failed"] == 0
            failing = {
                "mode": "atomic",
                "operations": [
                    {"type": "deposit", "account_id": dave, "amount": money("5.00")},
                    {"type": "withdraw", "account_id": dave, "amount": money("1000.00")},
                ],
            }
            refused = await post(http, "/transactions/batch", failing, manager)
            assert refused.status_code == 422, refused.text
            assert refused.json()["posted"] == 0
            assert sorted(item["status"] for item in refused.json()["results"]) == [
                "failed",
                "not_attempted",
            ]  # which one failed: test_an_atomic_batch_names_the_operation_that_failed

            # evening: every balance, to the cent
            expected = {
                alice: ("740.00", "0.00", "740.00"),
                bob: ("614.75", "0.00", "614.75"),
                carol: ("585.00", "0.00", "585.00"),
                dave: ("75.00", "0.00", "75.00"),
            }
            assert {account: await balances(api, account) for account in expected} == expected
            statement = await http.get(f"/accounts/{alice}/transactions", headers=teller)
            assert statement.status_code == 200, statement.text
            lines = statement.json()["items"]
            assert [(line["sequence"], line["type"], line["balance_after"]) for line in lines] == [
                (5, "reversal", money("740.00")),
                (4, "hold_capture", money("619.50")),
                (3, "transfer", money("679.50")),
                (2, "withdrawal", money("879.50")),
                (1, "deposit", money("1000.00")),
            ]

        assert server.stop() in CLEAN_EXIT, server.describe()  # SIGTERM: no SIGKILL needed
    verify_clean(empty_database)


async def test_an_atomic_batch_names_the_operation_that_failed(empty_database, tmp_path):
    """Of two operations on one account, the second is refused: the answer must say so,
    not blame the first one, which would have posted."""
    async with (
        running_server(empty_database, tmp_path / "server") as server,
        client(server) as http,
    ):
        api = Api(http)
        await signed_up(api)
        account = str((await api.funded_account("10.00"))["account_id"])
        batch = {
            "mode": "atomic",
            "operations": [
                {"type": "deposit", "account_id": account, "amount": money("5.00")},
                {"type": "withdraw", "account_id": account, "amount": money("1000.00")},
            ],
        }
        refused = await post(http, "/transactions/batch", batch, await api.admin())
        assert refused.status_code == 422, refused.text
        assert await balances(api, account) == ("10.00", "0.00", "10.00")
        results = refused.json()["results"]
        assert [(item["index"], item["status"]) for item in results] == [
            (0, "not_attempted"),
            (1, "failed"),
        ], results
        assert results[1]["error"]["code"] == "insufficient_funds"


# --- 2. several worker processes -----------------------------------------------------------

# SQLite: fresh databases in a row, so that a race losing about one start in two shows
# (nearly) every run; PostgreSQL's advisory lock makes its one start as good as many
STARTS = {"sqlite": 4, "postgresql": 1}


@asynccontextmanager
async def more_empty_databases(like: str, tmp_path: Path, count: int) -> AsyncIterator[list[str]]:
    """``count`` more empty databases on the backend of ``like``, dropped afterwards."""
    if like.startswith("sqlite"):
        yield [sqlite_url(tmp_path, f"more-{index}.db") for index in range(count)]
        return
    urls: list[str] = []
    try:
        for _ in range(count):
            urls.append(await create_postgres_database("nexum_test_own"))
        yield urls
    finally:
        for url in urls:
            await drop_postgres_database(url)


async def test_two_workers_start_together_on_an_empty_database(empty_database, tmp_path):
    """Both workers migrate and seed the empty database at start-up, at the same moment;
    both must come up, every time (PostgreSQL: an advisory lock serialises the migrators;
    SQLite: its writer lock must)."""
    starts = STARTS[make_url(empty_database).get_backend_name()]
    async with more_empty_databases(empty_database, tmp_path, starts - 1) as more:
        for attempt, url in enumerate([empty_database, *more]):
            log_dir = tmp_path / f"server-{attempt}"
            async with running_server(url, log_dir, workers=2) as server:
                assert server.output().count(STARTUP_COMPLETE) == 2, server.describe()
                async with client(server) as http:
                    ready = await http.get("/health/ready")
                    assert ready.json() == {"status": "ready", "schema": HEAD}
                assert len(await serving_pids(server, {}) & server.child_pids()) == 2
                assert server.stop() in CLEAN_EXIT, server.describe()


async def serving_pids(server: Server, headers: dict[str, str], rounds: int = 20) -> set[int]:
    """Open fresh connections, 16 at a time, until both workers have answered (or rounds run
    out): the worker processes that served, every answer having been 200."""
    seen: set[int] = set()
    path = "/auth/me" if headers else "/health/live"
    for _ in range(rounds):
        clients = [client(server) for _ in range(16)]
        try:
            responses = await asyncio.gather(*(c.get(path, headers=headers) for c in clients))
            for response in responses:
                assert response.status_code == 200, response.text
                pid = server.pid_serving(client_port_of(response))
                assert pid is not None, "no server process holds the connection"
                seen.add(pid)
        finally:
            for c in clients:
                await c.aclose()
        if len(seen) >= server.workers:
            break
    assert len(seen) == server.workers, f"{len(seen)} of {server.workers} workers answered"
    return seen


TRANSFERS = 200
ACCOUNTS = 5
OPENING = Decimal("500.00")
CLIENTS = 20
CONCURRENCY = 20
SENT_THRICE = range(0, TRANSFERS, 8)  # these keys are sent three times, two at once


async def test_two_workers_under_concurrent_transfers(empty_database, tmp_path):
    """Many clients, two worker processes, one database: every transfer posts once or is
    refused whole, retried keys post once, money is conserved, and the ledger verifies."""
    migrated = nexum("migrate", "up", database_url=empty_database)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    async with running_server(empty_database, tmp_path / "server", workers=2) as server:
        async with client(server) as http:
            api = Api(http)
            await signed_up(api)
            _, teller = await api.new_user("teller")
            accounts = [str((await api.account())["account_id"]) for _ in range(ACCOUNTS)]
            for account in accounts:
                await api.deposit(account, str(OPENING), headers=teller)

            # one token, accepted by both worker processes
            assert len(await serving_pids(server, teller)) == 2

            rng = random.Random(20260601)
            plan: list[tuple[str, dict[str, Any]]] = []
            for _ in range(TRANSFERS):
                source, target = rng.sample(accounts, 2)
                cents = rng.randint(100, 6000)
                body = {
                    "from_account_id": source,
                    "to_account_id": target,
                    "amount": money(f"{Decimal(cents) / 100:.2f}"),
                }
                plan.append((key(), body))
            sends = [
                (idempotency_key, body)
                for index, (idempotency_key, body) in enumerate(plan)
                for _ in range(3 if index in SENT_THRICE else 1)
            ]
            rng.shuffle(sends)
            clients = [client(server) for _ in range(CLIENTS)]
            gate = asyncio.Semaphore(CONCURRENCY)
            answers: dict[str, list[httpx.Response]] = defaultdict(list)

            async def send(index: int, idempotency_key: str, body: dict[str, Any]) -> None:
                async with gate:
                    response = await post(
                        clients[index % CLIENTS],
                        "/transactions/transfer",
                        body,
                        teller,
                        idempotency_key,
                    )
                answers[idempotency_key].append(response)

            started = time.monotonic()
            try:
                await asyncio.gather(*(send(i, k, b) for i, (k, b) in enumerate(sends)))
                # the retried keys once more, after everything: the first answer again
                for index in SENT_THRICE:
                    idempotency_key, body = plan[index]
                    await send(index, idempotency_key, body)
            finally:
                for c in clients:
                    await c.aclose()
            elapsed = time.monotonic() - started

            unexpected = [
                (r.status_code, r.text)
                for responses in answers.values()
                for r in responses
                if not (
                    r.status_code == 201
                    or (r.status_code == 409 and r.json()["code"] == "idempotency_key_in_use")
                    or (r.status_code == 422 and r.json()["code"] == "insufficient_funds")
                )
            ]
            assert not unexpected, unexpected[:5]

            posted: dict[str, str] = {}  # idempotency key -> its one transaction
            for idempotency_key, responses in answers.items():
                ids = {r.json()["transaction_id"] for r in responses if r.status_code == 201}
                assert len(ids) <= 1, (idempotency_key, ids)
                if ids:
                    posted[idempotency_key] = ids.pop()
            for index in SENT_THRICE:
                idempotency_key, _ = plan[index]
                last = answers[idempotency_key][-1]
                if idempotency_key in posted:  # posted once; the late retry is a replay
                    assert last.status_code == 201, last.text
                    assert last.headers.get("idempotent-replayed") == "true"
            assert len(set(posted.values())) == len(posted)
            assert len(posted) > TRANSFERS // 2, f"only {len(posted)} transfers posted"

            # the journal holds every posted transfer exactly once, as asked
            bodies = dict(plan)
            by_transaction = {tx: bodies[k] for k, tx in posted.items()}
            expected: dict[str, Decimal] = dict.fromkeys(accounts, OPENING)
            for body in by_transaction.values():
                expected[body["from_account_id"]] -= Decimal(body["amount"]["amount"])
                expected[body["to_account_id"]] += Decimal(body["amount"]["amount"])
            for account in accounts:
                listed = await transfers_of(http, teller, account)
                counts = Counter(entry["transaction_id"] for entry in listed)
                assert all(count == 1 for count in counts.values()), counts.most_common(3)
                mine = {
                    tx
                    for tx, body in by_transaction.items()
                    if account in (body["from_account_id"], body["to_account_id"])
                }
                assert set(counts) == mine, (len(counts), len(mine))
                for entry in listed:
                    body = by_transaction[entry["transaction_id"]]
                    lines = {(line["account_id"], line["direction"]) for line in entry["lines"]}
                    assert lines == {
                        (body["from_account_id"], "debit"),
                        (body["to_account_id"], "credit"),
                    }
                    assert entry["amount"] == body["amount"]

            final = {account: await balances(api, account) for account in accounts}
            assert final == {
                account: (f"{expected[account]:.2f}", "0.00", f"{expected[account]:.2f}")
                for account in accounts
            }
            assert sum(Decimal(posted_) for posted_, _, _ in final.values()) == OPENING * ACCOUNTS
            assert all(Decimal(posted_) >= 0 for posted_, _, _ in final.values()), final
            print(f"{len(answers)} keys, {len(posted)} posted in {elapsed:.1f} s")

        assert server.stop() in CLEAN_EXIT, server.describe()
    verify_clean(empty_database)


async def transfers_of(
    http: httpx.AsyncClient, headers: dict[str, str], account_id: str
) -> list[dict[str, Any]]:
    """Every transfer touching the account, following the pages."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"account_id": account_id, "type": "transfer", "limit": "37"}
        if cursor:
            params["cursor"] = cursor
        page = await http.get("/transactions", params=params, headers=headers)
        assert page.status_code == 200, page.text
        found.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


# --- 3. the request deadline ---------------------------------------------------------------


@pytest.mark.postgres
async def test_a_request_past_the_deadline_is_stopped_whole(tmp_postgres_url, tmp_path):
    """A deposit stuck behind another transaction's row lock is answered 503 at
    NEXUM_API_TIMEOUT, writes nothing, and can be retried with the same key."""
    async with (
        running_server(tmp_postgres_url, tmp_path / "server", api_timeout="2") as server,
        client(server) as http,
    ):
        api = Api(http)
        await signed_up(api)
        account = (await api.funded_account("100.00"))["account_id"]
        deposit = {"account_id": account, "amount": money("25.00")}
        idempotency_key = key()
        dsn = make_url(tmp_postgres_url).set(drivername="postgresql")
        locker = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            lock = locker.transaction()
            await lock.start()
            row = await locker.fetchrow("SELECT id FROM accounts WHERE id = $1 FOR UPDATE", account)
            assert row is not None
            started = time.monotonic()
            stuck = await post(
                http, "/transactions/deposit", deposit, await api.admin(), idempotency_key
            )
            waited = time.monotonic() - started
            await lock.rollback()
        finally:
            await locker.close()
        body = problem(stuck, 503, "request_timeout")
        assert 1.8 <= waited <= 4.0, waited
        assert await balances(api, account) == ("100.00", "0.00", "100.00")

        retried = await post(
            http, "/transactions/deposit", deposit, await api.admin(), idempotency_key
        )
        transaction = created(retried)
        assert retried.headers.get("idempotent-replayed") is None
        assert await balances(api, account) == ("125.00", "0.00", "125.00")
        again = await post(
            http, "/transactions/deposit", deposit, await api.admin(), idempotency_key
        )
        assert again.status_code == 201, again.text
        assert again.json()["transaction_id"] == transaction["transaction_id"]
        assert await balances(api, account) == ("125.00", "0.00", "125.00")
        statement = await http.get(f"/accounts/{account}/transactions", headers=await api.admin())
        assert [line["amount"] for line in statement.json()["items"]] == [
            money("25.00"),
            money("100.00"),
        ]
        assert (await http.get("/health")).status_code == 200
        # the answer names its request once, as every other answer does
        assert stuck.headers.get_list("x-request-id") == [body["request_id"]]


# --- 4. request size -----------------------------------------------------------------------


async def test_a_body_over_the_size_limit_is_refused(empty_database, tmp_path):
    async with (
        running_server(empty_database, tmp_path / "server", api_max_request_size="2048") as server,
        client(server) as http,
    ):
        api = Api(http)
        await signed_up(api)
        account = (await api.funded_account("10.00"))["account_id"]
        headers = {**await api.admin(), "Content-Type": "application/json"}
        large = json.dumps(
            {
                "account_id": account,
                "amount": money("1.00"),
                "metadata": {f"k{i}": "x" * 90 for i in range(40)},
            }
        ).encode()
        assert 4000 <= len(large) <= 4200

        small = await http.post(
            "/transactions/deposit",
            content=json.dumps({"account_id": account, "amount": money("1.00")}),
            headers={**headers, "Idempotency-Key": key()},
        )
        assert small.status_code == 201, small.text

        declared = await http.post(
            "/transactions/deposit",
            content=large,
            headers={**headers, "Idempotency-Key": key()},
        )
        assert declared.request.headers["content-length"] == str(len(large))
        declared_problem = problem(declared, 413, "request_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(large), 512):
                yield large[start : start + 512]

        streamed = await http.post(
            "/transactions/deposit",
            content=chunks(),
            headers={**headers, "Idempotency-Key": key()},
        )
        assert streamed.request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in streamed.request.headers
        assert await balances(api, account) == ("11.00", "0.00", "11.00")
        # a streamed body is refused as a declared one is; each refusal names its
        # request once, as every other answer does
        assert (
            streamed.status_code,
            streamed.headers["content-type"],
            streamed.json()["code"],
            declared.headers.get_list("x-request-id"),
        ) == (413, PROBLEM, "request_too_large", [declared_problem["request_id"]])


# --- 5. CORS ---------------------------------------------------------------------------------


async def test_cors_allows_the_configured_origin_only(empty_database, tmp_path):
    allowed = "https://app.example.com"
    async with (
        running_server(empty_database, tmp_path / "server", cors_origins=allowed) as server,
        client(server) as http,
    ):

        async def preflight(origin: str) -> httpx.Response:
            return await http.options(
                "/transactions/deposit",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
                },
            )

        ok = await preflight(allowed)
        assert ok.status_code == 200, ok.text
        assert ok.headers["access-control-allow-origin"] == allowed
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "POST" in ok.headers["access-control-allow-methods"]
        allowed_headers = ok.headers["access-control-allow-headers"].lower()
        assert "idempotency-key" in allowed_headers
        assert "authorization" in allowed_headers

        other = await preflight("https://evil.example.com")
        assert other.status_code == 400, other.text
        assert "access-control-allow-origin" not in other.headers

        simple = await http.get("/health/live", headers={"Origin": allowed})
        assert simple.headers["access-control-allow-origin"] == allowed
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        foreign = await http.get("/health/live", headers={"Origin": "https://evil.example.com"})
        assert foreign.status_code == 200
        assert "access-control-allow-origin" not in foreign.headers


# --- 6. the public probes --------------------------------------------------------------------


async def test_the_public_probes_and_request_ids(empty_database, tmp_path):
    async with (
        running_server(empty_database, tmp_path / "server") as server,
        client(server) as http,
    ):
        health = await http.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "healthy"
        database = health.json()["components"]["database"]
        assert database["status"] == "healthy"
        assert database["response_time_ms"] >= 0

        live = await http.get("/health/live")
        assert (live.status_code, live.json()) == (200, {"status": "alive"})
        ready = await http.get("/health/ready")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "schema": HEAD})

        docs = await http.get("/docs")
        assert docs.status_code == 200
        assert "swagger-ui" in docs.text.lower()
        redoc = await http.get("/redoc")
        assert redoc.status_code == 200
        assert "redoc" in redoc.text.lower()
        spec = await http.get("/openapi.json")
        assert spec.status_code == 200
        assert spec.json()["info"]["title"] == "Nexum Core Banking API"
        assert "/transactions/deposit" in spec.json()["paths"]

        chosen = await http.get("/health/live", headers={"X-Request-ID": "e2e-req-42"})
        assert chosen.headers["x-request-id"] == "e2e-req-42"
        made_up = await http.get("/health/live", headers={"X-Request-ID": "not valid!"})
        generated = made_up.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated), generated
        first = (await http.get("/health/live")).headers["x-request-id"]
        second = (await http.get("/health/live")).headers["x-request-id"]
        assert first != second

        private = await http.get("/auth/me", headers={"X-Request-ID": "e2e-req-43"})
        body = problem(private, 401, "unauthenticated")
        assert body["request_id"] == "e2e-req-43" == private.headers["x-request-id"]
