"""Read models: the product detail page in a constant number of queries, and media URLs.

Queries for one detail, whatever the number of variants: product, brand, category path, options,
variants, media (6), plus one call to the availability provider."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import format_minor, looks_like_uuid, path_ids
from mercato.catalog.errors import ProductNotFound
from mercato.catalog.models import Brand, Category, Media, Product
from mercato.catalog.schemas import BrandRef, CategoryRef, Option, PriceRange, ProductDetail, Variant
from mercato.catalog.schemas import Media as MediaOut

#: ``async (session, variant_ids) -> {variant_id: {...availability...}}``, installed by the inventory
#: module as ``app.state.availability_provider``.
AvailabilityProvider = Callable[[AsyncSession, list[uuid.UUID]], Awaitable[dict[uuid.UUID, dict[str, Any]]]]

MEDIA_FILE_URL = "/api/v1/media/{id}/file"


@dataclass(frozen=True)
class View:
    """What the caller may see: storefront (active, non-deleted products; active variants) or admin."""

    admin: bool
    include_deleted: bool = False

    @property
    def storefront(self) -> bool:
        return not self.admin

    @property
    def cache_key(self) -> str:
        return "admin+deleted" if self.admin and self.include_deleted else ("admin" if self.admin else "store")


def media_url(m: Media) -> str:
    return m.url or MEDIA_FILE_URL.format(id=m.id)


def media_out(m: Media) -> MediaOut:
    return MediaOut(id=m.id, owner_type=m.owner_type, owner_id=m.owner_id, url=media_url(m),
                    content_type=m.content_type, size_bytes=m.size_bytes, width=m.width, height=m.height, alt=m.alt,
                    position=m.position, is_main=m.is_main, created_at=m.created_at)


def category_refs(categories: Sequence[Category], path: str, *, storefront: bool) -> list[CategoryRef]:
    by_id = {c.id: c for c in categories}
    out = []
    for cid in path_ids(path):
        c = by_id.get(cid)
        if c is not None and not (storefront and c.deleted_at is not None):
            out.append(CategoryRef(id=c.id, name=c.name, slug=c.slug))
    return out


async def find_product(session: AsyncSession, id_or_slug: str, view: View) -> Product:
    key: dict[str, Any] = {"product_id": uuid.UUID(id_or_slug)} if looks_like_uuid(id_or_slug) else {"slug": id_or_slug}
    product = await repository.find_product(session, storefront=view.storefront,
                                            include_deleted=view.include_deleted, **key)
    if product is None:
        raise ProductNotFound()
    return product


async def product_detail(session: AsyncSession, id_or_slug: str, view: View) -> dict[str, Any]:
    """The product page as JSON-ready data (cacheable: availability is added by the caller)."""
    product = await find_product(session, id_or_slug, view)
    brand = await repository.get(session, Brand, product.brand_id) if product.brand_id else None
    if brand is not None and view.storefront and brand.deleted_at is not None:
        brand = None
    breadcrumb: list[CategoryRef] = []
    category = None
    if product.category_id:
        path_rows = await repository.category_path(session, product.category_id)
        leaf = next((c for c in path_rows if c.id == product.category_id), None)
        if leaf is not None:
            breadcrumb = category_refs(path_rows, leaf.path, storefront=view.storefront)
            category = breadcrumb[-1] if breadcrumb and breadcrumb[-1].id == leaf.id else None
    options = await repository.options_of(session, product.id)
    variants = await repository.variants_of(session, product.id, active_only=view.storefront,
                                            include_deleted=view.admin and view.include_deleted)
    media = await repository.product_media(session, product.id)
    visible_variants = {v.id for v in variants}
    images: list[MediaOut] = []
    variant_images: dict[uuid.UUID, list[MediaOut]] = {}
    for m in media:
        if m.owner_type == "product":
            images.append(media_out(m))
        elif m.owner_id in visible_variants:
            variant_images.setdefault(m.owner_id, []).append(media_out(m))
    price_range = None
    if product.price_min_cents is not None and product.price_max_cents is not None and product.currency:
        price_range = PriceRange(min_cents=product.price_min_cents, max_cents=product.price_max_cents,
                                 currency=product.currency, min=format_minor(product.price_min_cents, product.currency),
                                 max=format_minor(product.price_max_cents, product.currency))
    detail = ProductDetail(
        id=product.id, name=product.name, slug=product.slug, handle=product.handle, description=product.description,
        status=product.status, is_active=product.is_active, tags=list(product.tags), weight_grams=product.weight_grams,
        tax_class=product.tax_class, metadata=product.metadata_, seo_title=product.seo_title,
        seo_description=product.seo_description, brand_id=product.brand_id, category_id=product.category_id,
        brand=BrandRef(id=brand.id, name=brand.name, slug=brand.slug, logo_url=brand.logo_url) if brand else None,
        category=category, breadcrumb=breadcrumb,
        price_min_cents=product.price_min_cents, price_max_cents=product.price_max_cents, currency=product.currency,
        price_range=price_range,
        options=[Option(id=o.id, name=o.name, position=o.position, values=list(o.values)) for o in options],
        variants=[variant_out(v, variant_images.get(v.id, [])) for v in variants],
        images=images, created_at=product.created_at, updated_at=product.updated_at, deleted_at=product.deleted_at,
    )
    return detail.model_dump(mode="json")


async def add_availability(session: AsyncSession, detail: dict[str, Any],
                           provider: AvailabilityProvider | None) -> dict[str, Any]:
    """Stock is never cached with the page: ask the inventory provider (one call) on every read."""
    if provider is None or not detail["variants"]:
        return detail
    ids = [uuid.UUID(v["id"]) for v in detail["variants"]]
    found = await provider(session, ids)
    for v, vid in zip(detail["variants"], ids, strict=True):
        v["availability"] = found.get(vid)
    return detail


def variant_out(v: Any, images: list[MediaOut] | None = None) -> Variant:
    return Variant(id=v.id, product_id=v.product_id, sku=v.sku, title=v.title, options=v.options,
                   price_cents=v.price_cents, compare_at_price_cents=v.compare_at_price_cents, currency=v.currency,
                   price=format_minor(v.price_cents, v.currency), barcode=v.barcode, weight_grams=v.weight_grams,
                   allow_backorder=v.allow_backorder, backorder_eta=v.backorder_eta, status=v.status,
                   position=v.position, created_at=v.created_at, updated_at=v.updated_at, deleted_at=v.deleted_at,
                   images=images or [])


#: Seconds a cached product page may live. Writes invalidate at once (generation bump); the TTL only
#: bounds memory and the window of a read that raced a write.
DETAIL_TTL = 60


async def cached_product_detail(session: AsyncSession, cache: Any, tenant_id: uuid.UUID, id_or_slug: str, view: View,
                                provider: AvailabilityProvider | None) -> dict[str, Any]:
    key = f"product:{view.cache_key}:{id_or_slug}"
    detail = await cache.get_or_compute(tenant_id, "catalog", key,
                                        lambda: product_detail(session, id_or_slug, view), ttl=DETAIL_TTL)
    return await add_availability(session, detail, provider)
