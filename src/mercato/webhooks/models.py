"""Outbound webhook tables: endpoints, deliveries (one per endpoint and event), attempts.

All three are tenant-owned (forced RLS); keys between them include ``tenant_id``.
The worker role may read four columns of ``webhook_deliveries`` across tenants (migration
0011) to find what is due; everything else runs as the runtime role in a tenant transaction.

Signing secrets are stored as they are: HMAC needs the secret itself, so it cannot be
hashed. They are returned only in the response that creates them and never logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, UUID_DEFAULT, Base


class WebhookEndpoint(Base):
    """A merchant's URL that receives signed event deliveries."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    #: Subscribed event types; empty means every event.
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    secret: Mapped[str] = mapped_column(String(100))
    #: After a rotation, the old secret keeps signing (a second signature) until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]
    #: Start of the current run of failed attempts (NULL after any success).
    failing_since: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_webhook_endpoints_tenant_id_id"),
        Index("ix_webhook_endpoints_tenant", "tenant_id", "created_at", "id"),
    )


class WebhookDelivery(Base):
    """One event for one endpoint. ``id`` is the ``webhook-id`` header (the receiver's dedup key):
    retries and replays reuse it.

    ``status``: pending (not tried yet) → succeeded | failed (retry scheduled) → … → dead
    (retries exhausted). ``next_attempt_at`` NULL: nothing scheduled (done, dead, or paused
    because the endpoint is disabled).
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    endpoint_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(100))
    #: The exact JSON body sent: ``{"type", "timestamp", "data"}``.
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_webhook_deliveries_tenant_id_id"),
        # Fan-out dedup: an event redelivered by the relay creates no second delivery.
        UniqueConstraint("tenant_id", "endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        ForeignKeyConstraint(["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
                             name="fk_webhook_deliveries_endpoint", ondelete="CASCADE"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'dead')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        # The sender scans due deliveries across tenants.
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("status IN ('pending', 'failed') AND next_attempt_at IS NOT NULL")),
        Index("ix_webhook_deliveries_endpoint", "tenant_id", "endpoint_id", "created_at", "id"),
    )


class WebhookAttempt(Base):
    """One HTTP request of a delivery: what came back and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    delivery_id: Mapped[uuid.UUID]
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    #: The first 500 bytes of the response body (decoded leniently).
    response_snippet: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    manual: Mapped[bool] = mapped_column(server_default=text("false"))

    __table_args__ = (
        UniqueConstraint("tenant_id", "delivery_id", "attempt", name="uq_webhook_attempts_delivery_attempt"),
        ForeignKeyConstraint(["tenant_id", "delivery_id"], ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
                             name="fk_webhook_attempts_delivery", ondelete="CASCADE"),
    )


__all__ = ["WebhookAttempt", "WebhookDelivery", "WebhookEndpoint"]
