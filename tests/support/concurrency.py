"""The worker that concurrency tests run in several OS processes at once.

Each worker builds its own bank on the shared PostgreSQL database and fires a seeded random
mix of transfers and withdrawals at a few accounts, some of them under idempotency keys that
every worker uses for the very same command (so each of those must post exactly once).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from uuid import UUID

from core_banking.bootstrap import build
from core_banking.config import load_config
from core_banking.domain.commands import RequestContext, Transfer, Withdraw
from core_banking.domain.errors import DomainError
from core_banking.domain.money import Money

SHARED_KEYS = 25
CONCURRENT_TASKS = 4


@dataclass
class WorkerReport:
    posted: dict[str, str] = field(default_factory=dict)  # idempotency key -> entry id
    refused: dict[str, int] = field(default_factory=dict)  # error code -> count
    withdrawn_minor: dict[str, int] = field(default_factory=dict)  # key -> amount


def shared_command(index: int, accounts: list[UUID]) -> Transfer | Withdraw:
    """The same command for the same shared key, in every worker."""
    rng = random.Random(index)
    amount = Money.of(rng.randint(1, 30_000), "USD")
    key = f"shared-{index}"
    if index % 3 == 0:
        return Withdraw(accounts[index % len(accounts)], amount, key)
    source, target = rng.sample(accounts, 2)
    return Transfer(source, target, amount, key)


def own_command(
    rng: random.Random, worker: int, number: int, accounts: list[UUID]
) -> Transfer | Withdraw:
    amount = Money.of(rng.randint(1, 40_000), "USD")
    key = f"worker-{worker}-{number}"
    if rng.random() < 0.25:
        return Withdraw(rng.choice(accounts), amount, key)
    source, target = rng.sample(accounts, 2)
    return Transfer(source, target, amount, key)


def run_worker(
    database_url: str, accounts: list[str], worker: int, operations: int
) -> WorkerReport:
    return asyncio.run(_work(database_url, [UUID(a) for a in accounts], worker, operations))


async def _work(
    database_url: str, accounts: list[UUID], worker: int, operations: int
) -> WorkerReport:
    config = load_config(
        {
            "NEXUM_DATABASE_URL": database_url,
            "NEXUM_MAX_DAILY_TRANSACTION_LIMIT": "100000000.00",
            "NEXUM_DATABASE_POOL_SIZE": str(CONCURRENT_TASKS),
        }
    )
    bank = build(config)
    context = RequestContext(actor="teller:concurrency")
    rng = random.Random(worker)
    commands: list[Transfer | Withdraw] = [
        own_command(rng, worker, number, accounts) for number in range(operations)
    ]
    commands += [shared_command(index, accounts) for index in range(SHARED_KEYS)]
    rng.shuffle(commands)
    report = WorkerReport()

    async def perform(command: Transfer | Withdraw) -> None:
        try:
            if isinstance(command, Withdraw):
                result = await bank.ledger.withdraw(command, context)
                report.withdrawn_minor[command.idempotency_key] = command.amount.minor
            else:
                result = await bank.ledger.transfer(command, context)
        except DomainError as refusal:
            report.refused[refusal.code] = report.refused.get(refusal.code, 0) + 1
            return
        report.posted[command.idempotency_key] = str(result.entry.id)

    queue = list(commands)

    async def lane() -> None:
        while queue:
            await perform(queue.pop())

    try:
        await asyncio.gather(*(lane() for _ in range(CONCURRENT_TASKS)))
    finally:
        await bank.aclose()
    return report
