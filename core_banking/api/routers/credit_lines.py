"""/credit-lines: open a revolving credit line from a product, draw on it, pay it, read it
and its statements, freeze and close it (docs/credit-lines.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from core_banking.api.idempotency import IdempotencyKey, OptionalIdempotencyKey, idempotent
from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.common import CURRENCY_PATTERN, Page, decode_cursor, encode_cursor
from core_banking.api.schemas.credit_lines import (
    CreditLineMoneyIn,
    CreditLineMovementOut,
    CreditLineOpen,
    CreditLineOut,
    CreditLineStatusChange,
    StatementOut,
)
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.domain.commands import RequestContext
from core_banking.domain.lending.credit_line_accounts import CreditLineStatus
from core_banking.domain.money import Money
from core_banking.domain.security import Permission, Principal
from core_banking.ports import CreditLineQuery
from core_banking.services.credit_lines import (
    MAX_PAGE,
    MAX_STATEMENTS_PAGE,
    CreditLineMovement,
    DrawOnCreditLine,
    OpenCreditLine,
    PayCreditLine,
)

router = APIRouter(prefix="/credit-lines", tags=["credit lines"])

MONEY_STATUSES = common_statuses(404, 409)
Reader = Annotated[Principal, Depends(Requires(Permission.CREDIT_LINES_READ))]
Writer = Annotated[Principal, Depends(Requires(Permission.CREDIT_LINES_WRITE))]


def _after(value: Any) -> UUID:
    """A list cursor back from the client: the last credit line id seen."""
    return UUID(value)


@router.post(
    "",
    operation_id="credit_lines_open",
    summary="Open a credit line from a credit-line product's active version",
    status_code=status.HTTP_201_CREATED,
    response_model=CreditLineOut,
    responses=responses(*common_statuses(404, 409)),
)
async def open_credit_line(
    body: CreditLineOpen,
    request: Request,
    bank: BankDep,
    principal: Writer,
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    async def produce() -> tuple[int, CreditLineOut]:
        line = await bank.credit_lines.open(
            OpenCreditLine(
                customer_id=body.customer_id,
                product_id=body.product_id,
                deposit_account_id=body.deposit_account_id,
                limit=body.limit.to_money(),
                idempotency_key=idempotency_key,
            ),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, CreditLineOut.of(line)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.get(
    "",
    operation_id="credit_lines_list",
    summary="Credit lines by customer, status and currency, newest first",
    responses=responses(*common_statuses()),
)
async def list_credit_lines(
    bank: BankDep,
    _: Reader,
    customer_id: UUID | None = None,
    line_status: Annotated[CreditLineStatus | None, Query(alias="status")] = None,
    currency_code: Annotated[str | None, Query(alias="currency", pattern=CURRENCY_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> Page[CreditLineOut]:
    lines = await bank.credit_lines.search(
        CreditLineQuery(
            limit=limit,
            after=decode_cursor(cursor, _after),
            customer_id=customer_id,
            status=line_status,
            currency=currency_code,
        )
    )
    return Page(
        items=[CreditLineOut.of(line) for line in lines],
        next_cursor=encode_cursor(str(lines[-1].id)) if len(lines) == limit else None,
    )


@router.get(
    "/{credit_line_id}",
    operation_id="credit_lines_get",
    summary="A credit line: its limit, what it owes, what is available",
    responses=responses(*common_statuses(404)),
)
async def get_credit_line(credit_line_id: UUID, bank: BankDep, _: Reader) -> CreditLineOut:
    return CreditLineOut.of(await bank.credit_lines.get(credit_line_id))


async def _move(
    request: Request,
    principal: Principal,
    body: CreditLineMoneyIn,
    key: str,
    perform: Callable[[Money, RequestContext], Awaitable[CreditLineMovement]],
) -> Response:
    """A draw or a payment: within the caller's amount limit, once per Idempotency-Key."""
    amount = body.amount.to_money()
    principal.require_amount(amount)

    async def produce() -> tuple[int, CreditLineMovementOut]:
        result = await perform(amount, context_of(request, principal))
        return status.HTTP_201_CREATED, CreditLineMovementOut.of(result)

    return await idempotent(request, principal, key, body, produce)


@router.post(
    "/{credit_line_id}/draw",
    operation_id="credit_lines_draw",
    summary="Draw within the available limit, into the line's deposit account",
    status_code=status.HTTP_201_CREATED,
    response_model=CreditLineMovementOut,
    responses=responses(*MONEY_STATUSES),
)
async def draw(
    credit_line_id: UUID,
    body: CreditLineMoneyIn,
    request: Request,
    bank: BankDep,
    principal: Writer,
    idempotency_key: IdempotencyKey,
) -> Response:
    return await _move(
        request,
        principal,
        body,
        idempotency_key,
        lambda amount, context: bank.credit_lines.draw(
            DrawOnCreditLine(credit_line_id, amount, idempotency_key, body.reference), context
        ),
    )


@router.post(
    "/{credit_line_id}/pay",
    operation_id="credit_lines_pay",
    summary="Pay from the line's deposit account: fees, then billed interest, then principal",
    status_code=status.HTTP_201_CREATED,
    response_model=CreditLineMovementOut,
    responses=responses(*MONEY_STATUSES),
)
async def pay(
    credit_line_id: UUID,
    body: CreditLineMoneyIn,
    request: Request,
    bank: BankDep,
    principal: Writer,
    idempotency_key: IdempotencyKey,
) -> Response:
    return await _move(
        request,
        principal,
        body,
        idempotency_key,
        lambda amount, context: bank.credit_lines.pay(
            PayCreditLine(credit_line_id, amount, idempotency_key, body.reference), context
        ),
    )


@router.get(
    "/{credit_line_id}/statements",
    operation_id="credit_lines_statements",
    summary="The line's monthly statements, newest first",
    responses=responses(*common_statuses(404)),
)
async def statements(
    credit_line_id: UUID,
    bank: BankDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_STATEMENTS_PAGE)] = 12,
    before: Annotated[date | None, Query(description="Statements dated before this.")] = None,
) -> list[StatementOut]:
    found = await bank.credit_lines.statements(credit_line_id, limit, before)
    return [StatementOut.of(statement) for statement in found]


@router.post(
    "/{credit_line_id}/freeze",
    operation_id="credit_lines_freeze",
    summary="Freeze a line: no more draws; payments, interest and statements go on",
    responses=responses(*common_statuses(404, 409)),
)
async def freeze(
    credit_line_id: UUID,
    body: CreditLineStatusChange,
    request: Request,
    bank: BankDep,
    principal: Writer,
) -> CreditLineOut:
    line = await bank.credit_lines.freeze(
        credit_line_id, body.reason, context_of(request, principal)
    )
    return CreditLineOut.of(line)


@router.post(
    "/{credit_line_id}/close",
    operation_id="credit_lines_close",
    summary="Close a line that owes nothing and has nothing accrued (final)",
    responses=responses(*common_statuses(404, 409)),
)
async def close(
    credit_line_id: UUID,
    body: CreditLineStatusChange,
    request: Request,
    bank: BankDep,
    principal: Writer,
) -> CreditLineOut:
    line = await bank.credit_lines.close(
        credit_line_id, body.reason, context_of(request, principal)
    )
    return CreditLineOut.of(line)
