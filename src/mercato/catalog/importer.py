"""CSV import and export of the catalog: one row per variant, products grouped by ``handle``.

Import runs in three passes, all set-based:

1. **parse + validate** every row without the database (types, required cells, conflicts
   inside a product, duplicate SKUs) — all errors, by line and column;
2. **resolve** against the shop in a fixed number of queries (existing products by handle or
   SKU, variants by SKU, brands, categories, taken slugs, current main images);
3. **write** only what changes, a few statements per chunk of products (``jsonb_to_recordset``
   bulk INSERT/UPDATE/UPSERT), then refresh search documents and price ranges, publish one
   ``product.created``/``product.updated`` event per product, one audit entry, bump the cache.

``all_or_nothing`` (default) writes nothing if any row is invalid; ``partial`` writes the products
whose rows are all valid and reports the rest. An empty cell keeps the current value of an existing
product or variant (and means "default" for a new one); export writes every value, so importing an
export changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.catalog.domain import CURRENCY_EXPONENTS, next_free_slug, slugify
from mercato.catalog.search import CACHE_NAMESPACE, linear_plans, refresh_search_documents
from mercato.platform.db import current_tenant
from mercato.platform.errors import BadRequest
from mercato.platform.events import publish_many

COLUMNS = ["handle", "name", "description", "status", "brand", "category", "tags",
           "option1_name", "option1_value", "option2_name", "option2_value", "option3_name", "option3_value",
           "sku", "price_cents", "compare_at_price_cents", "currency", "barcode", "weight_grams",
           "allow_backorder", "image_url"]
REQUIRED_COLUMNS = ("handle", "sku", "price_cents", "currency")
PRODUCT_FIELDS = ("name", "description", "status", "brand", "category", "tags", "image_url")
MAX_ROWS = 200_000
#: Products written per chunk (progress is reported between chunks).
CHUNK_PRODUCTS = 1000
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_SPACE = re.compile(r"\s")


class InvalidCsv(BadRequest):
    code, title = "invalid_csv", "The file is not a readable CSV import"


class ImportFailed(BadRequest):
    """all_or_nothing import with invalid rows: nothing was written."""

    status, code, title = 422, "import_invalid", "Some rows are invalid; nothing was imported"


class ImportError_(BaseModel):
    line: int
    column: str | None
    code: str
    message: str
    handle: str | None = None


class ImportReport(BaseModel):
    mode: str
    rows: int
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0
    #: Handles of products not imported because one of their rows is invalid (partial mode).
    skipped_handles: list[str] = []
    errors: list[ImportError_] = []
    #: Wall time of each phase (parse/validate, resolve, write, refresh, events), for operators.
    timings: dict[str, float] = {}

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int, int], Awaitable[None]]


# --------------------------------------------------------------------------- pass 1: parse + validate


@dataclass
class Row:
    line: int
    handle: str
    sku: str
    price_cents: int | None
    compare_at: int | None
    currency: str
    barcode: str | None
    weight_grams: int | None
    allow_backorder: bool | None
    options: list[tuple[str, str]]  # ordered (name, value)
    product: dict[str, Any]  # non-empty product-level cells


@dataclass
class Draft:
    """One product as the file describes it."""

    handle: str
    first_line: int
    rows: list[Row] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # first non-empty value of each product field
    option_names: list[str] | None = None
    currency: str | None = None


def read_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """Rows as (line number, {column: cell}); structural problems raise :class:`InvalidCsv`."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidCsv("the file must be UTF-8 encoded") from exc
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidCsv("the file is empty") from None
    except csv.Error as exc:
        raise InvalidCsv(f"line 1: {exc}") from exc
    header = [h.strip().lower() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if unknown or missing:
        raise InvalidCsv("; ".join(filter(None, [
            f"unknown column(s): {', '.join(unknown)}" if unknown else "",
            f"missing column(s): {', '.join(missing)}" if missing else ""])),
            expected_columns=COLUMNS)
    if len(set(header)) != len(header):
        raise InvalidCsv("duplicate column names")
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                if len(cells) > len(header):
                    raise InvalidCsv(f"line {line}: {len(cells)} cells for {len(header)} columns")
                rows.append((line, {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}))
                if len(rows) > MAX_ROWS:
                    raise InvalidCsv(f"more than {MAX_ROWS} rows; split the file")
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidCsv(f"line {line}: {exc}") from exc
    return rows


def _int(cells: dict[str, str], col: str, errors: list[ImportError_], line: int, *, required: bool = False,
         maximum: int = 2**62) -> int | None:
    raw = cells.get(col, "")
    if raw == "":
        if required:
            errors.append(ImportError_(line=line, column=col, code="required", message=f"{col} is required"))
        return None
    if not re.fullmatch(r"\d+", raw):
        errors.append(ImportError_(line=line, column=col, code="invalid_integer",
                                   message=f"{col} must be a whole number ≥ 0 in minor units, got {raw!r}"))
        return None
    value = int(raw)
    if value > maximum:
        errors.append(ImportError_(line=line, column=col, code="too_large", message=f"{col} is too large"))
        return None
    return value


def _text(cells: dict[str, str], col: str, errors: list[ImportError_], line: int, max_len: int) -> str | None:
    raw = cells.get(col, "")
    if len(raw) > max_len:
        errors.append(ImportError_(line=line, column=col, code="too_long",
                                   message=f"{col} is longer than {max_len} characters"))
        return None
    return raw or None


def validate(rows: list[tuple[int, dict[str, str]]]) -> tuple[dict[str, Draft], list[ImportError_]]:
    """Check every row without the database; group rows into products by handle."""
    errors: list[ImportError_] = []
    drafts: dict[str, Draft] = {}
    sku_lines: dict[str, int] = {}
    for line, cells in rows:
        before = len(errors)
        handle = cells.get("handle", "")
        if not handle:
            errors.append(ImportError_(line=line, column="handle", code="required", message="handle is required"))
        elif len(handle) > 300 or _SPACE.search(handle):
            errors.append(ImportError_(line=line, column="handle", code="invalid_handle",
                                       message="handle must be at most 300 characters without spaces"))
        sku = cells.get("sku", "")
        if not sku:
            errors.append(ImportError_(line=line, column="sku", code="required", message="sku is required"))
        elif len(sku) > 100:
            errors.append(ImportError_(line=line, column="sku", code="too_long", message="sku is longer than 100"))
        elif sku in sku_lines:
            errors.append(ImportError_(line=line, column="sku", code="duplicate_sku",
                                       message=f"sku {sku!r} already appears on line {sku_lines[sku]}"))
        else:
            sku_lines[sku] = line
        price = _int(cells, "price_cents", errors, line, required=True)
        compare = _int(cells, "compare_at_price_cents", errors, line)
        weight = _int(cells, "weight_grams", errors, line, maximum=2**31 - 1)
        currency = cells.get("currency", "").upper()
        if currency not in CURRENCY_EXPONENTS:
            errors.append(ImportError_(line=line, column="currency",
                                       code="required" if not currency else "invalid_currency",
                                       message="currency is required" if not currency
                                       else f"unsupported currency {cells.get('currency')!r} (ISO 4217)"))
        barcode = _text(cells, "barcode", errors, line, 64)
        backorder: bool | None = None
        raw_bo = cells.get("allow_backorder", "").lower()
        if raw_bo in _TRUE:
            backorder = True
        elif raw_bo in _FALSE:
            backorder = False
        elif raw_bo:
            errors.append(ImportError_(line=line, column="allow_backorder", code="invalid_boolean",
                                       message="allow_backorder must be true or false"))
        options: list[tuple[str, str]] = []
        for n in (1, 2, 3):
            oname, oval = cells.get(f"option{n}_name", ""), cells.get(f"option{n}_value", "")
            if bool(oname) != bool(oval):
                col = f"option{n}_value" if oname else f"option{n}_name"
                errors.append(ImportError_(line=line, column=col, code="required",
                                           message=f"option{n}_name and option{n}_value go together"))
            elif oname:
                if len(oname) > 100 or len(oval) > 100:
                    errors.append(ImportError_(line=line, column=f"option{n}_value", code="too_long",
                                               message="option names and values are at most 100 characters"))
                options.append((oname, oval))
        if len({n for n, _ in options}) != len(options):
            errors.append(ImportError_(line=line, column="option2_name", code="duplicate_option",
                                       message="an option name appears twice"))
        product: dict[str, Any] = {}
        name = _text(cells, "name", errors, line, 300)
        if name:
            product["name"] = name
        if cells.get("description"):
            product["description"] = cells["description"]
        status = cells.get("status", "").lower()
        if status:
            if status not in ("draft", "active", "archived"):
                errors.append(ImportError_(line=line, column="status", code="invalid_status",
                                           message="status must be draft, active or archived"))
            product["status"] = status
        brand = _text(cells, "brand", errors, line, 200)
        if brand:
            product["brand"] = brand
        if cells.get("category"):
            product["category"] = cells["category"].strip("/ ")
        if cells.get("tags"):
            tags = [t.strip() for t in cells["tags"].split(";") if t.strip()]
            if any(len(t) > 100 for t in tags):
                errors.append(ImportError_(line=line, column="tags", code="too_long",
                                           message="each tag is at most 100 characters"))
            product["tags"] = sorted(set(tags), key=tags.index)
        image = cells.get("image_url", "")
        if image:
            parts = urlsplit(image)
            if parts.scheme != "https" or not parts.netloc or len(image) > 2048:
                errors.append(ImportError_(line=line, column="image_url", code="invalid_url",
                                           message="image_url must be an https:// URL"))
            product["image_url"] = image
        for e in errors[before:]:
            e.handle = handle or None
        if not handle or any(e.column == "handle" for e in errors[before:]):
            continue
        draft = drafts.get(handle)
        if draft is None:
            draft = drafts[handle] = Draft(handle=handle, first_line=line)
        row = Row(line=line, handle=handle, sku=sku, price_cents=price, compare_at=compare, currency=currency,
                  barcode=barcode, weight_grams=weight, allow_backorder=backorder, options=options, product=product)
        _merge_into(draft, row, errors)
        draft.rows.append(row)
    return drafts, errors


def _merge_into(draft: Draft, row: Row, errors: list[ImportError_]) -> None:
    """Product-level cells must agree across a product's rows (empty cells are fine)."""
    for key, value in row.product.items():
        current = draft.fields.get(key)
        if current is None:
            draft.fields[key] = value
        elif current != value:
            errors.append(ImportError_(line=row.line, column=key, code="conflicting_value", handle=draft.handle,
                                       message=f"{key} differs from an earlier row of product {draft.handle!r}"))
    names = [n for n, _ in row.options]
    if names:
        if draft.option_names is None:
            draft.option_names = names
        elif draft.option_names != names:
            errors.append(ImportError_(line=row.line, column="option1_name", code="inconsistent_options",
                                       handle=draft.handle,
                                       message=f"options {names} differ from {draft.option_names} on an earlier row"))
    elif draft.option_names:
        errors.append(ImportError_(line=row.line, column="option1_name", code="inconsistent_options",
                                   handle=draft.handle, message=f"this product's variants have options "
                                                                f"{draft.option_names}; give their values"))
    if row.options and any(r.options == row.options for r in draft.rows):
        errors.append(ImportError_(line=row.line, column="option1_value", code="duplicate_variant",
                                   handle=draft.handle, message="another variant of this product has the same options"))
    if row.currency in CURRENCY_EXPONENTS:
        if draft.currency is None:
            draft.currency = row.currency
        elif draft.currency != row.currency:
            errors.append(ImportError_(line=row.line, column="currency", code="mixed_currencies", handle=draft.handle,
                                       message="all variants of a product use one currency"))


# --------------------------------------------------------------------------- pass 2: resolve


@dataclass
class Existing:
    products: dict[uuid.UUID, Any]  # id -> row
    by_handle: dict[str, uuid.UUID]
    by_slug: dict[str, uuid.UUID]  # products without a handle, by slug (an export writes slug as handle)
    variants: dict[str, Any]  # sku -> row (with product_id)
    variants_by_product: dict[uuid.UUID, list[Any]]
    options_by_product: dict[uuid.UUID, list[Any]]
    main_image: dict[uuid.UUID, str]
    brands: dict[str, Any]  # lower(name) and slug -> row
    categories_by_slug: dict[str, Any]
    categories_by_id: dict[uuid.UUID, Any]
    taken_slugs: set[str]
    brand_slugs: set[str]


async def _load_existing(session: AsyncSession, drafts: dict[str, Draft]) -> Existing:
    handles = list(drafts)
    skus = [r.sku for d in drafts.values() for r in d.rows]
    products = (await session.execute(text("""
        SELECT id, handle, slug, name, description, status, brand_id, category_id, tags, deleted_at
        FROM products
        WHERE handle = ANY(CAST(:handles AS text[]))
           OR (handle IS NULL AND slug = ANY(CAST(:handles AS text[])))
           OR id IN (SELECT product_id FROM variants WHERE sku = ANY(CAST(:skus AS text[])))
    """), {"handles": handles, "skus": skus})).all()
    ids = [p.id for p in products]
    variants = (await session.execute(text("""
        SELECT id, product_id, sku, options, price_cents, compare_at_price_cents, currency, barcode, weight_grams,
               allow_backorder, position, deleted_at
        FROM variants
        WHERE sku = ANY(CAST(:skus AS text[])) OR product_id = ANY(CAST(:ids AS uuid[]))
    """), {"skus": skus, "ids": ids})).all()
    options = (await session.execute(text("""
        SELECT product_id, name, position, values FROM product_options
        WHERE product_id = ANY(CAST(:ids AS uuid[])) ORDER BY product_id, position
    """), {"ids": ids})).all()
    images = (await session.execute(text("""
        SELECT DISTINCT ON (owner_id) owner_id, url FROM media
        WHERE owner_type = 'product' AND owner_id = ANY(CAST(:ids AS uuid[])) AND url IS NOT NULL
        ORDER BY owner_id, is_main DESC, position, created_at
    """), {"ids": ids})).all()
    brands = (await session.execute(text("SELECT id, name, slug, deleted_at FROM brands"))).all()
    categories = (await session.execute(text(
        "SELECT id, slug, parent_id, path, deleted_at FROM categories"))).all()
    bases = list({slugify(h) for h in handles})
    taken = (await session.execute(text("""
        SELECT slug FROM products
        WHERE slug = ANY(CAST(:bases AS text[])) OR substring(slug from '^(.*)-[0-9]+$') = ANY(CAST(:bases AS text[]))
    """), {"bases": bases})).scalars().all()
    ex = Existing(products={p.id: p for p in products}, by_handle={}, by_slug={}, variants={},
                  variants_by_product={}, options_by_product={}, main_image={i.owner_id: i.url for i in images},
                  brands={}, categories_by_slug={c.slug: c for c in categories},
                  categories_by_id={c.id: c for c in categories}, taken_slugs=set(taken),
                  brand_slugs={b.slug for b in brands})
    for p in products:
        if p.handle:
            ex.by_handle[p.handle] = p.id
        else:
            ex.by_slug[p.slug] = p.id
    for v in variants:
        ex.variants[v.sku] = v
        ex.variants_by_product.setdefault(v.product_id, []).append(v)
    for o in options:
        ex.options_by_product.setdefault(o.product_id, []).append(o)
    for b in brands:
        if b.deleted_at is None:
            ex.brands.setdefault(b.name.lower(), b)
            ex.brands.setdefault(b.slug, b)
    return ex


def _category_for(ref: str, ex: Existing) -> Any | None:
    """A category by slug, id, or slug path (``apparel/tops/tees``: each segment the parent of the next)."""
    segments = [s for s in ref.split("/") if s]
    if not segments:
        return None
    try:
        cat = ex.categories_by_id.get(uuid.UUID(segments[-1]))
    except ValueError:
        cat = ex.categories_by_slug.get(segments[-1].lower())
    if cat is None or cat.deleted_at is not None:
        return None
    node = cat
    for slug in reversed(segments[:-1]):
        parent = ex.categories_by_id.get(node.parent_id) if node.parent_id else None
        if parent is None or parent.slug != slug.lower():
            return None
        node = parent
    return cat


def _resolve(drafts: dict[str, Draft], ex: Existing, errors: list[ImportError_]) -> dict[str, uuid.UUID | None]:
    """Which existing product each handle updates (None: a new product); adds errors."""
    target: dict[str, uuid.UUID | None] = {}
    for handle, d in drafts.items():
        pid = ex.by_handle.get(handle) or ex.by_slug.get(handle)
        owners = {ex.variants[r.sku].product_id for r in d.rows if r.sku in ex.variants}
        if pid is None and len(owners) == 1:
            pid = next(iter(owners))
            if ex.products[pid].handle:  # that product has another handle: the SKU is taken
                pid = None
        for r in d.rows:
            v = ex.variants.get(r.sku)
            if v is not None and v.product_id != pid:
                other = ex.products.get(v.product_id)
                errors.append(ImportError_(line=r.line, column="sku", code="sku_in_other_product", handle=handle,
                                           message=f"sku {r.sku!r} belongs to product "
                                                   f"{(other.handle or other.slug) if other else v.product_id!r}"))
        if pid is not None and ex.products[pid].deleted_at is not None:
            errors.append(ImportError_(line=d.first_line, column="handle", code="product_deleted", handle=handle,
                                       message="this product is deleted; restore it before importing into it"))
        if pid is None and not d.fields.get("name"):
            errors.append(ImportError_(line=d.first_line, column="name", code="required", handle=handle,
                                       message="name is required for a new product"))
        if "category" in d.fields and _category_for(d.fields["category"], ex) is None:
            line = next(r.line for r in d.rows if "category" in r.product)
            errors.append(ImportError_(line=line, column="category", code="unknown_category", handle=handle,
                                       message=f"no category {d.fields['category']!r} (use a slug or slug path)"))
        if pid is not None and d.currency:
            kept = [v for v in ex.variants_by_product.get(pid, []) if v.sku not in {r.sku for r in d.rows}
                    and v.deleted_at is None]
            if any(v.currency != d.currency for v in kept):
                errors.append(ImportError_(line=d.first_line, column="currency", code="mixed_currencies",
                                           handle=handle, message="other variants of this product use another "
                                                                  "currency"))
        target[handle] = pid
    return target


# --------------------------------------------------------------------------- pass 3: write


def _j(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=str).decode()


_INSERT_BRANDS = text("""
    INSERT INTO brands (id, tenant_id, name, slug)
    SELECT r.id, :tenant, r.name, r.slug FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, name text, slug text)
""")
_INSERT_PRODUCTS = text("""
    INSERT INTO products (id, tenant_id, name, slug, handle, description, brand_id, category_id, tags, status)
    SELECT r.id, :tenant, r.name, r.slug, r.handle, r.description, r.brand_id, r.category_id,
           CAST(ARRAY(SELECT jsonb_array_elements_text(r.tags)) AS varchar[]), r.status
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(id uuid, name text, slug text, handle text, description text, brand_id uuid, category_id uuid,
              tags jsonb, status text)
""")
_UPDATE_PRODUCTS = text("""
    UPDATE products AS p
    SET name = r.name, handle = r.handle, description = r.description, brand_id = r.brand_id,
        category_id = r.category_id, tags = CAST(ARRAY(SELECT jsonb_array_elements_text(r.tags)) AS varchar[]),
        status = r.status, updated_at = now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(id uuid, name text, handle text, description text, brand_id uuid, category_id uuid, tags jsonb,
              status text)
    WHERE p.tenant_id = :tenant AND p.id = r.id
""")
_UPSERT_VARIANTS = text("""
    INSERT INTO variants (tenant_id, product_id, sku, title, options, price_cents, compare_at_price_cents, currency,
                          barcode, weight_grams, allow_backorder, position)
    SELECT :tenant, r.product_id, r.sku, r.title, r.options, r.price_cents, r.compare_at_price_cents, r.currency,
           r.barcode, r.weight_grams, r.allow_backorder, r.position
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(product_id uuid, sku text, title text, options jsonb, price_cents bigint, compare_at_price_cents bigint,
              currency text, barcode text, weight_grams int, allow_backorder boolean, position int)
    ON CONFLICT (tenant_id, sku) DO UPDATE
    SET options = excluded.options, price_cents = excluded.price_cents,
        compare_at_price_cents = excluded.compare_at_price_cents, currency = excluded.currency,
        barcode = excluded.barcode, weight_grams = excluded.weight_grams, allow_backorder = excluded.allow_backorder,
        deleted_at = NULL, updated_at = now()
    WHERE variants.product_id = excluded.product_id
    RETURNING product_id
""")
_DELETE_OPTIONS = text("DELETE FROM product_options WHERE tenant_id = :tenant "
                       "AND product_id = ANY(CAST(:ids AS uuid[]))")
_INSERT_OPTIONS = text("""
    INSERT INTO product_options (tenant_id, product_id, name, position, values)
    SELECT :tenant, r.product_id, r.name, r.position, CAST(ARRAY(SELECT jsonb_array_elements_text(r.vals)) AS varchar[])
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(product_id uuid, name text, position int, vals jsonb)
""")
_SET_MAIN_IMAGES = text("""
    WITH r AS (SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(product_id uuid, url text)),
    demoted AS (
        UPDATE media m SET is_main = false FROM r
        WHERE m.tenant_id = :tenant AND m.owner_type = 'product' AND m.owner_id = r.product_id AND m.is_main
    )
    INSERT INTO media (tenant_id, owner_type, owner_id, url, is_main, position)
    SELECT :tenant, 'product', r.product_id, r.url, true, 0 FROM r
""")


@dataclass
class _Plan:
    brands: list[dict[str, Any]] = field(default_factory=list)
    new_products: list[dict[str, Any]] = field(default_factory=list)
    changed_products: list[dict[str, Any]] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    options: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    touched: set[uuid.UUID] = field(default_factory=set)  # products whose search document / prices change
    created: set[uuid.UUID] = field(default_factory=set)
    updated: set[uuid.UUID] = field(default_factory=set)
    rows_of: dict[uuid.UUID, int] = field(default_factory=dict)
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0


def _plan_writes(drafts: dict[str, Draft], target: dict[str, uuid.UUID | None], ex: Existing) -> _Plan:
    plan = _Plan()
    new_brands: dict[str, uuid.UUID] = {}
    for handle, d in drafts.items():
        pid = target[handle]
        old = ex.products.get(pid) if pid else None
        f = d.fields
        brand_id = old.brand_id if old else None
        if "brand" in f:
            b = ex.brands.get(f["brand"].lower()) or ex.brands.get(slugify(f["brand"]))
            if b is not None:
                brand_id = b.id
            else:
                key = f["brand"].lower()
                if key not in new_brands:
                    slug = next_free_slug(slugify(f["brand"]), ex.brand_slugs)
                    ex.brand_slugs.add(slug)
                    new_brands[key] = uuid.uuid4()
                    plan.brands.append({"id": new_brands[key], "name": f["brand"], "slug": slug})
                brand_id = new_brands[key]
        category_id = _category_for(f["category"], ex).id if "category" in f else (old.category_id if old else None)
        values = {
            "name": f.get("name", old.name if old else None),
            "description": f.get("description", old.description if old else None),
            "status": f.get("status", old.status if old else "draft"),
            "tags": f.get("tags", list(old.tags) if old else []),
            "brand_id": brand_id, "category_id": category_id,
        }
        if old is None:
            pid = uuid.uuid4()
            slug = next_free_slug(slugify(handle), ex.taken_slugs)
            ex.taken_slugs.add(slug)
            plan.new_products.append({"id": pid, "slug": slug, "handle": handle, **values})
            plan.created.add(pid)
            plan.touched.add(pid)
        else:
            assert pid is not None
            keep_handle = old.handle or (None if old.slug == handle else handle)
            before = {"name": old.name, "description": old.description, "status": old.status,
                      "tags": list(old.tags), "brand_id": old.brand_id, "category_id": old.category_id}
            if before != values or keep_handle != old.handle:
                plan.changed_products.append({"id": pid, "handle": keep_handle, **values})
                plan.updated.add(pid)
                plan.touched.add(pid)
        plan.rows_of[pid] = len(d.rows)
        if "image_url" in f and ex.main_image.get(pid) != f["image_url"]:
            plan.images.append({"product_id": pid, "url": f["image_url"]})
            if pid not in plan.created:
                plan.updated.add(pid)
        _plan_variants(plan, pid, d, ex)
    return plan


def _plan_variants(plan: _Plan, pid: uuid.UUID, d: Draft, ex: Existing) -> None:
    existing = ex.variants_by_product.get(pid, [])
    position = max((v.position for v in existing), default=-1) + 1
    option_values: dict[str, list[str]] = {o.name: list(o.values) for o in ex.options_by_product.get(pid, [])}
    option_order = [o.name for o in ex.options_by_product.get(pid, [])]
    for r in d.rows:
        old = ex.variants.get(r.sku)
        opts = dict(r.options) if r.options else (dict(old.options) if old else {})
        row = {
            "product_id": pid, "sku": r.sku, "options": opts,
            "title": " / ".join(v for _, v in r.options) or None,
            "price_cents": r.price_cents,
            "compare_at_price_cents": r.compare_at if r.compare_at is not None else (
                old.compare_at_price_cents if old else None),
            "currency": r.currency,
            "barcode": r.barcode if r.barcode is not None else (old.barcode if old else None),
            "weight_grams": r.weight_grams if r.weight_grams is not None else (old.weight_grams if old else None),
            "allow_backorder": r.allow_backorder if r.allow_backorder is not None else (
                old.allow_backorder if old else False),
        }
        if old is None:
            row["position"] = position
            position += 1
            plan.variants.append(row)
            plan.variants_created += 1
            plan.touched.add(pid)
            if pid not in plan.created:
                plan.updated.add(pid)
        else:
            row["position"] = old.position
            same = (old.options == opts and old.price_cents == row["price_cents"]
                    and old.compare_at_price_cents == row["compare_at_price_cents"] and old.currency == r.currency
                    and old.barcode == row["barcode"] and old.weight_grams == row["weight_grams"]
                    and old.allow_backorder == row["allow_backorder"] and old.deleted_at is None)
            if same:
                plan.variants_unchanged += 1
            else:
                plan.variants.append(row)
                plan.variants_updated += 1
                plan.touched.add(pid)
                plan.updated.add(pid)
        for name, value in r.options:
            if name not in option_order:
                option_order.append(name)
            bucket = option_values.setdefault(name, [])
            if value not in bucket:
                bucket.append(value)
    if d.option_names:
        order = list(d.option_names) + [n for n in option_order if n not in d.option_names]
        rows = [{"product_id": pid, "name": n, "position": i, "vals": option_values.get(n, [])}
                for i, n in enumerate(order)]
        current = [{"product_id": pid, "name": o.name, "position": o.position, "vals": list(o.values)}
                   for o in ex.options_by_product.get(pid, [])]
        if rows != current:
            plan.options[pid] = rows
            plan.touched.add(pid)
            if pid not in plan.created:
                plan.updated.add(pid)


async def _write(session: AsyncSession, tenant: uuid.UUID, plan: _Plan, progress: Progress | None,
                 total_rows: int, clock: _Clock) -> None:
    t = {"tenant": tenant}
    if plan.brands:
        await session.execute(_INSERT_BRANDS, {**t, "rows": _j(plan.brands)})
    # Chunks of products: each chunk is a handful of statements; progress is reported in between.
    product_ids = [p["id"] for p in plan.new_products] + [p["id"] for p in plan.changed_products]
    listed = set(product_ids)  # (once: a set per element made this quadratic, seconds at 10k rows)
    product_ids += [pid for pid in {v["product_id"] for v in plan.variants} | set(plan.options)
                    if pid not in listed]
    by_id_new = {p["id"]: p for p in plan.new_products}
    by_id_changed = {p["id"]: p for p in plan.changed_products}
    variants_of: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for v in plan.variants:
        variants_of.setdefault(v["product_id"], []).append(v)
    # Products first (all chunks), then their variants and options: the statistics refresh in
    # between lets the variants' foreign-key checks use the (tenant_id, id) index.
    for start in range(0, len(product_ids), CHUNK_PRODUCTS):
        chunk = product_ids[start:start + CHUNK_PRODUCTS]
        new = [by_id_new[i] for i in chunk if i in by_id_new]
        changed = [by_id_changed[i] for i in chunk if i in by_id_changed]
        if new:
            await session.execute(_INSERT_PRODUCTS, {**t, "rows": _j(new)})
        if changed:
            await session.execute(_UPDATE_PRODUCTS, {**t, "rows": _j(changed)})
    clock.lap("write_products")
    if len(plan.new_products) >= ANALYZE_AFTER_NEW_PRODUCTS:
        await _analyze(session, ["products"])
        clock.lap("analyze")
    done = 0
    for start in range(0, len(product_ids), CHUNK_PRODUCTS):
        chunk = product_ids[start:start + CHUNK_PRODUCTS]
        variants = [v for i in chunk for v in variants_of.get(i, [])]
        options = [o for i in chunk for o in plan.options.get(i, [])]
        if variants:
            written = (await session.execute(_UPSERT_VARIANTS, {**t, "rows": _j(variants)})).all()
            if len(written) != len(variants):  # a concurrent write moved a SKU to another product
                raise ImportConflict("a SKU in the file was just taken by another product; retry the import")
        clock.lap("write_variants")
        if options:
            await session.execute(_DELETE_OPTIONS, {**t, "ids": [str(i) for i in chunk if i in plan.options]})
            await session.execute(_INSERT_OPTIONS, {**t, "rows": _j(options)})
        clock.lap("write_options")
        done += sum(plan.rows_of.get(i, 0) for i in chunk)
        if progress is not None:
            await progress(min(done, total_rows), total_rows)
        clock.lap("progress")
    if plan.variants_created >= ANALYZE_AFTER_NEW_PRODUCTS * 2:
        await _analyze(session, ["variants", "product_options"])
        clock.lap("analyze")
    if plan.images:
        await session.execute(_SET_MAIN_IMAGES, {**t, "rows": _j(plan.images)})
    clock.lap("write")
    if plan.touched:
        await refresh_search_documents(session, sorted(plan.touched))
    clock.lap("refresh")


#: Refresh planner statistics (``catalog_analyze``, migration 0016) once an import creates this
#: many products (and twice as many variants). Without it, the foreign-key check of each variant
#: insert — a plan cached per connection, made when the tables were small — scans the shop's
#: products by tenant instead of using the (tenant_id, id) index: quadratic in the file.
ANALYZE_AFTER_NEW_PRODUCTS = 500


async def _analyze(session: AsyncSession, tables: list[str]) -> bool:
    """ANALYZE catalog tables inside the import transaction (it samples the rows written so far,
    and invalidates cached plans). Skipped (False) when another ANALYZE/VACUUM holds a table > 2 s."""
    return bool((await session.execute(text("SELECT catalog_analyze(CAST(:t AS text[]))"), {"t": tables})).scalar())


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self._last, 3)
        self._last = now


class ImportConflict(BadRequest):
    status, code, title = 409, "import_conflict", "The catalog changed during the import"


# --------------------------------------------------------------------------- the use case


IMPORT_STATEMENT_TIMEOUT = "120s"


async def import_products(session: AsyncSession, data: bytes | list[tuple[int, dict[str, str]]], *,
                          mode: str = "all_or_nothing", progress: Progress | None = None,
                          actor_id: uuid.UUID | None = None) -> ImportReport:
    """Validate and import a catalog CSV in the session's tenant transaction (flushes, never commits).

    Returns the report; in ``all_or_nothing`` mode with any invalid row nothing is written and the
    report carries every error (the caller decides the status code).
    """
    tenant = current_tenant(session)
    if tenant is None:
        raise RuntimeError("import_products() needs a tenant-scoped transaction")
    if mode not in ("all_or_nothing", "partial"):
        raise BadRequest("mode must be all_or_nothing or partial", field="query.mode")
    # Bulk statements over thousands of rows may legitimately outlast the per-request statement
    # timeout on a busy machine; an import transaction gets a longer one (transaction-local).
    await session.execute(text("SELECT set_config('statement_timeout', :t, true)"), {"t": IMPORT_STATEMENT_TIMEOUT})
    clock = _Clock()
    rows = read_csv(data) if isinstance(data, bytes) else data
    report = ImportReport(mode=mode, rows=len(rows), timings=clock.timings)
    drafts, errors = validate(rows)
    clock.lap("validate")
    if progress is not None:
        await progress(0, len(rows))
    ex = await _load_existing(session, drafts) if drafts else None
    if ex is not None:
        target = _resolve(drafts, ex, errors)
    clock.lap("resolve")
    errors.sort(key=lambda e: (e.line, e.column or ""))
    report.errors = errors
    if errors and mode == "all_or_nothing":
        return report
    if errors:
        bad = {e.handle for e in errors if e.handle}
        report.skipped_handles = sorted(bad)
        drafts = {h: d for h, d in drafts.items() if h not in bad}
    if not drafts or ex is None:
        return report
    plan = _plan_writes(drafts, {h: target[h] for h in drafts}, ex)
    async with linear_plans(session, enabled=len(rows) > 100):
        await _write(session, tenant, plan, progress, len(rows), clock)
    # One batched INSERT per event type (one statement per event cost seconds at 10k rows).
    await publish_many(session, "product.created", aggregate_type="product", events=[
        (p["id"], {"id": str(p["id"]), "name": p["name"], "slug": p["slug"], "status": p["status"],
                   "source": "import"}) for p in plan.new_products])
    await publish_many(session, "product.updated", aggregate_type="product", events=[
        (pid, {"id": str(pid), "source": "import"}) for pid in sorted(plan.updated - plan.created)])
    clock.lap("events")
    report.timings = dict(clock.timings)
    report.products_created = len(plan.created)
    report.products_updated = len(plan.updated - plan.created)
    report.products_unchanged = len(drafts) - report.products_created - report.products_updated
    report.variants_created = plan.variants_created
    report.variants_updated = plan.variants_updated
    report.variants_unchanged = plan.variants_unchanged
    if plan.created or plan.updated:
        await audit.record(session, action="catalog.imported", resource_type="catalog", changes={
            "mode": mode, "rows": len(rows), "products_created": report.products_created,
            "products_updated": report.products_updated, "variants_created": report.variants_created,
            "variants_updated": report.variants_updated, "by": str(actor_id) if actor_id else None})
        # Applied after commit by the Database (same contract as Cache.bump_after_commit).
        session.info.setdefault("cache_bumps", set()).add((tenant, CACHE_NAMESPACE))
    return report


# --------------------------------------------------------------------------- export

_EXPORT = text("""
    SELECT COALESCE(p.handle, p.slug) AS handle, p.name, p.description, p.status, b.name AS brand,
           c.slug AS category, array_to_string(p.tags, ';') AS tags, v.options, o.names AS option_names,
           v.sku, v.price_cents, v.compare_at_price_cents, v.currency, v.barcode, v.weight_grams,
           v.allow_backorder, img.url AS image_url
    FROM products p
    JOIN variants v ON v.tenant_id = p.tenant_id AND v.product_id = p.id AND v.deleted_at IS NULL
    LEFT JOIN brands b ON b.tenant_id = p.tenant_id AND b.id = p.brand_id
    LEFT JOIN categories c ON c.tenant_id = p.tenant_id AND c.id = p.category_id
    LEFT JOIN LATERAL (SELECT array_agg(po.name ORDER BY po.position, po.name) AS names FROM product_options po
                       WHERE po.tenant_id = p.tenant_id AND po.product_id = p.id) o ON true
    LEFT JOIN LATERAL (SELECT m.url FROM media m
                       WHERE m.tenant_id = p.tenant_id AND m.owner_type = 'product' AND m.owner_id = p.id
                         AND m.url IS NOT NULL
                       ORDER BY m.is_main DESC, m.position, m.created_at LIMIT 1) img ON true
    WHERE p.tenant_id = :tenant AND (p.deleted_at IS NULL OR :include_deleted)
    ORDER BY p.created_at, p.id, v.position, v.sku
""")


def _export_row(r: Any) -> list[str]:
    opts: dict[str, Any] = r.options or {}
    names = [n for n in (r.option_names or []) if n in opts] + [n for n in opts if n not in (r.option_names or [])]
    option_cells: list[str] = []
    for i in range(3):
        option_cells += [names[i], str(opts[names[i]])] if i < len(names) else ["", ""]
    return [r.handle, r.name, r.description or "", r.status, r.brand or "", r.category or "", r.tags or "",
            *option_cells, r.sku, str(r.price_cents),
            "" if r.compare_at_price_cents is None else str(r.compare_at_price_cents), r.currency, r.barcode or "",
            "" if r.weight_grams is None else str(r.weight_grams), "true" if r.allow_backorder else "false",
            r.image_url or ""]


async def export_products(session: AsyncSession, *, include_deleted: bool = False,
                          batch: int = 1000) -> AsyncIterator[str]:
    """The catalog as CSV text chunks (header first), streamed from a server-side cursor."""
    tenant = current_tenant(session)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    result = await session.stream(_EXPORT, {"tenant": tenant, "include_deleted": include_deleted})
    async for part in result.partitions(batch):
        for r in part:
            writer.writerow(_export_row(r))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


__all__ = ["COLUMNS", "ImportError_", "ImportFailed", "ImportReport", "InvalidCsv", "export_products",
           "import_products", "read_csv", "validate"]
