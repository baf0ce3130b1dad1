"""Read/write splitting on real streaming replicas: a private primary and two replicas made
with ``pg_basebackup -R`` (tests/support/pg_cluster.py), and the app configured as
operators configure it (NEXUM_DATABASE_URL, NEXUM_DATABASE_REPLICA_URLS), started in
process; its start-up migrates the primary, the replicas follow.

What is proven, against the servers themselves (``inet_server_port()`` and
``pg_is_in_recovery()`` on the connection a read is given, and replay paused on a replica
so that it visibly lags):

- writes and reads that must see the caller's own writes go to the primary; reads that may
  lag (statements, journal searches, customer searches, the audit trail) go to the replicas
  in turn (docs/adr/0005-read-replicas.md);
- /health shows each replica and its lag, and says degraded when one lags beyond
  NEXUM_DATABASE_REPLICA_MAX_LAG_SECONDS or is down; a lagging replica serves no reads;
- a stopped replica never fails a request: its reads go to the other replica, then to the
  primary.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from conftest import running, settings_for
from core_banking.api import create_app
from core_banking.bootstrap import Nexum
from core_banking.ports import UnitOfWork
from support.api import Api, money
from support.pg_cluster import PgCluster, PgServer, pg_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("pg_replicas")]

DATABASE = "nexum_replicas"
WAIT_SECONDS = 15.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    with pg_cluster(replicas=2) as found:
        found.create_database(DATABASE)
        yield found


def app_for(cluster: PgCluster, max_lag_seconds: str) -> FastAPI:
    return create_app(
        settings_for(
            cluster.primary.url(DATABASE),
            database_replica_urls=",".join(r.url(DATABASE) for r in cluster.replicas),
            database_replica_max_lag_seconds=max_lag_seconds,
        )
    )


@pytest.fixture(scope="module")
async def app(cluster: PgCluster) -> AsyncIterator[FastAPI]:
    """Replicas may lag a minute: lag never moves these reads during a test."""
    async with running(app_for(cluster, "60")) as started:
        yield started


@pytest.fixture(scope="module")
async def strict_app(app: FastAPI, cluster: PgCluster) -> AsyncIterator[FastAPI]:
    """A second API process's worth of app whose replicas may lag 1 s at most."""
    async with running(app_for(cluster, "1")) as started:
        yield started


async def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nexum")


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[Api]:
    async with await client_of(app) as http:
        yield Api(http)


def bank_of(app: FastAPI) -> Nexum:
    bank: Nexum = app.state.bank
    return bank


async def server_of(uow: UnitOfWork) -> tuple[int, bool]:
    """Which server the read's connection reached: its port, and whether it is a replica."""
    connection = uow.connection  # type: ignore[attr-defined]
    row = (await connection.execute(text("SELECT inet_server_port(), pg_is_in_recovery()"))).one()
    return int(row[0]), bool(row[1])


def ports(cluster: PgCluster) -> tuple[int, int, int]:
    return cluster.primary.port, cluster.replicas[0].port, cluster.replicas[1].port


async def eventually(check: Callable[[], Any], what: str, within: float = WAIT_SECONDS) -> Any:
    """Poll the async ``check`` until it returns something truthy."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within:g} s (last: {last})")


async def health(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/health")
    assert response.status_code == 200, response.text  # replicas never make Nexum unhealthy
    body: dict[str, Any] = response.json()
    return body


def paused(replica: PgServer) -> Any:
    """Replay paused on ``replica`` for the block: it receives WAL and applies none."""

    class Paused:
        def __enter__(self) -> PgServer:
            replica.sql("SELECT pg_wal_replay_pause()")
            return replica

        def __exit__(self, *_: object) -> None:
            replica.sql("SELECT pg_wal_replay_resume()")

    return Paused()


# --- routing --------------------------------------------------------------------------------


async def test_writes_go_to_the_primary_and_lagging_reads_to_the_replicas_in_turn(
    app: FastAPI, cluster: PgCluster
) -> None:
    router = bank_of(app).router
    primary, first, second = ports(cluster)

    reads = [await router.read_replica(server_of) for _ in range(4)]
    assert sorted(reads[:2]) == sorted([(first, True), (second, True)])  # both, in recovery
    assert reads[2:] == reads[:2], reads  # round robin: the same order again
    assert await router.read(server_of) == (primary, False)  # read-your-writes: the primary
    assert await router.atomically(server_of) == (primary, False)

    # The replicas see the app's own connections (pg_stat_activity on each of them).
    for replica in cluster.replicas:
        connections = replica.sql(
            "SELECT count(*) FROM pg_stat_activity "
            f"WHERE application_name = 'nexum' AND datname = '{DATABASE}'"
        )
        assert int(connections) >= 1, replica.name


async def test_each_read_goes_where_adr_0005_says(
    api: Api, app: FastAPI, cluster: PgCluster
) -> None:
    """With replay paused on both replicas, what the replicas serve is visibly behind and
    what the primary serves is current."""
    admin = await api.admin()
    source = (await api.funded_account("100.00"))["account_id"]
    target = (await api.account())["account_id"]
    cluster.wait_replicas_caught_up()
    reference = f"ref-{uuid.uuid4().hex}"
    name = f"Zed{uuid.uuid4().hex[:10]}"

    with paused(cluster.replicas[0]), paused(cluster.replicas[1]):
        posted = await api.http.post(
            "/transactions/transfer",
            headers={**admin, "Idempotency-Key": reference},
            json={
                "from_account_id": source,
                "to_account_id": target,
                "amount": money("30.00"),
                "reference": reference,
            },
        )
        assert posted.status_code == 201, posted.text  # writes: the primary
        entry_id = posted.json()["transaction_id"]
        customer = await api.customer(given_name=name, family_name="Replica")

        # Read-your-writes: on the primary, current at once.
        entry = await api.http.get(f"/transactions/{entry_id}", headers=admin)
        assert entry.status_code == 200, entry.text
        assert (await api.balances(source))["posted"] == "70.00"
        found = await api.http.get(f"/customers/{customer['customer_id']}", headers=admin)
        assert found.status_code == 200, found.text
        accounts = await api.http.get(
            f"/customers/{customer['customer_id']}/accounts", headers=admin
        )
        assert accounts.status_code == 200, accounts.text

        # Reads that may lag: on a replica, which has not applied the writes yet.
        async def replica_reads() -> dict[str, list[Any]]:
            searched = await api.http.get(
                "/transactions", params={"reference": reference}, headers=admin
            )
            statement = await api.http.get(f"/accounts/{source}/transactions", headers=admin)
            customers = await api.http.get("/customers", params={"name": name}, headers=admin)
            trail = await api.http.get(
                "/audit/events", params={"entity_id": customer["customer_id"]}, headers=admin
            )
            for response in (searched, statement, customers, trail):
                assert response.status_code == 200, response.text
            return {
                "journal search": searched.json()["items"],
                "statement lines of this transfer": [
                    line for line in statement.json()["items"] if line["transaction_id"] == entry_id
                ],
                "customer search": customers.json()["items"],
                "audit trail": trail.json()["items"],
            }

        behind = await replica_reads()
        assert behind == {what: [] for what in behind}, behind

    cluster.wait_replicas_caught_up()
    current = await replica_reads()
    assert all(current.values()), current  # the same reads, once the replicas replayed


# --- lag and health ---------------------------------------------------------------------------


async def test_health_shows_each_replica_its_lag_and_a_lagging_one_serves_no_reads(
    strict_app: FastAPI, cluster: PgCluster
) -> None:
    router = bank_of(strict_app).router
    _, first, second = ports(cluster)
    async with await client_of(strict_app) as http:
        api = Api(http)
        admin = await api.admin()
        cluster.wait_replicas_caught_up()

        report = await health(http)
        replicas = report["components"]["database_replicas"]
        assert report["status"] == "healthy", report
        assert replicas["status"] == "healthy", replicas
        assert replicas["max_lag_seconds"] == 1.0
        assert [r["name"] for r in replicas["replicas"]] == ["replica 1", "replica 2"]
        for replica in replicas["replicas"]:
            assert replica["status"] == "healthy", replica
            assert replica["lag_seconds"] <= 1.0, replica
            assert replica["streaming"] is True, replica
            assert "lag_bytes" in replica, replica
            assert "response_time_ms" in replica, replica
        assert "127.0.0.1" not in str(replicas)  # positions, never addresses

        with paused(cluster.replicas[0]):
            account = (await api.funded_account("5.00"))["account_id"]

            async def lagging() -> dict[str, Any] | None:
                report = await health(http)
                one = report["components"]["database_replicas"]["replicas"][0]
                return report if one["status"] == "lagging" else None

            report = await eventually(lagging, "replica 1 reported lagging")
            assert report["status"] == "degraded", report
            replicas = report["components"]["database_replicas"]
            assert replicas["status"] == "degraded", replicas
            one, two = replicas["replicas"]
            assert one["lag_seconds"] > 1.0, one
            assert one["lag_bytes"] > 0, one
            assert two["status"] == "healthy", two

            # The lagging replica serves no reads; the current one serves them all.
            assert [await router.read_replica(server_of) for _ in range(4)] == [(second, True)] * 4
            statement = await http.get(f"/accounts/{account}/transactions", headers=admin)
            assert statement.status_code == 200, statement.text
            assert len(statement.json()["items"]) == 1, statement.json()  # the deposit, current

        async def healthy() -> dict[str, Any] | None:
            report = await health(http)
            return report if report["status"] == "healthy" else None

        await eventually(healthy, "health back to healthy after replica 1 caught up")
        reads = {await router.read_replica(server_of) for _ in range(4)}
        assert reads == {(first, True), (second, True)}


# --- a replica down -----------------------------------------------------------------------------


async def test_a_stopped_replica_never_fails_a_read_and_health_says_degraded(
    api: Api, app: FastAPI, cluster: PgCluster
) -> None:
    router = bank_of(app).router
    primary, first, _ = ports(cluster)
    admin = await api.admin()
    account = (await api.funded_account("12.00"))["account_id"]

    async def statement_lines() -> int:
        response = await api.http.get(f"/accounts/{account}/transactions", headers=admin)
        assert response.status_code == 200, response.text  # never a failed request
        return len(response.json()["items"])

    try:
        cluster.replicas[1].stop("fast")
        assert await eventually(statement_lines, "the deposit on the statement") == 1
        assert [await router.read_replica(server_of) for _ in range(4)] == [(first, True)] * 4
        report = await health(api.http)
        assert report["status"] == "degraded", report
        replicas = report["components"]["database_replicas"]
        assert replicas["status"] == "degraded", replicas
        one, two = replicas["replicas"]
        assert one["status"] == "healthy", one
        assert two["status"] == "unreachable", two
        assert two["error"], two

        cluster.replicas[0].stop("fast")  # no replica left: the primary serves every read
        await api.deposit(account, "1.00")
        assert await statement_lines() == 2
        searched = await api.http.get(
            "/transactions", params={"account_id": account}, headers=admin
        )
        assert searched.status_code == 200, searched.text
        assert len(searched.json()["items"]) == 2, searched.text
        assert [await router.read_replica(server_of) for _ in range(2)] == [(primary, False)] * 2
        report = await health(api.http)
        assert report["status"] == "degraded", report  # the bank still works
        assert report["components"]["database"]["status"] == "healthy"
        replicas = report["components"]["database_replicas"]
        assert replicas["status"] == "unhealthy", replicas
        assert [r["status"] for r in replicas["replicas"]] == ["unreachable", "unreachable"]
    finally:
        for replica in cluster.replicas:
            if not replica.is_running():
                replica.start()
        cluster.wait_streaming()

    async def healthy() -> dict[str, Any] | None:
        report = await health(api.http)
        return report if report["status"] == "healthy" else None

    await eventually(healthy, "health back to healthy after the replicas restarted")
    cluster.wait_replicas_caught_up()
    assert {await router.read_replica(server_of) for _ in range(4)} == {
        (first, True),
        (cluster.replicas[1].port, True),
    }
