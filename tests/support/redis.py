"""The Redis the tests use: database 15 of NEXUM_TEST_REDIS_URL's server (127.0.0.1:6379 by
default), checked before use; missing, it skips the test, or fails it under
NEXUM_TEST_REQUIRE_REDIS=1 (CI)."""

from __future__ import annotations

import os
import uuid

import pytest

REDIS_URL = os.environ.get("NEXUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def redis_problem() -> str | None:
    """Why Redis cannot be used, or None when it answers."""
    import redis.asyncio

    client = redis.asyncio.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        return f"Redis at {REDIS_URL} is not reachable: {exc}"
    finally:
        await client.aclose()
    return None


async def require_redis() -> None:
    problem = await redis_problem()
    if problem is not None:
        if os.environ.get("NEXUM_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(problem)
        pytest.skip(problem)


def named_redis_url(purpose: str) -> str:
    """The test Redis with a client name of its own, so a test can count its connections."""
    return f"{REDIS_URL}?client_name=nexum-{purpose}-{uuid.uuid4().hex[:12]}"
