"""The shared cache on Redis (redis-py's asyncio client, from the ``full`` extra).

Every call is bounded by the client's socket timeouts, and every key the cache writes
expires; the generation counters it bumps are kept for a day after their last change,
longer than any cached answer lives.

Reads are coalesced: every ``get_many`` called in one turn of the event loop goes to Redis
in the next turn as a single MGET of all their keys (at most MAX_KEYS_PER_READ). Every
authenticated request reads its principal's cache entry, and a round trip through
redis-py costs about as much CPU as the rest of authentication; under load, the requests a
turn of the loop starts share one. A read is still sent after it was asked for, so it
sees every write that finished before: a revoked session is refused at once, as without
coalescing (docs/adr/0016-coalesced-cache-reads.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

GENERATION_TTL_SECONDS = 86_400
SOCKET_TIMEOUT_SECONDS = 0.5
MAX_KEYS_PER_READ = 512


class _Read:
    """The keys asked for in one turn of the event loop, and who waits for them."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}  # each distinct key, at its place in the MGET
        self.answer: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()

    def add(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.positions.setdefault(key, len(self.positions))

    def values_of(self, keys: Sequence[str], values: list[bytes | None]) -> list[bytes | None]:
        return [values[self.positions[key]] for key in keys]


class RedisCache:
    def __init__(self, url: str, *, max_connections: int) -> None:
        self._redis = Redis.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        self._gathering: _Read | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        read = self._gathering
        if read is None or len(read.positions) + len(keys) > MAX_KEYS_PER_READ:
            read = self._gathering = _Read()
            asyncio.get_running_loop().call_soon(self._send, read)
        read.add(keys)
        # shielded: one caller's cancellation must not cancel the answer the others wait for
        values = await asyncio.shield(read.answer)
        return read.values_of(keys, values)

    def _send(self, read: _Read) -> None:
        if self._gathering is read:
            self._gathering = None
        task = asyncio.create_task(self._mget(read))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _mget(self, read: _Read) -> None:
        try:
            values = await self._redis.mget(list(read.positions))
        except asyncio.CancelledError:
            read.answer.cancel()
            raise
        except Exception as failure:  # every waiter sees the failure
            read.answer.set_exception(failure)
            return
        read.answer.set_result(
            [value.encode() if isinstance(value, str) else value for value in values]
        )

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        await self._redis.set(key, value, ex=ttl_seconds)

    async def bump(self, key: str) -> int:
        async with self._redis.pipeline(transaction=True) as pipeline:
            pipeline.incr(key)
            pipeline.expire(key, GENERATION_TTL_SECONDS)
            value, _ = await pipeline.execute()
        return int(value)

    async def aclose(self) -> None:
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self._redis.aclose()
