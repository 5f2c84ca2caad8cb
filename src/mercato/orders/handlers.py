"""Reactions to other modules' events (run by the outbox relay, once per event: the platform's
``handler`` dedups on the event id in the same tenant transaction; ``record_payment`` is itself
idempotent, so even a replayed fact changes nothing).

* ``payment.captured``  → the order is paid (or, if it was cancelled meanwhile, refunded).
* ``payment.authorized`` → payment status ``authorized``.
* ``payment.failed``    → payment status ``failed``; stock released; cancelled per shop setting.
* ``payment.cancelled`` with ``reason: checkout_session_expired`` → stock released; cancelled per setting.
* ``refund.succeeded``  → ``partially_refunded`` / ``refunded``.
* ``user.deactivated``  → that customer's pending orders are cancelled.

A payment whose order is not one of ours (an attempt started without an order, or another
module's test data) is ignored, not retried.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.payments as payments
from mercato.orders.errors import OrderNotFound
from mercato.orders.service import cancel_pending_orders_of, record_payment
from mercato.platform.events import Event, handler

log = logging.getLogger("mercato.orders.handlers")


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


async def _record(session: AsyncSession, event: Event, outcome: str, **kw: Any) -> None:
    order_id = _uuid(event.data.get("order_id"))
    if order_id is None:
        return
    try:
        await record_payment(session, order_id, outcome=outcome, payment_id=_uuid(event.data.get("payment_id")),
                             **kw)
    except OrderNotFound:
        log.debug("payment event for an unknown order", extra={"event_id": str(event.id), "order_id": str(order_id)})


@handler(payments.events.PAYMENT_CAPTURED, name="orders.payment_captured")
async def on_payment_captured(session: AsyncSession, event: Event) -> None:
    await _record(session, event, "captured", amount=event.data.get("amount_captured"))


@handler(payments.events.PAYMENT_AUTHORIZED, name="orders.payment_authorized")
async def on_payment_authorized(session: AsyncSession, event: Event) -> None:
    await _record(session, event, "authorized", amount=event.data.get("amount"))


@handler(payments.events.PAYMENT_FAILED, name="orders.payment_failed")
async def on_payment_failed(session: AsyncSession, event: Event) -> None:
    await _record(session, event, "failed", amount=event.data.get("amount"),
                  reason=event.data.get("failure_code") or "payment_failed")


@handler(payments.events.PAYMENT_CANCELLED, name="orders.payment_cancelled")
async def on_payment_cancelled(session: AsyncSession, event: Event) -> None:
    if event.data.get("reason") != "checkout_session_expired":
        return  # a void we asked for (cancellation) or staff's: nothing for the order to do
    await _record(session, event, "cancelled", reason="checkout_session_expired")


@handler(payments.events.REFUND_SUCCEEDED, name="orders.refund_succeeded")
async def on_refund_succeeded(session: AsyncSession, event: Event) -> None:
    outcome = "refunded" if event.data.get("status") == "refunded" else "partially_refunded"
    await _record(session, event, outcome, amount=event.data.get("refund_amount"),
                  refund_id=_uuid(event.data.get("refund_id")))


@handler("user.deactivated", name="orders.user_deactivated")
async def on_user_deactivated(session: AsyncSession, event: Event) -> None:
    user_id = _uuid(event.data.get("user_id"))
    if user_id is None:
        return
    await cancel_pending_orders_of(session, user_id, reason="customer account deactivated")
