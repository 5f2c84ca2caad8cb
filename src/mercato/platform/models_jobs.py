"""The ``jobs`` table: background work with progress (CSV imports, later exports and reindexes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import Base

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'queued'"))
    progress_done: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    progress_total: Mapped[int | None] = mapped_column(Integer)
    errors: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    result: Mapped[dict[str, Any] | None]
    created_by: Mapped[uuid.UUID | None]
    #: Which process runs the job (``host:pid:boot``) and when it last proved it is alive.
    runner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        # The startup sweep looks only at unfinished jobs.
        Index("ix_jobs_unfinished", "heartbeat_at", postgresql_where=text("status IN ('queued', 'running')")),
    )


__all__ = ["JOB_STATUSES", "Job"]
