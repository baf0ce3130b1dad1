"""The Redis adapter of the shared cache: reads asked for in one turn of the event loop go
to Redis as one MGET, and each caller gets exactly its own keys' values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from core_banking.cache import redis_cache
from core_banking.cache.redis_cache import RedisCache


class CountingMget:
    """Wraps the client's MGET to count the commands sent and the keys each carried; with
    ``hold_first``, the first command's answer is handed back only once it is set."""

    def __init__(self, cache: RedisCache, hold_first: asyncio.Event | None = None) -> None:
        self.commands: list[list[str]] = []
        self.first_sent = asyncio.Event()
        self._hold_first = hold_first
        client = cache._redis
        self._mget = client.mget
        client.mget = self  # type: ignore[method-assign, assignment]

    async def __call__(self, keys: Sequence[str]) -> Any:
        self.commands.append(list(keys))
        values = await self._mget(keys)
        if len(self.commands) == 1:
            self.first_sent.set()
            if self._hold_first is not None:
                await self._hold_first.wait()
        return values


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_url, max_connections=8)
    try:
        yield cache
    finally:
        await cache.aclose()


async def test_reads_in_one_turn_share_one_mget_and_each_gets_its_own_values(
    cache: RedisCache,
) -> None:
    prefix = f"test:coalesce:{id(cache)}"
    for number in range(20):
        await cache.put(f"{prefix}:{number}", str(number).encode(), 60)
    mget = CountingMget(cache)

    answers = await asyncio.gather(
        *(
            cache.get_many([f"{prefix}:{number}", f"{prefix}:shared", f"{prefix}:{number + 1}"])
            for number in range(19)
        )
    )

    assert len(mget.commands) == 1
    assert len(mget.commands[0]) == 21  # every distinct key once: 0..19 and "shared"
    for number, answer in enumerate(answers):
        assert answer == [str(number).encode(), None, str(number + 1).encode()]


async def test_a_read_sees_a_write_that_finished_before_it_was_asked_for(
    cache: RedisCache,
) -> None:
    """A read never joins one already sent: that one may have left before the write."""
    key = f"test:coalesce:fresh:{id(cache)}"
    await cache.put(key, b"old", 60)
    held = asyncio.Event()
    mget = CountingMget(cache, hold_first=held)
    first = asyncio.ensure_future(cache.get_many([key]))
    await mget.first_sent.wait()  # answered by Redis, not yet handed back
    await cache.put(key, b"new", 60)

    assert await asyncio.wait_for(cache.get_many([key]), 5) == [b"new"]
    held.set()
    assert await first == [b"old"]


async def test_reads_beyond_the_limit_go_in_several_commands(
    cache: RedisCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_cache, "MAX_KEYS_PER_READ", 4)
    mget = CountingMget(cache)
    keys = [[f"test:coalesce:limit:{reader}:{key}" for key in range(2)] for reader in range(5)]

    answers = await asyncio.gather(*(cache.get_many(batch) for batch in keys))

    assert answers == [[None] * 2] * 5
    assert [len(command) for command in mget.commands] == [4, 4, 2]


async def test_a_cancelled_reader_leaves_the_read_to_the_others(cache: RedisCache) -> None:
    key = f"test:coalesce:cancel:{id(cache)}"
    await cache.put(key, b"value", 60)
    mget = CountingMget(cache)
    cancelled = asyncio.ensure_future(cache.get_many([key]))
    kept = asyncio.ensure_future(cache.get_many([key]))
    await asyncio.sleep(0)  # both have asked
    cancelled.cancel()

    assert await kept == [b"value"]
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert len(mget.commands) == 1


async def test_a_failed_read_reaches_every_reader() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", max_connections=2)  # nothing listens there
    try:
        outcomes = await asyncio.gather(
            *(cache.get_many([f"key:{number}"]) for number in range(3)),
            return_exceptions=True,
        )
    finally:
        await cache.aclose()
    assert len(outcomes) == 3
    assert all(isinstance(outcome, Exception) for outcome in outcomes)
