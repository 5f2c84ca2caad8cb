from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.taxes.models import TaxRate, TaxSettings


async def insert_rate(session: AsyncSession, values: dict[str, Any]) -> TaxRate | None:
    stmt = insert(TaxRate).values(**values).on_conflict_do_nothing(constraint="uq_tax_rates_scope").returning(TaxRate)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_rate(session: AsyncSession, rate_id: uuid.UUID) -> TaxRate | None:
    return (await session.execute(select(TaxRate).where(TaxRate.id == rate_id))).scalar_one_or_none()


async def scope_taken(session: AsyncSession, rate: TaxRate) -> bool:
    q = select(TaxRate.id).where(TaxRate.country == rate.country, TaxRate.region == rate.region,
                                 TaxRate.postal_prefix == rate.postal_prefix, TaxRate.tax_class == rate.tax_class,
                                 TaxRate.id != rate.id)
    return (await session.execute(q)).first() is not None


async def list_rates(session: AsyncSession, *, limit: int, offset: int, country: str | None,
                     tax_class: str | None) -> list[TaxRate]:
    q = (select(TaxRate).order_by(TaxRate.country, TaxRate.region, TaxRate.postal_prefix, TaxRate.tax_class,
                                  TaxRate.id).limit(limit + 1).offset(offset))
    if country:
        q = q.where(TaxRate.country == country)
    if tax_class:
        q = q.where(TaxRate.tax_class == tax_class)
    return list((await session.execute(q)).scalars())


async def rates_for_country(session: AsyncSession, country: str, tax_classes: Collection[str]) -> list[TaxRate]:
    return list((await session.execute(_RATES_FOR_COUNTRY, {"country": country, "classes": list(tax_classes)})).scalars())


#: Built once (every priced cart and checkout runs it); values are bound.
_RATES_FOR_COUNTRY = select(TaxRate).where(TaxRate.country == bindparam("country"),
                                           TaxRate.tax_class.in_(bindparam("classes", expanding=True)))


async def delete_rate(session: AsyncSession, rate: TaxRate) -> None:
    await session.delete(rate)
    await session.flush()


async def get_settings(session: AsyncSession) -> TaxSettings | None:
    return (await session.execute(select(TaxSettings))).scalar_one_or_none()


async def upsert_settings(session: AsyncSession, tenant_id: uuid.UUID, values: dict[str, Any]) -> TaxSettings:
    stmt = (insert(TaxSettings).values(tenant_id=tenant_id, **values)
            .on_conflict_do_update(index_elements=["tenant_id"], set_={**values, "updated_at": func.now()})
            .returning(TaxSettings))
    return (await session.execute(stmt, execution_options={"populate_existing": True})).scalar_one()
