"""Idempotency-Key for every money-moving POST.

The header is required on those routes. The first request with a key claims it and its
response (status and body) is kept; a retry with the same key and the same request gets
that response again, byte for byte, with ``Idempotent-Replayed: true``; the same key with a
different request is refused with 422; a retry while the first is still running gets 409.
A request that is refused or fails keeps nothing, so it can be corrected and retried with
the same key. Underneath, the ledger claims the same key in the posting's own transaction,
so even a crash between the two cannot make a retry post twice.

When the database goes away mid-request, the key is let go as soon as it answers again
(tried now, then in the background for up to the stale-claim age): otherwise the client's
retries would be told 409 "still running" until the claim went stale. That is safe because
the ledger's own claim answers a retry of a posting that did commit with that posting.

A single posting whose whole answer is its journal entry (a deposit, a withdrawal, a
transfer) keeps no record here at all (ADR 0015): the ledger's claim, written in the
posting's own transaction, already answers a retry with that entry, and a refusal with a
different request. ``running_once`` adds the 409 for a retry that arrives while the first
is still running in this process.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from core_banking.api.problems import ProblemError
from core_banking.api.security import bank_of
from core_banking.domain.canonical import canonical_json
from core_banking.domain.security import Principal
from core_banking.ports import Claimed, InFlight, Mismatch, Replay, UnitOfWork
from core_banking.storage.errors import connection_lost, never_reached_server

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Chosen by the client, unique per operation: 1-255 printable ASCII "
        "characters. A retry with the same key returns the first response.",
    ),
]

OptionalIdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Optional here: a retry with the same key returns the first response.",
    ),
]

REPLAYED_HEADER = "Idempotent-Replayed"
logger = logging.getLogger("core_banking.api")
_releasing: set[asyncio.Task[None]] = set()  # background releases, kept until they finish
_running_here: set[tuple[str, str]] = set()  # (actor, key) of postings running in this process


def fingerprint(request: Request, body: BaseModel | None) -> bytes:
    payload = body.model_dump(mode="json") if body is not None else None
    text = f"{request.method}\n{request.url.path}\n{canonical_json(payload)}"
    return hashlib.sha256(text.encode("utf-8")).digest()


def _json(model: BaseModel) -> str:
    return model.model_dump_json()


async def idempotent(
    request: Request,
    principal: Principal,
    key: str | None,
    body: BaseModel | None,
    produce: Callable[[], Awaitable[tuple[int, BaseModel]]],
) -> Response:
    """Run ``produce`` at most once per (principal, key); answer retries from the record.
    Without a key (where the route allows that) it simply runs."""
    if key is None:
        status, model = await produce()
        return Response(_json(model), status_code=status, media_type="application/json")
    bank = bank_of(request)
    stale_after = timedelta(seconds=2 * bank.config.api_timeout)
    digest = fingerprint(request, body)

    async def claim(uow: UnitOfWork) -> Claimed | Replay | InFlight | Mismatch:
        return await uow.http_idempotency.claim(
            principal.actor, key, digest, bank.clock.now(), stale_after
        )

    async def release() -> None:
        await bank.storage.statement_by_statement(
            lambda uow: uow.http_idempotency.release(principal.actor, key)
        )

    within = stale_after.total_seconds()
    try:
        outcome = await bank.storage.statement_by_statement(claim)
    except Exception as exc:
        if connection_lost(exc) and not never_reached_server(exc):
            _release_later(release, within)  # the claim may have committed before the loss
        raise
    if isinstance(outcome, Replay):
        return Response(
            outcome.body,
            status_code=outcome.status_code,
            media_type="application/json",
            headers={REPLAYED_HEADER: "true"},
        )
    if isinstance(outcome, InFlight):
        raise ProblemError(
            409, "idempotency_key_in_use", "a request with this Idempotency-Key is still running"
        )
    if isinstance(outcome, Mismatch):
        raise ProblemError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        )

    try:
        status, model = await produce()
    except BaseException:
        await _release_now_or_later(release, within)
        raise
    text = _json(model)
    if status >= 400:  # a refusal answered with a body of its own is not kept either
        await _release_now_or_later(release, within)
        return Response(text, status_code=status, media_type="application/json")
    try:
        await bank.storage.statement_by_statement(
            lambda uow: uow.http_idempotency.complete(
                principal.actor, key, status, text, bank.clock.now()
            )
        )
    except Exception:
        # Done but not recorded: let go, so a retry is answered from the ledger's claim.
        await _release_now_or_later(release, within)
        raise
    return Response(text, status_code=status, media_type="application/json")


@contextmanager
def running_once(principal: Principal, key: str) -> Iterator[None]:
    """409 while an earlier request of the same principal with the same key is still
    running in this process. A duplicate that reaches another process meanwhile is not told:
    it waits at the ledger's claim for the first to commit, then is answered with its
    entry (or posts, if the first was refused). Either way nothing is posted twice."""
    running = (principal.actor, key)
    if running in _running_here:
        raise ProblemError(
            409, "idempotency_key_in_use", "a request with this Idempotency-Key is still running"
        )
    _running_here.add(running)
    try:
        yield
    finally:
        _running_here.discard(running)


async def _release_now_or_later(release: Callable[[], Awaitable[None]], within: float) -> None:
    try:
        await release()
    except Exception:  # the database is away: keep trying while the client retries
        _release_later(release, within)


def _release_later(release: Callable[[], Awaitable[None]], within: float) -> None:
    task = asyncio.create_task(_keep_releasing(release, within))
    _releasing.add(task)
    task.add_done_callback(_releasing.discard)


async def _keep_releasing(release: Callable[[], Awaitable[None]], within: float) -> None:
    """Release, pausing 0.25 s doubling to 2 s between tries, for ``within`` seconds (by
    then a retry takes the claim over as stale anyway)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    pause = 0.25
    while loop.time() + pause < deadline:
        await asyncio.sleep(pause)
        try:
            await release()
        except Exception:
            pause = min(pause * 2, 2.0)
            continue
        return
    logger.warning("an Idempotency-Key stays claimed until it is stale: the database is away")
