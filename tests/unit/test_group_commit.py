"""Group commit with the database faked: who is posted with whom, and who hears what."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from core_banking.domain.errors import InsufficientFunds
from core_banking.storage import group_commit as group_commit_module
from core_banking.storage.errors import DatabaseUnavailable
from core_banking.storage.group_commit import REFUSALS_BEFORE_ONE_BY_ONE, GroupCommit


class FakeLedger:
    """Posts names. ``refuse`` names are refused wherever they are; ``broken`` names break
    any group they are in with an error that names nobody, and fail alone too."""

    def __init__(self, refuse: Sequence[str] = (), broken: Sequence[str] = ()) -> None:
        self.refuse = set(refuse)
        self.broken = set(broken)
        self.calls: list[list[str]] = []
        self.cut_off: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()
        self.release.set()
        self.cancelling = asyncio.Event()  # clear: telling the database to cancel takes long
        self.cancelling.set()

    async def _enter(self, names: list[str]) -> None:
        self.calls.append(names)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            await self.cancelling.wait()
            self.cut_off.append(names)
            raise
        finally:
            self.in_flight -= 1

    async def alone(self, name: Any) -> Any:
        await self._enter([name])
        if name in self.broken:
            raise RuntimeError(f"{name} broke")
        if name in self.refuse:
            raise InsufficientFunds("insufficient available funds", account_id=name)
        return f"posted {name}"

    async def together(self, names: Sequence[Any]) -> list[Any]:
        await self._enter(list(names))
        if self.broken & set(names):
            raise RuntimeError("something in this group broke")
        for index, name in enumerate(names):
            if name in self.refuse:
                raise InsufficientFunds(
                    "insufficient available funds", account_id=name, operation_index=index
                )
        return [f"posted {name}" for name in names]


async def settle() -> None:
    """Let every task that can run, run (a few hops of the event loop)."""
    for _ in range(10):
        await asyncio.sleep(0)


def group_commit(ledger: FakeLedger, lanes: int = 1, max_group: int = 100) -> GroupCommit:
    return GroupCommit(ledger.alone, ledger.together, lanes=lanes, max_group=max_group)


async def first_in_flight(commit: GroupCommit, ledger: FakeLedger) -> asyncio.Future[Any]:
    """Post ``first`` and hold it in the database (until ``ledger.release`` is set)."""
    ledger.release.clear()
    first = asyncio.ensure_future(commit.post("first"))  # type: ignore[arg-type]
    await settle()
    return first


async def post_while_busy(
    commit: GroupCommit, ledger: FakeLedger, names: Sequence[str]
) -> list[Any]:
    """Post ``first`` and hold it in the database while ``names`` arrive; then let go."""
    first = await first_in_flight(commit, ledger)
    rest = [asyncio.ensure_future(commit.post(name)) for name in names]  # type: ignore[arg-type]
    await settle()
    ledger.release.set()
    return list(await asyncio.gather(first, *rest, return_exceptions=True))


async def test_a_posting_that_finds_a_lane_free_goes_at_once_alone() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger)
    assert await commit.post("a") == "posted a"  # type: ignore[arg-type]
    assert await commit.post("b") == "posted b"  # type: ignore[arg-type]
    assert ledger.calls == [["a"], ["b"]]
    assert commit.groups_posted == 0


async def test_postings_that_wait_for_a_busy_lane_go_together_in_arrival_order() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger)
    outcomes = await post_while_busy(commit, ledger, ["b", "c", "d"])
    assert outcomes == ["posted first", "posted b", "posted c", "posted d"]
    assert ledger.calls == [["first"], ["b", "c", "d"]]
    assert commit.groups_posted == 1


async def test_groups_are_no_larger_than_the_limit() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger, max_group=2)
    outcomes = await post_while_busy(commit, ledger, ["b", "c", "d", "e", "f"])
    assert outcomes == [f"posted {name}" for name in ("first", "b", "c", "d", "e", "f")]
    assert ledger.calls == [["first"], ["b", "c"], ["d", "e"], ["f"]]


async def test_no_more_transactions_at_once_than_lanes() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger, lanes=2)
    ledger.release.clear()
    postings = []
    for n in range(6):
        postings.append(asyncio.ensure_future(commit.post(str(n))))  # type: ignore[arg-type]
        await settle()
    assert ledger.in_flight == 2
    ledger.release.set()
    assert await asyncio.gather(*postings) == [f"posted {n}" for n in range(6)]
    assert ledger.most_in_flight == 2
    assert ledger.calls == [["0"], ["1"], ["2", "3", "4", "5"]]


async def test_a_refusal_reaches_only_its_caller_and_the_rest_post_without_it() -> None:
    ledger = FakeLedger(refuse=["c", "e"])
    commit = group_commit(ledger)
    outcomes = await post_while_busy(commit, ledger, ["b", "c", "d", "e"])
    assert outcomes[:2] == ["posted first", "posted b"]
    assert outcomes[3] == "posted d"
    for refused, name in ((outcomes[2], "c"), (outcomes[4], "e")):
        assert isinstance(refused, InsufficientFunds)
        # the caller posted one operation: the group's numbering is not theirs
        assert refused.context == {"account_id": name}
    assert ledger.calls[1:] == [["b", "c", "d", "e"], ["b", "d", "e"], ["b", "d"]]


async def test_a_failure_that_names_nobody_is_sorted_out_by_posting_each_alone() -> None:
    ledger = FakeLedger(broken=["c"])
    commit = group_commit(ledger)
    outcomes = await post_while_busy(commit, ledger, ["b", "c", "d"])
    assert outcomes[:2] == ["posted first", "posted b"]
    assert isinstance(outcomes[2], RuntimeError)
    assert str(outcomes[2]) == "c broke"
    assert outcomes[3] == "posted d"
    assert ledger.calls[1:] == [["b", "c", "d"], ["b"], ["c"], ["d"]]


async def test_a_database_out_of_reach_is_everyones_at_once() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger)
    unreachable = DatabaseUnavailable("the database cannot be reached")

    async def together(names: Sequence[Any]) -> list[Any]:
        await ledger.together(names)
        raise unreachable

    commit = GroupCommit(ledger.alone, together, lanes=1, max_group=100)
    outcomes = await post_while_busy(commit, ledger, ["b", "c"])
    assert outcomes == ["posted first", unreachable, unreachable]
    assert ledger.calls[1:] == [["b", "c"]]  # not retried alone, one after the other


async def test_a_database_out_of_reach_one_by_one_is_not_waited_for_again() -> None:
    ledger = FakeLedger(broken=["b"])  # the group fails: one by one
    unreachable = DatabaseUnavailable("the database cannot be reached")

    async def alone(name: Any) -> Any:
        if name == "b":
            await ledger.alone("a")  # counted as a call, then the database is gone
            raise unreachable
        return await ledger.alone(name)

    commit = GroupCommit(alone, ledger.together, lanes=1, max_group=100)
    outcomes = await commit.post_in_order(["a", "b", "c", "d"])  # type: ignore[arg-type]
    assert outcomes == ["posted a", unreachable, unreachable, unreachable]
    assert ledger.calls == [["a", "b", "c", "d"], ["a"], ["a"]]  # c and d never tried


async def test_a_caller_cancelled_before_its_group_starts_is_not_posted() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger)
    first = await first_in_flight(commit, ledger)
    gone = asyncio.ensure_future(commit.post("gone"))  # type: ignore[arg-type]
    stays = asyncio.ensure_future(commit.post("stays"))  # type: ignore[arg-type]
    await settle()
    gone.cancel()
    ledger.release.set()
    assert await first == "posted first"
    assert await stays == "posted stays"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert ledger.calls == [["first"], ["stays"]]


async def test_a_caller_cancelled_in_flight_cuts_off_its_group_and_the_rest_go_again() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger)
    ledger.release.clear()
    # arriving in one burst, before the lane first runs: one group
    group = {name: asyncio.ensure_future(commit.post(name)) for name in "bcd"}  # type: ignore[arg-type]
    await settle()
    assert ledger.calls == [["b", "c", "d"]]
    assert ledger.in_flight == 1
    group["c"].cancel()
    await settle()
    ledger.release.set()
    assert [await group["b"], await group["d"]] == ["posted b", "posted d"]
    assert ledger.cut_off == [["b", "c", "d"]]
    assert ledger.calls == [["b", "c", "d"], ["b", "d"]]


async def test_a_caller_cancelled_in_flight_alone_cuts_off_its_posting() -> None:
    """A request cut off at its deadline leaves nothing written, as before group commit."""
    ledger = FakeLedger()
    commit = group_commit(ledger)
    ledger.release.clear()
    alone = asyncio.ensure_future(commit.post("alone"))  # type: ignore[arg-type]
    await settle()
    assert ledger.in_flight == 1
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    await settle()
    assert ledger.cut_off == [["alone"]]
    ledger.release.set()
    assert await commit.post("next") == "posted next"  # type: ignore[arg-type]


async def test_a_cancelled_caller_hears_of_it_once_its_statement_is_cancelled() -> None:
    """Cancelling a statement takes the database a round trip. Until then a statement
    waiting for a lock could still go on and commit, so the caller (a request cut off at
    its deadline, about to answer that nothing was written) waits for it."""
    ledger = FakeLedger()
    commit = group_commit(ledger)
    ledger.release.clear()
    ledger.cancelling.clear()
    alone = asyncio.ensure_future(commit.post("alone"))  # type: ignore[arg-type]
    await settle()
    alone.cancel()
    await settle()
    assert not alone.done()
    ledger.cancelling.set()
    with pytest.raises(asyncio.CancelledError):
        await alone
    assert ledger.cut_off == [["alone"]]


async def test_a_cancelled_caller_waits_for_its_statement_a_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(group_commit_module, "CANCELLED_WITHIN", 0.05)
    ledger = FakeLedger()
    commit = group_commit(ledger)
    ledger.release.clear()
    ledger.cancelling.clear()  # and the database never confirms
    alone = asyncio.ensure_future(commit.post("alone"))  # type: ignore[arg-type]
    await settle()
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(alone, 5)
    assert ledger.cut_off == []
    ledger.cancelling.set()
    await settle()


async def test_past_a_few_refusals_the_rest_of_a_group_goes_one_by_one() -> None:
    refused = ["r1", "r2", "r3", "r4", "r5"]
    ledger = FakeLedger(refuse=refused)
    commit = group_commit(ledger)
    names = ["a", "r1", "r2", "b", "r3", "r4", "c", "r5", "d"]
    outcomes = await post_while_busy(commit, ledger, names)
    assert outcomes[0] == "posted first"
    for name, outcome in zip(names, outcomes[1:], strict=True):
        if name in refused:
            assert isinstance(outcome, InsufficientFunds)
        else:
            assert outcome == f"posted {name}"
    assert REFUSALS_BEFORE_ONE_BY_ONE == 4
    assert ledger.calls[1:] == [
        ["a", "r1", "r2", "b", "r3", "r4", "c", "r5", "d"],
        ["a", "r2", "b", "r3", "r4", "c", "r5", "d"],
        ["a", "b", "r3", "r4", "c", "r5", "d"],
        ["a", "b", "r4", "c", "r5", "d"],
        ["a"],
        ["b"],
        ["c"],
        ["r5"],
        ["d"],  # four refused: one by one
    ]


async def test_in_order_posts_in_groups_one_after_the_other_each_with_its_outcome() -> None:
    ledger = FakeLedger(refuse=["r"], broken=["x"])
    commit = group_commit(ledger, lanes=4, max_group=3)
    outcomes = await commit.post_in_order(["a", "r", "b", "c", "x", "d", "e"])  # type: ignore[arg-type]
    assert [outcomes[0], outcomes[2], outcomes[3], outcomes[5], outcomes[6]] == [
        "posted a",
        "posted b",
        "posted c",
        "posted d",
        "posted e",
    ]
    assert isinstance(outcomes[1], InsufficientFunds)
    assert "operation_index" not in outcomes[1].context
    assert isinstance(outcomes[4], RuntimeError)
    assert str(outcomes[4]) == "x broke"
    assert ledger.calls == [
        ["a", "r", "b"],
        ["a", "b"],  # the first three; the refused one out
        ["c", "x", "d"],
        ["c"],
        ["x"],
        ["d"],  # a failure naming nobody: one by one
        ["e"],
    ]
    assert ledger.most_in_flight == 1  # one after the other


async def test_an_unforeseen_error_reaches_its_group_and_the_lane_goes_on() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger)
    post_group = commit._post_group
    bug = RuntimeError("a bug in grouping")

    async def buggy_for_first(group: list[Any]) -> None:
        if group[0].posting == "first":
            await ledger.release.wait()
            raise bug
        await post_group(group)

    commit._post_group = buggy_for_first  # type: ignore[method-assign]
    first = await first_in_flight(commit, ledger)
    queued = asyncio.ensure_future(commit.post("queued"))  # type: ignore[arg-type]
    await settle()
    ledger.release.set()
    with pytest.raises(RuntimeError, match="a bug in grouping"):
        await first
    assert await asyncio.wait_for(queued, timeout=2) == "posted queued"


async def test_a_lane_cancelled_at_shutdown_leaves_no_caller_waiting() -> None:
    ledger = FakeLedger()
    commit = group_commit(ledger)
    first = await first_in_flight(commit, ledger)
    queued = asyncio.ensure_future(commit.post("queued"))  # type: ignore[arg-type]
    await settle()
    for lane in list(commit._running):
        lane.cancel()
    await settle()
    assert first.cancelled()
    assert queued.cancelled()


def test_a_group_commit_needs_a_lane() -> None:
    ledger = FakeLedger()
    with pytest.raises(ValueError, match="lane"):
        GroupCommit(ledger.alone, ledger.together, lanes=0, max_group=10)
