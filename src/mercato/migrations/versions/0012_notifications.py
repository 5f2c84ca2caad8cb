"""notifications

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

Notification templates (per-tenant overrides) and the notification log. Both tenant-owned with
forced RLS. The worker role may list due retries of every tenant (SELECT only, one policy) —
the retry job then sends each as the runtime role in that tenant's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.migrations.helpers import *

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table('notification_log',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=10), server_default=sa.text("'queued'"), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('event_id', sa.UUID(), nullable=True),
    sa.Column('context', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'sms', 'push')", name=op.f('ck_notification_log_channel')),
    sa.CheckConstraint("status IN ('queued', 'sent', 'failed', 'bounced')", name=op.f('ck_notification_log_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_notification_log_attempts_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_log')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_notification_log_tenant_id_id')
    )
    op.create_index('ix_notification_log_created', 'notification_log', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_notification_log_due', 'notification_log', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_notification_log_user', 'notification_log', ['tenant_id', 'user_id', 'created_at'], unique=False)
    op.create_table('notification_templates',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=10), server_default=sa.text("'email'"), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("channel IN ('email', 'sms', 'push')", name=op.f('ck_notification_templates_channel')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_templates')),
    sa.UniqueConstraint('tenant_id', 'id', name='uq_notification_templates_tenant_id_id'),
    sa.UniqueConstraint('tenant_id', 'key', 'locale', 'channel', name='uq_notification_templates_key')
    )
    # The runtime role never deletes log rows (they are the record of what was sent).
    tenant_table("notification_log", app_role, privileges="SELECT, INSERT, UPDATE")
    tenant_table("notification_templates", app_role)
    op.execute(f"CREATE POLICY retry_scan ON notification_log FOR SELECT TO {worker_role} USING (true)")
    op.execute(f"GRANT SELECT ON notification_log TO {worker_role}")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_table('notification_templates')
    op.drop_index('ix_notification_log_user', table_name='notification_log')
    op.drop_index('ix_notification_log_due', table_name='notification_log')
    op.drop_index('ix_notification_log_created', table_name='notification_log')
    op.drop_table('notification_log')
