"""Read models: the product detail page in a constant number of queries, and media URLs.

One detail, whatever the number of variants: one catalog statement (``repository.product_page``:
product, brand, category path, options, variants with their images, product images) on a cache
miss, none on a hit, plus one call to the availability provider (one stock query)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import repository
from mercato.catalog.domain import format_minor, looks_like_uuid, path_ids
from mercato.catalog.errors import ProductNotFound
from mercato.catalog.models import Category, Media, Product
from mercato.catalog.refs import VariantRef
from mercato.catalog.schemas import CategoryRef, Variant
from mercato.catalog.schemas import Media as MediaOut


class AvailabilityProvider(Protocol):
    """``async (session, variant_ids, refs=None) -> {variant_id: {...availability...}}``, installed by the
    inventory module as ``app.state.availability_provider``. ``refs`` (variant id → ``VariantRef``) is
    what the caller already knows about the variants (backorder flags), sparing the provider a catalog
    query; the product page always passes it."""

    def __call__(self, session: AsyncSession, variant_ids: list[uuid.UUID], /, *,
                 refs: dict[uuid.UUID, VariantRef] | None = None) -> Awaitable[dict[uuid.UUID, dict[str, Any]]]: ...


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


def _ts(value: datetime | None) -> str | None:
    """A timestamp as the response models write it (UTC as ``Z``; asyncpg returns UTC datetimes)."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _media_json(m: Sequence[Any]) -> dict[str, Any]:
    mid, owner_type, owner_id, url, content_type, size_bytes, width, height, alt, position, is_main, created_at = m
    return {"id": str(mid), "owner_type": owner_type, "owner_id": str(owner_id), "url": url,
            "content_type": content_type, "size_bytes": size_bytes, "width": width, "height": height, "alt": alt,
            "position": position, "is_main": is_main, "created_at": _ts(created_at)}


def _ref_json(r: Sequence[Any]) -> dict[str, Any]:
    return {"id": str(r[0]), "name": r[1], "slug": r[2]}


async def product_detail(session: AsyncSession, id_or_slug: str, view: View) -> dict[str, Any]:
    """The product page as JSON-ready data, shaped exactly like ``ProductDetail`` (cacheable: availability
    is added by the caller). One statement (``repository.product_page``); the dict is built straight from
    its row, without response-model validation (the page is a hot path: building, dumping and re-validating
    the nested model cost more than all the SQL). ``tests/catalog/test_variants.py`` keeps the shape honest
    (every body equals its own ``ProductDetail`` round trip)."""
    key: dict[str, Any] = {"product_id": uuid.UUID(id_or_slug)} if looks_like_uuid(id_or_slug) else {"slug": id_or_slug}
    p = await repository.product_page(session, storefront=view.storefront, include_deleted=view.include_deleted, **key)
    if p is None:
        raise ProductNotFound()
    pid = str(p.id)
    breadcrumb = [_ref_json(c) for c in p.breadcrumb if c is not None]
    category_id = str(p.category_id) if p.category_id else None
    variants = []
    for (vid, sku, title, options, price_cents, compare_at, currency, barcode, weight_grams, allow_backorder,
         backorder_eta, status, position, created_at, updated_at, deleted_at, images) in p.variants:
        variants.append({
            "id": str(vid), "product_id": pid, "sku": sku, "title": title, "options": options,
            "price_cents": price_cents, "compare_at_price_cents": compare_at, "currency": currency,
            "price": format_minor(price_cents, currency), "barcode": barcode, "weight_grams": weight_grams,
            "allow_backorder": allow_backorder, "backorder_eta": backorder_eta.isoformat() if backorder_eta else None,
            "status": status, "position": position, "created_at": _ts(created_at), "updated_at": _ts(updated_at),
            "deleted_at": _ts(deleted_at), "images": [_media_json(m) for m in images], "availability": None,
        })
    price_range = None
    if p.price_min_cents is not None and p.price_max_cents is not None and p.currency:
        price_range = {"min_cents": p.price_min_cents, "max_cents": p.price_max_cents, "currency": p.currency,
                       "min": format_minor(p.price_min_cents, p.currency),
                       "max": format_minor(p.price_max_cents, p.currency)}
    brand = p.brand
    return {
        "id": pid, "name": p.name, "slug": p.slug, "handle": p.handle, "description": p.description,
        "status": p.status, "is_active": p.is_active, "tags": list(p.tags), "weight_grams": p.weight_grams,
        "tax_class": p.tax_class, "metadata": p.metadata, "seo_title": p.seo_title,
        "seo_description": p.seo_description, "brand_id": str(p.brand_id) if p.brand_id else None,
        "category_id": category_id,
        "brand": ({"id": str(brand[0]), "name": brand[1], "slug": brand[2], "logo_url": brand[3]}
                  if brand is not None else None),
        "category": breadcrumb[-1] if breadcrumb and breadcrumb[-1]["id"] == category_id else None,
        "breadcrumb": breadcrumb,
        "price_min_cents": p.price_min_cents, "price_max_cents": p.price_max_cents, "currency": p.currency,
        "price_range": price_range,
        "options": [{"id": str(o[0]), "name": o[1], "position": o[2], "values": list(o[3])} for o in p.options],
        "variants": variants,
        "images": [_media_json(m) for m in p.images],
        "created_at": _ts(p.created_at), "updated_at": _ts(p.updated_at), "deleted_at": _ts(p.deleted_at),
    }


def _variant_refs(detail: dict[str, Any]) -> dict[uuid.UUID, VariantRef]:
    """The ``VariantRef`` projections of the page's variants, so the inventory provider needs no catalog
    query for the backorder flags (they are on the page already, as fresh as the page)."""
    product_id = uuid.UUID(detail["id"])
    category_id = uuid.UUID(detail["category_id"]) if detail["category_id"] else None
    product_sellable = detail["status"] == "active" and detail["is_active"] and detail["deleted_at"] is None
    out = {}
    for v in detail["variants"]:
        vid = uuid.UUID(v["id"])
        eta = v["backorder_eta"]
        out[vid] = VariantRef(
            id=vid, product_id=product_id, sku=v["sku"], title=v["title"], product_name=detail["name"],
            price_cents=v["price_cents"], currency=v["currency"], allow_backorder=v["allow_backorder"],
            backorder_eta=date.fromisoformat(eta) if eta else None,
            weight_grams=v["weight_grams"] or detail["weight_grams"], tax_class=detail["tax_class"],
            category_id=category_id,
            sellable=product_sellable and v["status"] == "active" and v["deleted_at"] is None)
    return out


async def add_availability(session: AsyncSession, detail: dict[str, Any],
                           provider: AvailabilityProvider | None) -> dict[str, Any]:
    """Stock is never cached with the page: ask the inventory provider (one call) on every read. The page's
    own variant data goes along as ``refs``, so the provider runs its stock query and nothing else."""
    if provider is None or not detail["variants"]:
        return detail
    ids = [uuid.UUID(v["id"]) for v in detail["variants"]]
    found = await provider(session, ids, refs=_variant_refs(detail))
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
