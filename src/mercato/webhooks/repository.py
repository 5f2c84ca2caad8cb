"""Every query of the webhooks module. Tenant-scoped queries run in a tenant transaction
(RLS is the backstop); :func:`due_deliveries` is the one cross-tenant read (worker role)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, any_, delete, func, or_, select, tuple_, update
from sqlalchemy import literal as sa_literal
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.platform.db import require_tenant as _tenant
from mercato.webhooks.domain import RETRYABLE
from mercato.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

# --------------------------------------------------------------------------- endpoints


async def insert_endpoint(session: AsyncSession, **values: Any) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(tenant_id=_tenant(session), **values)
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, *, for_update: bool = False
                       ) -> WebhookEndpoint | None:
    q = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == _tenant(session),
                                      WebhookEndpoint.id == endpoint_id)
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def get_endpoints(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WebhookEndpoint]:
    if not ids:
        return {}
    q = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == _tenant(session), WebhookEndpoint.id.in_(ids))
    return {e.id: e for e in (await session.execute(q)).scalars()}


async def list_endpoints(session: AsyncSession, *, limit: int, offset: int,
                         after: tuple[datetime, uuid.UUID] | None) -> list[WebhookEndpoint]:
    q = (select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == _tenant(session))
         .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id).limit(limit + 1))
    if after is not None:
        q = q.where(tuple_(WebhookEndpoint.created_at, WebhookEndpoint.id) > after)
    else:
        q = q.offset(offset)
    return list((await session.execute(q)).scalars())


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> bool:
    result = await session.execute(delete(WebhookEndpoint).where(
        WebhookEndpoint.tenant_id == _tenant(session), WebhookEndpoint.id == endpoint_id))
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]


async def subscribed_endpoints(session: AsyncSession, event_type: str) -> list[WebhookEndpoint]:
    """Enabled endpoints of the session's tenant that receive ``event_type``."""
    q = select(WebhookEndpoint).where(
        WebhookEndpoint.tenant_id == _tenant(session), WebhookEndpoint.enabled.is_(True),
        or_(func.cardinality(WebhookEndpoint.event_types) == 0, sa_literal(event_type) == any_(WebhookEndpoint.event_types)))
    return list((await session.execute(q)).scalars())


# --------------------------------------------------------------------------- deliveries


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Insert deliveries; an (endpoint, event) pair that exists already is skipped."""
    if not rows:
        return []
    tenant = _tenant(session)
    stmt = (insert(WebhookDelivery).values([{**r, "tenant_id": tenant} for r in rows])
            .on_conflict_do_nothing(index_elements=["tenant_id", "endpoint_id", "event_id"])
            .returning(WebhookDelivery.id))
    return list((await session.execute(stmt)).scalars())


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID, *, for_update: bool = False
                       ) -> WebhookDelivery | None:
    q = select(WebhookDelivery).where(WebhookDelivery.tenant_id == _tenant(session),
                                      WebhookDelivery.id == delivery_id)
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def list_deliveries(session: AsyncSession, endpoint_id: uuid.UUID, *, status: str | None, limit: int,
                          offset: int, before: tuple[datetime, uuid.UUID] | None) -> list[WebhookDelivery]:
    """Newest first."""
    q = (select(WebhookDelivery)
         .where(WebhookDelivery.tenant_id == _tenant(session), WebhookDelivery.endpoint_id == endpoint_id)
         .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit + 1))
    if status:
        q = q.where(WebhookDelivery.status == status)
    if before is not None:
        q = q.where(tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < before)
    else:
        q = q.offset(offset)
    return list((await session.execute(q)).scalars())


async def attempts_of(session: AsyncSession, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    q = (select(WebhookAttempt)
         .where(WebhookAttempt.tenant_id == _tenant(session), WebhookAttempt.delivery_id == delivery_id)
         .order_by(WebhookAttempt.attempt))
    return list((await session.execute(q)).scalars())


async def pause_deliveries(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """Nothing of a disabled endpoint is due until it is enabled again."""
    await session.execute(update(WebhookDelivery).where(
        WebhookDelivery.tenant_id == _tenant(session), WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.status.in_(RETRYABLE)).values(next_attempt_at=None))


async def resume_deliveries(session: AsyncSession, endpoint_id: uuid.UUID, now: datetime) -> None:
    await session.execute(update(WebhookDelivery).where(
        WebhookDelivery.tenant_id == _tenant(session), WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.status.in_(RETRYABLE), WebhookDelivery.next_attempt_at.is_(None)).values(next_attempt_at=now))


async def claim(session: AsyncSession, ids: Sequence[uuid.UUID], *, now: datetime, lease_until: datetime
                ) -> list[WebhookDelivery]:
    """Take the due deliveries among ``ids`` that no other sender holds: they are locked, and
    their ``next_attempt_at`` moves to ``lease_until`` so that, once this transaction commits,
    no other sender finds them due while we send."""
    tenant = _tenant(session)
    due = (select(WebhookDelivery.id)
           .where(WebhookDelivery.tenant_id == tenant, WebhookDelivery.id.in_(ids),
                  WebhookDelivery.status.in_(RETRYABLE), WebhookDelivery.next_attempt_at <= now)
           .with_for_update(skip_locked=True))
    stmt = (update(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant, WebhookDelivery.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease_until).returning(WebhookDelivery)
            .execution_options(synchronize_session=False))
    return list((await session.execute(stmt)).scalars())


async def due_deliveries(worker_session: AsyncSession, now: datetime, limit: int, *,
                         tenant_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(tenant_id, delivery_id)`` of due deliveries of every tenant, oldest due first (worker
    role: it may read only these columns)."""
    q = (select(WebhookDelivery.tenant_id, WebhookDelivery.id)
         .where(and_(WebhookDelivery.status.in_(RETRYABLE), WebhookDelivery.next_attempt_at.is_not(None),
                     WebhookDelivery.next_attempt_at <= now))
         .order_by(WebhookDelivery.next_attempt_at).limit(limit))
    if tenant_id is not None:
        q = q.where(WebhookDelivery.tenant_id == tenant_id)
    return [(t, i) for t, i in (await worker_session.execute(q)).all()]


async def insert_attempt(session: AsyncSession, **values: Any) -> None:
    session.add(WebhookAttempt(tenant_id=_tenant(session), **values))
    await session.flush()
