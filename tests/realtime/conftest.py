from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from realtime_helpers import Served, serve_realtime


@pytest_asyncio.fixture
async def rt(settings, db_urls) -> AsyncIterator[Served]:  # type: ignore[no-untyped-def]
    """A fresh app with an in-process hub, served on a loopback port."""
    async with serve_realtime(settings, db_urls, heartbeat_seconds=30, idle_timeout_seconds=60,
                              auth_timeout_seconds=2.0) as served:
        yield served
