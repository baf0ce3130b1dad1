"""Which business date may close next, from the calendar, an unfinished run and the clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core_banking.domain.close_of_business import (
    CloseOfBusinessRun,
    DateAlreadyClosed,
    DateOutOfOrder,
    FutureBusinessDate,
    RunStatus,
    StepProgress,
    check_may_run,
    current_business_date,
)
from core_banking.domain.errors import Conflict, RuleViolation

TODAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0)


def _day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


@pytest.mark.parametrize(
    ("business_date", "last_closed", "unfinished", "refusal"),
    [
        # nothing closed yet: any date up to today
        (_day(-400), None, None, None),
        (_day(0), None, None, None),
        (_day(1), None, None, FutureBusinessDate),
        # a first run that did not finish comes first
        (_day(-3), None, _day(-3), None),
        (_day(-2), None, _day(-3), DateOutOfOrder),
        (_day(-4), None, _day(-3), DateOutOfOrder),
        # after a close: exactly the next day, and not before it begins
        (_day(-1), _day(-2), None, None),
        (_day(0), _day(-1), None, None),
        (_day(1), _day(0), None, FutureBusinessDate),
        (_day(0), _day(-2), None, DateOutOfOrder),
        (_day(-2), _day(-2), None, DateAlreadyClosed),
        (_day(-9), _day(-2), None, DateAlreadyClosed),
        (_day(-1), _day(-2), _day(-1), None),
        # out of order wins over the future: the operator learns the date expected
        (_day(5), _day(-2), None, DateOutOfOrder),
    ],
)
def test_which_date_may_run(business_date, last_closed, unfinished, refusal):
    def check() -> None:
        check_may_run(business_date, last_closed=last_closed, unfinished=unfinished, today=TODAY)

    if refusal is None:
        check()
    else:
        with pytest.raises(refusal):
            check()


def test_refusals_carry_stable_codes_and_the_date_expected():
    with pytest.raises(DateOutOfOrder) as refused:
        check_may_run(_day(0), last_closed=_day(-3), unfinished=None, today=TODAY)
    assert refused.value.code == "business_date_out_of_order"
    assert refused.value.context == {"business_date": "2026-11-20", "expected": "2026-11-18"}
    assert issubclass(DateOutOfOrder, Conflict)
    assert issubclass(DateAlreadyClosed, Conflict)
    assert issubclass(FutureBusinessDate, RuleViolation)
    assert FutureBusinessDate.code == "business_date_in_future"


def test_the_current_business_date_is_the_day_after_the_last_closed():
    assert current_business_date(None, TODAY) == TODAY
    assert current_business_date(date(2026, 2, 28), TODAY) == date(2026, 3, 1)
    assert current_business_date(date(2028, 2, 28), TODAY) == date(2028, 2, 29)
    assert current_business_date(date(2026, 12, 31), TODAY) == date(2027, 1, 1)


def test_a_run_knows_its_steps_and_counts():
    steps = (
        StepProgress("expire_holds", 0, RunStatus.DONE, 7, NOON, NOON),
        StepProgress("accrue", 1, RunStatus.RUNNING, 0, NOON, None),
    )
    run = CloseOfBusinessRun(TODAY, RunStatus.RUNNING, "user:a", NOON, None, steps)
    assert not run.done
    assert run.is_step_done("expire_holds")
    assert not run.is_step_done("accrue")
    assert not run.is_step_done("never_begun")
    assert run.counts() == {"expire_holds": 7, "accrue": 0}
    assert run.as_replay().replayed
    assert not run.replayed
