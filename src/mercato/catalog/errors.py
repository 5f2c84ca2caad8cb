"""Catalog's domain errors: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from mercato.platform.errors import AlreadyExists, BadRequest, Conflict, NotFound, PayloadTooLarge, ValidationFailed


class TenantRequired(BadRequest):
    code, title = "tenant_required", "This request needs a shop: use a shop credential, host or X-Mercato-Tenant"


class ProductNotFound(NotFound):
    code, title = "product_not_found", "Product not found"


class VariantNotFound(NotFound):
    code, title = "variant_not_found", "Variant not found"


class CategoryNotFound(NotFound):
    code, title = "category_not_found", "Category not found"


class BrandNotFound(NotFound):
    code, title = "brand_not_found", "Brand not found"


class CollectionNotFound(NotFound):
    code, title = "collection_not_found", "Collection not found"


class MediaNotFound(NotFound):
    code, title = "media_not_found", "Media not found"


class SlugTaken(AlreadyExists):
    code, title = "slug_taken", "That slug is already in use"


class HandleTaken(AlreadyExists):
    code, title = "handle_taken", "That handle is already in use"


class SkuTaken(AlreadyExists):
    code, title = "sku_taken", "That SKU is already in use"


class CategoryCycle(Conflict):
    code, title = "category_cycle", "A category cannot move under itself or its descendants"


class CategoryHasChildren(Conflict):
    code, title = "category_has_children", "The category has sub-categories; delete them first or use ?cascade=true"


class ParentDeleted(Conflict):
    code, title = "parent_deleted", "The parent category is deleted; restore it first"


class NotDeleted(Conflict):
    code, title = "not_deleted", "Only a deleted resource can be restored"


class InvalidCatalogData(ValidationFailed):
    """A well-formed payload that breaks a catalog rule (unknown option value, duplicate combination, …).
    Carries every problem found in ``errors`` (field, code, message)."""

    code, title = "invalid_catalog_data", "The catalog data is not valid"


class UnsupportedImage(ValidationFailed):
    code, title = "unsupported_image", "The file is not a JPEG, PNG, WebP or GIF image"


class ImageTooLarge(PayloadTooLarge):
    code, title = "image_too_large", "The image is larger than the upload limit"
