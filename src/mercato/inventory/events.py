"""Event types the inventory module publishes (through the transactional outbox).

Stock events use the aggregate ``("variant_inventory", variant_id)``: every writer holds the
locks of all the variant's levels, so events of one variant are produced (and relayed) in order.
Reservation events use ``("inventory_reservation", reservation_id)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.platform.events import publish

ADJUSTED = "inventory.adjusted"
RESERVED = "inventory.reserved"
RELEASED = "inventory.released"
COMMITTED = "inventory.committed"
LOW_STOCK = "inventory.low_stock"
OUT_OF_STOCK = "inventory.out_of_stock"
BACK_IN_STOCK = "inventory.back_in_stock"

ALL = (ADJUSTED, RESERVED, RELEASED, COMMITTED, LOW_STOCK, OUT_OF_STOCK, BACK_IN_STOCK)

STOCK_AGGREGATE = "variant_inventory"
RESERVATION_AGGREGATE = "inventory_reservation"


async def stock_event(session: AsyncSession, type: str, variant_id: Any, data: dict[str, Any]) -> None:
    await publish(session, type, aggregate_type=STOCK_AGGREGATE, aggregate_id=variant_id,
                  data={"variant_id": str(variant_id), **data})


async def reservation_event(session: AsyncSession, type: str, reservation_id: Any, data: dict[str, Any]) -> None:
    await publish(session, type, aggregate_type=RESERVATION_AGGREGATE, aggregate_id=reservation_id,
                  data={"reservation_id": str(reservation_id), **data})
