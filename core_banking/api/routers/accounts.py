"""/accounts: open, read, balances at a moment, statements, status, holds."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from core_banking.api.idempotency import IdempotencyKey, OptionalIdempotencyKey, idempotent
from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.accounts import (
    AccountClose,
    AccountOpen,
    AccountOut,
    BalanceAsOf,
    HoldCapture,
    HoldOut,
    HoldPlace,
    InterestOut,
    StatementLine,
    StatusChange,
)
from core_banking.api.schemas.common import (
    MoneyIn,
    MoneyOut,
    Page,
    Timestamp,
    decode_cursor,
    encode_cursor,
)
from core_banking.api.schemas.transactions import TransactionOut
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.bootstrap import Nexum
from core_banking.domain.accounts import Account, AccountKind, AccountStatus
from core_banking.domain.commands import (
    CaptureHold,
    ChangeAccountStatus,
    CloseAccount,
    OpenAccount,
    PlaceHold,
    ReleaseHold,
)
from core_banking.domain.errors import NotFound
from core_banking.domain.holds import Hold
from core_banking.domain.money import Money
from core_banking.domain.security import Permission, Principal
from core_banking.ports import HistoryQuery

router = APIRouter(prefix="/accounts", tags=["accounts"])

PAGE_LIMIT = 200


async def _deposit_account(bank: Nexum, account_id: UUID) -> Account:
    """A customer's account; the bank's own ledger accounts are not served here."""
    account = await bank.accounts.get(account_id)
    if account.kind is not AccountKind.DEPOSIT:
        raise NotFound("no such account", account_id=str(account_id))
    return account


async def _hold_of(bank: Nexum, account_id: UUID, hold_id: UUID) -> Hold:
    hold = await bank.holds.get(hold_id)
    if hold.account_id != account_id:
        raise NotFound("no such hold on this account", hold_id=str(hold_id))
    return hold


@router.post(
    "",
    operation_id="accounts_open",
    summary="Open a savings or checking account for a customer, by type or from a product, "
    "with an opening deposit if given",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountOut,
    responses=responses(*common_statuses(404, 409)),
)
async def open_account(
    body: AccountOpen,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_OPEN))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    opening_deposit = _opening_deposit(body, principal)

    async def produce() -> tuple[int, AccountOut]:
        account = await bank.accounts.open(
            OpenAccount(
                customer_id=body.customer_id,
                product=body.product_type,
                currency=body.currency,
                product_id=body.product_id,
                name=body.name,
                overdraft_limit=_limit(body.overdraft_limit),
                min_balance=_limit(body.min_balance),
                daily_limit=_limit(body.daily_limit),
                idempotency_key=idempotency_key,
                opening_deposit=opening_deposit,
                funding_account_id=body.funding_account_id,
            ),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, AccountOut.of(account)

    return await idempotent(request, principal, idempotency_key, body, produce)


def _opening_deposit(body: AccountOpen, principal: Principal) -> Money | None:
    """The opening deposit, if any, checked as /transactions checks the same movement: the
    permission to deposit cash or to transfer, and the caller's amount limit."""
    if body.opening_deposit is None:
        return None
    amount = body.opening_deposit.to_money()
    principal.require(
        Permission.TRANSACTIONS_DEPOSIT
        if body.funding_account_id is None
        else Permission.TRANSACTIONS_TRANSFER
    )
    principal.require_amount(amount)
    return amount


def _limit(given: MoneyIn | None) -> Money | None:
    return given.to_money(allow_zero=True) if given is not None else None


@router.get(
    "/{account_id}",
    operation_id="accounts_get",
    summary="An account with its posted, held and available balances",
    responses=responses(*common_statuses(404)),
)
async def get_account(
    account_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_READ))],
) -> AccountOut:
    return AccountOut.of(await _deposit_account(bank, account_id))


@router.get(
    "/{account_id}/balance",
    operation_id="accounts_balance_as_of",
    summary="The posted balance at a past moment",
    responses=responses(*common_statuses(404)),
)
async def balance_as_of(
    account_id: UUID,
    as_of: Timestamp,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_READ))],
) -> BalanceAsOf:
    account = await _deposit_account(bank, account_id)
    posted = await bank.accounts.balance_as_of(account_id, as_of)
    return BalanceAsOf(
        account_id=account_id, as_of=as_of, posted=MoneyOut.of(posted, account.currency)
    )


@router.get(
    "/{account_id}/interest",
    operation_id="accounts_interest",
    summary="Deposit interest accrued and not yet posted, the residue carried, the last dates",
    responses=responses(*common_statuses(404)),
)
async def interest_of(
    account_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_READ))],
) -> InterestOut:
    account = await _deposit_account(bank, account_id)
    position = await bank.deposit_interest.position(account_id)
    return InterestOut(
        account_id=account_id,
        product_id=position.product_id,
        product_version=position.product_version,
        accrued_unposted=format(position.accrued, "f"),
        residue=format(position.residue, "f"),
        credited=MoneyOut.of(position.credited_minor, account.currency),
        last_accrual_date=position.last_accrual_date,
        last_posting_date=position.last_posting_date,
    )


@router.get(
    "/{account_id}/transactions",
    operation_id="accounts_transactions",
    summary="The account's statement, newest first, a page at a time",
    responses=responses(*common_statuses(404)),
)
async def account_transactions(
    account_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.TRANSACTIONS_READ))],
    since: Annotated[Timestamp | None, Query(alias="from")] = None,
    until: Annotated[Timestamp | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[StatementLine]:
    await _deposit_account(bank, account_id)
    lines = await bank.accounts.history(
        HistoryQuery(
            account_id=account_id,
            limit=limit,
            before_seq=decode_cursor(cursor, int),
            since=since,
            until=until,
        )
    )
    return Page(
        items=[StatementLine.of(line) for line in lines],
        next_cursor=encode_cursor(lines[-1].account_seq) if len(lines) == limit else None,
    )


async def _change_status(
    request: Request,
    bank: Nexum,
    principal: Principal,
    account_id: UUID,
    target: AccountStatus,
    reason: str,
) -> AccountOut:
    await _deposit_account(bank, account_id)
    account = await bank.accounts.change_status(
        ChangeAccountStatus(account_id, target, reason), context_of(request, principal)
    )
    return AccountOut.of(account)


@router.post(
    "/{account_id}/freeze",
    operation_id="accounts_freeze",
    summary="Freeze an account: it moves no money until unfrozen",
    responses=responses(*common_statuses(404)),
)
async def freeze(
    account_id: UUID,
    body: StatusChange,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_FREEZE))],
) -> AccountOut:
    return await _change_status(
        request, bank, principal, account_id, AccountStatus.FROZEN, body.reason
    )


@router.post(
    "/{account_id}/unfreeze",
    operation_id="accounts_unfreeze",
    summary="Unfreeze a frozen account",
    responses=responses(*common_statuses(404)),
)
async def unfreeze(
    account_id: UUID,
    body: StatusChange,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_FREEZE))],
) -> AccountOut:
    return await _change_status(
        request, bank, principal, account_id, AccountStatus.ACTIVE, body.reason
    )


@router.post(
    "/{account_id}/close",
    operation_id="accounts_close",
    summary="Close an account: its interest settled, what it holds paid to a payout account",
    responses=responses(*common_statuses(404, 409)),
)
async def close(
    account_id: UUID,
    body: AccountClose,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_CLOSE))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    if body.payout_account_id is not None:
        principal.require(Permission.TRANSACTIONS_TRANSFER)

    async def produce() -> tuple[int, AccountOut]:
        account = await bank.accounts.close(
            CloseAccount(account_id, body.reason, body.payout_account_id, idempotency_key),
            context_of(request, principal),
        )
        return status.HTTP_200_OK, AccountOut.of(account)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.post(
    "/{account_id}/holds",
    operation_id="holds_place",
    summary="Place a hold: the amount stops being available until captured or released",
    status_code=status.HTTP_201_CREATED,
    response_model=HoldOut,
    responses=responses(*common_statuses(404, 409)),
)
async def place_hold(
    account_id: UUID,
    body: HoldPlace,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.HOLDS_WRITE))],
    idempotency_key: IdempotencyKey,
) -> Response:
    amount = body.amount.to_money()
    principal.require_amount(amount)

    async def produce() -> tuple[int, HoldOut]:
        await _deposit_account(bank, account_id)
        hold = await bank.holds.place(
            PlaceHold(account_id, amount, idempotency_key, body.expires_at, body.reference),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, HoldOut.of(hold)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.get(
    "/{account_id}/holds/{hold_id}",
    operation_id="holds_get",
    summary="One hold",
    responses=responses(*common_statuses(404)),
)
async def get_hold(
    account_id: UUID,
    hold_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_READ))],
) -> HoldOut:
    return HoldOut.of(await _hold_of(bank, account_id, hold_id))


@router.post(
    "/{account_id}/holds/{hold_id}/capture",
    operation_id="holds_capture",
    summary="Capture all or part of a hold (the rest is released)",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionOut,
    responses=responses(*common_statuses(404, 409)),
)
async def capture_hold(
    account_id: UUID,
    hold_id: UUID,
    body: HoldCapture,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.HOLDS_WRITE))],
    idempotency_key: IdempotencyKey,
) -> Response:
    amount = body.amount.to_money() if body.amount else None

    async def produce() -> tuple[int, TransactionOut]:
        hold = await _hold_of(bank, account_id, hold_id)
        principal.require_amount(amount or Money.of(hold.amount_minor, hold.currency))
        result = await bank.holds.capture(
            CaptureHold(
                hold_id, idempotency_key, amount, body.destination_account_id, body.reference
            ),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, TransactionOut.of(result.entry)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.post(
    "/{account_id}/holds/{hold_id}/release",
    operation_id="holds_release",
    summary="Release a hold: its amount is available again",
    response_model=HoldOut,
    responses=responses(*common_statuses(404, 409)),
)
async def release_hold(
    account_id: UUID,
    hold_id: UUID,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.HOLDS_WRITE))],
    idempotency_key: IdempotencyKey,
) -> Response:
    async def produce() -> tuple[int, HoldOut]:
        await _hold_of(bank, account_id, hold_id)
        hold = await bank.holds.release(
            ReleaseHold(hold_id, idempotency_key), context_of(request, principal)
        )
        return status.HTTP_200_OK, HoldOut.of(hold)

    return await idempotent(request, principal, idempotency_key, None, produce)
