"""Stripe webhooks: verify, resolve the tenant from the verified payload, apply once.

Stripe calls one URL for every shop, with no tenant in the request. The tenant comes from the
event's object metadata (``tenant_id``, ``payment_id`` — we put them there when creating the
PaymentIntent / Checkout Session / Refund), read only *after* the signature is verified. The
event id is then claimed in ``gateway_events`` (``ON CONFLICT DO NOTHING``) inside the same
tenant transaction that applies it: a duplicate delivery — even a concurrent one, which waits
for the first transaction on the primary key — finds the claim and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.payments import repository
from mercato.payments.domain import PaymentStatus, RefundStatus, check_refund, strip_secrets
from mercato.payments.errors import InvalidSignature, RefundExceedsCaptured, WebhookNotConfigured
from mercato.payments.gateways import Outcome
from mercato.payments.gateways.stripe import (
    StripeGateway,
    from_stripe_amount,
    payment_intent_outcome,
    refund_outcome,
)
from mercato.payments.models import Payment, Refund
from mercato.payments.service.common import (
    apply_outcome,
    gateway_for,
    guarded,
    publish,
    refund_added,
    settings,
    tenant_of,
)
from mercato.payments.service.refunds import _refund_data, apply_refund_outcome
from mercato.platform.errors import BadRequest

log = logging.getLogger("mercato.payments.webhooks")
PROVIDER = "stripe"


class MalformedEvent(BadRequest):
    code, title = "malformed_event", "Not a Stripe event"


def verify_stripe_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """Check ``Stripe-Signature`` (HMAC-SHA256 of ``t.payload``, constant-time compare, timestamp
    within the tolerance) and return the event. Raises 400 ``invalid_signature`` otherwise."""
    cfg = settings()
    if cfg.stripe_webhook_secret is None or not cfg.stripe_webhook_secret.get_secret_value():
        raise WebhookNotConfigured("MERCATO_STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise InvalidSignature("missing Stripe-Signature header")
    try:
        stripe.Webhook.construct_event(payload, signature, cfg.stripe_webhook_secret.get_secret_value(),
                                       tolerance=cfg.stripe_webhook_tolerance_seconds)
    except stripe.SignatureVerificationError:
        raise InvalidSignature("signature does not match the payload, or its timestamp is outside the tolerance") \
            from None
    except ValueError:
        raise MalformedEvent("payload is not JSON") from None
    event = orjson.loads(payload)
    if not (isinstance(event, dict) and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)
            and isinstance((event.get("data") or {}).get("object"), dict)):
        raise MalformedEvent("payload lacks id, type or data.object")
    return event


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


async def event_metadata(event: dict[str, Any]) -> dict[str, Any]:
    """Our metadata (``tenant_id``, ``payment_id``, …) for the event's object. A charge may carry
    none (Stripe does not copy PaymentIntent metadata onto charges): then its PaymentIntent's."""
    obj = event["data"]["object"]
    metadata = obj.get("metadata") or {}
    if not metadata.get("tenant_id") and obj.get("object") == "charge":
        pi = obj.get("payment_intent")
        if isinstance(pi, dict):
            metadata = pi.get("metadata") or {}
        elif isinstance(pi, str) and settings().stripe_enabled:
            gateway = gateway_for("stripe")
            assert isinstance(gateway, StripeGateway)
            metadata = await guarded(gateway, lambda: gateway.payment_intent_metadata(pi))
    return dict(metadata)


def tenant_of_event(metadata: dict[str, Any]) -> uuid.UUID | None:
    return _uuid(metadata.get("tenant_id"))


Handler = Callable[[AsyncSession, dict[str, Any], dict[str, Any], str], Awaitable[bool]]


async def handle_stripe_event(session: AsyncSession, event: dict[str, Any], metadata: dict[str, Any]) -> str:
    """Apply a verified event in the session's (tenant) transaction: ``processed``, ``duplicate``
    or ``ignored`` (a type we do not handle, or an object that is not one of our payments)."""
    handler = _HANDLERS.get(event["type"])
    if handler is None:
        return "ignored"
    tenant = tenant_of(session)
    claimed = await repository.record_gateway_event(session, tenant_id=tenant, provider=PROVIDER,
                                                    event_id=event["id"][:255], event_type=event["type"][:100],
                                                    payload=strip_secrets(event))
    if not claimed:
        log.info("duplicate webhook skipped", extra={"event_id": event["id"], "event_type": event["type"]})
        return "duplicate"
    applied = await handler(session, event["data"]["object"], metadata, event["id"])
    await repository.mark_gateway_event_processed(session, tenant_id=tenant, provider=PROVIDER,
                                                  event_id=event["id"][:255])
    return "processed" if applied else "ignored"


async def _our_payment(session: AsyncSession, metadata: dict[str, Any], *refs: str | None) -> Payment | None:
    payment_id = _uuid(metadata.get("payment_id"))
    if payment_id is None:
        return None
    payment = await repository.get_payment(session, tenant_of(session), payment_id, for_update=True)
    if payment is None or payment.gateway != PROVIDER:
        log.info("webhook names no payment of ours", extra={"payment_id": str(payment_id)})
        return None
    if payment.gateway_reference and payment.gateway_reference not in refs:
        log.warning("webhook object does not match the payment's gateway reference",
                    extra={"payment_id": str(payment_id)})
        return None
    return payment


async def _payment_intent(session: AsyncSession, obj: dict[str, Any], metadata: dict[str, Any], _: str) -> bool:
    payment = await _our_payment(session, metadata, obj.get("id"))
    if payment is None:
        return False
    return await apply_outcome(session, payment, payment_intent_outcome(obj), strict=False)


async def _payment_intent_failed(session: AsyncSession, obj: dict[str, Any], metadata: dict[str, Any], _: str) -> bool:
    payment = await _our_payment(session, metadata, obj.get("id"))
    if payment is None:
        return False
    facts = payment_intent_outcome(obj)
    error = obj.get("last_payment_error") or {}
    outcome = Outcome(PaymentStatus.FAILED, obj.get("id"),
                      failure_code=facts.failure_code or error.get("code") or "payment_failed",
                      failure_message=facts.failure_message or error.get("message"), response=obj)
    return await apply_outcome(session, payment, outcome, strict=False)


async def _checkout_completed(session: AsyncSession, obj: dict[str, Any], metadata: dict[str, Any], _: str) -> bool:
    payment = await _our_payment(session, metadata, obj.get("id"), _id_of(obj.get("payment_intent")))
    if payment is None or obj.get("payment_status") != "paid":
        return False  # async payment methods: checkout.session.async_payment_succeeded follows
    pi = _id_of(obj.get("payment_intent"))
    if pi:
        payment.gateway_reference = pi  # refunds and captures act on the PaymentIntent from now on
    total = obj.get("amount_total")
    captured = from_stripe_amount(total, str(obj.get("currency") or payment.currency)) if total else payment.amount
    return await apply_outcome(session, payment, Outcome(
        PaymentStatus.CAPTURED, pi, amount_captured=captured, response={"checkout_session": obj}), strict=False)


async def _checkout_expired(session: AsyncSession, obj: dict[str, Any], metadata: dict[str, Any], _: str) -> bool:
    payment = await _our_payment(session, metadata, obj.get("id"))
    if payment is None:
        return False
    return await apply_outcome(session, payment, Outcome(PaymentStatus.CANCELLED, obj.get("id"),
                                                         response={"checkout_session": obj}),
                               strict=False, event_data={"reason": "checkout_session_expired"})


async def _sync_refund(session: AsyncSession, payment: Payment, refund: dict[str, Any], event_id: str) -> bool:
    """Bring one gateway refund into our books: update ours, or record one made at the gateway."""
    reference = refund.get("id")
    ours: Refund | None = None
    refund_id = _uuid((refund.get("metadata") or {}).get("refund_id"))
    if refund_id is not None:
        ours = await repository.get_refund(session, payment.tenant_id, refund_id)
    if ours is None and reference:
        ours = await repository.get_refund_by_reference(session, payment.tenant_id, payment.id, reference)
    outcome = refund_outcome(refund)
    if ours is None:
        if outcome.status != RefundStatus.SUCCEEDED:
            return False
        amount = from_stripe_amount(refund.get("amount") or 0, str(refund.get("currency") or payment.currency))
        pending = await repository.pending_refund_total(session, payment.tenant_id, payment.id)
        try:
            check_refund(status=payment.status, amount_captured=payment.amount_captured,
                         amount_refunded=payment.amount_refunded, amount_pending=pending, amount=amount)
        except RefundExceedsCaptured:
            log.error("gateway refund exceeds our captured total; not recorded",
                      extra={"payment_id": str(payment.id), "refund": reference})
            return False
        refund_added(session, payment.id)
        ours = await repository.add_refund(session, Refund(
            tenant_id=payment.tenant_id, payment_id=payment.id, amount=amount, currency=payment.currency,
            reason="refunded at the gateway", status=RefundStatus.PENDING.value, gateway_reference=reference,
            idempotency_key=f"gateway-{reference or event_id}"[:255]))
        await publish(session, "refund.created", payment, **_refund_data(ours))
    return await apply_refund_outcome(session, payment, ours, outcome)


async def _charge_refunded(session: AsyncSession, obj: dict[str, Any], metadata: dict[str, Any], event_id: str) -> bool:
    payment = await _our_payment(session, metadata, _id_of(obj.get("payment_intent")))
    if payment is None:
        return False
    changed = False
    for refund in (obj.get("refunds") or {}).get("data") or []:
        changed = await _sync_refund(session, payment, refund, event_id) or changed
    # Newer API versions do not embed the refunds: the charge's total is the fact we have.
    total = from_stripe_amount(obj.get("amount_refunded") or 0, str(obj.get("currency") or payment.currency))
    missing = total - payment.amount_refunded - await repository.pending_refund_total(
        session, payment.tenant_id, payment.id)
    if missing > 0:
        changed = await _sync_refund(session, payment, {"id": None, "amount": missing, "status": "succeeded",
                                                        "currency": payment.currency}, event_id) or changed
    return changed


async def _refund_updated(session: AsyncSession, obj: dict[str, Any], metadata: dict[str, Any], event_id: str) -> bool:
    payment = await _our_payment(session, metadata, _id_of(obj.get("payment_intent")))
    if payment is None:
        return False
    return await _sync_refund(session, payment, obj, event_id)


_HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.amount_capturable_updated": _payment_intent,
    "payment_intent.requires_action": _payment_intent,
    "payment_intent.canceled": _payment_intent,
    "payment_intent.payment_failed": _payment_intent_failed,
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.expired": _checkout_expired,
    "charge.refunded": _charge_refunded,
    "refund.updated": _refund_updated,
    "refund.failed": _refund_updated,
}

HANDLED_EVENT_TYPES = frozenset(_HANDLERS)
