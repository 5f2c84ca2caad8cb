"""What every fulfillment use case shares: the tenant, loading and locking a shipment, moving it
through the machine with its history row, outbox event and audit entry, and the read views."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.fulfillment import domain, repository, schemas
from mercato.fulfillment.domain import ShipmentStatus
from mercato.fulfillment.errors import ShipmentNotFound
from mercato.fulfillment.models import Shipment
from mercato.platform import events
from mercato.platform.db import require_tenant as tenant_of  # noqa: F401 (the module's tenant_of)
from mercato.platform.security import Principal

API_PREFIX = "/api/v1"

#: The timestamp column each status sets.
STAMPS: dict[ShipmentStatus, str] = {
    ShipmentStatus.PICKED: "picked_at", ShipmentStatus.PACKED: "packed_at",
    ShipmentStatus.LABEL_CREATED: "label_created_at", ShipmentStatus.SHIPPED: "shipped_at",
    ShipmentStatus.DELIVERED: "delivered_at", ShipmentStatus.FAILED: "failed_at",
    ShipmentStatus.CANCELLED: "cancelled_at",
}


def now() -> datetime:
    return datetime.now(UTC)


def actor_fields(actor: Principal | None) -> dict[str, Any]:
    if actor is None or not actor.is_authenticated:
        return {"actor_type": "system", "actor_id": None}
    return {"actor_type": actor.kind, "actor_id": actor.actor_id}


async def load(session: AsyncSession, shipment_id: uuid.UUID, *, for_update: bool = False) -> Shipment:
    shipment = await repository.get(session, shipment_id, for_update=for_update)
    if shipment is None:
        raise ShipmentNotFound()
    return shipment


def shipped_once(shipment: Shipment) -> bool:
    return shipment.shipped_at is not None


def tracking_of(shipment: Shipment) -> dict[str, Any]:
    """What the order's events and the customer need to follow the parcel."""
    return {"shipment_id": str(shipment.id), "carrier": shipment.carrier, "service": shipment.service,
            "tracking_number": shipment.tracking_number, "tracking_url": shipment.tracking_url}


async def event_data(session: AsyncSession, shipment: Shipment, **extra: Any) -> dict[str, Any]:
    items = await repository.items_of(session, [shipment.id])
    return {**tracking_of(shipment), "order_id": str(shipment.order_id), "order_number": shipment.order_number,
            "sequence": shipment.sequence, "customer_id": str(shipment.customer_id) if shipment.customer_id else None,
            "status": shipment.status, "location_id": str(shipment.location_id),
            "items": [{"line_id": str(i.order_line_id), "sku": i.sku, "quantity": i.quantity} for i in items],
            **extra}


async def publish(session: AsyncSession, event_type: str, shipment: Shipment, **extra: Any) -> None:
    await events.publish(session, event_type, aggregate_type="shipment", aggregate_id=shipment.id,
                         data=await event_data(session, shipment, **extra))


async def history(session: AsyncSession, shipment: Shipment, kind: str, *, source: str,
                  actor: Principal | None = None, from_status: str | None = None, to_status: str | None = None,
                  message: str | None = None, location: str | None = None, data: dict[str, Any] | None = None,
                  carrier_event_id: str | None = None, occurred_at: datetime | None = None) -> bool:
    values: dict[str, Any] = {
        "tenant_id": shipment.tenant_id, "shipment_id": shipment.id, "kind": kind, "from_status": from_status,
        "to_status": to_status, "source": source, "message": message, "location": location, "data": data or {},
        "carrier_event_id": carrier_event_id, **actor_fields(actor)}
    if occurred_at is not None:
        values["occurred_at"] = occurred_at
    return await repository.append_event(session, values)


async def move(session: AsyncSession, shipment: Shipment, target: ShipmentStatus, *, source: str = "staff",
               actor: Principal | None = None, reason: str | None = None, location: str | None = None,
               occurred_at: datetime | None = None, carrier_event_id: str | None = None,
               data: dict[str, Any] | None = None) -> None:
    """One step through the machine: check, change, history, event, audit — same transaction."""
    before = shipment.status
    domain.check_transition(before, target, shipped=shipped_once(shipment))
    shipment.status = target.value
    stamp = STAMPS.get(target)
    if stamp is not None and getattr(shipment, stamp) is None:
        setattr(shipment, stamp, occurred_at or now())
    await session.flush()
    await history(session, shipment, "status", source=source, actor=actor, from_status=before,
                  to_status=target.value, message=reason, location=location, data=data,
                  carrier_event_id=carrier_event_id, occurred_at=occurred_at)
    await publish(session, domain.STATUS_EVENTS[target], shipment, from_status=before, reason=reason,
                  **({"location": location} if location else {}))
    await audit.record(session, action=domain.STATUS_EVENTS[target], resource_type="shipment",
                       resource_id=shipment.id, changes={"status": {"from": before, "to": target.value},
                                                         **({"reason": reason} if reason else {})}, actor=actor)


async def views(session: AsyncSession, shipments: Sequence[Shipment], *,
                with_history: bool = True) -> list[schemas.Shipment]:
    """Staff views of shipments in a fixed number of queries (items, labels, history)."""
    ids = [s.id for s in shipments]
    items: dict[uuid.UUID, list[schemas.ShipmentItem]] = {i: [] for i in ids}
    for item in await repository.items_of(session, ids):
        items[item.shipment_id].append(schemas.ShipmentItem.model_validate(item))
    labelled = await repository.has_labels(session, ids)
    entries: dict[uuid.UUID, list[schemas.ShipmentEvent]] = {i: [] for i in ids}
    if with_history:
        for e in await repository.events_of(session, ids):
            entries[e.shipment_id].append(schemas.ShipmentEvent.model_validate(e))
    out = []
    for s in shipments:
        fields = {k: getattr(s, k) for k in schemas.Shipment.model_fields
                  if k not in ("items", "has_label", "label_url", "allowed_transitions", "history")}
        out.append(schemas.Shipment(
            **fields, items=items[s.id], has_label=s.id in labelled,
            label_url=f"{API_PREFIX}/shipments/{s.id}/label" if s.id in labelled else None,
            allowed_transitions=sorted(domain.allowed_transitions(s.status, shipped=shipped_once(s))),
            history=entries[s.id]))
    return out


async def view(session: AsyncSession, shipment: Shipment) -> schemas.Shipment:
    return (await views(session, [shipment]))[0]
