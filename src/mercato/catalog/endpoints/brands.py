"""Brands: CRUD with a logo (an HTTPS logo_url, or an uploaded brand image via /media)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from mercato.catalog import repository
from mercato.catalog.auth import CatalogWriter, ReaderView
from mercato.catalog.models import Brand as BrandRow
from mercato.catalog.schemas import Brand, BrandCreate, BrandList, BrandUpdate
from mercato.catalog.service import brands, reads
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, encode_cursor

router = APIRouter(prefix="/brands", tags=["catalog"])


async def _out(session: SessionDep, rows: Sequence[BrandRow]) -> list[Brand]:
    """Brands with their logo: logo_url, else the main uploaded image (one media query for all)."""
    need = [b.id for b in rows if not b.logo_url]
    main = {m.owner_id: reads.media_url(m) for m in await repository.media_of(session, [("brand", need)]) if m.is_main}
    return [Brand(id=b.id, name=b.name, slug=b.slug, description=b.description,
                  logo_url=b.logo_url or main.get(b.id), created_at=b.created_at, updated_at=b.updated_at,
                  deleted_at=b.deleted_at) for b in rows]


@router.get("", response_model=BrandList, summary="List brands", responses=problem_schema_responses(400, 422))
async def list_brands(session: SessionDep, view: ReaderView, page: PageDep) -> BrandList:
    offset = int(page.cursor[0]) if page.cursor and isinstance(page.cursor[0], int) else page.offset
    rows = await repository.list_rows(session, BrandRow, include_deleted=view.include_deleted, limit=page.limit,
                                      offset=offset)
    has_more = len(rows) > page.limit
    return BrandList(items=await _out(session, rows[: page.limit]), has_more=has_more,
                     next_cursor=encode_cursor([offset + page.limit]) if has_more else None)


@router.get("/{id_or_slug}", response_model=Brand, summary="Get a brand",
            responses=problem_schema_responses(400, 404, 422))
async def get_brand(id_or_slug: Annotated[str, Path(max_length=200)], session: SessionDep, view: ReaderView) -> Brand:
    b = await brands.get_brand(session, id_or_slug, include_deleted=view.include_deleted)
    return (await _out(session, [b]))[0]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Brand, summary="Create a brand",
             responses=problem_schema_responses(401, 403, 409, 422))
async def create_brand(data: BrandCreate, session: SessionDep, _: CatalogWriter) -> Brand:
    return (await _out(session, [await brands.create_brand(session, data)]))[0]


@router.patch("/{brand_id}", response_model=Brand, summary="Update a brand (a rename refreshes its products' search)",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def update_brand(brand_id: uuid.UUID, data: BrandUpdate, session: SessionDep, _: CatalogWriter) -> Brand:
    return (await _out(session, [await brands.update_brand(session, brand_id, data)]))[0]


@router.delete("/{brand_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Soft-delete a brand",
               responses=problem_schema_responses(401, 403, 404))
async def delete_brand(brand_id: uuid.UUID, session: SessionDep, _: CatalogWriter) -> Response:
    await brands.delete_brand(session, brand_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{brand_id}/restore", response_model=Brand, summary="Restore a soft-deleted brand",
             responses=problem_schema_responses(401, 403, 404, 409))
async def restore_brand(brand_id: uuid.UUID, session: SessionDep, _: CatalogWriter) -> Brand:
    return (await _out(session, [await brands.restore_brand(session, brand_id)]))[0]
