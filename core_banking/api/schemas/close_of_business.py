"""Close-of-business bodies: the date to close, a run with its steps, the calendar."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from core_banking.api.schemas.common import RequestModel
from core_banking.domain.close_of_business import (
    BusinessCalendar,
    CloseOfBusinessRun,
    RunStatus,
    StepProgress,
)


class RunRequest(RequestModel):
    business_date: date = Field(
        description="The date to close: the day after the last closed one (any date up to "
        "today for the very first run). A date already closed answers with its run.",
        examples=["2026-11-27"],
    )


class StepOut(BaseModel):
    name: str = Field(examples=["expire_holds"])
    position: int = Field(description="The step's place in the run, from 0.")
    status: RunStatus
    items_done: int = Field(description="What the step did, in its own units, once done.")
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, step: StepProgress) -> StepOut:
        return cls(
            name=step.name,
            position=step.position,
            status=step.status,
            items_done=step.items_done,
            started_at=step.started_at,
            finished_at=step.finished_at,
        )


class RunOut(BaseModel):
    business_date: date
    status: RunStatus
    actor: str = Field(description="Who started the run.")
    started_at: datetime
    finished_at: datetime | None
    steps: list[StepOut] = Field(description="The steps begun, in order.")

    @classmethod
    def of(cls, run: CloseOfBusinessRun) -> RunOut:
        return cls(
            business_date=run.business_date,
            status=run.status,
            actor=run.actor,
            started_at=run.started_at,
            finished_at=run.finished_at,
            steps=[StepOut.of(step) for step in run.steps],
        )


class BusinessDateOut(BaseModel):
    business_date: date = Field(
        description="The date the bank works in: the day after the last closed one "
        "(before the first close, today)."
    )
    last_closed_date: date | None = Field(description="Null before the first close.")

    @classmethod
    def of(cls, calendar: BusinessCalendar) -> BusinessDateOut:
        return cls(business_date=calendar.current, last_closed_date=calendar.last_closed)
