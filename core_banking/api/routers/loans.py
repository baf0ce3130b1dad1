"""/loans: originate, approve or reject (maker-checker), disburse, the schedule, repay,
prepay, a payoff quote for any date, pay off, write off, read and list.

Every POST that moves money (disburse, repay, prepay, pay off, write off) needs an
Idempotency-Key; the others take one optionally. Repayments, prepayments and payoffs are
within the caller's role amount limit; approvals within the caller's loan approval limit
(domain/security.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel

from core_banking.api.idempotency import IdempotencyKey, OptionalIdempotencyKey, idempotent
from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.common import Page, decode_cursor, encode_cursor
from core_banking.api.schemas.loans import (
    LoanCreate,
    LoanOperationOut,
    LoanOut,
    LoanPayment,
    LoanReason,
    PayoffOut,
    ScheduleOut,
)
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.domain.commands import RequestContext
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.money import Money
from core_banking.domain.security import Permission, Principal, loan_approval_limit
from core_banking.ports import LoanQuery
from core_banking.services.loans import (
    MAX_PAGE,
    DisburseLoan,
    LoanOperation,
    OriginateLoan,
    PayOffLoan,
    PrepayLoan,
    RepayLoan,
    WriteOffLoan,
)

router = APIRouter(prefix="/loans", tags=["loans"])

MONEY_STATUSES = common_statuses(404, 409)


@router.post(
    "",
    operation_id="loans_originate",
    summary="Apply for a loan under a term loan product's active version: pending",
    status_code=status.HTTP_201_CREATED,
    response_model=LoanOut,
    responses=responses(*common_statuses(404, 409)),
)
async def originate(
    body: LoanCreate,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_WRITE))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    async def produce() -> tuple[int, LoanOut]:
        loan = await bank.loans.originate(
            OriginateLoan(
                customer_id=body.customer_id,
                product_id=body.product_id,
                deposit_account_id=body.deposit_account_id,
                amount=body.amount.to_money(),
                installments=body.installments,
                first_due_date=body.first_due_date,
                idempotency_key=idempotency_key,
            ),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, LoanOut.of(loan)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.get(
    "",
    operation_id="loans_list",
    summary="Loans by customer, status and product, newest first",
    responses=responses(*common_statuses()),
)
async def list_loans(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.LOANS_READ))],
    customer_id: UUID | None = None,
    loan_status: Annotated[LoanStatus | None, Query(alias="status")] = None,
    product_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> Page[LoanOut]:
    loans = await bank.loans.list(
        LoanQuery(
            limit=limit,
            before=decode_cursor(cursor, UUID),
            customer_id=customer_id,
            status=loan_status,
            product_id=product_id,
        )
    )
    return Page(
        items=[LoanOut.of(loan) for loan in loans],
        next_cursor=encode_cursor(str(loans[-1].id)) if len(loans) == limit else None,
    )


@router.get(
    "/{loan_id}",
    operation_id="loans_get",
    summary="A loan",
    responses=responses(*common_statuses(404)),
)
async def get_loan(
    loan_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.LOANS_READ))],
) -> LoanOut:
    return LoanOut.of(await bank.loans.get(loan_id))


@router.post(
    "/{loan_id}/approve",
    operation_id="loans_approve",
    summary="Approve a pending loan: not its creator, and within your loan approval limit",
    response_model=LoanOut,
    responses=responses(*common_statuses(404, 409)),
)
async def approve(
    loan_id: UUID,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_APPROVE))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    async def produce() -> tuple[int, LoanOut]:
        loan = await bank.loans.approve(
            loan_id, context_of(request, principal), loan_approval_limit(principal.roles)
        )
        return status.HTTP_200_OK, LoanOut.of(loan)

    return await idempotent(request, principal, idempotency_key, None, produce)


@router.post(
    "/{loan_id}/reject",
    operation_id="loans_reject",
    summary="Reject a pending loan, for a reason",
    response_model=LoanOut,
    responses=responses(*common_statuses(404, 409)),
)
async def reject(
    loan_id: UUID,
    body: LoanReason,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_APPROVE))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    async def produce() -> tuple[int, LoanOut]:
        loan = await bank.loans.reject(loan_id, body.reason, context_of(request, principal))
        return status.HTTP_200_OK, LoanOut.of(loan)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.post(
    "/{loan_id}/close",
    operation_id="loans_close",
    summary="Close a loan: approved and never disbursed, paid off, or written off",
    response_model=LoanOut,
    responses=responses(*common_statuses(404, 409)),
)
async def close(
    loan_id: UUID,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_WRITE))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    async def produce() -> tuple[int, LoanOut]:
        loan = await bank.loans.close(loan_id, context_of(request, principal))
        return status.HTTP_200_OK, LoanOut.of(loan)

    return await idempotent(request, principal, idempotency_key, None, produce)


@router.post(
    "/{loan_id}/disburse",
    operation_id="loans_disburse",
    summary="Pay an approved loan into its deposit account and fix its schedule",
    status_code=status.HTTP_201_CREATED,
    response_model=LoanOperationOut,
    responses=responses(*MONEY_STATUSES),
)
async def disburse(
    loan_id: UUID,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_WRITE))],
    idempotency_key: IdempotencyKey,
) -> Response:
    return await _operate(
        request,
        principal,
        idempotency_key,
        None,
        lambda context: bank.loans.disburse(DisburseLoan(loan_id, idempotency_key), context),
    )


@router.get(
    "/{loan_id}/schedule",
    operation_id="loans_schedule",
    summary="The loan's installments: what each asks for and what has been paid",
    responses=responses(*common_statuses(404)),
)
async def schedule(
    loan_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.LOANS_READ))],
) -> ScheduleOut:
    return ScheduleOut.of(await bank.loans.schedule(loan_id))


@router.post(
    "/{loan_id}/repay",
    operation_id="loans_repay",
    summary="Repay from the deposit account: what is due, then the next installment",
    status_code=status.HTTP_201_CREATED,
    response_model=LoanOperationOut,
    responses=responses(*MONEY_STATUSES),
)
async def repay(
    loan_id: UUID,
    body: LoanPayment,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_REPAY))],
    idempotency_key: IdempotencyKey,
) -> Response:
    amount = body.amount.to_money()
    principal.require_amount(amount)

    return await _operate(
        request,
        principal,
        idempotency_key,
        body,
        lambda context: bank.loans.repay(RepayLoan(loan_id, amount, idempotency_key), context),
    )


@router.post(
    "/{loan_id}/prepay",
    operation_id="loans_prepay",
    summary="Repay principal ahead of schedule; the term or the installment shrinks",
    status_code=status.HTTP_201_CREATED,
    response_model=LoanOperationOut,
    responses=responses(*MONEY_STATUSES),
)
async def prepay(
    loan_id: UUID,
    body: LoanPayment,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_REPAY))],
    idempotency_key: IdempotencyKey,
) -> Response:
    amount = body.amount.to_money()
    principal.require_amount(amount)

    return await _operate(
        request,
        principal,
        idempotency_key,
        body,
        lambda context: bank.loans.prepay(PrepayLoan(loan_id, amount, idempotency_key), context),
    )


@router.get(
    "/{loan_id}/payoff",
    operation_id="loans_payoff_quote",
    summary="What repays the loan in full on a date (today by default)",
    responses=responses(*common_statuses(404, 409)),
)
async def payoff_quote(
    loan_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.LOANS_READ))],
    on: Annotated[date | None, Query(alias="date")] = None,
) -> PayoffOut:
    loan = await bank.loans.get(loan_id)
    quote = await bank.loans.payoff_quote(loan_id, on)
    return PayoffOut.of(loan.id, loan.currency, quote)


@router.post(
    "/{loan_id}/payoff",
    operation_id="loans_pay_off",
    summary="Repay the loan in full today, as today's payoff quote says",
    status_code=status.HTTP_201_CREATED,
    response_model=LoanOperationOut,
    responses=responses(*MONEY_STATUSES),
)
async def pay_off(
    loan_id: UUID,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_REPAY))],
    idempotency_key: IdempotencyKey,
) -> Response:
    async def produce() -> tuple[int, LoanOperationOut]:
        loan = await bank.loans.get(loan_id)
        quote = await bank.loans.payoff_quote(loan_id)
        if quote.total_minor > 0:
            principal.require_amount(Money.of(quote.total_minor, loan.currency))
        operation = await bank.loans.pay_off(
            PayOffLoan(loan_id, idempotency_key), context_of(request, principal)
        )
        return status.HTTP_201_CREATED, LoanOperationOut.of(operation)

    return await idempotent(request, principal, idempotency_key, None, produce)


@router.post(
    "/{loan_id}/write-off",
    operation_id="loans_write_off",
    summary="Write the loan off: what it still owes goes to the loan loss account",
    status_code=status.HTTP_201_CREATED,
    response_model=LoanOperationOut,
    responses=responses(*MONEY_STATUSES),
)
async def write_off(
    loan_id: UUID,
    body: LoanReason,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.LOANS_WRITE_OFF))],
    idempotency_key: IdempotencyKey,
) -> Response:
    return await _operate(
        request,
        principal,
        idempotency_key,
        body,
        lambda context: bank.loans.write_off(
            WriteOffLoan(loan_id, body.reason, idempotency_key), context
        ),
    )


async def _operate(
    request: Request,
    principal: Principal,
    idempotency_key: str,
    body: BaseModel | None,
    operation: Callable[[RequestContext], Awaitable[LoanOperation]],
) -> Response:
    """Run a money-moving loan command at most once per Idempotency-Key; 201 with the loan
    after it and the entry it posted."""

    async def produce() -> tuple[int, LoanOperationOut]:
        done = await operation(context_of(request, principal))
        return status.HTTP_201_CREATED, LoanOperationOut.of(done)

    return await idempotent(request, principal, idempotency_key, body, produce)
