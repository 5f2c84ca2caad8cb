"""Every query of the audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.audit.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    actor_id: uuid.UUID | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


async def list_page(session: AsyncSession, tenant_id: uuid.UUID, filters: AuditFilter, *, limit: int,
                    before_id: int | None = None, offset: int = 0) -> list[AuditEntry]:
    """Newest first (keyset on id); ``limit + 1`` rows so the caller can tell if there are more."""
    q = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    elif offset:
        q = q.offset(offset)
    if filters.action is not None:
        q = q.where(AuditEntry.action == filters.action)
    if filters.resource_type is not None:
        q = q.where(AuditEntry.resource_type == filters.resource_type)
    if filters.resource_id is not None:
        q = q.where(AuditEntry.resource_id == filters.resource_id)
    if filters.actor_id is not None:
        q = q.where(AuditEntry.actor_id == filters.actor_id)
    if filters.since is not None:
        q = q.where(AuditEntry.created_at >= filters.since)
    if filters.until is not None:
        q = q.where(AuditEntry.created_at < filters.until)
    return list((await session.execute(q)).scalars())
