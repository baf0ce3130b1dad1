"""What every PostgreSQL benchmark needs: scratch databases, funded accounts, pgbench.

A benchmark runs its reference side by side with Nexum in the same run; pgbench's built-in
TPC-B on its own scratch database of the same server is that reference for postings.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import uuid

import asyncpg
from sqlalchemy.engine import make_url

from core_banking.bootstrap import build
from core_banking.config import Settings, load_config
from core_banking.domain.accounts import ProductType
from core_banking.domain.commands import CreateCustomer, Deposit, OpenAccount, RequestContext
from core_banking.domain.money import Money

PGBENCH_SCALE = 16
CONTEXT = RequestContext(actor="bench")
SETUP_TASKS = 16
DEFAULT_POSTGRES_URL = os.environ.get(
    "NEXUM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BENCH_SETTINGS = {"NEXUM_MAX_DAILY_TRANSACTION_LIMIT": "1000000000.00"}
"""Random transfers between a few thousand accounts would soon meet the default daily
limit; the benchmark measures postings, not refusals."""


def settings(url: str, pool_size: int) -> Settings:
    return load_config(
        {"NEXUM_DATABASE_URL": url, "NEXUM_DATABASE_POOL_SIZE": str(pool_size), **BENCH_SETTINGS}
    )


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def execute_script(url: str, script: str) -> None:
    """Run an SQL script (several statements) on the database ``url`` names."""
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute(script)
    finally:
        await conn.close()


async def open_funded_accounts(url: str, count: int) -> list[str]:
    """Customers' accounts, each funded, opened through the services like any teller would."""
    bank = build(settings(url, SETUP_TASKS))
    customer = await bank.customers.create(CreateCustomer("Bench", "Mark"), CONTEXT)
    ids: list[str] = []
    pending = list(range(count))

    async def lane() -> None:
        while pending:
            pending.pop()
            account = await bank.accounts.open(
                OpenAccount(customer.id, ProductType.CHECKING, "USD", "bench"), CONTEXT
            )
            await bank.ledger.deposit(
                Deposit(account.id, Money.parse("90000.00", "USD"), uuid.uuid4().hex), CONTEXT
            )
            ids.append(str(account.id))

    await asyncio.gather(*(lane() for _ in range(SETUP_TASKS)))
    await bank.aclose()
    return ids


def pgbench(url: str, arguments: list[str]) -> str:
    parsed = make_url(url)
    command = [
        "pgbench",
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        *arguments,
        parsed.database or "postgres",
    ]
    environment = {**os.environ}
    if parsed.password:
        environment["PGPASSWORD"] = parsed.password
    return subprocess.run(
        command, capture_output=True, text=True, check=True, env=environment
    ).stdout


def pgbench_rate(
    url: str, clients: int, seconds: float, workload: list[str] | None = None
) -> float:
    """Transactions per second of pgbench at ``clients`` for ``seconds``: its built-in
    TPC-B, or the ``workload`` options given (a script, a protocol)."""
    output = pgbench(
        url,
        [
            "-n",
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(int(seconds)),
            *(workload or []),
        ],
    )
    match = re.search(r"tps = ([0-9.]+)", output)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps:\n{output}")
    return float(match.group(1))


def pgbench_tpcb_rate(url: str, clients: int, seconds: float) -> float:
    """pgbench's built-in TPC-B for ``seconds`` at ``clients``: transactions per second."""
    return pgbench_rate(url, clients, seconds)
