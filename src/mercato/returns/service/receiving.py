"""Receiving a returned parcel: what arrived and in which condition; resellable units go back on
the shelf at a chosen location (an inventory adjustment, ledger reason ``return``), damaged ones
do not; the order's lines record the units returned."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.orders as orders
from mercato.platform.security import Principal
from mercato.returns import domain, repository, schemas, stock
from mercato.returns.domain import ReturnStatus
from mercato.returns.errors import ReturnLineInvalid, ReturnQuantityInvalid
from mercato.returns.service.common import complete_if_settled, get_view, load_locked, move


async def receive(session: AsyncSession, return_id: uuid.UUID, data: schemas.ReceiveRequest, *,
                  actor: Principal | None = None) -> schemas.Return:
    """Record the parcel of an approved return. Lines not listed did not arrive. What arrived is
    valued (the order line's total spread over its units) for the refund or the exchange credit."""
    r = await load_locked(session, return_id)
    domain.check_transition(r.status, ReturnStatus.RECEIVED)
    lines = {x.id: x for x in await repository.lines_of(session, r.tenant_id, [r.id])}
    seen: set[uuid.UUID] = set()
    for i, x in enumerate(data.lines):
        line = lines.get(x.return_line_id)
        if line is None or x.return_line_id in seen:
            raise ReturnLineInvalid("not a line of this return (or listed twice)", field=f"lines[{i}].return_line_id")
        seen.add(x.return_line_id)
        qty = line.quantity if x.quantity is None else x.quantity
        if qty > line.quantity:
            raise ReturnQuantityInvalid(f"{qty} unit(s) received but {line.quantity} were to come back",
                                        field=f"lines[{i}].quantity", returnable=line.quantity)
        if x.condition == "resellable" and qty and x.location_id is None:
            raise ReturnLineInvalid("resellable units need a location_id to be restocked at",
                                    field=f"lines[{i}].location_id")
        line.quantity_received, line.condition = qty, x.condition
        line.restock_location_id = x.location_id if x.condition == "resellable" and qty else None
    if not any(x.quantity_received for x in lines.values()):
        raise ReturnQuantityInvalid("nothing was received: list at least one unit", field="lines")

    order = await orders.get_order(session, r.order_id)
    order_lines = {x.id: x for x in order.lines}
    for line in lines.values():
        ol = order_lines[line.order_line_id]
        if line.quantity_received:
            line.value = domain.units_value(ol.total, ol.quantity, ol.quantity_returned, line.quantity_received)
    await session.flush()
    reference = r.rma_number or f"return:{r.id}"
    await orders.mark_lines_returned(session, r.order_id, {x.order_line_id: x.quantity_received
                                                           for x in lines.values() if x.quantity_received},
                                     actor=actor, reason=f"return {reference} received", reference=reference)
    restocked = []
    for line in lines.values():
        if line.restock_location_id is not None:
            await stock.restock(session, line.variant_id, line.restock_location_id, line.quantity_received,
                                reference=reference, note=data.note, actor=actor)
            restocked.append({"variant_id": str(line.variant_id), "location_id": str(line.restock_location_id),
                              "quantity": line.quantity_received})
    r.items_value = sum(x.value for x in lines.values() if x.exchange_variant_id is None)
    if r.replacement_order_id is None:
        r.exchange_credit = sum(x.value for x in lines.values() if x.exchange_variant_id is not None)
    await move(session, r, ReturnStatus.RECEIVED, actor=actor, items_value=r.items_value, restocked=restocked,
               lines=[{"return_line_id": str(x.id), "sku": x.sku, "quantity_received": x.quantity_received,
                       "condition": x.condition} for x in lines.values()])
    await complete_if_settled(session, r, actor=actor)
    return await get_view(session, r)
