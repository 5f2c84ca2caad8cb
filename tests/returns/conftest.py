from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checkout"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))

from returns_helpers import STRIPE_KEY


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as c:
        yield c


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """localstripe (a fake, stateful Stripe) on a free loopback port, in a thread with its own loop."""
    aiohttp_web = pytest.importorskip("aiohttp.web")
    localstripe_server = pytest.importorskip("localstripe.server")
    loop = asyncio.new_event_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
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

    thread = threading.Thread(target=serve, name="localstripe-returns", daemon=True)
    thread.start()
    assert ready.wait(10), "localstripe did not start"
    url = f"http://127.0.0.1:{port}"
    httpx.delete(f"{url}/_config/data", timeout=5).raise_for_status()
    yield url
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def stripe_env(localstripe_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Stripe enabled against localstripe for one test."""
    from mercato.payments.config import get_payment_settings

    monkeypatch.setenv("MERCATO_STRIPE_SECRET_KEY", STRIPE_KEY)
    monkeypatch.setenv("MERCATO_STRIPE_API_BASE", localstripe_url)
    monkeypatch.setenv("MERCATO_PAYMENT_GATEWAY_TIMEOUT_SECONDS", "10")
    get_payment_settings.cache_clear()
    yield localstripe_url
    monkeypatch.undo()
    get_payment_settings.cache_clear()
