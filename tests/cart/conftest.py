from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from commerce_helpers import commerce_client


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """The shared app with the carts/promotions/taxes/shipping routers mounted (until app.py includes them)."""
    async for c in commerce_client(app):
        yield c
