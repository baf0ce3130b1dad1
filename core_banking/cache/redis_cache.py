"""The shared cache on Redis (redis-py's asyncio client, from the ``full`` extra).

Every call is bounded by the client's socket timeouts, and every key the cache writes
expires; the generation counters it bumps are kept for a day after their last change,
longer than any cached answer lives.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

GENERATION_TTL_SECONDS = 86_400
SOCKET_TIMEOUT_SECONDS = 0.5


class RedisCache:
    def __init__(self, url: str, *, max_connections: int) -> None:
        self._redis = Redis.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        values = await self._redis.mget(keys)
        return [value.encode() if isinstance(value, str) else value for value in values]

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        await self._redis.set(key, value, ex=ttl_seconds)

    async def bump(self, key: str) -> int:
        async with self._redis.pipeline(transaction=True) as pipeline:
            pipeline.incr(key)
            pipeline.expire(key, GENERATION_TTL_SECONDS)
            value, _ = await pipeline.execute()
        return int(value)

    async def aclose(self) -> None:
        await self._redis.aclose()
