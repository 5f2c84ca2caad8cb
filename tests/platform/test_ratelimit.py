"""Rate limits per IP, principal and tenant, per route class — in memory and on the machine's Redis."""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from mercato.app import create_app
from mercato.platform.ratelimit import Limiter
from mercato.settings import Settings

REDIS_URL = os.environ.get("MERCATO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POLICY = re.compile(r'^"(?P<name>[a-z]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
STATE = re.compile(r'^"(?P<name>[a-z]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "redis" and not _redis_reachable():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis at {REDIS_URL} is required in CI")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable (start it to run the Redis variant)")
    return str(request.param)


@asynccontextmanager
async def limited_app(settings: Settings, db_urls: Any, backend: str, **overrides: Any) -> AsyncIterator[FastAPI]:
    values: dict[str, Any] = {"rate_limit_enabled": True, "rate_limit_reads": "3/minute",
                              "rate_limit_writes": "2/minute", "rate_limit_auth": "2/minute",
                              "rate_limit_tenant": "100/minute",
                              "redis_url": SecretStr(REDIS_URL) if backend == "redis" else None}
    values.update(overrides)
    s = settings.model_copy(update=values)
    app = create_app(s, urls=db_urls, start_background=False)
    assert app.state.limiter.backend == backend
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, ip: str | None = None) -> httpx.AsyncClient:
    # A fresh address per client: Redis keeps counters between runs and tests.
    ip = ip or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def parse_headers(r: httpx.Response) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    policies, states = {}, {}
    for item in r.headers["ratelimit-policy"].split(", "):
        m = POLICY.match(item)
        assert m, r.headers["ratelimit-policy"]
        policies[m["name"]] = {"q": int(m["q"]), "w": int(m["w"])}
    for item in r.headers["ratelimit"].split(", "):
        m = STATE.match(item)
        assert m, r.headers["ratelimit"]
        states[m["name"]] = {"r": int(m["r"]), "t": int(m["t"])}
    return policies, states


async def test_reads_per_ip_with_headers_then_429(settings: Settings, db_urls: Any, backend: str) -> None:
    async with limited_app(settings, db_urls, backend) as app, client_for(app) as c:
        remaining = []
        for _ in range(3):
            r = await c.get(f"/api/v1/tenants/{uuid.uuid4()}")
            assert r.status_code == 401
            policies, states = parse_headers(r)
            assert policies == {"reads": {"q": 3, "w": 60}}
            assert 0 < states["reads"]["t"] <= 60
            remaining.append(states["reads"]["r"])
        assert remaining == [2, 1, 0]
        r = await c.get("/api/v1/tenants")
        assert r.status_code == 429
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "rate_limited" and body["request_id"] == r.headers["x-request-id"]
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert parse_headers(r)[1]["reads"]["r"] == 0
        assert r.headers["x-content-type-options"] == "nosniff"
        # Another address is unaffected; infrastructure routes are never limited.
        async with client_for(app) as other:
            assert (await other.get("/api/v1/tenants")).status_code == 401
        for _ in range(5):
            h = await c.get("/health")
            assert h.status_code == 200 and "ratelimit" not in h.headers


async def test_route_classes_have_separate_budgets(settings: Settings, db_urls: Any, backend: str) -> None:
    async with limited_app(settings, db_urls, backend) as app, client_for(app) as c:
        for _ in range(2):
            r = await c.post("/api/v1/tenants", json={})
            assert r.status_code != 429 and parse_headers(r)[0] == {"writes": {"q": 2, "w": 60}}
        assert (await c.post("/api/v1/tenants", json={})).status_code == 429
        assert (await c.get("/api/v1/tenants")).status_code == 401  # reads still open
        for _ in range(2):
            r = await c.post("/api/v1/auth/login", json={})
            assert r.status_code != 429 and "auth" in parse_headers(r)[0]
        r = await c.post("/api/v1/auth/login", json={})
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"


async def test_per_principal_limit_across_addresses(settings: Settings, db_urls: Any, backend: str,
                                                    tenant) -> None:  # type: ignore[no-untyped-def]
    async with limited_app(settings, db_urls, backend, rate_limit_reads="3/minute") as app:
        statuses = []
        for _ in range(4):
            async with client_for(app) as c:  # a new IP each time: only the principal is shared
                r = await c.get("/api/v1/tenants", headers=tenant.admin_headers)
                statuses.append(r.status_code)
        assert statuses == [403, 403, 403, 429], statuses
        assert "caller" in r.json()["detail"]
        assert parse_headers(r)[1]["reads"]["r"] == 0
        async with client_for(app) as c:  # anonymous from a fresh address is not this principal
            assert (await c.get("/api/v1/tenants")).status_code == 401


async def test_per_tenant_limit_across_principals(settings: Settings, db_urls: Any, backend: str,
                                                  make_tenant) -> None:  # type: ignore[no-untyped-def]
    t1, t2 = await make_tenant(), await make_tenant()
    async with limited_app(settings, db_urls, backend, rate_limit_reads="100/minute",
                           rate_limit_tenant="4/minute") as app:
        statuses = []
        for i in range(5):
            headers = t1.admin_headers if i % 2 == 0 else t1.storefront_headers
            async with client_for(app) as c:
                r = await c.get("/api/v1/tenants", headers=headers)
                statuses.append(r.status_code)
                if r.status_code != 429:
                    assert "tenant" in parse_headers(r)[0]
        assert statuses == [403, 403, 403, 403, 429], statuses
        assert r.json()["policy"] == "tenant"
        policies, states = parse_headers(r)
        assert policies["tenant"] == {"q": 4, "w": 60} and states["tenant"]["r"] == 0
        async with client_for(app) as c:  # the other shop has its own budget
            assert (await c.get("/api/v1/tenants", headers=t2.admin_headers)).status_code == 403


async def test_disabled_means_no_headers_and_no_limit(settings: Settings, db_urls: Any) -> None:
    assert settings.rate_limit_enabled is False  # the suite's default
    app = create_app(settings.model_copy(update={"rate_limit_reads": "1/minute"}), urls=db_urls,
                     start_background=False)
    async with app.router.lifespan_context(app), client_for(app) as c:
        for _ in range(3):
            r = await c.get("/api/v1/tenants")
            assert r.status_code == 401 and "ratelimit" not in r.headers


async def test_limiter_outage_fails_open(settings: Settings, db_urls: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with limited_app(settings, db_urls, "redis", redis_url=SecretStr(f"redis://127.0.0.1:{port}/0"),
                           rate_limit_reads="1/minute") as app, client_for(app) as c:
        for _ in range(3):
            r = await c.get("/api/v1/tenants")
            assert r.status_code == 401 and "ratelimit" not in r.headers


async def test_limiter_hit_peek_clear(settings: Settings, backend: str) -> None:
    s = settings.model_copy(update={"redis_url": SecretStr(REDIS_URL) if backend == "redis" else None})
    limiter = Limiter(s)
    key = uuid.uuid4().hex
    assert (await limiter.peek("2/minute", "t", key)).remaining == 2
    v1, v2, v3 = [await limiter.hit("2/minute", "t", key) for _ in range(3)]
    assert (v1.allowed, v1.remaining, v1.window) == (True, 1, 60)
    assert (v2.allowed, v2.remaining) == (True, 0)
    assert not v3.allowed and 1 <= v3.reset_in <= 60
    assert not (await limiter.peek("2/minute", "t", key)).allowed
    await limiter.clear("2/minute", "t", key)
    assert (await limiter.peek("2/minute", "t", key)).allowed
