"""Posted transfers per second through the service layer (no HTTP), against pgbench's TPC-B
on the same PostgreSQL, in the same run.

    python -m bench.transfers [--duration 10] [--runs 3] [--accounts 10000]

Each round runs Nexum at concurrency 1 and 16, then pgbench at 1 and 16 clients, so both
see the same machine state; figures are medians over the rounds. Nexum's concurrency is
asyncio tasks sharing one connection pool, spread over --processes OS processes (the way
the API runs with several workers); their CPU time per transfer is reported too. At 16,
each round also has pgbench call the posting function itself with a transfer's arguments
(bench/posting_function.sql): the database's share of a transfer, without Python. The last
line printed is a JSON object with the figures and the ratios. A benchmark never fails a
build: it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.common import (
    CONTEXT,
    DEFAULT_POSTGRES_URL,
    PGBENCH_SCALE,
    create_database,
    drop_database,
    execute_script,
    open_funded_accounts,
    pgbench,
    pgbench_rate,
    pgbench_tpcb_rate,
    settings,
)
from core_banking.bootstrap import build
from core_banking.domain.commands import Transfer
from core_banking.domain.money import Money
from core_banking.migrations import MigrationManager

CONCURRENCY_LEVELS = (1, 16)
FUNCTION_ALONE_CLIENTS = 16
POSTING_FUNCTION_SQL = Path(__file__).with_name("posting_function.sql")


def _transfer_worker(
    url: str, accounts: list[str], tasks: int, seconds: float
) -> tuple[int, float]:
    """Transfers posted by one process, and the CPU seconds the process spent on them."""
    try:
        import uvloop  # the event loop uvicorn runs the API on

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_transfers(url, [uuid.UUID(a) for a in accounts], tasks, seconds))


async def _transfers(
    url: str, accounts: list[uuid.UUID], tasks: int, seconds: float
) -> tuple[int, float]:
    """Transfers posted in ``seconds``, and the CPU seconds spent in that time (the start-up
    of the process and of its pool excluded)."""
    bank = build(settings(url, tasks))
    rng = random.Random()
    amount = Money.of(1, "USD")
    done = 0
    await bank.storage.ping()  # open the pool before the clock starts
    deadline = time.perf_counter() + seconds
    cpu_before = time.process_time()

    async def lane() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            source, target = rng.sample(accounts, 2)
            await bank.ledger.transfer(Transfer(source, target, amount, uuid.uuid4().hex), CONTEXT)
            done += 1

    await asyncio.gather(*(lane() for _ in range(tasks)))
    cpu = time.process_time() - cpu_before
    await bank.aclose()
    return done, cpu


def _nexum_rate(
    url: str, accounts: list[str], concurrency: int, processes: int, seconds: float
) -> tuple[float, float]:
    """Transfers per second, and the client processes' CPU microseconds per transfer."""
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
        outcomes = [future.result() for future in futures]
    done = sum(count for count, _ in outcomes)
    cpu = sum(seconds_used for _, seconds_used in outcomes)
    return done / seconds, 1e6 * cpu / max(done, 1)


def _function_alone_rate(url: str, accounts: int, seconds: float, directory: Path) -> float:
    """pgbench calling the posting function with a transfer's arguments, no Python."""
    script = directory / "posting_function.pgbench"
    script.write_text(
        f"\\set a random(1, {accounts})\n\\set b random(1, {accounts})\n"
        "SELECT bench_transfer(:a, :b);\n"
    )
    return pgbench_rate(url, FUNCTION_ALONE_CLIENTS, seconds, ["-M", "prepared", "-f", str(script)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
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
    nexum_url = asyncio.run(create_database(options.postgres_url, nexum_db))
    reference_url = asyncio.run(create_database(options.postgres_url, reference_db))
    nexum: dict[int, list[float]] = {level: [] for level in CONCURRENCY_LEVELS}
    client_cpu: dict[int, list[float]] = {level: [] for level in CONCURRENCY_LEVELS}
    reference: dict[int, list[float]] = {level: [] for level in CONCURRENCY_LEVELS}
    function_alone: list[float] = []
    try:
        MigrationManager(nexum_url).migrate_up()
        started = time.perf_counter()
        accounts = asyncio.run(open_funded_accounts(nexum_url, options.accounts))
        print(
            f"opened and funded {len(accounts)} accounts in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        asyncio.run(execute_script(nexum_url, POSTING_FUNCTION_SQL.read_text()))
        pgbench(reference_url, ["-i", "-q", "-s", str(PGBENCH_SCALE)])

        with tempfile.TemporaryDirectory(prefix="nexum-bench-") as scratch:
            for round_number in range(1, options.runs + 1):
                for level in CONCURRENCY_LEVELS:
                    rate, cpu = _nexum_rate(
                        nexum_url, accounts, level, options.processes, options.duration
                    )
                    nexum[level].append(rate)
                    client_cpu[level].append(cpu)
                    reference[level].append(
                        pgbench_tpcb_rate(reference_url, level, options.duration)
                    )
                    print(
                        f"round {round_number} concurrency {level:>2}: "
                        f"nexum {rate:8.0f} transfers/s ({cpu:4.0f} us client CPU each)   "
                        f"pgbench TPC-B {reference[level][-1]:8.0f} tps",
                        file=sys.stderr,
                    )
                function_alone.append(
                    _function_alone_rate(nexum_url, len(accounts), options.duration, Path(scratch))
                )
                print(
                    f"round {round_number} concurrency {FUNCTION_ALONE_CLIENTS}: "
                    f"posting function alone (pgbench client) {function_alone[-1]:8.0f}/s",
                    file=sys.stderr,
                )
    finally:
        asyncio.run(drop_database(options.postgres_url, nexum_db))
        asyncio.run(drop_database(options.postgres_url, reference_db))

    medians = {level: round(statistics.median(nexum[level])) for level in CONCURRENCY_LEVELS}
    references = {level: round(statistics.median(reference[level])) for level in CONCURRENCY_LEVELS}
    alone = round(statistics.median(function_alone))
    result = {
        "benchmark": "transfers",
        "unit": "posted transfers per second (service layer, PostgreSQL)",
        "nexum": {str(level): medians[level] for level in CONCURRENCY_LEVELS},
        "pgbench_tpcb": {str(level): references[level] for level in CONCURRENCY_LEVELS},
        "ratio": {
            str(level): round(medians[level] / references[level], 3) for level in CONCURRENCY_LEVELS
        },
        "target_ratio_at_16": 0.7,
        "client_cpu_us_per_transfer": {
            str(level): round(statistics.median(client_cpu[level])) for level in CONCURRENCY_LEVELS
        },
        "posting_function_alone_at_16": alone,
        "posting_function_alone_ratio": round(alone / references[FUNCTION_ALONE_CLIENTS], 3),
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
