"""Days past due, delinquency buckets, and late fees.

* **Days past due** count from the oldest installment with anything unpaid: an installment
  due on 10 March and still unpaid at the end of 10 March is 1 day past due on 11 March.
* **Buckets** group loans by days past due for reporting and provisioning. They are
  configurable: contiguous ranges starting at day 1, the last one open-ended. The default
  is the usual 1-30, 31-60, 61-90, 91+.
* **Late fees** are assessed once per missed installment, when it is more than
  ``grace_days`` past due with principal or interest unpaid; the caller passes the
  installments already charged so that running the assessment again charges nothing new.
  A percentage late fee is charged on the installment's unpaid principal and interest.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending._checks import require_date, require_int, require_member
from core_banking.domain.lending.allocation import AmountsDue
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_status import LoanStatus

MAX_DAYS: Final = 100_000
MAX_BUCKETS: Final = 20


def days_past_due(dues: Sequence[AmountsDue], as_of: date) -> int:
    """Days since the oldest due date with anything still unpaid (0 when nothing is late)."""
    require_date(as_of, "as_of")
    late = [due.due_date for due in dues if due.total_minor > 0 and due.due_date < as_of]
    return (as_of - min(late)).days if late else 0


@dataclass(frozen=True, slots=True)
class DelinquencyBucket:
    label: str
    min_days: int
    max_days: int | None
    """None: open-ended."""


@dataclass(frozen=True, slots=True)
class DelinquencyBuckets:
    buckets: tuple[DelinquencyBucket, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.buckets, tuple) or not all(
            isinstance(bucket, DelinquencyBucket) for bucket in self.buckets
        ):
            raise InvalidInput("buckets must be a tuple of DelinquencyBucket", field="buckets")
        require_int(len(self.buckets), "buckets", minimum=1, maximum=MAX_BUCKETS)
        expected_start = 1
        for index, bucket in enumerate(self.buckets):
            if not bucket.label or bucket.min_days != expected_start:
                raise InvalidInput(
                    f"bucket {index} must be labelled and start at day {expected_start}",
                    field="buckets",
                )
            is_last = index == len(self.buckets) - 1
            if (bucket.max_days is None) != is_last:
                raise InvalidInput("only the last bucket is open-ended", field="buckets")
            if bucket.max_days is not None:
                require_int(
                    bucket.max_days, "buckets.max_days", minimum=bucket.min_days, maximum=MAX_DAYS
                )
                expected_start = bucket.max_days + 1

    def bucket_for(self, days: int) -> DelinquencyBucket | None:
        """The bucket ``days`` past due falls in; None for a loan that is not late."""
        require_int(days, "days_past_due", minimum=0, maximum=MAX_DAYS)
        if days == 0:
            return None
        return next(
            bucket for bucket in self.buckets if bucket.max_days is None or days <= bucket.max_days
        )


DEFAULT_BUCKETS: Final = DelinquencyBuckets(
    (
        DelinquencyBucket("1-30", 1, 30),
        DelinquencyBucket("31-60", 31, 60),
        DelinquencyBucket("61-90", 61, 90),
        DelinquencyBucket("91+", 91, None),
    )
)


def delinquency_status(current: LoanStatus, days: int) -> LoanStatus:
    """The status an active or delinquent loan should have at ``days`` past due: delinquent
    from the first day late, active again once caught up. Other statuses stay as they are."""
    require_member(current, LoanStatus, "status")
    if current not in (LoanStatus.ACTIVE, LoanStatus.DELINQUENT):
        return current
    return LoanStatus.DELINQUENT if days > 0 else LoanStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class LateFee:
    installment_number: int
    amount_minor: int


def assess_late_fees(
    dues: Sequence[AmountsDue],
    as_of: date,
    grace_days: int,
    rule: FeeRule,
    already_assessed: Collection[int],
) -> tuple[LateFee, ...]:
    """The late fees to charge on ``as_of``: one per installment more than ``grace_days``
    past due with principal or interest unpaid, unless it was charged before. Fees that
    round to zero are left out."""
    require_date(as_of, "as_of")
    require_int(grace_days, "grace_days", minimum=0, maximum=MAX_DAYS)
    require_member(rule, FeeRule, "late_fee")
    fees = []
    for due in sorted(dues, key=lambda item: (item.due_date, item.installment_number)):
        unpaid = due.principal_minor + due.interest_minor
        if (
            unpaid > 0
            and (as_of - due.due_date).days > grace_days
            and due.installment_number not in already_assessed
        ):
            amount = rule.amount_on(unpaid)
            if amount > 0:
                fees.append(LateFee(due.installment_number, amount))
    return tuple(fees)
