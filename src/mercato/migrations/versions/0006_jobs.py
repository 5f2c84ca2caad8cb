"""jobs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Background jobs with progress (CSV import). Tenant-owned with forced RLS like every
tenant table; in addition the worker role may read and update jobs of every tenant, so a process starting up can mark jobs orphaned by a dead process as failed
(see ``mercato.platform.jobs.recover_stale_jobs``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.migrations.helpers import *

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=20), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("progress_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("runner", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_jobs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant_id", "created_at"], unique=False)
    op.create_index("ix_jobs_unfinished", "jobs", ["heartbeat_at"], unique=False,
                    postgresql_where=sa.text("status IN ('queued', 'running')"))
    tenant_table("jobs", app_role)
    # Startup recovery: the worker role (background machinery, which already reads every tenant's
    # outbox) may read and update jobs of every tenant; it cannot insert or delete them. (A policy
    # limited to unfinished jobs does not work: PostgreSQL checks the updated row against it too.)
    op.execute(f"CREATE POLICY jobs_recovery ON jobs TO {worker_role} USING (true) WITH CHECK (true)")
    op.execute(f"GRANT SELECT, UPDATE ON jobs TO {worker_role}")


def downgrade(app_role: str = "mercato_app", worker_role: str = "mercato_worker") -> None:
    op.drop_index("ix_jobs_unfinished", table_name="jobs", postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.drop_index("ix_jobs_tenant_created", table_name="jobs")
    op.drop_table("jobs")
