"""Every catalog query. Each statement filters on the session's tenant (RLS is the backstop).

Derived product columns are rewritten here in single set-based statements, in the caller's
transaction: :func:`recompute_prices` (price range for listings) and
:func:`refresh_search_documents` (the weighted tsvector and trigram text the search engine reads).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.models import (
    Brand,
    Category,
    CollectionProduct,
    Media,
    Product,
    ProductOption,
    Variant,
)
from mercato.catalog.models import (
    Collection as CollectionRow,
)
from mercato.platform.db import require_tenant as tenant_of

M = TypeVar("M", Brand, Category, Product, CollectionRow, Variant, Media)

_IDS = bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True)))


def _scoped(session: AsyncSession, model: type[M]) -> Select[tuple[M]]:
    return select(model).where(model.tenant_id == tenant_of(session))


# --------------------------------------------------------------------------- generic


async def get(session: AsyncSession, model: type[M], row_id: uuid.UUID, *, for_update: bool = False,
              fresh: bool = False) -> M | None:
    q = _scoped(session, model).where(model.id == row_id)
    if for_update:
        q = q.with_for_update()
    if fresh or for_update:
        q = q.execution_options(populate_existing=True)
    return (await session.execute(q)).scalar_one_or_none()


async def get_by_slug(session: AsyncSession, model: type[M], slug: str) -> M | None:
    q = _scoped(session, model).where(model.slug == slug).execution_options(populate_existing=True)
    return (await session.execute(q)).scalar_one_or_none()


async def taken_slugs(session: AsyncSession, model: type[Any], base: str) -> list[str]:
    """Slugs equal to ``base`` or of the form ``base-…``: one query to pick a free suffix."""
    escaped = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    q = select(model.slug).where(model.tenant_id == tenant_of(session),
                                 or_(model.slug == base, model.slug.like(escaped + "-%")))
    return list((await session.execute(q)).scalars())


async def lock(session: AsyncSession, key: str) -> None:
    """Serialize writers of one tenant's ``key`` (tree moves, main-image changes) until the transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                          {"k": f"{tenant_of(session)}:{key}"})


# --------------------------------------------------------------------------- products


def _storefront_product(q: Select[Any]) -> Select[Any]:
    return q.where(Product.status == "active", Product.is_active.is_(True), Product.deleted_at.is_(None))


async def find_product(session: AsyncSession, *, product_id: uuid.UUID | None = None, slug: str | None = None,
                       storefront: bool, include_deleted: bool = False) -> Product | None:
    q = _scoped(session, Product).execution_options(populate_existing=True)
    q = q.where(Product.id == product_id) if product_id is not None else q.where(Product.slug == slug)
    if storefront:
        q = _storefront_product(q)
    elif not include_deleted:
        q = q.where(Product.deleted_at.is_(None))
    return (await session.execute(q)).scalar_one_or_none()


_PAGE_SQL = """
SELECT p.id, p.name, p.slug, p.handle, p.description, p.status, p.is_active, p.tags, p.weight_grams, p.tax_class,
       p.metadata, p.seo_title, p.seo_description, p.brand_id, p.category_id, p.price_min_cents, p.price_max_cents,
       p.currency, p.created_at, p.updated_at, p.deleted_at,
       (SELECT ROW(b.id, b.name, b.slug, b.logo_url) FROM brands b
         WHERE b.tenant_id = p.tenant_id AND b.id = p.brand_id {brand_visible}) AS brand,
       ARRAY(SELECT (SELECT ROW(c.id, c.name, c.slug) FROM categories c
                      WHERE c.tenant_id = leaf.tenant_id AND c.id = a.category_id {category_visible})
               FROM categories leaf
               CROSS JOIN LATERAL unnest(string_to_array(trim(BOTH '/' FROM leaf.path), '/')::uuid[])
                          WITH ORDINALITY AS a(category_id, n)
              WHERE leaf.tenant_id = p.tenant_id AND leaf.id = p.category_id
              ORDER BY a.n) AS breadcrumb,
       ARRAY(SELECT ROW(o.id, o.name, o.position, o.values) FROM product_options o
              WHERE o.tenant_id = p.tenant_id AND o.product_id = p.id
              ORDER BY o.position, o.name) AS options,
       ARRAY(SELECT ROW(v.id, v.sku, v.title, v.options, v.price_cents, v.compare_at_price_cents, v.currency,
                        v.barcode, v.weight_grams, v.allow_backorder, v.backorder_eta, v.status, v.position,
                        v.created_at, v.updated_at, v.deleted_at,
                        ARRAY(SELECT ROW({media_columns}) FROM media m
                               WHERE m.tenant_id = v.tenant_id AND m.owner_type = 'variant' AND m.owner_id = v.id
                               ORDER BY m.is_main DESC, m.position, m.created_at))
               FROM variants v
              WHERE v.tenant_id = p.tenant_id AND v.product_id = p.id {variant_visible}
              ORDER BY v.position, v.created_at, v.id) AS variants,
       ARRAY(SELECT ROW({media_columns}) FROM media m
              WHERE m.tenant_id = p.tenant_id AND m.owner_type = 'product' AND m.owner_id = p.id
              ORDER BY m.is_main DESC, m.position, m.created_at) AS images
  FROM products p
 WHERE p.tenant_id = :tenant_id AND {key} {product_visible}
"""

#: Media as the page shows it: uploads (no URL) are served by ``GET /api/v1/media/{id}/file``.
_PAGE_MEDIA = ("m.id, m.owner_type, m.owner_id, COALESCE(m.url, '/api/v1/media/' || m.id || '/file'), m.content_type, "
               "m.size_bytes, m.width, m.height, m.alt, m.position, m.is_main, m.created_at")


@functools.cache
def _page_statement(by_id: bool, storefront: bool, include_deleted: bool) -> Any:
    """One statement text per (key, view): the visibility rules are literal SQL, so each variant gets its
    own prepared plan instead of a generic one full of ``NOT :flag OR …``."""
    alive = "AND {t}.deleted_at IS NULL"
    if storefront:
        product = "AND p.status = 'active' AND p.is_active AND p.deleted_at IS NULL"
        variant = "AND v.status = 'active' AND v.deleted_at IS NULL"
    else:
        product = "" if include_deleted else alive.format(t="p")
        variant = "" if include_deleted else alive.format(t="v")
    sql = _PAGE_SQL.format(
        key="p.id = :product_id" if by_id else "p.slug = :slug", product_visible=product, variant_visible=variant,
        brand_visible=alive.format(t="b") if storefront else "", category_visible=alive.format(t="c") if storefront else "",
        media_columns=_PAGE_MEDIA)
    return text(sql)


async def product_page(session: AsyncSession, *, product_id: uuid.UUID | None = None, slug: str | None = None,
                       storefront: bool, include_deleted: bool = False) -> Any | None:
    """Everything the product page shows, in ONE statement whatever the number of variants: the product
    row with its brand (a record), category path root first (records; NULL for a category the view may
    not see), options, variants (records, each with its images, main first) and product images, all filtered by the caller's view like
    :func:`find_product`, :func:`variants_of` and the storefront rules (deleted brand or categories
    hidden). Nested records come back as tuples; ``None`` when the product is not visible."""
    stmt = _page_statement(product_id is not None, storefront, include_deleted and not storefront)
    params: dict[str, Any] = {"tenant_id": tenant_of(session)}
    if product_id is not None:
        params["product_id"] = product_id
    else:
        params["slug"] = slug
    return (await session.execute(stmt, params)).one_or_none()


async def product_id_by_handle(session: AsyncSession, handle: str) -> uuid.UUID | None:
    q = select(Product.id).where(Product.tenant_id == tenant_of(session), Product.handle == handle)
    return (await session.execute(q)).scalar_one_or_none()


async def products_by_ids(session: AsyncSession, ids: Collection[uuid.UUID]) -> list[Product]:
    if not ids:
        return []
    return list((await session.execute(_scoped(session, Product).where(Product.id.in_(list(ids))))).scalars())


async def product_ids_where(session: AsyncSession, *, brand_id: uuid.UUID | None = None,
                            category_ids: Sequence[uuid.UUID] | None = None) -> list[uuid.UUID]:
    q = select(Product.id).where(Product.tenant_id == tenant_of(session))
    if brand_id is not None:
        q = q.where(Product.brand_id == brand_id)
    if category_ids is not None:
        q = q.where(Product.category_id.in_(list(category_ids)))
    return list((await session.execute(q)).scalars())


async def recompute_prices(session: AsyncSession, product_ids: Collection[uuid.UUID]) -> None:
    """Price range, currency and option pairs (``facet_options``) of each product from its active,
    non-deleted variants (NULL / empty when none)."""
    if not product_ids:
        return
    await session.execute(text("""
        UPDATE products AS p
        SET price_min_cents = s.min_price, price_max_cents = s.max_price, currency = s.currency,
            facet_options = s.facet_options
        FROM (
            SELECT q.id, min(v.price_cents) AS min_price, max(v.price_cents) AS max_price, min(v.currency) AS currency,
                   COALESCE((SELECT array_agg(DISTINCT kv.key || chr(31) || kv.value ORDER BY kv.key || chr(31) || kv.value)
                             FROM variants w, jsonb_each_text(w.options) AS kv
                             WHERE w.tenant_id = q.tenant_id AND w.product_id = q.id AND w.deleted_at IS NULL
                               AND w.status = 'active'), '{}') AS facet_options
            FROM products q
            LEFT JOIN variants v ON v.tenant_id = q.tenant_id AND v.product_id = q.id
                                AND v.deleted_at IS NULL AND v.status = 'active'
            WHERE q.tenant_id = :tenant_id AND q.id = ANY(:ids)
            GROUP BY q.id
        ) AS s
        WHERE p.tenant_id = :tenant_id AND p.id = s.id
          AND (p.price_min_cents, p.price_max_cents, p.currency, p.facet_options)
              IS DISTINCT FROM (s.min_price, s.max_price, s.currency, s.facet_options)
    """).bindparams(_IDS), {"tenant_id": tenant_of(session), "ids": list(product_ids)})


#: Which lexemes of a search document become correction targets (``search_words``): words of 3 to 40
#: characters without digits or punctuation. Numbers, SKUs and hyphenated compounds are left out
#: (a "similar" number is never the intended one; query words are split at punctuation anyway).
SEARCH_WORD_RULE = r"length(w.lexeme) BETWEEN 3 AND 40 AND w.lexeme ~ '^\w+$' AND w.lexeme !~ '[0-9_]'"

#: Appended to a statement whose CTE ``refreshed`` returns the new ``search_vector`` of the written
#: products: records their new words, set-based and insert-only (an unchanged vocabulary writes
#: nothing; a word that no longer occurs stays, harmlessly). Sorted, so concurrent writers insert
#: shared new words in the same order (no deadlock).
RECORD_SEARCH_WORDS = f"""
INSERT INTO search_words (tenant_id, word, ndoc)
SELECT :tenant_id, w.lexeme, count(*) FROM refreshed, unnest(refreshed.search_vector) AS w
WHERE {SEARCH_WORD_RULE}
GROUP BY w.lexeme ORDER BY w.lexeme
ON CONFLICT (tenant_id, word) DO NOTHING
"""

_REFRESH_SEARCH = text("""
    WITH refreshed AS (
    UPDATE products AS p
    SET search_vector =
            setweight(to_tsvector('simple', unaccent(lower(p.name))), 'A')
         || setweight(to_tsvector('simple', unaccent(lower(concat_ws(' ', d.brand_name, d.category_name, d.skus,
                translate(d.skus, '-_./', '    '))))), 'B')
         || setweight(to_tsvector('simple', unaccent(lower(concat_ws(' ', array_to_string(p.tags, ' '),
                (SELECT string_agg(split_part(o, chr(31), 2), ' ') FROM unnest(p.facet_options) AS o))))), 'C')
         || setweight(to_tsvector('simple', unaccent(lower(coalesce(p.description, '')))), 'D'),
        search_text = unaccent(lower(concat_ws(' ', p.name, d.brand_name, d.category_name)))
    FROM (
        SELECT q.id, b.name AS brand_name, c.name AS category_name,
               (SELECT string_agg(v.sku, ' ' ORDER BY v.position, v.sku)
                  FROM variants v
                 WHERE v.tenant_id = q.tenant_id AND v.product_id = q.id AND v.deleted_at IS NULL) AS skus
        FROM products q
        LEFT JOIN brands b ON b.tenant_id = q.tenant_id AND b.id = q.brand_id AND b.deleted_at IS NULL
        LEFT JOIN categories c ON c.tenant_id = q.tenant_id AND c.id = q.category_id AND c.deleted_at IS NULL
        WHERE q.tenant_id = :tenant_id AND q.id = ANY(:ids)
    ) AS d
    WHERE p.tenant_id = :tenant_id AND p.id = d.id
    RETURNING p.search_vector)
""" + RECORD_SEARCH_WORDS).bindparams(_IDS)


async def refresh_search_documents(session: AsyncSession, product_ids: Collection[uuid.UUID]) -> None:
    """Rewrite ``products.search_vector`` and ``products.search_text`` for ``product_ids`` in one statement.

    Weights: name A; brand, category and SKUs (non-deleted variants; also split at ``-_./``, because
    the parser reads ``TJ-4455`` as ``tj`` and the number ``-4455``) B; tags and option values of the
    active variants (``facet_options``: call :func:`recompute_prices` first) C; description D. Text is
    lowercased and unaccented, parsed with the ``simple`` configuration (no stemming: shop vocabularies are
    multilingual and full of brand names). ``search_text`` = name + brand + category for the trigram
    fallback (no SKUs: they quadrupled its length, and word similarity costs per character). The
    documents' new words go to ``search_words`` in the same statement (typo correction). Call it
    after any write that changes one of those inputs, in the same transaction.
    """
    if not product_ids:
        return
    await session.execute(_REFRESH_SEARCH, {"tenant_id": tenant_of(session), "ids": list(set(product_ids))})


# --------------------------------------------------------------------------- options and variants


async def options_of(session: AsyncSession, product_id: uuid.UUID) -> list[ProductOption]:
    q = (select(ProductOption).where(ProductOption.tenant_id == tenant_of(session),
                                     ProductOption.product_id == product_id)
         .order_by(ProductOption.position, ProductOption.name).execution_options(populate_existing=True))
    return list((await session.execute(q)).scalars())


async def delete_options(session: AsyncSession, product_id: uuid.UUID) -> None:
    await session.execute(delete(ProductOption).where(ProductOption.tenant_id == tenant_of(session),
                                                      ProductOption.product_id == product_id))


async def variants_of(session: AsyncSession, product_id: uuid.UUID, *, active_only: bool = False,
                      include_deleted: bool = False) -> list[Variant]:
    q = (_scoped(session, Variant).where(Variant.product_id == product_id)
         .order_by(Variant.position, Variant.created_at, Variant.id).execution_options(populate_existing=True))
    if active_only:
        q = q.where(Variant.status == "active")
    if not include_deleted:
        q = q.where(Variant.deleted_at.is_(None))
    return list((await session.execute(q)).scalars())


async def skus_in_use(session: AsyncSession, skus: Collection[str]) -> dict[str, uuid.UUID]:
    """SKU → variant id for the given SKUs already taken in the tenant (deleted variants keep theirs)."""
    if not skus:
        return {}
    q = select(Variant.sku, Variant.id).where(Variant.tenant_id == tenant_of(session), Variant.sku.in_(list(skus)))
    return {r.sku: r.id for r in (await session.execute(q))}


async def max_variant_position(session: AsyncSession, product_id: uuid.UUID) -> int:
    q = select(func.coalesce(func.max(Variant.position), -1)).where(
        Variant.tenant_id == tenant_of(session), Variant.product_id == product_id)
    return int((await session.execute(q)).scalar_one())


# --------------------------------------------------------------------------- categories


async def categories_by_ids(session: AsyncSession, ids: Collection[uuid.UUID]) -> list[Category]:
    if not ids:
        return []
    q = _scoped(session, Category).where(Category.id.in_(list(ids)))
    return list((await session.execute(q)).scalars())


async def category_path(session: AsyncSession, category_id: uuid.UUID) -> list[Category]:
    """A category and its ancestors, one query (ids read from the category's materialized path)."""
    tenant = tenant_of(session)
    leaf_path = select(Category.path).where(Category.tenant_id == tenant, Category.id == category_id).scalar_subquery()
    ids = select(func.unnest(func.string_to_array(func.trim(leaf_path, "/"), "/")).cast(PG_UUID(as_uuid=True)))
    q = _scoped(session, Category).where(Category.id.in_(ids)).order_by(Category.depth)
    return list((await session.execute(q.execution_options(populate_existing=True))).scalars())


async def all_categories(session: AsyncSession, *, include_deleted: bool) -> list[Category]:
    q = _scoped(session, Category).order_by(Category.depth, Category.sort_order, Category.name, Category.id)
    if not include_deleted:
        q = q.where(Category.deleted_at.is_(None))
    return list((await session.execute(q)).scalars())


async def list_categories(session: AsyncSession, *, include_deleted: bool, parent_id: uuid.UUID | None,
                          roots_only: bool, limit: int, offset: int) -> list[Category]:
    q = (_scoped(session, Category).order_by(Category.depth, Category.sort_order, Category.name, Category.id)
         .limit(limit + 1).offset(offset))
    if not include_deleted:
        q = q.where(Category.deleted_at.is_(None))
    if parent_id is not None:
        q = q.where(Category.parent_id == parent_id)
    elif roots_only:
        q = q.where(Category.parent_id.is_(None))
    return list((await session.execute(q)).scalars())


def _prefix_like(path: str) -> str:
    return path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def subtree(session: AsyncSession, path: str, *, include_deleted: bool) -> list[Category]:
    """The category with this path and all its descendants (path prefix, index-backed)."""
    q = _scoped(session, Category).where(Category.path.like(_prefix_like(path)))
    if not include_deleted:
        q = q.where(Category.deleted_at.is_(None))
    return list((await session.execute(q.order_by(Category.depth))).scalars())


async def subtree_ids(session: AsyncSession, category_id: uuid.UUID, *, include_deleted: bool = False) -> list[uuid.UUID]:
    root = select(Category.path).where(Category.tenant_id == tenant_of(session), Category.id == category_id)
    q = select(Category.id).where(Category.tenant_id == tenant_of(session),
                                  Category.path.like(func.concat(root.scalar_subquery(), "%")))
    if not include_deleted:
        q = q.where(Category.deleted_at.is_(None))
    return list((await session.execute(q)).scalars())


async def has_live_children(session: AsyncSession, category_id: uuid.UUID) -> bool:
    q = select(func.count()).select_from(Category).where(
        Category.tenant_id == tenant_of(session), Category.parent_id == category_id, Category.deleted_at.is_(None))
    return int((await session.execute(q)).scalar_one()) > 0


async def move_subtree(session: AsyncSession, old_path: str, new_path: str, depth_delta: int) -> None:
    """Rewrite the path (and depth) of a category and every descendant in one UPDATE."""
    await session.execute(
        update(Category)
        .where(Category.tenant_id == tenant_of(session), Category.path.like(_prefix_like(old_path)))
        .values(path=func.concat(new_path, func.substr(Category.path, len(old_path) + 1)),
                depth=Category.depth + depth_delta)
        .execution_options(synchronize_session=False)
    )


async def set_subtree_deleted(session: AsyncSession, path: str, deleted_at: datetime | None,
                              only_deleted_at: datetime | None = None) -> list[uuid.UUID]:
    """Soft-delete (or restore, with ``deleted_at=None``) a subtree; returns the ids changed."""
    q = (update(Category)
         .where(Category.tenant_id == tenant_of(session), Category.path.like(_prefix_like(path)))
         .values(deleted_at=deleted_at, updated_at=func.now())
         .returning(Category.id)
         .execution_options(synchronize_session=False))
    q = q.where(Category.deleted_at.is_(None)) if deleted_at is not None else q.where(Category.deleted_at.is_not(None))
    if only_deleted_at is not None:
        q = q.where(Category.deleted_at == only_deleted_at)
    return list((await session.execute(q)).scalars())


# --------------------------------------------------------------------------- brands and collections


async def list_rows(session: AsyncSession, model: type[M], *, include_deleted: bool, limit: int, offset: int,
                    extra: Sequence[Any] = ()) -> list[M]:
    q = _scoped(session, model).order_by(model.name, model.id).limit(limit + 1).offset(offset)
    if not include_deleted and hasattr(model, "deleted_at"):
        q = q.where(model.deleted_at.is_(None))
    for cond in extra:
        q = q.where(cond)
    return list((await session.execute(q)).scalars())


async def collection_products(session: AsyncSession, collection_ids: Collection[uuid.UUID], *,
                              storefront: bool) -> list[tuple[uuid.UUID, int, Product]]:
    if not collection_ids:
        return []
    q = (select(CollectionProduct.collection_id, CollectionProduct.position, Product)
         .join(Product, (Product.tenant_id == CollectionProduct.tenant_id)
               & (Product.id == CollectionProduct.product_id))
         .where(CollectionProduct.tenant_id == tenant_of(session),
                CollectionProduct.collection_id.in_(list(collection_ids)))
         .order_by(CollectionProduct.collection_id, CollectionProduct.position, Product.name))
    if storefront:
        q = _storefront_product(q)
    return [(r[0], r[1], r[2]) for r in (await session.execute(q)).all()]


async def collection_member_ids(session: AsyncSession, collection_id: uuid.UUID) -> list[uuid.UUID]:
    q = (select(CollectionProduct.product_id)
         .where(CollectionProduct.tenant_id == tenant_of(session), CollectionProduct.collection_id == collection_id)
         .order_by(CollectionProduct.position))
    return list((await session.execute(q)).scalars())


async def add_collection_products(session: AsyncSession, collection_id: uuid.UUID,
                                  product_ids: Sequence[uuid.UUID], start: int) -> None:
    from sqlalchemy.dialects.postgresql import insert

    rows = [{"tenant_id": tenant_of(session), "collection_id": collection_id, "product_id": pid,
             "position": start + i} for i, pid in enumerate(product_ids)]
    if rows:
        await session.execute(insert(CollectionProduct).values(rows).on_conflict_do_nothing())


async def remove_collection_product(session: AsyncSession, collection_id: uuid.UUID, product_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(CollectionProduct)
        .where(CollectionProduct.tenant_id == tenant_of(session), CollectionProduct.collection_id == collection_id,
               CollectionProduct.product_id == product_id)
        .returning(CollectionProduct.product_id))
    return result.first() is not None


async def reorder_collection(session: AsyncSession, collection_id: uuid.UUID, product_ids: Sequence[uuid.UUID]) -> None:
    """Positions 0..n-1 in the given order, one UPDATE."""
    await session.execute(text("""
        UPDATE collection_products AS cp SET position = o.ord - 1
        FROM unnest(:ids) WITH ORDINALITY AS o(product_id, ord)
        WHERE cp.tenant_id = :tenant_id AND cp.collection_id = :cid AND cp.product_id = o.product_id
    """).bindparams(_IDS), {"ids": list(product_ids), "tenant_id": tenant_of(session), "cid": collection_id})


# --------------------------------------------------------------------------- media


async def media_of(session: AsyncSession, owners: Sequence[tuple[str, Collection[uuid.UUID]]]) -> list[Media]:
    """Media of several owners in one query, main first then by position."""
    conds = [(Media.owner_type == kind) & Media.owner_id.in_(list(ids)) for kind, ids in owners if ids]
    if not conds:
        return []
    q = (_scoped(session, Media).where(or_(*conds))
         .order_by(Media.owner_type, Media.owner_id, Media.is_main.desc(), Media.position, Media.created_at))
    return list((await session.execute(q.execution_options(populate_existing=True))).scalars())


async def clear_main(session: AsyncSession, owner_type: str, owner_id: uuid.UUID) -> None:
    await session.execute(
        update(Media).where(Media.tenant_id == tenant_of(session), Media.owner_type == owner_type,
                            Media.owner_id == owner_id, Media.is_main.is_(True))
        .values(is_main=False).execution_options(synchronize_session=False))


async def next_media_position(session: AsyncSession, owner_type: str, owner_id: uuid.UUID) -> tuple[int, int]:
    """(count, next position) of an owner's media."""
    q = select(func.count(), func.coalesce(func.max(Media.position), -1) + 1).where(
        Media.tenant_id == tenant_of(session), Media.owner_type == owner_type, Media.owner_id == owner_id)
    count, pos = (await session.execute(q)).one()
    return int(count), int(pos)


async def first_media(session: AsyncSession, owner_type: str, owner_id: uuid.UUID) -> Media | None:
    q = (_scoped(session, Media).where(Media.owner_type == owner_type, Media.owner_id == owner_id)
         .order_by(Media.position, Media.created_at).limit(1).execution_options(populate_existing=True))
    return (await session.execute(q)).scalar_one_or_none()


# --------------------------------------------------------------------------- sales counts

# Count an order's units once: ledger rows insert only if new (a redelivered or repeated
# order.paid adds nothing), products are locked in id order first (no deadlock between two orders
# touching the same products), and only products that exist are counted.
_COUNT_SALES = text("""
WITH r AS (SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(product_id uuid, quantity int)),
locked AS (SELECT p.id FROM products p JOIN r ON r.product_id = p.id
           WHERE p.tenant_id = :tenant ORDER BY p.id FOR UPDATE OF p),
ins AS (
    INSERT INTO product_sales (tenant_id, order_id, product_id, quantity)
    SELECT :tenant, :order_id, r.product_id, r.quantity FROM r
    WHERE r.quantity > 0 AND r.product_id IN (SELECT id FROM locked)
    ON CONFLICT DO NOTHING
    RETURNING product_id, quantity
)
UPDATE products p SET sales_count = p.sales_count + ins.quantity
FROM ins WHERE p.tenant_id = :tenant AND p.id = ins.product_id
RETURNING p.id
""")
_LOCK_SOLD = text("""
SELECT p.id FROM products p
WHERE p.tenant_id = :tenant
  AND p.id IN (SELECT product_id FROM product_sales WHERE tenant_id = :tenant AND order_id = :order_id)
ORDER BY p.id FOR UPDATE OF p
""")
_UNCOUNT_SALES = text("""
WITH del AS (DELETE FROM product_sales WHERE tenant_id = :tenant AND order_id = :order_id
             RETURNING product_id, quantity)
UPDATE products p SET sales_count = greatest(p.sales_count - del.quantity, 0)
FROM del WHERE p.tenant_id = :tenant AND p.id = del.product_id
RETURNING p.id
""")


async def count_sales(session: AsyncSession, order_id: uuid.UUID, units: dict[uuid.UUID, int]) -> list[uuid.UUID]:
    """Add an order's units per product to ``sales_count`` unless already counted; the ids changed."""
    import orjson

    rows = orjson.dumps([{"product_id": str(p), "quantity": q} for p, q in sorted(units.items())]).decode()
    result = await session.execute(_COUNT_SALES, {"tenant": tenant_of(session), "order_id": order_id, "rows": rows})
    return [r[0] for r in result.all()]


async def uncount_sales(session: AsyncSession, order_id: uuid.UUID) -> list[uuid.UUID]:
    """Take back what :func:`count_sales` counted for the order (nothing if it was never counted)."""
    params = {"tenant": tenant_of(session), "order_id": order_id}
    await session.execute(_LOCK_SOLD, params)
    return [r[0] for r in (await session.execute(_UNCOUNT_SALES, params)).all()]
