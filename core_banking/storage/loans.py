"""Reading and writing loans, their installments and prepayments; and the close of
business's set-based work on them (installments falling due, days past due, late fees)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    RowMapping,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.errors import NotFound
from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.loan_products import AmortizationMethod
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.lending.loans import Installment, InstallmentStatus, Loan
from core_banking.domain.lending.schedule import Prepayment
from core_banking.ports import LateFeeCandidate, LoanQuery
from core_banking.storage.schema import loan_installments, loan_prepayments, loans

_OPEN = (LoanStatus.ACTIVE.value, LoanStatus.DELINQUENT.value)
_UNSETTLED = (InstallmentStatus.SCHEDULED.value, InstallmentStatus.DUE.value)


def loan_from_row(row: RowMapping) -> Loan:
    return Loan(
        id=row["id"],
        customer_id=row["customer_id"],
        product_id=row["product_id"],
        product_version=row["product_version"],
        currency=row["currency"],
        principal_minor=row["principal_minor"],
        annual_rate=Decimal(row["annual_rate"]),
        installments=row["installments"],
        frequency=RepaymentFrequency(row["frequency"]),
        method=AmortizationMethod(row["method"]),
        status=LoanStatus(row["status"]),
        deposit_account_id=row["deposit_account_id"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        first_due_date=row["first_due_date"],
        account_id=row["account_id"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        rejection_reason=row["rejection_reason"],
        disbursed_on=row["disbursed_on"],
        maturity_date=row["maturity_date"],
        closed_on=row["closed_on"],
        disbursement_entry_id=row["disbursement_entry_id"],
        level_minor=row["level_minor"],
        credit_minor=row["credit_minor"],
        days_past_due=row["days_past_due"],
    )


def _changeable(loan: Loan) -> dict[str, Any]:
    """The columns a loan's life changes (the application itself never changes)."""
    return {
        "status": loan.status.value,
        "account_id": loan.account_id,
        "decided_by": loan.decided_by,
        "decided_at": loan.decided_at,
        "rejection_reason": loan.rejection_reason,
        "first_due_date": loan.first_due_date,
        "disbursed_on": loan.disbursed_on,
        "maturity_date": loan.maturity_date,
        "closed_on": loan.closed_on,
        "disbursement_entry_id": loan.disbursement_entry_id,
        "level_minor": loan.level_minor,
        "credit_minor": loan.credit_minor,
        "days_past_due": loan.days_past_due,
        "updated_at": loan.updated_at,
    }


def _installment_from_row(row: RowMapping) -> Installment:
    return Installment(
        number=row["number"],
        period_start=row["period_start"],
        due_date=row["due_date"],
        principal_minor=row["principal_minor"],
        interest_minor=row["interest_minor"],
        deferred_interest_minor=row["deferred_interest_minor"],
        outstanding_after_minor=row["outstanding_after_minor"],
        penalty_minor=row["penalty_minor"],
        principal_paid_minor=row["principal_paid_minor"],
        interest_paid_minor=row["interest_paid_minor"],
        penalty_paid_minor=row["penalty_paid_minor"],
        status=InstallmentStatus(row["status"]),
        late_fee_charged_on=row["late_fee_charged_on"],
        paid_on=row["paid_on"],
        interest_billed_on=row["interest_billed_on"],
    )


def _installment_row(loan_id: UUID, installment: Installment) -> dict[str, Any]:
    return {
        "loan_id": loan_id,
        "number": installment.number,
        "period_start": installment.period_start,
        "due_date": installment.due_date,
        "principal_minor": installment.principal_minor,
        "interest_minor": installment.interest_minor,
        "deferred_interest_minor": installment.deferred_interest_minor,
        "outstanding_after_minor": installment.outstanding_after_minor,
        "penalty_minor": installment.penalty_minor,
        "principal_paid_minor": installment.principal_paid_minor,
        "interest_paid_minor": installment.interest_paid_minor,
        "penalty_paid_minor": installment.penalty_paid_minor,
        "status": installment.status.value,
        "late_fee_charged_on": installment.late_fee_charged_on,
        "paid_on": installment.paid_on,
        "interest_billed_on": installment.interest_billed_on,
    }


class LoanRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, loan: Loan) -> None:
        await self._conn.execute(
            loans.insert().values(
                id=loan.id,
                customer_id=loan.customer_id,
                product_id=loan.product_id,
                product_version=loan.product_version,
                currency=loan.currency,
                principal_minor=loan.principal_minor,
                annual_rate=str(loan.annual_rate),
                installments=loan.installments,
                frequency=loan.frequency.value,
                method=loan.method.value,
                deposit_account_id=loan.deposit_account_id,
                created_by=loan.created_by,
                created_at=loan.created_at,
                **_changeable(loan),
            )
        )

    async def get(self, loan_id: UUID) -> Loan | None:
        row = (await self._conn.execute(select(loans).where(loans.c.id == loan_id))).first()
        return loan_from_row(row._mapping) if row else None

    async def lock(self, loan_id: UUID) -> Loan:
        """The loan, locked until the transaction ends: every change to a loan takes this
        lock first, then the accounts its entry posts to."""
        row = (
            await self._conn.execute(select(loans).where(loans.c.id == loan_id).with_for_update())
        ).first()
        if row is None:
            raise NotFound("no such loan", loan_id=str(loan_id))
        return loan_from_row(row._mapping)

    async def lock_all(self, loan_ids: Collection[UUID]) -> None:
        """Lock these loans until the transaction ends, in id order (the order every
        writer that locks several uses; a command locks one)."""
        await self._conn.execute(
            select(loans.c.id)
            .where(loans.c.id.in_(sorted(loan_ids)))
            .order_by(loans.c.id)
            .with_for_update()
        )

    async def save(self, loan: Loan) -> None:
        await self._conn.execute(
            update(loans).where(loans.c.id == loan.id).values(**_changeable(loan))
        )

    async def search(self, query: LoanQuery) -> list[Loan]:
        statement = select(loans).order_by(loans.c.id.desc()).limit(query.limit)
        if query.before is not None:
            statement = statement.where(loans.c.id < query.before)
        if query.customer_id is not None:
            statement = statement.where(loans.c.customer_id == query.customer_id)
        if query.status is not None:
            statement = statement.where(loans.c.status == query.status.value)
        if query.product_id is not None:
            statement = statement.where(loans.c.product_id == query.product_id)
        rows = await self._conn.execute(statement)
        return [loan_from_row(row._mapping) for row in rows]

    async def installments(self, loan_id: UUID) -> list[Installment]:
        rows = await self._conn.execute(
            select(loan_installments)
            .where(loan_installments.c.loan_id == loan_id)
            .order_by(loan_installments.c.number)
        )
        return [_installment_from_row(row._mapping) for row in rows]

    async def insert_installments(self, loan_id: UUID, installments: Sequence[Installment]) -> None:
        await self._conn.execute(
            loan_installments.insert(),
            [_installment_row(loan_id, installment) for installment in installments],
        )

    async def save_installments(self, loan_id: UUID, installments: Sequence[Installment]) -> None:
        """Write what has been paid of each of ``installments``, and their status."""
        if not installments:
            return
        await self._conn.execute(
            update(loan_installments)
            .where(
                loan_installments.c.loan_id == bindparam("b_loan_id"),
                loan_installments.c.number == bindparam("b_number"),
            )
            .values(
                principal_paid_minor=bindparam("b_principal_paid"),
                interest_paid_minor=bindparam("b_interest_paid"),
                penalty_paid_minor=bindparam("b_penalty_paid"),
                status=bindparam("b_status", type_=loan_installments.c.status.type),
                paid_on=bindparam("b_paid_on"),
            ),
            [
                {
                    "b_loan_id": loan_id,
                    "b_number": installment.number,
                    "b_principal_paid": installment.principal_paid_minor,
                    "b_interest_paid": installment.interest_paid_minor,
                    "b_penalty_paid": installment.penalty_paid_minor,
                    "b_status": installment.status.value,
                    "b_paid_on": installment.paid_on,
                }
                for installment in installments
            ],
        )

    async def reschedule(self, loan_id: UUID, installments: Sequence[Installment]) -> None:
        """Replace the installments from the first of ``installments`` on with them (a
        prepayment's new schedule; installments already due stay as they are)."""
        first = min(installment.number for installment in installments)
        await self._conn.execute(
            delete(loan_installments).where(
                loan_installments.c.loan_id == loan_id, loan_installments.c.number >= first
            )
        )
        await self.insert_installments(loan_id, installments)

    async def prepayments(self, loan_id: UUID) -> list[Prepayment]:
        rows = await self._conn.execute(
            select(loan_prepayments)
            .where(loan_prepayments.c.loan_id == loan_id)
            .order_by(loan_prepayments.c.seq)
        )
        return [
            Prepayment(
                paid_on=row.paid_on,
                principal_minor=row.principal_minor,
                interest_minor=row.interest_minor,
                deferred_interest_minor=row.deferred_interest_minor,
                outstanding_after_minor=row.outstanding_after_minor,
            )
            for row in rows
        ]

    async def insert_prepayment(
        self, loan_id: UUID, seq: int, prepayment: Prepayment, entry_id: UUID
    ) -> None:
        await self._conn.execute(
            loan_prepayments.insert().values(
                loan_id=loan_id,
                seq=seq,
                paid_on=prepayment.paid_on,
                principal_minor=prepayment.principal_minor,
                interest_minor=prepayment.interest_minor,
                deferred_interest_minor=prepayment.deferred_interest_minor,
                outstanding_after_minor=prepayment.outstanding_after_minor,
                entry_id=entry_id,
            )
        )

    # --- the close of business ------------------------------------------------------------

    async def loans_to_bill(self, business_date: date, limit: int) -> list[UUID]:
        """Up to ``limit`` open loans, in id order, with installments due by
        ``business_date`` whose interest is not billed yet."""
        rows = await self._conn.execute(
            select(loans.c.id)
            .where(
                loans.c.status.in_(_OPEN),
                select(loan_installments.c.number)
                .where(
                    loan_installments.c.loan_id == loans.c.id,
                    loan_installments.c.interest_billed_on.is_(None),
                    loan_installments.c.due_date <= business_date,
                )
                .exists(),
            )
            .order_by(loans.c.id)
            .limit(limit)
        )
        return [row.id for row in rows]

    async def bill_interest(
        self, loan_ids: Collection[UUID], business_date: date
    ) -> list[tuple[str, int]]:
        """Bill the interest of these loans' installments due by ``business_date``: the
        unpaid interest per currency, and the installments marked billed that day."""
        unbilled = and_(
            loan_installments.c.loan_id.in_(sorted(loan_ids)),
            loan_installments.c.interest_billed_on.is_(None),
            loan_installments.c.due_date <= business_date,
        )
        totals = await self._conn.execute(
            select(
                loans.c.currency,
                func.sum(
                    loan_installments.c.interest_minor - loan_installments.c.interest_paid_minor
                ).label("unpaid_minor"),
            )
            .join(loans, loans.c.id == loan_installments.c.loan_id)
            .where(unbilled)
            .group_by(loans.c.currency)
            .order_by(loans.c.currency)
        )
        billed = [(row.currency, int(row.unpaid_minor)) for row in totals]
        await self._conn.execute(
            update(loan_installments).where(unbilled).values(interest_billed_on=business_date)
        )
        return billed

    async def mark_due(self, business_date: date) -> int:
        """Installments of active and delinquent loans still unpaid on ``business_date``:
        ``due`` on their due date, ``overdue`` after it. The number changed."""
        open_loans = select(loans.c.id).where(loans.c.status.in_(_OPEN))
        result = await self._conn.execute(
            update(loan_installments)
            .where(
                loan_installments.c.status.in_(_UNSETTLED),
                loan_installments.c.due_date <= business_date,
                loan_installments.c.loan_id.in_(open_loans.scalar_subquery()),
            )
            .values(
                status=cast(
                    case(
                        (
                            loan_installments.c.due_date < business_date,
                            InstallmentStatus.OVERDUE.value,
                        ),
                        else_=InstallmentStatus.DUE.value,
                    ),
                    loan_installments.c.status.type,
                )
            )
        )
        return result.rowcount

    async def refresh_delinquency(self, business_date: date, now: datetime) -> int:
        """Days past due of every active and delinquent loan on ``business_date`` (from its
        oldest installment with anything unpaid, due before that date), and its status by
        them: delinquent from the first day late, active again once caught up. The number
        of loans whose days or status changed."""
        oldest_late = (
            select(func.min(loan_installments.c.due_date))
            .where(
                loan_installments.c.loan_id == loans.c.id,
                loan_installments.c.status != InstallmentStatus.PAID.value,
                loan_installments.c.due_date < business_date,
            )
            .scalar_subquery()
        )
        days = func.coalesce(_days_between(self._conn, oldest_late, business_date), 0)
        status = cast(
            case((days > 0, LoanStatus.DELINQUENT.value), else_=LoanStatus.ACTIVE.value),
            loans.c.status.type,
        )
        result = await self._conn.execute(
            update(loans)
            .where(
                loans.c.status.in_(_OPEN),
                or_(loans.c.days_past_due != days, loans.c.status != status),
            )
            .values(days_past_due=days, status=status, updated_at=now)
        )
        return result.rowcount

    async def late_fee_candidates(
        self, business_date: date, after: tuple[UUID, int] | None, limit: int
    ) -> list[LateFeeCandidate]:
        """Overdue installments of open loans with principal or interest unpaid and no late
        fee yet, in (loan, number) order after ``after``: those the product's grace days
        have passed are charged (the caller decides, with the product's rule)."""
        unpaid = (
            loan_installments.c.principal_minor
            - loan_installments.c.principal_paid_minor
            + loan_installments.c.interest_minor
            - loan_installments.c.interest_paid_minor
        )
        statement = (
            select(
                loans.c.id,
                loans.c.product_id,
                loans.c.product_version,
                loans.c.currency,
                loan_installments.c.number,
                loan_installments.c.due_date,
                unpaid.label("unpaid_minor"),
            )
            .join(loans, loans.c.id == loan_installments.c.loan_id)
            .where(
                loans.c.status.in_(_OPEN),
                loan_installments.c.status == InstallmentStatus.OVERDUE.value,
                loan_installments.c.late_fee_charged_on.is_(None),
                loan_installments.c.due_date < business_date,
                unpaid > 0,
            )
            .order_by(loans.c.id, loan_installments.c.number)
            .limit(limit)
        )
        if after is not None:
            loan_id, number = after
            statement = statement.where(
                or_(
                    loans.c.id > loan_id,
                    and_(loans.c.id == loan_id, loan_installments.c.number > number),
                )
            )
        rows = await self._conn.execute(statement)
        return [
            LateFeeCandidate(
                loan_id=row.id,
                product_id=row.product_id,
                product_version=row.product_version,
                currency=row.currency,
                installment_number=row.number,
                due_date=row.due_date,
                unpaid_minor=row.unpaid_minor,
            )
            for row in rows
        ]

    async def charge_late_fees(
        self, fees: Sequence[tuple[UUID, int, int]], business_date: date
    ) -> None:
        """Add each (loan, installment, fee) to its installment's penalty and mark it
        charged on ``business_date`` (once: the candidates leave it out after), in one
        statement for them all."""
        if not fees:
            return
        await self._conn.execute(
            update(loan_installments)
            .where(
                loan_installments.c.loan_id == bindparam("b_loan_id"),
                loan_installments.c.number == bindparam("b_number"),
                loan_installments.c.late_fee_charged_on.is_(None),
            )
            .values(
                penalty_minor=loan_installments.c.penalty_minor + bindparam("b_amount"),
                late_fee_charged_on=business_date,
            ),
            [
                {"b_loan_id": loan_id, "b_number": number, "b_amount": amount_minor}
                for loan_id, number, amount_minor in fees
            ],
        )


def _days_between(
    conn: AsyncConnection, earlier: ColumnElement[date], later: date
) -> ColumnElement[int]:
    """Whole days from ``earlier`` (a date expression) to ``later``."""
    if conn.dialect.name == "postgresql":
        return cast(cast(literal(later, Date), Date) - earlier, Integer)
    return cast(func.julianday(later.isoformat()) - func.julianday(earlier), Integer)
