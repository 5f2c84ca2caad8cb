"""Notification API schemas. Recipients are always masked in output."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mercato.notifications import domain
from mercato.platform.pagination import Page

ChannelName = Literal["email", "sms", "push"]
StatusName = Literal["queued", "sent", "failed", "bounced"]

_KEY = Field(pattern=domain.TEMPLATE_KEY_RE.pattern, description="Template key, e.g. `order_confirmation`")


def _locale(value: str) -> str:
    norm = domain.normalize_locale(value)
    if norm is None:
        raise ValueError("must be a locale tag such as en, de or fr-CA")
    return norm


class NotificationTemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = _KEY
    locale: str = Field(default="en", max_length=16)
    channel: ChannelName = "email"
    subject: str | None = Field(default=None, max_length=500,
                                description="Jinja2; email only (SMS/push use the text)")
    text: str = Field(min_length=1, max_length=100_000, description="Jinja2 plain-text body")
    html: str | None = Field(default=None, max_length=200_000, description="Jinja2 HTML body (autoescaped)")

    @field_validator("locale")
    @classmethod
    def _check_locale(cls, v: str) -> str:
        return _locale(v)


class NotificationTemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, min_length=1, max_length=100_000)
    html: str | None = Field(default=None, max_length=200_000)


class NotificationTemplate(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    locale: str
    channel: ChannelName
    subject: str | None
    text: str
    html: str | None
    created_at: datetime
    updated_at: datetime


class NotificationTemplateList(Page[NotificationTemplate]):
    pass


class DefaultTemplate(BaseModel):
    key: str
    locales: list[str] = Field(description="Locales Mercato ships this template in (`en` always)")


class DefaultTemplateList(BaseModel):
    items: list[DefaultTemplate]


class NotificationSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    template: str = _KEY
    channel: ChannelName = "email"
    locale: str | None = Field(default=None, max_length=16, description="Default: the user's language")
    context: dict[str, Any] = Field(default_factory=dict, description="Template variables")

    @field_validator("locale")
    @classmethod
    def _check_locale(cls, v: str | None) -> str | None:
        return None if v is None else _locale(v)

    @field_validator("context")
    @classmethod
    def _small_context(cls, v: dict[str, Any]) -> dict[str, Any]:
        if len(repr(v)) > 20_000:
            raise ValueError("context is too large (20 kB at most)")
        return v


class Notification(BaseModel):
    """One message (staff view)."""

    id: uuid.UUID
    channel: ChannelName
    template: str
    locale: str
    recipient: str = Field(description="Masked: `j***@example.com`, `+44******789`")
    user_id: uuid.UUID | None
    subject: str | None
    status: StatusName
    attempts: int
    failure_reason: str | None
    event_id: uuid.UUID | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> Notification:
        return cls(id=row.id, channel=row.channel, template=row.template, locale=row.locale,
                   recipient=domain.mask_recipient(row.recipient, row.channel), user_id=row.user_id,
                   subject=row.subject, status=row.status, attempts=row.attempts, failure_reason=row.failure_reason,
                   event_id=row.event_id, created_at=row.created_at, sent_at=row.sent_at,
                   next_attempt_at=row.next_attempt_at)


class NotificationList(Page[Notification]):
    pass


class MyNotification(BaseModel):
    """One message (the customer's own view)."""

    id: uuid.UUID
    channel: ChannelName
    template: str
    recipient: str = Field(description="Masked")
    subject: str | None
    status: StatusName
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> MyNotification:
        return cls(id=row.id, channel=row.channel, template=row.template,
                   recipient=domain.mask_recipient(row.recipient, row.channel), subject=row.subject,
                   status=row.status, created_at=row.created_at, sent_at=row.sent_at)


class MyNotificationList(Page[MyNotification]):
    pass
