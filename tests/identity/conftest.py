"""Identity fixtures: a client with its own IP, since login throttling counts failures per IP."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    # A random client IP per test keeps per-IP login throttling of one test out of the others.
    ip = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.ip = ip  # type: ignore[attr-defined]
        yield c


