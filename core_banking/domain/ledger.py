"""Journal entries and the rules that decide what a posting may do to an account.

A *posting request* is a journal entry not yet written: a header and two or more legs.
Each leg is a positive amount on one side (debit or credit) of one account, and the legs
balance per currency. A leg also carries the guards the ledger must check against the
account *as it is when locked*: whether the account must have the funds, whether the amount
counts toward its daily limit, which kind of account it must be, how much of a hold it
releases. The storage adapter evaluates those guards atomically with the balance update;
`post_to_account` below is the rule itself, written once in Python (the PostgreSQL adapter
runs the same rule inside the database, see docs/adr/0002-postings-in-one-round-trip.md).

Once written, an entry never changes. A mistake is corrected by a reversal: a new entry with
every leg on the opposite side, linked to the original, at most once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from core_banking.domain.accounts import Account, AccountKind, AccountStatus, Side
from core_banking.domain.errors import (
    AccountNotOperational,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvariantViolation,
    UnbalancedEntry,
    WrongAccountKind,
)
from core_banking.domain.metadata import validate_metadata
from core_banking.domain.money import MAX_AMOUNT_MINOR, currency

MAX_LEGS = 64
MAX_REFERENCE_LENGTH = 140


class EntryType(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"
    EXTERNAL_TRANSFER_IN = "external_transfer_in"
    EXTERNAL_TRANSFER_OUT = "external_transfer_out"
    FEE = "fee"
    HOLD_CAPTURE = "hold_capture"
    REVERSAL = "reversal"
    INTEREST_POSTING = "interest_posting"
    MAINTENANCE_FEE = "maintenance_fee"
    TRANSACTION_FEE = "transaction_fee"
    LOAN_DISBURSEMENT = "loan_disbursement"
    LOAN_REPAYMENT = "loan_repayment"
    LOAN_PREPAYMENT = "loan_prepayment"
    LOAN_PAYOFF = "loan_payoff"
    LOAN_LATE_FEES = "loan_late_fees"
    LOAN_INTEREST_DUE = "loan_interest_due"
    LOAN_WRITE_OFF = "loan_write_off"
    CREDIT_LINE_DRAW = "credit_line_draw"
    CREDIT_LINE_PAYMENT = "credit_line_payment"
    CREDIT_LINE_INTEREST = "credit_line_interest"
    CREDIT_LINE_LATE_FEES = "credit_line_late_fees"
    TERM_DEPOSIT_OPENING = "term_deposit_opening"
    TERM_DEPOSIT_PAYOUT = "term_deposit_payout"
    TERM_DEPOSIT_EARLY_CLOSURE = "term_deposit_early_closure"


FEE_BEARING_ENTRY_TYPES = frozenset(
    {
        EntryType.WITHDRAWAL,
        EntryType.TRANSFER,
        EntryType.EXTERNAL_TRANSFER_OUT,
        EntryType.HOLD_CAPTURE,
    }
)
"""Entries a customer makes that take money out of their account: each debit of one on a
deposit account costs the per-transaction fee of the account's product. Money coming in is
free, and so is everything the bank posts itself (fees, interest, reversals, loans)."""

LOAN_ENTRY_TYPES = frozenset(
    {
        EntryType.LOAN_DISBURSEMENT,
        EntryType.LOAN_REPAYMENT,
        EntryType.LOAN_PREPAYMENT,
        EntryType.LOAN_PAYOFF,
        EntryType.LOAN_LATE_FEES,
        EntryType.LOAN_INTEREST_DUE,
        EntryType.LOAN_WRITE_OFF,
    }
)
"""Entries a loan made: they move with the loan's own records (installments, state), so
they are corrected through the loan, never reversed on their own."""

CREDIT_LINE_ENTRY_TYPES = frozenset(
    {
        EntryType.CREDIT_LINE_DRAW,
        EntryType.CREDIT_LINE_PAYMENT,
        EntryType.CREDIT_LINE_INTEREST,
        EntryType.CREDIT_LINE_LATE_FEES,
    }
)
"""Entries a credit line made: each is matched by the line's subledger movements, so a
reversal on its own would leave the subledger behind the ledger; never reversed alone."""

TERM_DEPOSIT_ENTRY_TYPES = frozenset(
    {
        EntryType.TERM_DEPOSIT_OPENING,
        EntryType.TERM_DEPOSIT_PAYOUT,
        EntryType.TERM_DEPOSIT_EARLY_CLOSURE,
    }
)
"""Entries a term deposit's life made: its record (principal, status) moves with them, so
they are never reversed on their own."""


class Channel(StrEnum):
    """Where a command came from; kept on the entry for reporting and limits."""

    ONLINE = "online"
    MOBILE = "mobile"
    ATM = "atm"
    BRANCH = "branch"
    CARD = "card"
    WIRE = "wire"
    ACH = "ach"
    API = "api"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a posting on one account, with the guards checked against that account."""

    account_id: UUID
    side: Side
    amount_minor: int
    currency: str
    enforce_funds: bool = False
    counts_toward_daily_limit: bool = False
    required_kind: AccountKind | None = None
    release_held_minor: int = 0


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """The bank-wide defaults for one currency, used where an account has no override."""

    min_balance_minor: int
    daily_limit_minor: int


@dataclass(frozen=True, slots=True)
class PostingRequest:
    """A journal entry to be written, atomically and at most once."""

    entry_id: UUID
    entry_type: EntryType
    legs: tuple[Leg, ...]
    business_date: date
    value_date: date
    actor: str
    limits: Mapping[str, AccountLimits]
    channel: Channel | None = None
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    reversal_of: UUID | None = None

    def __post_init__(self) -> None:
        validate_legs(self.legs)
        object.__setattr__(self, "metadata", validate_metadata(self.metadata))
        check_reference(self.reference)
        missing = {
            leg.currency
            for leg in self.legs
            if (leg.enforce_funds or leg.counts_toward_daily_limit)
            and leg.currency not in self.limits
        }
        if missing:
            raise InvariantViolation("no account limits for currency", currencies=sorted(missing))


def check_reference(reference: str | None) -> None:
    """A reference is free text for people (not unique): at most 140 printable characters."""
    if reference is not None and (
        not isinstance(reference, str)
        or len(reference) > MAX_REFERENCE_LENGTH
        or not reference.isprintable()
    ):
        raise InvalidInput(
            f"a reference is at most {MAX_REFERENCE_LENGTH} printable characters",
            field="reference",
        )


def validate_legs(legs: Sequence[Leg]) -> None:
    """Two to MAX_LEGS legs of positive, bounded amounts, balanced in every currency; the
    legs on any one account agree on its currency and on the kind of account it must be."""
    if not 2 <= len(legs) <= MAX_LEGS:
        raise UnbalancedEntry(f"an entry has 2 to {MAX_LEGS} legs", legs=len(legs))
    net_by_currency: dict[str, int] = defaultdict(int)
    first_leg: dict[UUID, Leg] = {}
    for leg in legs:
        first = first_leg.setdefault(leg.account_id, leg)
        if leg.currency != first.currency:
            raise CurrencyMismatch(
                "legs on one account must share its currency", account_id=str(leg.account_id)
            )
        if leg.required_kind != first.required_kind:
            raise InvalidInput(
                "legs on one account must agree on its kind", account_id=str(leg.account_id)
            )
        currency(leg.currency)
        if type(leg.amount_minor) is not int or not 0 < leg.amount_minor < MAX_AMOUNT_MINOR:
            raise InvalidAmount("a leg amount is a positive whole number of minor units")
        if type(leg.release_held_minor) is not int or not (
            0 <= leg.release_held_minor < MAX_AMOUNT_MINOR
        ):
            raise InvalidAmount("a hold release is a non-negative number of minor units")
        net_by_currency[leg.currency] += (
            leg.amount_minor if leg.side is Side.DEBIT else -leg.amount_minor
        )
    unbalanced = {code: net for code, net in net_by_currency.items() if net != 0}
    if unbalanced:
        raise UnbalancedEntry("debits and credits differ", net_by_currency=unbalanced)


@dataclass(frozen=True, slots=True)
class AccountPosting:
    """What one entry does to one account: its new balances and each leg's balance after."""

    account_id: UUID
    posted_minor: int
    held_minor: int
    daily_debit_minor: int
    daily_debit_date: date | None
    first_seq: int
    balances_after: tuple[int, ...]


def signed_amount(account_side: Side, leg: Leg) -> int:
    """The leg's effect on a balance kept in the account's normal direction."""
    return leg.amount_minor if leg.side is account_side else -leg.amount_minor


def post_to_account(
    account: Account,
    legs: Sequence[Leg],
    business_date: date,
    limits: Mapping[str, AccountLimits],
) -> AccountPosting:
    """Apply every leg of one entry that touches ``account``, or refuse.

    The rules, in the order they are checked:
    1. every leg is in the account's currency;
    2. a leg that names a kind of account gets that kind;
    3. frozen and closed accounts move nothing, dormant ones only receive;
    4. if any leg asks for it and the balance falls, posted - held must stay at or above
       (minimum balance - overdraft limit), i.e. available never drops below the minimum.
       General-ledger accounts record; they do not authorise, so they have no such floor;
    5. debits that count toward the daily limit stay within it for the business day.
    """
    normal_side = account.account_type.normal_side
    for leg in legs:
        if leg.currency != account.currency:
            raise CurrencyMismatch(
                f"account holds {account.currency}, not {leg.currency}",
                account_id=str(account.id),
            )
        if leg.required_kind is not None and leg.required_kind is not account.kind:
            raise WrongAccountKind(
                f"account is not a {leg.required_kind} account", account_id=str(account.id)
            )
    signed = [signed_amount(normal_side, leg) for leg in legs]
    delta = sum(signed)
    _check_status(account, any(s < 0 for s in signed))

    held = account.held_minor - sum(leg.release_held_minor for leg in legs)
    if held < 0:
        raise InvariantViolation("a posting releases more than is held", account_id=account.id)
    posted = account.posted_minor + delta
    if (
        delta < 0
        and account.kind is not AccountKind.GENERAL_LEDGER
        and any(leg.enforce_funds for leg in legs)
    ):
        check_funds(account, posted, held, limits)

    daily_debit_minor, daily_debit_date = _count_daily(account, legs, business_date, limits)

    balances: list[int] = []
    running = account.posted_minor
    for amount in signed:
        running += amount
        balances.append(running)
    return AccountPosting(
        account_id=account.id,
        posted_minor=posted,
        held_minor=held,
        daily_debit_minor=daily_debit_minor,
        daily_debit_date=daily_debit_date,
        first_seq=account.line_seq + 1,
        balances_after=tuple(balances),
    )


def _check_status(account: Account, has_debit: bool) -> None:
    if account.status is AccountStatus.ACTIVE:
        return
    if account.status is AccountStatus.DORMANT and not has_debit:
        return
    raise AccountNotOperational(
        f"account is {account.status}", account_id=str(account.id), status=str(account.status)
    )


def check_funds(
    account: Account, posted_minor: int, held_minor: int, limits: Mapping[str, AccountLimits]
) -> None:
    """Refuse balances that would leave less available than the account's minimum.

    available = posted - held + overdraft limit, and it must stay at or above the minimum
    balance (the account's own, or the bank's default for the currency).
    """
    minimum = (
        account.min_balance_minor
        if account.min_balance_minor is not None
        else limits[account.currency].min_balance_minor
    )
    if posted_minor - held_minor + account.overdraft_limit_minor < minimum:
        raise InsufficientFunds("insufficient available funds", account_id=str(account.id))


def _count_daily(
    account: Account,
    legs: Sequence[Leg],
    business_date: date,
    limits: Mapping[str, AccountLimits],
) -> tuple[int, date | None]:
    counted = sum(leg.amount_minor for leg in legs if leg.counts_toward_daily_limit)
    if counted == 0:
        return account.daily_debit_minor, account.daily_debit_date
    return check_daily_limit(account, counted, business_date, limits), business_date


def check_daily_limit(
    account: Account, amount_minor: int, business_date: date, limits: Mapping[str, AccountLimits]
) -> int:
    """The account's new daily debit total, or DailyLimitExceeded."""
    limit = (
        account.daily_limit_minor
        if account.daily_limit_minor is not None
        else limits[account.currency].daily_limit_minor
    )
    total = account.daily_debits_on(business_date) + amount_minor
    if total > limit:
        raise DailyLimitExceeded(
            "the daily transaction limit would be exceeded",
            account_id=str(account.id),
            limit_minor=limit,
        )
    return total


@dataclass(frozen=True, slots=True)
class JournalLine:
    line_no: int
    account_id: UUID
    side: Side
    amount_minor: int
    currency: str
    account_seq: int
    balance_after_minor: int


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A posted entry, exactly as the ledger holds it."""

    id: UUID
    entry_type: EntryType
    business_date: date
    value_date: date
    posted_at: datetime
    actor: str
    channel: Channel | None
    reference: str | None
    metadata: Mapping[str, Any]
    request_id: str | None
    reversal_of: UUID | None
    lines: tuple[JournalLine, ...]


@dataclass(frozen=True, slots=True)
class AccountLine:
    """One line of an account's history, with its entry's header: a statement row."""

    account_seq: int
    entry_id: UUID
    entry_type: EntryType
    posted_at: datetime
    business_date: date
    value_date: date
    side: Side
    amount_minor: int
    currency: str
    balance_after_minor: int
    reference: str | None
    channel: Channel | None


@dataclass(frozen=True, slots=True)
class PostingResult:
    """The entry a command produced; ``replayed`` when an idempotent retry found it."""

    entry: JournalEntry
    replayed: bool


def reversal_legs(entry: JournalEntry) -> tuple[Leg, ...]:
    """The contra legs that undo ``entry``: every line on the opposite side.

    Debits taken back from a customer account must still be covered by its funds; a
    reversal never pushes an account past its limits.
    """
    return tuple(
        Leg(
            account_id=line.account_id,
            side=line.side.opposite,
            amount_minor=line.amount_minor,
            currency=line.currency,
            enforce_funds=True,
        )
        for line in entry.lines
    )
