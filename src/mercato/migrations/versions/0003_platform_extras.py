"""platform_extras

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Outbox relay and audit log support:
* ``outbox.next_attempt_at``: retry backoff shared by every relay (and surviving restarts);
* ``ix_outbox_pending_aggregate``: finds an aggregate's earlier unpublished events (order per aggregate);
* ``ix_audit_log_tenant_id``: the audit log API pages a tenant's entries by id, newest first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mercato.migrations.helpers import *

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_pending_aggregate", "outbox", ["tenant_id", "aggregate_type", "aggregate_id", "id"],
                    unique=False, postgresql_where=sa.text("published_at IS NULL"))
    op.create_index("ix_audit_log_tenant_id", "audit_log", ["tenant_id", "id"], unique=False)


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_index("ix_audit_log_tenant_id", table_name="audit_log")
    op.drop_index("ix_outbox_pending_aggregate", table_name="outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.drop_column("outbox", "next_attempt_at")
