"""Account, balance, statement and hold bodies."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from core_banking.api.schemas.common import CurrencyCode, MoneyIn, MoneyOut, Reference, RequestModel
from core_banking.domain.accounts import Account, AccountStatus, ProductType, Side
from core_banking.domain.holds import Hold, HoldStatus
from core_banking.domain.ledger import AccountLine, Channel, EntryType


class AccountOpen(RequestModel):
    """Give ``product_type`` for an account of that type, or ``product_id`` to open it from
    a catalogue product's active version (which the account keeps), not both."""

    customer_id: UUID
    product_type: ProductType | None = Field(
        None, description="savings or checking; omit when giving product_id."
    )
    product_id: UUID | None = Field(
        None,
        description="A savings or checking product with an active version, in the account's "
        "currency; its kind decides the account's type.",
    )
    currency: CurrencyCode
    name: str = Field(min_length=1, max_length=200)
    overdraft_limit: MoneyIn | None = None
    min_balance: MoneyIn | None = Field(
        None, description="Omit for the bank's default (NEXUM_MIN_ACCOUNT_BALANCE)."
    )
    daily_limit: MoneyIn | None = Field(
        None, description="Omit for the bank's default (NEXUM_MAX_DAILY_TRANSACTION_LIMIT)."
    )
    opening_deposit: MoneyIn | None = Field(
        None,
        description="Posted into the account with its opening, in one transaction: a "
        "transfer from funding_account_id, or cash without one. In the account's currency; "
        "required, and at least the minimum, when the product has a minimum opening "
        "balance. Needs transactions:deposit (cash) or transactions:transfer, within the "
        "caller's amount limit, and an Idempotency-Key.",
    )
    funding_account_id: UUID | None = Field(
        None,
        description="The deposit account the opening deposit comes from (any customer's, "
        "in the same currency; its funds and limits are checked). Omit for cash.",
    )


class Balances(BaseModel):
    posted: MoneyOut
    held: MoneyOut
    available: MoneyOut = Field(description="posted - held + overdraft limit")


class AccountOut(BaseModel):
    account_id: UUID
    account_number: str
    customer_id: UUID
    product_type: ProductType
    product_id: UUID | None = Field(description="The catalogue product it was opened from.")
    product_version: int | None = Field(description="The version of it the account keeps.")
    currency: str
    name: str
    status: AccountStatus
    balances: Balances
    overdraft_limit: MoneyOut
    min_balance: MoneyOut | None
    daily_limit: MoneyOut | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        currency = account.currency

        def optional(minor: int | None) -> MoneyOut | None:
            return MoneyOut.of(minor, currency) if minor is not None else None

        return cls(
            account_id=account.id,
            account_number=account.number or "",
            customer_id=account.customer_id,
            product_type=account.product,
            product_id=account.product_id,
            product_version=account.product_version,
            currency=currency,
            name=account.name,
            status=account.status,
            balances=Balances(
                posted=MoneyOut.of(account.posted_minor, currency),
                held=MoneyOut.of(account.held_minor, currency),
                available=MoneyOut.of(account.available_minor, currency),
            ),
            overdraft_limit=MoneyOut.of(account.overdraft_limit_minor, currency),
            min_balance=optional(account.min_balance_minor),
            daily_limit=optional(account.daily_limit_minor),
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


class BalanceAsOf(BaseModel):
    account_id: UUID
    as_of: datetime
    posted: MoneyOut


class InterestOut(BaseModel):
    """Where an account's deposit interest stands (docs/interest.md)."""

    account_id: UUID
    product_id: UUID
    product_version: int
    accrued_unposted: str = Field(
        description="Interest accrued since the last posting, major units, as a decimal string"
    )
    residue: str = Field(
        description="Less than one minor unit carried from the last posting, as a decimal string"
    )
    credited: MoneyOut = Field(description="All interest posted to the account so far")
    last_accrual_date: date | None
    last_posting_date: date | None


class StatusChange(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class AccountClose(StatusChange):
    payout_account_id: UUID | None = Field(
        default=None,
        description="Another active deposit account of the same customer, in the same "
        "currency, that receives what the account holds once its interest is settled "
        "(needs transactions:transfer and an Idempotency-Key). Without one, an account "
        "holding anything is not closed.",
    )


class StatementLine(BaseModel):
    sequence: int = Field(description="The line's place in the account's history: 1, 2, 3 …")
    transaction_id: UUID
    type: EntryType
    posted_at: datetime
    business_date: date
    value_date: date
    direction: str = Field(description="credit (money in) or debit (money out)")
    amount: MoneyOut
    balance_after: MoneyOut
    reference: str | None
    channel: Channel | None

    @classmethod
    def of(cls, line: AccountLine) -> StatementLine:
        return cls(
            sequence=line.account_seq,
            transaction_id=line.entry_id,
            type=line.entry_type,
            posted_at=line.posted_at,
            business_date=line.business_date,
            value_date=line.value_date,
            direction="credit" if line.side is Side.CREDIT else "debit",
            amount=MoneyOut.of(line.amount_minor, line.currency),
            balance_after=MoneyOut.of(line.balance_after_minor, line.currency),
            reference=line.reference,
            channel=line.channel,
        )


class HoldPlace(RequestModel):
    amount: MoneyIn
    expires_at: datetime | None = Field(None, description="At most 90 days ahead.")
    reference: Reference | None = None


class HoldCapture(RequestModel):
    amount: MoneyIn | None = Field(None, description="Omit to capture the whole hold.")
    destination_account_id: UUID | None = Field(
        None, description="A deposit account of this bank; omit to settle through clearing."
    )
    reference: Reference | None = None


class HoldOut(BaseModel):
    hold_id: UUID
    account_id: UUID
    amount: MoneyOut
    status: HoldStatus
    expires_at: datetime | None
    reference: str | None
    captured: MoneyOut
    capture_transaction_id: UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, hold: Hold) -> HoldOut:
        return cls(
            hold_id=hold.id,
            account_id=hold.account_id,
            amount=MoneyOut.of(hold.amount_minor, hold.currency),
            status=hold.status,
            expires_at=hold.expires_at,
            reference=hold.reference,
            captured=MoneyOut.of(hold.captured_minor, hold.currency),
            capture_transaction_id=hold.capture_entry_id,
            created_at=hold.created_at,
            updated_at=hold.updated_at,
        )
