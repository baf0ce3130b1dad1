"""Holds: money set aside on an account before it moves (card authorisations, pending
payments).

Placing a hold lowers the available balance, not the posted one. A hold then ends in exactly
one of three ways: it is *captured* (fully or partly: the captured amount is posted and the
rest is released), *released*, or it *expires* at its expiry time. An expired hold can no
longer be captured even before the sweeper has marked it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from core_banking.domain.accounts import Account, AccountStatus
from core_banking.domain.errors import (
    AccountNotOperational,
    CurrencyMismatch,
    HoldAmountExceeded,
    HoldNotActive,
    InvalidAmount,
)
from core_banking.domain.ledger import AccountLimits, check_daily_limit, check_funds
from core_banking.domain.money import MAX_AMOUNT_MINOR


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Hold:
    id: UUID
    account_id: UUID
    amount_minor: int
    currency: str
    status: HoldStatus
    expires_at: datetime | None
    reference: str | None
    captured_minor: int
    capture_entry_id: UUID | None
    created_at: datetime
    updated_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def check_capturable(self, amount_minor: int, now: datetime) -> None:
        """Refuse a capture of a hold that is not live, or of more than it holds."""
        self.check_live(now)
        if amount_minor <= 0:
            raise InvalidAmount("a capture is a positive amount", hold_id=str(self.id))
        if amount_minor > self.amount_minor:
            raise HoldAmountExceeded("cannot capture more than the hold", hold_id=str(self.id))

    def check_live(self, now: datetime) -> None:
        if self.status is not HoldStatus.ACTIVE:
            raise HoldNotActive(f"hold is {self.status}", hold_id=str(self.id))
        if self.is_expired(now):
            raise HoldNotActive("hold has expired", hold_id=str(self.id))

    def check_releasable(self) -> None:
        """An active hold can be released even after its expiry time has passed."""
        if self.status is not HoldStatus.ACTIVE:
            raise HoldNotActive(f"hold is {self.status}", hold_id=str(self.id))


@dataclass(frozen=True, slots=True)
class HoldPlacement:
    """The account's new held total and daily debit tally after placing a hold."""

    held_minor: int
    daily_debit_minor: int
    daily_debit_date: date


def place_hold(
    account: Account,
    amount_minor: int,
    currency_code: str,
    business_date: date,
    limits: Mapping[str, AccountLimits],
) -> HoldPlacement:
    """Reserve ``amount_minor`` on an active account that has it available.

    A hold is an authorisation: it is where the daily limit is counted, and it is refused
    on anything but an active account (a dormant account must be reactivated first).
    """
    if not 0 < amount_minor < MAX_AMOUNT_MINOR:
        raise InvalidAmount("a hold is a positive, bounded amount")
    if currency_code != account.currency:
        raise CurrencyMismatch(
            f"account holds {account.currency}, not {currency_code}", account_id=str(account.id)
        )
    if account.status is not AccountStatus.ACTIVE:
        raise AccountNotOperational(
            f"account is {account.status}", account_id=str(account.id), status=str(account.status)
        )
    held = account.held_minor + amount_minor
    check_funds(account, account.posted_minor, held, limits)
    daily = check_daily_limit(account, amount_minor, business_date, limits)
    return HoldPlacement(held_minor=held, daily_debit_minor=daily, daily_debit_date=business_date)
