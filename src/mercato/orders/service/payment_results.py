"""Reacting to payment results: the order's payment status follows the payments' facts.

``record_payment`` is what the payment event handlers (and checkout, if it wants the order paid
in the same transaction) call. The payment status is *derived* from every payment attempt of
the order as the payments module reports it (``payments.get_payments_for_order``) — never
guessed from one event — so events arriving twice, late or out of order converge on the same
state. The ``outcome`` decides the reaction (release stock after a failure, refund a payment that
arrived for a cancelled order). Each fact is recorded once in the history (``data.fact``):
applying the same outcome again changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.payments as payments
from mercato.orders import domain, metrics, repository
from mercato.orders.domain import OrderStatus
from mercato.orders.domain import PaymentStatus as PS
from mercato.orders.errors import NoPaymentToMark
from mercato.orders.models import Order
from mercato.orders.service.cancellation import cancel_order, return_money, sync_payment_totals
from mercato.orders.service.common import (
    batched_history,
    get_settings,
    history,
    hold_stock,
    load,
    move,
    placed_here,
    publish,
    release_stock,
    tenant_of,
)
from mercato.platform.errors import ValidationFailed
from mercato.platform.security import Principal

Outcome = Literal["authorized", "captured", "failed", "cancelled", "refunded", "partially_refunded"]

_SETTLED = {str(s) for s in domain.SETTLED_PAYMENTS}


def fact_key(outcome: str, payment_id: uuid.UUID | None, refund_id: uuid.UUID | None = None) -> str:
    return f"{outcome}:{payment_id or '-'}:{refund_id or '-'}"


async def record_payment(session: AsyncSession, order_id: uuid.UUID, *, outcome: Outcome | str,
                         amount: int | None = None, payment_id: uuid.UUID | None = None,
                         refund_id: uuid.UUID | None = None, reason: str | None = None,
                         actor: Principal | None = None, attempts: list[Any] | None = None) -> Order:
    """Apply a payment result to an order. Idempotent.

    ``attempts``: every payment attempt of the order as ``payments`` reports it, when the caller made
    them all in this very transaction (checkout, right after placing the order) — saves reading them
    back. Used only when the order was placed in this transaction too; otherwise they are read.

    * ``captured`` → payment status ``paid``; a pending order becomes ``paid`` (``order.paid``), a
      pay-later order in processing stays there and is now paid; its stock stays reserved until it
      ships. A payment for a **cancelled** order is refunded at once.
    * ``authorized`` → ``authorized`` (stock held; capture later).
    * ``failed`` → ``failed`` (``order.payment_failed``); a pending order gives its stock back and
      stays pending for another attempt, or is cancelled when the shop's
      ``cancel_on_payment_failure`` is on. ``cancelled`` (an expired Stripe Checkout Session) the same.
    * ``refunded`` / ``partially_refunded`` → that status (``order.refunded``).
    """
    if outcome not in domain.OUTCOME_STATUS:
        raise ValidationFailed(f"unknown payment outcome {outcome!r}", field="outcome")
    own = placed_here(session, order_id)
    if own is None:
        return await _record_payment(session, await load(session, order_id, for_update=True), None, outcome=outcome,
                                     amount=amount, payment_id=payment_id, refund_id=refund_id, reason=reason,
                                     actor=actor, attempts=None)
    # Fast path: the order was placed in this very transaction (checkout takes the payment right after
    # placing it). Its row is ours already (no re-load), its payment facts are known (no history query),
    # and the history rows are written together at the end.
    async with batched_history(session):
        return await _record_payment(session, own.order, own.facts, outcome=outcome, amount=amount,
                                     payment_id=payment_id, refund_id=refund_id, reason=reason, actor=actor,
                                     attempts=attempts)


async def _record_payment(session: AsyncSession, order: Order, known_facts: set[str] | None, *,
                          outcome: Outcome | str, amount: int | None, payment_id: uuid.UUID | None,
                          refund_id: uuid.UUID | None, reason: str | None, actor: Principal | None,
                          attempts: list[Any] | None) -> Order:
    fact = fact_key(outcome, payment_id, refund_id)
    if payment_id is None:
        seen = False
    elif known_facts is not None:
        seen = fact in known_facts
    else:
        seen = await repository.has_history_fact(session, tenant_of(session), order.id, fact)
    before = order.payment_status

    fast = known_facts is not None  # placed in this transaction: its row is ours, nothing else reads it
    found = attempts if fast and attempts is not None else await payments.get_payments_for_order(session, order.id)
    if found:
        # On the fast path the totals are not flushed on their own: the status move that follows (or the
        # commit) writes them in the same UPDATE of the order.
        changed = await sync_payment_totals(session, order, found, flush=not fast)
    else:  # a gateway we do not keep rows for reported directly: trust the outcome (stale ones ignored)
        target = domain.payment_status_from_outcome(before, outcome).value
        changed = target != before
        if changed:
            order.payment_status = target
            if outcome == "captured" and amount:
                order.amount_paid = max(order.amount_paid, amount)
            if outcome in ("refunded", "partially_refunded"):
                order.amount_refunded = order.amount_paid if outcome == "refunded" else min(order.amount_paid,
                                                                                            amount or 0)
            await session.flush()
    if not changed and (seen or outcome in ("refunded", "partially_refunded")):
        # Applied already — or a refund we made ourselves (cancellation) reported back.
        return order
    after = order.payment_status
    await history(session, order, "payment", actor=actor, from_status=before, to_status=after,
                  message=reason or f"payment {outcome}", customer_visible=changed,
                  data={"fact": fact, "outcome": outcome, "amount": amount,
                        "payment_id": str(payment_id) if payment_id else None,
                        "refund_id": str(refund_id) if refund_id else None})
    if not seen:
        metrics.payment_outcome(session, outcome)

    if order.status == OrderStatus.CANCELLED:
        if order.amount_paid > order.amount_refunded:
            # "A successful payment for a cancelled order is refunded automatically."
            await return_money(session, order, f"payment received for cancelled order {order.number}", actor=actor)
        return order

    if after in _SETTLED and before not in _SETTLED:
        if order.status == OrderStatus.PENDING:
            await move(session, order, OrderStatus.PAID, actor=actor, reason="payment captured",
                       data={"payment_id": str(payment_id) if payment_id else None, "amount": order.amount_paid})
        else:  # paid later (cash on delivery): the status does not move, the payment does
            await publish(session, "order.paid", order, from_status=order.status, reason="payment collected",
                          amount_paid=order.amount_paid)
        await hold_stock(session, order, actor=actor)
    elif after == PS.AUTHORIZED and before != PS.AUTHORIZED and order.status == OrderStatus.PENDING:
        await hold_stock(session, order, actor=actor)
    elif outcome in ("failed", "cancelled") and after in (PS.FAILED, PS.UNPAID) and order.status == OrderStatus.PENDING:
        why = "payment_failed" if outcome == "failed" else (reason or "payment_cancelled")
        if outcome == "failed":
            await publish(session, "order.payment_failed", order, payment_id=str(payment_id) if payment_id else None,
                          reason=reason)
        released = await release_stock(session, order, why, actor=actor)
        if released:
            await history(session, order, "system", actor=actor, message="stock released: no payment",
                          data={"reason": why})
        if (await get_settings(session)).cancel_on_payment_failure:
            order = await cancel_order(session, order.id, reason=why, actor=actor)
    elif after in (PS.REFUNDED, PS.PARTIALLY_REFUNDED) and changed:
        await publish(session, "order.refunded", order, amount_refunded=order.amount_refunded,
                      refund_id=str(refund_id) if refund_id else None)
    return order


async def mark_paid(session: AsyncSession, order_id: uuid.UUID, *, actor: Principal | None = None) -> Order:
    """Staff collected a pay-later (cash on delivery) order's money: the manual payment is marked
    paid (``payments.mark_paid``; one is started if checkout left none) and the order follows."""
    order = await load(session, order_id, for_update=True)
    if order.payment_status in _SETTLED:
        return order
    attempts = await payments.get_payments_for_order(session, order.id)
    open_manual = [p for p in attempts if p.method == "manual" and p.status in ("pending", "failed")]
    if open_manual:
        payment_id = open_manual[-1].id
    elif order.payment_method == "manual" and order.status != OrderStatus.CANCELLED:
        started = await payments.start_payment(session, order_id=order.id, amount=order.total, currency=order.currency,
                                               method="manual", idempotency_key=f"order-manual-{order.id}")
        payment_id = started.payment.id
    else:
        raise NoPaymentToMark("this order has no manual (cash on delivery) payment to mark paid")
    paid = await payments.mark_paid(session, payment_id)
    return await record_payment(session, order.id, outcome="captured", amount=paid.amount_captured,
                                payment_id=payment_id, actor=actor, reason="payment collected (marked paid by staff)")
