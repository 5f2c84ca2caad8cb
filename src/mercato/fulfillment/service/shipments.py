"""Allocation and shipments: what is left to ship and where it is held, creating parcels (split
shipments, per stock location), the warehouse steps (pick, pack, cancel), reading them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.inventory as inventory
import mercato.orders as orders
from mercato.fulfillment import carriers, domain, repository, schemas
from mercato.fulfillment.domain import LineState, ShipmentStatus
from mercato.fulfillment.errors import (
    LocationRequired,
    OrderNotFulfillable,
    QuantityExceedsRemaining,
    UnknownLocation,
    UnknownOrderLine,
)
from mercato.fulfillment.models import Shipment
from mercato.fulfillment.service.common import history, load, move, publish, tenant_of, view, views
from mercato.platform.errors import IllegalTransition, ValidationFailed
from mercato.platform.pagination import InvalidCursor, PageParams, encode_cursor
from mercato.platform.security import Principal

#: Order statuses in which parcels may be prepared (paid, or processed to be paid later).
FULFILLABLE = frozenset({"paid", "processing", "partially_shipped"})


async def _held_by_variant(session: AsyncSession, order: orders.Order) -> dict[uuid.UUID, list[tuple[uuid.UUID, int]]]:
    """Units the order's reservation still holds, per variant: ``[(location_id, units)]``."""
    if order.reservation_id is None:
        return {}
    try:
        reservation = await inventory.get_reservation(session, order.reservation_id)
    except inventory.ReservationNotFound:
        return {}
    if reservation.status != "active":
        return {}
    return {line.variant_id: [(a.location_id, a.quantity - a.committed) for a in line.allocations
                              if a.quantity > a.committed] for line in reservation.lines}


def _line_states(order: orders.Order, open_qty: dict[uuid.UUID, int]) -> dict[uuid.UUID, LineState]:
    return {line.id: LineState(line.id, line.quantity, line.quantity_fulfilled, open_qty.get(line.id, 0))
            for line in order.lines}


def _line_holds(order: orders.Order, states: dict[uuid.UUID, LineState],
                held: dict[uuid.UUID, list[tuple[uuid.UUID, int]]]) -> dict[uuid.UUID, list[tuple[uuid.UUID, int]]]:
    # Held units first serve what open shipments set aside, then what is unallocated: assign the
    # whole "not yet shipped" quantity, then drop the open part from the front of each line's list.
    lines = sorted(order.lines, key=lambda line: line.position)
    per_line = domain.assign_holds([(line.id, line.variant_id, line.quantity - line.quantity_fulfilled)
                                    for line in lines], held)
    out: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {}
    for line in lines:
        skip = states[line.id].in_open_shipments
        rest: list[tuple[uuid.UUID, int]] = []
        for location_id, units in per_line.get(line.id, []):
            take = min(skip, units)
            skip -= take
            if units - take > 0:
                rest.append((location_id, units - take))
        out[line.id] = rest
    return out


async def allocation(session: AsyncSession, order_id: uuid.UUID) -> schemas.Allocation:
    """Per line: ordered, shipped, set aside in open shipments, still free, and where its units are
    held; parcels suggested per location; the order's shipments."""
    order = await orders.get_order(session, order_id)
    states = _line_states(order, await repository.open_quantities(session, order.id))
    holds = _line_holds(order, states, await _held_by_variant(session, order))
    lines = []
    for line in sorted(order.lines, key=lambda x: x.position):
        st = states[line.id]
        lines.append(schemas.LineAllocation(
            line_id=line.id, variant_id=line.variant_id, sku=line.sku,
            name=line.product_name + (f" — {line.variant_title}" if line.variant_title else ""),
            quantity=line.quantity, shipped=line.quantity_fulfilled, in_open_shipments=st.in_open_shipments,
            unallocated=st.unallocated,
            locations=[schemas.HeldAt(location_id=loc, quantity=q) for loc, q in holds[line.id]]))
    demand = {line.line_id: line.unallocated for line in lines if line.unallocated > 0}
    suggested = domain.split_by_location(demand, {k: v for k, v in holds.items()})
    shipments = await repository.of_order(session, order.id)
    return schemas.Allocation(
        order_id=order.id, order_number=order.number, order_status=order.status,
        fulfillment_status=order.fulfillment_status, lines=lines,
        suggested_shipments=[schemas.SuggestedShipment(
            location_id=loc, items=[schemas.ShipmentItemIn(line_id=k, quantity=v) for k, v in items.items()])
            for loc, items in sorted(suggested.items(), key=lambda kv: (kv[0] is None, str(kv[0])))],
        shipments=await views(session, shipments, with_history=False))


def _pick_location(wanted: dict[uuid.UUID, int], holds: dict[uuid.UUID, list[tuple[uuid.UUID, int]]]) -> uuid.UUID:
    """The one location holding every wanted unit; else the caller must say."""
    parcels = domain.split_by_location(wanted, holds)
    if len(parcels) == 1 and None not in parcels:
        return next(iter(parcels))  # type: ignore[return-value]
    raise LocationRequired("these units are not all held at one location: pass location_id (one parcel per "
                           "location; see GET /orders/{id}/fulfillment for suggested parcels)", field="location_id",
                           locations=sorted(str(loc) for loc in parcels if loc is not None))


def _check_items(states: dict[uuid.UUID, LineState], items: list[tuple[uuid.UUID, int]]) -> None:
    for p in domain.check_items(states, items):
        if p.reason == "unknown_line":
            raise UnknownOrderLine(f"line {p.line_id} is not part of this order", field=f"items[{p.index}].line_id")
        if p.reason == "duplicate_line":
            raise ValidationFailed(f"line {p.line_id} is listed twice", field=f"items[{p.index}].line_id")
        raise QuantityExceedsRemaining(
            f"line {p.line_id}: {p.requested} unit(s) asked, {p.remaining} left to ship",
            field=f"items[{p.index}].quantity", line_id=str(p.line_id), requested=p.requested, remaining=p.remaining)


async def create_shipment(session: AsyncSession, order_id: uuid.UUID, data: schemas.ShipmentCreate, *,
                          actor: Principal | None = None) -> schemas.Shipment:
    """A parcel of some units of the order's lines, leaving one location with one carrier.

    Creations for one order are serialized (advisory lock), so two parcels can never take the
    same remaining units: the second sees the first and gets ``quantity_exceeds_remaining``."""
    await repository.lock_order(session, order_id)
    order = await orders.get_order(session, order_id)
    if order.status not in FULFILLABLE:
        raise OrderNotFulfillable(f"an order that is {order.status} cannot be fulfilled", order_status=order.status)
    carrier = carriers.get(data.carrier, data.service)
    service = data.service or carrier.services[0]
    if (data.tracking_number or data.tracking_url) and carrier.name != "manual":
        raise ValidationFailed("tracking numbers come from the carrier; only the manual carrier takes yours",
                               field="tracking_number")
    states = _line_states(order, await repository.open_quantities(session, order.id))
    holds = _line_holds(order, states, await _held_by_variant(session, order))
    if data.items is None:
        location_id = data.location_id or _pick_location(
            {k: st.unallocated for k, st in states.items() if st.unallocated > 0}, holds)
        items = [(line_id, min(sum(q for loc, q in holds[line_id] if loc == location_id), st.unallocated))
                 for line_id, st in states.items()]
        items = [(k, q) for k, q in items if q > 0]
        if not items:
            raise QuantityExceedsRemaining("nothing left to ship is held at this location: list the items",
                                           field="items", remaining=0)
    else:
        items = [(i.line_id, i.quantity) for i in data.items]
        _check_items(states, items)
        location_id = data.location_id or _pick_location(dict(items), holds)
    try:
        location = await inventory.get_location(session, location_id)
    except inventory.LocationNotFound:
        raise UnknownLocation(f"no stock location {location_id}", field="location_id") from None
    lines = {line.id: line for line in order.lines}
    shipment = await repository.insert_shipment(session, {
        "tenant_id": tenant_of(session), "order_id": order.id, "order_number": order.number,
        "sequence": await repository.next_sequence(session, order.id), "customer_id": order.customer_id,
        "location_id": location.id, "status": ShipmentStatus.PENDING.value, "carrier": carrier.name,
        "service": service, "tracking_number": data.tracking_number, "tracking_url": data.tracking_url,
        "ship_to": order.shipping_address, "ship_from": {"name": location.name, **(location.address or {})}})
    await repository.insert_items(session, [
        {"tenant_id": shipment.tenant_id, "shipment_id": shipment.id, "order_line_id": line_id,
         "variant_id": lines[line_id].variant_id, "sku": lines[line_id].sku,
         "name": lines[line_id].product_name + (f" — {lines[line_id].variant_title}"
                                                 if lines[line_id].variant_title else ""),
         "quantity": qty} for line_id, qty in items])
    await history(session, shipment, "status", source="staff", actor=actor, to_status=shipment.status,
                  data={"items": {str(k): v for k, v in items}})
    await publish(session, "shipment.created", shipment)
    await audit.record(session, action="shipment.created", resource_type="shipment", resource_id=shipment.id,
                       changes={"order_id": {"from": None, "to": str(order.id)},
                                "carrier": {"from": None, "to": carrier.name},
                                "items": {"from": None, "to": {str(k): v for k, v in items}}}, actor=actor)
    return await view(session, shipment)


async def transition(session: AsyncSession, shipment_id: uuid.UUID, to: str, *, reason: str | None = None,
                     actor: Principal | None = None) -> schemas.Shipment:
    """Warehouse steps staff report by name: ``picked``, ``packed``, ``cancelled`` (before shipping)."""
    shipment = await load(session, shipment_id, for_update=True)
    target = ShipmentStatus(to)
    if target not in domain.STAFF_TARGETS:  # pragma: no cover - the schema admits only staff targets
        raise IllegalTransition(shipment.status, to, [])
    await move(session, shipment, target, actor=actor, reason=reason)
    if target is ShipmentStatus.CANCELLED:
        shipment.label_next_attempt_at = None
    return await view(session, shipment)


async def get_shipment(session: AsyncSession, shipment_id: uuid.UUID) -> schemas.Shipment:
    return await view(session, await load(session, shipment_id))


async def shipments_of_order(session: AsyncSession, order_id: uuid.UUID) -> list[schemas.Shipment]:
    await orders.get_order(session, order_id)  # 404 for an unknown (or another shop's) order
    return await views(session, await repository.of_order(session, order_id))


async def list_shipments(session: AsyncSession, page: PageParams, *, status: Sequence[str] | None = None,
                         order_id: uuid.UUID | None = None, carrier: str | None = None,
                         tracking_number: str | None = None) -> schemas.ShipmentList:
    after: list[Any] | None = None
    if page.cursor is not None:
        try:
            after = [page.cursor[0], uuid.UUID(str(page.cursor[1]))]
        except (ValueError, IndexError, TypeError):
            raise InvalidCursor("cursor does not fit this list", field="query.cursor") from None
    rows = await repository.list_page(session, limit=page.limit, after=after, offset=page.offset, status=status,
                                      order_id=order_id, carrier=carrier, tracking_number=tracking_number)
    has_more = len(rows) > page.limit
    rows = rows[:page.limit]
    cursor = encode_cursor([rows[-1].created_at, rows[-1].id]) if has_more and rows else None
    return schemas.ShipmentList(items=await views(session, rows, with_history=False), has_more=has_more,
                                next_cursor=cursor)


def _customer_view(shipment: Shipment, items: list[schemas.ShipmentItem],
                   entries: list[Any]) -> schemas.CustomerShipment:
    return schemas.CustomerShipment(
        id=shipment.id, sequence=shipment.sequence, status=shipment.status,  # type: ignore[arg-type]
        carrier=shipment.carrier, service=shipment.service, tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url, items=items, shipped_at=shipment.shipped_at,
        delivered_at=shipment.delivered_at,
        tracking=[schemas.TrackingUpdate(status=e.to_status, location=e.location,
                                         message=e.message if e.source == "carrier" else None,
                                         occurred_at=e.occurred_at)
                  for e in entries if e.kind in ("status", "tracking")
                  and (e.to_status in domain.AFTER_SHIPPING or e.to_status == "failed" or e.kind == "tracking")])


async def customer_shipments(session: AsyncSession, customer_id: uuid.UUID,
                             order_id: uuid.UUID) -> schemas.CustomerShipmentList:
    """A customer's parcels of their own order, with tracking: those that left the warehouse."""
    await orders.get_customer_order(session, customer_id, order_id)  # 404 unless it is theirs
    return await _parcels_for_customer(session, order_id)


async def guest_shipments(session: AsyncSession, number: str, email: str) -> schemas.CustomerShipmentList:
    """A guest's parcels, found with the order number **and** the email it was placed with."""
    order = await orders.lookup_guest_order(session, number, email)  # 404 unless both match
    return await _parcels_for_customer(session, order.id)


async def _parcels_for_customer(session: AsyncSession, order_id: uuid.UUID) -> schemas.CustomerShipmentList:
    shipments = [s for s in await repository.of_order(session, order_id) if s.shipped_at is not None]
    ids = [s.id for s in shipments]
    items: dict[uuid.UUID, list[schemas.ShipmentItem]] = {i: [] for i in ids}
    for item in await repository.items_of(session, ids):
        items[item.shipment_id].append(schemas.ShipmentItem.model_validate(item))
    entries: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for e in await repository.events_of(session, ids):
        entries[e.shipment_id].append(e)
    return schemas.CustomerShipmentList(items=[_customer_view(s, items[s.id], entries[s.id]) for s in shipments])
