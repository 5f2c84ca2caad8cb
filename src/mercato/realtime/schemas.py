"""Messages a WebSocket client may send, and the operator broadcast request."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

MAX_BROADCAST_BYTES = 8192


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthMessage(_ClientMessage):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4096)


class SubscribeMessage(_ClientMessage):
    type: Literal["subscribe"]
    room: str = Field(min_length=1, max_length=64)


class UnsubscribeMessage(_ClientMessage):
    type: Literal["unsubscribe"]
    room: str = Field(min_length=1, max_length=64)


class PingMessage(_ClientMessage):
    type: Literal["ping"]


class PongMessage(_ClientMessage):
    type: Literal["pong"]


ClientMessage = Annotated[AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage | PongMessage,
                          Field(discriminator="type")]
client_message = TypeAdapter(ClientMessage)


class BroadcastCreate(BaseModel):
    """An operator's message to every open socket of one shop (a string or a JSON object)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID
    message: str | dict[str, Any] = Field(description="Text or a JSON object, at most 8 KiB serialized")

    @field_validator("message")
    @classmethod
    def _bounded(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        if len(orjson.dumps(value)) > MAX_BROADCAST_BYTES:
            raise ValueError(f"must be at most {MAX_BROADCAST_BYTES} bytes once serialized")
        return value


class BroadcastAccepted(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    sent_at: datetime
    fan_out: Literal["redis", "process"] = Field(
        description="redis: every API process received it; process: only sockets of this process (no Redis)")
