"""Checkout steps before payment: start, contact and B2B details, addresses, shipping, coupons,
payment method (which reserves the stock)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.cart as cart
import mercato.identity as identity
import mercato.promotions as promotions
import mercato.shipping as shipping
from mercato.checkout import domain, repository
from mercato.checkout.domain import CheckoutStatus
from mercato.checkout.errors import CartEmpty, CouponNotOnCheckout, EmailRequired, ShippingAddressRequired
from mercato.checkout.models import Checkout
from mercato.checkout.schemas import CheckoutCreate, CheckoutUpdate
from mercato.checkout.service.common import (
    cart_row,
    ensure_reservation,
    load_active,
    now,
    price,
    record,
    shipping_address,
    touch,
    weight,
)
from mercato.platform.db import current_tenant
from mercato.platform.security import token_digest
from mercato.pricing import AddressIn, validate_address


async def customer_email(session: AsyncSession, customer_id: uuid.UUID) -> str | None:
    """A signed-in customer's e-mail from their account (identity's public face): they need not send it."""
    contact = await identity.get_contact(session, customer_id)
    return contact.email.lower() if contact is not None and contact.email else None


async def start(session: AsyncSession, data: CheckoutCreate, actor: cart.Actor,
                providers: cart.Providers) -> tuple[Checkout, bool]:
    """A checkout for the caller's cart (its shipping address, method and coupons carried over).
    A cart has one active checkout: starting again returns it (details updated). Returns (checkout, created)."""
    row = await cart.load_cart(session, data.cart_id, actor, for_update=True)
    email = str(data.email).lower() if data.email else None
    for existing in await repository.active_for_cart(session, row.id, for_update=True):
        if domain.is_expired(existing.expires_at, now()):
            continue
        if email:
            existing.email = email
        for key in ("organization_name", "purchase_order_number"):
            if getattr(data, key) is not None:
                setattr(existing, key, getattr(data, key))
        await touch(session, existing)
        return existing, False
    customer_id = actor.customer_id if row.customer_id == actor.customer_id else None
    if email is None and customer_id is not None:
        email = await customer_email(session, customer_id)
    if email is None and customer_id is None:
        raise EmailRequired("a guest checkout needs an e-mail address", field="email")
    checkout = await repository.insert(session, {
        "tenant_id": current_tenant(session), "cart_id": row.id, "customer_id": customer_id, "email": email,
        "token_hash": token_digest(actor.token) if actor.token else None,
        "shipping_address": row.shipping_address, "billing_address": None,
        "shipping_method_id": row.shipping_method_id, "coupon_codes": list(row.coupon_codes),
        "organization_name": data.organization_name, "purchase_order_number": data.purchase_order_number,
        "currency": row.currency, "expires_at": domain.checkout_expiry(now()),
    })
    priced = await price(session, checkout, row, providers)
    if not any(pl.priced for pl in priced.lines):
        raise CartEmpty("the cart has no items that can be bought")
    await record(session, checkout, "checkout.started", actor=actor, audited=True,
                 customer_id=customer_id, guest=customer_id is None)
    return checkout, True


async def update(session: AsyncSession, checkout_id: uuid.UUID, data: CheckoutUpdate, actor: cart.Actor) -> Checkout:
    checkout = await load_active(session, checkout_id, actor)
    changes = data.model_dump(exclude_unset=True)
    if "email" in changes:
        if changes["email"] is None and checkout.customer_id is None:
            raise EmailRequired("a guest checkout needs an e-mail address", field="email")
        checkout.email = str(changes["email"]).lower() if changes["email"] else checkout.email
    for key in ("organization_name", "purchase_order_number"):
        if key in changes:
            setattr(checkout, key, changes[key])
    await touch(session, checkout)
    return checkout


async def set_shipping_address(session: AsyncSession, checkout_id: uuid.UUID, data: AddressIn, actor: cart.Actor,
                               providers: cart.Providers) -> Checkout:
    """Validated (422 ``address_invalid`` naming every field); a chosen method that does not serve the
    new address is dropped."""
    checkout = await load_active(session, checkout_id, actor)
    address = validate_address(data)
    checkout.shipping_address = address.to_dict()
    if checkout.shipping_method_id is not None:
        options = await shipping_options(session, checkout, actor, providers)
        if not any(o.method_id == checkout.shipping_method_id for o in options):
            checkout.shipping_method_id = None
    await touch(session, checkout)
    return checkout


async def set_billing_address(session: AsyncSession, checkout_id: uuid.UUID, data: AddressIn,
                              actor: cart.Actor) -> Checkout:
    checkout = await load_active(session, checkout_id, actor)
    checkout.billing_address = validate_address(data).to_dict()
    await touch(session, checkout)
    return checkout


async def shipping_options(session: AsyncSession, checkout: Checkout, actor: cart.Actor,
                           providers: cart.Providers) -> list[shipping.ShippingOption]:
    address = shipping_address(checkout)
    if address is None:
        raise ShippingAddressRequired()
    row = await cart_row(session, checkout, actor)
    if not row.currency:
        return []
    priced = await price(session, checkout, row, providers)
    return await shipping.available_methods(session, address, weight(priced), priced.totals.subtotal, row.currency)


async def set_shipping_method(session: AsyncSession, checkout_id: uuid.UUID, method_id: uuid.UUID,
                              actor: cart.Actor, providers: cart.Providers) -> Checkout:
    checkout = await load_active(session, checkout_id, actor)
    options = await shipping_options(session, checkout, actor, providers)
    if not any(o.method_id == method_id for o in options):
        raise shipping.ShippingMethodUnavailable(field="method_id")
    checkout.shipping_method_id = method_id
    await touch(session, checkout)
    return checkout


async def apply_coupon(session: AsyncSession, checkout_id: uuid.UUID, code: str, actor: cart.Actor,
                       providers: cart.Providers) -> Checkout:
    """Problems name why a code cannot apply (``coupon_expired``, ``coupon_exhausted``, …)."""
    checkout = await load_active(session, checkout_id, actor)
    row = await cart_row(session, checkout, actor)
    priced = await price(session, checkout, row, providers)
    refs = [pl.ref for pl in priced.lines if pl.priced and pl.ref is not None]
    key = domain.customer_key(checkout.customer_id, checkout.email) if (checkout.customer_id or checkout.email) \
        else None
    promotion = await promotions.check_coupon(
        session, code, applied_codes=list(checkout.coupon_codes),
        cart=promotions.CartContext(subtotal=priced.totals.subtotal, currency=row.currency,
                                    product_ids=[r.product_id for r in refs],
                                    category_ids=[r.category_id for r in refs], customer_key=key))
    if promotion.code not in checkout.coupon_codes:
        checkout.coupon_codes = [*checkout.coupon_codes, promotion.code]
        await record(session, checkout, "checkout.updated", reason="coupon_applied", code=promotion.code,
                     promotion_id=promotion.id)
    await touch(session, checkout)
    return checkout


async def remove_coupon(session: AsyncSession, checkout_id: uuid.UUID, code: str, actor: cart.Actor) -> Checkout:
    checkout = await load_active(session, checkout_id, actor)
    normalized = promotions.normalize_code(code)
    if normalized not in checkout.coupon_codes:
        raise CouponNotOnCheckout(f"coupon {code!r} is not applied to this checkout")
    checkout.coupon_codes = [c for c in checkout.coupon_codes if c != normalized]
    await record(session, checkout, "checkout.updated", reason="coupon_removed", code=normalized)
    await touch(session, checkout)
    return checkout


async def set_payment_method(session: AsyncSession, checkout_id: uuid.UUID, method: str, actor: cart.Actor,
                             providers: cart.Providers) -> Checkout:
    """Choosing how to pay enters payment: the cart's stock is reserved now (15 min by default, renewed
    while the customer is active), so a shortage is reported before any payment is attempted."""
    checkout = await load_active(session, checkout_id, actor)
    checkout.payment_method = method
    if checkout.order_id is None:
        row = await cart_row(session, checkout, actor, for_update=True)
        priced = await price(session, checkout, row, providers)
        if not any(pl.priced for pl in priced.lines):
            raise CartEmpty("the cart has no items that can be bought")
        await ensure_reservation(session, checkout, priced)
        if checkout.status == CheckoutStatus.OPEN:
            checkout.status = domain.check_transition(checkout.status, CheckoutStatus.PAYMENT_PENDING).value
            await record(session, checkout, "checkout.payment_pending", payment_method=method,
                         reservation_id=checkout.reservation_id)
    await touch(session, checkout)
    return checkout
