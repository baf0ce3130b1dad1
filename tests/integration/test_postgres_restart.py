"""PostgreSQL restarted under a running API: a real server (``python run.py``) on a private
PostgreSQL of this module's own (tests/support/pg_cluster.py), clients posting transfers
with Idempotency-Keys all along, and the database crashed (``pg_ctl restart -m immediate``),
restarted (``-m fast``) or stopped for a while in the middle.

Clients do what a careful channel does: a transfer that fails (503, a dropped connection, or
409 "still running") is retried with the same key and body, a bounded number of times with
backoff. Afterwards, without restarting the API: it is healthy again and posts; every
acknowledged (201) transfer is in the journal exactly once under its key, whole (two lines,
balanced); each account's balance is what the acknowledged transfers make it, so no money
appeared or vanished; ``nexum verify`` finds the ledger consistent. While the database is
down the API answers 503 problem+json with Retry-After, never 500.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

import core_banking.storage.base
from conftest import settings_for
from core_banking.bootstrap import build
from core_banking.domain.commands import Deposit
from core_banking.storage import create_storage
from core_banking.storage.posting_postgres import PostgresPostingWriter
from support.api import Api, money
from support.banking import CONTEXT, funded_account, key
from support.banking import money as domain_money
from support.pg_cluster import PgCluster, pg_cluster
from support.server import Server, nexum, running_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("pg_restart")]

PROBLEM = "application/problem+json"
CLIENTS = 4
ACCOUNTS = 4
OPENING = Decimal("1000.00")
RETRIES = 40  # per transfer; pauses 0.05 s doubling to 1 s: about half a minute at most
RECOVERY_SECONDS = 20.0


# --- the cluster, the server, the accounts ---------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    with pg_cluster() as found:
        yield found


@pytest.fixture(scope="module")
def database_url(cluster: PgCluster) -> str:
    return cluster.create_database("nexum_restart")


@pytest.fixture(scope="module")
async def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    async with running_server(database_url, tmp_path_factory.mktemp("restart")) as found:
        yield found


@dataclass
class Bank:
    http: httpx.AsyncClient
    teller: dict[str, str]
    accounts: list[str]


@pytest.fixture(scope="module")
async def bank(server: Server) -> AsyncIterator[Bank]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        api = Api(http)
        _, teller = await api.new_user("teller")
        accounts = [
            str((await api.funded_account(str(OPENING), headers=teller))["account_id"])
            for _ in range(ACCOUNTS)
        ]
        yield Bank(http, teller, accounts)


# --- clients that retry ----------------------------------------------------------------------


@dataclass
class Transfer:
    """One transfer a client asked for under one key, and every answer it got."""

    key: str
    source: str
    target: str
    amount: Decimal
    started: float
    answers: list[int | str] = field(default_factory=list)
    entry_id: str | None = None
    finished: float = 0.0

    @property
    def body(self) -> dict[str, Any]:
        return {
            "from_account_id": self.source,
            "to_account_id": self.target,
            "amount": money(str(self.amount)),
            "reference": self.key,
        }


def retryable(response: httpx.Response) -> bool:
    """503 (database away, as problem+json with Retry-After) and 409 for a key whose
    first request has not let go yet; anything else is an answer."""
    if response.status_code == 503:
        assert response.headers["content-type"].startswith(PROBLEM), response.text
        assert "retry-after" in response.headers, response.headers
        return True
    return response.status_code == 409 and response.json().get("code") == "idempotency_key_in_use"


async def post_with_retries(bank: Bank, transfer: Transfer) -> Transfer:
    pause = 0.05
    for _ in range(RETRIES):
        try:
            response = await bank.http.post(
                "/transactions/transfer",
                json=transfer.body,
                headers={**bank.teller, "Idempotency-Key": transfer.key},
            )
        except httpx.TransportError as exc:
            transfer.answers.append(type(exc).__name__)
        else:
            transfer.answers.append(response.status_code)
            if response.status_code == 201:
                transfer.entry_id = response.json()["transaction_id"]
                break
            if not retryable(response):
                break
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
    transfer.finished = time.monotonic()
    return transfer


async def client_loop(bank: Bank, stop: asyncio.Event, done: list[Transfer]) -> None:
    rng = random.Random()
    while not stop.is_set():
        source, target = rng.sample(bank.accounts, 2)
        amount = Decimal(rng.randint(1, 500)) / 100
        transfer = Transfer(f"restart-{uuid.uuid4().hex}", source, target, amount, time.monotonic())
        done.append(await post_with_retries(bank, transfer))


async def under_load(
    bank: Bank, disruption: Any, before: float = 1.0, after: float = 2.0
) -> tuple[list[Transfer], float, float]:
    """Run CLIENTS clients; ``before`` s in, run ``disruption`` in a thread; stop them
    ``after`` s later (each finishes its transfer). Returns the transfers and when the
    disruption began and ended."""
    stop = asyncio.Event()
    done: list[Transfer] = []
    clients = [asyncio.create_task(client_loop(bank, stop, done)) for _ in range(CLIENTS)]
    try:
        await asyncio.sleep(before)
        began = time.monotonic()
        await asyncio.to_thread(disruption)
        ended = time.monotonic()
        await asyncio.sleep(after)
    finally:
        stop.set()
        await asyncio.gather(*clients)
    return done, began, ended


# --- what must hold afterwards ----------------------------------------------------------------


async def journal_of(database_url: str, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The journal entries carrying each key as their reference, with their lines."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            SELECT e.reference, e.id::text AS entry_id,
                   count(l.line_no) AS lines,
                   coalesce(sum(l.amount_minor) FILTER (WHERE l.side = 'D'), 0) AS debits,
                   coalesce(sum(l.amount_minor) FILTER (WHERE l.side = 'C'), 0) AS credits,
                   array_agg(l.account_id::text || ':' || l.side::text || ':' || l.amount_minor
                             ORDER BY l.line_no) AS legs
            FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id
            WHERE e.reference = ANY($1::text[])
            GROUP BY e.reference, e.id
            """,
            keys,
        )
    finally:
        await conn.close()
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        found[row["reference"]].append(dict(row))
    return found


async def balances_of(database_url: str, accounts: list[str]) -> dict[str, Decimal]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id::text AS id, posted_minor FROM accounts WHERE id = ANY($1::uuid[])",
            accounts,
        )
    finally:
        await conn.close()
    return {row["id"]: Decimal(row["posted_minor"]) / 100 for row in rows}


async def assert_nothing_lost_or_doubled(
    bank: Bank, database_url: str, transfers: list[Transfer]
) -> None:
    answers = Counter(answer for transfer in transfers for answer in transfer.answers)
    assert 500 not in answers, answers
    assert set(answers) <= {201, 409, 503, "ConnectError", "RemoteProtocolError", "ReadError"}, (
        answers
    )
    unanswered = [t.answers for t in transfers if t.entry_id is None]
    assert unanswered == [], f"transfers never acknowledged within {RETRIES} tries: {unanswered}"

    journal = await journal_of(database_url, [t.key for t in transfers])
    for transfer in transfers:
        entries = journal.get(transfer.key, [])
        assert len(entries) == 1, (transfer, entries)  # posted exactly once under its key
        (entry,) = entries
        assert entry["entry_id"] == transfer.entry_id, (transfer, entry)  # the one acknowledged
        minor = int(transfer.amount * 100)
        assert (entry["lines"], entry["debits"], entry["credits"]) == (2, minor, minor), entry
        assert sorted(entry["legs"]) == sorted(
            [f"{transfer.source}:D:{minor}", f"{transfer.target}:C:{minor}"]
        ), entry

    await assert_balances_follow(bank, database_url)


# Every acknowledged transfer of the whole module, to predict each balance.
ACKNOWLEDGED: list[Transfer] = []


async def assert_balances_follow(bank: Bank, database_url: str) -> None:
    expected = dict.fromkeys(bank.accounts, OPENING)
    for transfer in ACKNOWLEDGED:
        expected[transfer.source] -= transfer.amount
        expected[transfer.target] += transfer.amount
    assert await balances_of(database_url, bank.accounts) == expected
    assert sum(expected.values()) == OPENING * ACCOUNTS  # money moved, none made or lost


async def wait_healthy(http: httpx.AsyncClient, within: float = RECOVERY_SECONDS) -> float:
    """Seconds until /health says healthy (the API recovering by itself)."""
    started = time.monotonic()
    last: Any = None
    while time.monotonic() - started < within:
        try:
            response = await http.get("/health")
            last = (response.status_code, response.json())
            if response.status_code == 200 and last[1]["status"] == "healthy":
                return time.monotonic() - started
        except httpx.TransportError as exc:
            last = repr(exc)
        await asyncio.sleep(0.1)
    raise AssertionError(f"not healthy {within:g} s after the database came back: {last}")


async def posts_first_time(bank: Bank) -> None:
    response = await bank.http.post(
        "/transactions/transfer",
        json={
            "from_account_id": bank.accounts[0],
            "to_account_id": bank.accounts[1],
            "amount": money("0.01"),
            "reference": (reference := f"after-{uuid.uuid4().hex}"),
        },
        headers={**bank.teller, "Idempotency-Key": reference},
    )
    assert response.status_code == 201, response.text
    ACKNOWLEDGED.append(
        Transfer(reference, bank.accounts[0], bank.accounts[1], Decimal("0.01"), 0.0, [201])
    )


def verify_clean(database_url: str) -> None:
    result = nexum("verify", database_url=database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the ledger is consistent" in result.stdout, result.stdout


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["immediate", "fast"])
async def test_a_restart_mid_load_loses_and_doubles_nothing(
    mode: str, cluster: PgCluster, database_url: str, server: Server, bank: Bank
) -> None:
    started_at = cluster.primary.sql("SELECT pg_postmaster_start_time()")
    transfers, began, ended = await under_load(bank, lambda: cluster.primary.restart(mode))
    assert cluster.primary.sql("SELECT pg_postmaster_start_time()") != started_at  # it did

    # The restart really was mid-load: transfers were acknowledged before and after it,
    # and some were in flight while it happened.
    assert any(t.finished < began for t in transfers)
    assert any(t.started > ended and t.entry_id for t in transfers)
    in_flight = [t for t in transfers if t.started < ended and t.finished > began]
    assert in_flight, "no transfer was in flight during the restart"

    answers = Counter(answer for transfer in transfers for answer in transfer.answers)
    print(f"{mode}: {len(transfers)} transfers, {len(in_flight)} in flight, answers {answers}")
    ACKNOWLEDGED.extend(t for t in transfers if t.entry_id)
    await assert_nothing_lost_or_doubled(bank, database_url, transfers)
    assert server.process.poll() is None  # the same server process all along
    await wait_healthy(bank.http)
    await posts_first_time(bank)
    verify_clean(database_url)


async def test_while_the_database_is_down_the_api_answers_503_then_recovers(
    cluster: PgCluster, database_url: str, server: Server, bank: Bank
) -> None:
    # A transfer stuck behind a row lock is in flight when the database goes away. It is
    # cut off (503), unless the lock's holder was stopped first and the transfer committed
    # in that moment, before its own backend was (201): either answer is true, and its
    # retry below must find exactly one posting.
    holder = await asyncpg.connect(database_url)
    await holder.execute("BEGIN")
    await holder.execute("SELECT 1 FROM accounts WHERE id = $1::uuid FOR UPDATE", bank.accounts[2])
    stuck = Transfer(
        f"stuck-{uuid.uuid4().hex}", bank.accounts[2], bank.accounts[3], Decimal("7.00"), 0.0
    )
    first_try = asyncio.create_task(
        bank.http.post(
            "/transactions/transfer",
            json=stuck.body,
            headers={**bank.teller, "Idempotency-Key": stuck.key},
        )
    )
    await asyncio.sleep(0.5)
    assert not first_try.done()

    await asyncio.to_thread(cluster.primary.stop, "fast")
    try:
        cut_off = await first_try
        assert cut_off.status_code in (201, 503), cut_off.text
        if cut_off.status_code == 503:
            assert cut_off.headers["content-type"].startswith(PROBLEM)
            assert cut_off.json()["code"] == "service_unavailable"
            assert int(cut_off.headers["retry-after"]) > 0

        # each waits out the reconnect attempts (about 1.5 s): ask all at once
        transfer, account, entries = await asyncio.gather(
            bank.http.post(
                "/transactions/transfer",
                json={
                    "from_account_id": bank.accounts[0],
                    "to_account_id": bank.accounts[1],
                    "amount": money("1.00"),
                },
                headers={**bank.teller, "Idempotency-Key": f"down-{uuid.uuid4().hex}"},
            ),
            bank.http.get(f"/accounts/{bank.accounts[0]}", headers=bank.teller),
            bank.http.get("/transactions", headers=bank.teller),
        )
        down = {"transfer": transfer, "account": account, "entries": entries}
        for what, response in down.items():
            assert response.status_code == 503, (what, response.text)
            assert response.headers["content-type"].startswith(PROBLEM), what
            assert response.json()["code"] == "service_unavailable", what
            assert "retry-after" in response.headers, what
        health = await bank.http.get("/health")
        assert health.status_code == 503, health.text
        assert health.json()["status"] == "unhealthy"
        assert health.json()["components"]["database"]["status"] == "unhealthy"
        assert (await bank.http.get("/health/live")).status_code == 200
        ready = await bank.http.get("/health/ready")
        assert ready.status_code == 503, ready.text
        await asyncio.sleep(1.0)  # down for a while: longer than a request rides through
    finally:
        await asyncio.to_thread(cluster.primary.start)
        holder.terminate()

    recovered_in = await wait_healthy(bank.http)
    # The key was claimed only in the posting's own transaction, which rolled back with
    # the cut-off (ADR 0015): the retry posts it now, once, with nothing to wait for;
    # had the first committed, the retry is answered with that posting.
    retried_at = time.monotonic()
    await post_with_retries(bank, stuck)
    assert stuck.entry_id is not None, stuck.answers
    if cut_off.status_code == 201:
        assert stuck.entry_id == cut_off.json()["transaction_id"]
    assert time.monotonic() - retried_at < 10, stuck.answers
    ACKNOWLEDGED.append(stuck)
    await assert_nothing_lost_or_doubled(bank, database_url, [stuck])
    assert server.process.poll() is None
    await posts_first_time(bank)
    verify_clean(database_url)
    print(f"healthy {recovered_in:.2f} s after the database started; retry answers {stuck.answers}")


async def test_postings_on_connections_pooled_before_a_restart_see_no_error(
    cluster: PgCluster, database_url: str, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A posting runs on the driver's own connection (one round trip), which SQLAlchemy
    never sees fail: after a restart, a pool of dead connections used to fail every
    posting, for ever, unless some other query happened to empty the pool. Now a pooled
    connection the driver knows is closed is replaced at checkout: no error at all."""
    seen: list[BaseException] = []
    real = core_banking.storage.base.connection_lost

    def spy(exc: BaseException) -> bool:
        seen.append(exc)
        return real(exc)

    monkeypatch.setattr(core_banking.storage.base, "connection_lost", spy)
    storage = create_storage(database_url, pool_size=3, max_overflow=0)
    bank = build(settings_for(database_url), storage=storage)
    try:
        account = await funded_account(bank, "10.00")

        async def deposit() -> None:
            await bank.ledger.deposit(Deposit(account.id, domain_money("1.00"), key()), CONTEXT)

        await deposit()
        # three pooled connections (three concurrent deposits would share one group commit)
        await asyncio.gather(storage.ping(), storage.ping(), storage.ping())
        assert storage.engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        await asyncio.to_thread(cluster.primary.restart, "fast")
        await asyncio.sleep(0.2)  # the driver notices its sockets closed

        for _ in range(6):  # twice round the pool
            await deposit()
        assert seen == []
        assert (await bank.accounts.get(account.id)).posted_minor == 17_00
    finally:
        await bank.aclose()


async def test_a_posting_whose_connection_closes_under_it_is_retried_not_a_500(
    database_url: str, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen under load during a crash: the server goes away between asyncpg's Parse and
    its Bind/Execute, and asyncpg says InternalClientError ("cannot switch to state 12;
    another operation (2) is in progress") on a connection that is now closed. That was
    a 500 and a dropped HTTP connection; it is a lost connection, and a posting with its
    idempotency claim is retried."""
    storage = create_storage(database_url, pool_size=2, max_overflow=0)
    bank = build(settings_for(database_url), storage=storage)
    real_post = PostgresPostingWriter.post
    calls = 0

    async def cut_off(self: PostgresPostingWriter, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            self._driver.terminate()  # type: ignore[attr-defined]
            raise asyncpg.exceptions.InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress"
            )
        return await real_post(self, *args)

    try:
        account = await funded_account(bank, "10.00")
        monkeypatch.setattr(PostgresPostingWriter, "post", cut_off)
        deposit = Deposit(account.id, domain_money("1.00"), key())
        result = await bank.ledger.deposit(deposit, CONTEXT)
        assert calls == 2  # cut off once, then posted on a fresh connection
        assert not result.replayed
        assert (await bank.accounts.get(account.id)).posted_minor == 11_00
        assert storage.engine.pool.checkedin() <= 2  # type: ignore[attr-defined]
    finally:
        await bank.aclose()
