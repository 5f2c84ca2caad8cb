"""Categories: a tree of any depth with moves, soft delete and restore."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from mercato.catalog import repository
from mercato.catalog.auth import CatalogWriter, ReaderView
from mercato.catalog.models import Category as CategoryRow
from mercato.catalog.schemas import (
    Category,
    CategoryCreate,
    CategoryDetail,
    CategoryList,
    CategoryTree,
    CategoryUpdate,
)
from mercato.catalog.service import categories, reads
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, encode_cursor

router = APIRouter(prefix="/categories", tags=["catalog"])


def _out(c: CategoryRow) -> Category:
    return Category.model_validate(c, from_attributes=True)


async def _detail(session: SessionDep, c: CategoryRow, include_deleted: bool) -> CategoryDetail:
    path = await repository.category_path(session, c.id)
    children = await repository.list_categories(session, include_deleted=include_deleted, parent_id=c.id,
                                                roots_only=False, limit=1000, offset=0)
    return CategoryDetail(**_out(c).model_dump(),
                          breadcrumb=reads.category_refs(path, c.path, storefront=not include_deleted),
                          children=[_out(x) for x in children])


@router.get("", response_model=CategoryList | CategoryTree, summary="List categories (flat, or nested with ?tree=true)",
            responses=problem_schema_responses(400, 422))
async def list_categories(
    session: SessionDep, view: ReaderView, page: PageDep,
    tree: Annotated[bool, Query(description="Return the whole tree nested (ignores paging)")] = False,
    parent_id: Annotated[uuid.UUID | None, Query(description="Only the children of this category")] = None,
    roots: Annotated[bool, Query(description="Only top-level categories")] = False,
) -> Any:
    if tree:
        return CategoryTree.model_validate({"items": await categories.tree(session, include_deleted=view.include_deleted)})
    offset = int(page.cursor[0]) if page.cursor and isinstance(page.cursor[0], int) else page.offset
    rows = await repository.list_categories(session, include_deleted=view.include_deleted, parent_id=parent_id,
                                            roots_only=roots, limit=page.limit, offset=offset)
    has_more = len(rows) > page.limit
    return CategoryList(items=[_out(c) for c in rows[: page.limit]], has_more=has_more,
                        next_cursor=encode_cursor([offset + page.limit]) if has_more else None)


@router.get("/{id_or_slug}", response_model=CategoryDetail, summary="Get a category with its breadcrumb and children",
            responses=problem_schema_responses(400, 404, 422))
async def get_category(id_or_slug: Annotated[str, Path(max_length=200)], session: SessionDep,
                       view: ReaderView) -> CategoryDetail:
    c = await categories.get_category(session, id_or_slug, include_deleted=view.include_deleted)
    return await _detail(session, c, view.include_deleted)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CategoryDetail, summary="Create a category",
             responses=problem_schema_responses(401, 403, 409, 422))
async def create_category(data: CategoryCreate, session: SessionDep, _: CatalogWriter) -> CategoryDetail:
    return await _detail(session, await categories.create_category(session, data), True)


@router.patch("/{category_id}", response_model=CategoryDetail,
              summary="Update a category; a new parent_id moves its whole subtree",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def update_category(category_id: uuid.UUID, data: CategoryUpdate, session: SessionDep,
                          _: CatalogWriter) -> CategoryDetail:
    return await _detail(session, await categories.update_category(session, category_id, data), True)


@router.delete("/{category_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Soft-delete a category",
               responses=problem_schema_responses(401, 403, 404, 409))
async def delete_category(category_id: uuid.UUID, session: SessionDep, _: CatalogWriter,
                          cascade: Annotated[bool, Query(description="Also delete every sub-category")] = False
                          ) -> Response:
    await categories.delete_category(session, category_id, cascade=cascade)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{category_id}/restore", response_model=CategoryDetail, summary="Restore a soft-deleted category",
             responses=problem_schema_responses(401, 403, 404, 409))
async def restore_category(category_id: uuid.UUID, session: SessionDep, _: CatalogWriter,
                           cascade: Annotated[bool, Query(description="Also restore deleted sub-categories")] = False
                           ) -> CategoryDetail:
    return await _detail(session, await categories.restore_category(session, category_id, cascade=cascade), True)
