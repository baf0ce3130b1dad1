"""/transactions: deposits, withdrawals, transfers, reversals, batches; reading entries."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from core_banking.api.idempotency import (
    REPLAYED_HEADER,
    IdempotencyKey,
    idempotent,
    running_once,
)
from core_banking.api.problems import ProblemError, common_statuses, responses, status_of
from core_banking.api.schemas.common import Page, Timestamp, decode_cursor, encode_cursor
from core_banking.api.schemas.transactions import (
    BatchItemResult,
    BatchMode,
    BatchRequest,
    BatchResult,
    DepositRequest,
    ItemError,
    ReverseRequest,
    TransactionOut,
    TransferRequest,
    WithdrawRequest,
)
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.domain.commands import (
    Deposit,
    ReceiveExternalTransfer,
    Reverse,
    SendExternalTransfer,
    Transfer,
    Withdraw,
)
from core_banking.domain.errors import DomainError
from core_banking.domain.ledger import Channel, EntryType
from core_banking.domain.money import Money
from core_banking.domain.security import Permission, Principal
from core_banking.ports import EntryQuery
from core_banking.services.ledger import MoneyCommand

router = APIRouter(prefix="/transactions", tags=["transactions"])

PAGE_LIMIT = 200
MONEY_STATUSES = common_statuses(404, 409)

OPERATION_PERMISSIONS = {
    "deposit": Permission.TRANSACTIONS_DEPOSIT,
    "withdraw": Permission.TRANSACTIONS_WITHDRAW,
    "transfer": Permission.TRANSACTIONS_TRANSFER,
}


def command_of(body: DepositRequest | WithdrawRequest | TransferRequest, key: str) -> MoneyCommand:
    """The ledger command a request asks for, under the given idempotency key."""
    amount = body.amount.to_money()
    details = (body.channel, body.reference, body.metadata, body.value_date)
    if isinstance(body, WithdrawRequest):
        return Withdraw(body.account_id, amount, key, *details)
    if isinstance(body, DepositRequest):
        if body.counterparty is None:
            return Deposit(body.account_id, amount, key, *details)
        counterparty = body.counterparty.to_counterparty()
        return ReceiveExternalTransfer(body.account_id, amount, counterparty, key, *details)
    if body.to_account_id is not None:
        return Transfer(body.from_account_id, body.to_account_id, amount, key, *details)
    if body.counterparty is None:
        raise ProblemError(
            422,
            "counterparty_required",
            "a transfer to another bank (no to_account_id) needs a counterparty",
        )
    counterparty = body.counterparty.to_counterparty()
    return SendExternalTransfer(body.from_account_id, amount, counterparty, key, *details)


async def _post_one(
    request: Request,
    bank: BankDep,
    principal: Principal,
    body: DepositRequest | WithdrawRequest | TransferRequest,
    key: str,
) -> Response:
    """One posting, its Idempotency-Key kept by the ledger alone (ADR 0015): the answer is
    the entry, and the ledger answers a retry with the entry it posted first."""
    command = command_of(body, key)
    principal.require_amount(command.amount)
    with running_once(principal, key):
        result = await bank.ledger.execute(command, context_of(request, principal))
    return Response(
        TransactionOut.of(result.entry).model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"} if result.replayed else None,
    )


@router.post(
    "/deposit",
    operation_id="transactions_deposit",
    summary="Deposit into an account: cash, or money arriving from another bank",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionOut,
    responses=responses(*MONEY_STATUSES),
)
async def deposit(
    body: DepositRequest,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_DEPOSIT))],
    idempotency_key: IdempotencyKey,
) -> Response:
    return await _post_one(request, bank, principal, body, idempotency_key)


@router.post(
    "/withdraw",
    operation_id="transactions_withdraw",
    summary="Withdraw cash from an account",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionOut,
    responses=responses(*MONEY_STATUSES),
)
async def withdraw(
    body: WithdrawRequest,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_WITHDRAW))],
    idempotency_key: IdempotencyKey,
) -> Response:
    return await _post_one(request, bank, principal, body, idempotency_key)


@router.post(
    "/transfer",
    operation_id="transactions_transfer",
    summary="Transfer to another account here, or (no to_account_id) to another bank",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionOut,
    responses=responses(*MONEY_STATUSES),
)
async def transfer(
    body: TransferRequest,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_TRANSFER))],
    idempotency_key: IdempotencyKey,
) -> Response:
    return await _post_one(request, bank, principal, body, idempotency_key)


@router.post(
    "/batch",
    operation_id="transactions_batch",
    summary="Up to NEXUM_BATCH_PROCESSING_SIZE operations: all or nothing, or each on its own",
    description=(
        "An `independent` batch answers 200 with a result per operation. An `atomic` batch"
        " posts all or nothing: when one operation is refused nothing is posted and the"
        " answer is that operation's problem (its status and code, `context.operation_index`"
        " naming it) with the batch result's `mode`, `posted`, `failed` and `results` as"
        " extension members."
    ),
    response_model=BatchResult,
    responses=responses(*MONEY_STATUSES),
)
async def batch(
    body: BatchRequest,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_BATCH))],
    idempotency_key: IdempotencyKey,
) -> Response:
    limit = bank.config.batch_processing_size
    if len(body.operations) > limit:
        raise ProblemError(
            422, "batch_too_large", f"a batch has at most {limit} operations", limit=limit
        )
    for operation in body.operations:
        principal.require(OPERATION_PERMISSIONS[operation.type])
    batch_key = hashlib.sha256(idempotency_key.encode()).hexdigest()
    commands = [
        command_of(operation, f"{batch_key}:{index}")
        for index, operation in enumerate(body.operations)
    ]
    for command in commands:
        principal.require_amount(command.amount)
    # The items' keys live in a scope of the principal's batches, where no key a client
    # sends can be, so a batch never collides with a single request or another batch.
    context = replace(context_of(request, principal), key_scope=f"{principal.actor} batches")

    async def atomic() -> tuple[int, BatchResult]:
        try:
            results = await bank.ledger.execute_together(commands, context)
        except DomainError as refusal:
            failed_at = refusal.context.get("operation_index")
            items = [
                BatchItemResult(
                    index=index,
                    status="failed" if index == failed_at else "not_attempted",
                    error=ItemError(code=refusal.code, detail=refusal.message)
                    if index == failed_at
                    else None,
                )
                for index in range(len(commands))
            ]
            refused = BatchResult(
                mode=BatchMode.ATOMIC, posted=0, failed=len(commands), results=items
            )
            raise ProblemError(
                status_of(refusal),
                refusal.code,
                refusal.message,
                extensions=refused.model_dump(mode="json"),
                **refusal.context,
            ) from refusal
        return status.HTTP_200_OK, BatchResult(
            mode=BatchMode.ATOMIC,
            posted=len(results),
            failed=0,
            results=[
                BatchItemResult(index=i, status="posted", transaction=TransactionOut.of(r.entry))
                for i, r in enumerate(results)
            ],
        )

    async def independent() -> tuple[int, BatchResult]:
        items = [
            BatchItemResult(
                index=index,
                status="failed",
                error=ItemError(code=outcome.code, detail=outcome.message),
            )
            if isinstance(outcome, DomainError)
            else BatchItemResult(
                index=index, status="posted", transaction=TransactionOut.of(outcome.entry)
            )
            for index, outcome in enumerate(await bank.ledger.execute_each(commands, context))
        ]
        posted = sum(1 for item in items if item.status == "posted")
        return status.HTTP_200_OK, BatchResult(
            mode=BatchMode.INDEPENDENT, posted=posted, failed=len(items) - posted, results=items
        )

    produce = atomic if body.mode is BatchMode.ATOMIC else independent
    return await idempotent(request, principal, idempotency_key, body, produce)


@router.get(
    "/{transaction_id:uuid}",
    operation_id="transactions_get",
    summary="One transaction with all its lines",
    responses=responses(*common_statuses(404)),
)
async def get_transaction(
    transaction_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_READ))],
) -> TransactionOut:
    return TransactionOut.of(await bank.ledger.entry(transaction_id))


@router.get(
    "",
    operation_id="transactions_list",
    summary="Transactions, newest first, filtered, a page at a time",
    responses=responses(*common_statuses()),
)
async def list_transactions(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_READ))],
    account_id: UUID | None = None,
    transaction_type: Annotated[EntryType | None, Query(alias="type")] = None,
    channel: Channel | None = None,
    reference: Annotated[str | None, Query(max_length=140)] = None,
    since: Annotated[Timestamp | None, Query(alias="from")] = None,
    until: Annotated[Timestamp | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[TransactionOut]:
    entries = await bank.ledger.entries(
        EntryQuery(
            limit=limit,
            before=decode_cursor(cursor, UUID),
            account_id=account_id,
            entry_type=transaction_type,
            channel=channel,
            reference=reference,
            since=since,
            until=until,
        )
    )
    return Page(
        items=[TransactionOut.of(entry) for entry in entries],
        next_cursor=encode_cursor(str(entries[-1].id)) if len(entries) == limit else None,
    )


@router.post(
    "/{transaction_id:uuid}/reverse",
    operation_id="transactions_reverse",
    summary="Reverse a transaction with its contra entry (once)",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionOut,
    responses=responses(*MONEY_STATUSES),
)
async def reverse(
    transaction_id: UUID,
    body: ReverseRequest,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_REVERSE))],
    idempotency_key: IdempotencyKey,
) -> Response:
    async def produce() -> tuple[int, TransactionOut]:
        original = await bank.ledger.entry(transaction_id)
        first = original.lines[0]
        principal.require_amount(Money.of(first.amount_minor, first.currency))
        result = await bank.ledger.reverse(
            Reverse(transaction_id, body.reason, idempotency_key),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, TransactionOut.of(result.entry)

    return await idempotent(request, principal, idempotency_key, body, produce)
