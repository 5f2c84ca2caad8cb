"""Payment use cases: start, confirm, capture, cancel, mark paid, read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.payments import events, repository
from mercato.payments.domain import Method, PaymentStatus, check_capture_amount, check_transition
from mercato.payments.errors import IdempotencyKeyReused, PaymentNotCapturable
from mercato.payments.gateways import ChargeRequest, Outcome
from mercato.payments.models import Payment
from mercato.payments.schemas import Payment as PaymentOut
from mercato.payments.schemas import PaymentResult
from mercato.payments.service.common import (
    apply_outcome,
    created_here,
    gateway_for,
    gateway_view,
    guarded,
    load,
    payment_out,
    payments_out,
    publish,
    tenant_of,
)
from mercato.platform.errors import ValidationFailed
from mercato.platform.money import check_currency

#: Payment ids are derived from (tenant, idempotency key): a retry after a rolled-back attempt
#: (e.g. a gateway timeout) reuses the same id, hence the same idempotency key toward the gateway,
#: so the gateway returns the first attempt's object instead of charging again.
_ID_NAMESPACE = uuid.UUID("6b4f0c1e-5a52-4d8c-9a4e-0f6e7f1d2c3b")


def payment_id_for(tenant_id: uuid.UUID, idempotency_key: str) -> uuid.UUID:
    return uuid.uuid5(_ID_NAMESPACE, f"{tenant_id}:{idempotency_key}")


async def start_payment(session: AsyncSession, *, order_id: uuid.UUID, amount: int, currency: str, method: str,
                        payment_data: dict[str, Any] | None = None, idempotency_key: str | None = None,
                        capture: bool = True) -> PaymentResult:
    """Start a payment attempt for an order.

    ``test``: authorize and (with ``capture``) capture at once, or ``requires_action``;
    ``stripe``: create a PaymentIntent (or a Checkout Session) and return its client secret
    (or redirect URL); ``manual``: ``pending`` until staff mark it paid. The same
    ``idempotency_key`` returns the same attempt (``replayed=True``) and never charges twice.
    """
    tenant = tenant_of(session)
    currency = check_currency(currency)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed("amount must be a positive integer of minor units", field="amount")
    gateway = gateway_for(method)
    key = idempotency_key or f"auto-{uuid.uuid4()}"
    if len(key) > 255:
        raise ValidationFailed("idempotency key is too long", field="idempotency_key")
    data = dict(payment_data or {})

    payment = await repository.insert_payment(session, {
        "id": payment_id_for(tenant, key), "tenant_id": tenant, "order_id": order_id, "amount": amount,
        "currency": currency, "method": method, "gateway": gateway.name, "status": PaymentStatus.PENDING.value,
        "idempotency_key": key,
    })
    if payment is None:
        return await _replay(session, tenant, key, order_id=order_id, amount=amount, currency=currency, method=method)
    created_here(session, payment.id)
    await publish(session, events.PAYMENT_CREATED, payment)

    request = ChargeRequest(tenant_id=tenant, payment_id=payment.id, order_id=order_id, amount=amount,
                            currency=currency, payment_data=data, idempotency_key=key, capture=capture)
    outcome = await guarded(gateway, lambda: gateway.start(request))
    await apply_outcome(session, payment, outcome)
    if capture and not gateway.captures_in_start and payment.status == PaymentStatus.AUTHORIZED:
        outcome = await _capture(session, payment, payment.amount)
    await session.flush()  # one UPDATE for what the gateway said (authorized and captured: both at once)
    return PaymentResult(payment=await payment_out(session, payment, new=True), client_secret=outcome.client_secret,
                         next_action=outcome.next_action, redirect_url=outcome.redirect_url)


async def _replay(session: AsyncSession, tenant: uuid.UUID, key: str, *, order_id: uuid.UUID, amount: int,
                  currency: str, method: str) -> PaymentResult:
    payment = await repository.get_by_idempotency_key(session, tenant, key)
    assert payment is not None  # the insert conflicted on this key, and payments are never deleted
    if (payment.order_id, payment.amount, payment.currency, payment.method) != (order_id, amount, currency, method):
        raise IdempotencyKeyReused(field="idempotency_key")
    result = PaymentResult(payment=await payment_out(session, payment), replayed=True)
    if payment.method == Method.STRIPE and payment.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION):
        # The client secret is not stored: ask Stripe again for the storefront.
        gateway = gateway_for(payment.method)
        outcome = await guarded(gateway, lambda: gateway.retrieve(gateway_view(payment)))
        result.client_secret, result.next_action, result.redirect_url = (
            outcome.client_secret, outcome.next_action, outcome.redirect_url)
    elif payment.status == PaymentStatus.REQUIRES_ACTION:
        result.next_action = {"type": "three_d_secure", "confirm_with": {"three_d_secure": "succeeded"}}
    return result


async def confirm_payment(session: AsyncSession, payment_id: uuid.UUID, data: dict[str, Any],
                          *, capture: bool = True) -> PaymentResult:
    """Finish a payment that requires action (test gateway: the 3-D Secure result)."""
    payment = await load(session, payment_id, for_update=True)
    if payment.status != PaymentStatus.REQUIRES_ACTION:
        check_transition(payment.status, PaymentStatus.AUTHORIZED)  # 409 listing what is possible
        raise PaymentNotCapturable(f"payment is {payment.status}")
    gateway = gateway_for(payment.method)
    outcome = await guarded(gateway, lambda: gateway.confirm(gateway_view(payment), data))
    await apply_outcome(session, payment, outcome)
    if capture and not gateway.captures_in_start and payment.status == PaymentStatus.AUTHORIZED:
        outcome = await _capture(session, payment, payment.amount)
    return PaymentResult(payment=await payment_out(session, payment), next_action=outcome.next_action)


async def _capture(session: AsyncSession, payment: Payment, amount: int) -> Outcome:
    gateway = gateway_for(payment.method)
    outcome = await guarded(gateway, lambda: gateway.capture(gateway_view(payment), amount))
    await apply_outcome(session, payment, outcome)
    return outcome


async def capture(session: AsyncSession, payment_id: uuid.UUID, amount: int | None = None) -> PaymentOut:
    """Capture an authorized payment (all of it, or ``amount`` of it)."""
    payment = await load(session, payment_id, for_update=True)
    if payment.method == Method.MANUAL:
        raise PaymentNotCapturable("manual payments are marked paid (POST /payments/{id}/mark-paid)")
    if payment.status == PaymentStatus.CAPTURED and amount in (None, payment.amount_captured):
        return await payment_out(session, payment)  # already done: a retried capture is a no-op
    if payment.status != PaymentStatus.AUTHORIZED:
        check_transition(payment.status, PaymentStatus.CAPTURED)
        raise PaymentNotCapturable(f"only authorized payments can be captured (payment is {payment.status})")
    await _capture(session, payment, check_capture_amount(payment.amount, amount))
    return await payment_out(session, payment)


async def cancel(session: AsyncSession, payment_id: uuid.UUID) -> PaymentOut:
    """Cancel a payment that has not taken money (pending, requires action, authorized, failed)."""
    payment = await load(session, payment_id, for_update=True)
    if payment.status == PaymentStatus.CANCELLED:
        return await payment_out(session, payment)
    check_transition(payment.status, PaymentStatus.CANCELLED)
    gateway = gateway_for(payment.method)
    outcome = await guarded(gateway, lambda: gateway.cancel(gateway_view(payment)))
    await apply_outcome(session, payment, outcome)
    return await payment_out(session, payment)


async def mark_paid(session: AsyncSession, payment_id: uuid.UUID) -> PaymentOut:
    """Staff confirm a manual (cash on delivery) payment was collected in full."""
    payment = await load(session, payment_id, for_update=True)
    if payment.method != Method.MANUAL:
        raise PaymentNotCapturable("only manual payments can be marked paid")
    if payment.status == PaymentStatus.CAPTURED:
        return await payment_out(session, payment)
    check_transition(payment.status, PaymentStatus.CAPTURED)
    await _capture(session, payment, payment.amount)
    return await payment_out(session, payment)


async def get_payment(session: AsyncSession, payment_id: uuid.UUID) -> PaymentOut:
    return await payment_out(session, await load(session, payment_id))


async def get_payments_for_order(session: AsyncSession, order_id: uuid.UUID) -> list[PaymentOut]:
    """Every attempt for an order, oldest first, with refunds."""
    return await payments_out(session, await repository.list_for_order(session, tenant_of(session), order_id))


async def list_payments(session: AsyncSession, *, order_id: uuid.UUID | None, status: str | None, limit: int,
                        offset: int) -> tuple[list[PaymentOut], bool]:
    rows = await repository.list_page(session, tenant_of(session), order_id=order_id, status=status, limit=limit,
                                      offset=offset)
    has_more = len(rows) > limit
    return await payments_out(session, rows[:limit]), has_more
