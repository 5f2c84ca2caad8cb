"""Storefront cart API.

Guests need only the shop (publishable key, shop subdomain or ``X-Mercato-Tenant``): creating a
cart returns an opaque token, sent back as ``X-Cart-Token``. Signed-in customers are recognised by
their JWT; their cart follows them across devices. Storefronts call ``POST /carts/merge`` right
after login to fold the guest cart into the customer's.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from mercato.cart import service
from mercato.cart.auth import providers, storefront_actor
from mercato.cart.domain import CART_TOKEN_HEADER
from mercato.cart.models import Cart as CartRow
from mercato.cart.schemas import (
    Cart,
    CartCoupon,
    CartLine,
    CartShippingMethod,
    CartTotals,
    CartWarning,
    CouponIn,
    LineAdd,
    LineUpdate,
    ShippingAddressIn,
    ShippingMethodChoice,
    ShippingOption,
    ShippingOptionList,
)
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.security import Permission

router = APIRouter(prefix="/carts", tags=["carts"])


ActorDep = Annotated[service.Actor, Depends(storefront_actor(Permission.CART))]
_providers = providers


async def _out(session, cart: CartRow, request: Request, token: str | None = None) -> Cart:  # type: ignore[no-untyped-def]
    p = await service.price(session, cart, _providers(request))
    t = p.totals
    by_key = {lt.key: lt for lt in t.lines}
    lines = []
    for pl in p.lines:
        lt = by_key.get(pl.line.id)
        ref = pl.ref
        lines.append(CartLine(
            id=pl.line.id, variant_id=pl.line.variant_id, product_id=ref.product_id if ref else None,
            sku=ref.sku if ref else None, name=ref.product_name if ref else None, title=ref.title if ref else None,
            quantity=pl.line.quantity, unit_price=ref.price_cents if ref else None,
            subtotal=lt.subtotal if lt else 0, discount=lt.discount if lt else 0, tax=lt.tax if lt else 0,
            tax_rate=lt.tax_rate if lt else 0, total=lt.total if lt else 0,
            available=(pl.availability or {}).get("available"), warnings=list(pl.warnings)))
    applied = {a.code: a for a in t.applied}
    rejected = {r.code: r for r in p.rejected}
    coupons = [CartCoupon(code=c, applied=c in applied, discount=applied[c].discount if c in applied else 0,
                          shipping_discount=applied[c].shipping_discount if c in applied else 0,
                          reason=rejected[c].reason if c in rejected else None) for c in cart.coupon_codes]
    option = p.shipping_option
    return Cart(
        id=cart.id, status=cart.status, currency=cart.currency, customer_id=cart.customer_id, token=token,
        item_count=sum(pl.line.quantity for pl in p.lines), lines=lines, coupons=coupons,
        shipping_address=cart.shipping_address,
        shipping_method=CartShippingMethod(id=option.method_id, name=option.name, price_cents=option.price_cents,
                                           min_delivery_days=option.min_delivery_days,
                                           max_delivery_days=option.max_delivery_days) if option else None,
        totals=CartTotals(subtotal=t.subtotal, discount_total=t.discount_total, shipping_total=t.shipping_total,
                          shipping_discount=t.shipping_discount, tax_total=t.tax_total, total=t.total),
        prices_include_tax=t.prices_include_tax, tax_calculated=p.tax_calculated,
        warnings=[CartWarning(**w) for w in p.warnings], expires_at=cart.expires_at, created_at=cart.created_at,
        updated_at=cart.updated_at)


@router.post("", response_model=Cart, status_code=status.HTTP_201_CREATED,
             summary="Create a cart (guest: returns its token) or get the customer's cart",
             responses={200: {"description": "The signed-in customer's existing cart"},
                        **problem_schema_responses(400, 401, 403)})
async def create_cart(request: Request, response: Response, session: SessionDep, actor: ActorDep) -> Cart:
    cart, token, created = await service.create_cart(session, actor)
    if not created:
        response.status_code = status.HTTP_200_OK
    if token:
        response.headers[CART_TOKEN_HEADER] = token
    return await _out(session, cart, request, token)


@router.get("/current", response_model=Cart, summary="The signed-in customer's cart, or the guest cart of X-Cart-Token",
            responses=problem_schema_responses(400, 401, 403, 404))
async def current_cart(request: Request, session: SessionDep, actor: ActorDep) -> Cart:
    return await _out(session, await service.current_cart(session, actor), request)


@router.post("/merge", response_model=Cart, summary="Merge the guest cart (X-Cart-Token) into the customer's cart",
             description="Call right after login. Quantities are summed (capped at 99 per line); the guest cart "
                         "is closed and its token stops working.",
             responses=problem_schema_responses(400, 401, 403, 404))
async def merge_carts(request: Request, session: SessionDep, actor: ActorDep) -> Cart:
    return await _out(session, await service.merge(session, actor), request)


@router.get("/{cart_id}", response_model=Cart, summary="Get a cart with live prices and totals",
            responses=problem_schema_responses(400, 401, 403, 404))
async def get_cart(cart_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep) -> Cart:
    return await _out(session, await service.load_cart(session, cart_id, actor), request)


@router.post("/{cart_id}/lines", response_model=Cart, summary="Add a variant (summed with its line)",
             responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def add_line(cart_id: uuid.UUID, data: LineAdd, request: Request, session: SessionDep, actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.add_line(session, cart, data.variant_id, data.quantity)
    return await _out(session, cart, request)


@router.patch("/{cart_id}/lines/{line_id}", response_model=Cart, summary="Change a line's quantity",
              responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def update_line(cart_id: uuid.UUID, line_id: uuid.UUID, data: LineUpdate, request: Request,
                      session: SessionDep, actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.update_line(session, cart, line_id, data.quantity)
    return await _out(session, cart, request)


@router.delete("/{cart_id}/lines/{line_id}", response_model=Cart, summary="Remove a line",
               responses=problem_schema_responses(400, 401, 403, 404))
async def remove_line(cart_id: uuid.UUID, line_id: uuid.UUID, request: Request, session: SessionDep,
                      actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.remove_line(session, cart, line_id)
    return await _out(session, cart, request)


@router.delete("/{cart_id}/lines", response_model=Cart, summary="Empty the cart (lines and coupons)",
               responses=problem_schema_responses(400, 401, 403, 404))
async def clear_cart(cart_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.clear(session, cart)
    return await _out(session, cart, request)


@router.post("/{cart_id}/coupons", response_model=Cart, summary="Apply a coupon code",
             description="Problems name why a code cannot apply: coupon_invalid, coupon_expired, coupon_not_started, "
                         "coupon_exhausted, coupon_minimum_not_met, coupon_not_applicable, "
                         "coupon_currency_mismatch, coupon_not_combinable.",
             responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def apply_coupon(cart_id: uuid.UUID, data: CouponIn, request: Request, session: SessionDep,
                       actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.apply_coupon(session, cart, data.code, actor, _providers(request))
    return await _out(session, cart, request)


@router.delete("/{cart_id}/coupons/{code}", response_model=Cart, summary="Remove a coupon code",
               responses=problem_schema_responses(400, 401, 403, 404))
async def remove_coupon(cart_id: uuid.UUID, code: str, request: Request, session: SessionDep,
                        actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.remove_coupon(session, cart, code)
    return await _out(session, cart, request)


@router.put("/{cart_id}/shipping-address", response_model=Cart, summary="Set the shipping address",
            description="Invalid addresses are rejected with 422 address_invalid listing every field error.",
            responses=problem_schema_responses(400, 401, 403, 404, 422))
async def set_shipping_address(cart_id: uuid.UUID, data: ShippingAddressIn, request: Request, session: SessionDep,
                               actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.set_shipping_address(session, cart, data)
    return await _out(session, cart, request)


@router.get("/{cart_id}/shipping-methods", response_model=ShippingOptionList,
            summary="Shipping methods serving the cart's address, priced for this cart",
            responses=problem_schema_responses(400, 401, 403, 404, 409))
async def list_shipping_methods(cart_id: uuid.UUID, request: Request, session: SessionDep,
                                actor: ActorDep) -> ShippingOptionList:
    cart = await service.load_cart(session, cart_id, actor)
    options = await service.shipping_options(session, cart, _providers(request))
    return ShippingOptionList(items=[ShippingOption(**o.__dict__) for o in options])


@router.put("/{cart_id}/shipping-method", response_model=Cart, summary="Choose a shipping method",
            responses=problem_schema_responses(400, 401, 403, 404, 409, 422))
async def set_shipping_method(cart_id: uuid.UUID, data: ShippingMethodChoice, request: Request, session: SessionDep,
                              actor: ActorDep) -> Cart:
    cart = await service.load_cart(session, cart_id, actor, for_update=True)
    await service.set_shipping_method(session, cart, data.method_id, _providers(request))
    return await _out(session, cart, request)
