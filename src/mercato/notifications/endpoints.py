"""Notifications HTTP API (``/api/v1``): the message log, sending a template to a user, the
customer's own messages, and per-tenant template overrides."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.notifications import repository, schemas, service
from mercato.notifications.auth import AnyUser, NotificationsRead, NotificationsSend
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import InvalidCursor, PageDep, PageParams, page_of

router = APIRouter(tags=["notifications"])

_R = problem_schema_responses


def _cursor(page: PageParams, *types: type) -> tuple | None:  # type: ignore[type-arg]
    if not page.cursor:
        return None
    if len(page.cursor) != len(types) or not all(isinstance(v, t) for v, t in zip(page.cursor, types, strict=True)):
        raise InvalidCursor(field="query.cursor")
    return tuple(page.cursor)


# --------------------------------------------------------------------------- the log


@router.get("/notifications", response_model=schemas.NotificationList, summary="List sent and queued messages",
            description="Newest first. Filters: `status`, `channel`, `template`, `recipient` (full address, "
                        "case-insensitive; shown masked), `user_id`, `event_id`, `created_from`/`created_to` "
                        "(ISO 8601). Paginated (`limit`, `offset`/`cursor`).",
            responses=_R(400, 401, 403, 422))
async def list_notifications(
    session: SessionDep, _: NotificationsRead, page: PageDep,
    status_: Annotated[schemas.StatusName | None, Query(alias="status")] = None,
    channel: Annotated[schemas.ChannelName | None, Query()] = None,
    template: Annotated[str | None, Query(max_length=64)] = None,
    recipient: Annotated[str | None, Query(max_length=320)] = None,
    user_id: Annotated[uuid.UUID | None, Query()] = None,
    event_id: Annotated[uuid.UUID | None, Query()] = None,
    created_from: Annotated[datetime | None, Query()] = None,
    created_to: Annotated[datetime | None, Query()] = None,
) -> schemas.NotificationList:
    filters = repository.LogFilters(status=status_, channel=channel, template=template, recipient=recipient,
                                    user_id=user_id, event_id=event_id, created_from=created_from,
                                    created_to=created_to)
    rows = await service.list_notifications(session, filters, limit=page.limit, offset=page.offset,
                                            after=_cursor(page, datetime, uuid.UUID))
    rows, has_more, cursor = page_of(rows, page, key=lambda r: [r.created_at, r.id])
    return schemas.NotificationList(items=[schemas.Notification.of(r) for r in rows], has_more=has_more,
                                    next_cursor=cursor)


@router.post("/notifications/send", status_code=status.HTTP_202_ACCEPTED, response_model=schemas.Notification,
             summary="Send a template to a user",
             description="Queues the message (`status: queued`) through the outbox; the worker renders it in the "
                         "user's language (or `locale`) and sends it within seconds. 404 `recipient_not_found`, "
                         "422 `unknown_template` / `no_address_for_channel`.",
             responses=_R(401, 403, 404, 422, 503))
async def send(data: schemas.NotificationSend, session: SessionDep,
               principal: NotificationsSend) -> schemas.Notification:
    return schemas.Notification.of(await service.send_to_user(session, data, principal))


@router.get("/notifications/{notification_id}", response_model=schemas.Notification, summary="Get one message",
            responses=_R(401, 403, 404))
async def get_notification(notification_id: uuid.UUID, session: SessionDep,
                           _: NotificationsRead) -> schemas.Notification:
    return schemas.Notification.of(await service.get_notification(session, notification_id))


@router.get("/customers/me/notifications", response_model=schemas.MyNotificationList,
            summary="My messages", description="The signed-in user's own messages, newest first. Paginated.",
            responses=_R(400, 401, 403))
async def my_notifications(session: SessionDep, principal: AnyUser, page: PageDep) -> schemas.MyNotificationList:
    rows = await service.list_mine(session, principal, limit=page.limit, offset=page.offset,
                                   after=_cursor(page, datetime, uuid.UUID))
    rows, has_more, cursor = page_of(rows, page, key=lambda r: [r.created_at, r.id])
    return schemas.MyNotificationList(items=[schemas.MyNotification.of(r) for r in rows], has_more=has_more,
                                      next_cursor=cursor)


# --------------------------------------------------------------------------- templates


@router.get("/notification-templates", response_model=schemas.NotificationTemplateList,
            summary="List the shop's template overrides",
            description="Filters `key`, `locale`, `channel`. Paginated (`limit`, `offset`/`cursor`).",
            responses=_R(400, 401, 403, 422))
async def list_templates(session: SessionDep, _: NotificationsRead, page: PageDep,
                         key: Annotated[str | None, Query(max_length=64)] = None,
                         locale: Annotated[str | None, Query(max_length=16)] = None,
                         channel: Annotated[schemas.ChannelName | None, Query()] = None,
                         ) -> schemas.NotificationTemplateList:
    rows = await service.list_templates(session, key=key, locale=locale, channel=channel, limit=page.limit,
                                        offset=page.offset, after=_cursor(page, str, str, str, uuid.UUID))
    rows, has_more, cursor = page_of(rows, page, key=lambda r: [r.key, r.locale, r.channel, r.id])
    return schemas.NotificationTemplateList(items=[schemas.NotificationTemplate.model_validate(r) for r in rows],
                                            has_more=has_more, next_cursor=cursor)


@router.get("/notification-templates/defaults", response_model=schemas.DefaultTemplateList,
            summary="The templates Mercato ships", description="Every key and the locales it is translated into.",
            responses=_R(401, 403))
async def default_templates(_: NotificationsRead) -> schemas.DefaultTemplateList:
    return schemas.DefaultTemplateList(items=service.defaults())


@router.post("/notification-templates", status_code=status.HTTP_201_CREATED,
             response_model=schemas.NotificationTemplate, summary="Override a template",
             description="Jinja2 sources (`subject`, `text`, `html`), rendered sandboxed; HTML is autoescaped. "
                         "One override per key, locale and channel (409 `notification_template_exists`); "
                         "a syntax error is 422 `invalid_template`.",
             responses=_R(401, 403, 409, 422))
async def create_template(data: schemas.NotificationTemplateCreate, session: SessionDep,
                          principal: NotificationsSend) -> schemas.NotificationTemplate:
    return schemas.NotificationTemplate.model_validate(await service.create_template(session, data, principal))


@router.get("/notification-templates/{template_id}", response_model=schemas.NotificationTemplate,
            summary="Get a template override", responses=_R(401, 403, 404))
async def get_template(template_id: uuid.UUID, session: SessionDep,
                       _: NotificationsRead) -> schemas.NotificationTemplate:
    return schemas.NotificationTemplate.model_validate(await service.get_template(session, template_id))


@router.patch("/notification-templates/{template_id}", response_model=schemas.NotificationTemplate,
              summary="Change a template override", responses=_R(401, 403, 404, 422))
async def update_template(template_id: uuid.UUID, data: schemas.NotificationTemplateUpdate, session: SessionDep,
                          principal: NotificationsSend) -> schemas.NotificationTemplate:
    return schemas.NotificationTemplate.model_validate(
        await service.update_template(session, template_id, data, principal))


@router.delete("/notification-templates/{template_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a template override (the shipped default applies again)",
               responses=_R(401, 403, 404))
async def delete_template(template_id: uuid.UUID, session: SessionDep, principal: NotificationsSend) -> Response:
    await service.delete_template(session, template_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
