"""Health of Nexum and of what it depends on, checked for real.

    database     a round trip, its time, and the connection pool (active, idle, total)
    redis        a PING, when NEXUM_REDIS_URL is set
    kafka        the brokers the event relay reaches, when NEXUM_ENABLE_KAFKA_EVENTS
    encryption   whether personal data is encrypted, and with what
    audit_trail  whether the trail is written, and its last entry

Overall: ``unhealthy`` (HTTP 503) when the database is unreachable, ``degraded`` when a
configured dependency is down (the ledger still works: rate limits fall back, events wait
in the outbox), ``healthy`` otherwise. Every check is bounded by CHECK_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select

from core_banking import __version__
from core_banking.config import Settings
from core_banking.storage import Storage
from core_banking.storage.schema import audit_chain_heads, audit_events

CHECK_TIMEOUT_SECONDS = 2.0
HEALTHY, DEGRADED, UNHEALTHY, DISABLED = "healthy", "degraded", "unhealthy", "disabled"

# The newest record is the last of some chain: at most AUDIT_SHARDS primary-key lookups.
_LAST_AUDIT_ENTRY = select(func.max(audit_events.c.occurred_at)).select_from(
    audit_events.join(
        audit_chain_heads,
        (audit_events.c.shard == audit_chain_heads.c.shard)
        & (audit_events.c.seq == audit_chain_heads.c.seq),
    )
)


class Pingable(Protocol):
    async def ping(self) -> Any: ...


class KafkaProbe(Protocol):
    async def brokers_connected(self) -> int: ...


async def _timed(check: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
        result = await check()
    return round((time.perf_counter() - started) * 1000, 2), result


async def database_health(storage: Storage) -> dict[str, Any]:
    pool = storage.engine.pool
    checked_in = int(pool.checkedin())  # type: ignore[attr-defined]
    checked_out = int(pool.checkedout())  # type: ignore[attr-defined]
    try:
        elapsed, _ = await _timed(storage.ping)
    except Exception as exc:  # unreachable, refused, timed out: all mean unhealthy
        return {"status": UNHEALTHY, "error": type(exc).__name__}
    return {
        "status": HEALTHY,
        "response_time_ms": elapsed,
        "connection_pool": {
            "active": checked_out,
            "idle": checked_in,
            "total": checked_in + checked_out,
        },
    }


async def redis_health(redis: Pingable | None) -> dict[str, Any]:
    if redis is None:
        return {"status": DISABLED}
    try:
        elapsed, _ = await _timed(redis.ping)
    except Exception as exc:  # a down Redis degrades Nexum, it does not stop it
        return {"status": UNHEALTHY, "error": type(exc).__name__}
    return {"status": HEALTHY, "response_time_ms": elapsed}


async def kafka_health(probe: KafkaProbe | None) -> dict[str, Any]:
    if probe is None:
        return {"status": DISABLED}
    try:
        _, brokers = await _timed(probe.brokers_connected)
    except Exception as exc:  # events wait in the outbox while Kafka is away
        return {"status": UNHEALTHY, "brokers_connected": 0, "error": type(exc).__name__}
    return {"status": HEALTHY if brokers else UNHEALTHY, "brokers_connected": brokers}


async def audit_health(storage: Storage, config: Settings) -> dict[str, Any]:
    if not config.enable_audit_logging:
        return {"status": DISABLED}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with storage.autocommit_engine.connect() as conn:
                last = await conn.scalar(_LAST_AUDIT_ENTRY)
    except Exception as exc:  # the trail cannot be read: report it, do not fail the probe
        return {"status": UNHEALTHY, "error": type(exc).__name__}
    return {"status": HEALTHY, "last_entry": last.isoformat() if last else None}


def encryption_health(config: Settings) -> dict[str, Any]:
    if not config.encryption_enabled:
        return {"status": DISABLED}
    return {"status": "enabled", "provider": config.encryption_provider.value}


async def health_report(
    storage: Storage,
    config: Settings,
    redis: Pingable | None = None,
    kafka: KafkaProbe | None = None,
) -> dict[str, Any]:
    """The guide's health document."""
    database, cache, events, audit = await asyncio.gather(
        database_health(storage),
        redis_health(redis),
        kafka_health(kafka),
        audit_health(storage, config),
    )
    components = {
        "database": database,
        "redis": cache,
        "kafka": events,
        "encryption": encryption_health(config),
        "audit_trail": audit,
    }
    if database["status"] != HEALTHY:
        overall = UNHEALTHY
    elif any(component["status"] == UNHEALTHY for component in components.values()):
        overall = DEGRADED
    else:
        overall = HEALTHY
    return {
        "status": overall,
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "components": components,
    }
