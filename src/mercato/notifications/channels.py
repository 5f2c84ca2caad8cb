"""Channels: how a rendered message reaches a person. ``email`` (through the mail sink), and
``sms`` / ``push`` as interfaces whose built-in implementation only logs (masked).

A real SMS or push provider plugs in with :func:`register_channel` (an object with
``name`` and ``async send(message, settings)``). ``send`` raises
:class:`~mercato.notifications.sinks.MailSinkUnavailable` (or any exception) for a temporary
failure — the message is retried with backoff — and
:class:`~mercato.notifications.sinks.DeliveryRefused` for a permanent refusal (``bounced``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mercato.notifications import domain, sinks
from mercato.notifications.rendering import Rendered, build_message

log = logging.getLogger("mercato.notifications")


@dataclass(frozen=True)
class OutgoingMessage:
    id: uuid.UUID  # the notification_log id
    tenant_id: uuid.UUID
    channel: str
    recipient: str
    rendered: Rendered
    created_at: datetime
    event_id: uuid.UUID | None = None


class Channel(Protocol):
    name: str

    async def send(self, message: OutgoingMessage, settings: Any) -> None: ...


class EmailChannel:
    name = "email"

    async def send(self, message: OutgoingMessage, settings: Any) -> None:
        email = build_message(message.rendered, sender=settings.mail_from, to=message.recipient,
                              message_id=message.id,
                              headers={"X-Mercato-Template": message.rendered.template,
                                       "X-Mercato-Tenant": str(message.tenant_id),
                                       **({"X-Mercato-Event": str(message.event_id)} if message.event_id else {})})
        await sinks.deliver(email, settings=settings, key=str(message.id), template=message.rendered.template,
                            at=message.created_at)


class LogOnlyChannel:
    """Logs what would be sent (recipient masked, text included: dev only) — no provider yet."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, message: OutgoingMessage, settings: Any) -> None:
        log.info("%s %s to %s: %s", self.name, message.rendered.template,
                 domain.mask_recipient(message.recipient, self.name), message.rendered.text[:480])


_channels: dict[str, Channel] = {"email": EmailChannel(), "sms": LogOnlyChannel("sms"),
                                 "push": LogOnlyChannel("push")}


def register_channel(channel: Channel) -> None:
    if channel.name not in domain.CHANNELS:
        raise ValueError(f"unknown channel {channel.name!r}; one of {domain.CHANNELS}")
    _channels[channel.name] = channel


def get_channel(name: str) -> Channel:
    return _channels[name]
