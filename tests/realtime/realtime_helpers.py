"""Real sockets for the real-time tests: a fresh app served by uvicorn on a loopback port, in
the test's own event loop (so it shares nothing with the session app but the database), and a
``websockets`` client.

(Named ``realtime_helpers``: test folders have no ``__init__``, basenames must be unique.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import mercato.realtime as realtime
from mercato.platform.events import Relay, publish
from mercato.platform.security import encode_jwt
from mercato.realtime.hub import Hub

API = "/api/v1"
REDIS_URL = "redis://127.0.0.1:6379/0"


def include_realtime_routes(app: FastAPI) -> None:
    """Until app.py includes them (the lead wires routers), add the real-time routes to ``app``."""
    paths = {ctx.path for ctx in iter_route_contexts(app.routes)}
    if "/ws" in paths:
        return
    from mercato.realtime import endpoints

    app.include_router(endpoints.router)
    app.include_router(endpoints.api_router, prefix=API)


@dataclass
class Served:
    app: FastAPI
    hub: Hub
    ws_url: str
    http_url: str

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.http_url, timeout=10)


@contextlib.asynccontextmanager
async def serve_realtime(settings: Any, db_urls: Any, *, redis_url: str | None = None,
                         **hub_options: Any) -> AsyncIterator[Served]:
    """A fresh app (own DB pool, own hub) behind uvicorn on 127.0.0.1:<free port>."""
    from mercato.app import create_app

    app = create_app(settings, urls=db_urls, start_background=False)
    include_realtime_routes(app)
    async with app.router.lifespan_context(app):
        await realtime.stop_hub(app)  # whatever install() started: this test chooses its hub
        hub = await realtime.start_hub(app, Hub(redis_url, name=f"test-{uuid.uuid4().hex[:6]}", **hub_options))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", ws_ping_interval=None))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        try:
            yield Served(app, hub, f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}")
        finally:
            await realtime.stop_hub(app)  # closes every socket with 1001 first
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=10)
            sock.close()


# --------------------------------------------------------------------------- websocket client


async def open_socket(url: str, token: str | None = None, **headers: str) -> ClientConnection:
    target = f"{url}?token={token}" if token else url
    return await connect(target, open_timeout=5, additional_headers=headers or None, ping_interval=None)


async def recv(ws: ClientConnection, within: float = 5.0, *, skip_pings: bool = True) -> dict[str, Any]:
    """The next message (server pings skipped unless asked for); TimeoutError after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        left = deadline - asyncio.get_running_loop().time()
        raw = await asyncio.wait_for(ws.recv(), timeout=max(0.01, left))
        message = orjson.loads(raw)
        if skip_pings and message.get("type") == "ping":
            continue
        return message


async def authenticated(ws: ClientConnection) -> dict[str, Any]:
    message = await recv(ws)
    assert message["type"] == "authenticated", message
    return message


async def closed_with(ws: ClientConnection, within: float = 8.0) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, f"connection dropped without a close frame: {exc!r}"
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("unreachable")


async def drain_messages(ws: ClientConnection, wait: float = 0.4) -> list[dict[str, Any]]:
    """Every non-ping message that arrives within ``wait`` seconds."""
    out: list[dict[str, Any]] = []
    try:
        while True:
            out.append(await recv(ws, within=wait))
    except TimeoutError:
        return out


async def messages_until(ws: ClientConnection, expected_event_ids: set[str], within: float = 5.0,
                         settle: float = 0.3) -> list[dict[str, Any]]:
    """Read until every expected event arrived (or ``within`` passed), then ``settle`` seconds more
    so that anything unexpected sent in the same fan-out is caught too."""
    out: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + within

    def missing() -> set[str]:
        return expected_event_ids - {m["event"]["id"] for m in out if m.get("type") == "event"}

    while missing():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        try:
            out.append(await recv(ws, within=left))
        except TimeoutError:
            break
    return out + await drain_messages(ws, wait=settle)


async def subscribe(ws: ClientConnection, room: str) -> dict[str, Any]:
    await ws.send(orjson.dumps({"type": "subscribe", "room": room}).decode())
    return await recv(ws)


# --------------------------------------------------------------------------- people and events


async def customer(client: httpx.AsyncClient, tenant: Any) -> dict[str, Any]:
    """A customer registered and logged in through the identity API."""
    email = f"c{uuid.uuid4().hex[:10]}@example.com"
    password = "a perfectly fine passphrase"
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers, json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = await client.post(f"{API}/auth/login", headers=tenant.host_headers, json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"token": r.json()["access_token"], "user_id": uuid.UUID(user_id), "email": email}


async def staff(client: httpx.AsyncClient, db: Any, tenant: Any, role: str = "merchant") -> dict[str, Any]:
    """A staff member (created directly; merchant/support need no MFA) logged in through the API."""
    import mercato.identity as identity

    email = f"s{uuid.uuid4().hex[:10]}@example.com"
    password = "another fine passphrase"
    async with db.tenant_transaction(tenant.id) as s:
        user = await identity.create_user(s, tenant_id=tenant.id, email=email, role=role, password=password,
                                          email_verified=True)
        user_id = user.id
    r = await client.post(f"{API}/auth/login", headers=tenant.host_headers, json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"token": r.json()["access_token"], "user_id": user_id, "email": email}


def user_token(settings: Any, tenant_id: uuid.UUID, user_id: uuid.UUID, ttl: int = 300) -> str:
    return encode_jwt({"sub": str(user_id), "tid": str(tenant_id), "typ": "access"},
                      settings.secret_key.get_secret_value(), ttl)


async def operator_token(db: Any, settings: Any) -> str:
    from mercato.platform.security import hash_password

    op_id = uuid.uuid4()
    async with db.platform_transaction() as s:
        await s.execute(text("INSERT INTO platform_operators (id, email, password_hash) VALUES (:i, :e, :h)"),
                        {"i": op_id, "e": f"op-{op_id.hex[:8]}@platform.example.com", "h": hash_password("x" * 12)})
    return encode_jwt({"sub": str(op_id), "kind": "operator", "typ": "access"},
                      settings.secret_key.get_secret_value(), 300)


async def emit(db: Any, tenant_id: uuid.UUID, type_: str, data: dict[str, Any], *,
               aggregate_type: str | None = None, aggregate_id: Any = None) -> uuid.UUID:
    """Write an event into the outbox, as the owning module would, in a committed transaction."""
    async with db.tenant_transaction(tenant_id) as s:
        return await publish(s, type_, aggregate_type=aggregate_type or type_.split(".", 1)[0],
                             aggregate_id=aggregate_id or uuid.uuid4(), data=data)


async def relay(worker_db: Any, db: Any) -> None:
    """Run the outbox relay until nothing more is due (what the worker does continuously)."""
    await Relay(worker_db, db).drain()


def require_service(available: bool, what: str) -> None:
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not running")


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
        return True
    except Exception:
        return False
