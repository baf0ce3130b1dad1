"""Term deposits: money placed for a fixed term, paid out or rolled over at maturity.

A term deposit is opened from an active term-deposit product with one opening deposit (at
least the product's minimum opening balance) and keeps the product version it was opened
under. Its money sits on a ledger account of its own (kind ``term_deposit``), which ordinary
payments cannot reach: only its opening, its interest, its maturity and its early closure
move money there.

Dates. A deposit placed on business date S for a term T earns interest for every day from S
up to the day before its maturity date M = S + T (a 12-month deposit placed on 15 January
earns 365 or 366 days, and matures on 15 January next year). The close of business of
M - 1, the term's last day, settles it, so the money is where it belongs when M opens:

* **payout**: accrued interest posted, the whole balance moved to the payout account, the
  term deposit's account closed;
* **rollover**: accrued interest posted (it compounds into the next term), a new term
  begins on M with the balance as its principal.

Each term's maturity is counted from the first term's start (never from the previous
maturity), so a deposit placed on 31 January for one month matures on 28 February, then 31
March, as :func:`~core_banking.domain.lending.dates.add_months` keeps loan due dates.

Closing before maturity is an early withdrawal: accrued interest is posted, the product's
early-withdrawal penalty is charged on the balance withdrawn (never more than the balance),
and the rest goes to the payout account. Closing on or after maturity (a deposit whose payout
account could not take the money) charges nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from core_banking.domain.errors import InvalidTransition
from core_banking.domain.lending._checks import require_date, require_int
from core_banking.domain.lending.catalog import Product
from core_banking.domain.lending.dates import add_months
from core_banking.domain.lending.deposit_products import (
    DepositKind,
    DepositProduct,
    DepositTerm,
    MaturityAction,
    TermDepositTerms,
    TermUnit,
)
from core_banking.domain.lending.errors import WrongProductKind

MAX_TERMS = 1200
"""Terms a deposit may roll over into: a hundred years of monthly terms."""


class TermDepositStatus(StrEnum):
    """``active``: placed, earning interest until maturity (and awaiting its payout while
    its payout account cannot take the money). ``paid_out``: matured and paid out.
    ``closed_early``: withdrawn before maturity."""

    ACTIVE = "active"
    PAID_OUT = "paid_out"
    CLOSED_EARLY = "closed_early"


def term_deposit_terms(product: Product) -> TermDepositTerms:
    """The term-deposit terms of a product version; refuses any other kind of product."""
    if (
        not isinstance(product, DepositProduct)
        or product.kind is not DepositKind.TERM_DEPOSIT
        or product.term_deposit is None
    ):
        raise WrongProductKind(
            "only a term deposit product opens a term deposit",
            product_id=str(product.product_id),
        )
    return product.term_deposit


def maturity_of_term(term: DepositTerm, start_date: date, term_number: int) -> date:
    """The maturity date of term ``term_number`` (1 is the first) of a deposit first placed
    on ``start_date``: ``term_number`` terms after it, counted from the start."""
    require_date(start_date, "start_date")
    require_int(term_number, "term_number", minimum=1, maximum=MAX_TERMS)
    if term.unit is TermUnit.DAYS:
        return start_date + timedelta(days=term.length * term_number)
    return add_months(start_date, term.length * term_number)


@dataclass(frozen=True, slots=True)
class TermDeposit:
    """A term deposit as stored. ``account_id`` is its ledger account (and its id);
    ``principal_minor`` what the current term started with; ``term_number`` counts the
    terms, 1 for the first."""

    account_id: UUID
    customer_id: UUID
    product_id: UUID
    product_version: int
    currency: str
    principal_minor: int
    term: DepositTerm
    maturity_action: MaturityAction
    payout_account_id: UUID
    start_date: date
    term_start: date
    maturity_date: date
    term_number: int
    status: TermDepositStatus
    closed_on: date | None
    created_at: datetime
    updated_at: datetime

    def check_closable(self) -> None:
        if self.status is not TermDepositStatus.ACTIVE:
            raise InvalidTransition(
                f"a {self.status} term deposit is already closed",
                term_deposit_id=str(self.account_id),
            )

    def is_early(self, on: date) -> bool:
        """Whether closing on business date ``on`` is before maturity."""
        return on < self.maturity_date
