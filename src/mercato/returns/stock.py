"""Restocking received units through the inventory module (``inventory.adjust``, reason ``return``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.inventory as inventory
from mercato.platform.security import Principal


async def restock(session: AsyncSession, variant_id: uuid.UUID, location_id: uuid.UUID, quantity: int, *,
                  reference: str, note: str | None = None, actor: Principal | None = None) -> Any:
    """``on_hand`` up by ``quantity`` at ``location_id``, with a ledger row of reason ``return``."""
    data = inventory.AdjustmentCreate(
        variant_id=variant_id, location_id=location_id, delta=quantity, reason="return", reference=reference[:200],
        note=note)
    return await inventory.adjust(session, data, actor=actor)
