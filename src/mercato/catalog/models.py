"""Catalog tables: brands, categories (a tree), products, options, variants, media, collections.

Every table is tenant-owned (forced RLS); keys between them include ``tenant_id``.
No ORM relationships: repositories load what a response needs in a fixed number
of queries (ARCHITECTURE.md §2, CONVENTIONS.md rule 4).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, UUID_DEFAULT, Base

#: Server-side defaults and onupdate values (ids, timestamps) come back with INSERT/UPDATE … RETURNING,
#: so an object never needs a lazy refresh (which async sessions cannot do implicitly).
EAGER = {"eager_defaults": True}



class Brand(Base):
    __tablename__ = "brands"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_brands_tenant_id_id"),
        UniqueConstraint("tenant_id", "slug", name="uq_brands_tenant_slug"),
    )


class Category(Base):
    """A tree of any depth. ``path`` is the materialized chain of ancestor ids plus self
    (``/a/b/c/``), so "this category and its descendants" is one indexed prefix match."""

    __tablename__ = "categories"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    parent_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    sort_order: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    path: Mapped[str] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_categories_tenant_id_id"),
        UniqueConstraint("tenant_id", "slug", name="uq_categories_tenant_slug"),
        ForeignKeyConstraint(["tenant_id", "parent_id"], ["categories.tenant_id", "categories.id"],
                             name="fk_categories_parent", ondelete="RESTRICT"),
        Index("ix_categories_path", "tenant_id", "path", postgresql_ops={"path": "text_pattern_ops"}),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )


class Product(Base):
    __tablename__ = "products"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(300))
    handle: Mapped[str | None] = mapped_column(String(300))  # stable key for CSV import grouping
    description: Mapped[str | None] = mapped_column(Text)
    brand_id: Mapped[uuid.UUID | None]
    category_id: Mapped[uuid.UUID | None]
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'::varchar[]"))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'draft'"))  # draft|active|archived
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    tax_class: Mapped[str] = mapped_column(String(50), server_default=text("'standard'"))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    seo_title: Mapped[str | None] = mapped_column(String(300))
    seo_description: Mapped[str | None] = mapped_column(String(1000))
    # Denormalized for listings, maintained in the same transaction as every variant write.
    price_min_cents: Mapped[int | None] = mapped_column(BigInteger)
    price_max_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    # Search document (weighted: name A, brand/category/SKUs B, tags C, description D), written by the service.
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, server_default=text("''::tsvector"))
    search_text: Mapped[str] = mapped_column(Text, server_default=text("''"))  # for trigram fallback
    sales_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Distinct "<option name>\x1f<value>" pairs of the active, non-deleted variants, maintained with
    # the price range: the options facet counts these instead of expanding every variant's JSON.
    facet_options: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_products_tenant_id_id"),
        UniqueConstraint("tenant_id", "slug", name="uq_products_tenant_slug"),
        ForeignKeyConstraint(["tenant_id", "brand_id"], ["brands.tenant_id", "brands.id"], name="fk_products_brand"),
        ForeignKeyConstraint(["tenant_id", "category_id"], ["categories.tenant_id", "categories.id"],
                             name="fk_products_category"),
        CheckConstraint("status IN ('draft', 'active', 'archived')", name="status"),
        Index("ix_products_search", "search_vector", postgresql_using="gin"),
        Index("ix_products_search_trgm", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
        Index("ix_products_listing", "tenant_id", "created_at", "id"),
        Index("ix_products_price", "tenant_id", "price_min_cents"),
        Index("ix_products_sales", "tenant_id", "sales_count", "id"),  # sort=best_selling (walked backwards)
        # Facets over a whole shop (no text query): an index-only scan instead of reading the wide rows.
        Index("ix_products_facets", "tenant_id", "status", "category_id",
              postgresql_include=["is_active", "deleted_at", "brand_id", "price_min_cents"]),
        Index("ix_products_category", "tenant_id", "category_id"),
        Index("ix_products_brand", "tenant_id", "brand_id"),
        Index("ix_products_tags", "tags", postgresql_using="gin"),
        Index("uq_products_tenant_handle", "tenant_id", "handle", unique=True,
              postgresql_where=text("handle IS NOT NULL")),
    )


class ProductOption(Base):
    """An option axis of a product (e.g. Size) with its ordered values."""

    __tablename__ = "product_options"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    values: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'::varchar[]"))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"],
                             name="fk_product_options_product", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "product_id", "name", name="uq_product_options_name"),
    )


class Variant(Base):
    __tablename__ = "variants"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(300))
    options: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))  # {"Size": "M"}
    price_cents: Mapped[int] = mapped_column(BigInteger)
    compare_at_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    barcode: Mapped[str | None] = mapped_column(String(64))
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    allow_backorder: Mapped[bool] = mapped_column(server_default=text("false"))
    backorder_eta: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))  # active|inactive
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_variants_tenant_id_id"),
        UniqueConstraint("tenant_id", "sku", name="uq_variants_tenant_sku"),
        ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"],
                             name="fk_variants_product", ondelete="CASCADE"),
        CheckConstraint("price_cents >= 0", name="price_nonnegative"),
        CheckConstraint("compare_at_price_cents IS NULL OR compare_at_price_cents >= 0", name="compare_nonnegative"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        Index("ix_variants_product", "tenant_id", "product_id", "position"),
        Index("ix_variants_options", "options", postgresql_using="gin"),
    )


class Media(Base):
    """Images of products, variants, brands, categories and users (by owner type/id)."""

    __tablename__ = "media"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    owner_type: Mapped[str] = mapped_column(String(20))  # product | variant | brand | category | user
    owner_id: Mapped[uuid.UUID]
    url: Mapped[str | None] = mapped_column(String(2048))  # external HTTPS image
    storage_key: Mapped[str | None] = mapped_column(String(500))  # uploaded file
    content_type: Mapped[str | None] = mapped_column(String(50))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    alt: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_main: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (
        Index("ix_media_owner", "tenant_id", "owner_type", "owner_id", "position"),
        # Exactly one main image per owner (the service keeps one whenever the owner has any).
        Index("uq_media_main", "tenant_id", "owner_type", "owner_id", unique=True,
              postgresql_where=text("is_main")),
        CheckConstraint("url IS NOT NULL OR storage_key IS NOT NULL", name="has_source"),
    )


class Collection(Base):
    __tablename__ = "collections"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    is_published: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_collections_tenant_id_id"),
        UniqueConstraint("tenant_id", "slug", name="uq_collections_tenant_slug"),
    )


class CollectionProduct(Base):
    __tablename__ = "collection_products"
    __mapper_args__ = EAGER

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    collection_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "collection_id"], ["collections.tenant_id", "collections.id"],
                             name="fk_collection_products_collection", ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "product_id"], ["products.tenant_id", "products.id"],
                             name="fk_collection_products_product", ondelete="CASCADE"),
    )


class ProductSale(Base):
    """Units of a product counted into ``products.sales_count`` for one paid order: the catalog's
    own ledger, so a redelivered ``order.paid`` counts nothing twice and a cancellation takes back
    exactly what was counted (docs/catalog.md, "Best-selling")."""

    __tablename__ = "product_sales"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class SearchWord(Base):
    """The distinct words of a shop's search documents, for typo correction (docs/search.md):
    a misspelt query word is replaced by its most similar known word (trigram index), then the
    ordinary full-text search runs. Written with the search documents (insert-only: a word that no
    longer occurs is harmless, it just finds nothing); ``ndoc`` = documents containing the word
    when it was first recorded (a tie-breaker between equally similar words)."""

    __tablename__ = "search_words"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # "C" collation: byte order, so a prefix is a btree range (the last query word is a prefix).
    word: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    ndoc: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __table_args__ = (
        Index("ix_search_words_trgm", "word", postgresql_using="gin", postgresql_ops={"word": "gin_trgm_ops"}),
    )


__all__ = ["Brand", "Category", "Collection", "CollectionProduct", "Media", "Product",
           "ProductOption", "ProductSale", "SearchWord", "Variant"]
