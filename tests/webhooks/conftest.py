from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_helpers import Receiver, start_receiver


def _mount_webhooks(app: FastAPI) -> None:
    """Include the webhooks router until app.py does (idempotent)."""
    from mercato.webhooks import endpoints

    paths = {ctx.path for ctx in iter_route_contexts(app.routes)}
    if "/api/v1/webhook-endpoints" not in paths and not getattr(app.state, "_webhooks_router_mounted", False):
        app.include_router(endpoints.router, prefix="/api/v1")
        app.state._webhooks_router_mounted = True
        app.openapi_schema = None


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    _mount_webhooks(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r, runner = await start_receiver()
    try:
        yield r
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def receiver2() -> AsyncIterator[Receiver]:
    r, runner = await start_receiver()
    try:
        yield r
    finally:
        await runner.cleanup()
