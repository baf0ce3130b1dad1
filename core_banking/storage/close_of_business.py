"""The business calendar and the close-of-business runs, with their steps and leases.

Every start of a run locks the calendar's single row first (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's write transactions already hold the database's one writer lock), so
two processes deciding at once which date may run decide one after the other. Everything a
run records after that is conditional on its lease (``lease_owner`` = this process): a
process that lost the lease to another can no longer mark anything done.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.close_of_business import (
    CloseOfBusinessRun,
    RunLeaseLost,
    RunStatus,
    StepProgress,
)
from core_banking.domain.errors import InvariantViolation
from core_banking.storage.schema import (
    business_calendar,
    close_of_business_runs,
    close_of_business_steps,
)

_CALENDAR_ROW = 1
runs, steps = close_of_business_runs, close_of_business_steps


def _step(row: RowMapping) -> StepProgress:
    return StepProgress(
        name=row["step_name"],
        position=row["position"],
        status=RunStatus(row["status"]),
        items_done=row["items_done"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _run(row: RowMapping, run_steps: tuple[StepProgress, ...]) -> CloseOfBusinessRun:
    return CloseOfBusinessRun(
        business_date=row["business_date"],
        status=RunStatus(row["status"]),
        actor=row["actor"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        steps=run_steps,
    )


class CloseOfBusinessRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # --- the calendar ----------------------------------------------------------------------

    async def lock_calendar(self) -> date | None:
        return await self._calendar(lock=True)

    async def last_closed(self) -> date | None:
        return await self._calendar(lock=False)

    async def _calendar(self, *, lock: bool) -> date | None:
        statement = select(business_calendar.c.last_closed_date).where(
            business_calendar.c.id == _CALENDAR_ROW
        )
        if lock:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        if row is None:
            raise InvariantViolation("the business calendar has no row; migrate the database")
        last: date | None = row.last_closed_date
        return last

    # --- runs ------------------------------------------------------------------------------

    async def get(self, business_date: date) -> CloseOfBusinessRun | None:
        found = await self._runs(select(runs).where(runs.c.business_date == business_date))
        return found[0] if found else None

    async def unfinished(self) -> date | None:
        found: date | None = await self._conn.scalar(
            select(runs.c.business_date)
            .where(runs.c.status == RunStatus.RUNNING.value)
            .order_by(runs.c.business_date)
            .limit(1)
        )
        return found

    async def recent(self, limit: int, before: date | None = None) -> list[CloseOfBusinessRun]:
        statement = select(runs).order_by(runs.c.business_date.desc()).limit(limit)
        if before is not None:
            statement = statement.where(runs.c.business_date < before)
        return await self._runs(statement)

    async def _runs(self, statement: Select[Any]) -> list[CloseOfBusinessRun]:
        """The runs ``statement`` selects, each with its steps in order (two queries)."""
        rows = (await self._conn.execute(statement)).mappings().all()
        if not rows:
            return []
        dates = [row["business_date"] for row in rows]
        by_date: dict[date, list[StepProgress]] = {day: [] for day in dates}
        step_rows = await self._conn.execute(
            select(steps)
            .where(steps.c.business_date.in_(dates))
            .order_by(steps.c.business_date, steps.c.position)
        )
        for row in step_rows.mappings():
            by_date[row["business_date"]].append(_step(row))
        return [_run(row, tuple(by_date[row["business_date"]])) for row in rows]

    async def start(
        self, business_date: date, actor: str, owner: str, now: datetime, until: datetime
    ) -> None:
        await self._conn.execute(
            runs.insert().values(
                business_date=business_date,
                status=RunStatus.RUNNING.value,
                actor=actor,
                lease_owner=owner,
                lease_expires_at=until,
                started_at=now,
                finished_at=None,
            )
        )

    # --- the lease -------------------------------------------------------------------------

    async def take_lease(
        self, business_date: date, owner: str, now: datetime, until: datetime
    ) -> bool:
        result = await self._conn.execute(
            update(runs)
            .where(
                runs.c.business_date == business_date,
                runs.c.status == RunStatus.RUNNING.value,
                (runs.c.lease_owner == owner)
                | runs.c.lease_owner.is_(None)
                | (runs.c.lease_expires_at < now),
            )
            .values(lease_owner=owner, lease_expires_at=until)
        )
        return bool(result.rowcount)

    async def renew_lease(self, business_date: date, owner: str, until: datetime) -> bool:
        result = await self._conn.execute(
            update(runs).where(self._led_by(business_date, owner)).values(lease_expires_at=until)
        )
        return bool(result.rowcount)

    async def give_up_lease(self, business_date: date, owner: str, now: datetime) -> None:
        await self._conn.execute(
            update(runs)
            .where(self._led_by(business_date, owner))
            .values(lease_owner=None, lease_expires_at=now)
        )

    async def _fence(self, business_date: date, owner: str) -> None:
        """Lock the run's row and refuse to go on unless ``owner`` still leads it. The
        lock holds until this transaction ends, so no one can take the lease over while
        the transaction records work done under it."""
        leader = await self._conn.scalar(
            select(runs.c.lease_owner).where(self._led_by(business_date, owner)).with_for_update()
        )
        if leader is None:
            raise RunLeaseLost(
                "another process took over this close of business",
                business_date=business_date.isoformat(),
            )

    @staticmethod
    def _led_by(business_date: date, owner: str) -> ColumnElement[bool]:
        return and_(
            runs.c.business_date == business_date,
            runs.c.status == RunStatus.RUNNING.value,
            runs.c.lease_owner == owner,
        )

    # --- steps and the close ---------------------------------------------------------------

    async def start_step(
        self, business_date: date, owner: str, name: str, position: int, now: datetime
    ) -> None:
        await self._fence(business_date, owner)
        begun = await self._conn.scalar(
            select(steps.c.step_name).where(
                steps.c.business_date == business_date, steps.c.step_name == name
            )
        )
        if begun is None:
            await self._conn.execute(
                steps.insert().values(
                    business_date=business_date,
                    step_name=name,
                    position=position,
                    status=RunStatus.RUNNING.value,
                    items_done=0,
                    started_at=now,
                    finished_at=None,
                )
            )

    async def finish_step(
        self, business_date: date, owner: str, name: str, items_done: int, now: datetime
    ) -> None:
        await self._fence(business_date, owner)
        result = await self._conn.execute(
            update(steps)
            .where(
                steps.c.business_date == business_date,
                steps.c.step_name == name,
                steps.c.status == RunStatus.RUNNING.value,
            )
            .values(status=RunStatus.DONE.value, items_done=items_done, finished_at=now)
        )
        if result.rowcount != 1:
            raise InvariantViolation(
                "a step finished that was not running", business_date=business_date, step=name
            )

    async def close(self, business_date: date, owner: str, now: datetime) -> None:
        await self.lock_calendar()  # first, as a start does: the calendar, then the run
        await self._fence(business_date, owner)
        await self._conn.execute(
            update(runs)
            .where(runs.c.business_date == business_date)
            .values(
                status=RunStatus.DONE.value,
                finished_at=now,
                lease_owner=None,
                lease_expires_at=now,
            )
        )
        await self._conn.execute(
            update(business_calendar)
            .where(business_calendar.c.id == _CALENDAR_ROW)
            .values(last_closed_date=business_date, updated_at=now)
        )
