"""payments

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

Payments (one row per attempt), refunds, gateway events (webhook dedup). All tenant-owned
with forced RLS. ``gateway_events`` is append-and-mark only for the runtime role.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.migrations.helpers import *

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ["payments", "refunds", "gateway_events"]


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table('payments',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('order_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=30), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('amount_captured', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('amount_refunded', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('gateway', sa.String(length=20), nullable=False),
    sa.Column('gateway_reference', sa.String(length=255), nullable=True),
    sa.Column('failure_code', sa.String(length=100), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('gateway_response', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'requires_action', 'authorized', 'captured', 'failed', 'cancelled', 'refunded', 'partially_refunded')", name=op.f('ck_payments_status')),
    sa.CheckConstraint("method IN ('test', 'manual', 'stripe')", name=op.f('ck_payments_method')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.CheckConstraint('amount_captured >= 0 AND amount_captured <= amount', name=op.f('ck_payments_captured_within_amount')),
    sa.CheckConstraint('amount_refunded >= 0 AND amount_refunded <= amount_captured', name=op.f('ck_payments_refunded_within_captured')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_payments_tenant_id_id'),
    sa.UniqueConstraint('tenant_id', 'idempotency_key', name='uq_payments_tenant_idempotency_key')
    )
    op.create_index('ix_payments_order', 'payments', ['tenant_id', 'order_id', 'created_at'], unique=False)
    op.create_index('ix_payments_gateway_reference', 'payments', ['tenant_id', 'gateway', 'gateway_reference'], unique=False)
    op.create_table('refunds',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('payment_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('gateway_reference', sa.String(length=255), nullable=True),
    sa.Column('failure_code', sa.String(length=100), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f('ck_refunds_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['tenant_id', 'payment_id'], ['payments.tenant_id', 'payments.id'], name='fk_refunds_payment', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('tenant_id', 'payment_id', 'idempotency_key', name='uq_refunds_payment_idempotency_key')
    )
    op.create_index('ix_refunds_payment', 'refunds', ['tenant_id', 'payment_id', 'created_at'], unique=False)
    op.create_index('ix_refunds_gateway_reference', 'refunds', ['tenant_id', 'gateway_reference'], unique=False)
    op.create_table('gateway_events',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.String(length=30), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'provider', 'event_id', name=op.f('pk_gateway_events'))
    )
    tenant_table("payments", app_role, privileges="SELECT, INSERT, UPDATE")
    tenant_table("refunds", app_role, privileges="SELECT, INSERT, UPDATE")
    tenant_table("gateway_events", app_role, privileges="SELECT, INSERT, UPDATE")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_table('gateway_events')
    op.drop_index('ix_refunds_gateway_reference', table_name='refunds')
    op.drop_index('ix_refunds_payment', table_name='refunds')
    op.drop_table('refunds')
    op.drop_index('ix_payments_gateway_reference', table_name='payments')
    op.drop_index('ix_payments_order', table_name='payments')
    op.drop_table('payments')
