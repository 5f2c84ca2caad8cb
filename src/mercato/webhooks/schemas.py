"""Request and response models of the webhooks API (``extra="forbid"`` on input).

Signing secrets appear in exactly two responses: :class:`WebhookEndpointCreated` and
:class:`SecretRotated`. No other model has a secret field.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeliveryStatus = Literal["pending", "succeeded", "failed", "dead"]

EventType = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$",
                                 examples=["order.paid"])]
Url = Annotated[str, Field(min_length=8, max_length=2048, examples=["https://n8n.example.com/webhook/orders"],
                           description="HTTPS (plain http only to loopback outside production). Private, "
                                       "loopback, link-local and metadata addresses are refused.")]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventType] = Field(default_factory=list, max_length=200,
                                         description="Event types to receive; empty: every event.")
    enabled: bool = True


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventType] | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(default=None, description="Re-enabling resumes paused deliveries.")


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None = Field(description="Start of the current run of failed attempts.")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until then, deliveries also carry a signature with the old secret.")
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="The signing secret (`whsec_…`). Shown once: store it now.")


class SecretRotated(BaseModel):
    endpoint: WebhookEndpoint
    secret: str = Field(description="The new signing secret. Shown once: store it now.")
    previous_secret_expires_at: datetime = Field(
        description="Until then every delivery is signed with both the new and the old secret.")


class WebhookEndpointList(BaseModel):
    items: list[WebhookEndpoint]
    has_more: bool
    next_cursor: str | None = None


class WebhookAttempt(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    response_snippet: str | None = Field(description="The first 500 bytes of the response body.")
    error: str | None
    manual: bool = Field(description="A replay or test requested by staff, outside the retry schedule.")


class WebhookDelivery(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The `webhook-id` header: the same for every attempt and replay.")
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookDeliveryDetail(WebhookDelivery):
    payload: dict[str, Any] = Field(description="The exact JSON body sent.")
    attempt_log: list[WebhookAttempt]


class WebhookDeliveryList(BaseModel):
    items: list[WebhookDelivery]
    has_more: bool
    next_cursor: str | None = None
