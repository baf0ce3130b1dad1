"""Rate limits per minute, with the `limits` library: moving windows kept in Redis when
NEXUM_REDIS_URL is set (shared by every API process), in memory otherwise.

Three budgets: ``global`` for every request of a principal, ``transactions`` for its
money-moving requests, ``auth`` for login and set-up attempts per client address. Requests
that fail authentication count against their client address's global budget, so guessing
tokens is throttled too. A refusal is 429 with Retry-After.
"""

from __future__ import annotations

import math
import time
from enum import StrEnum

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from core_banking.api.problems import ProblemError
from core_banking.config import Settings


class Budget(StrEnum):
    GLOBAL = "global"
    TRANSACTIONS = "transactions"
    AUTH = "auth"


class RateLimiter:
    def __init__(self, config: Settings) -> None:
        self.enabled = config.enable_rate_limiting
        self.shared = config.redis_url is not None
        uri = "async+" + config.redis_url if config.redis_url is not None else "async+memory://"
        options = {"implementation": "redispy"} if config.redis_url is not None else {}
        storage = storage_from_string(uri, **options)
        if not isinstance(storage, AsyncStorage):
            raise TypeError(f"{uri} is not an asyncio storage")
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._items: dict[Budget, RateLimitItem] = {
            Budget.GLOBAL: RateLimitItemPerMinute(config.rate_limit_global),
            Budget.TRANSACTIONS: RateLimitItemPerMinute(config.rate_limit_transactions),
            Budget.AUTH: RateLimitItemPerMinute(config.rate_limit_auth),
        }

    async def spend(self, budget: Budget, identity: str) -> None:
        """Count one request against ``identity``'s budget, or refuse it with 429."""
        if not self.enabled:
            return
        item = self._items[budget]
        if await self._strategy.hit(item, budget.value, identity):
            return
        stats = await self._strategy.get_window_stats(item, budget.value, identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ProblemError(
            429,
            "rate_limited",
            f"more than {item.amount} {budget.value} requests a minute; try again later",
            headers={"Retry-After": str(retry_after)},
            budget=budget.value,
        )

    async def reset(self) -> None:
        await self._storage.reset()

    async def aclose(self) -> None:
        """Close the Redis connection pool, when there is one."""
        bridge = getattr(self._storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None:
            await client.aclose()
