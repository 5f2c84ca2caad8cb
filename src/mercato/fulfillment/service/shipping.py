"""The parcel leaves and travels: shipping (the order's lines count the units shipped and the
stock is sold at the parcel's location), tracking updates from carriers or staff, delivery
(the order is delivered once every parcel is).

Lock order, shared with the orders module: the shipment row, then the order row and its lines
(``orders.mark_lines_shipped``), then the reservation and the inventory levels
(``inventory.commit_lines``) — the order's own paths take the order first, then the stock.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.inventory as inventory
import mercato.orders as orders
from mercato.fulfillment import domain, repository, schemas
from mercato.fulfillment.domain import ShipmentStatus
from mercato.fulfillment.models import Shipment
from mercato.fulfillment.service.common import history, load, move, publish, shipped_once, tracking_of
from mercato.platform.security import Principal


async def _ship(session: AsyncSession, shipment: Shipment, *, actor: Principal | None, reason: str | None,
                source: str, occurred_at: datetime | None = None, location: str | None = None,
                carrier_event_id: str | None = None) -> None:
    domain.check_transition(shipment.status, ShipmentStatus.SHIPPED, shipped=shipped_once(shipment))
    # Serialize with shipment creation for this order: a parcel being created must not count these
    # units as both "still open here" and "not shipped yet" across our commit.
    await repository.lock_order(session, shipment.order_id)
    items = await repository.items_of(session, [shipment.id])
    order = await orders.mark_lines_shipped(
        session, shipment.order_id, {i.order_line_id: i.quantity for i in items}, actor=actor,
        reason=reason or f"shipment {shipment.order_number}-{shipment.sequence} shipped",
        shipment={**tracking_of(shipment), "sequence": shipment.sequence}, stock_committed=True)
    await inventory.commit_lines(session, order.reservation_id,
                                 [(i.variant_id, shipment.location_id, i.quantity) for i in items],
                                 reference=f"order:{shipment.order_number}/shipment:{shipment.sequence}", actor=actor)
    await move(session, shipment, ShipmentStatus.SHIPPED, source=source, actor=actor, reason=reason,
               occurred_at=occurred_at, location=location, carrier_event_id=carrier_event_id)


async def ship(session: AsyncSession, shipment_id: uuid.UUID, *, actor: Principal | None = None,
               reason: str | None = None) -> Shipment:
    """The parcel left the warehouse (handed to the carrier)."""
    shipment = await load(session, shipment_id, for_update=True)
    await _ship(session, shipment, actor=actor, reason=reason, source="staff")
    return shipment


async def _deliver_order_if_complete(session: AsyncSession, shipment: Shipment, *, actor: Principal | None) -> None:
    """The order is delivered when it has shipped whole and every parcel that left arrived."""
    parcels = [s for s in await repository.of_order(session, shipment.order_id)
               if domain.is_shipped(s.status, s.shipped_at is not None)]
    if not parcels or any(s.status != ShipmentStatus.DELIVERED for s in parcels):
        return
    order = await orders.get_order(session, shipment.order_id)
    if order.status == orders.OrderStatus.SHIPPED:
        await orders.mark_delivered(session, shipment.order_id, actor=actor,
                                    reason=f"all {len(parcels)} shipment(s) delivered")


async def record_tracking(session: AsyncSession, shipment_id: uuid.UUID, data: schemas.TrackingEventIn, *,
                          actor: Principal | None = None, source: str = "carrier") -> tuple[Shipment, bool]:
    """A tracking update (carrier push or staff). Returns the shipment and whether it was new.

    The same ``event_id`` twice is applied once. A repeated status is a new scan (history only);
    a first scan of a parcel whose label was created ships it; any other move follows the state
    machine (409 with the allowed ones otherwise). ``delivered`` may deliver the order."""
    shipment = await load(session, shipment_id, for_update=True)
    if data.event_id and await repository.carrier_event_seen(session, shipment.id, data.event_id):
        return shipment, False
    path = domain.tracking_path(shipment.status, data.status, shipped=shipped_once(shipment))
    # judge the whole path before writing anything (a 409 leaves no trace)
    status, shipped = shipment.status, shipped_once(shipment)
    for step in path:
        domain.check_transition(status, step, shipped=shipped)
        status, shipped = step, shipped or step == ShipmentStatus.SHIPPED
    if not path:
        await history(session, shipment, "tracking", source=source, actor=actor, to_status=shipment.status,
                      message=data.description, location=data.location, carrier_event_id=data.event_id,
                      occurred_at=data.occurred_at)
        await publish(session, "shipment.tracking_updated", shipment, location=data.location,
                      description=data.description)
        return shipment, True
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if step == ShipmentStatus.SHIPPED:
            await _ship(session, shipment, actor=actor, reason=data.description or "picked up by the carrier",
                        source=source, occurred_at=data.occurred_at, location=data.location,
                        carrier_event_id=data.event_id if last else None)
            continue
        await move(session, shipment, ShipmentStatus(step), source=source, actor=actor, reason=data.description,
                   location=data.location, occurred_at=data.occurred_at,
                   carrier_event_id=data.event_id if last else None)
    if shipment.status == ShipmentStatus.DELIVERED:
        await _deliver_order_if_complete(session, shipment, actor=actor)
    return shipment, True
