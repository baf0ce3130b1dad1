"""Posted transfers per second through the service layer (no HTTP), against pgbench's TPC-B
on the same PostgreSQL, in the same run.

    python -m bench.transfers [--duration 10] [--runs 3] [--accounts 10000]

Each round runs Nexum at concurrency 1 and 16, then pgbench at 1 and 16 clients, so both
see the same machine state; figures are medians over the rounds. Nexum's concurrency is
asyncio tasks sharing one connection pool, spread over --processes OS processes (the way
the API runs with several workers). The last line printed is a JSON object with the
figures and the ratio. A benchmark never fails a build: it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import asyncpg
from sqlalchemy.engine import make_url

from core_banking.bootstrap import build
from core_banking.config import load_config
from core_banking.domain.accounts import ProductType
from core_banking.domain.commands import (
    CreateCustomer,
    Deposit,
    OpenAccount,
    RequestContext,
    Transfer,
)
from core_banking.domain.money import Money
from core_banking.migrations import MigrationManager

CONCURRENCY_LEVELS = (1, 16)
PGBENCH_SCALE = 16
CONTEXT = RequestContext(actor="bench")
SETUP_TASKS = 16


def _settings(url: str, pool_size: int) -> object:
    return load_config(
        {
            "NEXUM_DATABASE_URL": url,
            "NEXUM_DATABASE_POOL_SIZE": str(pool_size),
            "NEXUM_MAX_DAILY_TRANSACTION_LIMIT": "1000000000.00",
        }
    )


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _open_accounts(url: str, count: int) -> list[str]:
    """Customers' accounts, each funded, opened through the services like any teller would."""
    bank = build(_settings(url, SETUP_TASKS))  # type: ignore[arg-type]
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


def _transfer_worker(url: str, accounts: list[str], tasks: int, seconds: float) -> int:
    try:
        import uvloop  # the event loop uvicorn runs the API on

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_transfers(url, [uuid.UUID(a) for a in accounts], tasks, seconds))


async def _transfers(url: str, accounts: list[uuid.UUID], tasks: int, seconds: float) -> int:
    bank = build(_settings(url, tasks))  # type: ignore[arg-type]
    rng = random.Random()
    amount = Money.of(1, "USD")
    done = 0
    await bank.storage.ping()  # open the pool before the clock starts
    deadline = time.perf_counter() + seconds

    async def lane() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            source, target = rng.sample(accounts, 2)
            await bank.ledger.transfer(Transfer(source, target, amount, uuid.uuid4().hex), CONTEXT)
            done += 1

    await asyncio.gather(*(lane() for _ in range(tasks)))
    await bank.aclose()
    return done


def _nexum_rate(
    url: str, accounts: list[str], concurrency: int, processes: int, seconds: float
) -> float:
    processes = min(processes, concurrency)
    per_process = [
        concurrency // processes + (1 if i < concurrency % processes else 0)
        for i in range(processes)
    ]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:
        futures = [
            pool.submit(_transfer_worker, url, accounts, tasks, seconds) for tasks in per_process
        ]
        return sum(future.result() for future in futures) / seconds


def _pgbench(url: str, arguments: list[str]) -> str:
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


def _pgbench_rate(url: str, clients: int, seconds: float) -> float:
    output = _pgbench(
        url,
        [
            "-n",
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(int(seconds)),
        ],
    )
    match = re.search(r"tps = ([0-9.]+)", output)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps:\n{output}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "NEXUM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument(
        "--processes", type=int, default=2, help="OS processes sharing Nexum's concurrency"
    )
    options = parser.parse_args()

    suffix = uuid.uuid4().hex[:8]
    nexum_db, reference_db = f"nexum_bench_{suffix}", f"pgbench_ref_{suffix}"
    nexum_url = asyncio.run(_create_database(options.postgres_url, nexum_db))
    reference_url = asyncio.run(_create_database(options.postgres_url, reference_db))
    try:
        MigrationManager(nexum_url).migrate_up()
        started = time.perf_counter()
        accounts = asyncio.run(_open_accounts(nexum_url, options.accounts))
        print(
            f"opened and funded {len(accounts)} accounts in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        _pgbench(reference_url, ["-i", "-q", "-s", str(PGBENCH_SCALE)])

        nexum: dict[int, list[float]] = {level: [] for level in CONCURRENCY_LEVELS}
        reference: dict[int, list[float]] = {level: [] for level in CONCURRENCY_LEVELS}
        for round_number in range(1, options.runs + 1):
            for level in CONCURRENCY_LEVELS:
                nexum[level].append(
                    _nexum_rate(nexum_url, accounts, level, options.processes, options.duration)
                )
                reference[level].append(_pgbench_rate(reference_url, level, options.duration))
                print(
                    f"round {round_number} concurrency {level:>2}: "
                    f"nexum {nexum[level][-1]:8.0f} transfers/s   "
                    f"pgbench TPC-B {reference[level][-1]:8.0f} tps",
                    file=sys.stderr,
                )
    finally:
        asyncio.run(_drop_database(options.postgres_url, nexum_db))
        asyncio.run(_drop_database(options.postgres_url, reference_db))

    medians = {level: round(statistics.median(nexum[level])) for level in CONCURRENCY_LEVELS}
    references = {level: round(statistics.median(reference[level])) for level in CONCURRENCY_LEVELS}
    result = {
        "benchmark": "transfers",
        "unit": "posted transfers per second (service layer, PostgreSQL)",
        "nexum": {str(level): medians[level] for level in CONCURRENCY_LEVELS},
        "pgbench_tpcb": {str(level): references[level] for level in CONCURRENCY_LEVELS},
        "ratio": {
            str(level): round(medians[level] / references[level], 3) for level in CONCURRENCY_LEVELS
        },
        "target_ratio_at_16": 0.7,
        "runs": options.runs,
        "duration_seconds": options.duration,
        "accounts": len(accounts),
        "processes": options.processes,
        "pgbench_scale": PGBENCH_SCALE,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
