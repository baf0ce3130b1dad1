"""Days past due, buckets, late fees, the loan life cycle and maker-checker."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from core_banking.domain.errors import InvalidInput, InvalidTransition
from core_banking.domain.lending.allocation import AmountsDue
from core_banking.domain.lending.delinquency import (
    DEFAULT_BUCKETS,
    DelinquencyBucket,
    DelinquencyBuckets,
    LateFee,
    assess_late_fees,
    days_past_due,
    delinquency_status,
)
from core_banking.domain.lending.errors import ApprovalLimitExceeded, SelfApprovalRefused
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_status import (
    LoanStatus,
    check_approval,
    check_loan_transition,
)
from core_banking.domain.money import Money
from core_banking.domain.security import Forbidden

MARCH = AmountsDue(1, date(2024, 3, 10), 0, 0, 50_00, 0)
APRIL = AmountsDue(2, date(2024, 4, 10), 0, 0, 100_00, 900_00)
PAID = AmountsDue(3, date(2024, 2, 10), 0, 0, 0, 0)


def test_days_past_due_count_from_the_oldest_unpaid_installment() -> None:
    dues = [APRIL, PAID, MARCH]
    assert days_past_due(dues, date(2024, 3, 10)) == 0  # due today is not late yet
    assert days_past_due(dues, date(2024, 3, 11)) == 1
    assert days_past_due(dues, date(2024, 4, 20)) == 41
    assert days_past_due([PAID], date(2024, 4, 20)) == 0


@pytest.mark.parametrize(
    ("days", "label"),
    [
        (0, None),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (90, "61-90"),
        (91, "91+"),
        (4000, "91+"),
    ],
)
def test_the_default_buckets(days: int, label: str | None) -> None:
    bucket = DEFAULT_BUCKETS.bucket_for(days)
    assert (bucket.label if bucket else None) == label


def test_buckets_are_configurable_but_contiguous_from_day_one() -> None:
    weekly = DelinquencyBuckets(
        (DelinquencyBucket("week", 1, 7), DelinquencyBucket("later", 8, None))
    )
    later = weekly.bucket_for(8)
    assert later is not None
    assert later.label == "later"
    for broken in (
        (DelinquencyBucket("gap", 1, 7), DelinquencyBucket("later", 9, None)),
        (DelinquencyBucket("late start", 2, None),),
        (DelinquencyBucket("closed", 1, 30),),
        (DelinquencyBucket("open", 1, None), DelinquencyBucket("after", 2, None)),
    ):
        with pytest.raises(InvalidInput):
            DelinquencyBuckets(broken)


def test_late_fees_once_per_missed_installment_after_the_grace_days() -> None:
    rule = FeeRule.fixed(25_00)
    assert assess_late_fees([MARCH], date(2024, 3, 15), 5, rule, ()) == ()
    assert assess_late_fees([MARCH, PAID], date(2024, 3, 16), 5, rule, ()) == (LateFee(1, 25_00),)
    assert assess_late_fees([MARCH], date(2024, 3, 16), 5, rule, {1}) == ()
    both = assess_late_fees([APRIL, MARCH], date(2024, 5, 1), 5, rule, {1})
    assert both == (LateFee(2, 25_00),)


def test_a_percentage_late_fee_is_on_the_unpaid_installment() -> None:
    fees = assess_late_fees([APRIL], date(2024, 5, 1), 0, FeeRule.percent(Decimal("0.05")), ())
    assert fees == (LateFee(2, 50_00),)


def test_delinquency_moves_an_active_loan_and_back() -> None:
    assert delinquency_status(LoanStatus.ACTIVE, 1) is LoanStatus.DELINQUENT
    assert delinquency_status(LoanStatus.DELINQUENT, 0) is LoanStatus.ACTIVE
    assert delinquency_status(LoanStatus.ACTIVE, 0) is LoanStatus.ACTIVE
    assert delinquency_status(LoanStatus.WRITTEN_OFF, 200) is LoanStatus.WRITTEN_OFF


ALLOWED = {
    (LoanStatus.PENDING, LoanStatus.APPROVED),
    (LoanStatus.PENDING, LoanStatus.REJECTED),
    (LoanStatus.APPROVED, LoanStatus.ACTIVE),
    (LoanStatus.APPROVED, LoanStatus.CLOSED),
    (LoanStatus.ACTIVE, LoanStatus.DELINQUENT),
    (LoanStatus.ACTIVE, LoanStatus.PAID_OFF),
    (LoanStatus.ACTIVE, LoanStatus.WRITTEN_OFF),
    (LoanStatus.DELINQUENT, LoanStatus.ACTIVE),
    (LoanStatus.DELINQUENT, LoanStatus.PAID_OFF),
    (LoanStatus.DELINQUENT, LoanStatus.WRITTEN_OFF),
    (LoanStatus.PAID_OFF, LoanStatus.CLOSED),
    (LoanStatus.WRITTEN_OFF, LoanStatus.CLOSED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(LoanStatus, LoanStatus)))
def test_the_loan_life_cycle(current: LoanStatus, target: LoanStatus) -> None:
    if (current, target) in ALLOWED:
        check_loan_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_loan_transition(current, target)


def test_maker_checker() -> None:
    amount = Money.parse("25000.00", "USD")
    check_approval("alice", "bob", amount, None)
    check_approval("alice", "bob", amount, Decimal("25000.00"))
    with pytest.raises(SelfApprovalRefused):
        check_approval("alice", "alice", amount, None)
    with pytest.raises(ApprovalLimitExceeded) as raised:
        check_approval("alice", "bob", amount, Decimal("24999.999"))
    assert raised.value.context["limit"] == "24999.99"  # limits round down per currency
    assert isinstance(raised.value, Forbidden)
    with pytest.raises(InvalidInput):
        check_approval("", "bob", amount, None)
