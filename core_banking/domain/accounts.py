"""Ledger accounts: the bank's general ledger and its customers' deposit accounts.

Every account that can hold money is a ledger account with one currency and one of the five
accounting types. A customer's deposit is money the bank owes, so deposit accounts are
*liabilities*: a credit raises their balance, a debit lowers it. The bank's cash is an
*asset*: a debit raises it. Balances are kept in each account's normal direction, so a
customer with 100.00 sees 100.00, and the cash account holding it shows 100.00 too.

Deposit account numbers are twelve digits: ten random digits followed by two ISO 7064
MOD 97-10 check digits (the IBAN scheme), which catch every single-digit error and every
transposition of adjacent digits before a payment reaches the ledger.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from core_banking.domain.errors import InvalidTransition


class Side(StrEnum):
    DEBIT = "D"
    CREDIT = "C"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def normal_side(self) -> Side:
        """The side that increases the balance: debit for assets and expenses."""
        return Side.DEBIT if self in (AccountType.ASSET, AccountType.EXPENSE) else Side.CREDIT


class AccountKind(StrEnum):
    """``gl``: the bank's own accounts (a code, no customer). ``deposit``: a customer's
    deposit account (a number and a customer). ``loan``: one loan's principal, an asset
    whose balance is the principal outstanding (a customer, no number: it is reached
    through its loan, never by payments; docs/adr/0008-loan-ledger-accounts.md).
    ``term_deposit``: a customer's term deposit (a number and a customer, like a deposit
    account), a liability whose money moves only through its term deposit: opening, interest,
    maturity and early closure, never ordinary payments (docs/term-deposits.md)."""

    GENERAL_LEDGER = "gl"
    DEPOSIT = "deposit"
    LOAN = "loan"
    TERM_DEPOSIT = "term_deposit"


class AccountStatus(StrEnum):
    """Where an account is in its life.

    active   moves money both ways.
    dormant  no activity for a long time: accepts credits, refuses debits until reactivated.
    frozen   a legal or fraud hold: moves no money at all.
    closed   final: moves no money, never reopens.
    """

    ACTIVE = "active"
    DORMANT = "dormant"
    FROZEN = "frozen"
    CLOSED = "closed"


class ProductType(StrEnum):
    SAVINGS = "savings"
    CHECKING = "checking"


_ALLOWED_TRANSITIONS: dict[AccountStatus, frozenset[AccountStatus]] = {
    AccountStatus.ACTIVE: frozenset(
        {AccountStatus.FROZEN, AccountStatus.DORMANT, AccountStatus.CLOSED}
    ),
    AccountStatus.DORMANT: frozenset(
        {AccountStatus.ACTIVE, AccountStatus.FROZEN, AccountStatus.CLOSED}
    ),
    AccountStatus.FROZEN: frozenset({AccountStatus.ACTIVE}),
    AccountStatus.CLOSED: frozenset(),
}


def check_transition(current: AccountStatus, target: AccountStatus) -> None:
    """Refuse a status change the life cycle does not allow (a frozen account is unfrozen
    before it can be closed; a closed account stays closed)."""
    if target not in _ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(
            f"an account cannot go from {current} to {target}",
            current=str(current),
            target=str(target),
        )


@dataclass(frozen=True, slots=True)
class Account:
    """A ledger account as stored, balances included."""

    id: UUID
    kind: AccountKind
    account_type: AccountType
    currency: str
    status: AccountStatus
    name: str
    code: str | None
    number: str | None
    customer_id: UUID | None
    product: ProductType | None
    posted_minor: int
    held_minor: int
    overdraft_limit_minor: int
    min_balance_minor: int | None
    daily_limit_minor: int | None
    daily_debit_minor: int
    daily_debit_date: date | None
    line_seq: int
    last_posted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    product_id: UUID | None = None
    """The catalogue product the account was opened from (None: opened by product type)."""
    product_version: int | None = None
    """The version of that product it was opened under, and keeps."""

    @classmethod
    def opened(
        cls,
        *,
        id: UUID,
        kind: AccountKind,
        account_type: AccountType,
        currency: str,
        name: str,
        customer_id: UUID,
        number: str | None,
        now: datetime,
        product: ProductType | None = None,
        product_id: UUID | None = None,
        product_version: int | None = None,
        overdraft_limit_minor: int = 0,
        min_balance_minor: int | None = None,
        daily_limit_minor: int | None = None,
    ) -> Account:
        """A customer's account as it is opened: active, nothing posted, held or spent."""
        return cls(
            id=id,
            kind=kind,
            account_type=account_type,
            currency=currency,
            status=AccountStatus.ACTIVE,
            name=name,
            code=None,
            number=number,
            customer_id=customer_id,
            product=product,
            posted_minor=0,
            held_minor=0,
            overdraft_limit_minor=overdraft_limit_minor,
            min_balance_minor=min_balance_minor,
            daily_limit_minor=daily_limit_minor,
            daily_debit_minor=0,
            daily_debit_date=None,
            line_seq=0,
            last_posted_at=None,
            created_at=now,
            updated_at=now,
            product_id=product_id,
            product_version=product_version,
        )

    @property
    def available_minor(self) -> int:
        """What the customer can spend: posted - held + overdraft limit."""
        return self.posted_minor - self.held_minor + self.overdraft_limit_minor

    def daily_debits_on(self, business_date: date) -> int:
        """Debits already counted against the daily limit on ``business_date``."""
        return self.daily_debit_minor if self.daily_debit_date == business_date else 0


ACCOUNT_NUMBER_LENGTH = 12
_BASE_DIGITS = ACCOUNT_NUMBER_LENGTH - 2


def _mod97_check_digits(base: str) -> str:
    """ISO 7064 MOD 97-10 check digits for a string of decimal digits."""
    return f"{98 - (int(base) * 100) % 97:02d}"


def is_valid_account_number(number: str) -> bool:
    """True for twelve ASCII digits whose last two are the MOD 97-10 check digits."""
    return (
        len(number) == ACCOUNT_NUMBER_LENGTH
        and number.isascii()
        and number.isdigit()
        and number[-2:] == _mod97_check_digits(number[:-2])
    )


def new_account_number() -> str:
    """Ten random digits (never a leading zero) and their two check digits."""
    base = str(secrets.randbelow(9 * 10 ** (_BASE_DIGITS - 1)) + 10 ** (_BASE_DIGITS - 1))
    return base + _mod97_check_digits(base)
