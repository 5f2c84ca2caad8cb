"""Reactions to other modules' events (registered on import of :mod:`mercato.fulfillment`)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.fulfillment import domain, repository
from mercato.fulfillment.domain import ShipmentStatus
from mercato.fulfillment.service.common import move
from mercato.platform.events import Event, handler

log = logging.getLogger("mercato.fulfillment")


@handler("order.cancelled", name="fulfillment.cancel_open_shipments")
async def cancel_open_shipments(session: AsyncSession, event: Event) -> None:
    """A cancelled order ships nothing: its parcels still in the warehouse are cancelled (once:
    the handler is deduplicated on the event id, and a parcel already cancelled is skipped)."""
    try:
        order_id = uuid.UUID(str(event.data.get("order_id")))
    except ValueError:
        log.warning("order.cancelled %s without a usable order_id", event.id)
        return
    for shipment in await repository.of_order(session, order_id):
        if not domain.holds_units(shipment.status):
            continue
        locked = await repository.get(session, shipment.id, for_update=True)
        if locked is None or not domain.holds_units(locked.status):
            continue
        locked.label_next_attempt_at = None
        await move(session, locked, ShipmentStatus.CANCELLED, source="system",
                   reason=f"order cancelled: {event.data.get('reason') or 'no reason given'}")
