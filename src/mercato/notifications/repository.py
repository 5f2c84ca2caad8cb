"""Every query of the notifications module. Tenant scope comes from the session (RLS) plus
explicit filters where a row could otherwise be reached by id alone."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.notifications.models import NotificationLog, NotificationTemplate

# --------------------------------------------------------------------------- log


async def insert_log_if_absent(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a message row unless its (deterministic) id exists; True if inserted."""
    result = await session.execute(
        pg_insert(NotificationLog).values(**values).on_conflict_do_nothing(index_elements=["id"])
        .returning(NotificationLog.id))
    return result.first() is not None


async def get_log(session: AsyncSession, notification_id: uuid.UUID, *, for_update: bool = False,
                  skip_locked: bool = False) -> NotificationLog | None:
    q = select(NotificationLog).where(NotificationLog.id == notification_id)
    if for_update:
        q = q.with_for_update(skip_locked=skip_locked)
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()


@dataclass(frozen=True)
class LogFilters:
    status: str | None = None
    channel: str | None = None
    template: str | None = None
    recipient: str | None = None
    user_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    event_id: uuid.UUID | None = None


async def list_logs(session: AsyncSession, filters: LogFilters, *, limit: int, offset: int,
                    after: tuple[datetime, uuid.UUID] | None) -> list[NotificationLog]:
    """Newest first; ``limit + 1`` rows so the caller can tell whether there is more."""
    q = select(NotificationLog)
    f = filters
    if f.status:
        q = q.where(NotificationLog.status == f.status)
    if f.channel:
        q = q.where(NotificationLog.channel == f.channel)
    if f.template:
        q = q.where(NotificationLog.template == f.template)
    if f.recipient:
        q = q.where(func.lower(NotificationLog.recipient) == f.recipient.strip().lower())
    if f.user_id:
        q = q.where(NotificationLog.user_id == f.user_id)
    if f.created_from:
        q = q.where(NotificationLog.created_at >= f.created_from)
    if f.created_to:
        q = q.where(NotificationLog.created_at < f.created_to)
    if f.event_id:
        q = q.where(NotificationLog.event_id == f.event_id)
    if after is not None:
        q = q.where(tuple_(NotificationLog.created_at, NotificationLog.id) < tuple_(*after))
    else:
        q = q.offset(offset)
    q = q.order_by(NotificationLog.created_at.desc(), NotificationLog.id.desc()).limit(limit + 1)
    return list((await session.execute(q)).scalars().all())


async def due_retries(session: AsyncSession, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, id) of messages waiting for a retry whose time has come — every tenant
    (run as the worker role, whose only view of the table is a SELECT policy)."""
    rows = await session.execute(
        select(NotificationLog.tenant_id, NotificationLog.id)
        .where(NotificationLog.status == "queued", NotificationLog.next_attempt_at <= now)
        .order_by(NotificationLog.next_attempt_at).limit(limit))
    return [(r[0], r[1]) for r in rows.all()]


# --------------------------------------------------------------------------- templates


async def find_overrides(session: AsyncSession, *, key: str, channel: str,
                         locales: Sequence[str]) -> list[NotificationTemplate]:
    q = select(NotificationTemplate).where(NotificationTemplate.key == key, NotificationTemplate.channel == channel,
                                           NotificationTemplate.locale.in_(list(locales)))
    return list((await session.execute(q)).scalars().all())


async def template_key_exists(session: AsyncSession, key: str, channel: str) -> bool:
    q = select(NotificationTemplate.id).where(NotificationTemplate.key == key,
                                              NotificationTemplate.channel == channel).limit(1)
    return (await session.execute(q)).first() is not None


async def list_templates(session: AsyncSession, *, key: str | None, locale: str | None, channel: str | None,
                         limit: int, offset: int, after: tuple[str, str, str, uuid.UUID] | None
                         ) -> list[NotificationTemplate]:
    q = select(NotificationTemplate)
    if key:
        q = q.where(NotificationTemplate.key == key)
    if locale:
        q = q.where(NotificationTemplate.locale == locale)
    if channel:
        q = q.where(NotificationTemplate.channel == channel)
    order = (NotificationTemplate.key, NotificationTemplate.locale, NotificationTemplate.channel,
             NotificationTemplate.id)
    if after is not None:
        q = q.where(tuple_(*order) > tuple_(*after))
    else:
        q = q.offset(offset)
    return list((await session.execute(q.order_by(*order).limit(limit + 1))).scalars().all())


async def get_template(session: AsyncSession, template_id: uuid.UUID, *,
                       for_update: bool = False) -> NotificationTemplate | None:
    q = select(NotificationTemplate).where(NotificationTemplate.id == template_id)
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def template_conflicts(session: AsyncSession, *, key: str, locale: str, channel: str,
                             exclude: uuid.UUID | None = None) -> bool:
    q = select(NotificationTemplate.id).where(and_(NotificationTemplate.key == key,
                                                   NotificationTemplate.locale == locale,
                                                   NotificationTemplate.channel == channel))
    if exclude is not None:
        q = q.where(or_(NotificationTemplate.id != exclude))
    return (await session.execute(q.limit(1))).first() is not None


async def delete_template(session: AsyncSession, template_id: uuid.UUID) -> None:
    await session.execute(delete(NotificationTemplate).where(NotificationTemplate.id == template_id))
