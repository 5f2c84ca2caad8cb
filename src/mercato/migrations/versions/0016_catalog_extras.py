"""catalog extras

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-23

``catalog_analyze()``: lets the runtime role refresh the planner statistics of the catalog tables
in the middle of a bulk import. Owned by the owner role (SECURITY DEFINER), because only a table's
owner may ANALYZE it. Why: right after thousands of products are inserted the planner still
believes the tables are tiny; the foreign-key check of every variant insert (a plan cached per
connection) then picks ``ix_products_price`` (tenant_id, …) with a filter on ``id`` instead of the
unique (tenant_id, id) index, and walks all of the shop's products once per variant — quadratic
(1.6 s per 4,000 variants at 1,000 products, minutes on a busy machine). ANALYZE inside the import
transaction samples its own uncommitted rows and invalidates the cached plans (docs/catalog.md).

It waits at most 2 s (its own lock_timeout, restored on return) for the table's
ShareUpdateExclusiveLock (another ANALYZE/VACUUM, e.g. a concurrent import) and then skips instead
of queueing; returns whether it ran.

``product_sales``: units per (order, product) counted into ``products.sales_count`` by the
``order.paid`` handler (forced RLS); a cancellation of a counted order subtracts exactly those.
``ix_products_sales``: the best-selling listing walks it instead of sorting the shop.
``ix_products_facets``: brand/category/price facets of a whole shop by an index-only scan.

``products.facet_options``: the distinct ``name<US>value`` option pairs of a product's active
variants (maintained with the price range), so the options facet counts products without expanding
every variant. Backfilled here, with the search documents in their new formula (SKUs split at
punctuation, option values, a trigram text without SKUs); the owner lifts FORCE RLS on the
four tables it reads for the backfill only (same transaction).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.migrations.helpers import *

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table('product_sales',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('order_id', sa.UUID(), nullable=False),
    sa.Column('product_id', sa.UUID(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_product_sales_quantity_positive')),
    sa.PrimaryKeyConstraint('tenant_id', 'order_id', 'product_id', name=op.f('pk_product_sales'))
    )
    tenant_table("product_sales", app_role, privileges="SELECT, INSERT, DELETE")
    op.create_index('ix_products_sales', 'products', ['tenant_id', 'sales_count', 'id'], unique=False)
    op.create_index('ix_products_facets', 'products', ['tenant_id', 'status', 'category_id'], unique=False,
                    postgresql_include=['is_active', 'deleted_at', 'brand_id', 'price_min_cents'])
    op.add_column('products', sa.Column('facet_options', postgresql.ARRAY(sa.Text()),
                                        server_default=sa.text("'{}'::text[]"), nullable=False))
    backfilled = ("products", "variants", "brands", "categories")
    for table in backfilled:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("""
        UPDATE products p SET facet_options = s.pairs
        FROM (SELECT v.tenant_id, v.product_id,
                     array_agg(DISTINCT kv.key || chr(31) || kv.value ORDER BY kv.key || chr(31) || kv.value) AS pairs
              FROM variants v, jsonb_each_text(v.options) AS kv
              WHERE v.deleted_at IS NULL AND v.status = 'active'
              GROUP BY v.tenant_id, v.product_id) AS s
        WHERE p.tenant_id = s.tenant_id AND p.id = s.product_id
    """)
    # Search documents in the new formula (a snapshot of catalog.repository.refresh_search_documents):
    # SKUs also split at -_./ (the parser reads "TJ-4455" as "tj" and the number "-4455", so SKU
    # searches only worked through the trigram fallback), option values of active variants (C), and
    # the trigram text without SKUs (they were ~3/4 of it; word similarity is paid per character).
    op.execute("""
        UPDATE products p
        SET search_vector =
                setweight(to_tsvector('simple', unaccent(lower(p.name))), 'A')
             || setweight(to_tsvector('simple', unaccent(lower(concat_ws(' ', d.brand_name, d.category_name, d.skus,
                    translate(d.skus, '-_./', '    '))))), 'B')
             || setweight(to_tsvector('simple', unaccent(lower(concat_ws(' ', array_to_string(p.tags, ' '),
                    (SELECT string_agg(split_part(o, chr(31), 2), ' ') FROM unnest(p.facet_options) AS o))))), 'C')
             || setweight(to_tsvector('simple', unaccent(lower(coalesce(p.description, '')))), 'D'),
            search_text = unaccent(lower(concat_ws(' ', p.name, d.brand_name, d.category_name)))
        FROM (
            SELECT q.id, b.name AS brand_name, c.name AS category_name, agg.skus
            FROM products q
            LEFT JOIN brands b ON b.tenant_id = q.tenant_id AND b.id = q.brand_id AND b.deleted_at IS NULL
            LEFT JOIN categories c ON c.tenant_id = q.tenant_id AND c.id = q.category_id AND c.deleted_at IS NULL
            LEFT JOIN (SELECT v.tenant_id, v.product_id, string_agg(v.sku, ' ' ORDER BY v.position, v.sku) AS skus
                       FROM variants v WHERE v.deleted_at IS NULL GROUP BY v.tenant_id, v.product_id) agg
                   ON agg.tenant_id = q.tenant_id AND agg.product_id = q.id
        ) AS d
        WHERE p.id = d.id
    """)
    for table in backfilled:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute("""
        CREATE FUNCTION catalog_analyze(tables text[]) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET lock_timeout = '2s' AS $$
        DECLARE t text;
        BEGIN
            FOREACH t IN ARRAY tables LOOP
                IF t NOT IN ('products', 'variants', 'product_options', 'media') THEN
                    RAISE EXCEPTION 'catalog_analyze: % is not a catalog table', t;
                END IF;
            END LOOP;
            FOREACH t IN ARRAY tables LOOP
                EXECUTE format('ANALYZE %I', t);
            END LOOP;
            RETURN true;
        EXCEPTION WHEN lock_not_available THEN
            RETURN false;
        END $$
    """)
    op.execute("REVOKE ALL ON FUNCTION catalog_analyze(text[]) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION catalog_analyze(text[]) TO {app_role}")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.execute("DROP FUNCTION IF EXISTS catalog_analyze(text[])")
    op.drop_column('products', 'facet_options')
    op.drop_index('ix_products_facets', table_name='products')
    op.drop_index('ix_products_sales', table_name='products')
    op.drop_table('product_sales')
