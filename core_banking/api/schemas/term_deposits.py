"""Term deposit bodies."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, Field

from core_banking.api.schemas.common import MoneyIn, MoneyOut, RequestModel
from core_banking.domain.accounts import AccountStatus
from core_banking.domain.lending.deposit_products import MaturityAction, TermUnit
from core_banking.domain.lending.term_deposits import TermDepositStatus
from core_banking.services.term_deposits import HeldTermDeposit


class TermDepositOpen(RequestModel):
    customer_id: UUID
    product_id: UUID = Field(description="A term-deposit product with an active version.")
    amount: MoneyIn = Field(
        description="Placed for the term: at least the product's minimum opening balance."
    )
    funding_account_id: UUID = Field(
        description="The customer's active deposit account in the product's currency the "
        "amount comes from (it needs the funds; a placement does not use up its daily limit)."
    )
    payout_account_id: UUID | None = Field(
        default=None,
        description="The customer's deposit account the money goes to at maturity or early "
        "closure; the funding account when not given.",
    )
    maturity_action: MaturityAction | None = Field(
        default=None, description="payout or rollover; the product's when not given."
    )
    name: str | None = Field(default=None, min_length=1, max_length=100)


class TermDepositClose(RequestModel):
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class TermOut(BaseModel):
    length: int
    unit: TermUnit


class TermDepositOut(BaseModel):
    term_deposit_id: UUID = Field(description="Also the id of the account that holds it.")
    account_number: str
    account_status: AccountStatus
    customer_id: UUID
    product_id: UUID
    product_version: int
    status: TermDepositStatus
    principal: MoneyOut = Field(description="What the current term started with.")
    balance: MoneyOut = Field(description="Principal and the interest posted to it so far.")
    term: TermOut
    maturity_action: MaturityAction
    payout_account_id: UUID
    start_date: date = Field(description="The business date the first term began.")
    term_start: date
    maturity_date: date = Field(
        description="The current term ends the day before: its close of business settles it."
    )
    term_number: int = Field(description="1 for the first term; rollovers count up.")
    closed_on: date | None

    @classmethod
    def of(cls, held: HeldTermDeposit) -> TermDepositOut:
        deposit, account = held.deposit, held.account
        code = deposit.currency
        return cls(
            term_deposit_id=deposit.account_id,
            account_number=account.number or "",
            account_status=account.status,
            customer_id=deposit.customer_id,
            product_id=deposit.product_id,
            product_version=deposit.product_version,
            status=deposit.status,
            principal=MoneyOut.of(deposit.principal_minor, code),
            balance=MoneyOut.of(account.posted_minor, code),
            term=TermOut(length=deposit.term.length, unit=deposit.term.unit),
            maturity_action=deposit.maturity_action,
            payout_account_id=deposit.payout_account_id,
            start_date=deposit.start_date,
            term_start=deposit.term_start,
            maturity_date=deposit.maturity_date,
            term_number=deposit.term_number,
            closed_on=deposit.closed_on,
        )
