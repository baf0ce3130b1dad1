"""The legs of one loan entry, netted per account.

A loan's entries touch the borrower's deposit account, the loan's own account and several
general-ledger accounts, sometimes one account from two sides (a repayment that uses a kept
credit and keeps a new one). Netting gives each account one leg, by the difference, and
leaves out what nets to zero, so the entry is as a bookkeeper would write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from core_banking.domain.accounts import AccountKind, Side
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.errors import InvariantViolation
from core_banking.domain.ledger import Leg


@dataclass(slots=True)
class LoanEntry:
    """The legs of one loan entry, netted per account (a payment that also uses a kept
    credit touches the credit account once, by the difference)."""

    currency: str
    net: dict[UUID, int] = field(default_factory=dict)
    kinds: dict[UUID, AccountKind | None] = field(default_factory=dict)

    def debit(self, account_id: UUID, amount_minor: int, kind: AccountKind | None = None) -> None:
        """``kind``: the kind the account must be (a deposit account's debit also needs its
        funds)."""
        self._add(account_id, _whole(amount_minor), kind)

    def credit(self, account_id: UUID, amount_minor: int, kind: AccountKind | None = None) -> None:
        self._add(account_id, -_whole(amount_minor), kind)

    def debit_gl(self, code: GLCode, amount_minor: int) -> None:
        self.debit(gl_account_id(code, self.currency), amount_minor)

    def credit_gl(self, code: GLCode, amount_minor: int) -> None:
        self.credit(gl_account_id(code, self.currency), amount_minor)

    def _add(self, account_id: UUID, signed_minor: int, kind: AccountKind | None) -> None:
        self.net[account_id] = self.net.get(account_id, 0) + signed_minor
        self.kinds[account_id] = kind

    def debited(self, account_id: UUID) -> int:
        """What the entry takes from ``account_id``, net (0 when it takes nothing)."""
        return max(self.net.get(account_id, 0), 0)

    def legs(self) -> tuple[Leg, ...]:
        """Debits first, then credits; a debit of a deposit account needs its funds."""
        legs = [
            Leg(
                account_id=account_id,
                side=Side.DEBIT if net > 0 else Side.CREDIT,
                amount_minor=abs(net),
                currency=self.currency,
                enforce_funds=net > 0 and self.kinds[account_id] is AccountKind.DEPOSIT,
                required_kind=self.kinds[account_id],
            )
            for account_id, net in self.net.items()
            if net != 0
        ]
        return tuple(sorted(legs, key=lambda leg: leg.side is Side.CREDIT))


def _whole(amount_minor: int) -> int:
    """An amount to add to a side: zero or more minor units (a negative one would silently
    change sides)."""
    if amount_minor < 0:
        raise InvariantViolation("a loan entry's amounts are never negative", amount=amount_minor)
    return amount_minor
