"""fulfillment

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

Shipments, their items, their history (append-only) and label documents (forced RLS), and
``quantity_committed`` on reservation lines (a shipment commits exactly its units).

The label retry job lists due retries across tenants as the worker role, which may read four
columns of ``shipments`` (tenant_id, id, status, label_next_attempt_at) and nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.migrations.helpers import *

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ["shipments", "shipment_items", "shipment_labels"]
STATUSES = ("'pending', 'picked', 'packed', 'label_created', 'shipped', 'in_transit', 'out_for_delivery', "
            "'delivered', 'failed', 'returned', 'cancelled'")


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.add_column('inventory_reservation_lines',
                  sa.Column('quantity_committed', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.create_check_constraint(op.f('ck_inventory_reservation_lines_committed_within_quantity'),
                               'inventory_reservation_lines', 'quantity_committed >= 0 AND quantity_committed <= quantity')

    op.create_table('shipments',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('order_id', sa.UUID(), nullable=False),
    sa.Column('order_number', sa.String(length=32), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=True),
    sa.Column('location_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=False),
    sa.Column('service', sa.String(length=50), nullable=False),
    sa.Column('tracking_number', sa.String(length=100), nullable=True),
    sa.Column('tracking_url', sa.String(length=500), nullable=True),
    sa.Column('ship_to', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('ship_from', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('label_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('label_next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('label_last_error', sa.Text(), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('picked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('packed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('label_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f('ck_shipments_status')),
    sa.CheckConstraint('label_attempts >= 0', name=op.f('ck_shipments_label_attempts_nonnegative')),
    sa.CheckConstraint('sequence > 0', name=op.f('ck_shipments_sequence_positive')),
    sa.ForeignKeyConstraint(['tenant_id', 'location_id'], ['stock_locations.tenant_id', 'stock_locations.id'], name='fk_shipments_location', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_shipments_tenant_id_id'),
    sa.UniqueConstraint('tenant_id', 'order_id', 'sequence', name='uq_shipments_order_sequence')
    )
    op.create_index('ix_shipments_order', 'shipments', ['tenant_id', 'order_id', 'sequence'], unique=False)
    op.create_index('ix_shipments_created', 'shipments', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_shipments_tracking', 'shipments', ['tenant_id', 'carrier', 'tracking_number'], unique=False)
    op.create_index('ix_shipments_label_due', 'shipments', ['label_next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'packed' AND label_next_attempt_at IS NOT NULL"))
    op.create_table('shipment_items',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('shipment_id', sa.UUID(), nullable=False),
    sa.Column('order_line_id', sa.UUID(), nullable=False),
    sa.Column('variant_id', sa.UUID(), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_shipment_items_quantity_positive')),
    sa.ForeignKeyConstraint(['tenant_id', 'shipment_id'], ['shipments.tenant_id', 'shipments.id'], name='fk_shipment_items_shipment', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_items')),
    sa.UniqueConstraint('tenant_id', 'shipment_id', 'order_line_id', name='uq_shipment_items_line')
    )
    op.create_table('shipment_events',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('shipment_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('carrier_event_id', sa.String(length=200), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint("kind IN ('status', 'tracking', 'label_attempt')", name=op.f('ck_shipment_events_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'shipment_id'], ['shipments.tenant_id', 'shipments.id'], name='fk_shipment_events_shipment', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_events'))
    )
    op.create_index('ix_shipment_events_shipment', 'shipment_events', ['tenant_id', 'shipment_id', 'id'], unique=False)
    op.create_index('uq_shipment_events_carrier_event', 'shipment_events', ['tenant_id', 'shipment_id', 'carrier_event_id'], unique=True, postgresql_where=sa.text('carrier_event_id IS NOT NULL'))
    op.create_table('shipment_labels',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('shipment_id', sa.UUID(), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'shipment_id'], ['shipments.tenant_id', 'shipments.id'], name='fk_shipment_labels_shipment', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_labels')),
    sa.UniqueConstraint('tenant_id', 'shipment_id', name='uq_shipment_labels_shipment')
    )

    for table in TABLES:
        tenant_table(table, app_role)
    append_only_table("shipment_events", app_role)
    # The label retry job finds due retries across tenants: four columns, read-only, nothing else.
    op.execute(f"CREATE POLICY label_retry_scan ON shipments FOR SELECT TO {worker_role} USING (true)")
    op.execute(f"GRANT SELECT (tenant_id, id, status, label_next_attempt_at) ON shipments TO {worker_role}")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_table('shipment_labels')
    op.drop_index('uq_shipment_events_carrier_event', table_name='shipment_events', postgresql_where=sa.text('carrier_event_id IS NOT NULL'))
    op.drop_index('ix_shipment_events_shipment', table_name='shipment_events')
    op.drop_table('shipment_events')
    op.drop_table('shipment_items')
    op.drop_index('ix_shipments_label_due', table_name='shipments', postgresql_where=sa.text("status = 'packed' AND label_next_attempt_at IS NOT NULL"))
    op.drop_index('ix_shipments_tracking', table_name='shipments')
    op.drop_index('ix_shipments_created', table_name='shipments')
    op.drop_index('ix_shipments_order', table_name='shipments')
    op.drop_table('shipments')
    op.drop_constraint(op.f('ck_inventory_reservation_lines_committed_within_quantity'), 'inventory_reservation_lines',
                       type_='check')
    op.drop_column('inventory_reservation_lines', 'quantity_committed')
