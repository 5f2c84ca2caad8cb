"""commerce_setup

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

Carts, promotions (with redemptions), tax rates and settings, shipping zones and methods.
Every table is tenant-owned: forced row-level security, keys that include tenant_id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.migrations.helpers import *

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ["promotions", "promotion_redemptions", "tax_rates", "tax_settings", "shipping_zones", "shipping_methods",
          "carts", "cart_lines"]


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table('promotions',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('product_ids', postgresql.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False),
    sa.Column('category_ids', postgresql.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False),
    sa.Column('buy_quantity', sa.Integer(), nullable=True),
    sa.Column('get_quantity', sa.Integer(), nullable=True),
    sa.Column('minimum_subtotal_cents', sa.BigInteger(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('usage_limit', sa.Integer(), nullable=True),
    sa.Column('usage_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('per_customer_limit', sa.Integer(), nullable=True),
    sa.Column('combinable', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('percentage_off', 'fixed_amount_off', 'free_shipping', 'buy_x_get_y')", name=op.f('ck_promotions_kind')),
    sa.CheckConstraint('amount_cents IS NULL OR amount_cents >= 0', name=op.f('ck_promotions_amount_nonnegative')),
    sa.CheckConstraint('percent IS NULL OR (percent >= 0 AND percent <= 100)', name=op.f('ck_promotions_percent_range')),
    sa.CheckConstraint('usage_count >= 0 AND (usage_limit IS NULL OR usage_count <= usage_limit)', name=op.f('ck_promotions_usage_within_limit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions')),
    sa.UniqueConstraint('tenant_id', 'code', name='uq_promotions_tenant_code'),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_promotions_tenant_id_id')
    )
    op.create_table('shipping_zones',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('countries', postgresql.ARRAY(sa.String(length=2)), nullable=False),
    sa.Column('regions', postgresql.ARRAY(sa.String(length=100)), server_default=sa.text("'{}'::varchar[]"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_zones')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_shipping_zones_tenant_id_id')
    )
    op.create_index('ix_shipping_zones_countries', 'shipping_zones', ['countries'], unique=False, postgresql_using='gin')
    op.create_table('tax_rates',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=100), server_default=sa.text("''"), nullable=False),
    sa.Column('postal_prefix', sa.String(length=20), server_default=sa.text("''"), nullable=False),
    sa.Column('tax_class', sa.String(length=50), server_default=sa.text("'standard'"), nullable=False),
    sa.Column('rate', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('rate >= 0 AND rate <= 100', name=op.f('ck_tax_rates_rate_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_rates')),
    sa.UniqueConstraint('tenant_id', 'country', 'region', 'postal_prefix', 'tax_class', name='uq_tax_rates_scope')
    )
    op.create_index('ix_tax_rates_country', 'tax_rates', ['tenant_id', 'country', 'tax_class'], unique=False)
    op.create_table('tax_settings',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('shipping_tax_class', sa.String(length=50), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tax_settings'))
    )
    op.create_table('promotion_redemptions',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('promotion_id', sa.UUID(), nullable=False),
    sa.Column('customer_key', sa.String(length=320), nullable=False),
    sa.Column('order_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'promotion_id'], ['promotions.tenant_id', 'promotions.id'], name='fk_promotion_redemptions_promotion', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_redemptions')),
    sa.UniqueConstraint('tenant_id', 'promotion_id', 'order_id', name='uq_promotion_redemptions_order')
    )
    op.create_index('ix_promotion_redemptions_customer', 'promotion_redemptions', ['tenant_id', 'promotion_id', 'customer_key'], unique=False)
    op.create_table('shipping_methods',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('zone_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('rate_type', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('flat_rate_cents', sa.BigInteger(), nullable=True),
    sa.Column('brackets', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('free_above_cents', sa.BigInteger(), nullable=True),
    sa.Column('min_delivery_days', sa.Integer(), nullable=True),
    sa.Column('max_delivery_days', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('position', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("rate_type IN ('flat', 'weight', 'subtotal', 'free_above')", name=op.f('ck_shipping_methods_rate_type')),
    sa.CheckConstraint('flat_rate_cents IS NULL OR flat_rate_cents >= 0', name=op.f('ck_shipping_methods_flat_nonnegative')),
    sa.CheckConstraint('free_above_cents IS NULL OR free_above_cents >= 0', name=op.f('ck_shipping_methods_free_above_nonnegative')),
    sa.ForeignKeyConstraint(['tenant_id', 'zone_id'], ['shipping_zones.tenant_id', 'shipping_zones.id'], name='fk_shipping_methods_zone', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_methods')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_shipping_methods_tenant_id_id')
    )
    op.create_index('ix_shipping_methods_zone', 'shipping_methods', ['tenant_id', 'zone_id', 'position'], unique=False)
    op.create_table('carts',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'active'"), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('coupon_codes', postgresql.ARRAY(sa.String(length=64)), server_default=sa.text("'{}'::varchar[]"), nullable=False),
    sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('shipping_method_id', sa.UUID(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('active', 'merged', 'completed')", name=op.f('ck_carts_status')),
    sa.CheckConstraint('token_hash IS NOT NULL OR customer_id IS NOT NULL', name=op.f('ck_carts_has_owner')),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['users.tenant_id', 'users.id'], name='fk_carts_customer', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carts')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_carts_tenant_id_id'),
    sa.UniqueConstraint('tenant_id', 'token_hash', name='uq_carts_tenant_token')
    )
    op.create_index('ix_carts_expires_at', 'carts', ['expires_at'], unique=False, postgresql_where=sa.text('expires_at IS NOT NULL'))
    op.create_index('uq_carts_active_customer', 'carts', ['tenant_id', 'customer_id'], unique=True, postgresql_where=sa.text("status = 'active' AND customer_id IS NOT NULL"))
    op.create_table('cart_lines',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cart_id', sa.UUID(), nullable=False),
    sa.Column('variant_id', sa.UUID(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_cart_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['tenant_id', 'cart_id'], ['carts.tenant_id', 'carts.id'], name='fk_cart_lines_cart', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'variant_id'], ['variants.tenant_id', 'variants.id'], name='fk_cart_lines_variant', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_lines')),
    sa.UniqueConstraint('tenant_id', 'cart_id', 'variant_id', name='uq_cart_lines_variant')
    )

    for table in TABLES:
        tenant_table(table, app_role)


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_table('cart_lines')
    op.drop_index('uq_carts_active_customer', table_name='carts', postgresql_where=sa.text("status = 'active' AND customer_id IS NOT NULL"))
    op.drop_index('ix_carts_expires_at', table_name='carts', postgresql_where=sa.text('expires_at IS NOT NULL'))
    op.drop_table('carts')
    op.drop_index('ix_shipping_methods_zone', table_name='shipping_methods')
    op.drop_table('shipping_methods')
    op.drop_index('ix_promotion_redemptions_customer', table_name='promotion_redemptions')
    op.drop_table('promotion_redemptions')
    op.drop_table('tax_settings')
    op.drop_index('ix_tax_rates_country', table_name='tax_rates')
    op.drop_table('tax_rates')
    op.drop_index('ix_shipping_zones_countries', table_name='shipping_zones', postgresql_using='gin')
    op.drop_table('shipping_zones')
    op.drop_table('promotions')
