"""Collections: named, manually ordered product sets for merchandising."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import Problem, looks_like_uuid
from mercato.catalog.errors import CollectionNotFound, ProductNotFound
from mercato.catalog.models import Collection
from mercato.catalog.schemas import CollectionCreate, CollectionUpdate
from mercato.catalog.service.common import (
    conflicts_as_errors,
    ensure_slug_free,
    free_slug,
    raise_problems,
    record,
    snapshot,
)

FIELDS = ("name", "slug", "description", "is_published")


async def _check_products(session: AsyncSession, product_ids: Sequence[uuid.UUID], field: str) -> None:
    found = {p.id for p in await repository.products_by_ids(session, product_ids) if p.deleted_at is None}
    raise_problems([Problem(f"{field}.{i}", "unknown_product", f"no product {pid}")
                    for i, pid in enumerate(product_ids) if pid not in found])
    if len(set(product_ids)) != len(product_ids):
        raise_problems([Problem(field, "duplicate_product", "a product is listed twice")])


async def create_collection(session: AsyncSession, data: CollectionCreate) -> Collection:
    await _check_products(session, data.product_ids, "product_ids")
    if data.slug is not None:
        await ensure_slug_free(session, Collection, data.slug)
    collection = Collection(id=uuid.uuid4(), tenant_id=repository.tenant_of(session), name=data.name,
                            slug=data.slug or await free_slug(session, Collection, data.name),
                            description=data.description, is_published=data.is_published)
    async with conflicts_as_errors(session):
        session.add(collection)
    await repository.add_collection_products(session, collection.id, data.product_ids, 0)
    await record(session, "collection.created", aggregate_type="collection", aggregate_id=collection.id,
                 data={"name": collection.name, "slug": collection.slug, "product_ids": data.product_ids},
                 changes={"name": {"from": None, "to": collection.name}})
    return collection


async def get_collection(session: AsyncSession, id_or_slug: str, *, for_update: bool = False) -> Collection:
    if looks_like_uuid(id_or_slug):
        c = await repository.get(session, Collection, uuid.UUID(id_or_slug), for_update=for_update, fresh=True)
    else:
        c = await repository.get_by_slug(session, Collection, id_or_slug)
    if c is None:
        raise CollectionNotFound()
    return c


async def update_collection(session: AsyncSession, collection_id: uuid.UUID, data: CollectionUpdate) -> Collection:
    c = await get_collection(session, str(collection_id), for_update=True)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "slug" in changes and changes["slug"] != c.slug:
        await ensure_slug_free(session, Collection, changes["slug"], c.id)
    before = snapshot(c, FIELDS)
    async with conflicts_as_errors(session):
        for k, v in changes.items():
            setattr(c, k, v)
    diff = {k: {"from": before[k], "to": v} for k, v in snapshot(c, FIELDS).items() if before[k] != v}
    if diff:
        await record(session, "collection.updated", aggregate_type="collection", aggregate_id=c.id,
                     data={"changed": sorted(diff)}, changes=diff)
    return c


async def delete_collection(session: AsyncSession, collection_id: uuid.UUID) -> None:
    c = await get_collection(session, str(collection_id), for_update=True)
    await session.delete(c)
    await session.flush()
    await record(session, "collection.deleted", aggregate_type="collection", aggregate_id=c.id,
                 data={"slug": c.slug}, changes={"name": {"from": c.name, "to": None}})


async def add_products(session: AsyncSession, collection_id: uuid.UUID, product_ids: Sequence[uuid.UUID]) -> None:
    c = await get_collection(session, str(collection_id), for_update=True)
    await _check_products(session, product_ids, "product_ids")
    members = await repository.collection_member_ids(session, c.id)
    new = [p for p in product_ids if p not in set(members)]
    await repository.add_collection_products(session, c.id, new, len(members))
    if new:
        await record(session, "collection.updated", aggregate_type="collection", aggregate_id=c.id,
                     data={"added": new}, changes={"products": {"from": members, "to": members + new}})


async def remove_product(session: AsyncSession, collection_id: uuid.UUID, product_id: uuid.UUID) -> None:
    c = await get_collection(session, str(collection_id), for_update=True)
    if not await repository.remove_collection_product(session, c.id, product_id):
        raise ProductNotFound("the product is not in this collection")
    await record(session, "collection.updated", aggregate_type="collection", aggregate_id=c.id,
                 data={"removed": [product_id]}, changes={"products": {"from": [product_id], "to": None}})


async def reorder(session: AsyncSession, collection_id: uuid.UUID, product_ids: Sequence[uuid.UUID]) -> None:
    c = await get_collection(session, str(collection_id), for_update=True)
    members = await repository.collection_member_ids(session, c.id)
    if sorted(members) != sorted(product_ids):
        raise_problems([Problem("product_ids", "not_the_members",
                                "list every product of the collection exactly once")])
    await repository.reorder_collection(session, c.id, product_ids)
    await record(session, "collection.updated", aggregate_type="collection", aggregate_id=c.id,
                 data={"reordered": True}, changes={"products": {"from": members, "to": list(product_ids)}})
