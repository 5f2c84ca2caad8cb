"""What every order use case shares: the tenant, loading and locking an order, moving it through
the machine with its history row, outbox event and audit entry, and the stock hold."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.inventory as inventory
from mercato.orders import domain, repository
from mercato.orders.domain import OrderFacts, OrderStatus
from mercato.orders.errors import OrderNotFound
from mercato.orders.models import Order
from mercato.orders.schemas import OrderSettings as OrderSettingsOut
from mercato.platform import events
from mercato.platform.db import buffered
from mercato.platform.db import require_tenant as tenant_of
from mercato.platform.security import Principal

log = logging.getLogger("mercato.orders")

#: How long the stock of a paid (or pay-later, processing) order stays reserved: until it ships,
#: in practice. The inventory module has no "bound" reservation state, so the order renews its
#: reservation far into the future; the stock leaves ``on_hand`` (``inventory.commit``) at the
#: first shipment and goes back (``inventory.release``) on cancellation.
ORDER_HOLD = timedelta(days=365)


def now() -> datetime:
    return datetime.now(UTC)


def actor_fields(actor: Principal | None) -> dict[str, Any]:
    if actor is None or not actor.is_authenticated:
        return {"actor_type": "system", "actor_id": None}
    return {"actor_type": actor.kind, "actor_id": actor.actor_id}


async def load(session: AsyncSession, order_id: uuid.UUID, *, for_update: bool = False) -> Order:
    order = await repository.get(session, tenant_of(session), order_id, for_update=for_update)
    if order is None:
        raise OrderNotFound()
    return order


# --------------------------------------------------------------------------- this transaction's own orders


@dataclass
class _Placed:
    """What this transaction knows of an order it placed itself: the row is its own (inserted, hence
    locked, by it; nobody else can have seen it), so the entity in the session is the truth and the
    only payment facts in its history are those written here."""
    order: Order
    facts: set[str] = field(default_factory=set)


_PLACED_KEY = "mercato.orders.placed"


def _placed_here(session: AsyncSession) -> dict[uuid.UUID, _Placed]:
    """Orders placed in the session's current transaction (forgotten when another one begins)."""
    txn = session.sync_session.get_transaction()
    kept = session.info.get(_PLACED_KEY)
    if kept is None or kept[0] is not txn:
        kept = (txn, {})
        session.info[_PLACED_KEY] = kept
    placed: dict[uuid.UUID, _Placed] = kept[1]
    return placed


def remember_placed(session: AsyncSession, order: Order) -> None:
    _placed_here(session)[order.id] = _Placed(order)


def placed_here(session: AsyncSession, order_id: uuid.UUID) -> _Placed | None:
    """The order if this very transaction placed it (and its entity is still loaded), else None."""
    known = _placed_here(session).get(order_id)
    if known is None or known.order not in session or inspect(known.order).expired_attributes:
        return None  # (an expired entity would need a load anyway: the general path does it)
    return known


_HISTORY_KEY = "mercato.orders.history_buffer"


@asynccontextmanager
async def batched_history(session: AsyncSession) -> AsyncIterator[None]:
    """History rows appended inside the block are written with one INSERT at its end (an exception
    discards them with the transaction). Nested blocks join the outer one (``platform.db.buffered``)."""
    async with buffered(session, _HISTORY_KEY, lambda rows: repository.append_history_rows(session, rows)):
        yield


def facts_of(order: Order) -> OrderFacts:
    return OrderFacts(payment_status=order.payment_status, pay_later=order.payment_method == "manual")


def event_data(order: Order, **extra: Any) -> dict[str, Any]:
    return {"order_id": str(order.id), "number": order.number, "status": order.status,
            "payment_status": order.payment_status, "fulfillment_status": order.fulfillment_status,
            "customer_id": str(order.customer_id) if order.customer_id else None, "email": order.email,
            "currency": order.currency, "total": order.total, **extra}


async def publish(session: AsyncSession, event_type: str, order: Order, **extra: Any) -> None:
    await events.publish(session, event_type, aggregate_type="order", aggregate_id=order.id,
                         data=event_data(order, **extra))


async def history(session: AsyncSession, order: Order, kind: str, *, actor: Principal | None = None,
                  from_status: str | None = None, to_status: str | None = None, message: str | None = None,
                  data: dict[str, Any] | None = None, customer_visible: bool = False) -> None:
    row = {"tenant_id": order.tenant_id, "order_id": order.id, "kind": kind, "from_status": from_status,
           "to_status": to_status, "message": message, "data": data or {}, "customer_visible": customer_visible,
           **actor_fields(actor)}
    if kind == "payment" and data and data.get("fact") and (known := _placed_here(session).get(order.id)):
        known.facts.add(str(data["fact"]))
    buffer = session.info.get(_HISTORY_KEY)
    if buffer is not None:
        buffer.append(row)
        return
    await repository.append_history(session, row)


async def move(session: AsyncSession, order: Order, target: OrderStatus, *, actor: Principal | None = None,
               reason: str | None = None, data: dict[str, Any] | None = None,
               event_extra: dict[str, Any] | None = None) -> None:
    """One step through the machine: check, change, history, event, audit — same transaction.
    ``event_extra`` goes into the event's data (e.g. the shipment's carrier and tracking)."""
    before = order.status
    domain.check_transition(before, target, facts_of(order))
    order.status = target.value
    if target is OrderStatus.CANCELLED:
        order.cancelled_at = now()
        order.cancel_reason = (reason or "cancelled")[:500]
    await session.flush()
    await history(session, order, "status", actor=actor, from_status=before, to_status=target.value, message=reason,
                  data=data, customer_visible=True)
    await publish(session, domain.STATUS_EVENTS[target], order, **(event_extra or {}), from_status=before,
                  reason=reason)
    await audit.record(session, action=domain.STATUS_EVENTS[target], resource_type="order", resource_id=order.id,
                       changes={"status": {"from": before, "to": target.value},
                                **({"reason": reason} if reason else {})}, actor=actor)


# --------------------------------------------------------------------------- stock


async def _reservation_status(session: AsyncSession, reservation_id: uuid.UUID) -> str | None:
    try:
        return str((await inventory.get_reservation(session, reservation_id)).status)
    except inventory.ReservationNotFound:
        log.warning("order names an unknown reservation", extra={"reservation_id": str(reservation_id)})
        return None


async def hold_stock(session: AsyncSession, order: Order, lines: list[Any] | None = None, *,
                     actor: Principal | None = None) -> None:
    """Keep the order's stock reserved until it ships (paid, or processed unpaid).

    An active reservation is renewed for :data:`ORDER_HOLD` (one conditional UPDATE). One that already
    ran out (the payment came after the checkout hold expired, or after a failed attempt released it)
    is taken again if the stock is still there; if it is not, the order records it for staff instead
    of failing the payment — the money is in, and someone has to decide (restock or refund).
    ``lines`` (the order's lines) are loaded only when needed, if not given."""
    if order.reservation_id is not None:
        renewed = await inventory.extend(session, order.reservation_id, ORDER_HOLD, actor=actor, if_active=True,
                                         with_lines=False)
        if renewed is not None:
            return
        if await _reservation_status(session, order.reservation_id) == "committed":
            return
    if lines is None:
        lines = await repository.lines_of(session, order.tenant_id, [order.id])
    if not lines:
        return
    try:
        reservation = await inventory.reserve(session, [(line.variant_id, line.quantity) for line in lines],
                                              expires_in=ORDER_HOLD, reference=f"order:{order.number}", actor=actor)
    except (inventory.InsufficientStock, inventory.VariantNotFound, inventory.VariantNotSellable) as exc:
        await history(session, order, "system", actor=actor, message="stock could not be reserved again for this "
                      "order; restock or refund it", data={"problem": exc.code, **{k: v for k, v in exc.extra.items()
                                                                                   if k in ("lines", "variant_ids")}})
        return
    order.reservation_id = reservation.id
    await session.flush()
    await history(session, order, "system", actor=actor, message="stock reserved again for this order",
                  data={"reservation_id": str(reservation.id)})


async def release_stock(session: AsyncSession, order: Order, reason: str, *, actor: Principal | None = None) -> bool:
    """Give the order's held stock back (no-op when nothing is held any more)."""
    if order.reservation_id is None:
        return False
    if await _reservation_status(session, order.reservation_id) != "active":
        return False
    await inventory.release(session, order.reservation_id, reason, actor=actor)
    return True


async def commit_stock(session: AsyncSession, order: Order, *, actor: Principal | None = None) -> bool:
    """The goods leave: the reservation becomes a sale (``on_hand`` decreases)."""
    if order.reservation_id is None:
        return False
    if await _reservation_status(session, order.reservation_id) != "active":
        return False
    await inventory.commit(session, order.reservation_id, actor=actor)
    return True


# --------------------------------------------------------------------------- settings


async def get_settings(session: AsyncSession) -> OrderSettingsOut:
    row = await repository.get_settings(session, tenant_of(session))
    return OrderSettingsOut.model_validate(row, from_attributes=True) if row is not None else OrderSettingsOut()


async def update_settings(session: AsyncSession, values: dict[str, Any], *,
                          actor: Principal | None = None) -> OrderSettingsOut:
    before = await get_settings(session)
    values = {k: v for k, v in values.items() if v is not None}
    await repository.upsert_settings(session, tenant_of(session), values)
    after = before.model_copy(update=values)
    await audit.record(session, action="order_settings.updated", resource_type="order_settings",
                       changes=audit.diff(before.model_dump(), after.model_dump()), actor=actor)
    return after
