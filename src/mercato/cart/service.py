"""Cart use cases. Every read re-prices the cart live with :func:`mercato.pricing.price_cart`.

Who may open a cart: its customer (JWT of the user it belongs to) or whoever holds its guest
token (``X-Cart-Token``, stored only as a SHA-256 digest). Anyone else gets 404, never 403.
Writes lock the cart row first, so concurrent adds to one cart serialize.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.catalog as catalog
import mercato.promotions as promotions
import mercato.shipping as shipping
import mercato.taxes as taxes
from mercato.cart import repository
from mercato.cart.domain import (
    MAX_LINES,
    added_quantity,
    availability_warning,
    check_currency,
    check_quantity,
    guest_expiry,
    is_expired,
    merged_quantity,
)
from mercato.cart.errors import (
    CartLineNotFound,
    CartNotFound,
    CartTokenRequired,
    CouponNotOnCart,
    CustomerRequired,
    QuantityInvalid,
    ShippingAddressRequired,
    UnknownVariant,
    VariantUnavailable,
)
from mercato.cart.models import Cart, CartLine
from mercato.platform.db import current_tenant
from mercato.platform.events import publish
from mercato.platform.security import Principal, constant_time_equals, new_token, token_digest
from mercato.pricing import Address, AddressIn, PriceLine, RejectedPromotion, Totals, price_cart, validate_address

AvailabilityProvider = Callable[[AsyncSession, list[uuid.UUID]], Awaitable[dict[uuid.UUID, dict[str, Any]]]]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """The caller as carts see them: a signed-in user (customer) and/or a guest cart token."""

    principal: Principal
    token: str | None = None

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.principal.user_id if self.principal.kind == "user" else None


@dataclass(frozen=True)
class Providers:
    """Pluggable sources (``app.state.availability_provider`` / ``app.state.tax_provider``)."""

    availability: AvailabilityProvider | None = None
    tax: taxes.TaxProvider | None = None


@dataclass(frozen=True)
class PricedLine:
    line: CartLine
    ref: catalog.VariantRef | None
    availability: dict[str, Any] | None
    warnings: tuple[str, ...]

    @property
    def priced(self) -> bool:
        return "variant_unavailable" not in self.warnings and "currency_mismatch" not in self.warnings


@dataclass(frozen=True)
class PricedCart:
    """A cart with everything checkout needs: lines with their catalog refs, the address, the
    shipping option and the totals of the one pricing function."""

    cart: Cart
    lines: tuple[PricedLine, ...]
    totals: Totals
    address: Address | None
    shipping_option: shipping.ShippingOption | None
    rejected: tuple[RejectedPromotion, ...]
    tax_calculated: bool
    warnings: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    token: str | None = None


# --------------------------------------------------------------------------- access


def _owns(cart: Cart, actor: Actor) -> bool:
    if actor.customer_id is not None and cart.customer_id == actor.customer_id:
        return True
    return bool(actor.token and cart.token_hash and constant_time_equals(token_digest(actor.token), cart.token_hash))


async def load_cart(session: AsyncSession, cart_id: uuid.UUID, actor: Actor, *, for_update: bool = False) -> Cart:
    cart = await repository.get_cart(session, cart_id, for_update=for_update)
    if cart is None or cart.status != "active" or is_expired(cart.expires_at, _now()) or not _owns(cart, actor):
        raise CartNotFound()
    return cart


async def current_cart(session: AsyncSession, actor: Actor) -> Cart:
    """The signed-in customer's cart, else the guest cart named by the token."""
    if actor.customer_id is not None:
        cart = await repository.find_customer_cart(session, actor.customer_id)
        if cart is not None:
            return cart
    if actor.token:
        cart = await repository.find_by_token(session, token_digest(actor.token))
        if cart is not None and not is_expired(cart.expires_at, _now()):
            return cart
    raise CartNotFound("no current cart: create one with POST /carts")


async def create_cart(session: AsyncSession, actor: Actor) -> tuple[Cart, str | None, bool]:
    """A customer gets their one active cart (created if missing); a guest gets a new cart and its
    token (returned once). Returns (cart, token, created)."""
    tenant_id = current_tenant(session)
    assert tenant_id is not None
    if actor.customer_id is not None:
        cart = await repository.find_customer_cart(session, actor.customer_id)
        if cart is not None:
            return cart, None, False
        cart = await repository.insert_customer_cart(session, tenant_id, actor.customer_id)
        if cart is None:  # a concurrent request created it first
            cart = await repository.find_customer_cart(session, actor.customer_id)
            assert cart is not None
            return cart, None, False
        token = None
    else:
        token = new_token()
        cart = await repository.insert_guest_cart(session, tenant_id, token_digest(token), guest_expiry(_now()))
    await publish(session, "cart.created", aggregate_type="cart", aggregate_id=cart.id,
                  data={"cart_id": str(cart.id), "customer_id": str(cart.customer_id) if cart.customer_id else None})
    return cart, token, True


async def _customer_cart_for_update(session: AsyncSession, customer_id: uuid.UUID) -> Cart:
    cart = await repository.find_customer_cart(session, customer_id, for_update=True)
    if cart is None:
        tenant_id = current_tenant(session)
        assert tenant_id is not None
        await repository.insert_customer_cart(session, tenant_id, customer_id)
        cart = await repository.find_customer_cart(session, customer_id, for_update=True)
        assert cart is not None
        await publish(session, "cart.created", aggregate_type="cart", aggregate_id=cart.id,
                      data={"cart_id": str(cart.id), "customer_id": str(customer_id)})
    return cart


async def _touch(session: AsyncSession, cart: Cart) -> None:
    now = _now()
    await repository.touch(session, cart, now=now, expires_at=guest_expiry(now))


async def mark_converted(session: AsyncSession, cart: Cart) -> None:
    """The cart became an order: it is closed (a customer's next ``current`` read starts a new one)."""
    cart.status = "completed"
    await session.flush()


# --------------------------------------------------------------------------- lines


async def add_line(session: AsyncSession, cart: Cart, variant_id: uuid.UUID, quantity: int) -> None:
    """Add ``quantity`` of a variant (summed with an existing line). The cart must be row-locked."""
    check_quantity(quantity)
    ref = (await catalog.get_variant_refs(session, [variant_id])).get(variant_id)
    if ref is None:
        raise UnknownVariant(f"no variant {variant_id}", field="variant_id")
    if not ref.sellable:
        raise VariantUnavailable(f"{ref.sku} is not available for sale", field="variant_id", variant_id=str(variant_id))
    lines = await repository.lines(session, cart.id)
    existing = next((line for line in lines if line.variant_id == variant_id), None)
    if existing is None and len(lines) >= MAX_LINES:
        raise QuantityInvalid(f"a cart holds at most {MAX_LINES} different items", field="variant_id")
    total = added_quantity(existing.quantity if existing else 0, quantity)
    cart.currency = check_currency(cart.currency if lines else None, ref.currency)
    await repository.set_line_quantity(session, cart.tenant_id, cart.id, variant_id, total)
    await _touch(session, cart)


async def update_line(session: AsyncSession, cart: Cart, line_id: uuid.UUID, quantity: int) -> None:
    line = await repository.get_line(session, cart.id, line_id)
    if line is None:
        raise CartLineNotFound()
    if quantity > line.quantity:  # growing a line needs the variant to still be for sale
        ref = (await catalog.get_variant_refs(session, [line.variant_id])).get(line.variant_id)
        if ref is None or not ref.sellable:
            raise VariantUnavailable("this item is no longer available for sale", field="quantity",
                                     variant_id=str(line.variant_id))
    line.quantity = check_quantity(quantity)
    await _touch(session, cart)


async def remove_line(session: AsyncSession, cart: Cart, line_id: uuid.UUID) -> None:
    if not await repository.delete_line(session, cart.id, line_id):
        raise CartLineNotFound()
    if await repository.count_lines(session, cart.id) == 0:
        cart.currency = None
    await _touch(session, cart)


async def clear(session: AsyncSession, cart: Cart) -> None:
    await repository.clear_lines(session, cart.id)
    cart.currency = None
    cart.coupon_codes = []
    await _touch(session, cart)


# --------------------------------------------------------------------------- coupons, address, shipping


async def apply_coupon(session: AsyncSession, cart: Cart, code: str, actor: Actor, providers: Providers) -> None:
    priced = await price(session, cart, providers)
    refs = [pl.ref for pl in priced.lines if pl.priced and pl.ref is not None]
    promotion = await promotions.check_coupon(
        session, code, applied_codes=list(cart.coupon_codes),
        cart=promotions.CartContext(subtotal=priced.totals.subtotal, currency=cart.currency,
                                    product_ids=[r.product_id for r in refs],
                                    category_ids=[r.category_id for r in refs],
                                    customer_key=str(actor.customer_id) if actor.customer_id else None))
    if promotion.code in cart.coupon_codes:
        return
    cart.coupon_codes = [*cart.coupon_codes, promotion.code]
    await _touch(session, cart)
    await publish(session, "coupon.applied", aggregate_type="cart", aggregate_id=cart.id,
                  data={"cart_id": str(cart.id), "code": promotion.code, "promotion_id": str(promotion.id)})


async def remove_coupon(session: AsyncSession, cart: Cart, code: str) -> None:
    normalized = promotions.normalize_code(code)
    if normalized not in cart.coupon_codes:
        raise CouponNotOnCart(f"coupon {code!r} is not applied to this cart")
    cart.coupon_codes = [c for c in cart.coupon_codes if c != normalized]
    await _touch(session, cart)


async def set_shipping_address(session: AsyncSession, cart: Cart, data: AddressIn) -> None:
    address = validate_address(data)
    cart.shipping_address = address.to_dict()
    await _touch(session, cart)


def _address(cart: Cart) -> Address | None:
    return Address.from_dict(cart.shipping_address) if cart.shipping_address else None


async def shipping_options(session: AsyncSession, cart: Cart, providers: Providers) -> list[shipping.ShippingOption]:
    address = _address(cart)
    if address is None:
        raise ShippingAddressRequired()
    if not cart.currency:
        return []
    priced = await price(session, cart, providers)
    return await shipping.available_methods(session, address, _weight(priced.lines), priced.totals.subtotal,
                                            cart.currency)


async def set_shipping_method(session: AsyncSession, cart: Cart, method_id: uuid.UUID, providers: Providers) -> None:
    options = await shipping_options(session, cart, providers)
    if not any(o.method_id == method_id for o in options):
        raise shipping.ShippingMethodUnavailable(field="method_id")
    cart.shipping_method_id = method_id
    await _touch(session, cart)


# --------------------------------------------------------------------------- merge on login


async def merge(session: AsyncSession, actor: Actor) -> Cart:
    """Fold the guest cart (``X-Cart-Token``) into the signed-in customer's cart: quantities are
    summed (capped at the per-line maximum), coupons and address carried over when the customer
    cart has none; lines priced in another currency than the customer's cart are dropped.
    The guest cart is closed (``merged``) and its token stops working."""
    if actor.customer_id is None:
        raise CustomerRequired()
    if not actor.token:
        raise CartTokenRequired()
    guest = await repository.find_by_token(session, token_digest(actor.token), for_update=True)
    if guest is None or guest.customer_id is not None or is_expired(guest.expires_at, _now()):
        raise CartNotFound("no guest cart for this token")
    target = await _customer_cart_for_update(session, actor.customer_id)
    target_lines = {line.variant_id: line for line in await repository.lines(session, target.id)}
    target_currency = target.currency if target_lines else None
    moved = skipped = 0
    for line in await repository.lines(session, guest.id):
        if target_currency and guest.currency and guest.currency != target_currency:
            skipped += 1
            continue
        existing = target_lines.get(line.variant_id)
        quantity = merged_quantity(existing.quantity if existing else 0, line.quantity)
        await repository.set_line_quantity(session, target.tenant_id, target.id, line.variant_id, quantity)
        moved += 1
    if moved and target_currency is None:
        target.currency = guest.currency
    if not target.coupon_codes and guest.coupon_codes:
        target.coupon_codes = list(guest.coupon_codes)
    if target.shipping_address is None and guest.shipping_address is not None:
        target.shipping_address = guest.shipping_address
        target.shipping_method_id = guest.shipping_method_id
    guest.status = "merged"
    guest.token_hash = None
    guest.customer_id = actor.customer_id  # keeps the has_owner check true once the token is gone
    await session.flush()
    await _touch(session, target)
    await publish(session, "cart.updated", aggregate_type="cart", aggregate_id=target.id,
                  data={"cart_id": str(target.id), "reason": "merged", "merged_cart_id": str(guest.id),
                        "lines_merged": moved, "lines_skipped": skipped})
    return target


# --------------------------------------------------------------------------- pricing (every read)


def _weight(lines: Collection[PricedLine]) -> int:
    return sum((pl.ref.weight_grams or 0) * pl.line.quantity for pl in lines if pl.priced and pl.ref)


async def price(session: AsyncSession, cart: Cart, providers: Providers) -> PricedCart:
    """The cart priced now: live variant prices, availability, promotions, tax for the shipping
    address (tenant's inclusive/exclusive setting), the chosen shipping method's current rate."""
    lines = await repository.lines(session, cart.id)
    ids = [line.variant_id for line in lines]
    refs = await catalog.get_variant_refs(session, ids)
    availability = await providers.availability(session, ids) if providers.availability and ids else {}
    priced_lines: list[PricedLine] = []
    for line in lines:
        ref = refs.get(line.variant_id)
        warnings: list[str] = []
        if ref is None or not ref.sellable:
            warnings.append("variant_unavailable")
        elif cart.currency and ref.currency != cart.currency:
            warnings.append("currency_mismatch")
        else:
            w = availability_warning(line.quantity, availability.get(line.variant_id), ref.allow_backorder)
            if w:
                warnings.append(w)
        priced_lines.append(PricedLine(line, ref, availability.get(line.variant_id), tuple(warnings)))

    currency = cart.currency or "USD"
    price_lines = [PriceLine(key=pl.line.id, unit_price=pl.ref.price_cents, quantity=pl.line.quantity,
                             product_id=pl.ref.product_id, category_id=pl.ref.category_id,
                             tax_class=pl.ref.tax_class)
                   for pl in priced_lines if pl.priced and pl.ref is not None]
    customer_key = str(cart.customer_id) if cart.customer_id else None
    rules, rejected = await promotions.rules_for_codes(session, list(cart.coupon_codes), customer_key=customer_key)
    settings = await taxes.get_tax_settings(session)
    address = _address(cart)
    tax_rates: dict[str, Any] = {}
    if address is not None and price_lines:
        classes = {pl.tax_class for pl in price_lines} | ({settings.shipping_tax_class} - {None})
        tax_rates = await taxes.rates_for(session, address, classes, providers.tax)  # type: ignore[arg-type]
    option = None
    warnings: list[dict[str, Any]] = []
    if address is not None and cart.shipping_method_id and price_lines and cart.currency:
        subtotal = sum(pl.unit_price * pl.quantity for pl in price_lines)
        option = await shipping.quote(session, cart.shipping_method_id, address, _weight(priced_lines), subtotal,
                                      cart.currency)
        if option is None:
            warnings.append({"code": "shipping_method_unavailable",
                             "message": "the chosen shipping method no longer serves this cart; choose another"})
    totals = price_cart(
        price_lines, currency=currency, promotions=rules, tax_rates=tax_rates,
        shipping_rate=option.price_cents if option else None,
        shipping_tax_rate=tax_rates.get(settings.shipping_tax_class) if settings.shipping_tax_class else None,
        prices_include_tax=settings.prices_include_tax)
    rejected_all = (*rejected, *totals.rejected)
    for pl in priced_lines:
        for w in pl.warnings:
            warnings.append({"code": w, "line_id": pl.line.id, "message": _LINE_WARNINGS[w]})
    for r in rejected_all:
        warnings.append({"code": r.reason, "message": f"coupon {r.code} does not apply: {r.reason}"})
    return PricedCart(cart=cart, lines=tuple(priced_lines), totals=totals, address=address, shipping_option=option,
                      rejected=tuple(rejected_all), tax_calculated=address is not None, warnings=tuple(warnings))


_LINE_WARNINGS = {
    "variant_unavailable": "this item is no longer available and is not counted in the totals",
    "currency_mismatch": "this item is priced in another currency and is not counted in the totals",
    "out_of_stock": "this item is out of stock",
    "insufficient_stock": "fewer units are in stock than requested",
}
