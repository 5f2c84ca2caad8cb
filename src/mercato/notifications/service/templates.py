"""Per-tenant template overrides (CRUD). Sources are compiled on write, so a syntax error is a 422
now rather than a failed message later; rendering is sandboxed (merchants write these)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.notifications import domain, rendering, repository
from mercato.notifications.errors import InvalidTemplate, TemplateExists, TemplateNotFound
from mercato.notifications.models import NotificationTemplate
from mercato.notifications.schemas import DefaultTemplate, NotificationTemplateCreate, NotificationTemplateUpdate
from mercato.platform.db import current_tenant
from mercato.platform.security import Principal


def _check_sources(values: dict[str, Any]) -> None:
    for field in ("subject", "text", "html"):
        problem = rendering.validate_source(values.get(field), field=field)
        if problem:
            raise InvalidTemplate(problem, field=field)


def defaults() -> list[DefaultTemplate]:
    return [DefaultTemplate(key=k, locales=rendering.default_locales(k)) for k in domain.TEMPLATE_KEYS]


async def create_template(session: AsyncSession, data: NotificationTemplateCreate,
                          principal: Principal) -> NotificationTemplate:
    values = data.model_dump()
    _check_sources(values)
    if await repository.template_conflicts(session, key=data.key, locale=data.locale, channel=data.channel):
        raise TemplateExists(field="key")
    row = NotificationTemplate(tenant_id=current_tenant(session), **values)
    session.add(row)
    await session.flush()
    await audit.record(session, action="notification_template.created", resource_type="notification_template",
                       resource_id=row.id, actor=principal,
                       changes={"key": {"from": None, "to": row.key}, "locale": {"from": None, "to": row.locale},
                                "channel": {"from": None, "to": row.channel}})
    return row


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> NotificationTemplate:
    row = await repository.get_template(session, template_id)
    if row is None:
        raise TemplateNotFound()
    return row


async def list_templates(session: AsyncSession, **kw: Any) -> list[NotificationTemplate]:
    return await repository.list_templates(session, **kw)


async def update_template(session: AsyncSession, template_id: uuid.UUID, data: NotificationTemplateUpdate,
                          principal: Principal) -> NotificationTemplate:
    row = await repository.get_template(session, template_id, for_update=True)
    if row is None:
        raise TemplateNotFound()
    changes = data.model_dump(exclude_unset=True)
    if "text" in changes and changes["text"] is None:
        changes.pop("text")  # the text body is required; null leaves it as it is
    _check_sources(changes)
    before = {k: getattr(row, k) for k in changes}
    for k, v in changes.items():
        setattr(row, k, v)
    await session.flush()
    diff = audit.diff(before, {k: getattr(row, k) for k in changes})
    if diff:
        await audit.record(session, action="notification_template.updated", resource_type="notification_template",
                           resource_id=row.id, actor=principal, changes={k: {"from": "…", "to": "…"} for k in diff})
    return row


async def delete_template(session: AsyncSession, template_id: uuid.UUID, principal: Principal) -> None:
    row = await repository.get_template(session, template_id, for_update=True)
    if row is None:
        raise TemplateNotFound()
    await repository.delete_template(session, template_id)
    await audit.record(session, action="notification_template.deleted", resource_type="notification_template",
                       resource_id=template_id, actor=principal,
                       changes={"key": {"from": row.key, "to": None}, "locale": {"from": row.locale, "to": None}})
