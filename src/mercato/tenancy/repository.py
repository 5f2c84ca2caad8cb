from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.tenancy.models import Tenant


async def get(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


async def insert_tenant(session: AsyncSession, *, name: str, slug: str) -> Tenant | None:
    """Insert, or return None when the slug is taken (no exception, no aborted transaction)."""
    stmt = (insert(Tenant).values(name=name, slug=slug).on_conflict_do_nothing(index_elements=["slug"])
            .returning(Tenant))
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_page(session: AsyncSession, *, limit: int, after: tuple[datetime, uuid.UUID] | None,
                    status: str | None, offset: int = 0) -> list[Tenant]:
    q = select(Tenant).order_by(Tenant.created_at, Tenant.id).limit(limit + 1).offset(offset)
    if after is not None:
        q = q.where(tuple_(Tenant.created_at, Tenant.id) > after)
    if status:
        q = q.where(Tenant.status == status)
    return list((await session.execute(q)).scalars())
