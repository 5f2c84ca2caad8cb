"""What every payment use case shares: the tenant, the guarded gateway call, applying a
gateway outcome through the state machine (with its event), and the read models."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.payments import events, repository
from mercato.payments.config import PaymentSettings, get_payment_settings
from mercato.payments.domain import PaymentStatus, can_transition, check_transition, strip_secrets
from mercato.payments.errors import PaymentGatewayUnavailable, PaymentNotFound
from mercato.payments.gateways import GatewayPayment, Outcome, PaymentGateway, get_gateway
from mercato.payments.models import Payment, Refund
from mercato.payments.schemas import Payment as PaymentOut
from mercato.payments.schemas import Refund as RefundOut
from mercato.platform import events as outbox
from mercato.platform.breaker import CircuitOpen, GatewayFailure, breaker_for
from mercato.platform.db import require_tenant as tenant_of

log = logging.getLogger("mercato.payments")
T = TypeVar("T")


def settings() -> PaymentSettings:
    return get_payment_settings()


def gateway_for(method: str) -> PaymentGateway:
    return get_gateway(method, settings())


async def guarded(gateway: PaymentGateway, call: Callable[[], Awaitable[T]]) -> T:
    """Run one gateway call under its circuit breaker and timeout.

    Open circuit, timeout or gateway failure → 503 ``payment_gateway_unavailable``: the caller's
    transaction rolls back, so nothing is recorded that a retry could duplicate (and the gateway
    itself deduplicates the retry by our idempotency keys)."""
    cfg = settings()
    breaker = breaker_for(gateway.name, failure_threshold=cfg.payment_breaker_failure_threshold,
                          reset_timeout=cfg.payment_breaker_reset_seconds)
    try:
        return await breaker.call(call, time_limit=cfg.payment_gateway_timeout_seconds)
    except CircuitOpen as exc:
        raise PaymentGatewayUnavailable(retry_after=math.ceil(exc.retry_after), gateway=gateway.name) from None
    except TimeoutError:
        log.warning("payment gateway timed out", extra={"gateway": gateway.name, "breaker": breaker.state.value})
        raise PaymentGatewayUnavailable(retry_after=1, gateway=gateway.name) from None
    except GatewayFailure as exc:
        log.warning("payment gateway failed", extra={"gateway": gateway.name, "error": str(exc),
                                                     "breaker": breaker.state.value})
        raise PaymentGatewayUnavailable(retry_after=1, gateway=gateway.name) from None


def gateway_view(payment: Payment) -> GatewayPayment:
    return GatewayPayment(id=payment.id, tenant_id=payment.tenant_id, order_id=payment.order_id,
                          amount=payment.amount, currency=payment.currency, reference=payment.gateway_reference,
                          response=dict(payment.gateway_response or {}))


async def load(session: AsyncSession, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment:
    payment = await repository.get_payment(session, tenant_of(session), payment_id, for_update=for_update)
    if payment is None:
        raise PaymentNotFound()
    return payment


def payment_data(payment: Payment, **extra: Any) -> dict[str, Any]:
    return {"payment_id": str(payment.id), "order_id": str(payment.order_id), "amount": payment.amount,
            "currency": payment.currency, "method": payment.method, "status": payment.status,
            "amount_captured": payment.amount_captured, "amount_refunded": payment.amount_refunded, **extra}


async def publish(session: AsyncSession, event_type: str, payment: Payment, **extra: Any) -> None:
    await outbox.publish(session, event_type, aggregate_type="payment", aggregate_id=payment.id,
                         data=payment_data(payment, **extra))


def _keep(response: dict[str, Any]) -> dict[str, Any]:
    return strip_secrets(response) if response else {}


async def apply_outcome(session: AsyncSession, payment: Payment, outcome: Outcome, *, strict: bool = True,
                        event_data: dict[str, Any] | None = None) -> bool:
    """Record what the gateway says. Moves the status through the state machine and publishes
    the status's event; returns False (and changes nothing but bookkeeping) when the status is
    unchanged or — with ``strict=False``, for webhooks that may arrive late or out of order — when
    the move is not allowed."""
    if outcome.reference and not payment.gateway_reference:
        payment.gateway_reference = outcome.reference
    target = PaymentStatus(outcome.status)
    if target == payment.status:
        if outcome.response:
            payment.gateway_response = _keep(outcome.response)
        await session.flush()
        return False
    if not can_transition(payment.status, target):
        if strict:
            check_transition(payment.status, target)
        log.info("ignored stale gateway fact", extra={"payment_id": str(payment.id), "status": payment.status,
                                                      "reported": target.value})
        return False
    payment.status = target.value
    if outcome.response:
        payment.gateway_response = _keep(outcome.response)
    if target is PaymentStatus.CAPTURED:
        captured = outcome.amount_captured if outcome.amount_captured is not None else payment.amount
        payment.amount_captured = min(captured, payment.amount)
        payment.failure_code = payment.failure_message = None
    elif target is PaymentStatus.FAILED:
        payment.failure_code = (outcome.failure_code or "payment_failed")[:100]
        payment.failure_message = outcome.failure_message
    elif target in (PaymentStatus.AUTHORIZED, PaymentStatus.REQUIRES_ACTION):
        payment.failure_code = payment.failure_message = None
    event = events.STATUS_EVENTS.get(target.value)
    if event:
        extra: dict[str, Any] = dict(event_data or {})
        if target is PaymentStatus.FAILED:
            extra.update(failure_code=payment.failure_code, failure_message=payment.failure_message)
        # The event is built from the entity; the row is written by the next flush (one UPDATE when the
        # test gateway authorizes and captures in one go), always before the transaction commits.
        with session.no_autoflush:
            await publish(session, event, payment, **extra)
    else:
        await session.flush()
    return True


def refund_out(refund: Refund) -> RefundOut:
    return RefundOut.model_validate(refund, from_attributes=True)


_NEW_KEY = "mercato.payments.refundless"


def _refundless(session: AsyncSession) -> set[uuid.UUID]:
    """Payments created in the session's current transaction that have no refund (forgotten when
    another transaction begins)."""
    txn = session.sync_session.get_transaction()
    kept = session.info.get(_NEW_KEY)
    if kept is None or kept[0] is not txn:
        kept = (txn, set())
        session.info[_NEW_KEY] = kept
    ids: set[uuid.UUID] = kept[1]
    return ids


def created_here(session: AsyncSession, payment_id: uuid.UUID) -> None:
    """This transaction inserted the payment: until a refund is added to it, it has none."""
    _refundless(session).add(payment_id)


def refund_added(session: AsyncSession, payment_id: uuid.UUID) -> None:
    _refundless(session).discard(payment_id)


async def payments_out(session: AsyncSession, payments: list[Payment]) -> list[PaymentOut]:
    """Read models with their refunds: two queries whatever the number of payments (one when all of
    them were created in this transaction and have no refund yet)."""
    fresh = _refundless(session)
    refunds = ([] if all(p.id in fresh for p in payments)
               else await repository.refunds_of(session, tenant_of(session), [p.id for p in payments]))
    by_payment: dict[uuid.UUID, list[RefundOut]] = {}
    for r in refunds:
        by_payment.setdefault(r.payment_id, []).append(refund_out(r))
    return [PaymentOut.model_validate(p, from_attributes=True).model_copy(update={"refunds": by_payment.get(p.id, [])})
            for p in payments]


async def payment_out(session: AsyncSession, payment: Payment, *, new: bool = False) -> PaymentOut:
    """``new``: the payment was created in this transaction, so it has no refunds (no query)."""
    if new:
        return PaymentOut.model_validate(payment, from_attributes=True).model_copy(update={"refunds": []})
    return (await payments_out(session, [payment]))[0]
