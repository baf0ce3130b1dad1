"""The close of business: which business date may be closed next, and what a run is.

The bank's business date is kept apart from the wall clock, as Fineract does: the
*business calendar* remembers the last business date that was closed, and the current
business date is the day after it. Closing a date runs the day's work (expire holds,
accrue and post interest, age loans, ...) as a fixed list of steps, and then advances the
calendar by one day.

The rules:

- Dates close strictly in order: D may run only when it is the day after the last closed
  date. Before anything was ever closed, the first run may be for any date; once a run has
  started, that date must finish first (a second, different date is out of order).
- A date is closed at its end or later, never before: D may not be after the clock's
  today.
- A closed date runs once. Asking for it again changes nothing and answers with the run as
  it finished (the service turns ``DateAlreadyClosed`` into that replay when it has the
  run; only a date before the first run kept has none).

The exceptions, in the hierarchy of core_banking.domain.errors::

    Conflict
    ├── DateAlreadyClosed      409  the date is closed (a replay, when its run is kept)
    ├── DateOutOfOrder         409  another date must close first
    ├── RunInProgress          409  another process is running this date right now
    └── RunLeaseLost           409  this process stopped leading the run it was doing
    RuleViolation
    └── FutureBusinessDate     422  the date has not begun yet
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from core_banking.domain.errors import Conflict, RuleViolation

ONE_DAY = timedelta(days=1)


class RunStatus(StrEnum):
    """A run (and each of its steps) is running until it is done; nothing else."""

    RUNNING = "running"
    DONE = "done"


class DateAlreadyClosed(Conflict):
    code = "business_date_closed"


class DateOutOfOrder(Conflict):
    code = "business_date_out_of_order"


class RunInProgress(Conflict):
    code = "close_of_business_in_progress"


class RunLeaseLost(Conflict):
    code = "close_of_business_lease_lost"


class FutureBusinessDate(RuleViolation):
    code = "business_date_in_future"


def current_business_date(last_closed: date | None, today: date) -> date:
    """The date the bank is working in: the day after the last closed one; before the
    first close, the clock's today."""
    return last_closed + ONE_DAY if last_closed is not None else today


def check_may_run(
    business_date: date, *, last_closed: date | None, unfinished: date | None, today: date
) -> None:
    """Refuse ``business_date`` unless it is the one date that may close now.

    ``last_closed`` is the calendar's last closed date, ``unfinished`` the date of a run
    that started and did not finish (at most one exists, by this very rule), ``today`` the
    clock's date.
    """
    if last_closed is not None and business_date <= last_closed:
        raise DateAlreadyClosed(
            f"{business_date} is already closed",
            business_date=business_date.isoformat(),
            last_closed=last_closed.isoformat(),
        )
    expected = last_closed + ONE_DAY if last_closed is not None else unfinished
    if expected is not None and business_date != expected:
        raise DateOutOfOrder(
            f"the next business date to close is {expected}, not {business_date}",
            business_date=business_date.isoformat(),
            expected=expected.isoformat(),
        )
    if business_date > today:
        raise FutureBusinessDate(
            f"{business_date} has not begun: a date closes at its end or later",
            business_date=business_date.isoformat(),
            today=today.isoformat(),
        )


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Where the bank stands: the last closed business date (None before the first
    close) and the business date it is working in."""

    last_closed: date | None
    current: date


@dataclass(frozen=True, slots=True)
class StepProgress:
    """One step of one run: how far it got. ``items_done`` is the step's own count (holds
    expired, accounts accrued, ...), recorded when it is done."""

    name: str
    position: int
    status: RunStatus
    items_done: int
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class CloseOfBusinessRun:
    """The close of one business date: who started it, its steps in order, and whether it
    is done. ``replayed`` marks an answer for a date that had closed before the call."""

    business_date: date
    status: RunStatus
    actor: str
    started_at: datetime
    finished_at: datetime | None
    steps: tuple[StepProgress, ...] = ()
    replayed: bool = False

    @property
    def done(self) -> bool:
        return self.status is RunStatus.DONE

    def step(self, name: str) -> StepProgress | None:
        return next((step for step in self.steps if step.name == name), None)

    def is_step_done(self, name: str) -> bool:
        step = self.step(name)
        return step is not None and step.status is RunStatus.DONE

    def counts(self) -> dict[str, int]:
        """Items done per step, in step order: what the completion audit records."""
        return {step.name: step.items_done for step in self.steps}

    def as_replay(self) -> CloseOfBusinessRun:
        return replace(self, replayed=True)
