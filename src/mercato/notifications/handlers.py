"""Reactions to events: which message each event causes, and to whom.

Every subscriber is an :func:`~mercato.platform.events.handler` (tenant transaction, dedup on
the event id) and is defensive: an event whose data is missing or malformed is logged and
skipped — it can never poison the relay. Only infrastructure errors (the database) propagate,
so the relay retries the event later. Sending failures do not propagate either: they are
recorded on the message row and retried by the periodic job (``tasks.retry_failed``).

Messages about one business fact carry a business key (``order_confirmation:<order id>``),
so even an event published twice sends one message.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.notifications import directory, domain
from mercato.notifications.service.delivery import dispatch
from mercato.platform.errors import MercatoError
from mercato.platform.events import Event, handler

log = logging.getLogger("mercato.notifications")

#: Consumer name of ``notification.requested`` (kept from the first version: existing dedup marks).
CONSUMER = "notifications.email"

#: Staff roles told about low stock.
LOW_STOCK_ROLES = ("owner", "admin", "merchant")


class Skip(Exception):
    """The event cannot produce a message (missing data, no recipient): log and move on."""


@dataclass
class Outgoing:
    template: str
    recipient: str
    locale: str | None
    context: dict[str, Any]
    user_id: uuid.UUID | None = None
    key: str | None = None  # business dedup key; default: the event id
    channel: str = "email"
    extra: dict[str, Any] = field(default_factory=dict)


Builder = Callable[[AsyncSession, Event], Awaitable[list[Outgoing]]]


def _uuid(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


async def _send_all(session: AsyncSession, event: Event, messages: list[Outgoing]) -> None:
    for m in messages:
        await dispatch(session, channel=m.channel, template=m.template, recipient=m.recipient, locale=m.locale,
                       context=m.context, user_id=m.user_id, event_id=event.id, key=m.key,
                       created_at=event.occurred_at)


def on(event_type: str, consumer: str) -> Callable[[Builder], Builder]:
    """Subscribe a builder: it returns the messages an event causes (or raises :class:`Skip`)."""

    def deco(build: Builder) -> Builder:
        async def handle(session: AsyncSession, event: Event) -> None:
            try:
                messages = await build(session, event)
            except (Skip, MercatoError, KeyError, ValueError, TypeError, AttributeError, LookupError) as exc:
                log.warning("%s: event %s (%s) skipped: %s", consumer, event.id, event.type, exc or type(exc).__name__)
                return
            await _send_all(session, event, messages)

        handle.__qualname__ = f"{build.__qualname__}[{event_type}]"
        handler(event_type, name=consumer)(handle)
        return build

    return deco


# --------------------------------------------------------------------------- who


@dataclass(frozen=True)
class Person:
    email: str
    locale: str | None
    first_name: str | None
    user_id: uuid.UUID | None


async def _customer(session: AsyncSession, data: dict[str, Any], *, user_key: str = "customer_id") -> Person:
    """The customer an event is about: address from the event when it has one, else the directory."""
    user_id = _uuid(data.get(user_key) or data.get("user_id"))
    email = data.get("email") or data.get("customer_email")
    contact = await directory.contact(session, user_id) if user_id and directory.has_directory() else None
    if not email and contact is not None:
        email = contact.email
    if not email or not isinstance(email, str):
        raise Skip("no recipient address in the event and none in the directory")
    return Person(email=email, locale=data.get("locale") or (contact.locale if contact else None),
                  first_name=data.get("first_name") or (contact.first_name if contact else None),
                  user_id=user_id or (contact.user_id if contact else None))


# --------------------------------------------------------------------------- ad-hoc requests


@handler("notification.requested", name=CONSUMER)
async def send_requested(session: AsyncSession, event: Event) -> None:
    """``request_email`` / ``request_notification`` / ``POST /notifications/send``."""
    data = event.data
    channel = str(data.get("channel") or "email")
    to = data.get("to")
    if channel not in domain.CHANNELS or not to or not isinstance(to, str):
        log.warning("notification.requested %s skipped: channel %r, recipient present: %s", event.id, channel,
                    bool(to))
        return
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    await dispatch(session, channel=channel, template=str(data.get("template") or domain.FALLBACK_TEMPLATE),
                   recipient=to, locale=str(data.get("locale") or "en"), context=context,
                   user_id=_uuid(data.get("user_id")), event_id=event.id, created_at=event.occurred_at)


# --------------------------------------------------------------------------- accounts


@on("user.registered", "notifications.welcome")
async def welcome(session: AsyncSession, event: Event) -> list[Outgoing]:
    # The verification email is requested by identity itself (notification.requested): only the welcome here.
    person = await _customer(session, event.data, user_key="user_id")
    return [Outgoing("welcome", person.email, person.locale, {"first_name": person.first_name},
                     user_id=person.user_id, key=f"welcome:{person.user_id or person.email}")]


@on("user.deactivated", "notifications.account_deactivated")
async def account_deactivated(session: AsyncSession, event: Event) -> list[Outgoing]:
    person = await _customer(session, event.data, user_key="user_id")
    return [Outgoing("account_deactivated", person.email, person.locale, {"first_name": person.first_name},
                     user_id=person.user_id, key=f"account_deactivated:{person.user_id or person.email}")]


# --------------------------------------------------------------------------- orders


def _line(raw: Any) -> dict[str, Any]:
    get = raw.get if isinstance(raw, dict) else (lambda k, d=None: getattr(raw, k, d))
    name = get("name") or get("product_name") or get("title") or get("sku") or "Item"
    variant = get("variant_title")
    quantity = int(get("quantity") or 0)
    unit_price = get("unit_price")
    total = get("total")
    if total is None:
        total = get("line_total", get("subtotal"))
    if total is None and unit_price is not None:
        total = int(unit_price) * quantity
    return {"name": f"{name} — {variant}" if variant else name, "sku": get("sku"), "quantity": quantity,
            "unit_price": unit_price, "total": total}


_ORDER_FIELDS = ("id", "number", "email", "customer_id", "locale", "currency", "subtotal", "discount_total",
                 "shipping_total", "tax_total", "total", "amount_refunded", "shipping_address", "lines")


def _as_dict(order: Any) -> dict[str, Any]:
    """The fields of ``mercato.orders.get_order``'s result this module reads (dict or object)."""
    get = order.get if isinstance(order, dict) else (lambda k: getattr(order, k, None))
    out = {k: get(k) for k in _ORDER_FIELDS}
    out["order_id"] = str(out.pop("id") or "") or None
    return {k: v for k, v in out.items() if v is not None}


async def _order_details(session: AsyncSession, data: dict[str, Any], *, need_lines: bool) -> dict[str, Any]:
    """The order as the event describes it, completed from ``mercato.orders.get_order`` (the orders
    module's public face) when the event lacks what the message needs: the recipient, the
    customer's language and — for the confirmation — the lines and totals. Orders' events carry
    ``order_id, number, email, customer_id, currency, total`` but no lines or locale."""
    has_address = bool(data.get("email") or data.get("customer_id"))
    complete = has_address and data.get("locale") and (not need_lines or data.get("lines"))
    if complete:
        return data
    order_id = _uuid(data.get("order_id"))
    if order_id is None:
        raise Skip("the event names no order_id")
    import mercato.orders as orders  # late: orders imports modules that may import this one

    try:
        order = await orders.get_order(session, order_id)
    except MercatoError as exc:  # not found (another shop's, or not ours to see)
        if has_address:
            log.info("order %s not readable (%s); using the event's data only", order_id, exc)
            return data
        raise Skip(f"order {order_id}: {exc}") from exc
    return {**_as_dict(order), **{k: v for k, v in data.items() if v not in (None, "", [])}}


def _order_context(order: dict[str, Any], person: Person) -> dict[str, Any]:
    currency = order.get("currency") or "USD"
    raw_lines = order.get("lines")
    lines = [_line(x) for x in raw_lines if not isinstance(x, str | bytes | int | float)] \
        if isinstance(raw_lines, list | tuple) else []
    subtotal = order.get("subtotal")
    if subtotal is None:
        subtotal = sum(int(x["total"] or 0) for x in lines)
    return {
        "first_name": person.first_name, "order_id": str(order.get("order_id") or order.get("id") or ""),
        "order_number": order.get("number") or order.get("order_number") or order.get("order_id") or "",
        "currency": currency, "lines": lines, "subtotal": subtotal,
        "discount_total": order.get("discount_total") or 0, "shipping_total": order.get("shipping_total"),
        "tax_total": order.get("tax_total") or 0, "total": order.get("total"),
        "shipping_address": order.get("shipping_address"),
    }


def _with(event: Event, **data: Any) -> Event:
    return dataclasses.replace(event, data={**event.data, **data})


def _order_key(template: str, data: dict[str, Any], event: Event, *, per: str | None = None) -> str:
    """One message per order (or per ``per`` id: shipment, refund), whichever event told us."""
    if per and data.get(per):
        return f"{template}:{data[per]}"
    order_id = data.get("order_id") or data.get("id")
    return f"{template}:{order_id}" if order_id and per is None else f"{template}:event:{event.id}"


async def _order_message(session: AsyncSession, event: Event, template: str, *, per: str | None = None,
                         extra: tuple[str, ...] = (), need_lines: bool = False) -> list[Outgoing]:
    order = await _order_details(session, event.data, need_lines=need_lines)
    person = await _customer(session, order)
    context = _order_context(order, person)
    for k in extra:
        if order.get(k) is not None:
            context[k] = order[k]
    return [Outgoing(template, person.email, person.locale, context, user_id=person.user_id,
                     key=_order_key(template, event.data, event, per=per))]


@on("order.paid", "notifications.order_confirmation")
async def order_confirmation(session: AsyncSession, event: Event) -> list[Outgoing]:
    return await _order_message(session, event, "order_confirmation", need_lines=True)


@on("order.payment_failed", "notifications.order_payment_failed")
async def order_payment_failed(session: AsyncSession, event: Event) -> list[Outgoing]:
    return await _order_message(session, event, "payment_failed", per="payment_id",
                                extra=("amount", "failure_message", "failure_code"))


@on("payment.failed", "notifications.payment_failed")
async def payment_failed(session: AsyncSession, event: Event) -> list[Outgoing]:
    # Keyed by payment id like order.payment_failed: whichever arrives first sends the one message.
    return await _order_message(session, event, "payment_failed", per="payment_id",
                                extra=("amount", "failure_message", "failure_code"))


@on("order.shipped", "notifications.order_shipped")
async def order_shipped(session: AsyncSession, event: Event) -> list[Outgoing]:
    return await _order_message(session, event, "order_shipped", per="shipment_id",
                                extra=("carrier", "tracking_number", "tracking_url"))


@on("order.partially_shipped", "notifications.order_partially_shipped")
async def order_partially_shipped(session: AsyncSession, event: Event) -> list[Outgoing]:
    # One "shipped" message per parcel: same template and key as order.shipped (the last parcel).
    if not event.data.get("shipment_id"):
        raise Skip("partial shipment without a shipment_id (a staff status update): no parcel to tell about")
    return await _order_message(session, event, "order_shipped", per="shipment_id",
                                extra=("carrier", "tracking_number", "tracking_url"))


@on("order.delivered", "notifications.order_delivered")
async def order_delivered(session: AsyncSession, event: Event) -> list[Outgoing]:
    return await _order_message(session, event, "order_delivered")


@on("order.cancelled", "notifications.order_cancelled")
async def order_cancelled(session: AsyncSession, event: Event) -> list[Outgoing]:
    return await _order_message(session, event, "order_cancelled", extra=("reason",))


@on("order.refunded", "notifications.order_refunded")
async def order_refunded(session: AsyncSession, event: Event) -> list[Outgoing]:
    if event.data.get("amount") is None and event.data.get("amount_refunded") is not None:
        event = _with(event, amount=event.data["amount_refunded"])  # orders publish the cumulative amount
    return await _order_message(session, event, "order_refunded", per="refund_id", extra=("amount",))


@on("return.approved", "notifications.return_approved")
async def return_approved(session: AsyncSession, event: Event) -> list[Outgoing]:
    return await _order_message(session, event, "return_approved", per="return_id",
                                extra=("rma_number", "instructions"))


# --------------------------------------------------------------------------- staff


@on("inventory.low_stock", "notifications.low_stock")
async def low_stock(session: AsyncSession, event: Event) -> list[Outgoing]:
    data = event.data
    if data.get("variant_id") is None or data.get("available") is None:
        raise Skip("low-stock event without variant_id/available")
    staff = await directory.staff(session, LOW_STOCK_ROLES)
    context = {k: data.get(k) for k in ("variant_id", "sku", "product_name", "location_id", "location", "available",
                                        "threshold")}
    return [Outgoing("low_stock", s.email, s.locale, {**context, "first_name": s.first_name}, user_id=s.user_id)
            for s in staff if s.email and s.status == "active"]


#: Staff roles told about a shipment that could not be fulfilled.
FULFILLMENT_ROLES = ("owner", "admin", "merchant")


@on("fulfillment.failed", "notifications.fulfillment_failed")
async def fulfillment_failed(session: AsyncSession, event: Event) -> list[Outgoing]:
    data = event.data
    if not data.get("shipment_id"):
        raise Skip("fulfillment.failed without shipment_id")
    staff = await directory.staff(session, FULFILLMENT_ROLES)
    context = {k: data.get(k) for k in ("shipment_id", "order_id", "order_number", "sequence", "carrier", "service",
                                        "step", "attempts", "error")}
    return [Outgoing("fulfillment_failed", s.email, s.locale, {**context, "first_name": s.first_name},
                     user_id=s.user_id, key=f"fulfillment_failed:{data['shipment_id']}:{s.user_id or s.email}")
            for s in staff if s.email and s.status == "active"]


@on("webhook_endpoint.disabled", "notifications.webhook_endpoint_disabled")
async def webhook_endpoint_disabled(session: AsyncSession, event: Event) -> list[Outgoing]:
    data = event.data
    if not data.get("url") and not data.get("endpoint_id"):
        raise Skip("webhook event without endpoint_id/url")
    owners = await directory.staff(session, ("owner",))
    context = {k: data.get(k) for k in ("endpoint_id", "url", "description", "failing_since", "reason", "last_error")}
    return [Outgoing("webhook_endpoint_disabled", s.email, s.locale, {**context, "first_name": s.first_name},
                     user_id=s.user_id) for s in owners if s.email and s.status == "active"]


#: Event type → template, for the docs and the tests.
TRIGGERS: dict[str, str] = {
    "notification.requested": "(as requested)", "user.registered": "welcome",
    "user.deactivated": "account_deactivated", "order.paid": "order_confirmation",
    "order.payment_failed": "payment_failed", "payment.failed": "payment_failed", "order.shipped": "order_shipped",
    "order.delivered": "order_delivered", "order.cancelled": "order_cancelled", "order.refunded": "order_refunded",
    "order.partially_shipped": "order_shipped", "return.approved": "return_approved",
    "inventory.low_stock": "low_stock", "fulfillment.failed": "fulfillment_failed",
    "webhook_endpoint.disabled": "webhook_endpoint_disabled",
}


@on("return.rejected", "notifications.return_rejected")
async def return_rejected(session: AsyncSession, event: Event) -> list[Outgoing]:
    return await _order_message(session, event, "return_rejected", per="return_id", extra=("rma_number", "note"))


TRIGGERS["return.rejected"] = "return_rejected"
