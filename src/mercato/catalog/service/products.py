"""Product use cases: create (with options and variants in one call), update, soft delete, restore."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import Problem, option_problems
from mercato.catalog.errors import HandleTaken, NotDeleted, ProductNotFound
from mercato.catalog.models import Brand, Category, Product, ProductOption, Variant
from mercato.catalog.schemas import OptionIn, ProductCreate, ProductUpdate
from mercato.catalog.service.common import (
    conflicts_as_errors,
    ensure_slug_free,
    free_slug,
    raise_problems,
    record,
    snapshot,
)
from mercato.catalog.service.variants import Candidate, check_skus_free, check_variant_set

PRODUCT_FIELDS = ("name", "slug", "handle", "description", "brand_id", "category_id", "tags", "status", "is_active",
                  "weight_grams", "tax_class", "metadata_", "seo_title", "seo_description")
#: Inputs of the search document (see repository.refresh_search_documents).
SEARCH_FIELDS = frozenset({"name", "description", "tags", "brand_id", "category_id"})


async def reference_problems(session: AsyncSession, brand_id: uuid.UUID | None,
                             category_id: uuid.UUID | None) -> list[Problem]:
    problems: list[Problem] = []
    if brand_id is not None:
        brand = await repository.get(session, Brand, brand_id)
        if brand is None or brand.deleted_at is not None:
            problems.append(Problem("brand_id", "unknown_brand", "no such brand"))
    if category_id is not None:
        category = await repository.get(session, Category, category_id)
        if category is None or category.deleted_at is not None:
            problems.append(Problem("category_id", "unknown_category", "no such category"))
    return problems


async def _ensure_handle_free(session: AsyncSession, handle: str, own_id: uuid.UUID | None = None) -> None:
    found = await repository.product_id_by_handle(session, handle)
    if found is not None and found != own_id:
        raise HandleTaken(f"handle {handle!r} is already in use", field="handle", handle=handle)


def _option_rows(session: AsyncSession, product_id: uuid.UUID, options: list[OptionIn]) -> list[ProductOption]:
    tenant = repository.tenant_of(session)
    return [ProductOption(id=uuid.uuid4(), tenant_id=tenant, product_id=product_id, name=o.name, position=i,
                          values=list(o.values)) for i, o in enumerate(options)]


async def create_product(session: AsyncSession, data: ProductCreate) -> Product:
    options = {o.name: list(o.values) for o in data.options}
    problems = option_problems([(o.name, o.values) for o in data.options])
    problems += check_variant_set(options, [
        Candidate(f"variants.{i}", None, v.sku, v.options, v.price_cents, v.compare_at_price_cents, v.currency)
        for i, v in enumerate(data.variants)])
    problems += await reference_problems(session, data.brand_id, data.category_id)
    raise_problems(problems)
    await check_skus_free(session, {v.sku: f"variants.{i}.sku" for i, v in enumerate(data.variants)})
    if data.slug is not None:
        await ensure_slug_free(session, Product, data.slug)
    if data.handle is not None:
        await _ensure_handle_free(session, data.handle)

    tenant = repository.tenant_of(session)
    fields = data.model_dump(exclude={"options", "variants", "metadata", "slug"})
    product = Product(id=uuid.uuid4(), tenant_id=tenant, slug=data.slug or await free_slug(session, Product, data.name),
                      metadata_=data.metadata, **fields)
    variants = [Variant(id=uuid.uuid4(), tenant_id=tenant, product_id=product.id,
                        **v.model_dump(exclude={"position"}), position=i if v.position is None else v.position)
                for i, v in enumerate(data.variants)]
    async with conflicts_as_errors(session):
        session.add(product)
        await session.flush()
        session.add_all(_option_rows(session, product.id, data.options))
        session.add_all(variants)
    await repository.recompute_prices(session, [product.id])
    await repository.refresh_search_documents(session, [product.id])
    await record(session, "product.created", aggregate_type="product", aggregate_id=product.id,
                 data={"name": product.name, "slug": product.slug, "status": product.status,
                       "variant_ids": [v.id for v in variants]},
                 changes={"name": {"from": None, "to": product.name}, "slug": {"from": None, "to": product.slug},
                          "variants": {"from": None, "to": [v.sku for v in variants]}})
    for v in variants:
        await record(session, "variant.created", aggregate_type="variant", aggregate_id=v.id,
                     data={"product_id": product.id, "sku": v.sku, "price_cents": v.price_cents,
                           "currency": v.currency})
    return product


async def _live_product(session: AsyncSession, product_id: uuid.UUID) -> Product:
    product = await repository.get(session, Product, product_id, for_update=True)
    if product is None or product.deleted_at is not None:
        raise ProductNotFound()
    return product


async def update_product(session: AsyncSession, product_id: uuid.UUID, data: ProductUpdate) -> Product:
    product = await _live_product(session, product_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    new_options: list[OptionIn] | None = data.options if "options" in changes else None
    changes.pop("options", None)
    if "metadata" in changes:
        changes["metadata_"] = changes.pop("metadata")

    problems = await reference_problems(session, changes.get("brand_id"), changes.get("category_id"))
    if new_options is not None:
        problems += option_problems([(o.name, o.values) for o in new_options])
        variants = await repository.variants_of(session, product_id)
        problems += check_variant_set({o.name: list(o.values) for o in new_options}, [
            Candidate(f"variants[{v.sku}]", v.id, v.sku, v.options, v.price_cents, v.compare_at_price_cents,
                      v.currency) for v in variants])
    raise_problems(problems)
    if changes.get("slug") and changes["slug"] != product.slug:
        await ensure_slug_free(session, Product, changes["slug"], product.id)
    if changes.get("handle") and changes["handle"] != product.handle:
        await _ensure_handle_free(session, changes["handle"], product.id)

    before = snapshot(product, PRODUCT_FIELDS)
    async with conflicts_as_errors(session):
        for k, v in changes.items():
            setattr(product, k, v)
        if new_options is not None:
            await repository.delete_options(session, product_id)
            session.add_all(_option_rows(session, product_id, new_options))
    after = snapshot(product, PRODUCT_FIELDS)
    diff = {k.rstrip("_"): {"from": before[k], "to": after[k]} for k in PRODUCT_FIELDS if before[k] != after[k]}
    if new_options is not None:
        diff["options"] = {"from": None, "to": [o.model_dump() for o in new_options]}
    if SEARCH_FIELDS & changes.keys():
        await repository.refresh_search_documents(session, [product_id])
    if diff:
        product.updated_at = datetime.now(UTC)
        await session.flush()
        await record(session, "product.updated", aggregate_type="product", aggregate_id=product.id,
                     data={"changed": sorted(diff), "status": product.status}, changes=diff)
    return product


async def delete_product(session: AsyncSession, product_id: uuid.UUID) -> None:
    product = await _live_product(session, product_id)
    product.deleted_at = datetime.now(UTC)
    await session.flush()
    await record(session, "product.deleted", aggregate_type="product", aggregate_id=product.id,
                 data={"slug": product.slug}, changes={"deleted_at": {"from": None, "to": product.deleted_at}})


async def restore_product(session: AsyncSession, product_id: uuid.UUID) -> Product:
    product = await repository.get(session, Product, product_id, for_update=True)
    if product is None:
        raise ProductNotFound()
    if product.deleted_at is None:
        raise NotDeleted("the product is not deleted")
    was = product.deleted_at
    product.deleted_at = None
    await session.flush()
    await record(session, "product.restored", aggregate_type="product", aggregate_id=product.id,
                 data={"slug": product.slug}, changes={"deleted_at": {"from": was, "to": None}})
    return product
