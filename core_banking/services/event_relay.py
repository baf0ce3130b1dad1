"""The relay: from the outbox to the broker, at least once, in order per partition key.

One relay leads at a time (a lease in the database, renewed every cycle), so with several
API workers and a separate ``nexum events relay`` process the outbox still drains in one
order. Each cycle takes the oldest rows, sends their messages in that order and waits for
the broker, then deletes the rows whose messages were all acknowledged — only a leading
run of them, so a failure never lets a later event of an account overtake an earlier one.
Whatever was not acknowledged stays and is sent again; a message sent twice carries the
same event id, which is what consumers deduplicate by.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from core_banking.domain.events import EventMessage, OutboxBacklog, OutboxEntry
from core_banking.ports import Clock, EventPublisher, LedgerStore, NoTelemetry, Telemetry

logger = logging.getLogger("core_banking.events")

LEASE_SECONDS = 30.0
"""How long a relay leads without renewing; longer than one cycle can take."""
IDLE_SECONDS = 0.5
"""The pause when the outbox is empty."""
MAX_BACKOFF_SECONDS = 30.0
"""The longest pause after failures (the broker or the database away)."""


def relay_owner() -> str:
    """A name for this relay that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class RelayCycle:
    """What one cycle did: outbox rows delivered, and rows left for the next try."""

    delivered: int = 0
    undelivered: int = 0


class EventRelay:
    def __init__(
        self,
        store: LedgerStore,
        publisher: EventPublisher,
        clock: Clock,
        *,
        batch_size: int,
        owner: str | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._store = store
        self.publisher = publisher
        self._clock = clock
        self._batch_size = batch_size
        self.owner = owner or relay_owner()
        self._telemetry = telemetry or NoTelemetry()

    async def relay_once(self) -> RelayCycle:
        """One cycle (nothing at all when another relay leads)."""
        now = self._clock.now()
        until = now + timedelta(seconds=LEASE_SECONDS)
        leading = await self._store.atomically(
            lambda uow: uow.outbox.take_lease(self.owner, now, until)
        )
        if not leading:
            return RelayCycle()
        batch = await self._store.read(lambda uow: uow.outbox.pending(self._batch_size))
        if not batch:
            return RelayCycle()
        per_row = [entry.messages() for entry in batch]
        messages = [message for row in per_row for message in row]
        acknowledged = await self.publisher.publish(messages)
        delivered = _delivered_rows(batch, per_row, acknowledged)
        await self._store.atomically(lambda uow: uow.outbox.remove(delivered))
        self._telemetry.published([message.topic.value for message in messages[:acknowledged]])
        return RelayCycle(delivered=len(delivered), undelivered=len(batch) - len(delivered))

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set: at once while rows wait, every IDLE_SECONDS when
        the outbox is empty, backing off (up to MAX_BACKOFF_SECONDS) after failures."""
        failures = 0
        while not stop.is_set():
            try:
                cycle = await self.relay_once()
            except Exception:
                failures += 1
                pause = _backoff(failures)
                logger.exception("Event relay cycle failed; retrying in %.1f s", pause)
            else:
                if cycle.undelivered:
                    failures += 1
                    pause = _backoff(failures)
                    logger.warning(
                        "Kafka did not acknowledge %d outbox rows; they wait, retrying in %.1f s",
                        cycle.undelivered,
                        pause,
                    )
                else:
                    failures = 0
                    pause = 0 if cycle.delivered == self._batch_size else IDLE_SECONDS
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
        await self._store.atomically(
            lambda uow: uow.outbox.give_up_lease(self.owner, self._clock.now())
        )

    async def backlog(self) -> OutboxBacklog:
        return await self._store.read(lambda uow: uow.outbox.backlog())

    async def brokers_connected(self) -> int:
        return await self.publisher.brokers_connected()


def _backoff(failures: int) -> float:
    return min(MAX_BACKOFF_SECONDS, IDLE_SECONDS * (1 << min(failures, 16)))


def _delivered_rows(
    batch: Sequence[OutboxEntry], per_row: Sequence[list[EventMessage]], acknowledged: int
) -> list[int]:
    """The leading rows all of whose messages fall within the acknowledged prefix."""
    delivered: list[int] = []
    sent = 0
    for entry, messages in zip(batch, per_row, strict=True):
        sent += len(messages)
        if sent > acknowledged:
            break
        delivered.append(entry.seq)
    return delivered
