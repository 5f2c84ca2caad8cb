"""checkout

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

Checkouts.
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

from mercato.migrations.helpers import *  # noqa: F403

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table('checkouts',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cart_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'open'"), nullable=False),
    sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('billing_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('shipping_method_id', sa.UUID(), nullable=True),
    sa.Column('coupon_codes', postgresql.ARRAY(sa.String(length=64)), server_default=sa.text("'{}'::varchar[]"), nullable=False),
    sa.Column('payment_method', sa.String(length=20), nullable=True),
    sa.Column('organization_name', sa.String(length=200), nullable=True),
    sa.Column('purchase_order_number', sa.String(length=100), nullable=True),
    sa.Column('reservation_id', sa.UUID(), nullable=True),
    sa.Column('reservation_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.UUID(), nullable=True),
    sa.Column('order_number', sa.String(length=64), nullable=True),
    sa.Column('order_total', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('completion_key', sa.String(length=255), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("customer_id IS NOT NULL OR (email IS NOT NULL AND token_hash IS NOT NULL)", name=op.f('ck_checkouts_has_owner')),
    sa.CheckConstraint("payment_method IS NULL OR payment_method IN ('test', 'manual', 'stripe')", name=op.f('ck_checkouts_payment_method')),
    sa.CheckConstraint("status IN ('open', 'payment_pending', 'completed', 'expired', 'abandoned')", name=op.f('ck_checkouts_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'cart_id'], ['carts.tenant_id', 'carts.id'], name='fk_checkouts_cart', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['users.tenant_id', 'users.id'], name='fk_checkouts_customer', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkouts')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_checkouts_tenant_id_id'),
    sa.UniqueConstraint('tenant_id', 'order_id', name='uq_checkouts_order')
    )
    op.create_index('ix_checkouts_cart', 'checkouts', ['tenant_id', 'cart_id'], unique=False)
    op.create_index('ix_checkouts_open_expires_at', 'checkouts', ['expires_at'], unique=False, postgresql_where=sa.text("status IN ('open', 'payment_pending')"))
    tenant_table("checkouts", app_role)  # noqa: F405
    # The abandonment job lists expired checkouts of every tenant (SELECT only), then handles each
    # one as the runtime role inside that tenant's transaction.
    op.execute(f"CREATE POLICY expiry_scan ON checkouts FOR SELECT TO {worker_role} USING (true)")
    op.execute(f"GRANT SELECT ON checkouts TO {worker_role}")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_index('ix_checkouts_open_expires_at', table_name='checkouts', postgresql_where=sa.text("status IN ('open', 'payment_pending')"))
    op.drop_index('ix_checkouts_cart', table_name='checkouts')
    op.drop_table('checkouts')
