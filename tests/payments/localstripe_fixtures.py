"""Real Stripe-like servers on loopback for the tests that need them (payments and checkout):
localstripe, the app under uvicorn (so localstripe can deliver signed webhooks over real HTTP),
the environment that points the SDK at localstripe, and a stand-in for Checkout Sessions (which
localstripe does not implement).

Import the fixtures into a ``conftest.py`` (``from localstripe_fixtures import localstripe_url, …``).
"""

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

from mercato.app import create_app
from mercato.payments.config import get_payment_settings
from mercato.platform import breaker
from mercato.platform.embedded import DatabaseUrls
from mercato.settings import Settings


def build_app(settings: Settings, db_urls: DatabaseUrls) -> FastAPI:
    from mercato.platform import security

    security.configure_password_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    return create_app(settings, urls=db_urls, start_background=False)


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


#: localstripe's aiohttp app is a module-level singleton bound to the loop that first runs it: one
#: server per test process, shared by every directory whose conftest imports these fixtures.
_localstripe: dict[str, str] = {}
_localstripe_lock = threading.Lock()


def _start_localstripe() -> str:
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

    thread = threading.Thread(target=serve, name="localstripe", daemon=True)  # ends with the process
    thread.start()
    assert ready.wait(10), "localstripe did not start"
    url = f"http://127.0.0.1:{port}"
    httpx.delete(f"{url}/_config/data", timeout=5).raise_for_status()
    return url


@pytest.fixture(scope="session")
def localstripe_url() -> str:
    """localstripe (a fake, stateful Stripe) on a free loopback port, in a thread with its own loop."""
    with _localstripe_lock:
        if "url" not in _localstripe:
            _localstripe["url"] = _start_localstripe()
        return _localstripe["url"]


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


@pytest_asyncio.fixture
async def checkout_session_standin(stripe_env: dict[str, str]) -> AsyncIterator[dict[str, dict[str, Any]]]:
    """localstripe has no Checkout Sessions: a minimal stand-in serving the two calls we make
    (create, expire), answering like Stripe does, on a loopback port, used by the real SDK.
    Yields the sessions it created, by id."""
    from aiohttp import web

    sessions: dict[str, dict[str, Any]] = {}

    async def create(request: web.Request) -> web.Response:
        form = await request.post()
        sid = f"cs_test_{uuid.uuid4().hex}"
        sessions[sid] = {
            "id": sid, "object": "checkout.session", "status": "open", "payment_status": "unpaid", "mode": "payment",
            "url": f"https://checkout.stripe.com/c/pay/{sid}",
            "amount_total": int(str(form["line_items[0][price_data][unit_amount]"])),
            "currency": form["line_items[0][price_data][currency]"], "client_reference_id": form["client_reference_id"],
            "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"),
            "metadata": {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "payment_intent": None, "idempotency_key": request.headers.get("Idempotency-Key"),
        }
        return web.json_response(sessions[sid])

    async def expire(request: web.Request) -> web.Response:
        s = sessions[request.match_info["sid"]]
        s["status"] = "expired"
        return web.json_response(s)

    app = web.Application()
    app.router.add_post("/v1/checkout/sessions", create)
    app.router.add_post("/v1/checkout/sessions/{sid}/expire", expire)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    saved = os.environ.get("MERCATO_STRIPE_API_BASE")
    os.environ["MERCATO_STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"
    get_payment_settings.cache_clear()
    breaker.reset_all()
    try:
        yield sessions
    finally:
        os.environ["MERCATO_STRIPE_API_BASE"] = saved or stripe_env["MERCATO_STRIPE_API_BASE"]
        get_payment_settings.cache_clear()
        await runner.cleanup()
