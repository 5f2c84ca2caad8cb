"""Read cache: Redis when ``MERCATO_REDIS_URL`` is set, else process memory.

Invalidation is by *generation*: every cached key of a (tenant, namespace) embeds
that namespace's current generation number; a write calls :meth:`Cache.bump`,
after which every older entry is unreachable (and expires by TTL). This makes
"a price change is visible on the next read" true without tracking which keys a
write affects. Bump *after* the transaction commits (``bump_after_commit``) so a
concurrent reader cannot re-cache the old value under the new generation.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.settings import Settings


class _Memory:
    def __init__(self, max_items: int = 20_000) -> None:
        self.data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.max_items = max_items

    async def get(self, key: str) -> bytes | None:
        item = self.data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            self.data.pop(key, None)
            return None
        self.data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        self.data[key] = (time.monotonic() + ttl, value)
        self.data.move_to_end(key)
        while len(self.data) > self.max_items:
            self.data.popitem(last=False)

    async def incr(self, key: str) -> int:
        current = int((await self.get(key)) or b"0") + 1
        await self.set(key, str(current).encode(), 86400 * 30)
        return current

    async def close(self) -> None:
        return None


class _Redis:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)

    async def get(self, key: str) -> bytes | None:
        return await self.client.get(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        await self.client.set(key, value, ex=ttl)

    async def incr(self, key: str) -> int:
        return int(await self.client.incr(key))

    async def close(self) -> None:
        await self.client.aclose()


class Cache:
    def __init__(self, settings: Settings, prefix: str = "mercato") -> None:
        url = settings.redis_url.get_secret_value() if settings.redis_url else None
        self.backend: _Memory | _Redis = _Redis(url) if url else _Memory()
        self.prefix = prefix
        self.hits = 0
        self.misses = 0

    def _gen_key(self, tenant_id: uuid.UUID, namespace: str) -> str:
        return f"{self.prefix}:gen:{tenant_id}:{namespace}"

    async def _generation(self, tenant_id: uuid.UUID, namespace: str) -> int:
        raw = await self.backend.get(self._gen_key(tenant_id, namespace))
        return int(raw) if raw else 0

    async def get(self, tenant_id: uuid.UUID, namespace: str, key: str) -> Any | None:
        gen = await self._generation(tenant_id, namespace)
        raw = await self.backend.get(f"{self.prefix}:{tenant_id}:{namespace}:{gen}:{key}")
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return orjson.loads(raw)

    async def get_or_compute(self, tenant_id: uuid.UUID, namespace: str, key: str,
                             compute: Callable[[], Awaitable[Any]], ttl: int = 300) -> Any:
        """Read through the cache. The generation is read *before* computing, so a write that commits
        meanwhile bumps past it and the value computed from older data is stored where no reader looks."""
        gen = await self._generation(tenant_id, namespace)
        full_key = f"{self.prefix}:{tenant_id}:{namespace}:{gen}:{key}"
        raw = await self.backend.get(full_key)
        if raw is not None:
            self.hits += 1
            return orjson.loads(raw)
        self.misses += 1
        value = await compute()
        await self.backend.set(full_key, orjson.dumps(value, default=str), ttl)
        return value

    async def get_or_compute_bytes(self, tenant_id: uuid.UUID, namespace: str, key: str,
                                   compute: Callable[[], Awaitable[bytes]], ttl: int = 300) -> bytes:
        """Like :meth:`get_or_compute` for a value that is already serialized (e.g. a JSON response body):
        stored and returned as is — a hit costs no decoding and re-encoding."""
        gen = await self._generation(tenant_id, namespace)
        full_key = f"{self.prefix}:{tenant_id}:{namespace}:{gen}:{key}"
        raw = await self.backend.get(full_key)
        if raw is not None:
            self.hits += 1
            return raw
        self.misses += 1
        value = await compute()
        await self.backend.set(full_key, value, ttl)
        return value

    async def set(self, tenant_id: uuid.UUID, namespace: str, key: str, value: Any, ttl: int = 300) -> None:
        """Prefer :meth:`get_or_compute`: a plain get-then-set can store stale data under a newer generation."""
        gen = await self._generation(tenant_id, namespace)
        await self.backend.set(f"{self.prefix}:{tenant_id}:{namespace}:{gen}:{key}",
                               orjson.dumps(value, default=str), ttl)

    async def bump(self, tenant_id: uuid.UUID, namespace: str) -> None:
        await self.backend.incr(self._gen_key(tenant_id, namespace))

    def bump_after_commit(self, session: AsyncSession, tenant_id: uuid.UUID, namespace: str) -> None:
        """Invalidate ``namespace`` for the tenant once ``session`` commits (nothing on rollback).
        Applied by :meth:`apply_pending`, which the Database runs after every commit."""
        session.info.setdefault("cache_bumps", set()).add((tenant_id, namespace))

    async def apply_pending(self, session: AsyncSession) -> None:
        for tenant_id, namespace in session.info.pop("cache_bumps", set()):
            await self.bump(tenant_id, namespace)

    async def close(self) -> None:
        await self.backend.close()
