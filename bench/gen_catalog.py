"""Generate a large catalog for benchmarks, fast, with set-based SQL (INSERT … SELECT generate_series).

    .venv/bin/python bench/gen_catalog.py [--products 25000] [--variants 4] [--force]

Default: one shop ("catalog-bench") with 25,000 products × 4 variants = 100,000 variants,
200 brands, a 3-level category tree (20 × 5 × 4 = 400 leaves), a main image per product,
options (Size × Color), 5 % drafts; plus two small shops (500 products × 2 variants) so
tenant isolation is exercised under load. Everything is written through the runtime role
(row-level security on), in tenant transactions, then analyzed as the owner.

The database: MERCATO_DATABASE_URL (+ MERCATO_DATABASE_OWNER_URL) if set, else the embedded
PostgreSQL in ``bench/.data-catalog`` (MERCATO_DATA_DIR), started and migrated like ``mercato
serve`` does. Shop credentials go to ``<data dir>/catalog-bench.json`` for bench/catalog_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / ".data-catalog"
SHOPS = [("Catalog Bench", "catalog-bench"), ("Small Shop A", "catalog-bench-a"), ("Small Shop B", "catalog-bench-b")]

ADJECTIVES = ["classic", "modern", "vintage", "slim", "relaxed", "premium", "everyday", "urban", "alpine", "coastal",
              "heritage", "essential", "sport", "travel", "winter", "summer", "lightweight", "rugged", "soft",
              "tailored", "oversized", "cropped", "organic", "recycled", "performance", "studio", "weekend", "signature",
              "limited", "pro"]
MATERIALS = ["cotton", "linen", "wool", "merino", "cashmere", "denim", "leather", "suede", "silk", "fleece", "canvas",
             "nylon", "polyester", "bamboo", "hemp", "corduroy", "velvet", "jersey", "tweed", "flannel"]
NOUNS = ["shirt", "t-shirt", "polo", "sweater", "hoodie", "jacket", "coat", "parka", "vest", "blazer", "trousers",
         "jeans", "chinos", "shorts", "skirt", "dress", "jumpsuit", "socks", "scarf", "beanie", "cap", "gloves",
         "belt", "wallet", "backpack", "tote", "duffel", "sneakers", "boots", "loafers", "sandals", "slippers",
         "pyjamas", "robe", "cardigan", "blouse", "tunic", "leggings", "anorak", "poncho"]
COLORS = ["Black", "White", "Navy", "Grey", "Olive", "Red", "Sand", "Blue"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
TAGS = ["new", "sale", "bestseller", "eco", "gift", "limited", "basics", "outdoor"]


async def _urls():  # type: ignore[no-untyped-def]
    os.environ.setdefault("MERCATO_DATA_DIR", str(DATA_DIR))
    from mercato.platform.embedded import resolve_database
    from mercato.platform.schema import upgrade
    from mercato.settings import get_settings

    get_settings.cache_clear()
    urls = await resolve_database(get_settings())
    await upgrade(urls.owner)
    return urls


async def _shop(db, name: str, slug: str) -> dict[str, str] | None:  # type: ignore[no-untyped-def]
    import mercato.tenancy as tenancy
    from mercato.tenancy.schemas import TenantCreate

    async with db.platform_transaction() as s:
        existing = await tenancy.lookup_by_slug(s, slug)
    if existing is not None:
        return None
    async with db.platform_transaction() as s:
        r = await tenancy.create_tenant(s, TenantCreate(name=name, slug=slug, owner_email=f"owner@{slug}.example.com",
                                                        owner_password="bench-password-2026"))
    return {"id": str(r.tenant.id), "slug": slug, "secret_key": r.secret_key, "publishable_key": r.publishable_key}


async def _catalog(db, tenant_id: uuid.UUID, products: int, variants: int) -> None:  # type: ignore[no-untyped-def]
    from mercato.catalog.search import linear_plans, refresh_search_documents

    t = {"t": tenant_id}
    async with db.tenant_transaction(tenant_id) as s:
        await s.execute(text("SELECT set_config('statement_timeout', '0', true)"))
        await s.execute(text("""
            INSERT INTO brands (tenant_id, name, slug)
            SELECT :t, 'Brand ' || initcap(m) || ' ' || g, 'brand-' || m || '-' || g
            FROM generate_series(1, 200) g, LATERAL (SELECT (CAST(:mats AS text[]))[1 + g % 20] AS m) x
        """), {**t, "mats": MATERIALS})
        # Category tree: 20 roots, 5 children each, 4 grandchildren each (materialized paths).
        await s.execute(text("""
            INSERT INTO categories (id, tenant_id, name, slug, path, depth, sort_order)
            SELECT id, :t, 'Department ' || g, 'dept-' || g, '/' || id || '/', 0, g
            FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, 20) g) r
        """), t)
        for depth, fanout, label in ((1, 5, "Section"), (2, 4, "Aisle")):
            await s.execute(text("""
                INSERT INTO categories (id, tenant_id, parent_id, name, slug, path, depth, sort_order)
                SELECT id, :t, pid, :label || ' ' || pslug || '-' || g, pslug || '-' || g, ppath || id || '/', :depth, g
                FROM (SELECT gen_random_uuid() AS id, c.id AS pid, c.slug AS pslug, c.path AS ppath, g
                      FROM categories c, generate_series(1, :fanout) g WHERE c.depth = :depth - 1) r
            """), {**t, "depth": depth, "fanout": fanout, "label": label})
        await s.execute(text("""
            WITH b AS (SELECT array_agg(id ORDER BY slug) AS ids FROM brands),
                 c AS (SELECT array_agg(id ORDER BY path) AS ids FROM categories WHERE depth = 2)
            INSERT INTO products (tenant_id, name, slug, handle, description, brand_id, category_id, tags, status,
                                  created_at, sales_count)
            SELECT :t,
                   initcap(a.w) || ' ' || initcap(m.w) || ' ' || initcap(n.w) || ' ' || g,
                   'p-' || g, 'p-' || g,
                   'A ' || a.w || ' ' || n.w || ' made of ' || m.w || '. Care: machine wash cold. Model ' || g || '.',
                   b.ids[1 + (g * 7) % array_length(b.ids, 1)],
                   c.ids[1 + (g * 13) % array_length(c.ids, 1)],
                   ARRAY[(CAST(:tags AS text[]))[1 + g % 8], (CAST(:tags AS text[]))[1 + (g / 8) % 8]],
                   CASE WHEN g % 20 = 0 THEN 'draft' ELSE 'active' END,
                   now() - make_interval(mins => g),
                   (g * 7919) % 1000
            FROM generate_series(1, :n) g, b, c,
                 LATERAL (SELECT (CAST(:adjs AS text[]))[1 + g % 30] AS w) a,
                 LATERAL (SELECT (CAST(:mats AS text[]))[1 + (g / 30) % 20] AS w) m,
                 LATERAL (SELECT (CAST(:nouns AS text[]))[1 + (g / 600) % 40] AS w) n
        """), {**t, "n": products, "adjs": ADJECTIVES, "mats": MATERIALS, "nouns": NOUNS, "tags": TAGS})
        await s.execute(text("""
            INSERT INTO variants (tenant_id, product_id, sku, title, options, price_cents, compare_at_price_cents,
                                  currency, position)
            SELECT :t, p.id, upper(p.handle) || '-' || sz.w || '-' || left(col.w, 3), sz.w || ' / ' || col.w,
                   jsonb_build_object('Size', sz.w, 'Color', col.w),
                   base.cents + i * 200, CASE WHEN i = 0 THEN base.cents + 1500 END, 'USD', i
            FROM products p
            CROSS JOIN generate_series(0, :v - 1) i
            CROSS JOIN LATERAL (SELECT 500 + (abs(hashtext(p.handle)) % 30000) AS cents) base
            CROSS JOIN LATERAL (SELECT (CAST(:sizes AS text[]))[1 + i % 6] AS w) sz
            CROSS JOIN LATERAL (SELECT (CAST(:colors AS text[]))[1 + (abs(hashtext(p.handle)) + i / 6) % 8] AS w) col
        """), {**t, "v": variants, "sizes": SIZES, "colors": COLORS})
        await s.execute(text("""
            INSERT INTO product_options (tenant_id, product_id, name, position, values)
            SELECT :t, v.product_id, o.key, CASE o.key WHEN 'Size' THEN 0 ELSE 1 END,
                   CAST(array_agg(DISTINCT o.value) AS varchar[])
            FROM variants v, jsonb_each_text(v.options) o
            GROUP BY v.product_id, o.key
        """), t)
        await s.execute(text("""
            INSERT INTO media (tenant_id, owner_type, owner_id, url, alt, is_main, position)
            SELECT :t, 'product', p.id, 'https://img.example.com/' || p.handle || '.jpg', p.name, true, 0
            FROM products p
        """), t)
        ids = list((await s.execute(text("SELECT id FROM products"))).scalars())
        async with linear_plans(s):
            for start in range(0, len(ids), 5000):
                await refresh_search_documents(s, ids[start:start + 5000])


#: Operators our catalog indexes serve. PostgreSQL will not use an index for a non-LEAKPROOF operator
#: before a row-level-security policy has filtered the rows, so under forced RLS the runtime role
#: gets sequential scans for full-text (@@), trigram (<%) and containment (@>) searches. Marking them
#: LEAKPROOF (superuser only) lets the GIN indexes work. See docs/benchmarks.md "Catalog (issue 3)".
LEAKPROOF_FUNCTIONS = ["ts_match_vq(tsvector, tsquery)", "jsonb_contains(jsonb, jsonb)",
                       "arraycontains(anyarray, anyarray)", "word_similarity_op(text, text)"]


async def mark_leakproof(on: bool) -> None:
    import asyncpg

    from mercato.platform.embedded import _asyncpg_dsn, start_embedded, with_user_and_db

    superuser = os.environ.get("MERCATO_BENCH_SUPERUSER_URL") or with_user_and_db(
        start_embedded(Path(os.environ.get("MERCATO_DATA_DIR", DATA_DIR))), "postgres", "mercato")
    conn = await asyncpg.connect(_asyncpg_dsn(superuser))
    try:
        for fn in LEAKPROOF_FUNCTIONS:
            await conn.execute(f"ALTER FUNCTION {fn} {'LEAKPROOF' if on else 'NOT LEAKPROOF'}")
        print(f"{'marked' if on else 'unmarked'} LEAKPROOF: {', '.join(LEAKPROOF_FUNCTIONS)}")
    finally:
        await conn.close()


async def main(products: int, variants: int, force: bool) -> None:
    from mercato.platform.db import Database

    urls = await _urls()
    db = Database(urls.runtime, pool_size=2, max_overflow=0, statement_timeout_ms=0)
    owner = Database(urls.owner, pool_size=1, max_overflow=0, statement_timeout_ms=0)
    creds_path = Path(os.environ["MERCATO_DATA_DIR"]) / "catalog-bench.json"
    try:
        if creds_path.exists() and not force:
            print(f"already generated ({creds_path}); pass --force after deleting the data dir to redo")
            return
        shops = {}
        for (name, slug), (n, v) in zip(SHOPS, [(products, variants), (500, 2), (500, 2)], strict=True):
            started = time.perf_counter()
            shop = await _shop(db, name, slug)
            if shop is None:
                raise SystemExit(f"shop {slug} exists but {creds_path} is missing: delete the data dir and rerun")
            await _catalog(db, uuid.UUID(shop["id"]), n, v)
            shops[slug] = {**shop, "products": n, "variants": n * v}
            print(f"{slug}: {n:,} products, {n * v:,} variants in {time.perf_counter() - started:.1f} s")
        async with owner.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
        creds_path.write_text(json.dumps(shops, indent=2))
        print(f"credentials: {creds_path}")
    finally:
        await db.dispose()
        await owner.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--products", type=int, default=25_000)
    ap.add_argument("--variants", type=int, default=4, help="per product (at most 48)")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--leakproof", choices=["on", "off"], help="only (un)mark the search operators LEAKPROOF")
    args = ap.parse_args()
    if args.leakproof:
        os.environ.setdefault("MERCATO_DATA_DIR", str(DATA_DIR))
        asyncio.run(mark_leakproof(args.leakproof == "on"))
    else:
        asyncio.run(main(args.products, args.variants, args.force))
