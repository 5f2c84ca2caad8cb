"""Category tree use cases. Writers of one shop's tree serialize on an advisory lock, so a move and a
create (or two moves) cannot interleave into a stale path or a cycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import Problem, child_path, looks_like_uuid, nest, would_cycle
from mercato.catalog.errors import CategoryCycle, CategoryHasChildren, CategoryNotFound, NotDeleted, ParentDeleted
from mercato.catalog.models import Category
from mercato.catalog.schemas import CategoryCreate, CategoryUpdate
from mercato.catalog.service.common import (
    conflicts_as_errors,
    ensure_slug_free,
    free_slug,
    raise_problems,
    record,
    snapshot,
)

TREE_LOCK = "catalog.category_tree"
FIELDS = ("name", "slug", "parent_id", "description", "image_url", "sort_order", "path", "depth")


async def _parent(session: AsyncSession, parent_id: uuid.UUID | None) -> Category | None:
    if parent_id is None:
        return None
    parent = await repository.get(session, Category, parent_id, fresh=True)
    if parent is None or parent.deleted_at is not None:
        raise_problems([Problem("parent_id", "unknown_category", "no such parent category")])
    return parent


async def _refresh_products(session: AsyncSession, category_ids: list[uuid.UUID]) -> None:
    """Category names are in the search document of the products filed directly under them."""
    ids = await repository.product_ids_where(session, category_ids=category_ids)
    await repository.refresh_search_documents(session, ids)


async def create_category(session: AsyncSession, data: CategoryCreate) -> Category:
    await repository.lock(session, TREE_LOCK)
    parent = await _parent(session, data.parent_id)
    if data.slug is not None:
        await ensure_slug_free(session, Category, data.slug)
    category_id = uuid.uuid4()
    category = Category(id=category_id, tenant_id=repository.tenant_of(session), parent_id=data.parent_id,
                        name=data.name, slug=data.slug or await free_slug(session, Category, data.name),
                        description=data.description, image_url=data.image_url, sort_order=data.sort_order,
                        path=child_path(parent.path if parent else None, category_id),
                        depth=parent.depth + 1 if parent else 0)
    async with conflicts_as_errors(session):
        session.add(category)
    await record(session, "category.created", aggregate_type="category", aggregate_id=category.id,
                 data={"name": category.name, "slug": category.slug, "parent_id": category.parent_id},
                 changes={k: {"from": None, "to": v} for k, v in snapshot(category, FIELDS).items() if v is not None})
    return category


async def _live(session: AsyncSession, category_id: uuid.UUID) -> Category:
    category = await repository.get(session, Category, category_id, for_update=True)
    if category is None or category.deleted_at is not None:
        raise CategoryNotFound()
    return category


async def update_category(session: AsyncSession, category_id: uuid.UUID, data: CategoryUpdate) -> Category:
    await repository.lock(session, TREE_LOCK)
    category = await _live(session, category_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    before = snapshot(category, FIELDS)
    if "slug" in changes and changes["slug"] != category.slug:
        await ensure_slug_free(session, Category, changes["slug"], category.id)
    if "parent_id" in changes and changes["parent_id"] != category.parent_id:
        new_parent_id = changes.pop("parent_id")
        if new_parent_id == category.id:
            raise CategoryCycle("a category cannot be its own parent", field="parent_id")
        parent = await _parent(session, new_parent_id)
        if parent is not None and would_cycle(category.path, parent.path):
            raise CategoryCycle("the new parent is inside this category's subtree", field="parent_id")
        new_path = child_path(parent.path if parent else None, category.id)
        new_depth = parent.depth + 1 if parent else 0
        await repository.move_subtree(session, category.path, new_path, new_depth - category.depth)
        category.parent_id, category.path, category.depth = new_parent_id, new_path, new_depth
    else:
        changes.pop("parent_id", None)
    async with conflicts_as_errors(session):
        for k, v in changes.items():
            setattr(category, k, v)
        category.updated_at = datetime.now(UTC)
    diff = {k: {"from": before[k], "to": v} for k, v in snapshot(category, FIELDS).items() if before[k] != v}
    if "name" in diff:
        await _refresh_products(session, [category.id])
    if diff:
        await record(session, "category.updated", aggregate_type="category", aggregate_id=category.id,
                     data={"changed": sorted(diff), "moved": "path" in diff}, changes=diff)
    return category


async def delete_category(session: AsyncSession, category_id: uuid.UUID, *, cascade: bool) -> list[uuid.UUID]:
    await repository.lock(session, TREE_LOCK)
    category = await _live(session, category_id)
    if not cascade and await repository.has_live_children(session, category.id):
        raise CategoryHasChildren()
    now = datetime.now(UTC)
    ids = await repository.set_subtree_deleted(session, category.path, now)
    await _refresh_products(session, ids)
    for cid in ids:
        await record(session, "category.deleted", aggregate_type="category", aggregate_id=cid,
                     data={"cascade_from": category.id if cid != category.id else None},
                     changes={"deleted_at": {"from": None, "to": now}})
    return ids


async def restore_category(session: AsyncSession, category_id: uuid.UUID, *, cascade: bool) -> Category:
    await repository.lock(session, TREE_LOCK)
    category = await repository.get(session, Category, category_id, for_update=True)
    if category is None:
        raise CategoryNotFound()
    if category.deleted_at is None:
        raise NotDeleted("the category is not deleted")
    if category.parent_id is not None:
        parent = await repository.get(session, Category, category.parent_id, fresh=True)
        if parent is None or parent.deleted_at is not None:
            raise ParentDeleted()
    if cascade:
        ids = await repository.set_subtree_deleted(session, category.path, None)
    else:
        category.deleted_at = None
        await session.flush()
        ids = [category.id]
    await _refresh_products(session, ids)
    for cid in ids:
        await record(session, "category.restored", aggregate_type="category", aggregate_id=cid,
                     changes={"deleted_at": {"from": category.deleted_at if cid == category.id else "deleted",
                                             "to": None}})
    return await get_category(session, str(category.id), include_deleted=True)


async def get_category(session: AsyncSession, id_or_slug: str, *, include_deleted: bool) -> Category:
    if looks_like_uuid(id_or_slug):
        category = await repository.get(session, Category, uuid.UUID(id_or_slug), fresh=True)
    else:
        category = await repository.get_by_slug(session, Category, id_or_slug)
    if category is None or (category.deleted_at is not None and not include_deleted):
        raise CategoryNotFound()
    return category


async def tree(session: AsyncSession, *, include_deleted: bool) -> list[dict[str, Any]]:
    """The whole tree, nested, from one query."""
    rows = await repository.all_categories(session, include_deleted=include_deleted)
    return nest([{c: getattr(r, c) for c in (*FIELDS, "id", "created_at", "updated_at", "deleted_at")} for r in rows])


async def descendant_ids(session: AsyncSession, category_id: uuid.UUID, *, include_deleted: bool = False
                         ) -> list[uuid.UUID]:
    return await repository.subtree_ids(session, category_id, include_deleted=include_deleted)
