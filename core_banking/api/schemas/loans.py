"""Loans as the API speaks them: applications in, loans, schedules, payoff quotes and the
entries loan operations post out. Money is ``{"amount": "100.00", "currency": "USD"}``."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from core_banking.api.schemas.common import MoneyIn, MoneyOut, RequestModel, decimal_text
from core_banking.api.schemas.products import Rate
from core_banking.api.schemas.transactions import TransactionOut
from core_banking.domain.lending.dates import MAX_INSTALLMENTS, RepaymentFrequency
from core_banking.domain.lending.loan_products import AmortizationMethod
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.lending.loans import Installment, InstallmentStatus, Loan, LoanPayoff
from core_banking.services.loans import MAX_REASON_LENGTH, LoanOperation, LoanSchedule


class LoanCreate(RequestModel):
    """An application under the product's active version, paid into the customer's
    deposit account (in the product's currency) once approved and disbursed."""

    customer_id: UUID
    product_id: UUID
    deposit_account_id: UUID
    amount: MoneyIn
    installments: int = Field(ge=1, le=MAX_INSTALLMENTS)
    first_due_date: date | None = Field(
        None, description="Default: one regular period after the disbursement."
    )


class LoanReason(RequestModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH)


class LoanPayment(RequestModel):
    amount: MoneyIn


class LoanOut(BaseModel):
    loan_id: UUID
    customer_id: UUID
    product_id: UUID
    product_version: int
    principal: MoneyOut
    annual_rate: Rate
    installments: int
    frequency: RepaymentFrequency
    method: AmortizationMethod
    status: LoanStatus
    deposit_account_id: UUID
    ledger_account_id: UUID | None = Field(
        description="The loan's own ledger account: its balance is the principal outstanding."
    )
    created_by: str
    decided_by: str | None
    decided_at: datetime | None
    rejection_reason: str | None
    first_due_date: date | None
    disbursed_on: date | None
    maturity_date: date | None
    closed_on: date | None
    credit: MoneyOut = Field(description="Overpayments kept for the next payment.")
    days_past_due: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, loan: Loan) -> LoanOut:
        return cls(
            loan_id=loan.id,
            customer_id=loan.customer_id,
            product_id=loan.product_id,
            product_version=loan.product_version,
            principal=MoneyOut.of(loan.principal_minor, loan.currency),
            annual_rate=decimal_text(loan.annual_rate),
            installments=loan.installments,
            frequency=loan.frequency,
            method=loan.method,
            status=loan.status,
            deposit_account_id=loan.deposit_account_id,
            ledger_account_id=loan.account_id,
            created_by=loan.created_by,
            decided_by=loan.decided_by,
            decided_at=loan.decided_at,
            rejection_reason=loan.rejection_reason,
            first_due_date=loan.first_due_date,
            disbursed_on=loan.disbursed_on,
            maturity_date=loan.maturity_date,
            closed_on=loan.closed_on,
            credit=MoneyOut.of(loan.credit_minor, loan.currency),
            days_past_due=loan.days_past_due,
            created_at=loan.created_at,
            updated_at=loan.updated_at,
        )


class InstallmentOut(BaseModel):
    number: int
    period_start: date
    due_date: date
    principal: MoneyOut
    interest: MoneyOut = Field(description="Due with it, deferred grace interest included.")
    deferred_interest: MoneyOut = Field(description="This period's interest due later.")
    penalty: MoneyOut = Field(description="Late fees charged on it.")
    principal_paid: MoneyOut
    interest_paid: MoneyOut
    penalty_paid: MoneyOut
    outstanding_after: MoneyOut
    status: InstallmentStatus
    paid_on: date | None

    @classmethod
    def of(cls, installment: Installment, currency: str) -> InstallmentOut:
        def out(minor: int) -> MoneyOut:
            return MoneyOut.of(minor, currency)

        return cls(
            number=installment.number,
            period_start=installment.period_start,
            due_date=installment.due_date,
            principal=out(installment.principal_minor),
            interest=out(installment.interest_minor),
            deferred_interest=out(installment.deferred_interest_minor),
            penalty=out(installment.penalty_minor),
            principal_paid=out(installment.principal_paid_minor),
            interest_paid=out(installment.interest_paid_minor),
            penalty_paid=out(installment.penalty_paid_minor),
            outstanding_after=out(installment.outstanding_after_minor),
            status=installment.status,
            paid_on=installment.paid_on,
        )


class ScheduleOut(BaseModel):
    loan_id: UUID
    status: LoanStatus
    installments: list[InstallmentOut]

    @classmethod
    def of(cls, schedule: LoanSchedule) -> ScheduleOut:
        loan = schedule.loan
        return cls(
            loan_id=loan.id,
            status=loan.status,
            installments=[InstallmentOut.of(i, loan.currency) for i in schedule.installments],
        )


class PayoffOut(BaseModel):
    loan_id: UUID
    as_of: date
    principal: MoneyOut
    interest: MoneyOut
    penalties: MoneyOut
    early_repayment_fee: MoneyOut
    credit: MoneyOut = Field(description="Already paid beyond this: kept credit, interest ahead.")
    total: MoneyOut = Field(description="What repays the loan in full on the date.")

    @classmethod
    def of(cls, loan_id: UUID, currency: str, quote: LoanPayoff) -> PayoffOut:
        return cls(
            loan_id=loan_id,
            as_of=quote.as_of,
            principal=MoneyOut.of(quote.principal_minor, currency),
            interest=MoneyOut.of(quote.interest_minor, currency),
            penalties=MoneyOut.of(quote.penalties_minor, currency),
            early_repayment_fee=MoneyOut.of(quote.early_repayment_fee_minor, currency),
            credit=MoneyOut.of(quote.credit_minor, currency),
            total=MoneyOut.of(quote.total_minor, currency),
        )


class LoanOperationOut(BaseModel):
    loan: LoanOut
    transaction: TransactionOut

    @classmethod
    def of(cls, operation: LoanOperation) -> LoanOperationOut:
        return cls(loan=LoanOut.of(operation.loan), transaction=TransactionOut.of(operation.entry))
