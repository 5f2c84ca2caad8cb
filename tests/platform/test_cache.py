"""Generation-based cache invalidation, in memory and in Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from mercato.platform.cache import Cache
from mercato.settings import Settings


def _redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/14", socket_connect_timeout=0.5).ping()
        return True
    except Exception:
        return False


BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
async def cache(request):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        if not _redis_available():
            if os.environ.get("CI") == "true":
                pytest.fail("Redis on 127.0.0.1:6379 is down in CI")
            pytest.skip("Redis on 127.0.0.1:6379 is not running")
        c = Cache(Settings(redis_url="redis://127.0.0.1:6379/14"), prefix=f"test-{uuid.uuid4().hex[:8]}")
    else:
        c = Cache(Settings())
    yield c
    await c.close()


async def test_bump_invalidates_only_that_tenant_and_namespace(cache: Cache) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await cache.set(a, "catalog", "k", {"v": 1})
    await cache.set(b, "catalog", "k", {"v": 2})
    await cache.set(a, "other", "k", {"v": 3})
    assert await cache.get(a, "catalog", "k") == {"v": 1}
    await cache.bump(a, "catalog")
    assert await cache.get(a, "catalog", "k") is None
    assert await cache.get(b, "catalog", "k") == {"v": 2}
    assert await cache.get(a, "other", "k") == {"v": 3}


async def test_value_computed_during_a_write_is_not_served_afterwards(cache: Cache) -> None:
    tenant = uuid.uuid4()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_old_read() -> dict:
        started.set()
        await release.wait()
        return {"price": 100}  # read before the write committed

    reader = asyncio.create_task(cache.get_or_compute(tenant, "catalog", "p", slow_old_read))
    await started.wait()
    await cache.bump(tenant, "catalog")  # the write commits and invalidates meanwhile
    release.set()
    assert await reader == {"price": 100}

    async def fresh() -> dict:
        return {"price": 120}

    assert await cache.get_or_compute(tenant, "catalog", "p", fresh) == {"price": 120}
    assert await cache.get_or_compute(tenant, "catalog", "p", slow_old_read) == {"price": 120}  # cached


async def test_serialized_value_computed_during_a_write_is_not_served_afterwards(cache: Cache) -> None:
    """The bytes form (listing and search responses are cached as their JSON body) keeps the same rule."""
    tenant = uuid.uuid4()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_old_read() -> bytes:
        started.set()
        await release.wait()
        return b'{"price":100}'

    reader = asyncio.create_task(cache.get_or_compute_bytes(tenant, "catalog", "p", slow_old_read))
    await started.wait()
    await cache.bump(tenant, "catalog")
    release.set()
    assert await reader == b'{"price":100}'

    async def fresh() -> bytes:
        return b'{"price":120}'

    assert await cache.get_or_compute_bytes(tenant, "catalog", "p", fresh) == b'{"price":120}'
    assert await cache.get_or_compute_bytes(tenant, "catalog", "p", slow_old_read) == b'{"price":120}'
    assert cache.hits >= 1


async def test_invalidation_waits_for_commit(db, tenant, app) -> None:  # type: ignore[no-untyped-def]
    cache: Cache = app.state.cache
    await cache.set(tenant.id, "catalog", "x", 1)
    with pytest.raises(RuntimeError):
        async with db.tenant_transaction(tenant.id) as s:
            cache.bump_after_commit(s, tenant.id, "catalog")
            raise RuntimeError("rolled back")
    assert await cache.get(tenant.id, "catalog", "x") == 1
    async with db.tenant_transaction(tenant.id) as s:
        cache.bump_after_commit(s, tenant.id, "catalog")
        assert await cache.get(tenant.id, "catalog", "x") == 1  # not before commit
    assert await cache.get(tenant.id, "catalog", "x") is None
