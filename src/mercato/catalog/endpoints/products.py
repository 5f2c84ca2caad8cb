"""Product detail and product writes. The product list and autocomplete live in ``search.py``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request, Response, status

from mercato.catalog.auth import CatalogReader, CatalogWriter, ReaderView
from mercato.catalog.schemas import ProductCreate, ProductDetail, ProductUpdate
from mercato.catalog.service import products, reads
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses

router = APIRouter(prefix="/products", tags=["catalog"])

IdOrSlug = Annotated[str, Path(min_length=1, max_length=300, description="Product id or slug")]


async def _admin_detail(request: Request, session: SessionDep, product_id: uuid.UUID) -> dict[str, Any]:
    detail = await reads.product_detail(session, str(product_id), reads.View(admin=True, include_deleted=True))
    return await reads.add_availability(session, detail, getattr(request.app.state, "availability_provider", None))


@router.get("/{id_or_slug}", response_model=ProductDetail, summary="Product detail by id or slug",
            responses=problem_schema_responses(400, 404, 422))
async def get_product(id_or_slug: IdOrSlug, request: Request, session: SessionDep, principal: CatalogReader,
                      view: ReaderView) -> Any:
    """Variants, options, images, brand, category breadcrumb, price range and per-variant availability.
    Storefront callers see only active products and variants; staff see drafts too (and deleted ones
    with ``?include_deleted=true``). The catalog part is cached per shop and invalidated by every
    catalog write; availability is read fresh."""
    assert principal.tenant_id is not None
    detail = await reads.cached_product_detail(session, request.app.state.cache, principal.tenant_id, id_or_slug, view,
                                               getattr(request.app.state, "availability_provider", None))
    # Already shaped like ProductDetail (the model documents the route): serialize once, skip re-validation.
    return Response(orjson.dumps(detail), media_type="application/json")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductDetail,
             summary="Create a product with its options and variants",
             responses=problem_schema_responses(401, 403, 409, 422))
async def create_product(data: ProductCreate, request: Request, response: Response, session: SessionDep,
                         _: CatalogWriter) -> Any:
    product = await products.create_product(session, data)
    response.headers["Location"] = f"/api/v1/products/{product.id}"
    return await _admin_detail(request, session, product.id)


@router.patch("/{product_id}", response_model=ProductDetail, summary="Update a product",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def update_product(product_id: uuid.UUID, data: ProductUpdate, request: Request, session: SessionDep,
                         _: CatalogWriter) -> Any:
    await products.update_product(session, product_id, data)
    return await _admin_detail(request, session, product_id)


@router.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Soft-delete a product",
               responses=problem_schema_responses(401, 403, 404))
async def delete_product(product_id: uuid.UUID, session: SessionDep, _: CatalogWriter) -> Response:
    await products.delete_product(session, product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{product_id}/restore", response_model=ProductDetail, summary="Restore a soft-deleted product",
             responses=problem_schema_responses(401, 403, 404, 409))
async def restore_product(product_id: uuid.UUID, request: Request, session: SessionDep, _: CatalogWriter) -> Any:
    await products.restore_product(session, product_id)
    return await _admin_detail(request, session, product_id)
