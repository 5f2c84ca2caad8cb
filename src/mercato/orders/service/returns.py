"""Units coming back: the returns module records them here once received, so the order's lines
(``quantity_returned``), its fulfillment status and its history stay the one truth."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.orders import domain, repository
from mercato.orders.domain import LineProgress
from mercato.orders.errors import LineNotFound
from mercato.orders.models import Order
from mercato.orders.service.common import history, load, publish
from mercato.platform.errors import ValidationFailed
from mercato.platform.security import Principal


class ReturnQuantityInvalid(ValidationFailed):
    # Here rather than in orders/errors.py: that file is shared with the fulfillment work in flight.
    code, title = "return_quantity_invalid", "Returned quantity is not possible for this line"


async def mark_lines_returned(session: AsyncSession, order_id: uuid.UUID, quantities: Mapping[uuid.UUID, int], *,
                              actor: Principal | None = None, reason: str | None = None,
                              reference: str | None = None) -> Order:
    """Record units of lines returned (``{line_id: quantity}``): never more than shipped and not
    yet returned. Fulfillment status becomes ``returned`` once every shipped unit is back.
    History entry (kind ``fulfillment``, customer visible) and ``order.lines_returned``."""
    order = await load(session, order_id, for_update=True)
    wanted = {k: v for k, v in quantities.items() if v}
    if not wanted:
        raise ReturnQuantityInvalid("nothing to return", field="lines")
    lines = {line.id: line for line in await repository.lines_of(session, order.tenant_id, [order.id],
                                                                 for_update=True)}
    for line_id, qty in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise LineNotFound(f"line {line_id} is not part of order {order.number}", field="lines")
        left = line.quantity_fulfilled - line.quantity_returned
        if qty < 0 or qty > left:
            raise ReturnQuantityInvalid(f"line {line.sku}: {qty} unit(s) cannot be returned ({left} shipped and "
                                        "not returned)", field="lines", line_id=str(line_id), returnable=left)
    for line_id, qty in wanted.items():
        lines[line_id].quantity_returned += qty
    await session.flush()
    before = order.fulfillment_status
    order.fulfillment_status = domain.derive_fulfillment_status(
        LineProgress(line.quantity, line.quantity_fulfilled, line.quantity_returned) for line in lines.values()).value
    await session.flush()
    returned = {str(k): v for k, v in wanted.items()}
    await history(session, order, "fulfillment", actor=actor, from_status=before, to_status=order.fulfillment_status,
                  message=reason or "items returned", data={"returned": returned, "reference": reference},
                  customer_visible=True)
    await publish(session, "order.lines_returned", order, lines=returned, reference=reference)
    return order
