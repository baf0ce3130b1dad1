"""A loan's life cycle, and the maker-checker rule for approving it.

::

    pending --approve--> approved --disburse--> active <--cure / fall behind--> delinquent
       |                    |                     |  \\                       /  |
     reject               cancel                  |   +--> written_off <----+   |
       v                    v                     v              |              |
    rejected              closed <-- paid_off <---+--------------|--------------+
                            ^                                    |
                            +------------------------------------+

* ``pending``: applied for, waiting for a decision. ``rejected`` is final.
* ``approved``: a checker approved it; disbursing the money makes it ``active``. An approved
  loan that is never disbursed is ``closed``.
* ``active`` and ``delinquent`` move into each other as installments fall overdue and are
  caught up (:func:`~core_banking.domain.lending.delinquency.delinquency_status`).
* ``paid_off``: everything repaid. ``written_off``: the remaining principal moved to the loss
  account. Both end in ``closed``, which is final.

Maker-checker: the person who approves an application is never the one who created it, and
may approve only up to the amount limit of their roles.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Final

from core_banking.domain.errors import InvalidInput, InvalidTransition
from core_banking.domain.lending.errors import ApprovalLimitExceeded, SelfApprovalRefused
from core_banking.domain.money import Money


class LoanStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    DELINQUENT = "delinquent"
    PAID_OFF = "paid_off"
    WRITTEN_OFF = "written_off"
    CLOSED = "closed"


_ALLOWED: Final[dict[LoanStatus, frozenset[LoanStatus]]] = {
    LoanStatus.PENDING: frozenset({LoanStatus.APPROVED, LoanStatus.REJECTED}),
    LoanStatus.APPROVED: frozenset({LoanStatus.ACTIVE, LoanStatus.CLOSED}),
    LoanStatus.REJECTED: frozenset(),
    LoanStatus.ACTIVE: frozenset(
        {LoanStatus.DELINQUENT, LoanStatus.PAID_OFF, LoanStatus.WRITTEN_OFF}
    ),
    LoanStatus.DELINQUENT: frozenset(
        {LoanStatus.ACTIVE, LoanStatus.PAID_OFF, LoanStatus.WRITTEN_OFF}
    ),
    LoanStatus.PAID_OFF: frozenset({LoanStatus.CLOSED}),
    LoanStatus.WRITTEN_OFF: frozenset({LoanStatus.CLOSED}),
    LoanStatus.CLOSED: frozenset(),
}


def check_loan_transition(current: LoanStatus, target: LoanStatus) -> None:
    """Refuse a status change the life cycle does not allow."""
    if target not in _ALLOWED[current]:
        raise InvalidTransition(
            f"a loan cannot go from {current} to {target}",
            current=str(current),
            target=str(target),
        )


def check_approval(
    created_by: str, approver: str, amount: Money, approval_limit: Decimal | None
) -> None:
    """Refuse an approval that breaks maker-checker.

    ``approval_limit`` is the most the approver's roles may approve, in major units of any
    currency (as role amount limits are; None is no limit). It is converted to the loan's
    currency rounding down, so a limit never grows by conversion.
    """
    if not created_by or not approver:
        raise InvalidInput("both the creator and the approver must be named", field="approver")
    if approver == created_by:
        raise SelfApprovalRefused(
            "the approver of a loan cannot be the one who created it", approver=approver
        )
    if approval_limit is None:
        return
    limit = Money.from_decimal(approval_limit, amount.currency, rounding=ROUND_FLOOR)
    if amount.minor > limit.minor:
        raise ApprovalLimitExceeded(
            f"your roles may approve at most {limit.amount_string()} {amount.currency.code}",
            limit=limit.amount_string(),
        )
