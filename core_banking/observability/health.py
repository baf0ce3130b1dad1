"""Health of Nexum and of what it depends on, checked for real.

    database     a round trip, its time, and the connection pool (active, idle, total)
    redis        a PING, when NEXUM_REDIS_URL is set
    kafka        the brokers the event relay reaches and the outbox backlog, when
                 NEXUM_ENABLE_KAFKA_EVENTS
    encryption   whether personal data is encrypted, and with what
    audit_trail  whether the trail is written, and its last entry
    database_replicas
                 each read replica (by position in NEXUM_DATABASE_REPLICA_URLS): reachable,
                 its lag behind the primary in seconds and bytes, when replicas are set

Overall: ``unhealthy`` (HTTP 503) when the database is unreachable, ``degraded`` when a
configured dependency is down or a replica is unreachable or lags more than
NEXUM_DATABASE_REPLICA_MAX_LAG_SECONDS (the ledger still works: rate limits fall back,
events wait in the outbox, reads go to the primary), ``healthy`` otherwise. Every check is
bounded by CHECK_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select

from core_banking import __version__
from core_banking.config import Settings
from core_banking.domain.events import OutboxBacklog
from core_banking.observability.metrics import OUTBOX_PENDING
from core_banking.storage import DatabaseRouter, Storage
from core_banking.storage.router import HEALTHY as REPLICA_HEALTHY
from core_banking.storage.schema import audit_chain_heads, audit_events

CHECK_TIMEOUT_SECONDS = 2.0
STALE_EVENT_SECONDS = 60.0
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
    """The event relay, as health sees it: the brokers it reaches, what waits for them."""

    async def brokers_connected(self) -> int: ...

    async def backlog(self) -> OutboxBacklog: ...


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
    """Unhealthy (so Nexum is degraded) when no broker answers, or when the oldest event
    has waited longer than STALE_EVENT_SECONDS: the relay is not keeping up."""
    if probe is None:
        return {"status": DISABLED}
    asking_brokers = asyncio.ensure_future(_timed(probe.brokers_connected))
    try:
        _, backlog = await _timed(probe.backlog)
    except Exception as exc:  # the outbox cannot be read
        asking_brokers.cancel()
        return {"status": UNHEALTHY, "error": type(exc).__name__}
    try:
        _, brokers = await asking_brokers
    except Exception:  # no answer in time is no broker
        brokers = 0
    waited = (datetime.now(UTC) - backlog.oldest).total_seconds() if backlog.oldest else 0.0
    OUTBOX_PENDING.set(backlog.pending)
    return {
        "status": HEALTHY if brokers and waited <= STALE_EVENT_SECONDS else UNHEALTHY,
        "brokers_connected": brokers,
        "pending_events": backlog.pending,
        "oldest_pending_seconds": round(max(waited, 0.0), 3),
    }


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


async def replicas_health(router: DatabaseRouter | None) -> dict[str, Any]:
    """Healthy when every replica is reachable and within the lag bound, degraded when
    some are not (their reads go to the others or the primary), unhealthy when none is."""
    if router is None or not router.replicas:
        return {"status": DISABLED}
    states = await router.check_replicas(CHECK_TIMEOUT_SECONDS)
    usable = sum(state.status == REPLICA_HEALTHY for state in states)
    status = HEALTHY if usable == len(states) else DEGRADED if usable else UNHEALTHY
    return {
        "status": status,
        "max_lag_seconds": router.max_lag_seconds,
        "replicas": [
            {name: value for name, value in asdict(state).items() if value is not None}
            for state in states
        ],
    }


def encryption_health(config: Settings) -> dict[str, Any]:
    if not config.encryption_enabled:
        return {"status": DISABLED}
    return {"status": "enabled", "provider": config.encryption_provider.value}


async def health_report(
    storage: Storage,
    config: Settings,
    redis: Pingable | None = None,
    kafka: KafkaProbe | None = None,
    replicas: DatabaseRouter | None = None,
) -> dict[str, Any]:
    """The guide's health document."""
    database, cache, events, audit, replicated = await asyncio.gather(
        database_health(storage),
        redis_health(redis),
        kafka_health(kafka),
        audit_health(storage, config),
        replicas_health(replicas),
    )
    components = {
        "database": database,
        "redis": cache,
        "kafka": events,
        "encryption": encryption_health(config),
        "audit_trail": audit,
        "database_replicas": replicated,
    }
    if database["status"] != HEALTHY:
        overall = UNHEALTHY
    elif any(component["status"] in (UNHEALTHY, DEGRADED) for component in components.values()):
        overall = DEGRADED
    else:
        overall = HEALTHY
    return {
        "status": overall,
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "components": components,
    }
