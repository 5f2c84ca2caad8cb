"""Brand use cases. A brand's name is part of its products' search document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import looks_like_uuid
from mercato.catalog.errors import BrandNotFound, NotDeleted
from mercato.catalog.models import Brand
from mercato.catalog.schemas import BrandCreate, BrandUpdate
from mercato.catalog.service.common import conflicts_as_errors, ensure_slug_free, free_slug, record, snapshot

FIELDS = ("name", "slug", "description", "logo_url")


async def _refresh_products(session: AsyncSession, brand_id: uuid.UUID) -> None:
    ids = await repository.product_ids_where(session, brand_id=brand_id)
    await repository.refresh_search_documents(session, ids)


async def create_brand(session: AsyncSession, data: BrandCreate) -> Brand:
    if data.slug is not None:
        await ensure_slug_free(session, Brand, data.slug)
    brand = Brand(id=uuid.uuid4(), tenant_id=repository.tenant_of(session), name=data.name,
                  slug=data.slug or await free_slug(session, Brand, data.name), description=data.description,
                  logo_url=data.logo_url)
    async with conflicts_as_errors(session):
        session.add(brand)
    await record(session, "brand.created", aggregate_type="brand", aggregate_id=brand.id,
                 data={"name": brand.name, "slug": brand.slug},
                 changes={k: {"from": None, "to": v} for k, v in snapshot(brand, FIELDS).items() if v is not None})
    return brand


async def get_brand(session: AsyncSession, id_or_slug: str, *, include_deleted: bool) -> Brand:
    if looks_like_uuid(id_or_slug):
        brand = await repository.get(session, Brand, uuid.UUID(id_or_slug), fresh=True)
    else:
        brand = await repository.get_by_slug(session, Brand, id_or_slug)
    if brand is None or (brand.deleted_at is not None and not include_deleted):
        raise BrandNotFound()
    return brand


async def update_brand(session: AsyncSession, brand_id: uuid.UUID, data: BrandUpdate) -> Brand:
    brand = await repository.get(session, Brand, brand_id, for_update=True)
    if brand is None or brand.deleted_at is not None:
        raise BrandNotFound()
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "slug" in changes and changes["slug"] != brand.slug:
        await ensure_slug_free(session, Brand, changes["slug"], brand.id)
    before = snapshot(brand, FIELDS)
    async with conflicts_as_errors(session):
        for k, v in changes.items():
            setattr(brand, k, v)
    diff = {k: {"from": before[k], "to": v} for k, v in snapshot(brand, FIELDS).items() if before[k] != v}
    if "name" in diff:
        await _refresh_products(session, brand.id)
    if diff:
        await record(session, "brand.updated", aggregate_type="brand", aggregate_id=brand.id,
                     data={"changed": sorted(diff)}, changes=diff)
    return brand


async def delete_brand(session: AsyncSession, brand_id: uuid.UUID) -> None:
    brand = await repository.get(session, Brand, brand_id, for_update=True)
    if brand is None or brand.deleted_at is not None:
        raise BrandNotFound()
    brand.deleted_at = datetime.now(UTC)
    await session.flush()
    await _refresh_products(session, brand.id)
    await record(session, "brand.deleted", aggregate_type="brand", aggregate_id=brand.id,
                 changes={"deleted_at": {"from": None, "to": brand.deleted_at}})


async def restore_brand(session: AsyncSession, brand_id: uuid.UUID) -> Brand:
    brand = await repository.get(session, Brand, brand_id, for_update=True)
    if brand is None:
        raise BrandNotFound()
    if brand.deleted_at is None:
        raise NotDeleted("the brand is not deleted")
    was, brand.deleted_at = brand.deleted_at, None
    await session.flush()
    await _refresh_products(session, brand.id)
    await record(session, "brand.restored", aggregate_type="brand", aggregate_id=brand.id,
                 changes={"deleted_at": {"from": was, "to": None}})
    return brand
