"""/term-deposits: place money for a term from a product, read it, close it early
(docs/term-deposits.md). Maturity is the close of business's."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from core_banking.api.idempotency import IdempotencyKey, idempotent
from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.common import Page, decode_cursor, encode_cursor
from core_banking.api.schemas.term_deposits import (
    TermDepositClose,
    TermDepositOpen,
    TermDepositOut,
)
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.domain.lending.term_deposits import TermDepositStatus
from core_banking.domain.security import Permission, Principal
from core_banking.ports import TermDepositQuery
from core_banking.services.term_deposits import MAX_PAGE, CloseTermDeposit, OpenTermDeposit

router = APIRouter(prefix="/term-deposits", tags=["term deposits"])

Reader = Annotated[Principal, Depends(Requires(Permission.TERM_DEPOSITS_READ))]
Writer = Annotated[Principal, Depends(Requires(Permission.TERM_DEPOSITS_WRITE))]


def _after(value: Any) -> UUID:
    """A list cursor back from the client: the last term deposit id seen."""
    return UUID(value)


@router.post(
    "",
    operation_id="term_deposits_open",
    summary="Place money for a term from a term-deposit product's active version",
    status_code=status.HTTP_201_CREATED,
    response_model=TermDepositOut,
    responses=responses(*common_statuses(404, 409)),
)
async def open_term_deposit(
    body: TermDepositOpen,
    request: Request,
    bank: BankDep,
    principal: Writer,
    idempotency_key: IdempotencyKey,
) -> Response:
    amount = body.amount.to_money()
    principal.require_amount(amount)

    async def produce() -> tuple[int, TermDepositOut]:
        deposit = await bank.term_deposits.open(
            OpenTermDeposit(
                customer_id=body.customer_id,
                product_id=body.product_id,
                amount=amount,
                funding_account_id=body.funding_account_id,
                payout_account_id=body.payout_account_id,
                maturity_action=body.maturity_action,
                name=body.name,
                idempotency_key=idempotency_key,
            ),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, TermDepositOut.of(
            await bank.term_deposits.get(deposit.account_id)
        )

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.get(
    "",
    operation_id="term_deposits_list",
    summary="Term deposits by customer and status, newest first",
    responses=responses(*common_statuses()),
)
async def list_term_deposits(
    bank: BankDep,
    _: Reader,
    customer_id: UUID | None = None,
    deposit_status: Annotated[TermDepositStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> Page[TermDepositOut]:
    found = await bank.term_deposits.search(
        TermDepositQuery(
            limit=limit,
            after=decode_cursor(cursor, _after),
            customer_id=customer_id,
            status=deposit_status,
        )
    )
    return Page(
        items=[TermDepositOut.of(held) for held in found],
        next_cursor=encode_cursor(str(found[-1].deposit.account_id))
        if len(found) == limit
        else None,
    )


@router.get(
    "/{term_deposit_id}",
    operation_id="term_deposits_get",
    summary="A term deposit: its term, maturity, principal and balance",
    responses=responses(*common_statuses(404)),
)
async def get_term_deposit(term_deposit_id: UUID, bank: BankDep, _: Reader) -> TermDepositOut:
    return TermDepositOut.of(await bank.term_deposits.get(term_deposit_id))


@router.post(
    "/{term_deposit_id}/close",
    operation_id="term_deposits_close",
    summary="Close now: before maturity an early withdrawal with the product's penalty",
    response_model=TermDepositOut,
    responses=responses(*common_statuses(404, 409)),
)
async def close_term_deposit(
    term_deposit_id: UUID,
    body: TermDepositClose,
    request: Request,
    bank: BankDep,
    principal: Writer,
    idempotency_key: IdempotencyKey,
) -> Response:
    async def produce() -> tuple[int, TermDepositOut]:
        await bank.term_deposits.close(
            CloseTermDeposit(term_deposit_id, idempotency_key, body.reason),
            context_of(request, principal),
        )
        return status.HTTP_200_OK, TermDepositOut.of(await bank.term_deposits.get(term_deposit_id))

    return await idempotent(request, principal, idempotency_key, body, produce)
