"""Storefront checkout API.

Access mirrors carts: guests need only the shop (publishable key, shop subdomain or
``X-Mercato-Tenant``) and the cart's ``X-Cart-Token``; signed-in customers their JWT. An
authenticated caller needs ``checkout``. Someone else's checkout is 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status

import mercato.cart as cart
import mercato.inventory as inventory
from mercato.checkout import service
from mercato.checkout.errors import IdempotencyKeyRequired, PaymentDeclined
from mercato.checkout.metrics import checkout_metrics
from mercato.checkout.models import Checkout as CheckoutRow
from mercato.checkout.schemas import (
    Checkout,
    CheckoutAddressIn,
    CheckoutCompletion,
    CheckoutCoupon,
    CheckoutCreate,
    CheckoutLine,
    CheckoutOrderRef,
    CheckoutReservation,
    CheckoutShippingMethod,
    CheckoutTotals,
    CheckoutUpdate,
    CheckoutWarning,
    CompletedOrder,
    CompletedPayment,
    CompleteIn,
    CouponIn,
    PaymentMethodChoice,
    ShippingMethodChoice,
    ShippingOption,
    ShippingOptionList,
)
from mercato.platform import idempotency
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_response, problem_schema_responses
from mercato.platform.security import Permission

router = APIRouter(prefix="/checkouts", tags=["checkout"])


ActorDep = Annotated[cart.Actor, Depends(cart.storefront_actor(Permission.CHECKOUT))]
_providers = cart.providers


async def _out(session, checkout: CheckoutRow, request: Request, actor: cart.Actor) -> Checkout:  # type: ignore[no-untyped-def]
    if checkout.status == "completed":  # its cart became the order: priced as it was ordered
        p = await service.price_as_ordered(session, checkout, _providers(request))
    else:
        p = await service.price(session, checkout, await service.cart_row(session, checkout, actor),
                                _providers(request))
    t = p.totals
    by_key = {lt.key: lt for lt in t.lines}
    lines = []
    for pl in p.lines:
        lt, ref = by_key.get(pl.line.id), pl.ref
        lines.append(CheckoutLine(
            id=pl.line.id, variant_id=pl.line.variant_id, product_id=ref.product_id if ref else None,
            sku=ref.sku if ref else None, name=ref.product_name if ref else None, title=ref.title if ref else None,
            quantity=pl.line.quantity, unit_price=ref.price_cents if ref else None,
            subtotal=lt.subtotal if lt else 0, discount=lt.discount if lt else 0, tax=lt.tax if lt else 0,
            tax_rate=lt.tax_rate if lt else 0, total=lt.total if lt else 0,
            available=(pl.availability or {}).get("available"), warnings=list(pl.warnings)))
    applied = {a.code: a for a in t.applied}
    rejected = {r.code: r for r in p.rejected}
    coupons = [CheckoutCoupon(code=c, applied=c in applied, discount=applied[c].discount if c in applied else 0,
                              shipping_discount=applied[c].shipping_discount if c in applied else 0,
                              reason=rejected[c].reason if c in rejected else None) for c in checkout.coupon_codes]
    option = p.shipping_option
    return Checkout(
        id=checkout.id, status=checkout.status, cart_id=checkout.cart_id, customer_id=checkout.customer_id,
        email=checkout.email, currency=p.cart.currency, lines=lines, coupons=coupons,
        shipping_address=checkout.shipping_address, billing_address=checkout.billing_address,
        shipping_method=CheckoutShippingMethod(id=option.method_id, name=option.name, price_cents=option.price_cents,
                                               min_delivery_days=option.min_delivery_days,
                                               max_delivery_days=option.max_delivery_days) if option else None,
        payment_method=checkout.payment_method, organization_name=checkout.organization_name,
        purchase_order_number=checkout.purchase_order_number,
        totals=CheckoutTotals(subtotal=t.subtotal, discount_total=t.discount_total, shipping_total=t.shipping_total,
                              shipping_discount=t.shipping_discount, tax_total=t.tax_total, total=t.total),
        prices_include_tax=t.prices_include_tax, tax_calculated=p.tax_calculated,
        warnings=[CheckoutWarning(**w) for w in p.warnings],
        reservation=CheckoutReservation(id=checkout.reservation_id, expires_at=checkout.reservation_expires_at)
        if checkout.reservation_id else None,
        order=CheckoutOrderRef(id=checkout.order_id, number=checkout.order_number) if checkout.order_id else None,
        expires_at=checkout.expires_at, created_at=checkout.created_at, updated_at=checkout.updated_at)


@router.post("", response_model=Checkout, status_code=status.HTTP_201_CREATED,
             summary="Start a checkout from a cart (guest: e-mail required)",
             description="The cart's shipping address, method and coupons are carried over. A cart has one "
                         "active checkout: starting again returns it (200).",
             responses={200: {"description": "The cart's active checkout"},
                        **problem_schema_responses(400, 401, 403, 404, 409, 422)})
async def start_checkout(data: CheckoutCreate, request: Request, response: Response, session: SessionDep,
                         actor: ActorDep) -> Checkout:
    checkout, created = await service.start(session, data, actor, _providers(request))
    if created:
        checkout_metrics(request.app).started.inc()
    else:
        response.status_code = status.HTTP_200_OK
    return await _out(session, checkout, request, actor)


@router.get("/{checkout_id}", response_model=Checkout, summary="Get a checkout with live totals",
            responses=problem_schema_responses(400, 401, 403, 404))
async def get_checkout(checkout_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep) -> Checkout:
    checkout = await service.load(session, checkout_id, actor)
    return await _out(session, checkout, request, actor)


@router.patch("/{checkout_id}", response_model=Checkout, summary="Change e-mail or B2B details",
              responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def update_checkout(checkout_id: uuid.UUID, data: CheckoutUpdate, request: Request, session: SessionDep,
                          actor: ActorDep) -> Checkout:
    checkout = await service.update(session, checkout_id, data, actor)
    return await _out(session, checkout, request, actor)


@router.put("/{checkout_id}/shipping-address", response_model=Checkout, summary="Set the shipping address",
            description="Invalid addresses are rejected with 422 address_invalid listing every field error.",
            responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def set_shipping_address(checkout_id: uuid.UUID, data: CheckoutAddressIn, request: Request,
                               session: SessionDep, actor: ActorDep) -> Checkout:
    checkout = await service.set_shipping_address(session, checkout_id, data, actor, _providers(request))
    return await _out(session, checkout, request, actor)


@router.put("/{checkout_id}/billing-address", response_model=Checkout,
            summary="Set the billing address (defaults to the shipping address)",
            responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def set_billing_address(checkout_id: uuid.UUID, data: CheckoutAddressIn, request: Request,
                              session: SessionDep, actor: ActorDep) -> Checkout:
    checkout = await service.set_billing_address(session, checkout_id, data, actor)
    return await _out(session, checkout, request, actor)


@router.get("/{checkout_id}/shipping-methods", response_model=ShippingOptionList,
            summary="Shipping methods serving the checkout's address, priced for it",
            responses=problem_schema_responses(400, 401, 403, 404, 409))
async def list_shipping_methods(checkout_id: uuid.UUID, request: Request, session: SessionDep,
                                actor: ActorDep) -> ShippingOptionList:
    checkout = await service.load(session, checkout_id, actor)
    options = await service.shipping_options(session, checkout, actor, _providers(request))
    return ShippingOptionList(items=[ShippingOption(**o.__dict__) for o in options])


@router.put("/{checkout_id}/shipping-method", response_model=Checkout, summary="Choose a shipping method",
            responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def set_shipping_method(checkout_id: uuid.UUID, data: ShippingMethodChoice, request: Request,
                              session: SessionDep, actor: ActorDep) -> Checkout:
    checkout = await service.set_shipping_method(session, checkout_id, data.method_id, actor, _providers(request))
    return await _out(session, checkout, request, actor)


@router.post("/{checkout_id}/coupons", response_model=Checkout, summary="Apply a coupon code",
             description="Problems name why a code cannot apply: coupon_invalid, coupon_expired, coupon_not_started, "
                         "coupon_exhausted, coupon_minimum_not_met, coupon_not_applicable, "
                         "coupon_currency_mismatch, coupon_not_combinable.",
             responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def apply_coupon(checkout_id: uuid.UUID, data: CouponIn, request: Request, session: SessionDep,
                       actor: ActorDep) -> Checkout:
    checkout = await service.apply_coupon(session, checkout_id, data.code, actor, _providers(request))
    return await _out(session, checkout, request, actor)


@router.delete("/{checkout_id}/coupons/{code}", response_model=Checkout, summary="Remove a coupon code",
               responses=problem_schema_responses(400, 401, 403, 404, 409))
async def remove_coupon(checkout_id: uuid.UUID, code: str, request: Request, session: SessionDep,
                        actor: ActorDep) -> Checkout:
    checkout = await service.remove_coupon(session, checkout_id, code, actor)
    return await _out(session, checkout, request, actor)


@router.put("/{checkout_id}/payment-method", response_model=Checkout,
            summary="Choose the payment method (reserves the stock)",
            description="test, manual (cash on delivery) or stripe. The cart's stock is held from now on (15 minutes "
                        "by default, renewed on every checkout request); a shortage is 409 insufficient_stock "
                        "naming each short line.",
            responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def set_payment_method(checkout_id: uuid.UUID, data: PaymentMethodChoice, request: Request,
                             session: SessionDep, actor: ActorDep) -> Checkout:
    try:
        checkout = await service.set_payment_method(session, checkout_id, data.method, actor, _providers(request))
    except inventory.InsufficientStock:
        checkout_metrics(request.app).insufficient_stock.inc()
        raise
    return await _out(session, checkout, request, actor)


@router.post("/{checkout_id}/complete", response_model=CheckoutCompletion,
             summary="Place the order and pay (Idempotency-Key required)",
             description="One transaction: re-price, hold the stock, place the order, redeem coupons, start the "
                         "payment. The same Idempotency-Key never creates a second order. A declined payment "
                         "answers 402 payment_declined and keeps the (pending) order: retry with a new "
                         "Idempotency-Key and another card. 503 payment_gateway_unavailable: nothing was "
                         "recorded, retry later. Stripe: `payment.client_secret` is never stored, so a replay of the "
                         "same Idempotency-Key answers it null (header Idempotent-Redacted); call `complete` again "
                         "with a new Idempotency-Key to get the intent's secret.",
             responses={**problem_schema_responses(400, 401, 402, 403, 404, 409, 422, 503)},
             # Stripe: the client secret must not be stored; a replay answers it null (see docs/checkout.md)
             dependencies=[Depends(idempotency.redact("payment.client_secret"))])
async def complete_checkout(checkout_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep,
                            data: CompleteIn | None = None,
                            idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key",
                                                                          max_length=255)] = None):  # type: ignore[no-untyped-def]
    if not idempotency_key:
        raise IdempotencyKeyRequired("send an Idempotency-Key header (any unique string per attempt)",
                                     field="header.Idempotency-Key")
    data = data or CompleteIn()
    metrics = checkout_metrics(request.app)
    try:
        done = await service.complete(session, checkout_id, actor, _providers(request),
                                      idempotency_key=idempotency_key, card_number=data.card_number,
                                      payment_method_id=data.payment_method_id,
                                      stripe={"flow": data.stripe_flow, "success_url": data.success_url,
                                              "cancel_url": data.cancel_url})
    except inventory.InsufficientStock:
        metrics.insufficient_stock.inc()
        raise
    checkout = done.checkout
    order, payment = done.result["order"], done.result["payment"]
    if done.declined:
        metrics.payment_declined.labels(checkout.payment_method or "unknown").inc()
        error = PaymentDeclined(
            f"the payment was declined ({done.failure_code or 'declined'}); the order is kept: retry with a new "
            "Idempotency-Key and another card", checkout_id=str(checkout.id), order_id=order["id"],
            order_number=order.get("number"), payment_id=payment["id"], failure_code=done.failure_code)
        # returned, not raised: the order and the failed attempt must commit
        return problem_response(error.to_problem(request), error.status)
    if not done.replayed and checkout.status == "completed":
        metrics.completed.labels(checkout.payment_method or "unknown").inc()
        metrics.order_value.labels(checkout.currency or "").observe((checkout.order_total or 0) / 100)
    return CheckoutCompletion(
        checkout_id=checkout.id, status=checkout.status,
        order=CompletedOrder(id=order["id"], number=order.get("number") or "", status=order.get("status", "pending"),
                             payment_status=order.get("payment_status", "unpaid"), total=order["total"],
                             currency=order["currency"]),
        payment=CompletedPayment(id=payment["id"], status=payment["status"], method=payment["method"],
                                 client_secret=done.client_secret, next_action=payment.get("next_action"),
                                 redirect_url=payment.get("redirect_url")))
