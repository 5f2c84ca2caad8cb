"""Catalog HTTP routers (mounted under ``/api/v1`` by the app).

The search router comes first so ``/products/autocomplete`` (and the list route) are not captured
by ``/products/{id_or_slug}``."""

from fastapi import APIRouter

from mercato.catalog.endpoints import brands, categories, collections, imports, media, products, search, variants

router = APIRouter()
router.include_router(search.router)
router.include_router(imports.router)
router.include_router(products.router)
router.include_router(variants.router)
router.include_router(categories.router)
router.include_router(brands.router)
router.include_router(collections.router)
router.include_router(media.router)

__all__ = ["router"]
