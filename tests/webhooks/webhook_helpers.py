"""Shared by the webhooks tests: a real HTTP receiver on loopback, events, outbox reads.

(Named ``webhook_helpers``: test directories have no ``__init__``, so helper module names
must be unique across the tests tree.)
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import text
from standardwebhooks import Webhook, WebhookVerificationError

from mercato.platform.db import Database
from mercato.platform.events import Relay, publish

API = "/api/v1"



@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A merchant's webhook receiver (aiohttp on 127.0.0.1): answers with ``script`` in order
    (then ``default``), verifies every request with the ``standardwebhooks`` library (not with
    Mercato's code) and hands each *verified, accepted* message once to its handler, deduped
    on ``webhook-id`` — the way the docs tell merchants to build one."""

    port: int = 0
    secret: str | None = None
    script: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, str, dict[str, str]] = (200, "ok", {})
    requests: list[Received] = field(default_factory=list)
    handled: list[dict[str, Any]] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    verify_errors: list[str] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering (a slow receiver)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/mercato"

    def respond(self, *statuses: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        self.script += [(s, body or f"status {s}", headers or {}) for s in statuses]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        status, text_, headers = self.script.pop(0) if self.script else self.default
        self.requests.append(Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body, status))
        if 200 <= status < 300 and self.secret:
            try:
                payload = Webhook(self.secret).verify(body, dict(request.headers))
            except WebhookVerificationError as exc:
                self.verify_errors.append(str(exc))
                return web.Response(status=401, text="bad signature")
            msg_id = request.headers["webhook-id"]
            if msg_id not in self.seen_ids:  # dedup: a retry or replay of a handled message is a no-op
                self.seen_ids.add(msg_id)
                self.handled.append(payload)
        return web.Response(status=status, text=text_, headers=headers)


async def start_receiver() -> tuple[Receiver, web.AppRunner]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return receiver, runner


async def emit(db: Database, tenant_id: uuid.UUID, type_: str, data: dict[str, Any] | None = None,
               aggregate_id: Any = None) -> uuid.UUID:
    """Publish an event the way a module does (in a tenant transaction)."""
    async with db.tenant_transaction(tenant_id) as s:
        return await publish(s, type_, aggregate_type=type_.split(".")[0], aggregate_id=aggregate_id or uuid.uuid4(),
                             data=data or {})


async def relay(db: Database, worker_db: Database) -> None:
    """Run the outbox relay until it has nothing left (the fan-out subscriber creates deliveries)."""
    await Relay(worker_db, db, base_retry_delay=0.01).drain()


async def outbox(worker_db: Database, tenant_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    async with worker_db.transaction() as s:
        rows = await s.execute(text("SELECT type, data FROM outbox WHERE tenant_id = :t ORDER BY id"), {"t": tenant_id})
        return [(r[0], r[1]) for r in rows]


def now() -> datetime:
    return datetime.now(UTC)


async def create_endpoint(client: Any, tenant: Any, url: str, **body: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/webhook-endpoints", json={"url": url, **body}, headers=tenant.admin_headers)
    assert r.status_code == 201, r.text
    return r.json()


async def deliveries(client: Any, tenant: Any, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/webhook-endpoints/{endpoint_id}/deliveries", params={"limit": 100, **params},
                         headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]
