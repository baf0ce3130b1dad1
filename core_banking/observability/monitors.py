"""Background watchers an API process runs: the connection pool gauge and a periodic cheap
ledger check feeding the invariant-violations gauge."""

from __future__ import annotations

import asyncio

from core_banking.observability.logging import get_logger
from core_banking.observability.metrics import DATABASE_CONNECTIONS, INVARIANT_VIOLATIONS
from core_banking.storage import DatabaseRouter, Storage
from core_banking.storage.verification import QUICK_CHECKS, verify_ledger

POOL_INTERVAL_SECONDS = 5.0
REPLICA_INTERVAL_SECONDS = 5.0
LEDGER_INTERVAL_SECONDS = 300.0
logger = get_logger("core_banking.monitors")


def sample_pool(storage: Storage) -> None:
    pool = storage.engine.pool
    DATABASE_CONNECTIONS.labels(state="active").set(pool.checkedout())  # type: ignore[attr-defined]
    DATABASE_CONNECTIONS.labels(state="idle").set(pool.checkedin())  # type: ignore[attr-defined]


async def watch_pool(storage: Storage, interval: float = POOL_INTERVAL_SECONDS) -> None:
    while True:
        sample_pool(storage)
        await asyncio.sleep(interval)


async def watch_ledger(storage: Storage, interval: float = LEDGER_INTERVAL_SECONDS) -> None:
    """Every ``interval``, the quick checks; the gauge is the number failing. `nexum verify`
    runs them all."""
    while True:
        try:
            report = await verify_ledger(storage, QUICK_CHECKS)
        except Exception:  # a failed check is logged and retried, never fatal to the API
            logger.exception("periodic ledger check failed")
        else:
            INVARIANT_VIOLATIONS.set(len(report.violations))
            for violation in report.violations:
                logger.error("ledger invariant violated", check=violation.check)
        await asyncio.sleep(interval)


async def watch_replicas(
    router: DatabaseRouter, interval: float = REPLICA_INTERVAL_SECONDS
) -> None:
    """Every ``interval``, measure the read replicas, so that reads skip one that lags or is
    down even when nobody asks /health (a no-op without replicas)."""
    if not router.replicas:
        return
    while True:
        try:
            await router.check_replicas()
        except Exception:  # a failed check is logged and retried, never fatal to the API
            logger.exception("replica check failed")
        await asyncio.sleep(interval)
