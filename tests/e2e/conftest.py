from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checkout"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cart"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fulfillment"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "webhooks"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "payments"))

from webhook_helpers import Receiver, start_receiver


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A merchant's webhook receiver on loopback (verifies Standard Webhooks signatures)."""
    r, runner = await start_receiver()
    try:
        yield r
    finally:
        await runner.cleanup()
