"""Real-time rules, no I/O: which events reach which sockets, close codes, the wire format.

An outbox event becomes at most one :class:`Delivery` — a message for *one tenant* plus the
audience inside it (rooms for staff, the owning customer, everyone, or a user to disconnect).
Every hub, in-process or fed by Redis, decides with :func:`payload_for` whether a connection
gets it; the tenant check is repeated there so a delivery can never cross tenants, whatever
channel it arrived on.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class CloseCode(IntEnum):
    """WebSocket close codes (4000–4999 are the application's range; 4xxx mirrors HTTP)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down: reconnect (to another process)
    MESSAGE_TOO_BIG = 1009
    SERVER_ERROR = 1011
    BAD_MESSAGE = 4400  # protocol violation before authentication
    UNAUTHENTICATED = 4401  # no/invalid/expired token, auth timeout, permissions changed: get a token, retry
    FORBIDDEN = 4403  # suspended shop, inactive account, wrong kind of account, tenant mismatch
    UNKNOWN_TENANT = 4404  # Host / X-Mercato-Tenant names no shop
    IDLE_TIMEOUT = 4408  # no message (pong) from the client within the idle timeout
    TOO_SLOW = 4429  # the client does not read fast enough: its send queue overflowed


#: Staff rooms: the event type prefixes each one carries.
ROOMS: Mapping[str, tuple[str, ...]] = {
    "orders": ("order.", "shipment.", "fulfillment.", "payment.", "refund.", "return."),
    "inventory": ("inventory.",),
}

#: Events a customer receives about their own resources (``data.customer_id`` == the user).
CUSTOMER_EVENT_PREFIXES = ("order.", "shipment.")

#: Events after which a user's open sockets must re-authenticate (close code, reason).
REVOKING_EVENTS: Mapping[str, tuple[CloseCode, str]] = {
    "user.suspended": (CloseCode.FORBIDDEN, "account suspended"),
    "user.deactivated": (CloseCode.FORBIDDEN, "account deactivated"),
    "user.role_changed": (CloseCode.UNAUTHENTICATED, "permissions changed; authenticate again"),
}

MAX_CLIENT_MESSAGE_BYTES = 4096
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's payload is at most 125 bytes


def room_of(event_type: str) -> str | None:
    for room, prefixes in ROOMS.items():
        if event_type.startswith(prefixes):
            return room
    return None


def close_reason(text: str) -> str:
    """A close reason that fits a close frame (UTF-8, at most 123 bytes)."""
    raw = text.encode()[:MAX_CLOSE_REASON_BYTES]
    return raw.decode(errors="ignore")


@dataclass(frozen=True)
class Delivery:
    """One message for one tenant, with its audience.

    A connection of ``tenant_id`` receives ``payload`` if it joined a room in ``rooms``, else
    ``customer_payload`` if its user is ``customer_id``, else ``payload`` if ``everyone``.
    ``revoke_user`` (with ``close_code``/``close_reason``) closes that user's sockets instead.
    """

    tenant_id: uuid.UUID
    payload: dict[str, Any] = field(default_factory=dict)
    rooms: frozenset[str] = frozenset()
    customer_id: uuid.UUID | None = None
    customer_payload: dict[str, Any] | None = None
    everyone: bool = False
    revoke_user: uuid.UUID | None = None
    close_code: int | None = None
    close_reason: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"tenant_id": str(self.tenant_id), "payload": self.payload, "rooms": sorted(self.rooms),
                "customer_id": str(self.customer_id) if self.customer_id else None,
                "customer_payload": self.customer_payload, "everyone": self.everyone,
                "revoke_user": str(self.revoke_user) if self.revoke_user else None,
                "close_code": self.close_code, "close_reason": self.close_reason}

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Delivery:
        return cls(tenant_id=uuid.UUID(raw["tenant_id"]), payload=dict(raw.get("payload") or {}),
                   rooms=frozenset(raw.get("rooms") or ()),
                   customer_id=_uuid(raw.get("customer_id")), customer_payload=raw.get("customer_payload"),
                   everyone=bool(raw.get("everyone")), revoke_user=_uuid(raw.get("revoke_user")),
                   close_code=raw.get("close_code"), close_reason=raw.get("close_reason"))


@dataclass(frozen=True)
class Audience:
    """What a hub knows about one connection when matching deliveries."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    rooms: frozenset[str]


def payload_for(delivery: Delivery, who: Audience) -> dict[str, Any] | None:
    """The message ``who`` should get for ``delivery``, or None. Never across tenants."""
    if delivery.tenant_id != who.tenant_id:
        return None
    if delivery.revoke_user is not None:
        return None
    if delivery.rooms & who.rooms:
        return delivery.payload
    if delivery.customer_id is not None and delivery.customer_id == who.user_id:
        return delivery.customer_payload
    if delivery.everyone:
        return delivery.payload
    return None


def revokes(delivery: Delivery, who: Audience) -> bool:
    return delivery.tenant_id == who.tenant_id and delivery.revoke_user is not None \
        and delivery.revoke_user == who.user_id


def _uuid(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def delivery_for_event(envelope: Mapping[str, Any]) -> Delivery | None:
    """Route an event envelope (``Event.envelope()``): None when no socket should hear of it.

    Staff in the event's room get the whole envelope; the customer named by
    ``data.customer_id`` gets their own order/shipment changes without internal fields.
    """
    event_type = str(envelope["type"])
    tenant_id = uuid.UUID(str(envelope["tenant_id"]))
    data = envelope.get("data") or {}
    revoking = REVOKING_EVENTS.get(event_type)
    if revoking is not None:
        user = _uuid(data.get("user_id")) or _uuid((envelope.get("aggregate") or {}).get("id"))
        if user is None:
            return None
        return Delivery(tenant_id=tenant_id, revoke_user=user, close_code=int(revoking[0]),
                        close_reason=revoking[1])
    room = room_of(event_type)
    customer = _uuid(data.get("customer_id")) if event_type.startswith(CUSTOMER_EVENT_PREFIXES) else None
    if room is None and customer is None:
        return None
    staff_view = {"type": "event", "room": room, "event": dict(envelope)}
    customer_view = None
    if customer is not None:
        customer_view = {"type": "event", "room": None, "event": {
            "id": envelope["id"], "type": event_type, "occurred_at": envelope.get("occurred_at"),
            "aggregate": envelope.get("aggregate"), "data": data}}
    return Delivery(tenant_id=tenant_id, payload=staff_view, rooms=frozenset({room}) if room else frozenset(),
                    customer_id=customer, customer_payload=customer_view)


def broadcast_delivery(tenant_id: uuid.UUID, message: Any, *, broadcast_id: uuid.UUID, sent_at: str) -> Delivery:
    return Delivery(tenant_id=tenant_id, everyone=True,
                    payload={"type": "broadcast", "id": str(broadcast_id), "sent_at": sent_at, "message": message})
