"""Shipping use cases: zones and methods CRUD, and the methods offered for an address and cart."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pycountry
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.platform.db import current_tenant
from mercato.platform.errors import ValidationFailed
from mercato.platform.money import check_currency
from mercato.pricing import Address
from mercato.shipping import repository
from mercato.shipping.domain import check_method, method_price, normalize_region, zone_serves
from mercato.shipping.errors import ShippingMethodNotFound, ShippingZoneNotFound
from mercato.shipping.models import ShippingMethod, ShippingZone
from mercato.shipping.schemas import MethodCreate, MethodUpdate, ZoneCreate, ZoneUpdate


@dataclass(frozen=True)
class ShippingOption:
    method_id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    price_cents: int
    currency: str
    min_delivery_days: int | None
    max_delivery_days: int | None


async def available_methods(session: AsyncSession, address: Address, cart_weight_grams: int, subtotal: int,
                            currency: str) -> list[ShippingOption]:
    """Methods that serve ``address`` in ``currency`` and can ship this cart, priced for it."""
    out: list[ShippingOption] = []
    for zone, method in await repository.methods_for_country(session, address.country.upper(), currency):
        if not zone_serves(zone, address.country, address.region):
            continue
        price = method_price(method, weight_grams=cart_weight_grams, subtotal=subtotal)
        if price is None:
            continue
        out.append(ShippingOption(method.id, zone.id, method.name, price, method.currency, method.min_delivery_days,
                                  method.max_delivery_days))
    return out


async def quote(session: AsyncSession, method_id: uuid.UUID, address: Address, cart_weight_grams: int,
                subtotal: int, currency: str) -> ShippingOption | None:
    """The chosen method's option for this cart, or None if it no longer serves it."""
    options = await available_methods(session, address, cart_weight_grams, subtotal, currency)
    return next((o for o in options if o.method_id == method_id), None)


# --------------------------------------------------------------------------- zones


def _countries(codes: list[str]) -> list[str]:
    out = []
    for code in codes:
        c = code.strip().upper()
        if pycountry.countries.get(alpha_2=c) is None:
            raise ValidationFailed(f"{code!r} is not an ISO 3166-1 alpha-2 code", field="countries")
        if c not in out:
            out.append(c)
    return out


def _regions(regions: list[str]) -> list[str]:
    return sorted({normalize_region("", r) for r in regions if r.strip()})


async def create_zone(session: AsyncSession, data: ZoneCreate) -> ShippingZone:
    zone = ShippingZone(tenant_id=current_tenant(session), name=data.name, countries=_countries(data.countries),
                        regions=_regions(data.regions))
    session.add(zone)
    await session.flush()
    await audit.record(session, action="shipping_zone.created", resource_type="shipping_zone", resource_id=zone.id,
                       changes={"name": {"from": None, "to": zone.name}, "countries": {"from": None, "to": zone.countries}})
    return zone


async def get_zone(session: AsyncSession, zone_id: uuid.UUID) -> ShippingZone:
    zone = await repository.get_zone(session, zone_id)
    if zone is None:
        raise ShippingZoneNotFound()
    return zone


async def list_zones(session: AsyncSession, *, limit: int, offset: int) -> list[ShippingZone]:
    return await repository.list_zones(session, limit=limit, offset=offset)


async def update_zone(session: AsyncSession, zone_id: uuid.UUID, data: ZoneUpdate) -> ShippingZone:
    zone = await get_zone(session, zone_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "countries" in changes:
        changes["countries"] = _countries(changes["countries"])
    if "regions" in changes:
        changes["regions"] = _regions(changes["regions"])
    before = {k: getattr(zone, k) for k in changes}
    for k, v in changes.items():
        setattr(zone, k, v)
    await session.flush()
    await audit.record(session, action="shipping_zone.updated", resource_type="shipping_zone", resource_id=zone.id,
                       changes=audit.diff(before, changes))
    return zone


async def delete_zone(session: AsyncSession, zone_id: uuid.UUID) -> None:
    zone = await get_zone(session, zone_id)
    await session.delete(zone)
    await session.flush()
    await audit.record(session, action="shipping_zone.deleted", resource_type="shipping_zone", resource_id=zone_id)


# --------------------------------------------------------------------------- methods

_METHOD_FIELDS = tuple(MethodCreate.model_fields)


async def create_method(session: AsyncSession, data: MethodCreate) -> ShippingMethod:
    await get_zone(session, data.zone_id)
    values = data.model_dump()
    values["currency"] = check_currency(values["currency"])
    check_method(values)
    method = ShippingMethod(tenant_id=current_tenant(session), **values)
    session.add(method)
    await session.flush()
    await audit.record(session, action="shipping_method.created", resource_type="shipping_method",
                       resource_id=method.id, changes={k: {"from": None, "to": v} for k, v in values.items()
                                                       if v is not None and k != "zone_id"})
    return method


async def get_method(session: AsyncSession, method_id: uuid.UUID) -> ShippingMethod:
    method = await repository.get_method(session, method_id)
    if method is None:
        raise ShippingMethodNotFound()
    return method


async def list_methods(session: AsyncSession, *, limit: int, offset: int,
                       zone_id: uuid.UUID | None = None) -> list[ShippingMethod]:
    return await repository.list_methods(session, limit=limit, offset=offset, zone_id=zone_id)


async def update_method(session: AsyncSession, method_id: uuid.UUID, data: MethodUpdate) -> ShippingMethod:
    method = await get_method(session, method_id)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "rate_type", "currency", "brackets", "is_active", "position"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    if "currency" in changes:
        changes["currency"] = check_currency(changes["currency"])
    check_method({k: getattr(method, k) for k in _METHOD_FIELDS} | changes)
    before = {k: getattr(method, k) for k in changes}
    for k, v in changes.items():
        setattr(method, k, v)
    await session.flush()
    await session.refresh(method)
    await audit.record(session, action="shipping_method.updated", resource_type="shipping_method",
                       resource_id=method.id, changes=audit.diff(before, changes))
    return method


async def delete_method(session: AsyncSession, method_id: uuid.UUID) -> None:
    method = await get_method(session, method_id)
    await session.delete(method)
    await session.flush()
    await audit.record(session, action="shipping_method.deleted", resource_type="shipping_method",
                       resource_id=method_id)
