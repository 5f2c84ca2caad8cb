"""Every query of the fulfillment module. Reads are confined by RLS (set per transaction);
inserts name the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.fulfillment.domain import OPEN
from mercato.fulfillment.models import Shipment, ShipmentEvent, ShipmentItem, ShipmentLabel


async def lock_order(session: AsyncSession, order_id: uuid.UUID) -> None:
    """Serialize shipment creation per order (transaction-scoped advisory lock): two requests
    carving shipments out of the same remaining units queue here, and the second sees the first."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('shipments:' || :o, 0))"),
                          {"o": str(order_id)})


async def get(session: AsyncSession, shipment_id: uuid.UUID, *, for_update: bool = False,
              skip_locked: bool = False) -> Shipment | None:
    q = select(Shipment).where(Shipment.id == shipment_id).execution_options(populate_existing=True)
    if for_update:
        q = q.with_for_update(skip_locked=skip_locked)
    return (await session.execute(q)).scalar_one_or_none()


async def of_order(session: AsyncSession, order_id: uuid.UUID) -> list[Shipment]:
    q = select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.sequence)
    return list((await session.execute(q.execution_options(populate_existing=True))).scalars())


async def next_sequence(session: AsyncSession, order_id: uuid.UUID) -> int:
    q = select(func.coalesce(func.max(Shipment.sequence), 0) + 1).where(Shipment.order_id == order_id)
    return int((await session.execute(q)).scalar_one())


async def open_quantities(session: AsyncSession, order_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Units per order line set aside in the order's open (not yet shipped) shipments."""
    q = (select(ShipmentItem.order_line_id, func.sum(ShipmentItem.quantity))
         .join(Shipment, (Shipment.tenant_id == ShipmentItem.tenant_id) & (Shipment.id == ShipmentItem.shipment_id))
         .where(Shipment.order_id == order_id, Shipment.status.in_([s.value for s in OPEN]))
         .group_by(ShipmentItem.order_line_id))
    return {row[0]: int(row[1]) for row in (await session.execute(q)).all()}


async def insert_shipment(session: AsyncSession, values: dict[str, Any]) -> Shipment:
    shipment = Shipment(**values)
    session.add(shipment)
    await session.flush()
    return shipment


async def insert_items(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(ShipmentItem), rows)


async def items_of(session: AsyncSession, shipment_ids: Collection[uuid.UUID]) -> list[ShipmentItem]:
    if not shipment_ids:
        return []
    q = select(ShipmentItem).where(ShipmentItem.shipment_id.in_(list(shipment_ids))).order_by(
        ShipmentItem.shipment_id, ShipmentItem.sku, ShipmentItem.id)
    return list((await session.execute(q)).scalars())


async def append_event(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Append a history entry; False (nothing written) if the carrier already sent this event id."""
    stmt = pg_insert(ShipmentEvent).values(**values)
    if values.get("carrier_event_id"):
        stmt = stmt.on_conflict_do_nothing(index_elements=["tenant_id", "shipment_id", "carrier_event_id"],
                                           index_where=text("carrier_event_id IS NOT NULL"))
    result = await session.execute(stmt.returning(ShipmentEvent.id))
    return result.first() is not None


async def events_of(session: AsyncSession, shipment_ids: Collection[uuid.UUID]) -> list[ShipmentEvent]:
    if not shipment_ids:
        return []
    q = (select(ShipmentEvent).where(ShipmentEvent.shipment_id.in_(list(shipment_ids)))
         .order_by(ShipmentEvent.shipment_id, ShipmentEvent.id))
    return list((await session.execute(q)).scalars())


async def carrier_event_seen(session: AsyncSession, shipment_id: uuid.UUID, carrier_event_id: str) -> bool:
    q = select(ShipmentEvent.id).where(ShipmentEvent.shipment_id == shipment_id,
                                       ShipmentEvent.carrier_event_id == carrier_event_id)
    return (await session.execute(q)).first() is not None


async def save_label(session: AsyncSession, tenant_id: uuid.UUID, shipment_id: uuid.UUID, media_type: str,
                     content: bytes) -> None:
    stmt = pg_insert(ShipmentLabel).values(tenant_id=tenant_id, shipment_id=shipment_id, media_type=media_type,
                                           content=content)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "shipment_id"],
                                      set_={"media_type": media_type, "content": content, "created_at": func.now()})
    await session.execute(stmt)


async def label_of(session: AsyncSession, shipment_id: uuid.UUID) -> ShipmentLabel | None:
    q = select(ShipmentLabel).where(ShipmentLabel.shipment_id == shipment_id)
    return (await session.execute(q)).scalar_one_or_none()


async def has_labels(session: AsyncSession, shipment_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    if not shipment_ids:
        return set()
    q = select(ShipmentLabel.shipment_id).where(ShipmentLabel.shipment_id.in_(list(shipment_ids)))
    return set((await session.execute(q)).scalars())


async def list_page(session: AsyncSession, *, limit: int, after: Sequence[Any] | None, offset: int,
                    status: Sequence[str] | None, order_id: uuid.UUID | None, carrier: str | None,
                    tracking_number: str | None) -> list[Shipment]:
    q = select(Shipment).order_by(Shipment.created_at.desc(), Shipment.id.desc()).limit(limit + 1)
    if after is not None:
        q = q.where(tuple_(Shipment.created_at, Shipment.id) < tuple(after))
    else:
        q = q.offset(offset)
    if status:
        q = q.where(Shipment.status.in_(list(status)))
    if order_id is not None:
        q = q.where(Shipment.order_id == order_id)
    if carrier is not None:
        q = q.where(Shipment.carrier == carrier)
    if tracking_number is not None:
        q = q.where(Shipment.tracking_number == tracking_number)
    return list((await session.execute(q)).scalars())


async def due_label_retries(session: AsyncSession, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, shipment_id) of packed shipments whose label retry is due, across tenants.
    Runs as the worker role, whose only view of ``shipments`` is the ``label_retry_scan`` policy."""
    rows = await session.execute(text(
        "SELECT tenant_id, id FROM shipments WHERE status = 'packed' AND label_next_attempt_at IS NOT NULL "
        "AND label_next_attempt_at <= :now ORDER BY label_next_attempt_at LIMIT :limit"), {"now": now, "limit": limit})
    return [(r[0], r[1]) for r in rows.all()]
