"""Payments test harness: the real app with the payments router, helpers to start payments and
count outbox events (read as the worker role: the runtime role cannot read the outbox)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from payments_helpers import STRIPE_TEST_KEY, WEBHOOK_SECRET
from sqlalchemy import text

from mercato.app import create_app
from mercato.payments.config import get_payment_settings
from mercato.platform import breaker
from mercato.platform.db import Database
from mercato.platform.embedded import DatabaseUrls
from mercato.settings import Settings


def build_app(settings: Settings, db_urls: DatabaseUrls) -> FastAPI:
    from mercato.platform import security

    security.configure_password_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    return create_app(settings, urls=db_urls, start_background=False)


@pytest_asyncio.fixture(scope="session")
async def app(db_urls: DatabaseUrls, settings: Settings):  # type: ignore[no-untyped-def]
    application = build_app(settings, db_urls)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def payment_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set payment settings for one test (``payment_env(stripe_secret_key=…)``); breakers start closed."""

    def configure(**values: Any) -> None:
        for name, value in values.items():
            env = f"MERCATO_{name.upper()}"
            if value is None:
                monkeypatch.delenv(env, raising=False)
            else:
                monkeypatch.setenv(env, str(value))
        get_payment_settings.cache_clear()
        breaker.reset_all()

    configure()
    yield configure
    monkeypatch.undo()
    get_payment_settings.cache_clear()
    breaker.reset_all()


@pytest.fixture(autouse=True)
def _closed_breakers() -> Iterator[None]:
    breaker.reset_all()
    yield
    breaker.reset_all()


@pytest.fixture
def outbox(worker_db: Database) -> Any:
    """``await outbox(tenant_id, payment_id)`` → the payment's events ``[{"type", "data"}]`` in order."""

    async def events(tenant_id: uuid.UUID, payment_id: uuid.UUID) -> list[dict[str, Any]]:
        async with worker_db.transaction() as s:
            rows = (await s.execute(text(
                "SELECT type, data FROM outbox WHERE tenant_id = :t AND aggregate_type = 'payment' "
                "AND aggregate_id = :p ORDER BY id"), {"t": tenant_id, "p": str(payment_id)})).mappings().all()
        return [{"type": r["type"], "data": r["data"]} for r in rows]

    return events


@pytest.fixture
def event_types(outbox: Any) -> Any:
    async def types(tenant_id: uuid.UUID, payment_id: uuid.UUID) -> list[str]:
        return [e["type"] for e in await outbox(tenant_id, payment_id)]

    return types


@pytest_asyncio.fixture
async def pay(db: Database) -> AsyncIterator[Any]:
    """``await pay(tenant_id, card_number=…, method=…, amount=…, currency=…)`` → PaymentResult (committed)."""
    import mercato.payments as payments

    async def start(tenant_id: uuid.UUID, *, method: str = "test", amount: int = 1999, currency: str = "USD",
                    card_number: str | None = "4242424242424242", payment_data: dict[str, Any] | None = None,
                    order_id: uuid.UUID | None = None, idempotency_key: str | None = None,
                    capture: bool = True) -> payments.PaymentResult:
        if payment_data is None:
            payment_data = {"card_number": card_number} if method == "test" else {}
        async with db.tenant_transaction(tenant_id) as s:
            return await payments.start_payment(
                s, order_id=order_id or uuid.uuid4(), amount=amount, currency=currency, method=method,
                payment_data=payment_data, idempotency_key=idempotency_key, capture=capture)

    yield start


# --------------------------------------------------------------------------- real servers on loopback



def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """localstripe (a fake, stateful Stripe) on a free loopback port, in a thread with its own loop."""
    aiohttp_web = pytest.importorskip("aiohttp.web")
    localstripe_server = pytest.importorskip("localstripe.server")
    loop = asyncio.new_event_loop()
    sock = _loopback_socket()
    port = sock.getsockname()[1]
    runner = aiohttp_web.AppRunner(localstripe_server.app, access_log=None)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(aiohttp_web.SockSite(runner, sock).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="localstripe", daemon=True)
    thread.start()
    assert ready.wait(10), "localstripe did not start"
    url = f"http://127.0.0.1:{port}"
    httpx.delete(f"{url}/_config/data", timeout=5).raise_for_status()
    yield url
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture(scope="session")
def app_server(db_urls: DatabaseUrls, settings: Settings) -> Iterator[str]:
    """The real app under uvicorn on a loopback port (its own loop, lifespan and pools), so
    localstripe can deliver webhooks over real HTTP."""
    application = build_app(settings, db_urls)
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="on", access_log=False))
    sock = _loopback_socket()
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


@pytest.fixture(scope="module")
def stripe_env(localstripe_url: str) -> Iterator[dict[str, str]]:
    """Stripe enabled against localstripe, for a whole module (the uvicorn app reads it too)."""
    values = {"MERCATO_STRIPE_SECRET_KEY": STRIPE_TEST_KEY, "MERCATO_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
              "MERCATO_STRIPE_API_BASE": localstripe_url, "MERCATO_PAYMENT_GATEWAY_TIMEOUT_SECONDS": "10"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_payment_settings.cache_clear()
    yield values
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_payment_settings.cache_clear()
