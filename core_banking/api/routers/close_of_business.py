"""/eod: the close of business. Close a business date, read its run and the calendar.

Closing runs synchronously: the answer is the finished run. The business date is the
request's own idempotency key: a date already closed is answered 200 with the run as it
finished, and changes nothing; a new close is 201.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.close_of_business import BusinessDateOut, RunOut, RunRequest
from core_banking.api.schemas.common import Page, decode_cursor, encode_cursor
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.domain.security import Permission, Principal
from core_banking.services.close_of_business import MAX_RUNS_PAGE

router = APIRouter(prefix="/eod", tags=["close of business"])


@router.post(
    "/runs",
    operation_id="eod_run",
    summary="Close a business date: run its steps and advance the calendar",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    responses={
        200: {"model": RunOut, "description": "The date was closed before: its run."},
        **responses(*common_statuses(409)),
    },
)
async def run_close_of_business(
    body: RunRequest,
    request: Request,
    response: Response,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.EOD_RUN))],
) -> RunOut:
    """409 `business_date_out_of_order` (another date must close first),
    `business_date_closed` (closed before the runs kept here began),
    `close_of_business_in_progress` (another process is closing it); 422
    `business_date_in_future` (a date closes at its end or later)."""
    run = await bank.close_of_business.run(body.business_date, context_of(request, principal))
    if run.replayed:
        response.status_code = status.HTTP_200_OK
    return RunOut.of(run)


@router.get(
    "/runs",
    operation_id="eod_runs_list",
    summary="Close-of-business runs, newest business date first",
    responses=responses(*common_statuses()),
)
async def list_runs(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.EOD_READ))],
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS_PAGE)] = 20,
    cursor: str | None = None,
) -> Page[RunOut]:
    runs = await bank.close_of_business.recent(limit, decode_cursor(cursor, date.fromisoformat))
    return Page(
        items=[RunOut.of(run) for run in runs],
        next_cursor=encode_cursor(runs[-1].business_date.isoformat())
        if len(runs) == limit
        else None,
    )


@router.get(
    "/runs/{business_date}",
    operation_id="eod_runs_get",
    summary="The close-of-business run of one business date",
    responses=responses(*common_statuses(404)),
)
async def get_run(
    business_date: date,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.EOD_READ))],
) -> RunOut:
    return RunOut.of(await bank.close_of_business.get(business_date))


@router.get(
    "/business-date",
    operation_id="eod_business_date",
    summary="The current business date and the last closed one",
    responses=responses(*common_statuses()),
)
async def business_date(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.EOD_READ))],
) -> BusinessDateOut:
    return BusinessDateOut.of(await bank.close_of_business.calendar())
