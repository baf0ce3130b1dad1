"""Several OS processes hammering a few accounts on PostgreSQL at once.

What must hold afterwards: no account below its floor (no double spend), money conserved
(no lost update), every acknowledged posting present exactly once, every shared
idempotency key posted once with one entry id everywhere, and `nexum verify` clean.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.commands import Deposit, Transfer
from core_banking.domain.errors import InsufficientFunds
from core_banking.storage.schema import journal_entries, journal_lines
from core_banking.storage.unit_of_work import SqlUnitOfWork as UnitOfWork
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, key, money, new_account, new_customer
from support.concurrency import SHARED_KEYS, run_worker
from support.databases import migrate

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROCESSES = 4
OPERATIONS_PER_PROCESS = 120
OPENING_BALANCE = "2000.00"
OVERDRAFT = "150.00"


async def test_many_processes_never_double_spend_lose_updates_or_post_twice(tmp_postgres_url):
    migrate(tmp_postgres_url)
    bank = build(settings_for(tmp_postgres_url))
    customer = await new_customer(bank)
    accounts = [
        await new_account(bank, customer=customer, overdraft=OVERDRAFT if index == 0 else None)
        for index in range(4)
    ]
    for account in accounts:
        await bank.ledger.deposit(Deposit(account.id, money(OPENING_BALANCE), key()), CONTEXT)
    opening_total = 4 * money(OPENING_BALANCE).minor

    spawn = multiprocessing.get_context("spawn")
    ids = [str(account.id) for account in accounts]
    with ProcessPoolExecutor(max_workers=PROCESSES, mp_context=spawn) as pool:
        futures = [
            pool.submit(run_worker, tmp_postgres_url, ids, worker, OPERATIONS_PER_PROCESS)
            for worker in range(PROCESSES)
        ]
        reports = [future.result(timeout=240) for future in futures]

    # Every shared key posted at most once, with the same entry wherever it succeeded.
    shared_entries: dict[str, set[str]] = {}
    for report in reports:
        for idempotency_key, entry_id in report.posted.items():
            if idempotency_key.startswith("shared-"):
                shared_entries.setdefault(idempotency_key, set()).add(entry_id)
    assert shared_entries, "some shared-key commands should have posted"
    assert set(shared_entries) <= {f"shared-{index}" for index in range(SHARED_KEYS)}
    assert all(len(entries) == 1 for entries in shared_entries.values())

    acknowledged = {entry_id for report in reports for entry_id in report.posted.values()}
    refusals = sum(count for report in reports for count in report.refused.values())
    assert refusals > 0, "the load should have hit insufficient funds at least once"
    assert {code for report in reports for code in report.refused} <= {InsufficientFunds.code}

    async with bank.storage.engine.connect() as conn:
        stored = {
            str(row.id)
            for row in await conn.execute(
                select(journal_entries.c.id).where(
                    journal_entries.c.entry_type.in_(("transfer", "withdrawal"))
                )
            )
        }
        line_count = await conn.scalar(select(func.count()).select_from(journal_lines))
    # Every acknowledged posting is in the ledger, and nothing else is.
    assert stored == acknowledged
    assert line_count == 2 * (len(stored) + len(accounts))

    # Money is conserved: what left the customers left through withdrawals, exactly once.
    withdrawn: dict[str, int] = {}
    for report in reports:
        withdrawn.update(report.withdrawn_minor)
    balances = [await bank.accounts.get(account.id) for account in accounts]
    assert sum(account.posted_minor for account in balances) == opening_total - sum(
        withdrawn.values()
    )
    # No double spend: nobody is below their floor.
    for account in balances:
        assert account.available_minor >= 0, account

    report = await verify_ledger(bank.storage)
    assert report.ok, report.violations
    await bank.aclose()

    cli = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).with_name("nexum")), "verify"],
        env={**os.environ, "NEXUM_DATABASE_URL": tmp_postgres_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr


async def test_concurrent_atomic_batches_over_the_same_accounts_never_deadlock(tmp_postgres_url):
    """Each batch names the same accounts in another order. Locked posting by posting, two
    such batches wait for each other's accounts and PostgreSQL breaks the deadlock by
    failing one; locked up front in id order, they queue instead."""
    migrate(tmp_postgres_url)
    bank = build(settings_for(tmp_postgres_url))
    try:
        customer = await new_customer(bank)
        accounts = [await new_account(bank, customer=customer) for _ in range(6)]
        for account in accounts:
            await bank.ledger.deposit(Deposit(account.id, money("1000.00"), key()), CONTEXT)
        deadlocks_before = await _deadlocks(bank)

        async def batches(order: list[int]) -> None:
            for _ in range(BATCH_ROUNDS):
                transfers = [
                    Transfer(accounts[a].id, accounts[b].id, money("0.01"), key())
                    for a, b in itertools.pairwise(order)
                ]
                await bank.ledger.execute_together(transfers, CONTEXT)

        forward = list(range(len(accounts)))
        await asyncio.gather(*(batches(forward if n % 2 else forward[::-1]) for n in range(4)))
        await asyncio.sleep(1.5)  # backends report their statistics when they go idle
        assert await _deadlocks(bank) == deadlocks_before
        assert (await verify_ledger(bank.storage)).violations == []
    finally:
        await bank.aclose()


BATCH_ROUNDS = 25


async def _deadlocks(bank: Nexum) -> int:
    async def read(uow: UnitOfWork) -> int:
        await uow.connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        count = await uow.connection.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
        return int(count or 0)

    return await bank.storage.read(read)
