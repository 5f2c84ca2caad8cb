"""Asking for messages (always through the outbox) and reading the log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.notifications import directory, domain, rendering, repository
from mercato.notifications.errors import NoAddress, NotificationNotFound, RecipientNotFound, UnknownTemplate, UserOnly
from mercato.notifications.models import NotificationLog
from mercato.notifications.schemas import NotificationSend
from mercato.notifications.service.delivery import record
from mercato.platform.errors import ServiceUnavailable
from mercato.platform.events import publish
from mercato.platform.security import Principal

REQUESTED = "notification.requested"


async def request_notification(session: AsyncSession, *, channel: str, to: str, template: str,
                               context: dict[str, Any], locale: str | None = "en", user_id: Any = None,
                               extra: dict[str, Any] | None = None) -> uuid.UUID:
    """Queue a message: a ``notification.requested`` event in the outbox (same transaction as the
    caller's change); the relay's subscriber renders and sends it. Returns the event id."""
    if channel not in domain.CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return await publish(session, REQUESTED, aggregate_type="notification", aggregate_id=user_id or to,
                         data={"channel": channel, "to": to, "template": template, "locale": locale or "en",
                               "context": context, "user_id": str(user_id) if user_id else None, **(extra or {})})


async def request_email(session: AsyncSession, *, to: str, template: str, context: dict[str, Any],
                        locale: str = "en", user_id: Any = None) -> None:
    """Queue an email (see :func:`request_notification`); identity's verification, reset and
    invitation emails come through here."""
    await request_notification(session, channel="email", to=to, template=template, context=context,
                               locale=locale, user_id=user_id)


def address_for(contact: directory.Contact, channel: str) -> str | None:
    if channel == "email":
        return contact.email
    if channel == "sms":
        return contact.phone
    return str(contact.user_id) if contact.user_id else None  # push: addressed to the user's devices


async def template_exists(session: AsyncSession, key: str, channel: str) -> bool:
    return rendering.has_default(key, channel) or await repository.template_key_exists(session, key, channel) \
        or (channel != "email" and await repository.template_key_exists(session, key, "email"))


async def send_to_user(session: AsyncSession, data: NotificationSend, principal: Principal) -> NotificationLog:
    """Staff send a template to a user: recorded ``queued`` now, sent by the relay after commit."""
    if data.template == domain.FALLBACK_TEMPLATE or not await template_exists(session, data.template, data.channel):
        raise UnknownTemplate(f"no template {data.template!r} for channel {data.channel}", field="template")
    if not directory.has_directory():
        raise ServiceUnavailable("the user directory is not available; try again later")
    contact = await directory.contact(session, data.user_id)
    if contact is None:
        raise RecipientNotFound(field="user_id")
    to = address_for(contact, data.channel)
    if not to:
        raise NoAddress(f"the user has no address for {data.channel}", field="channel")
    locale = data.locale or contact.locale or domain.DEFAULT_LOCALE
    context = {"first_name": contact.first_name, "last_name": contact.last_name, **data.context}
    event_id = await request_notification(session, channel=data.channel, to=to, template=data.template,
                                          context=context, locale=locale, user_id=data.user_id,
                                          extra={"requested_by": str(principal.actor_id) if principal.actor_id else None})
    message_id, _ = await record(session, channel=data.channel, template=data.template, recipient=to, locale=locale,
                                 context=context, user_id=data.user_id, event_id=event_id)
    await audit.record(session, action="notification.sent_manually", resource_type="notification",
                       resource_id=message_id, actor=principal,
                       changes={"template": {"from": None, "to": data.template},
                                "channel": {"from": None, "to": data.channel},
                                "user_id": {"from": None, "to": str(data.user_id)}})
    row = await repository.get_log(session, message_id)
    assert row is not None
    return row


async def list_notifications(session: AsyncSession, filters: repository.LogFilters, *, limit: int, offset: int,
                             after: tuple[Any, ...] | None) -> list[NotificationLog]:
    return await repository.list_logs(session, filters, limit=limit, offset=offset, after=after)  # type: ignore[arg-type]


async def get_notification(session: AsyncSession, notification_id: uuid.UUID) -> NotificationLog:
    row = await repository.get_log(session, notification_id)
    if row is None:
        raise NotificationNotFound()
    return row


async def list_mine(session: AsyncSession, principal: Principal, *, limit: int, offset: int,
                    after: tuple[Any, ...] | None) -> list[NotificationLog]:
    """A user's own messages (never anyone else's: filtered by the principal's user id)."""
    if principal.kind != "user" or principal.user_id is None:
        raise UserOnly()
    return await repository.list_logs(session, repository.LogFilters(user_id=principal.user_id),
                                      limit=limit, offset=offset, after=after)  # type: ignore[arg-type]
