"""Variants of a product: list, create, update one, update many (all-or-nothing), soft delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from mercato.catalog import repository
from mercato.catalog.auth import CatalogWriter, ReaderView
from mercato.catalog.errors import VariantNotFound
from mercato.catalog.schemas import Variant, VariantBulkItem, VariantCreate, VariantUpdate
from mercato.catalog.service import reads, variants
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses

router = APIRouter(prefix="/products/{product_id}/variants", tags=["catalog"])


@router.get("", response_model=list[Variant], summary="List a product's variants",
            responses=problem_schema_responses(400, 404, 422))
async def list_variants(product_id: uuid.UUID, session: SessionDep, view: ReaderView) -> list[Variant]:
    product = await reads.find_product(session, str(product_id), view)
    rows = await repository.variants_of(session, product.id, active_only=view.storefront,
                                        include_deleted=view.include_deleted)
    return [reads.variant_out(v) for v in rows]


@router.get("/{variant_id}", response_model=Variant, summary="Get a variant",
            responses=problem_schema_responses(400, 404, 422))
async def get_variant(product_id: uuid.UUID, variant_id: uuid.UUID, session: SessionDep, view: ReaderView) -> Variant:
    product = await reads.find_product(session, str(product_id), view)
    rows = await repository.variants_of(session, product.id, active_only=view.storefront,
                                        include_deleted=view.include_deleted)
    found = next((v for v in rows if v.id == variant_id), None)
    if found is None:
        raise VariantNotFound()
    return reads.variant_out(found)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Variant, summary="Add a variant",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def create_variant(product_id: uuid.UUID, data: VariantCreate, session: SessionDep,
                         _: CatalogWriter) -> Variant:
    return reads.variant_out(await variants.create_variant(session, product_id, data))


@router.patch("", response_model=list[Variant], summary="Update many variants at once (all or nothing)",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def bulk_update_variants(
    product_id: uuid.UUID, session: SessionDep, _: CatalogWriter,
    items: Annotated[list[VariantBulkItem], Body(min_length=1, max_length=1000, examples=[[
        {"sku": "TEE-BLK-M", "price_cents": 2500}, {"id": "8b6f0d7e-3c1b-4c77-9a0e-3f2a1d9c4b10", "status": "inactive"}]])],
) -> list[Variant]:
    """Each item names a variant by ``id`` (then ``sku`` may change it) or by ``sku``. Every item is
    validated against the product's resulting variant set before anything is written."""
    return [reads.variant_out(v) for v in await variants.bulk_update(session, product_id, items)]


@router.patch("/{variant_id}", response_model=Variant, summary="Update a variant",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def update_variant(product_id: uuid.UUID, variant_id: uuid.UUID, data: VariantUpdate, session: SessionDep,
                         _: CatalogWriter) -> Variant:
    return reads.variant_out(await variants.update_variant(session, product_id, variant_id, data))


@router.delete("/{variant_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Soft-delete a variant",
               responses=problem_schema_responses(401, 403, 404))
async def delete_variant(product_id: uuid.UUID, variant_id: uuid.UUID, session: SessionDep,
                         _: CatalogWriter) -> Response:
    await variants.delete_variant(session, product_id, variant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
