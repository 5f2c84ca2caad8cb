"""Notification tables: per-tenant template overrides and the log of every message.

Both tenant-owned (forced RLS). ``notification_log.user_id`` is identity's user id, stored
without a foreign key (the users table belongs to identity). ``notification_log.id`` is
derived from the triggering event (``domain.message_id``), so a redelivered event finds its
own row instead of sending a second message.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from mercato.notifications.domain import CHANNELS, STATUSES
from mercato.platform.db import NOW, Base, in_list


class NotificationTemplate(Base):
    """A merchant's version of one template in one locale for one channel (rendered sandboxed)."""

    __tablename__ = "notification_templates"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(10), server_default=text("'email'"))
    subject: Mapped[str | None] = mapped_column(String(500))
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_notification_templates_tenant_id_id"),
        UniqueConstraint("tenant_id", "key", "locale", "channel", name="uq_notification_templates_key"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
    )


class NotificationLog(Base):
    """One message to one recipient on one channel, and what became of it."""

    __tablename__ = "notification_log"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(10))
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    #: Stored in full (it is where the message went); masked in every API response and log line.
    recipient: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[uuid.UUID | None]
    subject: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'queued'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    #: The event that caused the message (``notification.requested``, ``order.paid``, …).
    event_id: Mapped[uuid.UUID | None]
    #: What the template needs to render again on a retry; emptied once the message is final
    #: (it may hold one-time tokens).
    context: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_notification_log_tenant_id_id"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        CheckConstraint(in_list("status", STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_notification_log_created", "tenant_id", "created_at", "id"),
        Index("ix_notification_log_user", "tenant_id", "user_id", "created_at"),
        Index("ix_notification_log_due", "status", "next_attempt_at"),
    )
