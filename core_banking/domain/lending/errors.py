"""Refusals that belong to lending, each a subclass of an existing domain error.

They extend the hierarchy in :mod:`core_banking.domain.errors` (and
:class:`~core_banking.domain.security.Forbidden`), so the HTTP edge maps them to a status by
their base class without knowing them, and clients match on their stable ``code``:

    RuleViolation
    ├── OverpaymentRefused       a payment above what is due, on a product that keeps no credit
    ├── CreditLimitExceeded      a draw beyond a credit line's limit
    ├── ProductNotActive         opening from a product with no active version
    ├── BelowMinimumOpening      an opening deposit below the product's minimum
    └── WrongProductKind         a product that cannot open what was asked (a loan product
                                 for a deposit account)
    Forbidden
    ├── SelfApprovalRefused      maker-checker: the approver created the application
    └── ApprovalLimitExceeded    the approver's roles may not approve this much
"""

from __future__ import annotations

from core_banking.domain.errors import RuleViolation
from core_banking.domain.security import Forbidden


class OverpaymentRefused(RuleViolation):
    code = "overpayment_refused"


class CreditLimitExceeded(RuleViolation):
    code = "credit_limit_exceeded"


class ProductNotActive(RuleViolation):
    code = "product_not_active"


class BelowMinimumOpening(RuleViolation):
    code = "below_minimum_opening_balance"


class WrongProductKind(RuleViolation):
    code = "wrong_product_kind"


class SelfApprovalRefused(Forbidden):
    code = "self_approval_refused"


class ApprovalLimitExceeded(Forbidden):
    code = "approval_above_role_limit"
