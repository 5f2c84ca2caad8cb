"""Catalog use cases, split by aggregate. Services flush, never commit."""

from mercato.catalog.service import brands, categories, collections, media, products, reads, variants

__all__ = ["brands", "categories", "collections", "media", "products", "reads", "variants"]
