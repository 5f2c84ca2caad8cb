"""``complete``: place the order and take the payment, in one transaction.

Order of work (each step can stop the whole transaction before money moves):

1. lock the checkout row (concurrent completes of one checkout serialize; a completed checkout
   answers with its first result), then the cart row;
2. re-price the cart (the one pricing function) and check it can be ordered: lines, e-mail,
   address, shipping method, coupons still valid;
3. hold the stock (``insufficient_stock`` names the short lines; nothing is charged);
4. ``orders.place_order`` with the draft, then redeem each applied coupon (``coupon_exhausted`` →
   409, nothing written);
5. start the payment (idempotency key derived from the checkout and the request's key; an open
   circuit → 503 ``payment_gateway_unavailable``, everything rolls back: cart and hold intact,
   no order), record its outcome on the order.

A declined payment keeps the order (``pending``, the failed attempt recorded; orders gives its stock
back, so a failure never holds stock): the response is 402 ``payment_declined`` and the storefront
retries ``complete`` with a new Idempotency-Key and another card, which charges the same order
(stock checked again first; orders reserves it again when the payment succeeds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.cart as cart
import mercato.inventory as inventory
import mercato.orders as orders
import mercato.payments as payments
import mercato.promotions as promotions
import mercato.shipping as shipping
from mercato.checkout import domain
from mercato.checkout.domain import CheckoutStatus
from mercato.checkout.errors import (
    CartEmpty,
    EmailRequired,
    LinesUnavailable,
    PaymentMethodRequired,
    ShippingAddressRequired,
    ShippingMethodRequired,
)
from mercato.checkout.models import Checkout
from mercato.checkout.service.common import (
    cart_row,
    ensure_reservation,
    load,
    now,
    price,
    record,
    require_active,
    shipping_address,
    weight,
)
from mercato.platform import events
from mercato.platform.errors import MercatoError, ValidationFailed

#: Payment outcomes the orders module records (the others settle later: webhook, staff).
RECORDED_OUTCOMES = frozenset({"authorized", "captured", "failed", "cancelled"})


@dataclass(frozen=True)
class Completion:
    checkout: Checkout
    result: dict[str, Any]  # the stored summary: {order: {...}, payment: {...}}
    declined: bool = False
    failure_code: str | None = None
    client_secret: str | None = None
    replayed: bool = False


def _payment_data(checkout: Checkout, card_number: str | None, payment_method_id: str | None,
                  stripe: dict[str, Any] | None = None) -> dict[str, Any]:
    if checkout.payment_method == "test":
        if not card_number:
            raise ValidationFailed("the test gateway needs a card_number", field="card_number")
        return {"card_number": card_number}
    if checkout.payment_method == "stripe":
        stripe = stripe or {}
        if stripe.get("flow") == "checkout_session":
            for name in ("success_url", "cancel_url"):
                if not stripe.get(name):
                    raise ValidationFailed(f"a Stripe Checkout Session needs {name}", field=name)
            return {"flow": "checkout_session", "success_url": stripe["success_url"],
                    "cancel_url": stripe["cancel_url"]}
        if payment_method_id:
            return {"payment_method": payment_method_id, "confirm": True}
    return {}


async def _check_orderable(session: AsyncSession, checkout: Checkout, priced: cart.PricedCart) -> None:
    bad = [{"line_id": str(pl.line.id), "variant_id": str(pl.line.variant_id), "reason": w}
           for pl in priced.lines for w in pl.warnings if w in ("variant_unavailable", "currency_mismatch")]
    if bad:
        raise LinesUnavailable(f"{len(bad)} item(s) can no longer be bought; remove them from the cart", lines=bad)
    if not any(pl.priced for pl in priced.lines):
        raise CartEmpty("the cart has no items that can be bought")
    if not checkout.email:
        raise EmailRequired("set an e-mail address on the checkout", field="email")
    address = shipping_address(checkout)
    if address is None:
        raise ShippingAddressRequired()
    if checkout.shipping_method_id is None:
        assert priced.cart.currency
        if await shipping.available_methods(session, address, weight(priced), priced.totals.subtotal,
                                            priced.cart.currency):
            raise ShippingMethodRequired()
    elif priced.shipping_option is None:
        raise shipping.ShippingMethodUnavailable(field="shipping_method_id")
    for rejected in priced.rejected:
        error = promotions.COUPON_ERRORS.get(rejected.reason)
        if error is not None:
            raise error(f"coupon {rejected.code} does not apply: {rejected.reason}; remove it to continue",
                        field="coupon_codes", coupon=rejected.code)
    if not checkout.payment_method:
        raise PaymentMethodRequired()


def _rate(percent: Decimal) -> str | None:
    return format((Decimal(percent) / 100).normalize(), "f") if percent else None


def build_draft(checkout: Checkout, priced: cart.PricedCart) -> orders.OrderDraft:
    t = priced.totals
    by_key = {lt.key: lt for lt in t.lines}
    lines = []
    for pl in priced.lines:
        if not pl.priced or pl.ref is None:
            continue
        lt, ref = by_key[pl.line.id], pl.ref
        lines.append(orders.OrderLineDraft(
            variant_id=ref.id, product_id=ref.product_id, sku=ref.sku, product_name=ref.product_name,
            variant_title=ref.title, quantity=pl.line.quantity, unit_price=lt.unit_price, subtotal=lt.subtotal,
            discount=lt.discount, tax=lt.tax, total=lt.total, tax_rate=_rate(lt.tax_rate)))
    option = priced.shipping_option
    return orders.OrderDraft(
        currency=t.currency, email=checkout.email or "", lines=tuple(lines), subtotal=t.subtotal,
        discount_total=t.discount_total, shipping_total=t.shipping_total, shipping_discount=t.shipping_discount,
        tax_total=t.tax_total, total=t.total, prices_include_tax=t.prices_include_tax,
        shipping_address=checkout.shipping_address,
        billing_address=checkout.billing_address or checkout.shipping_address,
        customer_id=checkout.customer_id,
        shipping_method={"id": str(option.method_id), "name": option.name, "price": option.price_cents,
                         "min_days": option.min_delivery_days, "max_days": option.max_delivery_days}
        if option else None,
        coupon_codes=tuple(a.code for a in t.applied), promotion_ids=tuple(a.id for a in t.applied),
        reservation_id=checkout.reservation_id, checkout_id=checkout.id, payment_method=checkout.payment_method,
        organization_name=checkout.organization_name, purchase_order_number=checkout.purchase_order_number)


@dataclass
class _Placed:
    order: orders.PlacedOrder
    cart: Any  # the locked cart row (marked converted when the checkout completes)


async def _place(session: AsyncSession, checkout: Checkout, actor: cart.Actor,
                 providers: cart.Providers) -> _Placed:
    """Place the order (and redeem its coupons).

    Priced without the availability provider: the stock hold (``ensure_reservation``) is what decides
    whether the goods are there, availability figures would only feed warnings nobody reads here.
    The checkout row is not written here: ``complete`` writes it once, at the end."""
    row = await cart_row(session, checkout, actor, for_update=True)
    priced = await price(session, checkout, row, cart.Providers(availability=None, tax=providers.tax))
    await _check_orderable(session, checkout, priced)
    await ensure_reservation(session, checkout, priced)
    placed = await orders.place_order(session, build_draft(checkout, priced), actor=actor.principal)
    key = domain.customer_key(checkout.customer_id, checkout.email)
    for applied in priced.totals.applied:
        await promotions.redeem(session, applied.id, key, placed.id)
    return _Placed(order=placed, cart=row)


def _set_order(checkout: Checkout, placed: orders.PlacedOrder) -> None:
    checkout.order_id, checkout.order_number = placed.id, placed.number
    checkout.order_total, checkout.currency = placed.total, placed.currency
    if checkout.status == CheckoutStatus.OPEN:
        checkout.status = domain.check_transition(checkout.status, CheckoutStatus.PAYMENT_PENDING).value


async def _check_stock_for_retry(session: AsyncSession, checkout: Checkout) -> None:
    """A retry after a declined payment charges the placed order again. Orders gave its stock back
    when the payment failed (and takes it again when a payment succeeds): check it is still there,
    so a shortage is reported before the card is charged."""
    if checkout.reservation_id is None:
        return
    try:
        r = await inventory.get_reservation(session, checkout.reservation_id)
    except inventory.ReservationNotFound:
        return
    if r.status in (inventory.ReservationStatus.ACTIVE, inventory.ReservationStatus.COMMITTED):
        return
    held = {line.variant_id: line.quantity - line.backordered for line in r.lines}
    stock = await inventory.availability(session, list(held))
    short = [{"variant_id": v, "requested": q, "available": stock.get(v, {}).get("available", 0)}
             for v, q in held.items() if q > 0 and stock.get(v, {}).get("available", 0) < q]
    if short:
        raise inventory.InsufficientStock(short)


async def _client_secret_again(session: AsyncSession, checkout: Checkout) -> str | None:
    """A Stripe payment still waiting for the customer: its client secret again (the storefront lost
    it, e.g. on a reload). Never stored: payments asks Stripe for it (the attempt is replayed by its key)."""
    payment = (checkout.result or {}).get("payment") or {}
    if (checkout.payment_method != "stripe" or payment.get("status") not in ("pending", "requires_action")
            or not checkout.completion_key or checkout.order_id is None or not checkout.order_total
            or not checkout.currency):
        return None
    again = await payments.start_payment(
        session, order_id=checkout.order_id, amount=checkout.order_total, currency=checkout.currency,
        method="stripe", idempotency_key=domain.payment_idempotency_key(checkout.id, checkout.completion_key))
    return again.client_secret if again.payment.status in ("pending", "requires_action") else None


async def _mark_cart_converted(session: AsyncSession, checkout: Checkout, actor: cart.Actor,
                               row: Any | None) -> None:
    if row is None:  # placed by an earlier request (a retry after a decline): lock the cart now
        try:
            row = await cart_row(session, checkout, actor, for_update=True)
        except MercatoError:  # already converted, or gone
            return
    await cart.mark_converted(session, row)


async def complete(session: AsyncSession, checkout_id: uuid.UUID, actor: cart.Actor, providers: cart.Providers, *,
                   idempotency_key: str, card_number: str | None = None,
                   payment_method_id: str | None = None, stripe: dict[str, Any] | None = None) -> Completion:
    # Every event of the completion (order, payment, reservation, checkout: about eight) goes to the
    # outbox in one batched INSERT at the end, in publication order; the audit entries (order placed,
    # order paid, checkout completed) likewise in one. Nothing here uses savepoints.
    async with events.batched(session), audit.batched(session):
        return await _complete(session, checkout_id, actor, providers, idempotency_key=idempotency_key,
                               card_number=card_number, payment_method_id=payment_method_id, stripe=stripe)


async def _complete(session: AsyncSession, checkout_id: uuid.UUID, actor: cart.Actor, providers: cart.Providers, *,
                    idempotency_key: str, card_number: str | None,
                    payment_method_id: str | None, stripe: dict[str, Any] | None) -> Completion:
    checkout = await load(session, checkout_id, actor, for_update=True)
    if checkout.status == CheckoutStatus.COMPLETED and checkout.result is not None:
        return Completion(checkout, checkout.result, replayed=True,
                          client_secret=await _client_secret_again(session, checkout))
    require_active(checkout)
    if not checkout.payment_method:
        raise PaymentMethodRequired()
    data = _payment_data(checkout, card_number, payment_method_id, stripe)
    new: _Placed | None = None
    order_id: uuid.UUID | None
    order_number: str | None
    total: int | None
    currency: str | None
    if checkout.order_id is None:
        new = await _place(session, checkout, actor, providers)
        order_id, order_number = new.order.id, new.order.number
        total, currency = new.order.total, new.order.currency
    else:
        await _check_stock_for_retry(session, checkout)
        order_id, order_number = checkout.order_id, checkout.order_number
        total, currency = checkout.order_total, checkout.currency
    assert order_id is not None and total is not None and currency
    order_ref = {"id": str(order_id), "number": order_number, "total": total, "currency": currency}

    payment: dict[str, Any]
    client_secret = None
    method = checkout.payment_method
    if total > 0:
        started = await payments.start_payment(
            session, order_id=order_id, amount=total, currency=currency, method=method, payment_data=data,
            idempotency_key=domain.payment_idempotency_key(checkout.id, idempotency_key))
        p = started.payment
        client_secret = started.client_secret
        payment = {"id": str(p.id), "status": p.status, "method": p.method, "next_action": started.next_action,
                   "redirect_url": started.redirect_url, "failure_code": p.failure_code}
        state = None
        if p.status in RECORDED_OUTCOMES:  # pending / requires_action: the webhook or staff settle it later
            state = await orders.record_payment(session, order_id, outcome=p.status, amount=p.amount,
                                                payment_id=p.id, actor=actor.principal,
                                                # placed just now: this is the order's only attempt
                                                attempts=[p] if new is not None else None)
    else:  # fully discounted: nothing to charge
        payment = {"id": None, "status": "captured", "method": method, "next_action": None,
                   "redirect_url": None, "failure_code": None}
        state = await orders.record_payment(session, order_id, outcome="captured", amount=0,
                                            payment_id=None, actor=actor.principal)
    order_ref.update(_order_state(state) if state is not None else
                     {"status": str(new.order.status) if new else "pending"})
    result = {"order": order_ref, "payment": payment}

    # The checkout row is written once (one UPDATE, at the final flush), with the order it produced and
    # its new status; the events go to the outbox without flushing it first.
    declined = not domain.completes_checkout(payment["status"])
    settled = not declined and payment["status"] != "requires_action"
    if settled:
        await _mark_cart_converted(session, checkout, actor, new.cart if new else None)
    if new is not None:
        _set_order(checkout, new.order)
    status_when_placed = checkout.status
    if settled:
        checkout.status = domain.check_transition(checkout.status, CheckoutStatus.COMPLETED).value
        checkout.completion_key = idempotency_key
        checkout.completed_at = now()
        checkout.result = result
    with session.no_autoflush:
        if new is not None:
            await record(session, checkout, "checkout.order_placed", status=status_when_placed, order_id=order_id,
                         order_number=order_number)
        if not settled:
            await record(session, checkout,
                         "checkout.payment_failed" if declined else "checkout.payment_requires_action",
                         order_id=order_id, payment_id=payment["id"], failure_code=payment["failure_code"])
        else:
            await record(session, checkout, "checkout.completed", actor=actor, audited=True, order_id=order_id,
                         order_number=order_number, payment_status=payment["status"], payment_method=method,
                         total=total, currency=currency)
    await session.flush()
    if not settled:
        return Completion(checkout, result, declined=declined, failure_code=payment["failure_code"],
                          client_secret=client_secret)
    return Completion(checkout, result, client_secret=client_secret)


def _order_state(state: Any) -> dict[str, Any]:
    """What ``orders.record_payment`` tells us of the order now (status and payment status)."""
    out: dict[str, Any] = {}
    for key in ("status", "payment_status", "number"):
        value = state.get(key) if isinstance(state, dict) else getattr(state, key, None)
        if value is not None:
            out[key] = str(value)
    return out
