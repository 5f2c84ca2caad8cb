"""Login throttling per account and per IP, with in-process counters and with real Redis."""

from __future__ import annotations

import uuid

import pytest
from identity_helpers import customer_tokens, login, register
from pydantic import SecretStr

from mercato.platform.ratelimit import Limiter
from mercato.settings import Settings

API = "/api/v1"


async def _account_lockout(client, tenant, settings) -> None:  # type: ignore[no-untyped-def]
    user = await register(client, tenant)
    for _ in range(settings.login_max_failures_per_account):
        assert (await login(client, tenant, user["email"], "wrong password here")).status_code == 401
    r = await login(client, tenant, user["email"])  # even the right password waits now
    assert r.status_code == 429 and r.json()["code"] == "login_throttled"
    assert 0 < int(r.headers["Retry-After"]) <= settings.login_failure_window_seconds
    # another account from the same IP is not locked
    other = await register(client, tenant)
    assert (await login(client, tenant, other["email"])).status_code == 200


async def test_account_throttle_in_memory(client, tenant, settings) -> None:
    await _account_lockout(client, tenant, settings)


async def test_success_resets_the_account_counter(client, tenant, settings) -> None:
    tokens = await customer_tokens(client, tenant)
    email = tokens["user"]["email"]
    for _ in range(settings.login_max_failures_per_account - 1):
        await login(client, tenant, email, "wrong password here")
    assert (await login(client, tenant, email)).status_code == 200
    for _ in range(settings.login_max_failures_per_account - 1):
        await login(client, tenant, email, "wrong password here")
    assert (await login(client, tenant, email)).status_code == 200


async def test_ip_throttle(client, tenant, settings) -> None:
    user = await register(client, tenant)
    for _ in range(settings.login_max_failures_per_ip):
        r = await login(client, tenant, f"spray{uuid.uuid4().hex[:6]}@example.com", "wrong password here")
        assert r.status_code == 401
    r = await login(client, tenant, user["email"])
    assert r.status_code == 429 and r.json()["code"] == "login_throttled" and "Retry-After" in r.headers


async def _redis_reachable(url: str) -> bool:
    import redis.asyncio as redis

    try:
        async with redis.from_url(url) as r:
            return bool(await r.ping())
    except Exception:
        return False


async def test_account_throttle_with_redis(app, client, tenant, settings) -> None:
    url = "redis://127.0.0.1:6379/0"
    if not await _redis_reachable(url):
        pytest.skip("no Redis at 127.0.0.1:6379")
    limiter = Limiter(Settings(redis_url=SecretStr(url)))
    assert type(limiter.storage).__name__ != "MemoryStorage"
    original = app.state.limiter
    app.state.limiter = limiter
    try:
        await _account_lockout(client, tenant, settings)
    finally:
        app.state.limiter = original
