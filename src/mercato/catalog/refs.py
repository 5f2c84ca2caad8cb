"""What other modules may know about variants: a read-only projection (no ORM objects leak)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.models import Product, Variant


@dataclass(frozen=True)
class VariantRef:
    id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    title: str | None
    product_name: str
    price_cents: int
    currency: str
    allow_backorder: bool
    backorder_eta: date | None
    weight_grams: int | None
    tax_class: str
    category_id: uuid.UUID | None
    #: sellable = variant active and not deleted, product active, is_active and not deleted
    sellable: bool


#: Built once (every cart read, pricing and checkout runs it); the ids are bound (an expanding IN).
_VARIANT_REFS = (
    select(Variant.id, Variant.product_id, Variant.sku, Variant.title, Product.name, Variant.price_cents,
           Variant.currency, Variant.allow_backorder, Variant.backorder_eta,
           Variant.weight_grams, Product.weight_grams.label("product_weight"), Product.tax_class, Product.category_id,
           Variant.status, Variant.deleted_at, Product.status.label("product_status"), Product.is_active,
           Product.deleted_at.label("product_deleted_at"))
    .join(Product, (Product.tenant_id == Variant.tenant_id) & (Product.id == Variant.product_id))
    .where(Variant.id.in_(bindparam("ids", expanding=True)))
)


async def get_variant_refs(session: AsyncSession, variant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, VariantRef]:
    """One query, whatever the number of ids. Missing ids are simply absent from the result."""
    if not variant_ids:
        return {}
    rows = (await session.execute(_VARIANT_REFS, {"ids": list(variant_ids)})).all()
    return {
        r.id: VariantRef(
            id=r.id, product_id=r.product_id, sku=r.sku, title=r.title, product_name=r.name,
            price_cents=r.price_cents, currency=r.currency, allow_backorder=r.allow_backorder,
            backorder_eta=r.backorder_eta, weight_grams=r.weight_grams or r.product_weight, tax_class=r.tax_class,
            category_id=r.category_id,
            sellable=(r.status == "active" and r.deleted_at is None and r.product_status == "active"
                      and r.is_active and r.product_deleted_at is None),
        )
        for r in rows
    }
