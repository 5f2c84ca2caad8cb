"""Rate-limit counters (library ``limits``): Redis when configured, process memory otherwise.

A moving window per key: ``hit`` consumes, ``peek`` only looks, ``clear`` forgets. With Redis the
counters are shared by every process and host, so N replicas enforce one limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from mercato.settings import Settings


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_in: int  # seconds until the window frees a slot
    window: int = 0  # the window's length in seconds


def parse_limit(limit: str) -> RateLimitItem:
    """``"30/minute"`` → a limits item (raises ValueError on a malformed string)."""
    return parse(limit)


class Limiter:
    def __init__(self, settings: Settings) -> None:
        url = settings.redis_url.get_secret_value() if settings.redis_url else None
        self.backend = "redis" if url else "memory"
        self.storage: Storage = storage_from_string("async+" + url) if url else MemoryStorage()  # type: ignore[assignment]
        self.strategy = MovingWindowRateLimiter(self.storage)

    async def hit(self, limit: str, *key: str, cost: int = 1) -> Verdict:
        item = parse(limit)
        allowed = await self.strategy.hit(item, *key, cost=cost)
        stats = await self.strategy.get_window_stats(item, *key)
        return self._verdict(allowed, item, stats.remaining, stats.reset_time)

    async def peek(self, limit: str, *key: str) -> Verdict:
        item = parse(limit)
        stats = await self.strategy.get_window_stats(item, *key)
        return self._verdict(stats.remaining > 0, item, stats.remaining, stats.reset_time)

    async def clear(self, limit: str, *key: str) -> None:
        await self.strategy.clear(parse(limit), *key)

    @staticmethod
    def _verdict(allowed: bool, item: RateLimitItem, remaining: int, reset_time: float) -> Verdict:
        return Verdict(allowed, item.amount, max(0, remaining), max(1, math.ceil(reset_time - time.time())),
                       item.get_expiry())
