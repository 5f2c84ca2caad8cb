from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))


def _mount_orders(app: FastAPI) -> None:
    """Include the orders router and metrics until app.py does (idempotent)."""
    from mercato.orders import endpoints, metrics

    paths = {ctx.path for ctx in iter_route_contexts(app.routes)}
    if "/api/v1/orders/mine" not in paths and not getattr(app.state, "_orders_router_mounted", False):
        app.include_router(endpoints.router, prefix="/api/v1")
        app.state._orders_router_mounted = True
        app.openapi_schema = None
    metrics.install(app)


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    _mount_orders(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
