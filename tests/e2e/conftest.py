from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checkout"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fulfillment"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "webhooks"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "payments"))

from checkout_helpers import mount_checkout_router
from webhook_helpers import Receiver, start_receiver


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    mount_checkout_router(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as c:
        yield c


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A merchant's webhook receiver on loopback (verifies Standard Webhooks signatures)."""
    r, runner = await start_receiver()
    try:
        yield r
    finally:
        await runner.cleanup()
