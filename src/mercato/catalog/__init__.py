"""Catalog: products, variants, categories, brands, collections, media, search. Public face."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import handlers as _handlers  # noqa: F401  (registers event subscribers)
from mercato.catalog.refs import VariantRef, get_variant_refs
from mercato.catalog.repository import recompute_prices, refresh_search_documents
from mercato.catalog.service.reads import AvailabilityProvider


async def category_descendant_ids(session: AsyncSession, category_id: uuid.UUID, *,
                                  include_deleted: bool = False) -> list[uuid.UUID]:
    """The category itself and every category below it (materialized-path prefix match, one query).
    Empty when the category does not exist. Deleted categories are left out unless asked for."""
    from mercato.catalog.service.categories import descendant_ids

    return await descendant_ids(session, category_id, include_deleted=include_deleted)


__all__ = ["AvailabilityProvider", "VariantRef", "category_descendant_ids", "get_variant_refs", "recompute_prices",
           "refresh_search_documents"]
