"""The close of business: run a business date's steps in order, once, and resumably.

A run of date D starts in one transaction that locks the business calendar, checks that D
is the date that may close now (domain/close_of_business.py), and records the run. Then,
for each step in the configured order that is not yet done for D, it records the step as
begun, runs it (the step commits its own work, in as many transactions as it likes, each
recording what it did for D), and records it done with its count. When every step is done,
one transaction closes D: the run is done, the calendar's last closed date becomes D, and
one ``eod.completed`` audit event lists each step's count.

So a run is resumable: after a crash at any point, running D again skips the steps already
done and runs the first unfinished step again, which does only what is left (the step
contract in ports.py). A closed date asked for again changes nothing: the stored run is
the answer.

**Who leads a run: a lease, not a connection-bound lock.** The steps commit many
transactions on many pooled connections over minutes or hours, so no single transaction
can hold the run. A lock that dies with its connection would suit PostgreSQL (a
session-level advisory lock) but has no SQLite counterpart: SQLite's only lock is the
writer lock, and holding it for the whole run would stop the steps' own transactions, and
every posting, until the end. The run's row therefore carries a lease (owner, expiry),
taken when the run starts, renewed every ``heartbeat`` while it works, and given up when
it stops, also on failure. A process killed mid-run stops renewing, and its lease expires
after ``lease`` (a minute by default): until then a second run of the date is refused as
in progress; after it, the second run takes the lease over and resumes. Everything a run
records (a step begun or done, the close) is conditional on still holding the lease, in
the transaction that records it, so a process that lost its lease cannot mark anything
done. The same mechanism on both databases, and the same as the event relay's
(services/event_relay.py). Expiry is judged by the service clock; hosts' clocks agree to
far better than a lease (NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from typing import Protocol
from uuid import uuid4

from core_banking.domain.audit import AuditRecord
from core_banking.domain.close_of_business import (
    BusinessCalendar,
    CloseOfBusinessRun,
    RunInProgress,
    RunStatus,
    check_may_run,
    current_business_date,
)
from core_banking.domain.commands import RequestContext
from core_banking.domain.errors import InvariantViolation, NotFound
from core_banking.ports import Clock, CloseOfBusinessStep, LedgerStore, UnitOfWork

logger = logging.getLogger("core_banking.close_of_business")

LEASE = timedelta(seconds=60)
"""How long a run is led without renewal: how long a run left by a killed process blocks."""
HEARTBEAT_SECONDS = 15.0
"""How often a working run renews its lease: well inside ``LEASE``."""
MAX_RUNS_PAGE = 100
"""The most runs one listing returns."""


class CloseOfBusinessProgress(Protocol):
    """How a caller follows a run as it goes (the command line's progress bars)."""

    def step_started(self, name: str) -> None: ...

    def step_report(self, name: str, done: int, total: int) -> None: ...

    def step_finished(self, name: str, items_done: int) -> None: ...


class NoProgress:
    """Follows nothing."""

    def step_started(self, name: str) -> None:
        return None

    def step_report(self, name: str, done: int, total: int) -> None:
        return None

    def step_finished(self, name: str, items_done: int) -> None:
        return None


def run_owner() -> str:
    """A name for one call's leadership of a run that no other call shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


class CloseOfBusinessService:
    def __init__(
        self,
        store: LedgerStore,
        clock: Clock,
        steps: Sequence[CloseOfBusinessStep],
        *,
        lease: timedelta = LEASE,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        names = [step.name for step in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"close-of-business step names repeat: {names}")
        if heartbeat_seconds >= lease.total_seconds():
            raise ValueError("the heartbeat must come round well inside the lease")
        self._store = store
        self._clock = clock
        self._steps = tuple(steps)
        self._lease = lease
        self._heartbeat_seconds = heartbeat_seconds

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self._steps)

    # --- reading ---------------------------------------------------------------------------

    async def calendar(self) -> BusinessCalendar:
        last_closed = await self._store.read(lambda uow: uow.close_of_business.last_closed())
        return BusinessCalendar(
            last_closed, current_business_date(last_closed, self._clock.today())
        )

    async def get(self, business_date: date) -> CloseOfBusinessRun:
        run = await self._store.read(lambda uow: uow.close_of_business.get(business_date))
        if run is None:
            raise NotFound(
                "no close of business ran for this date", business_date=business_date.isoformat()
            )
        return run

    async def recent(self, limit: int, before: date | None = None) -> list[CloseOfBusinessRun]:
        """Runs newest date first (at most MAX_RUNS_PAGE), those before ``before``."""
        bounded = max(1, min(limit, MAX_RUNS_PAGE))
        return await self._store.read(lambda uow: uow.close_of_business.recent(bounded, before))

    # --- running ---------------------------------------------------------------------------

    async def run(
        self,
        business_date: date,
        context: RequestContext,
        progress: CloseOfBusinessProgress | None = None,
    ) -> CloseOfBusinessRun:
        """Close ``business_date``, or finish closing it; for a date already closed, the
        run as it finished, marked ``replayed``."""
        follow = progress or NoProgress()
        owner = run_owner()
        claimed = await self._store.atomically(
            lambda uow: self._claim(uow, business_date, context.actor, owner)
        )
        if claimed.done:
            return claimed.as_replay()
        try:
            async with self._leading(business_date, owner):
                for position, step in enumerate(self._steps):
                    if not claimed.is_step_done(step.name):
                        await self._run_step(business_date, owner, position, step, follow)
                await self._store.atomically(
                    lambda uow: self._close(uow, business_date, owner, context)
                )
        except BaseException:
            await self._give_up(business_date, owner)
            raise
        return await self.get(business_date)

    async def _claim(
        self, uow: UnitOfWork, business_date: date, actor: str, owner: str
    ) -> CloseOfBusinessRun:
        """Under the calendar's lock: the finished run, or this call leading the run."""
        runs = uow.close_of_business
        last_closed = await runs.lock_calendar()
        stored = await runs.get(business_date)
        if stored is not None and stored.done:
            return stored
        check_may_run(
            business_date,
            last_closed=last_closed,
            unfinished=await runs.unfinished(),
            today=self._clock.today(),
        )
        now = self._clock.now()
        until = now + self._lease
        if stored is None:
            await runs.start(business_date, actor, owner, now, until)
            return CloseOfBusinessRun(business_date, RunStatus.RUNNING, actor, now, None)
        if not await runs.take_lease(business_date, owner, now, until):
            raise RunInProgress(
                f"the close of business of {business_date} is running elsewhere; a run "
                f"whose process died is taken over after {self._lease.total_seconds():.0f} s",
                business_date=business_date.isoformat(),
            )
        return stored

    async def _run_step(
        self,
        business_date: date,
        owner: str,
        position: int,
        step: CloseOfBusinessStep,
        follow: CloseOfBusinessProgress,
    ) -> None:
        name = step.name
        begun = self._clock.now()
        await self._store.atomically(
            lambda uow: uow.close_of_business.start_step(
                business_date, owner, name, position, begun
            )
        )
        follow.step_started(name)
        items = await step.run(
            business_date, lambda done, total: follow.step_report(name, done, total)
        )
        if items < 0:
            raise InvariantViolation("a step reported a negative count", step=name, items=items)
        finished = self._clock.now()
        await self._store.atomically(
            lambda uow: uow.close_of_business.finish_step(
                business_date, owner, name, items, finished
            )
        )
        follow.step_finished(name, items)

    async def _close(
        self, uow: UnitOfWork, business_date: date, owner: str, context: RequestContext
    ) -> None:
        now = self._clock.now()
        await uow.close_of_business.close(business_date, owner, now)
        run = await uow.close_of_business.get(business_date)
        if run is None:
            raise InvariantViolation("a closed run vanished", business_date=business_date)
        await uow.audit.append(
            AuditRecord(
                occurred_at=now,
                actor=context.actor,
                action="eod.completed",
                entity_type="business_date",
                entity_id=business_date.isoformat(),
                request_id=context.request_id,
                details={
                    "business_date": business_date.isoformat(),
                    "started_by": run.actor,
                    "steps": run.counts(),
                },
            )
        )

    @contextlib.asynccontextmanager
    async def _leading(self, business_date: date, owner: str) -> AsyncIterator[None]:
        """Renew the lease in the background for as long as the block runs."""
        heartbeat = asyncio.create_task(self._renew(business_date, owner))
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _renew(self, business_date: date, owner: str) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                held = await self._store.atomically(
                    lambda uow: uow.close_of_business.renew_lease(
                        business_date, owner, self._clock.now() + self._lease
                    )
                )
            except Exception:  # the database away for a moment: try again next beat
                logger.warning("could not renew the close-of-business lease", exc_info=True)
                continue
            if not held:  # what the run records next is refused (RunLeaseLost)
                logger.error("the close-of-business lease of %s was taken over", business_date)
                return

    async def _give_up(self, business_date: date, owner: str) -> None:
        """Let the next run of the date start at once instead of after the lease."""
        try:
            await self._store.atomically(
                lambda uow: uow.close_of_business.give_up_lease(
                    business_date, owner, self._clock.now()
                )
            )
        except Exception:  # the lease then simply expires
            logger.warning("could not give up the close-of-business lease", exc_info=True)
