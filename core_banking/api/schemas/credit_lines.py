"""Credit line, draw, payment and statement bodies."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from core_banking.api.schemas.common import (
    MoneyIn,
    MoneyOut,
    Reference,
    RequestModel,
    decimal_text,
)
from core_banking.api.schemas.products import Rate
from core_banking.domain.lending.credit_line_accounts import (
    CreditLine,
    CreditLineStatement,
    CreditLineStatus,
    MovementKind,
    StatementStatus,
)
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.fees import FeeKind
from core_banking.services.credit_lines import CreditLineMovement


class CreditLineOpen(RequestModel):
    customer_id: UUID
    product_id: UUID = Field(description="A credit-line product with an active version.")
    deposit_account_id: UUID = Field(
        description="The customer's active deposit account in the product's currency: draws "
        "are paid into it, payments taken from it."
    )
    limit: MoneyIn = Field(description="Up to the product's maximum limit.")


class CreditLineMoneyIn(RequestModel):
    amount: MoneyIn
    reference: Reference | None = None


class CreditLineStatusChange(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class CreditLineTermsOut(BaseModel):
    annual_rate: Rate
    day_count: DayCount
    statement_day: int
    grace_days: int
    minimum_payment_rate: str
    minimum_payment_floor: MoneyOut
    late_fee: MoneyOut | None = Field(description="A fixed late fee, if the product has one.")
    late_fee_rate: str | None = Field(description="A late fee as a share of the unpaid minimum.")


class CreditLineOut(BaseModel):
    credit_line_id: UUID
    customer_id: UUID
    deposit_account_id: UUID
    product_id: UUID
    product_version: int
    currency: str
    status: CreditLineStatus
    limit: MoneyOut
    balance: MoneyOut = Field(description="principal + interest + fees: everything owed")
    principal: MoneyOut = Field(description="Draws not yet repaid.")
    interest: MoneyOut = Field(description="Interest billed at statements, not yet paid.")
    fees: MoneyOut = Field(description="Late fees not yet paid.")
    available: MoneyOut = Field(description="limit - balance, never below zero")
    accrued_interest: str = Field(
        description="Interest accrued in the open period, major units, billed at the next "
        "statement."
    )
    interest_residue: str = Field(description="Interest below one minor unit, carried.")
    period_start: date = Field(description="The first day of the open statement period.")
    terms: CreditLineTermsOut
    opened_on: date
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, line: CreditLine) -> CreditLineOut:
        code, terms = line.currency, line.terms
        late_fee = terms.late_fee

        def money(minor: int) -> MoneyOut:
            return MoneyOut.of(minor, code)

        return cls(
            credit_line_id=line.id,
            customer_id=line.customer_id,
            deposit_account_id=line.deposit_account_id,
            product_id=line.product_id,
            product_version=line.product_version,
            currency=code,
            status=line.status,
            limit=money(line.limit_minor),
            balance=money(line.balance_minor),
            principal=money(line.principal_minor),
            interest=money(line.interest_minor),
            fees=money(line.fees_minor),
            available=money(line.available_minor),
            accrued_interest=decimal_text(line.accrued_interest),
            interest_residue=decimal_text(line.interest_residue),
            period_start=line.period_start,
            terms=CreditLineTermsOut(
                annual_rate=decimal_text(terms.annual_rate),
                day_count=terms.day_count,
                statement_day=terms.statement_day,
                grace_days=terms.grace_days,
                minimum_payment_rate=decimal_text(terms.minimum_payment.rate),
                minimum_payment_floor=money(terms.minimum_payment.floor_minor),
                late_fee=money(late_fee.amount_minor)
                if late_fee is not None and late_fee.kind is FeeKind.FIXED
                else None,
                late_fee_rate=decimal_text(late_fee.rate)
                if late_fee is not None and late_fee.kind is FeeKind.PERCENT
                else None,
            ),
            opened_on=line.opened_on,
            created_at=line.created_at,
            updated_at=line.updated_at,
        )


class CreditLineMovementOut(BaseModel):
    """A draw or a payment: its journal entry and where the money went."""

    entry_id: UUID
    kind: MovementKind
    business_date: date
    amount: MoneyOut
    principal: MoneyOut = Field(description="Drawn, or repaid of the principal.")
    interest: MoneyOut = Field(description="Billed interest paid.")
    fees: MoneyOut = Field(description="Fees paid.")
    credit_line: CreditLineOut

    @classmethod
    def of(cls, result: CreditLineMovement) -> CreditLineMovementOut:
        movement, code = result.movement, result.movement.currency
        return cls(
            entry_id=movement.entry_id,
            kind=movement.kind,
            business_date=movement.business_date,
            amount=MoneyOut.of(abs(movement.total_minor), code),
            principal=MoneyOut.of(abs(movement.principal_minor), code),
            interest=MoneyOut.of(abs(movement.interest_minor), code),
            fees=MoneyOut.of(abs(movement.fees_minor), code),
            credit_line=CreditLineOut.of(result.line),
        )


class StatementOut(BaseModel):
    """closing = opening + draws - payments + interest + fees, to the minor unit."""

    statement_date: date
    period_start: date
    opening_balance: MoneyOut
    draws: MoneyOut
    payments: MoneyOut
    interest: MoneyOut = Field(
        description="Billed: the accruals plus the carried residue, in whole minor units."
    )
    fees: MoneyOut
    closing_balance: MoneyOut
    minimum_payment: MoneyOut
    due_date: date
    paid: MoneyOut = Field(description="Payments since the statement date.")
    status: StatementStatus
    late_fee: MoneyOut = Field(description="Charged once, when the statement became overdue.")
    accrued_interest: str = Field(description="The period's daily accruals, major units.")
    residue: str = Field(description="Carried to the next statement, major units.")
    interest_entry_id: UUID | None
    late_fee_entry_id: UUID | None

    @classmethod
    def of(cls, statement: CreditLineStatement) -> StatementOut:
        code = statement.currency

        def money(minor: int) -> MoneyOut:
            return MoneyOut.of(minor, code)

        return cls(
            statement_date=statement.statement_date,
            period_start=statement.period_start,
            opening_balance=money(statement.opening_minor),
            draws=money(statement.draws_minor),
            payments=money(statement.payments_minor),
            interest=money(statement.interest_minor),
            fees=money(statement.fees_minor),
            closing_balance=money(statement.closing_minor),
            minimum_payment=money(statement.minimum_payment_minor),
            due_date=statement.due_date,
            paid=money(statement.paid_minor),
            status=statement.status,
            late_fee=money(statement.late_fee_minor),
            accrued_interest=decimal_text(statement.accrued_interest),
            residue=decimal_text(statement.residue),
            interest_entry_id=statement.interest_entry_id,
            late_fee_entry_id=statement.late_fee_entry_id,
        )
