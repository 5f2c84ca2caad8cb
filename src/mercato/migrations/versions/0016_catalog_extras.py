"""catalog extras

Revision ID: 0016
Revises: 0012
Create Date: 2026-11-23

``catalog_analyze()``: lets the runtime role refresh the planner statistics of the catalog tables
in the middle of a bulk import. Owned by the owner role (SECURITY DEFINER), because only a table's
owner may ANALYZE it. Why: right after thousands of products are inserted the planner still
believes the tables are tiny; the foreign-key check of every variant insert (a plan cached per
connection) then picks ``ix_products_price`` (tenant_id, …) with a filter on ``id`` instead of the
unique (tenant_id, id) index, and walks all of the shop's products once per variant — quadratic
(1.6 s per 4,000 variants at 1,000 products, minutes on a busy machine). ANALYZE inside the import
transaction samples its own uncommitted rows and invalidates the cached plans (docs/catalog.md).

It waits at most 2 s for the table's ShareUpdateExclusiveLock (another ANALYZE/VACUUM, e.g. a
concurrent import) and then skips instead of queueing; returns whether it ran.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.execute("""
        CREATE FUNCTION catalog_analyze(tables text[]) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
        DECLARE t text;
        BEGIN
            FOREACH t IN ARRAY tables LOOP
                IF t NOT IN ('products', 'variants', 'product_options', 'media') THEN
                    RAISE EXCEPTION 'catalog_analyze: % is not a catalog table', t;
                END IF;
            END LOOP;
            PERFORM set_config('lock_timeout', '2s', true);
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
