"""Moving an order forward: staff status updates, shipments (the fulfillment module's entry
points), delivery, completion."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.orders import domain, repository
from mercato.orders.domain import LineProgress, OrderStatus
from mercato.orders.errors import LineNotFound, ShipmentQuantityInvalid
from mercato.orders.models import Order
from mercato.orders.service.cancellation import cancel_order
from mercato.orders.service.common import commit_stock, facts_of, history, hold_stock, load, move
from mercato.platform.security import Principal


async def transition(session: AsyncSession, order_id: uuid.UUID, to: str, *, reason: str | None = None,
                     actor: Principal | None = None) -> Order:
    """A staff status update (``processing``, ``shipped``, ``delivered``, ``completed``,
    ``cancelled``), along the machine only: anything else is a 409 listing what is allowed now."""
    order = await load(session, order_id, for_update=True)
    domain.check_staff_target(order.status, to, facts_of(order))
    target = OrderStatus(to)
    if target is OrderStatus.CANCELLED:
        return await cancel_order(session, order.id, reason=reason or "cancelled by staff", actor=actor)
    if target is OrderStatus.SHIPPED:
        lines = await repository.lines_of(session, order.tenant_id, [order.id])
        remaining = {line.id: line.quantity - line.quantity_fulfilled for line in lines
                     if line.quantity > line.quantity_fulfilled}
        return await mark_lines_shipped(session, order.id, remaining, actor=actor, reason=reason)
    if target is OrderStatus.DELIVERED:
        return await mark_delivered(session, order.id, actor=actor, reason=reason)
    await move(session, order, target, actor=actor, reason=reason)
    if target is OrderStatus.PROCESSING:
        await hold_stock(session, order, await repository.lines_of(session, order.tenant_id, [order.id]), actor=actor)
    return order


async def mark_lines_shipped(session: AsyncSession, order_id: uuid.UUID, quantities: Mapping[uuid.UUID, int], *,
                             actor: Principal | None = None, reason: str | None = None,
                             shipment: Mapping[str, Any] | None = None, stock_committed: bool = False) -> Order:
    """Record units of lines leaving the warehouse (``{line_id: quantity}``) — for the fulfillment module.

    A paid order moves to ``processing`` first (recorded). Then ``partially_shipped`` while units
    remain, ``shipped`` when none do; fulfillment status ``partially_fulfilled`` / ``fulfilled``.
    ``shipment`` (``shipment_id``, ``carrier``, ``tracking_number``, ``tracking_url``, …) goes into
    the ``order.partially_shipped`` / ``order.shipped`` event and the history entry.

    Stock: with ``stock_committed`` the caller already sold exactly these units
    (``inventory.commit_lines``, per shipment and location: the fulfillment module). Without it
    (a staff status update), what the order's reservation still holds becomes a sale
    (``inventory.commit``): the stock leaves ``on_hand`` here, not at payment."""
    order = await load(session, order_id, for_update=True)
    if not quantities:
        raise ShipmentQuantityInvalid("nothing to ship", field="lines")
    if order.status == OrderStatus.PAID:
        await move(session, order, OrderStatus.PROCESSING, actor=actor, reason="shipment started")
    lines = {line.id: line for line in await repository.lines_of(session, order.tenant_id, [order.id],
                                                                 for_update=True)}
    for line_id, qty in quantities.items():
        line = lines.get(line_id)
        if line is None:
            raise LineNotFound(f"line {line_id} is not part of order {order.number}", field="lines")
        if qty <= 0 or line.quantity_fulfilled + qty > line.quantity:
            raise ShipmentQuantityInvalid(
                f"line {line.sku}: {qty} unit(s) cannot ship ({line.quantity - line.quantity_fulfilled} left)",
                field="lines", line_id=str(line_id), remaining=line.quantity - line.quantity_fulfilled)
    progress = [LineProgress(line.quantity, line.quantity_fulfilled + quantities.get(line.id, 0),
                             line.quantity_returned) for line in lines.values()]
    target = domain.shipment_target(progress)
    # check first: nothing is written for an order that may not ship (pending, cancelled, …)
    domain.check_transition(order.status, target, facts_of(order))
    for line_id, qty in quantities.items():
        line = lines[line_id]
        line.quantity_fulfilled += qty
    await session.flush()
    before_fulfillment = order.fulfillment_status
    order.fulfillment_status = domain.derive_fulfillment_status(progress).value
    shipped = {str(k): v for k, v in quantities.items()}
    parcel = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in (shipment or {}).items()}
    data = {"lines": shipped, **({"shipment": parcel} if parcel else {})}
    await history(session, order, "fulfillment", actor=actor, from_status=before_fulfillment,
                  to_status=order.fulfillment_status, message=reason, data=data)
    if not stock_committed:
        await commit_stock(session, order, actor=actor)
    await move(session, order, target, actor=actor, reason=reason, data=data, event_extra=parcel or None)
    return order


async def mark_delivered(session: AsyncSession, order_id: uuid.UUID, *, actor: Principal | None = None,
                         reason: str | None = None) -> Order:
    """Every shipped parcel arrived: ``shipped → delivered``."""
    order = await load(session, order_id, for_update=True)
    await move(session, order, OrderStatus.DELIVERED, actor=actor, reason=reason)
    return order


async def complete(session: AsyncSession, order_id: uuid.UUID, *, actor: Principal | None = None,
                   reason: str | None = None) -> Order:
    """Delivered and paid: the order is done (``completed`` is final)."""
    order = await load(session, order_id, for_update=True)
    await move(session, order, OrderStatus.COMPLETED, actor=actor, reason=reason)
    return order
