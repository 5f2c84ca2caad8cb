"""Refunds: idempotent per payment and key, never more than captured minus refunded."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.payments import events, repository
from mercato.payments.domain import RefundStatus, check_refund, status_after_refunds
from mercato.payments.errors import IdempotencyKeyReused
from mercato.payments.gateways import RefundOutcome
from mercato.payments.models import Payment, Refund
from mercato.payments.schemas import RefundResult
from mercato.payments.service.common import (
    gateway_for,
    gateway_view,
    guarded,
    load,
    payment_out,
    publish,
    refund_added,
    refund_out,
    tenant_of,
)
from mercato.platform.errors import ValidationFailed

_ID_NAMESPACE = uuid.UUID("0d3f3c8a-2b7e-4a51-8f0e-5c1d9b7a6e42")


def refund_id_for(payment_id: uuid.UUID, idempotency_key: str) -> uuid.UUID:
    """Deterministic: a retry after a rolled-back attempt reuses the gateway idempotency key."""
    return uuid.uuid5(_ID_NAMESPACE, f"{payment_id}:{idempotency_key}")


async def refund(session: AsyncSession, payment_id: uuid.UUID, amount: int, reason: str | None = None,
                 idempotency_key: str | None = None) -> RefundResult:
    """Refund ``amount`` (minor units) of a captured payment.

    The payment row is locked first, so concurrent refunds are serialized and the limit holds;
    the same ``idempotency_key`` returns the first refund (``replayed=True``) and never refunds twice.
    """
    tenant = tenant_of(session)
    payment = await load(session, payment_id, for_update=True)
    key = idempotency_key or f"auto-{uuid.uuid4()}"
    if len(key) > 255:
        raise ValidationFailed("idempotency key is too long", field="idempotency_key")
    existing = await repository.get_refund_by_key(session, tenant, payment.id, key)
    if existing is not None:
        if existing.amount != amount:
            raise IdempotencyKeyReused("this idempotency key was used for a refund of another amount",
                                       field="idempotency_key")
        return RefundResult(refund=refund_out(existing), payment=await payment_out(session, payment), replayed=True)

    pending = await repository.pending_refund_total(session, tenant, payment.id)
    check_refund(status=payment.status, amount_captured=payment.amount_captured,
                 amount_refunded=payment.amount_refunded, amount_pending=pending, amount=amount)
    refund_added(session, payment.id)
    row = await repository.add_refund(session, Refund(
        id=refund_id_for(payment.id, key), tenant_id=tenant, payment_id=payment.id, amount=amount,
        currency=payment.currency, reason=reason, status=RefundStatus.PENDING.value, idempotency_key=key))
    await publish(session, events.REFUND_CREATED, payment, **_refund_data(row))

    gateway = gateway_for(payment.method)
    outcome = await guarded(gateway, lambda: gateway.refund(gateway_view(payment), refund_id=row.id, amount=amount,
                                                            reason=reason))
    await apply_refund_outcome(session, payment, row, outcome)
    return RefundResult(refund=refund_out(row), payment=await payment_out(session, payment))


def _refund_data(row: Refund) -> dict[str, object]:
    return {"refund_id": str(row.id), "refund_amount": row.amount, "reason": row.reason,
            "refund_status": row.status}


async def apply_refund_outcome(session: AsyncSession, payment: Payment, row: Refund, outcome: RefundOutcome) -> bool:
    """Record a gateway's verdict on a refund; updates the payment's totals and status. A refund
    already final is left alone (webhooks may repeat what the API call already told us)."""
    if outcome.reference and not row.gateway_reference:
        row.gateway_reference = outcome.reference
    if row.status != RefundStatus.PENDING or outcome.status == RefundStatus.PENDING:
        await session.flush()
        return False
    row.status = outcome.status.value
    await session.flush()
    if outcome.status == RefundStatus.SUCCEEDED:
        refunded = await repository.succeeded_refund_total(session, payment.tenant_id, payment.id)
        payment.amount_refunded = min(refunded, payment.amount_captured)
        payment.status = status_after_refunds(payment.amount_captured, payment.amount_refunded).value
        await session.flush()
        await publish(session, events.REFUND_SUCCEEDED, payment, **_refund_data(row))
    else:
        row.failure_code = (outcome.failure_code or "refund_failed")[:100]
        await session.flush()
        await publish(session, events.REFUND_FAILED, payment, **_refund_data(row), failure_code=row.failure_code)
    return True


async def list_refunds(session: AsyncSession, payment_id: uuid.UUID) -> list:  # type: ignore[type-arg]
    payment = await load(session, payment_id)
    return [refund_out(r) for r in await repository.refunds_of(session, tenant_of(session), [payment.id])]
