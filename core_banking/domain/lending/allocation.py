"""Applying a repayment to what a loan has due, in the product's order.

What is due is listed per installment (fees, penalties, interest, principal still unpaid).
A payment goes to the oldest installment first and, within an installment, to the
components in the product's :class:`AllocationOrder` -- a permutation of the four, such as
the common fees, penalties, interest, principal. Only when an installment is fully paid does
the next one get anything.

Whatever is left once everything listed is paid is an overpayment. It is never swallowed:
depending on the product it is refused (:class:`~core_banking.domain.lending.errors.
OverpaymentRefused`, nothing is applied) or returned as a credit the caller must keep for the
customer. Either way ``sum(parts) + credit == payment``, to the minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core_banking.domain.errors import InvalidInput, InvariantViolation
from core_banking.domain.lending._checks import (
    require_date,
    require_int,
    require_member,
    require_minor,
)
from core_banking.domain.lending.dates import MAX_INSTALLMENTS
from core_banking.domain.lending.errors import OverpaymentRefused


class Component(StrEnum):
    FEES = "fees"
    PENALTIES = "penalties"
    INTEREST = "interest"
    PRINCIPAL = "principal"


@dataclass(frozen=True, slots=True)
class AllocationOrder:
    """The order components of one installment are paid in: each of the four exactly once."""

    components: tuple[Component, ...]

    def __post_init__(self) -> None:
        if (
            not isinstance(self.components, tuple)
            or len(self.components) != len(Component)
            or set(self.components) != set(Component)
        ):
            raise InvalidInput(
                "the allocation order names fees, penalties, interest and principal once each",
                field="allocation_order",
            )


STANDARD_ORDER = AllocationOrder(
    (Component.FEES, Component.PENALTIES, Component.INTEREST, Component.PRINCIPAL)
)
"""Charges first, then interest, then principal: what most lenders and regulators expect."""


class OverpaymentPolicy(StrEnum):
    REFUSE = "refuse"
    KEEP_AS_CREDIT = "keep_as_credit"


@dataclass(frozen=True, slots=True)
class AmountsDue:
    """What is still unpaid on one installment."""

    installment_number: int
    due_date: date
    fees_minor: int
    penalties_minor: int
    interest_minor: int
    principal_minor: int

    def __post_init__(self) -> None:
        require_int(
            self.installment_number, "installment_number", minimum=1, maximum=MAX_INSTALLMENTS
        )
        require_date(self.due_date, "due_date")
        for component in Component:
            require_minor(self.of(component), f"{component}_minor")

    def of(self, component: Component) -> int:
        """The unpaid amount of one component."""
        match component:
            case Component.FEES:
                return self.fees_minor
            case Component.PENALTIES:
                return self.penalties_minor
            case Component.INTEREST:
                return self.interest_minor
            case Component.PRINCIPAL:
                return self.principal_minor

    @property
    def total_minor(self) -> int:
        return sum(self.of(component) for component in Component)


@dataclass(frozen=True, slots=True)
class AllocatedPart:
    installment_number: int
    component: Component
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """Where a payment went: positive parts in the order applied, and any credit kept."""

    payment_minor: int
    parts: tuple[AllocatedPart, ...]
    credit_minor: int

    def total_of(self, component: Component) -> int:
        """How much of the payment went to one component, over all installments."""
        return sum(part.amount_minor for part in self.parts if part.component is component)


def allocate_payment(
    payment_minor: int,
    dues: Sequence[AmountsDue],
    order: AllocationOrder,
    overpayment: OverpaymentPolicy,
) -> Allocation:
    """Apply ``payment_minor`` to ``dues``, oldest installment first, in ``order``.

    Installments are taken by due date, then number, whatever order ``dues`` lists them in;
    one installment number may appear once only.
    """
    require_minor(payment_minor, "payment_minor", allow_zero=False)
    require_member(order, AllocationOrder, "allocation_order")
    require_member(overpayment, OverpaymentPolicy, "overpayment_policy")
    numbers = [due.installment_number for due in dues]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("an installment is listed twice", field="dues")
    owed = sum(due.total_minor for due in dues)
    if payment_minor > owed and overpayment is OverpaymentPolicy.REFUSE:
        raise OverpaymentRefused(
            "the payment is more than is due", payment_minor=payment_minor, due_minor=owed
        )
    remaining = payment_minor
    parts: list[AllocatedPart] = []
    for due in sorted(dues, key=lambda item: (item.due_date, item.installment_number)):
        for component in order.components:
            applied = min(remaining, due.of(component))
            if applied > 0:
                parts.append(AllocatedPart(due.installment_number, component, applied))
                remaining -= applied
    if sum(part.amount_minor for part in parts) + remaining != payment_minor:
        raise InvariantViolation("an allocation must account for the whole payment")
    return Allocation(payment_minor, tuple(parts), remaining)
