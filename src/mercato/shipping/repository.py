from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.shipping.models import ShippingMethod, ShippingZone


async def get_zone(session: AsyncSession, zone_id: uuid.UUID) -> ShippingZone | None:
    return (await session.execute(select(ShippingZone).where(ShippingZone.id == zone_id))).scalar_one_or_none()


async def list_zones(session: AsyncSession, *, limit: int, offset: int) -> list[ShippingZone]:
    q = select(ShippingZone).order_by(ShippingZone.created_at, ShippingZone.id).limit(limit + 1).offset(offset)
    return list((await session.execute(q)).scalars())


async def get_method(session: AsyncSession, method_id: uuid.UUID) -> ShippingMethod | None:
    return (await session.execute(select(ShippingMethod).where(ShippingMethod.id == method_id))).scalar_one_or_none()


async def list_methods(session: AsyncSession, *, limit: int, offset: int,
                       zone_id: uuid.UUID | None) -> list[ShippingMethod]:
    q = (select(ShippingMethod).order_by(ShippingMethod.position, ShippingMethod.created_at, ShippingMethod.id)
         .limit(limit + 1).offset(offset))
    if zone_id:
        q = q.where(ShippingMethod.zone_id == zone_id)
    return list((await session.execute(q)).scalars())


async def methods_for_country(session: AsyncSession, country: str,
                              currency: str) -> list[tuple[ShippingZone, ShippingMethod]]:
    """Active methods in ``currency`` of every zone listing ``country`` (one query)."""
    rows = await session.execute(_METHODS_FOR_COUNTRY, {"countries": [country], "currency": currency})
    return [(z, m) for z, m in rows.all()]


#: Built once (every priced cart and checkout runs it); values are bound.
_METHODS_FOR_COUNTRY = (
    select(ShippingZone, ShippingMethod)
    .join(ShippingMethod, (ShippingMethod.tenant_id == ShippingZone.tenant_id)
          & (ShippingMethod.zone_id == ShippingZone.id))
    .where(ShippingZone.countries.contains(bindparam("countries", type_=ShippingZone.countries.type)),
           ShippingMethod.currency == bindparam("currency"), ShippingMethod.is_active.is_(True))
    .order_by(ShippingMethod.position, ShippingMethod.created_at, ShippingMethod.id))
