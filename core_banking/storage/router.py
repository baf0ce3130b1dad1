"""Read/write splitting, as the deployment guide describes it: writes and transactions go
to the primary, reads go round-robin to the replicas (to the primary when there are none).

A replica lags its primary by a little, so anything that decides about money (a balance
before a withdrawal) reads from the primary inside its transaction; replicas serve
statements, histories and reports.

As the services' store (``LedgerStore``) the router sends ``atomically``, ``post_entry``,
``post_each`` and ``read`` to the primary: ``read`` is for reads that must see the caller's
own writes or that feed a decision. ``read_replica`` is the opt-in for reads that may be a
moment behind: the next replica in turn serves it, skipping a replica that failed in the last
REPLICA_RETRY_SECONDS or whose last check found it lagging more than ``max_lag_seconds``;
when none is usable, or the one asked fails, the primary answers. A replica being down
never fails a request (docs/adr/0005-read-replicas.md says which reads go where and why).

``check_replicas`` measures each replica (reachable, in recovery, lag behind the primary)
and updates what routing knows; the health check and a background watcher call it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import text

from core_banking.domain.audit import AuditRecord
from core_banking.domain.errors import DomainError
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import PostingRequest, PostingResult
from core_banking.ports import PreparedPosting, UnitOfWork
from core_banking.storage.base import Storage
from core_banking.storage.errors import causes, connection_lost, driver_error, is_transient
from core_banking.storage.factory import create_storage
from core_banking.storage.urls import backend_of

T = TypeVar("T")

WRITE_OPERATIONS = frozenset({"write", "transaction"})
DEFAULT_MAX_LAG_SECONDS = 10.0
REPLICA_RETRY_SECONDS = 5.0
"""After a replica fails a read, reads skip it this long (checks may clear it sooner)."""
REPLICA_CONNECT_TIMEOUT_SECONDS = 3.0
"""A replica that does not answer a connection attempt in this time is passed over."""

HEALTHY, LAGGING, UNREACHABLE, NOT_A_REPLICA = "healthy", "lagging", "unreachable", "not_a_replica"

# Measured on the replica, given the primary's flushed WAL position (NULL when unknown).
# Caught up (no WAL bytes behind the primary) is a lag of 0 s; behind, the lag is the age of
# the last transaction it replayed.
_REPLICA_LAG = text(
    """
    SELECT pg_is_in_recovery() AS in_recovery,
           coalesce((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false)
               AS streaming,
           pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
               AS replayed_received,
           CASE WHEN CAST(:primary_lsn AS text) IS NULL THEN NULL
                ELSE greatest(pg_wal_lsn_diff(CAST(:primary_lsn AS pg_lsn),
                                              pg_last_wal_replay_lsn()), 0)::bigint
           END AS lag_bytes,
           extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
               AS since_last_replay
    """
)
_PRIMARY_LSN = text("SELECT pg_current_wal_flush_lsn()::text")

logger = logging.getLogger("core_banking.storage")


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """One replica as the last check found it. ``name`` is its position in the configured
    list ("replica 1" first), never its address."""

    name: str
    status: str
    lag_seconds: float | None = None
    lag_bytes: int | None = None
    streaming: bool | None = None
    response_time_ms: float | None = None
    error: str | None = None


def replica_failed(exc: BaseException) -> bool:
    """The replica, not the query, is at fault: unreachable, dropped, out of connections,
    a query cancelled by recovery, too slow to connect. The primary is asked instead."""
    if connection_lost(exc) or is_transient(exc):
        return True
    error = driver_error(exc)
    if error is not None and error.sqlstate is not None and error.sqlstate.startswith("53"):
        return True  # insufficient resources: too many connections, out of memory or disk
    return any(isinstance(seen, TimeoutError | OSError) for seen in causes(exc))


class DatabaseRouter:
    def __init__(
        self,
        primary_url: str | Storage,
        replica_urls: Sequence[str | Storage] = (),
        *,
        max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS,
        **options: Any,
    ) -> None:
        """A router over a primary and replicas, each given by URL (then made with
        ``options``) or as a Storage already made."""
        self.primary: Storage = (
            primary_url
            if isinstance(primary_url, Storage)
            else create_storage(primary_url, **options)
        )
        self.replicas: list[Storage] = [
            url
            if isinstance(url, Storage)
            else create_storage(url, **_replica_options(url, options))
            for url in replica_urls
        ]
        self.replica_index = 0
        self.max_lag_seconds = max_lag_seconds
        self._avoid_until = [0.0] * len(self.replicas)  # monotonic time; 0: usable
        self._lagging = [False] * len(self.replicas)

    def get_connection(self, operation_type: str = "read") -> Storage:
        """The storage for an operation: the primary for writes, the next replica for reads."""
        if operation_type in WRITE_OPERATIONS or not self.replicas:
            return self.primary
        replica = self.replicas[self.replica_index]
        self.replica_index = (self.replica_index + 1) % len(self.replicas)
        return replica

    # --- the services' store ------------------------------------------------------------

    async def atomically(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await self.primary.atomically(work)

    async def post_entry(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        return await self.primary.post_entry(request, claim, audit)

    async def post_each(
        self, postings: Sequence[PreparedPosting]
    ) -> list[PostingResult | DomainError]:
        return await self.primary.post_each(postings)

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """On the primary: sees every committed write, the caller's own included."""
        return await self.primary.read(work)

    async def read_replica(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """On the next usable replica, else the primary; a replica that fails is passed
        over for REPLICA_RETRY_SECONDS and the primary answers instead."""
        for index in self._replicas_in_turn():
            try:
                return await self.replicas[index].read_once(work)
            except Exception as exc:
                if not replica_failed(exc):
                    raise
                self._avoid(index, exc)
        return await self.primary.read(work)

    def _replicas_in_turn(self) -> list[int]:
        """The usable replicas, starting with the next in the round robin."""
        count = len(self.replicas)
        if not count:
            return []
        start = self.replica_index
        self.replica_index = (start + 1) % count
        now = time.monotonic()
        order = [(start + step) % count for step in range(count)]
        return [i for i in order if self._avoid_until[i] <= now and not self._lagging[i]]

    def _avoid(self, index: int, exc: BaseException) -> None:
        if self._avoid_until[index] <= time.monotonic():
            logger.warning(
                "replica %d failed (%s): reads go elsewhere for %g s",
                index + 1,
                type(exc).__name__,
                REPLICA_RETRY_SECONDS,
            )
        self._avoid_until[index] = time.monotonic() + REPLICA_RETRY_SECONDS

    # --- checks -----------------------------------------------------------------------------

    async def check_replicas(self, within: float = 2.0) -> list[ReplicaState]:
        """Measure every replica (concurrently, each bounded by ``within`` seconds) and route by
        what was found: an unreachable replica or one that is no replica is avoided, one
        lagging more than max_lag_seconds is skipped until it catches up."""
        primary_lsn = await self._primary_lsn(within)
        return list(
            await asyncio.gather(
                *(self._check(index, primary_lsn, within) for index in range(len(self.replicas)))
            )
        )

    async def _primary_lsn(self, within: float) -> str | None:
        if self.primary.backend != "postgresql" or not self.replicas:
            return None
        try:
            async with asyncio.timeout(within):
                async with self.primary.autocommit_engine.connect() as conn:
                    lsn: str | None = await conn.scalar(_PRIMARY_LSN)
                    return lsn
        except Exception:  # the primary's own health is reported elsewhere
            return None

    async def _check(self, index: int, primary_lsn: str | None, within: float) -> ReplicaState:
        name = f"replica {index + 1}"
        replica = self.replicas[index]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(within):
                async with replica.autocommit_engine.connect() as conn:
                    if replica.backend == "postgresql":
                        row = (await conn.execute(_REPLICA_LAG, {"primary_lsn": primary_lsn})).one()
                    else:
                        await conn.execute(text("SELECT 1"))
                        row = None
        except Exception as exc:  # unreachable, refused, timed out: reads go elsewhere
            self._avoid(index, exc)
            return ReplicaState(name, UNREACHABLE, error=type(exc).__name__)
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        if row is None:  # not PostgreSQL: nothing to measure
            self._mark(index, healthy=True)
            return ReplicaState(name, HEALTHY, response_time_ms=elapsed)
        if not row.in_recovery:  # a server following no primary may hold other data
            self._avoid_until[index] = time.monotonic() + REPLICA_RETRY_SECONDS
            return ReplicaState(name, NOT_A_REPLICA, response_time_ms=elapsed)
        lag_bytes: int | None = row.lag_bytes
        # Caught up: nothing behind the primary's flushed WAL, or streaming with everything
        # received replayed (what is in flight is milliseconds). Otherwise the age of the
        # last replayed transaction: an idle primary does not make a current replica "lag".
        caught_up = lag_bytes == 0 or (row.streaming and row.replayed_received)
        lag = 0.0 if caught_up else row.since_last_replay
        if lag is None:  # behind, but has replayed nothing since it started: judge by the feed
            lagging = not row.streaming
        else:
            lag = round(max(lag, 0.0), 3)
            lagging = lag > self.max_lag_seconds
        self._mark(index, healthy=not lagging)
        return ReplicaState(
            name,
            LAGGING if lagging else HEALTHY,
            lag_seconds=lag,
            lag_bytes=lag_bytes,
            streaming=row.streaming,
            response_time_ms=elapsed,
        )

    def _mark(self, index: int, *, healthy: bool) -> None:
        if self._lagging[index] == healthy:
            logger.warning(
                "replica %d %s", index + 1, "caught up" if healthy else "lags: reads go elsewhere"
            )
        self._lagging[index] = not healthy
        if healthy:
            self._avoid_until[index] = 0.0

    async def dispose(self) -> None:
        for storage in (self.primary, *self.replicas):
            await storage.dispose()


def _replica_options(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """A PostgreSQL replica gives up connecting sooner than the driver's 60 s: the primary
    is there to answer instead."""
    if backend_of(url) == "postgresql":
        return {"connect_timeout_seconds": REPLICA_CONNECT_TIMEOUT_SECONDS, **options}
    return options
