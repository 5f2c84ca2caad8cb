from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "payments"))

from checkout_helpers import mount_checkout_router
from localstripe_fixtures import (  # noqa: F401 (fixtures)
    app_server,
    checkout_session_standin,
    localstripe_url,
    stripe_env,
)


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """The shared app with the checkout router mounted (until app.py includes it)."""
    mount_checkout_router(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as c:
        yield c
