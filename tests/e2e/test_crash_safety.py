"""Crash safety: the API server is killed with SIGKILL under concurrent load, several times,
and started again on the same port, while clients keep posting deposits and transfers.

Each client sends every operation under its own Idempotency-Key and, as a well-behaved
client must, sends it again with the same key on a connection error, a 5xx or
409 idempotency_key_in_use, with backoff, until it gets a definitive answer (a deposit's or
transfer's key is claimed in its posting's transaction, so a request that died with the
process left no claim behind: ADR 0015). After the
last start: every acknowledged transaction is in the journal once, under its key; nothing
refused was posted; no entry is partial; a replay returns the same transaction; money is
conserved; ``nexum verify`` is clean. On SQLite and on PostgreSQL; one start of each run
has two worker processes.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from support.api import ADMIN_PASSWORD, ADMIN_USERNAME, Api, key, money
from support.server import Server, free_port, nexum, start, wait_until_ready

pytestmark = pytest.mark.slow

API_TIMEOUT = 2  # s: a claim left by a killed request is taken over after 4 s
WORKERS_PER_START = (1, 2, 1, 1)  # NEXUM_API_WORKERS of the first start and each restart
KILL_AT = (0.15, 0.4, 0.65)  # the share of operations answered when each kill comes
CLIENTS = 6
OPERATIONS_PER_CLIENT = 20
ACCOUNTS = 5
OPENING = Decimal("50.00")
WITHIN = 40.0  # s a client keeps retrying one operation before it gives up
PROBLEM = "application/problem+json"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on each backend."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if request.param == "sqlite" else "tmp_postgres_url"
    )
    return url


@dataclass
class Crashable:
    """The server, started again on one port after each kill, logs in a directory per
    start."""

    database_url: str
    root: Path
    port: int = field(default_factory=free_port)
    starts: int = 0
    server: Server | None = None
    killed: list[int] = field(default_factory=list)  # the exit code of each killed start

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, workers: int) -> Server:
        self.starts += 1
        server = start(
            self.database_url,
            self.root / f"start-{self.starts}",
            workers=workers,
            api_port=str(self.port),
            api_timeout=str(API_TIMEOUT),
        )
        server.port = self.port
        self.server = server
        await wait_until_ready(server)
        return server

    def kill(self) -> None:
        """SIGKILL to the server's whole process group (parent and workers at once), as
        when the machine or container dies."""
        assert self.server is not None
        os.killpg(self.server.process.pid, signal.SIGKILL)
        self.killed.append(self.server.process.wait(timeout=10))
        self.server.stop()  # nothing left to stop; records the exit code

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@dataclass
class Operation:
    key: str
    path: str
    body: dict[str, Any]
    attempts: list[str] = field(default_factory=list)  # what each attempt got
    status: int | None = None
    code: str | None = None
    transaction_id: str | None = None
    answered_by: str | None = None  # X-Request-ID of the attempt that got the answer

    @property
    def amount(self) -> Decimal:
        return Decimal(self.body["amount"]["amount"])


def problem_code(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return None
    code: str | None = response.json().get("code")
    return code


async def until_definitive(
    http: httpx.AsyncClient, headers: dict[str, str], operation: Operation
) -> None:
    """Send, and on a connection error, a 5xx or 409 idempotency_key_in_use send again with
    the same Idempotency-Key (backoff 50 ms doubling to 1 s, jittered), until a definitive
    answer or WITHIN seconds."""
    deadline = time.monotonic() + WITHIN
    pause = 0.05
    while True:
        request_id = f"{operation.key}-a{len(operation.attempts)}"
        try:
            response = await http.post(
                operation.path,
                json=operation.body,
                headers={**headers, "Idempotency-Key": operation.key, "X-Request-ID": request_id},
            )
        except httpx.TransportError as exc:
            operation.attempts.append(type(exc).__name__)
        else:
            code = problem_code(response)
            operation.attempts.append(f"{response.status_code} {code or ''}".strip())
            if response.status_code < 500 and code != "idempotency_key_in_use":
                operation.status, operation.code = response.status_code, code
                operation.answered_by = request_id
                if response.status_code == 201:
                    operation.transaction_id = response.json()["transaction_id"]
                return
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(pause * (0.5 + random.random()))
        pause = min(pause * 2, 1.0)


async def journal(database_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every journal entry (id, reference, request_id) and line (entry_id, side, amount),
    read straight from the database."""
    entries_sql = "SELECT id, reference, request_id FROM journal_entries"
    lines_sql = "SELECT entry_id, side, amount_minor FROM journal_lines"
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":

        def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            conn = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
            conn.row_factory = sqlite3.Row
            try:
                return (
                    [dict(row) for row in conn.execute(entries_sql)],
                    [dict(row) for row in conn.execute(lines_sql)],
                )
            finally:
                conn.close()

        entries, lines = await asyncio.to_thread(read)
    else:
        conn = await asyncpg.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            entries = [dict(row) for row in await conn.fetch(entries_sql)]
            lines = [dict(row) for row in await conn.fetch(lines_sql)]
        finally:
            await conn.close()
    for entry in entries:
        entry["id"] = str(UUID(str(entry["id"])))
    for line in lines:
        line["entry_id"] = str(UUID(str(line["entry_id"])))
    return entries, lines


def verify_clean(database_url: str) -> None:
    result = nexum("verify", database_url=database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the ledger is consistent" in result.stdout, result.stdout


def plan_operations(rng: random.Random, accounts: list[str]) -> list[list[Operation]]:
    """Per client: deposits (30 %) and transfers between the accounts, the transfers large
    enough that some are refused for want of funds. The reference is the key, so that the
    journal can be searched by it."""
    plans = []
    for client in range(CLIENTS):
        operations = []
        for n in range(OPERATIONS_PER_CLIENT):
            idempotency_key = f"crash-{key()[5:21]}-{client}-{n}"
            if rng.random() < 0.3:
                amount = money(f"{Decimal(rng.randint(100, 5000)) / 100:.2f}")
                path = "/transactions/deposit"
                body: dict[str, Any] = {"account_id": rng.choice(accounts), "amount": amount}
            else:
                amount = money(f"{Decimal(rng.randint(100, 15000)) / 100:.2f}")
                source, target = rng.sample(accounts, 2)
                path = "/transactions/transfer"
                body = {"from_account_id": source, "to_account_id": target, "amount": amount}
            body["reference"] = idempotency_key
            operations.append(Operation(idempotency_key, path, body))
        plans.append(operations)
    return plans


async def test_killed_under_load_and_restarted_nothing_is_lost_or_doubled(empty_database, tmp_path):
    """Three SIGKILLs under load, each followed by a start on the same port (the second with
    two workers); then every acknowledged posting is there once, nothing refused posted,
    nothing is partial, replays answer the same transaction, money is conserved."""
    crashable = Crashable(empty_database, tmp_path)
    try:
        await crashable.start(WORKERS_PER_START[0])  # migrates the empty database
        async with httpx.AsyncClient(base_url=crashable.base_url, timeout=30) as http:
            api = Api(http)
            setup = await http.post(
                "/auth/setup",
                json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "full_name": "A"},
            )
            assert setup.status_code == 201, setup.text
            _, teller = await api.new_user("teller")
            accounts = [str((await api.account())["account_id"]) for _ in range(ACCOUNTS)]
            for account in accounts:
                await api.deposit(account, f"{OPENING:.2f}", headers=teller)

        plans = plan_operations(random.Random(20260704), accounts)
        operations = [operation for plan in plans for operation in plan]
        answered = 0
        progress = asyncio.Condition()

        async def client(plan: list[Operation]) -> None:
            nonlocal answered
            async with httpx.AsyncClient(base_url=crashable.base_url, timeout=30) as http:
                for operation in plan:
                    await until_definitive(http, teller, operation)
                    async with progress:
                        answered += 1
                        progress.notify_all()

        started = time.monotonic()
        clients = asyncio.gather(*(client(plan) for plan in plans))
        try:
            for share, workers in zip(KILL_AT, WORKERS_PER_START[1:], strict=True):
                async with progress:
                    await asyncio.wait_for(
                        progress.wait_for(lambda s=share: answered >= s * len(operations)),
                        timeout=WITHIN,
                    )
                await asyncio.sleep(random.uniform(0, 0.05))  # anywhere in a request
                crashable.kill()
                await asyncio.sleep(0.2)
                await crashable.start(workers)
            await asyncio.wait_for(clients, timeout=2 * WITHIN)
        finally:
            if not clients.done():
                clients.cancel()
                with suppress(asyncio.CancelledError):
                    await clients
        elapsed = time.monotonic() - started

        # every operation got a definitive answer: posted (201) or refused for want of funds
        undecided = [(o.key, o.attempts) for o in operations if o.status is None]
        assert not undecided, undecided[:3]
        odd = [(o.key, o.status, o.code) for o in operations if o.status not in (201, 422)]
        assert not odd, odd[:5]
        assert {o.code for o in operations if o.status == 422} <= {"insufficient_funds"}
        errors = Counter(a for o in operations for a in o.attempts if a.startswith("500"))
        assert not errors, errors  # a crash is not an internal error
        assert len(crashable.killed) == len(KILL_AT)
        assert all(code == -signal.SIGKILL for code in crashable.killed), crashable.killed
        posted = {o.key: o for o in operations if o.status == 201}
        refused = {o.key for o in operations if o.status == 422}
        assert refused, "no transfer was refused: the accounts were never short"

        # the journal, straight from the database: one entry per acknowledged key, none for
        # a refused one, every entry whole and balanced
        entries, lines = await journal(empty_database)
        ours = [entry for entry in entries if (entry["reference"] or "").startswith("crash-")]
        per_key = Counter(entry["reference"] for entry in ours)
        assert per_key.most_common(1)[0][1] == 1, per_key.most_common(3)
        assert {e["reference"]: e["id"] for e in ours} == {
            k: o.transaction_id for k, o in posted.items()
        }
        assert not refused & set(per_key)
        for entry in ours:  # posted by one of that key's own attempts
            assert entry["request_id"].startswith(entry["reference"] + "-a"), entry
        by_entry: dict[str, list[int]] = {}
        for line in lines:
            signed = line["amount_minor"] if line["side"] == "D" else -line["amount_minor"]
            by_entry.setdefault(line["entry_id"], []).append(signed)
        assert set(by_entry) == {entry["id"] for entry in entries}
        partial = [e for e, amounts in by_entry.items() if len(amounts) < 2 or sum(amounts)]
        assert not partial, partial[:3]
        assert all(len(by_entry[entry["id"]]) == 2 for entry in ours)

        # through the API: every acknowledged transaction is there, a replay returns it,
        # the balances are what the posted operations make them
        async with httpx.AsyncClient(base_url=crashable.base_url, timeout=30) as http:
            gate = asyncio.Semaphore(8)

            async def read_and_replay(operation: Operation) -> None:
                async with gate:
                    found = await http.get(
                        f"/transactions/{operation.transaction_id}", headers=teller
                    )
                    replay = await http.post(
                        operation.path,
                        json=operation.body,
                        headers={**teller, "Idempotency-Key": operation.key},
                    )
                assert found.status_code == 200, found.text
                assert found.json()["amount"] == operation.body["amount"]
                assert replay.status_code == 201, replay.text
                assert replay.headers.get("idempotent-replayed") == "true"
                assert replay.json()["transaction_id"] == operation.transaction_id

            await asyncio.gather(*(read_and_replay(o) for o in posted.values()))
            api = Api(http, {"admin": teller})
            final = {
                account: Decimal((await api.balances(account))["posted"]) for account in accounts
            }
        expected = dict.fromkeys(accounts, OPENING)
        for operation in posted.values():
            if operation.path.endswith("deposit"):
                expected[operation.body["account_id"]] += operation.amount
            else:
                expected[operation.body["from_account_id"]] -= operation.amount
                expected[operation.body["to_account_id"]] += operation.amount
        assert final == expected
        deposited = sum(
            (o.amount for o in posted.values() if o.path.endswith("deposit")), Decimal(0)
        )
        assert sum(final.values()) == OPENING * ACCOUNTS + deposited
        assert all(balance >= 0 for balance in final.values()), final
    finally:
        crashable.stop()
    verify_clean(empty_database)

    retried = [o for o in operations if len(o.attempts) > 1]
    first_posting_returned = sum(
        1
        for o in posted.values()
        for e in ours
        if e["reference"] == o.key and e["request_id"] != o.answered_by
    )
    print(
        f"{len(operations)} operations in {elapsed:.1f} s, {len(KILL_AT)} kills:"
        f" {len(posted)} posted, {len(refused)} refused, {len(retried)} retried"
        f" ({Counter(a for o in retried for a in o.attempts[:-1])}),"
        f" {first_posting_returned} answered with a posting an earlier attempt made"
    )
