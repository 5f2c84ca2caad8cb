"""Response shapes of product listing, search, facets and autocomplete."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class Ref(BaseModel):
    id: uuid.UUID
    name: str


class ProductSummary(BaseModel):
    """A product as a listing shows it: no variants, a price range, the main image."""

    id: uuid.UUID
    slug: str
    name: str
    brand: Ref | None
    category: Ref | None
    price_min_cents: int | None
    price_max_cents: int | None
    currency: str | None
    image_url: str | None
    tags: list[str]
    status: str
    created_at: datetime
    deleted_at: datetime | None = None


class FacetValue(BaseModel):
    value: str
    label: str
    count: int


class CategoryFacetValue(FacetValue):
    parent_id: uuid.UUID | None
    depth: int


class PriceBucket(BaseModel):
    min_cents: int | None
    max_cents: int | None
    count: int


class OptionFacet(BaseModel):
    name: str
    values: list[FacetValue]


class Facets(BaseModel):
    brand: list[FacetValue] | None = None
    category: list[CategoryFacetValue] | None = None
    price: list[PriceBucket] | None = None
    options: list[OptionFacet] | None = None


class ProductPage(BaseModel):
    items: list[ProductSummary]
    has_more: bool
    next_cursor: str | None = None
    #: ``fts`` (full-text), ``fuzzy`` (full-text found nothing: typo correction ran) or ``none`` (no ``q``).
    match: str = "none"
    #: With ``match="fuzzy"``: the query that was searched after correcting misspelt words (``shrit`` ->
    #: ``shirt``), or null when no word could be corrected.
    corrected_query: str | None = None
    #: Number of matching products (with ``facets=`` or ``with_total=true``).
    total: int | None = None
    facets: Facets | None = None
    warnings: list[str] = []


class Suggestion(BaseModel):
    kind: str  # product | category | brand
    id: uuid.UUID
    label: str
    slug: str


class Suggestions(BaseModel):
    query: str
    suggestions: list[Suggestion]
