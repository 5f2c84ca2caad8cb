"""orders

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

Orders, order lines, history, notes, per-shop order settings. All tenant-owned with forced RLS.
``order_history`` is append-only for the runtime role (SELECT, INSERT): the record of who did
what to an order cannot be edited. Orders and lines are never deleted by the runtime role.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.migrations.helpers import *

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table('order_settings',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('self_cancel_window_seconds', sa.Integer(), server_default=sa.text('3600'), nullable=False),
    sa.Column('cancel_on_payment_failure', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('self_cancel_window_seconds >= 0', name=op.f('ck_order_settings_window_not_negative')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_order_settings'))
    )
    op.create_table('orders',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('payment_status', sa.String(length=20), server_default=sa.text("'unpaid'"), nullable=False),
    sa.Column('fulfillment_status', sa.String(length=20), server_default=sa.text("'unfulfilled'"), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount_total', sa.BigInteger(), nullable=False),
    sa.Column('shipping_total', sa.BigInteger(), nullable=False),
    sa.Column('shipping_discount', sa.BigInteger(), nullable=False),
    sa.Column('tax_total', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('amount_paid', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('amount_refunded', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), nullable=False),
    sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('billing_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('shipping_method', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('coupon_codes', postgresql.ARRAY(sa.String(length=64)), server_default=sa.text("'{}'::varchar[]"), nullable=False),
    sa.Column('promotion_ids', postgresql.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False),
    sa.Column('reservation_id', sa.UUID(), nullable=True),
    sa.Column('checkout_id', sa.UUID(), nullable=True),
    sa.Column('payment_method', sa.String(length=20), nullable=True),
    sa.Column('organization_name', sa.String(length=200), nullable=True),
    sa.Column('purchase_order_number', sa.String(length=100), nullable=True),
    sa.Column('locale', sa.String(length=20), server_default=sa.text("'en'"), nullable=False),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("fulfillment_status IN ('unfulfilled', 'partially_fulfilled', 'fulfilled', 'returned')", name=op.f('ck_orders_fulfillment_status')),
    sa.CheckConstraint("payment_status IN ('unpaid', 'authorized', 'paid', 'partially_refunded', 'refunded', 'failed')", name=op.f('ck_orders_payment_status')),
    sa.CheckConstraint("status IN ('pending', 'paid', 'processing', 'partially_shipped', 'shipped', 'delivered', 'completed', 'cancelled')", name=op.f('ck_orders_status')),
    sa.CheckConstraint('amount_paid >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount_paid', name=op.f('ck_orders_refunded_within_paid')),
    sa.CheckConstraint('subtotal >= 0 AND discount_total >= 0 AND shipping_total >= 0 AND shipping_discount >= 0 AND tax_total >= 0 AND total >= 0', name=op.f('ck_orders_totals_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('tenant_id', 'checkout_id', name='uq_orders_tenant_checkout'),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_orders_tenant_id_id'),
    sa.UniqueConstraint('tenant_id', 'number', name='uq_orders_tenant_number')
    )
    op.create_index('ix_orders_customer', 'orders', ['tenant_id', 'customer_id', 'placed_at'], unique=False)
    op.create_index('ix_orders_email', 'orders', ['tenant_id', 'email'], unique=False)
    op.create_index('ix_orders_placed', 'orders', ['tenant_id', 'placed_at', 'id'], unique=False)
    op.create_index('ix_orders_status', 'orders', ['tenant_id', 'status', 'placed_at'], unique=False)
    op.create_table('order_history',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('order_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=True),
    sa.Column('to_status', sa.String(length=30), nullable=True),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('customer_visible', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint("kind IN ('status', 'payment', 'fulfillment', 'note', 'address', 'system')", name=op.f('ck_order_history_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'order_id'], ['orders.tenant_id', 'orders.id'], name='fk_order_history_order', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_history'))
    )
    op.create_index('ix_order_history_order', 'order_history', ['tenant_id', 'order_id', 'id'], unique=False)
    op.create_table('order_lines',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('order_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.UUID(), nullable=False),
    sa.Column('product_id', sa.UUID(), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('product_name', sa.String(length=500), nullable=False),
    sa.Column('variant_title', sa.String(length=500), nullable=True),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('tax', sa.BigInteger(), nullable=False),
    sa.Column('tax_rate', sa.Numeric(precision=10, scale=6), nullable=True),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('quantity_fulfilled', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('quantity_returned', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.CheckConstraint('quantity_fulfilled >= 0 AND quantity_fulfilled <= quantity', name=op.f('ck_order_lines_fulfilled_within_quantity')),
    sa.CheckConstraint('quantity_returned >= 0 AND quantity_returned <= quantity_fulfilled', name=op.f('ck_order_lines_returned_within_fulfilled')),
    sa.CheckConstraint('unit_price >= 0 AND subtotal >= 0 AND discount >= 0 AND tax >= 0 AND total >= 0', name=op.f('ck_order_lines_amounts_not_negative')),
    sa.ForeignKeyConstraint(['tenant_id', 'order_id'], ['orders.tenant_id', 'orders.id'], name='fk_order_lines_order', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_order_lines_tenant_id_id')
    )
    op.create_index('ix_order_lines_order', 'order_lines', ['tenant_id', 'order_id', 'position'], unique=False)
    op.create_table('order_notes',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('order_id', sa.UUID(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('visibility', sa.String(length=20), server_default=sa.text("'internal'"), nullable=False),
    sa.Column('author_type', sa.String(length=20), nullable=False),
    sa.Column('author_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("visibility IN ('internal', 'customer')", name=op.f('ck_order_notes_visibility')),
    sa.CheckConstraint('length(body) > 0', name=op.f('ck_order_notes_body_not_empty')),
    sa.ForeignKeyConstraint(['tenant_id', 'order_id'], ['orders.tenant_id', 'orders.id'], name='fk_order_notes_order', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_notes'))
    )
    op.create_index('ix_order_notes_order', 'order_notes', ['tenant_id', 'order_id', 'created_at'], unique=False)

    tenant_table("orders", app_role, privileges="SELECT, INSERT, UPDATE")
    tenant_table("order_lines", app_role, privileges="SELECT, INSERT, UPDATE")
    append_only_table("order_history", app_role)
    tenant_table("order_notes", app_role, privileges="SELECT, INSERT")
    tenant_table("order_settings", app_role, privileges="SELECT, INSERT, UPDATE")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_index('ix_order_notes_order', table_name='order_notes')
    op.drop_table('order_notes')
    op.drop_index('ix_order_lines_order', table_name='order_lines')
    op.drop_table('order_lines')
    op.drop_index('ix_order_history_order', table_name='order_history')
    op.drop_table('order_history')
    op.drop_index('ix_orders_status', table_name='orders')
    op.drop_index('ix_orders_placed', table_name='orders')
    op.drop_index('ix_orders_email', table_name='orders')
    op.drop_index('ix_orders_customer', table_name='orders')
    op.drop_table('orders')
    op.drop_table('order_settings')
