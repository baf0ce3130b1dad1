"""Group commit: postings that wait at the same moment are posted in one transaction.

A posting alone costs PostgreSQL a whole transaction: a statement's start-up, its locks, a
commit and its WAL flush, and the client a connection checkout and a round trip. Under load
many postings wait at once. Those waiting are posted together, with one call of
``nexum_post_entries``; each caller still gets its own result or its own refusal, exactly
as if the postings of the group had been posted alone one after the other.

Nothing waits for company. A posting that arrives while a lane is free goes at once (a
group of one, by the single-posting path), so a lightly loaded bank sees no added latency;
only postings that arrive while every lane is busy wait, and the first lane to come free
takes all of them. The busier the bank, the larger the groups: the cost per posting falls
as the load rises. Why, and what it keeps: docs/adr/0013-group-commit.md.

A caller cancelled (a request past its deadline) cancels the transaction carrying its
posting, as it would have cancelled its own: nothing of it is written; the others of its
group are posted again without it. The caller's cancellation completes only when that
call has ended (on PostgreSQL, once the server has cancelled the statement; at most
``CANCELLED_WITHIN`` seconds), so an answer that nothing was written is not given while
the statement could still commit.

Every posting stays all or nothing. A group commits whole or not at all. A refusal names
the posting refused (``operation_index``): that caller gets it, and the rest of the group
is posted again without it, so each later posting is checked against the state the earlier
ones left, as one by one. Any other failure is sorted out by posting each alone, so it
reaches only the caller it belongs to; only a database out of reach (already retried) is
every caller's at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from core_banking.domain.errors import DomainError
from core_banking.domain.ledger import PostingResult
from core_banking.ports import PreparedPosting
from core_banking.storage.errors import DatabaseUnavailable

T = TypeVar("T")
REFUSALS_BEFORE_ONE_BY_ONE = 4
"""Refusals after which the rest of a group is posted one by one: a group of n with k
refusals costs k + 1 statements of up to n postings each, one by one n statements of one."""
CANCELLED_WITHIN = 5.0
"""Seconds a cancelled caller waits for its posting's statement to be cancelled."""
PostAlone = Callable[[PreparedPosting], Awaitable[PostingResult]]
PostTogether = Callable[[Sequence[PreparedPosting]], Awaitable[list[PostingResult]]]


@dataclass(slots=True)
class _Waiting:
    posting: PreparedPosting
    outcome: asyncio.Future[PostingResult]
    sending: asyncio.Future[Any] | None = None  # the call carrying it, while it runs

    async def until_sent(self) -> None:
        """Wait, at most ``CANCELLED_WITHIN`` seconds, for the call carrying this posting
        to end: after its caller is cancelled, that is until the storage has seen the
        statement cancelled at the server. Only then may the caller answer that nothing
        was written (a statement still waiting for a lock would otherwise go on and
        commit)."""
        if self.sending is not None and not self.sending.done():
            await asyncio.wait((self.sending,), timeout=CANCELLED_WITHIN)

    def succeed(self, result: PostingResult) -> None:
        if not self.outcome.done():  # the caller may have been cancelled meanwhile
            self.outcome.set_result(result)

    def fail(self, error: BaseException) -> None:
        if self.outcome.done():
            return
        if isinstance(error, asyncio.CancelledError):
            self.outcome.cancel()
        else:
            self.outcome.set_exception(error)


class GroupCommit:
    """Posts through at most ``lanes`` transactions at a time, each carrying every posting
    that was waiting when it started, up to ``max_group``."""

    def __init__(
        self,
        post_alone: PostAlone,
        post_together: PostTogether,
        *,
        lanes: int,
        max_group: int,
    ) -> None:
        if lanes < 1 or max_group < 1:
            raise ValueError("group commit needs at least one lane and groups of one")
        self._post_alone = post_alone
        self._post_together = post_together
        self._lanes = lanes
        self._max_group = max_group
        self._waiting: deque[_Waiting] = deque()
        self._busy = 0
        self._running: set[asyncio.Task[None]] = set()
        self.groups_posted = 0
        """Transactions that carried two postings or more (the tests read it)."""

    async def post(self, posting: PreparedPosting) -> PostingResult:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(posting, loop.create_future())
        self._waiting.append(waiting)
        if self._busy < self._lanes:
            self._busy += 1
            lane = loop.create_task(self._lane())
            self._running.add(lane)
            lane.add_done_callback(self._running.discard)
        try:
            return await waiting.outcome
        except asyncio.CancelledError:
            await waiting.until_sent()
            raise

    async def _lane(self) -> None:
        """Post groups until nobody waits. The check and the exit have no await between
        them, so a posting that arrives later finds this lane gone and starts another."""
        try:
            while self._waiting:
                group = self._take_group()
                try:
                    await self._post_group(group)
                except Exception as error:  # unforeseen: its group hears it, the lane goes on
                    for waiting in group:
                        waiting.fail(error)
                except BaseException as error:  # cancelled at shutdown: nobody is left hanging
                    for waiting in (*group, *self._waiting):
                        waiting.fail(error)
                    self._waiting.clear()
                    raise
        finally:
            self._busy -= 1

    def _take_group(self) -> list[_Waiting]:
        """Up to ``max_group`` of the waiting postings, oldest first. Callers cancelled
        meanwhile are dropped when the group is posted (nothing of theirs was written)."""
        count = min(len(self._waiting), self._max_group)
        return [self._waiting.popleft() for _ in range(count)]

    async def post_in_order(
        self, postings: Sequence[PreparedPosting]
    ) -> list[PostingResult | Exception]:
        """Post ``postings`` as if one after the other, each on its own terms, in groups of
        up to ``max_group``: each gets its result or what refused it, and is checked
        against the state the ones before it left. For a batch whose operations stand or
        fall each on its own; it runs on the caller's task, beside the lanes."""
        loop = asyncio.get_running_loop()
        outcomes: list[PostingResult | Exception] = []
        for first in range(0, len(postings), self._max_group):
            group = [
                _Waiting(posting, loop.create_future())
                for posting in postings[first : first + self._max_group]
            ]
            await self._post_group(group)
            for waiting in group:
                error = waiting.outcome.exception()
                outcomes.append(waiting.outcome.result() if error is None else _plain(error))
        return outcomes

    async def _post_group(self, group: list[_Waiting]) -> None:
        pending = group
        one_by_one = False
        refusals = 0
        while pending := [waiting for waiting in pending if not waiting.outcome.cancelled()]:
            if one_by_one or len(pending) == 1:
                await self._post_each_alone(pending)
                return
            postings = [waiting.posting for waiting in pending]
            try:
                results = await self._send(pending, self._post_together(postings))
            except _CallerLeft:
                continue  # the rest again, without whoever left
            except DomainError as refusal:
                index = refusal.context.pop("operation_index", None)
                if not isinstance(index, int) or not 0 <= index < len(pending):
                    one_by_one = True  # a refusal that names no posting: whose is it?
                    continue
                pending.pop(index).fail(refusal)
                refusals += 1
                # each refusal costs the group a statement: past a few, one by one is cheaper
                one_by_one = refusals >= REFUSALS_BEFORE_ONE_BY_ONE
                continue
            except DatabaseUnavailable as unreachable:  # everyone's, and already retried
                for waiting in pending:
                    waiting.fail(unreachable)
                return
            except Exception:  # whose it is, posting each alone tells
                one_by_one = True
                continue
            self.groups_posted += 1
            for waiting, result in zip(pending, results, strict=True):
                waiting.succeed(result)
            return

    async def _post_each_alone(self, pending: list[_Waiting]) -> None:
        for place, waiting in enumerate(pending):
            if waiting.outcome.cancelled():
                continue
            try:
                waiting.succeed(await self._send([waiting], self._post_alone(waiting.posting)))
            except _CallerLeft:
                continue
            except DatabaseUnavailable as unreachable:  # already retried: the rest would be too
                for rest in pending[place:]:
                    rest.fail(unreachable)
                return
            except Exception as error:  # delivered to the caller it belongs to
                waiting.fail(error)

    async def _send(self, group: list[_Waiting], call: Awaitable[T]) -> T:
        """Run ``call`` for ``group``, cancelled as soon as one of its callers is (a request
        cut off at its deadline must leave nothing written, as when it posted by itself).
        Raises ``_CallerLeft`` then; if the call had committed already, posting the rest
        again finds their claims and answers with what committed."""
        sending = asyncio.ensure_future(call)

        def on_caller_done(outcome: asyncio.Future[PostingResult]) -> None:
            if outcome.cancelled():
                sending.cancel()

        for waiting in group:
            waiting.sending = sending
            waiting.outcome.add_done_callback(on_caller_done)
        try:
            return await sending
        except asyncio.CancelledError:
            lane = asyncio.current_task()
            if sending.cancelled() and lane is not None and not lane.cancelling():
                raise _CallerLeft from None
            raise
        finally:
            for waiting in group:
                waiting.sending = None
                waiting.outcome.remove_done_callback(on_caller_done)


def _plain(error: BaseException) -> Exception:
    """An outcome's error as an outcome: cancellation is not one a batch can hold."""
    if isinstance(error, Exception):
        return error
    raise error


class _CallerLeft(Exception):
    """A caller of the group being posted was cancelled, and the posting with it."""
