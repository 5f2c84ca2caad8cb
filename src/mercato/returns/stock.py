"""Restocking received units through the inventory module.

The inventory module's public face (``mercato/inventory/__init__.py``) does not export
``adjust`` / ``AdjustmentCreate`` yet; this is the one place that reaches them, through the
package's attributes, so the lead can swap it for the public names in one line once exported.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.inventory as inventory
from mercato.platform.security import Principal


async def restock(session: AsyncSession, variant_id: uuid.UUID, location_id: uuid.UUID, quantity: int, *,
                  reference: str, note: str | None = None, actor: Principal | None = None) -> Any:
    """``on_hand`` up by ``quantity`` at ``location_id``, with a ledger row of reason ``return``."""
    data = inventory.schemas.AdjustmentCreate(  # type: ignore[attr-defined]
        variant_id=variant_id, location_id=location_id, delta=quantity, reason="return", reference=reference[:200],
        note=note)
    return await inventory.service.adjust(session, data, actor=actor)  # type: ignore[attr-defined]
