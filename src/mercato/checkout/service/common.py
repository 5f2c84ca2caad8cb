"""What every checkout use case shares: access, the priced view of the cart, the stock hold."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.cart as cart
import mercato.inventory as inventory
from mercato.checkout import domain, repository
from mercato.checkout.domain import CheckoutStatus
from mercato.checkout.errors import CheckoutNotActive, CheckoutNotFound
from mercato.checkout.models import Checkout
from mercato.platform.errors import MercatoError
from mercato.platform.events import publish
from mercato.platform.security import constant_time_equals, token_digest
from mercato.pricing import Address

#: The shop's reservation TTL is inventory's setting; this default only decides when to renew.
DEFAULT_RESERVATION_TTL_SECONDS = 900


def now() -> datetime:
    return datetime.now(UTC)


Actor = cart.Actor
Providers = cart.Providers


# --------------------------------------------------------------------------- access


def owns(checkout: Checkout, actor: cart.Actor) -> bool:
    if actor.customer_id is not None and checkout.customer_id == actor.customer_id:
        return True
    return bool(actor.token and checkout.token_hash
                and constant_time_equals(token_digest(actor.token), checkout.token_hash))


async def load(session: AsyncSession, checkout_id: uuid.UUID, actor: cart.Actor, *,
               for_update: bool = False) -> Checkout:
    checkout = await repository.get(session, checkout_id, for_update=for_update)
    if checkout is None or not owns(checkout, actor):
        raise CheckoutNotFound()
    return checkout


def require_active(checkout: Checkout) -> None:
    if not domain.is_active(checkout.status):
        raise CheckoutNotActive(f"this checkout is {checkout.status}", status_now=checkout.status)
    if domain.is_expired(checkout.expires_at, now()):
        raise CheckoutNotActive("this checkout has expired; start a new one from the cart", status_now="expired")


async def load_active(session: AsyncSession, checkout_id: uuid.UUID, actor: cart.Actor) -> Checkout:
    """The checkout, row-locked (concurrent changes to one checkout serialize), open for changes."""
    checkout = await load(session, checkout_id, actor, for_update=True)
    require_active(checkout)
    return checkout


async def touch(session: AsyncSession, checkout: Checkout) -> None:
    """An interaction: slide the checkout's expiry and renew its stock hold while the customer is active.

    A hold the expiry job already released (or that was committed) is forgotten: the checkout is
    open again and ``complete`` (or choosing a payment method) reserves anew."""
    t = now()
    checkout.updated_at = t
    checkout.expires_at = domain.checkout_expiry(t)
    if checkout.reservation_id is not None and checkout.order_id is None and domain.needs_renewal(
            checkout.reservation_expires_at, t, DEFAULT_RESERVATION_TTL_SECONDS):
        try:
            r = await inventory.extend(session, checkout.reservation_id)
            checkout.reservation_expires_at = r.expires_at
        except MercatoError:  # released or expired meanwhile
            forget_reservation(checkout)
    await session.flush()


def forget_reservation(checkout: Checkout) -> None:
    checkout.reservation_id = None
    checkout.reservation_expires_at = None
    if checkout.status == CheckoutStatus.PAYMENT_PENDING and checkout.order_id is None:
        checkout.status = domain.check_transition(checkout.status, CheckoutStatus.OPEN).value


# --------------------------------------------------------------------------- pricing


@dataclass
class CartView:
    """The cart as :func:`mercato.cart.price` reads it, with the checkout's own choices (address,
    shipping method, coupons): one pricing function for cart, checkout and order."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    currency: str | None
    customer_id: uuid.UUID | None
    coupon_codes: list[str] = field(default_factory=list)
    shipping_address: dict[str, Any] | None = None
    shipping_method_id: uuid.UUID | None = None
    status: str = "active"


async def cart_row(session: AsyncSession, checkout: Checkout, actor: cart.Actor, *, for_update: bool = False) -> Any:
    return await cart.load_cart(session, checkout.cart_id, actor, for_update=for_update)


async def price(session: AsyncSession, checkout: Checkout, row: Any, providers: cart.Providers) -> cart.PricedCart:
    view = CartView(id=row.id, tenant_id=row.tenant_id, currency=row.currency, customer_id=checkout.customer_id,
                    coupon_codes=list(checkout.coupon_codes), shipping_address=checkout.shipping_address,
                    shipping_method_id=checkout.shipping_method_id)
    return await cart.price(session, cast(Any, view), providers)


async def price_as_ordered(session: AsyncSession, checkout: Checkout, providers: cart.Providers) -> cart.PricedCart:
    """A completed checkout (its cart is converted and no longer loadable by the storefront)."""
    view = CartView(id=checkout.cart_id, tenant_id=checkout.tenant_id, currency=checkout.currency,
                    customer_id=checkout.customer_id, coupon_codes=list(checkout.coupon_codes),
                    shipping_address=checkout.shipping_address, shipping_method_id=checkout.shipping_method_id)
    return await cart.price(session, cast(Any, view), providers)


def weight(priced: cart.PricedCart) -> int:
    return sum((pl.ref.weight_grams or 0) * pl.line.quantity for pl in priced.lines if pl.priced and pl.ref)


def shipping_address(checkout: Checkout) -> Address | None:
    return Address.from_dict(checkout.shipping_address) if checkout.shipping_address else None


def wanted(priced: cart.PricedCart) -> dict[uuid.UUID, int]:
    return domain.demand((pl.line.variant_id, pl.line.quantity) for pl in priced.lines if pl.priced)


# --------------------------------------------------------------------------- stock


async def ensure_reservation(session: AsyncSession, checkout: Checkout, priced: cart.PricedCart) -> None:
    """Hold exactly what the cart asks for: keep (and renew) a hold that still fits, else release it
    and reserve anew. ``insufficient_stock`` (409, naming each short line) is raised here, before any
    payment is attempted."""
    want = wanted(priced)
    if checkout.reservation_id is not None:
        try:
            r = await inventory.get_reservation(session, checkout.reservation_id)
        except inventory.ReservationNotFound:
            r = None
        if r is not None and r.status == inventory.ReservationStatus.ACTIVE:
            held = {line.variant_id: line.quantity for line in r.lines}
            if domain.reservation_matches(held, want):
                if domain.needs_renewal(r.expires_at, now(), DEFAULT_RESERVATION_TTL_SECONDS):
                    r = await inventory.extend(session, r.id)
                checkout.reservation_expires_at = r.expires_at
                return
            await inventory.release(session, r.id, "checkout_changed")
        forget_reservation(checkout)
    r = await inventory.reserve(session, list(want.items()), reference=f"checkout:{checkout.id}")
    checkout.reservation_id = r.id
    checkout.reservation_expires_at = r.expires_at


async def release_reservation(session: AsyncSession, checkout: Checkout, reason: str) -> None:
    if checkout.reservation_id is None or checkout.order_id is not None:
        return
    try:
        await inventory.release(session, checkout.reservation_id, reason)
    except MercatoError:  # already released, expired or committed
        pass
    checkout.reservation_id = None
    checkout.reservation_expires_at = None


# --------------------------------------------------------------------------- events


async def record(session: AsyncSession, checkout: Checkout, event: str, *, actor: cart.Actor | None = None,
                 audited: bool = False, **data: Any) -> None:
    payload = {"checkout_id": str(checkout.id), "cart_id": str(checkout.cart_id), "status": checkout.status,
               **{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in data.items()}}
    await publish(session, event, aggregate_type="checkout", aggregate_id=checkout.id, data=payload)
    if audited:
        await audit.record(session, action=event, resource_type="checkout", resource_id=checkout.id,
                           changes={k: {"from": None, "to": v} for k, v in payload.items()},
                           actor=actor.principal if actor else None)
