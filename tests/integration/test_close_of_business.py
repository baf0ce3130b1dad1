"""The close of business through the service, on SQLite and on PostgreSQL: dates close in
order and never before they begin, a closed date asked for again changes nothing, a run
that failed or whose process died resumes at its first unfinished step, two processes
closing the same date at once do the work once, and the first step expires exactly the
holds that run out by the end of the business date.

The business calendar is one per bank, so every test has a database of its own.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.close_of_business import (
    DateAlreadyClosed,
    DateOutOfOrder,
    FutureBusinessDate,
    RunInProgress,
    RunLeaseLost,
    RunStatus,
)
from core_banking.domain.commands import PlaceHold, ReleaseHold, RequestContext
from core_banking.domain.holds import HoldStatus
from core_banking.ports import AuditQuery, ProgressReport
from core_banking.services.close_of_business import CloseOfBusinessService
from core_banking.services.hold_expiry import ExpireHoldsStep
from core_banking.storage import create_storage
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, funded_account, key, money
from support.databases import migrate

TODAY = date(2026, 11, 20)
OPERATOR = RequestContext(actor="user:operator", request_id="req-eod")


@pytest.fixture
def clock() -> FakeClock:
    """Mid-morning of TODAY, UTC."""
    return FakeClock(moment=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))


@pytest.fixture
def own_database_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    migrate(url)
    return url


async def _bank(url: str, clock: FakeClock) -> Nexum:
    return build(settings_for(url), storage=create_storage(url), clock=clock)


@pytest.fixture
async def own_bank(own_database_url: str, clock: FakeClock) -> AsyncIterator[Nexum]:
    bank = await _bank(own_database_url, clock)
    yield bank
    await bank.aclose()


@dataclass
class CountingStep:
    """A step that records each date it ran for and does ``items`` items; it fails on
    the runs listed in ``fail_on`` (1 = its first run) and can be made to wait."""

    name: str
    items: int = 3
    fail_on: tuple[int, ...] = ()
    pause_seconds: float = 0.0
    runs: list[date] = field(default_factory=list)

    async def run(self, business_date: date, report: ProgressReport) -> int:
        self.runs.append(business_date)
        if self.pause_seconds:
            await asyncio.sleep(self.pause_seconds)
        if len(self.runs) in self.fail_on:
            raise RuntimeError(f"{self.name} failed")
        report(self.items, self.items)
        return self.items


def _service(bank: Nexum, *steps: Any, **options: Any) -> CloseOfBusinessService:
    return CloseOfBusinessService(bank.storage, bank.clock, list(steps), **options)


async def _audit(bank: Nexum, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, entity id, details) of each audit event of ``action``, by entity id (the
    fake clock gives them all one time, so the trail's own order says nothing)."""
    events = await bank.audit_trail.events(AuditQuery(limit=500, action=action))
    return sorted(
        ((event.actor, event.entity_id, json.loads(event.payload)["details"]) for event in events),
        key=lambda event: event[1],
    )


# --- order and the clock ------------------------------------------------------------------


def _expiring_holds(bank: Nexum, **options: Any) -> CloseOfBusinessService:
    """A close of business whose only step is the hold expiry."""
    return _service(bank, ExpireHoldsStep(bank.storage, bank.clock), **options)


async def test_the_bank_closes_a_date_with_every_configured_step_holds_first(own_bank):
    bank = own_bank
    names = bank.close_of_business.step_names
    assert names[0] == "expire_holds"
    run = await bank.close_of_business.run(TODAY, OPERATOR)
    assert run.done
    assert [(step.name, step.status, step.position) for step in run.steps] == [
        (name, RunStatus.DONE, position) for position, name in enumerate(names)
    ]
    [(_, _, details)] = await _audit(bank, "eod.completed")
    assert set(details["steps"]) == set(names)


async def test_dates_close_one_after_another_and_never_before_they_begin(own_bank):
    bank = own_bank
    step = CountingStep("count")
    eod = _service(bank, step)
    calendar = await eod.calendar()
    assert (calendar.last_closed, calendar.current) == (None, TODAY)

    first = TODAY - timedelta(days=3)  # the first run may be any date up to today
    run = await eod.run(first, OPERATOR)
    assert (run.business_date, run.status, run.replayed) == (first, RunStatus.DONE, False)
    assert run.actor == OPERATOR.actor
    assert [(step.name, step.status) for step in run.steps] == [("count", RunStatus.DONE)]
    calendar = await eod.calendar()
    assert (calendar.last_closed, calendar.current) == (first, first + timedelta(days=1))

    with pytest.raises(DateOutOfOrder) as skipped:
        await eod.run(first + timedelta(days=2), OPERATOR)
    assert skipped.value.context["expected"] == (first + timedelta(days=1)).isoformat()
    with pytest.raises(DateAlreadyClosed):  # before the first run: no run to answer with
        await eod.run(first - timedelta(days=1), OPERATOR)

    for day in (1, 2, 3):  # up to and including today: a day closes on it or after it
        closed = await eod.run(first + timedelta(days=day), OPERATOR)
        assert (closed.done, closed.replayed) == (True, False)
    with pytest.raises(FutureBusinessDate):
        await eod.run(TODAY + timedelta(days=1), OPERATOR)
    assert step.runs == [first + timedelta(days=day) for day in range(4)]

    calendar = await eod.calendar()
    assert (calendar.last_closed, calendar.current) == (TODAY, TODAY + timedelta(days=1))
    recent = await eod.recent(limit=10)
    assert [run.business_date for run in recent] == [
        first + timedelta(days=d) for d in (3, 2, 1, 0)
    ]
    assert [run.business_date for run in await eod.recent(2, TODAY)] == [
        first + timedelta(days=2),
        first + timedelta(days=1),
    ]
    completed = await _audit(bank, "eod.completed")
    assert [(actor, entity) for actor, entity, _ in completed] == [
        (OPERATOR.actor, (first + timedelta(days=d)).isoformat()) for d in range(4)
    ]
    assert completed[0][2] == {
        "business_date": first.isoformat(),
        "started_by": OPERATOR.actor,
        "steps": {"count": 3},
    }


async def test_the_first_run_may_not_be_for_a_date_that_has_not_begun(own_bank, clock):
    eod = _service(own_bank, CountingStep("count"))
    with pytest.raises(FutureBusinessDate):
        await eod.run(TODAY + timedelta(days=1), OPERATOR)
    assert await eod.recent(10) == []
    clock.advance(days=1)  # tomorrow has come
    assert (await eod.run(TODAY + timedelta(days=1), OPERATOR)).done


# --- once, and resumable ------------------------------------------------------------------


async def test_a_closed_date_asked_again_answers_with_its_run_and_changes_nothing(own_bank, clock):
    bank = own_bank
    step = CountingStep("count")
    service = _service(bank, step)
    run = await service.run(TODAY, OPERATOR)
    assert run.counts() == {"count": 3}

    clock.advance(hours=2)
    again = await service.run(TODAY, RequestContext(actor="user:someone-else"))
    assert again.replayed
    assert again.as_replay() == run.as_replay()  # the stored run, its times and actor
    assert step.runs == [TODAY]  # the work was not done again
    assert len(await _audit(bank, "eod.completed")) == 1
    assert (await service.calendar()).last_closed == TODAY


async def test_a_run_that_failed_resumes_at_its_first_unfinished_step(own_bank):
    bank = own_bank
    first, flaky, last = (
        CountingStep("first", 1),
        CountingStep("flaky", 2, (1,)),
        CountingStep("last", 5),
    )
    service = _service(bank, first, flaky, last)

    with pytest.raises(RuntimeError, match="flaky failed"):
        await service.run(TODAY, OPERATOR)
    stopped = await service.get(TODAY)
    assert stopped.status is RunStatus.RUNNING
    assert [(step.name, step.status, step.items_done) for step in stopped.steps] == [
        ("first", RunStatus.DONE, 1),
        ("flaky", RunStatus.RUNNING, 0),
    ]
    assert (await service.calendar()).last_closed is None
    assert await _audit(bank, "eod.completed") == []

    # The failed run gave its lease up: running again needs no wait.
    resumed = await service.run(TODAY, RequestContext(actor="user:second-operator"))
    assert (resumed.done, resumed.replayed) == (True, False)
    assert (first.runs, flaky.runs, last.runs) == ([TODAY], [TODAY, TODAY], [TODAY])
    assert resumed.counts() == {"first": 1, "flaky": 2, "last": 5}
    assert resumed.actor == OPERATOR.actor  # who started it
    [(actor, _, details)] = await _audit(bank, "eod.completed")
    assert actor == "user:second-operator"  # who finished it
    assert details["steps"] == {"first": 1, "flaky": 2, "last": 5}
    assert details["started_by"] == OPERATOR.actor


async def test_a_run_left_by_a_killed_process_is_taken_over_when_its_lease_expires(own_bank, clock):
    bank = own_bank
    step = CountingStep("count")
    service = _service(bank, step, lease=timedelta(seconds=60), heartbeat_seconds=20)
    now = clock.now()
    # What a process killed right after starting the run leaves: a run with a live lease.
    await bank.storage.atomically(
        lambda uow: uow.close_of_business.start(
            TODAY, "user:gone", "dead-host:4242:feedbeef", now, now + timedelta(seconds=60)
        )
    )
    with pytest.raises(RunInProgress):
        await service.run(TODAY, OPERATOR)
    with pytest.raises(DateOutOfOrder):  # the unfinished date comes first
        await service.run(TODAY - timedelta(days=1), OPERATOR)
    assert step.runs == []

    clock.advance(seconds=61)
    run = await service.run(TODAY, OPERATOR)
    assert (run.done, run.actor) == (True, "user:gone")
    assert step.runs == [TODAY]


@dataclass
class ClockMovingStep:
    """A long step: each of its ``beats`` moves the clock on ``seconds`` and takes a
    moment of real time, so a lease that was not renewed would run out meanwhile."""

    clock: FakeClock
    name: str = "long"
    beats: int = 4
    seconds: int = 30

    async def run(self, business_date: date, report: ProgressReport) -> int:
        for beat in range(1, self.beats + 1):
            self.clock.advance(seconds=self.seconds)
            await asyncio.sleep(0.2)
            report(beat, self.beats)
        return self.beats


async def test_a_working_run_keeps_its_lease_by_renewing_it(own_bank, clock):
    bank = own_bank
    lease = timedelta(seconds=60)
    leader = _service(bank, ClockMovingStep(clock), lease=lease, heartbeat_seconds=0.05)
    other = _service(bank, CountingStep("long"), lease=lease)
    leading = asyncio.create_task(leader.run(TODAY, OPERATOR))
    await asyncio.sleep(0.5)  # 90 s of clock time: more than the lease it started with
    with pytest.raises(RunInProgress):
        await other.run(TODAY, OPERATOR)
    run = await leading
    assert run.counts() == {"long": 4}


async def test_a_run_that_lost_its_lease_cannot_mark_anything_done(own_bank, clock):
    bank = own_bank

    @dataclass
    class OvertakenStep:
        """Outlives its lease: another process takes the run over meanwhile."""

        name: str = "overtaken"

        async def run(self, business_date: date, report: ProgressReport) -> int:
            clock.advance(seconds=61)
            now = clock.now()
            taken = await bank.storage.atomically(
                lambda uow: uow.close_of_business.take_lease(
                    business_date, "other-host:1:cafe", now, now + timedelta(seconds=60)
                )
            )
            assert taken
            return 1

    service = _service(bank, OvertakenStep(), lease=timedelta(seconds=60))
    with pytest.raises(RunLeaseLost):
        await service.run(TODAY, OPERATOR)
    run = await service.get(TODAY)
    assert run.status is RunStatus.RUNNING
    assert [(step.name, step.status) for step in run.steps] == [("overtaken", RunStatus.RUNNING)]
    with pytest.raises(RunInProgress):  # the other process leads it now
        await service.run(TODAY, OPERATOR)


async def test_two_processes_closing_the_same_date_do_the_work_once(own_database_url, clock):
    """Two banks, each with its own engine and connections, as two processes would be."""
    banks = [await _bank(own_database_url, clock) for _ in range(2)]
    step = CountingStep("slow", pause_seconds=0.5)
    services = [_service(bank, step) for bank in banks]
    try:
        outcomes = await asyncio.gather(
            *(service.run(TODAY, OPERATOR) for service in services), return_exceptions=True
        )
        refused = [outcome for outcome in outcomes if isinstance(outcome, RunInProgress)]
        closed = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
        assert (len(refused), len(closed)) == (1, 1), outcomes
        assert (closed[0].done, closed[0].replayed) == (True, False)
        assert step.runs == [TODAY]
        again = await services[1].run(TODAY, OPERATOR)
        assert again.replayed
        assert step.runs == [TODAY]
        assert len(await _audit(banks[0], "eod.completed")) == 1
    finally:
        for bank in banks:
            await bank.aclose()


# --- the first step: holds that expire by the end of the business date -------------------


async def _hold(bank: Nexum, account_id: Any, amount: str, expires_at: datetime | None) -> Any:
    return await bank.holds.place(
        PlaceHold(account_id, money(amount), key(), expires_at, None), CONTEXT
    )


async def test_closing_a_date_expires_the_holds_that_run_out_by_its_end(own_bank, clock):
    bank = own_bank
    account = await funded_account(bank, "1000.00")
    other = await funded_account(bank, "1000.00")
    midnight = datetime(2026, 11, 21, tzinfo=UTC)  # the end of TODAY
    morning = await _hold(bank, account.id, "10.00", datetime(2026, 11, 20, 11, tzinfo=UTC))
    last_second = await _hold(bank, other.id, "20.00", midnight - timedelta(seconds=1))
    at_midnight = await _hold(bank, account.id, "40.00", midnight)
    never = await _hold(bank, account.id, "80.00", None)
    released = await _hold(bank, other.id, "160.00", datetime(2026, 11, 20, 12, tzinfo=UTC))
    await bank.holds.release(ReleaseHold(released.id, key()), CONTEXT)

    eod = _expiring_holds(bank)
    run = await eod.run(TODAY, OPERATOR)
    assert run.counts() == {"expire_holds": 2}

    statuses = {
        hold.id: (await bank.holds.get(hold.id)).status
        for hold in (morning, last_second, at_midnight, never, released)
    }
    assert statuses == {
        morning.id: HoldStatus.EXPIRED,
        last_second.id: HoldStatus.EXPIRED,
        at_midnight.id: HoldStatus.ACTIVE,  # expires at the end, not before it
        never.id: HoldStatus.ACTIVE,
        released.id: HoldStatus.RELEASED,
    }
    # posted 1000.00 each; held: what is still active
    for account_id, held_minor in ((account.id, 4000 + 8000), (other.id, 0)):
        found = await bank.accounts.get(account_id)
        assert (found.posted_minor, found.held_minor, found.available_minor) == (
            100000,
            held_minor,
            100000 - held_minor,
        )
    [(actor, _, details)] = await _audit(bank, "holds.expired")
    assert actor == "system:close_of_business"
    assert details["business_date"] == TODAY.isoformat()
    assert sorted(details["holds"], key=lambda hold: hold["hold_id"]) == sorted(
        (
            {"hold_id": str(morning.id), "account_id": str(account.id)},
            {"hold_id": str(last_second.id), "account_id": str(other.id)},
        ),
        key=lambda hold: hold["hold_id"],
    )
    report = await verify_ledger(bank.storage)
    assert report.violations == []
    assert report.ok

    # The next date expires the one that ran out at midnight.
    clock.advance(days=1)
    run = await eod.run(TODAY + timedelta(days=1), OPERATOR)
    assert run.counts() == {"expire_holds": 1}
    assert (await bank.holds.get(at_midnight.id)).status is HoldStatus.EXPIRED
    assert (await bank.accounts.get(account.id)).held_minor == 8000


async def test_hold_expiry_goes_in_bounded_batches_and_reports_progress(own_bank, clock):
    bank = own_bank
    first = await funded_account(bank, "100.00")
    second = await funded_account(bank, "100.00")
    expiry = clock.now() + timedelta(hours=1)
    amounts = {first.id: ("1.00", "2.00", "3.00"), second.id: ("4.00", "5.00")}
    for account_id, listed in amounts.items():
        for amount in listed:
            await _hold(bank, account_id, amount, expiry)
    reports: list[tuple[int, int]] = []
    step = ExpireHoldsStep(bank.storage, clock, batch_size=2)

    assert await step.run(TODAY, lambda done, total: reports.append((done, total))) == 5
    assert reports == [(0, 5), (2, 5), (4, 5), (5, 5)]
    batches = await _audit(bank, "holds.expired")
    assert sorted(len(details["holds"]) for _, _, details in batches) == [1, 2, 2]
    assert [(await bank.accounts.get(account_id)).held_minor for account_id in amounts] == [0, 0]
    # Run again (as after a crash): nothing is left to do.
    assert await step.run(TODAY, lambda done, total: None) == 0
    assert len(await _audit(bank, "holds.expired")) == 3


# --- the command line ---------------------------------------------------------------------

NEXUM = Path(sys.executable).with_name("nexum")


def _nexum(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, as an operator runs it, on the wall clock."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("NEXUM_")}
    environ.update({"NEXUM_DATABASE_URL": url, "NEXUM_ENVIRONMENT": "test", "COLUMNS": "200"})
    return subprocess.run(
        [str(NEXUM), "eod", *args],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_nexum_eod_closes_dates_and_shows_the_calendar(own_database_url, tmp_path):
    today = datetime.now(UTC).date()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)

    closed = _nexum("--date", yesterday.isoformat(), url=own_database_url, cwd=tmp_path)
    assert closed.returncode == 0, closed.stderr
    assert "expire_holds" in closed.stdout
    assert f"{yesterday} is closed" in closed.stdout

    again = _nexum("--date", yesterday.isoformat(), url=own_database_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"{yesterday} was closed before; nothing changed" in again.stdout

    skipped = _nexum("--date", tomorrow.isoformat(), url=own_database_url, cwd=tmp_path)
    assert skipped.returncode == 3
    assert "business_date_out_of_order" in skipped.stderr

    current = _nexum(url=own_database_url, cwd=tmp_path)  # the current business date: today
    assert current.returncode == 0, current.stderr
    assert f"{today} is closed" in current.stdout

    status = _nexum("status", url=own_database_url, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"current business date: {tomorrow}" in status.stdout
    assert f"last closed:           {today}" in status.stdout
    assert f"cli:{getpass.getuser()}" in status.stdout  # who ran them
    assert status.stdout.index(str(today)) < status.stdout.rindex(str(yesterday))

    future = _nexum("--date", tomorrow.isoformat(), url=own_database_url, cwd=tmp_path)
    assert future.returncode == 3
    assert "business_date_in_future" in future.stderr
    malformed = _nexum("--date", "28/11/2026", url=own_database_url, cwd=tmp_path)
    assert malformed.returncode == 2
    assert "YYYY-MM-DD" in malformed.stderr
