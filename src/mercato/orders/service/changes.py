"""Staff changes that are not status moves: notes, and the shipping address before shipment."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.pricing as pricing
from mercato.orders import domain, repository
from mercato.orders.errors import OrderAlreadyShipped
from mercato.orders.models import Order, OrderNote
from mercato.orders.service.common import actor_fields, history, load, publish
from mercato.platform.security import Principal


async def add_note(session: AsyncSession, order_id: uuid.UUID, body: str, *, visibility: str = "internal",
                   actor: Principal | None = None) -> OrderNote:
    order = await load(session, order_id, for_update=True)
    fields = actor_fields(actor)
    note = await repository.add_note(session, OrderNote(
        tenant_id=order.tenant_id, order_id=order.id, body=body, visibility=visibility,
        author_type=fields["actor_type"], author_id=fields["actor_id"]))
    customer = visibility == "customer"
    await history(session, order, "note", actor=actor, message=body if customer else None,
                  data={"note_id": str(note.id), "visibility": visibility}, customer_visible=customer)
    await publish(session, "order.note_added", order, note_id=str(note.id), visibility=visibility,
                  body=body if customer else None)
    await audit.record(session, action="order.note_added", resource_type="order", resource_id=order.id,
                       changes={"note_id": str(note.id), "visibility": visibility}, actor=actor)
    return note


async def change_shipping_address(session: AsyncSession, order_id: uuid.UUID, address: pricing.AddressIn, *,
                                  reason: str | None = None, actor: Principal | None = None) -> Order:
    """Change where the order goes — only before anything shipped. Validated like checkout's
    addresses (``pricing.validate_address``: 422 ``address_invalid`` naming every bad field).
    Totals are not recomputed: shipping and tax stay as charged (a different zone or tax region
    is the merchant's call: cancel and re-order, or adjust with a partial refund)."""
    order = await load(session, order_id, for_update=True)
    if order.status not in domain.BEFORE_SHIPMENT:
        raise OrderAlreadyShipped(f"the order is {order.status}: its address can no longer change",
                                  order_status=order.status)
    new: dict[str, Any] = pricing.validate_address(address).to_dict()
    old = order.shipping_address
    if new == old:
        return order
    order.shipping_address = new
    await session.flush()
    await history(session, order, "address", actor=actor, message=reason, data={"from": old, "to": new},
                  customer_visible=True)
    await publish(session, "order.address_changed", order, shipping_address=new, reason=reason)
    await audit.record(session, action="order.address_changed", resource_type="order", resource_id=order.id,
                       changes={"shipping_address": {"from": old, "to": new}}, actor=actor)
    return order
