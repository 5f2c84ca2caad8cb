"""Collections: manual product sets (add, remove, reorder). The storefront sees published collections
and, inside them, only products it could open."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from mercato.catalog import repository
from mercato.catalog.auth import CatalogWriter, ReaderView
from mercato.catalog.errors import CollectionNotFound
from mercato.catalog.models import Collection as CollectionRow
from mercato.catalog.schemas import (
    Collection,
    CollectionCreate,
    CollectionList,
    CollectionProduct,
    CollectionProductsAdd,
    CollectionProductsOrder,
    CollectionUpdate,
)
from mercato.catalog.service import collections, reads
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, encode_cursor

router = APIRouter(prefix="/collections", tags=["catalog"])


async def _out(session: SessionDep, rows: Sequence[CollectionRow], *, storefront: bool) -> list[Collection]:
    """Collections with their products and each product's main image: three queries for any number."""
    members = await repository.collection_products(session, [c.id for c in rows], storefront=storefront)
    images = {m.owner_id: reads.media_url(m) for m in await repository.media_of(
        session, [("product", {p.id for _, _, p in members})]) if m.is_main}
    by_collection: dict[uuid.UUID, list[CollectionProduct]] = {}
    for cid, position, p in members:
        by_collection.setdefault(cid, []).append(CollectionProduct(
            id=p.id, name=p.name, slug=p.slug, status=p.status, position=position, price_min_cents=p.price_min_cents,
            price_max_cents=p.price_max_cents, currency=p.currency, image_url=images.get(p.id)))
    return [Collection(id=c.id, name=c.name, slug=c.slug, description=c.description, is_published=c.is_published,
                       created_at=c.created_at, updated_at=c.updated_at, products=by_collection.get(c.id, []))
            for c in rows]


async def _one(session: SessionDep, collection_id: uuid.UUID) -> Collection:
    c = await collections.get_collection(session, str(collection_id))
    return (await _out(session, [c], storefront=False))[0]


@router.get("", response_model=CollectionList, summary="List collections", responses=problem_schema_responses(400, 422))
async def list_collections(session: SessionDep, view: ReaderView, page: PageDep) -> CollectionList:
    offset = int(page.cursor[0]) if page.cursor and isinstance(page.cursor[0], int) else page.offset
    extra = [CollectionRow.is_published.is_(True)] if view.storefront else []
    rows = await repository.list_rows(session, CollectionRow, include_deleted=True, limit=page.limit, offset=offset,
                                      extra=extra)
    has_more = len(rows) > page.limit
    return CollectionList(items=await _out(session, rows[: page.limit], storefront=view.storefront),
                          has_more=has_more, next_cursor=encode_cursor([offset + page.limit]) if has_more else None)


@router.get("/{id_or_slug}", response_model=Collection, summary="Get a collection with its products",
            responses=problem_schema_responses(400, 404, 422))
async def get_collection(id_or_slug: Annotated[str, Path(max_length=200)], session: SessionDep,
                         view: ReaderView) -> Collection:
    c = await collections.get_collection(session, id_or_slug)
    if view.storefront and not c.is_published:
        raise CollectionNotFound()
    return (await _out(session, [c], storefront=view.storefront))[0]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Collection, summary="Create a collection",
             responses=problem_schema_responses(401, 403, 409, 422))
async def create_collection(data: CollectionCreate, session: SessionDep, _: CatalogWriter) -> Collection:
    c = await collections.create_collection(session, data)
    return await _one(session, c.id)


@router.patch("/{collection_id}", response_model=Collection, summary="Update a collection",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def update_collection(collection_id: uuid.UUID, data: CollectionUpdate, session: SessionDep,
                            _: CatalogWriter) -> Collection:
    await collections.update_collection(session, collection_id, data)
    return await _one(session, collection_id)


@router.delete("/{collection_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a collection",
               responses=problem_schema_responses(401, 403, 404))
async def delete_collection(collection_id: uuid.UUID, session: SessionDep, _: CatalogWriter) -> Response:
    await collections.delete_collection(session, collection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{collection_id}/products", response_model=Collection, summary="Add products (appended, in order)",
             responses=problem_schema_responses(401, 403, 404, 422))
async def add_products(collection_id: uuid.UUID, data: CollectionProductsAdd, session: SessionDep,
                       _: CatalogWriter) -> Collection:
    await collections.add_products(session, collection_id, data.product_ids)
    return await _one(session, collection_id)


@router.put("/{collection_id}/products/order", response_model=Collection, summary="Reorder the collection's products",
            responses=problem_schema_responses(401, 403, 404, 422))
async def reorder_products(collection_id: uuid.UUID, data: CollectionProductsOrder, session: SessionDep,
                           _: CatalogWriter) -> Collection:
    await collections.reorder(session, collection_id, data.product_ids)
    return await _one(session, collection_id)


@router.delete("/{collection_id}/products/{product_id}", response_model=Collection,
               summary="Remove a product from the collection", responses=problem_schema_responses(401, 403, 404))
async def remove_product(collection_id: uuid.UUID, product_id: uuid.UUID, session: SessionDep,
                         _: CatalogWriter) -> Collection:
    await collections.remove_product(session, collection_id, product_id)
    return await _one(session, collection_id)
