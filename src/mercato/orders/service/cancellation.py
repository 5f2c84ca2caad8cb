"""Cancelling an order: stock back, coupons given back, money returned — all in one transaction.

If a refund cannot be made (the gateway is down: 503), nothing is cancelled and the caller may
retry; the refund's idempotency key is derived from the order, so a retry never refunds twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.payments as payments
import mercato.promotions as promotions
from mercato.orders import domain, metrics, repository
from mercato.orders.domain import OrderStatus, PaymentFact
from mercato.orders.models import Order
from mercato.orders.service.common import (
    get_settings,
    history,
    load,
    log,
    move,
    now,
    publish,
    release_stock,
    tenant_of,
)
from mercato.platform.security import Principal

#: Payment statuses that hold no money yet but could still take some: voided on cancellation.
_OPEN = ("pending", "requires_action", "authorized")


def refund_key(order_id: uuid.UUID) -> str:
    """The refund idempotency key of an order's cancellation (per payment: the payments module
    scopes refund keys by payment)."""
    return f"order-cancel-{order_id}"


def _refundable(p: Any) -> int:
    pending = sum(r.amount for r in p.refunds if r.status == "pending")
    return max(0, p.amount_captured - p.amount_refunded - pending)


async def sync_payment_totals(session: AsyncSession, order: Order, found: list[Any] | None = None, *,
                              flush: bool = True) -> bool:
    """Bring ``payment_status``, ``amount_paid`` and ``amount_refunded`` in line with the payments'
    facts. Returns True when something changed (without history: callers write their own).
    ``flush=False`` leaves the change to the session's next flush (one UPDATE with what follows)."""
    if found is None:
        found = await payments.get_payments_for_order(session, order.id)
    if not found:
        return False
    facts = [PaymentFact(p.status, p.amount_captured, p.amount_refunded) for p in found]
    status = domain.derive_payment_status(order.total, facts).value
    paid = sum(f.amount_captured for f in facts)
    refunded = min(paid, sum(f.amount_refunded for f in facts))
    if (order.payment_status, order.amount_paid, order.amount_refunded) == (status, paid, refunded):
        return False
    order.payment_status, order.amount_paid, order.amount_refunded = status, paid, refunded
    if status == domain.PaymentStatus.PAID and order.paid_at is None:
        order.paid_at = now()
    if flush:
        await session.flush()
    return True


async def return_money(session: AsyncSession, order: Order, reason: str, *,
                       actor: Principal | None = None) -> list[dict[str, Any]]:
    """Void open payment attempts and refund what was captured, for a cancelled (or cancelling)
    order. Idempotent: the refund key is the order's; what was refunded is not refunded again."""
    done: list[dict[str, Any]] = []
    for p in await payments.get_payments_for_order(session, order.id):
        if p.status in _OPEN:
            await payments.cancel(session, p.id)
            done.append({"payment_id": str(p.id), "action": "voided"})
            continue
        amount = _refundable(p)
        if amount > 0:
            result = await payments.refund(session, p.id, amount, reason=reason[:500],
                                           idempotency_key=refund_key(order.id))
            done.append({"payment_id": str(p.id), "action": "refunded", "amount": amount,
                         "refund_id": str(result.refund.id), "refund_status": result.refund.status})
    before = order.payment_status
    if await sync_payment_totals(session, order):
        await history(session, order, "payment", actor=actor, from_status=before, to_status=order.payment_status,
                      message="payment returned: order cancelled", data={"payments": done}, customer_visible=True)
        if order.payment_status in (domain.PaymentStatus.REFUNDED, domain.PaymentStatus.PARTIALLY_REFUNDED):
            await publish(session, "order.refunded", order, amount_refunded=order.amount_refunded,
                          reason=reason)
    return done


async def cancel_order(session: AsyncSession, order_id: uuid.UUID, *, reason: str, actor: Principal | None = None,
                       by_customer: bool = False) -> Order:
    """Cancel a pending, paid or processing order (a customer: only pending or paid, within the
    shop's self-cancel window). Releases the stock (``inventory.release``), gives back the coupon
    uses (``promotions.unredeem``), voids open payment attempts and refunds captured money
    (``payments.refund``) → ``payment_status`` ``refunded``; emits ``order.cancelled``."""
    order = await load(session, order_id, for_update=True)
    if by_customer:
        window = (await get_settings(session)).self_cancel_window_seconds
        domain.check_self_cancel(order.status, order.placed_at, now(), window)
    domain.check_transition(order.status, OrderStatus.CANCELLED, domain.OrderFacts(order.payment_status))
    released = await release_stock(session, order, "order_cancelled", actor=actor)
    unredeemed = [str(pid) for pid in order.promotion_ids if await promotions.unredeem(session, pid, order.id)]
    await move(session, order, OrderStatus.CANCELLED, actor=actor, reason=reason,
               data={"by_customer": by_customer, "stock_released": released, "promotions_unredeemed": unredeemed})
    await return_money(session, order, f"order {order.number} cancelled: {reason}", actor=actor)
    metrics.order_cancelled(session, "customer" if by_customer else ("system" if actor is None else "staff"))
    return order


async def cancel_pending_orders_of(session: AsyncSession, customer_id: uuid.UUID, *, reason: str,
                                   actor: Principal | None = None) -> list[uuid.UUID]:
    """Cancel every pending order of a customer (their account was deactivated)."""
    cancelled = []
    for order_id in await repository.pending_order_ids_of_customer(session, tenant_of(session), customer_id):
        order = await load(session, order_id, for_update=True)
        if order.status != OrderStatus.PENDING:  # moved on since we listed it
            continue
        await cancel_order(session, order_id, reason=reason, actor=actor)
        cancelled.append(order_id)
    if cancelled:
        log.info("cancelled pending orders of a deactivated customer",
                 extra={"customer_id": str(customer_id), "orders": len(cancelled)})
    return cancelled
