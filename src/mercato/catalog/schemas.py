"""Catalog request and response models. Input models forbid unknown fields; money is integer minor units."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from mercato.catalog.domain import CURRENCY_EXPONENTS, SLUG_PATTERN, looks_like_uuid

ProductStatus = Literal["draft", "active", "archived"]
VariantStatus = Literal["active", "inactive"]


def _currency(v: str) -> str:
    v = v.upper()
    if v not in CURRENCY_EXPONENTS:
        raise ValueError(f"{v!r} is not a supported ISO 4217 currency code")
    return v


def _slug(v: str) -> str:
    if looks_like_uuid(v):
        raise ValueError("a slug cannot look like an id")
    return v


def _https(v: HttpUrl) -> str:
    if v.scheme != "https":
        raise ValueError("only https:// URLs are accepted")
    return str(v)


Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["USD"]), AfterValidator(_currency)]
Slug = Annotated[str, Field(min_length=1, max_length=200, pattern=SLUG_PATTERN), AfterValidator(_slug)]
HttpsUrl = Annotated[HttpUrl, AfterValidator(_https)]
Cents = Annotated[int, Field(ge=0, le=10**13, description="Integer minor units (cents; yen for JPY)")]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
OptionValue = Annotated[str, Field(min_length=1, max_length=100)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --------------------------------------------------------------------------- options and variants


class OptionIn(_Input):
    name: str = Field(min_length=1, max_length=100, examples=["Size"])
    values: list[OptionValue] = Field(min_length=1, max_length=100, examples=[["S", "M", "L"]])


class Option(BaseModel):
    id: uuid.UUID
    name: str
    position: int
    values: list[str]


class _VariantFields(_Input):
    title: str | None = Field(default=None, max_length=300)
    compare_at_price_cents: Cents | None = None
    barcode: str | None = Field(default=None, max_length=64)
    weight_grams: int | None = Field(default=None, ge=0, le=10_000_000)
    allow_backorder: bool = False
    backorder_eta: date | None = None
    status: VariantStatus = "active"
    position: int | None = Field(default=None, ge=0, le=100_000)


class VariantCreate(_VariantFields):
    sku: str = Field(min_length=1, max_length=100, pattern=r"^\S+$", examples=["TEE-BLK-M"])
    options: dict[str, OptionValue] = Field(default_factory=dict, examples=[{"Size": "M", "Color": "Black"}])
    price_cents: Cents
    currency: Currency

    @model_validator(mode="after")
    def _compare_at(self) -> VariantCreate:
        if self.compare_at_price_cents is not None and self.compare_at_price_cents < self.price_cents:
            raise ValueError("compare_at_price_cents must be at least price_cents")
        return self


class VariantUpdate(_Input):
    sku: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^\S+$")
    title: str | None = Field(default=None, max_length=300)
    options: dict[str, OptionValue] | None = None
    price_cents: Cents | None = None
    compare_at_price_cents: Cents | None = None
    currency: Currency | None = None
    barcode: str | None = Field(default=None, max_length=64)
    weight_grams: int | None = Field(default=None, ge=0, le=10_000_000)
    allow_backorder: bool | None = None
    backorder_eta: date | None = None
    status: VariantStatus | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)

    @field_validator("sku", "options", "price_cents", "currency", "allow_backorder", "status", "position")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class VariantBulkItem(VariantUpdate):
    """One entry of a bulk update. The variant is named by ``id`` (then ``sku``, if given, is a new SKU)
    or, without ``id``, by its ``sku``."""

    id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_key(self) -> VariantBulkItem:
        if self.id is None and self.sku is None:
            raise ValueError("give the variant's id or sku")
        return self


class Variant(BaseModel):
    id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    title: str | None
    options: dict[str, Any]
    price_cents: int
    compare_at_price_cents: int | None
    currency: str
    price: str = Field(description="price_cents as a decimal string in the currency's units (JPY: no decimals)")
    barcode: str | None
    weight_grams: int | None
    allow_backorder: bool
    backorder_eta: date | None
    status: str
    position: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    images: list[Media] = Field(default_factory=list)
    availability: dict[str, Any] | None = Field(
        default=None, description="Stock availability from the inventory module; null when unknown")


# --------------------------------------------------------------------------- products


class _ProductFields(_Input):
    handle: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    brand_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    status: ProductStatus = "draft"
    is_active: bool = True
    weight_grams: int | None = Field(default=None, ge=0, le=10_000_000)
    tax_class: str = Field(default="standard", min_length=1, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)
    seo_title: str | None = Field(default=None, max_length=300)
    seo_description: str | None = Field(default=None, max_length=1000)


class ProductCreate(_ProductFields):
    name: str = Field(min_length=1, max_length=300, examples=["Organic Cotton Tee"])
    slug: Slug | None = Field(default=None, description="Generated from the name when omitted")
    options: list[OptionIn] = Field(default_factory=list, max_length=10)
    variants: list[VariantCreate] = Field(default_factory=list, max_length=1000)


class ProductUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    slug: Slug | None = None
    handle: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    brand_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    tags: list[Tag] | None = Field(default=None, max_length=100)
    status: ProductStatus | None = None
    is_active: bool | None = None
    weight_grams: int | None = Field(default=None, ge=0, le=10_000_000)
    tax_class: str | None = Field(default=None, min_length=1, max_length=50)
    metadata: dict[str, Any] | None = None
    seo_title: str | None = Field(default=None, max_length=300)
    seo_description: str | None = Field(default=None, max_length=1000)
    options: list[OptionIn] | None = Field(default=None, max_length=10,
                                           description="Replaces the option set; existing variants must still fit")

    @field_validator("name", "slug", "tags", "status", "is_active", "tax_class", "metadata", "options")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class BrandRef(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    logo_url: str | None = None


class CategoryRef(BaseModel):
    id: uuid.UUID
    name: str
    slug: str


class PriceRange(BaseModel):
    min_cents: int
    max_cents: int
    currency: str
    min: str
    max: str


class ProductDetail(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    handle: str | None
    description: str | None
    status: str
    is_active: bool
    tags: list[str]
    weight_grams: int | None
    tax_class: str
    metadata: dict[str, Any]
    seo_title: str | None
    seo_description: str | None
    brand_id: uuid.UUID | None
    category_id: uuid.UUID | None
    brand: BrandRef | None = None
    category: CategoryRef | None = None
    breadcrumb: list[CategoryRef] = Field(default_factory=list, description="Category path, root first")
    price_min_cents: int | None
    price_max_cents: int | None
    currency: str | None
    price_range: PriceRange | None = None
    options: list[Option] = Field(default_factory=list)
    variants: list[Variant] = Field(default_factory=list)
    images: list[Media] = Field(default_factory=list, description="Product images, main first")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


# --------------------------------------------------------------------------- categories


class CategoryCreate(_Input):
    name: str = Field(min_length=1, max_length=200)
    slug: Slug | None = None
    parent_id: uuid.UUID | None = None
    description: str | None = Field(default=None, max_length=10_000)
    image_url: HttpsUrl | None = None
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)


class CategoryUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: Slug | None = None
    parent_id: uuid.UUID | None = Field(default=None, description="Moves the subtree; null makes it a root")
    description: str | None = Field(default=None, max_length=10_000)
    image_url: HttpsUrl | None = None
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)

    @field_validator("name", "slug", "sort_order")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class Category(BaseModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    slug: str
    description: str | None
    image_url: str | None
    sort_order: int
    path: str
    depth: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class CategoryNode(Category):
    children: list[CategoryNode] = Field(default_factory=list)


class CategoryDetail(Category):
    breadcrumb: list[CategoryRef] = Field(default_factory=list)
    children: list[Category] = Field(default_factory=list)


class CategoryList(BaseModel):
    items: list[Category]
    has_more: bool
    next_cursor: str | None = None


class CategoryTree(BaseModel):
    items: list[CategoryNode]


# --------------------------------------------------------------------------- brands


class BrandCreate(_Input):
    name: str = Field(min_length=1, max_length=200)
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=10_000)
    logo_url: HttpsUrl | None = None


class BrandUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=10_000)
    logo_url: HttpsUrl | None = None

    @field_validator("name", "slug")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class Brand(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    description: str | None
    logo_url: str | None = Field(description="logo_url, else the URL of the brand's main uploaded image")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class BrandList(BaseModel):
    items: list[Brand]
    has_more: bool
    next_cursor: str | None = None


# --------------------------------------------------------------------------- collections


class CollectionCreate(_Input):
    name: str = Field(min_length=1, max_length=200)
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=10_000)
    is_published: bool = True
    product_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)


class CollectionUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=10_000)
    is_published: bool | None = None

    @field_validator("name", "slug", "is_published")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may be omitted but not null")
        return v


class CollectionProductsAdd(_Input):
    product_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class CollectionProductsOrder(_Input):
    product_ids: list[uuid.UUID] = Field(max_length=1000, description="Every product of the collection, in order")


class CollectionProduct(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    status: str
    position: int
    price_min_cents: int | None
    price_max_cents: int | None
    currency: str | None
    image_url: str | None = None


class Collection(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    description: str | None
    is_published: bool
    created_at: datetime
    updated_at: datetime
    products: list[CollectionProduct] = Field(default_factory=list)


class CollectionList(BaseModel):
    items: list[Collection]
    has_more: bool
    next_cursor: str | None = None


# --------------------------------------------------------------------------- media

MediaOwnerType = Literal["product", "variant", "brand", "category"]


class MediaFromUrl(_Input):
    owner_type: MediaOwnerType
    owner_id: uuid.UUID
    url: HttpsUrl
    alt: str | None = Field(default=None, max_length=500)
    position: int | None = Field(default=None, ge=0, le=100_000)
    is_main: bool = False


class MediaUpdate(_Input):
    alt: str | None = Field(default=None, max_length=500)
    position: int | None = Field(default=None, ge=0, le=100_000)
    is_main: Literal[True] | None = Field(default=None, description="Make this the owner's main image")


class AvatarFromUrl(_Input):
    url: HttpsUrl
    alt: str | None = Field(default=None, max_length=500)


class Media(BaseModel):
    id: uuid.UUID
    owner_type: str
    owner_id: uuid.UUID
    url: str = Field(description="The external HTTPS URL, or /api/v1/media/{id}/file for uploads")
    content_type: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    alt: str | None = None
    position: int
    is_main: bool
    created_at: datetime


class MediaList(BaseModel):
    items: list[Media]


Variant.model_rebuild()
ProductDetail.model_rebuild()
