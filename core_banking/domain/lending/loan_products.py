"""Term loan products as data.

A term loan product fixes how a loan is priced and repaid; a loan is opened from one
version of it and keeps that version. The fields, and the choices they name:

* ``method``: how principal is repaid (:class:`AmortizationMethod`).
* ``frequency``: monthly, bi-weekly or weekly due dates.
* ``grace``: :class:`GracePeriods` -- the first installments may carry no principal
  (*principal grace*), and the first of those may also carry no interest (*interest grace*:
  the interest of those periods is deferred to the first installment after it, never
  forgiven and never added to the principal).
* ``allocation_order``: the order a repayment pays fees, penalties, interest and principal.
* ``prepayment_strategy``: after a partial prepayment, keep the installment and finish
  sooner (``REDUCE_TERM``) or keep the end date and lower the installment
  (``REDUCE_INSTALLMENT``).
* ``overpayment_policy``: refuse a payment above what is due, or keep the rest as a credit.
* ``late_fee`` once per missed installment after ``late_fee_grace_days`` days;
  ``early_repayment_fee`` on principal repaid before it is due.
* ``min_amount_minor``..``max_amount_minor`` and ``min_installments``..``max_installments``
  bound what a loan may be opened for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final
from uuid import UUID

from core_banking.domain.errors import InvalidInput, RuleViolation
from core_banking.domain.lending._checks import (
    require_int,
    require_member,
    require_minor,
    require_rate,
)
from core_banking.domain.lending.allocation import (
    STANDARD_ORDER,
    AllocationOrder,
    OverpaymentPolicy,
)
from core_banking.domain.lending.dates import MAX_INSTALLMENTS, RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.products import ProductStatus, check_identity
from core_banking.domain.lending.rates import MAX_ANNUAL_RATE
from core_banking.domain.money import Currency

MAX_LATE_FEE_GRACE_DAYS: Final = 365


class AmortizationMethod(StrEnum):
    """How the principal is repaid.

    ``EQUAL_INSTALLMENT``  French amortization: every installment (principal + interest) is
                           the same, the principal part grows as the interest shrinks.
    ``EQUAL_PRINCIPAL``    the same principal every period, plus that period's interest, so
                           installments fall over time.
    ``BULLET``             interest every period, all the principal with the last installment.
    """

    EQUAL_INSTALLMENT = "equal_installment"
    EQUAL_PRINCIPAL = "equal_principal"
    BULLET = "bullet"


class PrepaymentStrategy(StrEnum):
    REDUCE_TERM = "reduce_term"
    REDUCE_INSTALLMENT = "reduce_installment"


@dataclass(frozen=True, slots=True)
class GracePeriods:
    """``principal_periods`` installments without principal; the first ``interest_periods``
    of them without interest either (deferred to the first installment after them)."""

    principal_periods: int = 0
    interest_periods: int = 0

    def __post_init__(self) -> None:
        require_int(
            self.principal_periods, "grace.principal_periods", minimum=0, maximum=MAX_INSTALLMENTS
        )
        require_int(
            self.interest_periods,
            "grace.interest_periods",
            minimum=0,
            maximum=self.principal_periods,
        )


@dataclass(frozen=True, slots=True)
class TermLoanProduct:
    product_id: UUID
    version: int
    status: ProductStatus
    name: str
    currency: Currency
    annual_rate: Decimal
    day_count: DayCount
    method: AmortizationMethod
    frequency: RepaymentFrequency
    min_amount_minor: int
    max_amount_minor: int
    min_installments: int
    max_installments: int
    late_fee: FeeRule | None
    late_fee_grace_days: int
    early_repayment_fee: FeeRule | None
    grace: GracePeriods = field(default_factory=GracePeriods)
    allocation_order: AllocationOrder = STANDARD_ORDER
    prepayment_strategy: PrepaymentStrategy = PrepaymentStrategy.REDUCE_TERM
    overpayment_policy: OverpaymentPolicy = OverpaymentPolicy.REFUSE

    def __post_init__(self) -> None:
        check_identity(self)
        require_rate(self.annual_rate, "annual_rate", maximum=MAX_ANNUAL_RATE)
        require_member(self.day_count, DayCount, "day_count")
        require_member(self.method, AmortizationMethod, "method")
        require_member(self.frequency, RepaymentFrequency, "frequency")
        require_minor(self.min_amount_minor, "min_amount_minor", allow_zero=False)
        require_minor(self.max_amount_minor, "max_amount_minor", allow_zero=False)
        if self.max_amount_minor < self.min_amount_minor:
            raise InvalidInput(
                "max_amount_minor must be at least min_amount_minor", field="max_amount_minor"
            )
        require_int(self.min_installments, "min_installments", minimum=1, maximum=MAX_INSTALLMENTS)
        require_int(
            self.max_installments,
            "max_installments",
            minimum=self.min_installments,
            maximum=MAX_INSTALLMENTS,
        )
        require_member(self.grace, GracePeriods, "grace")
        if self.grace.principal_periods >= self.min_installments:
            raise InvalidInput(
                "the grace periods must leave at least one installment that repays principal",
                field="grace.principal_periods",
            )
        for name, rule in (
            ("late_fee", self.late_fee),
            ("early_repayment_fee", self.early_repayment_fee),
        ):
            if rule is not None:
                require_member(rule, FeeRule, name)
        require_int(
            self.late_fee_grace_days,
            "late_fee_grace_days",
            minimum=0,
            maximum=MAX_LATE_FEE_GRACE_DAYS,
        )
        require_member(self.allocation_order, AllocationOrder, "allocation_order")
        require_member(self.prepayment_strategy, PrepaymentStrategy, "prepayment_strategy")
        require_member(self.overpayment_policy, OverpaymentPolicy, "overpayment_policy")

    def check_application(self, amount_minor: int, installments: int) -> None:
        """Refuse a loan this product version cannot open: it is not active, or the amount or
        the number of installments is out of its range."""
        if self.status is not ProductStatus.ACTIVE:
            raise RuleViolation(f"a {self.status} product version opens no loans", field="status")
        require_minor(amount_minor, "amount_minor", allow_zero=False)
        if not self.min_amount_minor <= amount_minor <= self.max_amount_minor:
            raise InvalidInput(
                f"the amount must be between {self.min_amount_minor} and "
                f"{self.max_amount_minor} minor units",
                field="amount_minor",
            )
        require_int(
            installments,
            "installments",
            minimum=self.min_installments,
            maximum=self.max_installments,
        )
