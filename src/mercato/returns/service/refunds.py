"""Refunding a received return through the order's original payments.

Never more than the received items are worth (plus, when asked, the order's shipping, once per
order), never more than the payments captured minus what they refunded (the payments module
enforces that too, under its own lock). Idempotent per key: the same key gives back the first
refund and never refunds twice; concurrent refunds of one return queue on its lock."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.orders as orders
import mercato.payments as payments
from mercato.platform.errors import ValidationFailed
from mercato.platform.security import Principal
from mercato.returns import domain, repository, schemas
from mercato.returns.domain import ReturnStatus
from mercato.returns.errors import RefundKeyReused, ReturnNotRefundable
from mercato.returns.models import ReturnRefund, ReturnRequest
from mercato.returns.service.common import complete_if_settled, get_view, load_locked, publish, tenant_of

_SETTLED = ("captured", "partially_refunded")


def _refundable(p: Any) -> int:
    if p.status not in _SETTLED:
        return 0
    pending = sum(x.amount for x in p.refunds if x.status == "pending")
    return max(0, p.amount_captured - p.amount_refunded - pending)


async def pay_back(session: AsyncSession, r: ReturnRequest, amount: int, *, key: str, reason: str | None,
                   actor: Principal | None = None) -> list[dict[str, Any]]:
    """Refund ``amount`` over the order's payments (oldest first) and let the order's payment
    status follow at once (``orders.record_payment`` is idempotent: the ``refund.succeeded``
    handler later finds nothing left to change)."""
    found = await payments.get_payments_for_order(session, r.order_id)
    shares = domain.allocate_to_payments(amount, [_refundable(p) for p in found])
    done: list[dict[str, Any]] = []
    for p, share in zip(found, shares, strict=True):
        if not share:
            continue
        result = await payments.refund(session, p.id, share, reason=(reason or f"return {r.rma_number}")[:500],
                                       idempotency_key=f"return-{r.id}-{key}"[:255])
        done.append({"payment_id": str(p.id), "refund_id": str(result.refund.id), "amount": share,
                     "status": result.refund.status, "method": p.method})
        if result.refund.status == "succeeded":
            outcome = "refunded" if result.payment.status == "refunded" else "partially_refunded"
            await orders.record_payment(session, r.order_id, outcome=outcome, amount=share, payment_id=p.id,
                                        refund_id=result.refund.id, actor=actor,
                                        reason=f"refund for return {r.rma_number}")
    return done


def _result(row: ReturnRefund, view: schemas.Return, *, replayed: bool = False) -> schemas.RefundResult:
    return schemas.RefundResult.model_validate({"refund": schemas.ReturnRefund.model_validate(row),
                                                "replayed": replayed, "return": view})


async def refund(session: AsyncSession, return_id: uuid.UUID, data: schemas.RefundRequest, *,
                 idempotency_key: str | None, actor: Principal | None = None) -> schemas.RefundResult:
    """Refund all that is left of a received return (``amount`` omitted) or part of it."""
    if not idempotency_key:
        raise ValidationFailed("refunds need an Idempotency-Key header (a retry with it never refunds twice)",
                               field="Idempotency-Key")
    r = await load_locked(session, return_id)
    existing = await repository.refund_by_key(session, r.tenant_id, r.id, idempotency_key)
    if existing is not None:
        if existing.kind != "refund" or data.amount not in (None, existing.amount):
            raise RefundKeyReused(field="Idempotency-Key")
        return _result(existing, await get_view(session, r), replayed=True)
    if r.status != ReturnStatus.RECEIVED:
        raise ReturnNotRefundable(f"the return is {r.status}: refunds follow the receipt of the items",
                                  return_status=r.status)
    order = await orders.get_order(session, r.order_id)
    shipping_left = (order.shipping_total - order.shipping_discount
                     - await repository.shipping_refunded(session, r.tenant_id, r.order_id))
    split = domain.refund_split(items_left=r.items_value - r.items_refunded, shipping_left=shipping_left,
                                include_shipping=data.include_shipping, amount=data.amount)
    done = await pay_back(session, r, split.total, key=idempotency_key, reason=data.reason, actor=actor)
    failed = sum(x["amount"] for x in done if x["status"] == "failed")
    # What a gateway refused did not go back: it stays refundable (items first, like the split).
    items = max(0, split.items - failed)
    shipping = max(0, split.shipping - max(0, failed - split.items))
    row = ReturnRefund(tenant_id=r.tenant_id, return_id=r.id, kind="refund", idempotency_key=idempotency_key,
                       amount=split.total, items_amount=items, shipping_amount=shipping, reason=data.reason,
                       payments=done)
    session.add(row)
    r.items_refunded += items
    r.shipping_refunded += shipping
    await session.flush()
    await publish(session, "return.refunded", r, refund_id=str(row.id), amount=split.total, items_amount=items,
                  shipping_amount=shipping, failed_amount=failed, refundable=r.items_value - r.items_refunded,
                  payments=done)
    await complete_if_settled(session, r, actor=actor)
    return _result(row, await get_view(session, r))


async def refund_failed(session: AsyncSession, refund_id: uuid.UUID, *, failure_code: str | None = None) -> bool:
    """A payment refund of a return that the gateway failed after answering ``pending``
    (``refund.failed``): mark that payment part failed, give its amount back to what the return
    may still refund (items first, then shipping; an exchange difference lowers
    ``exchange_refunded``), reopen a return completed on it (``completed`` → ``received``) and
    publish ``return.refund_failed``. Idempotent: a part already failed changes nothing.
    Returns False when the refund is not a return's or was already handled."""
    tenant = tenant_of(session)
    found = await repository.refund_with_payment_refund(session, tenant, refund_id)
    if found is None:
        return False
    r = await load_locked(session, found.return_id)
    row = await repository.refund_with_payment_refund(session, tenant, refund_id)  # re-read under the lock
    assert row is not None
    parts = [dict(x) for x in row.payments]
    part = next(x for x in parts if x.get("refund_id") == str(refund_id))
    if part.get("status") == "failed":
        return False
    before = part.get("status")
    part["status"] = "failed"
    part["failure_code"] = failure_code
    share = domain.failed_refund_share(kind=row.kind, amount=int(part.get("amount") or 0),
                                       items_amount=row.items_amount, shipping_amount=row.shipping_amount)
    row.payments = parts
    row.items_amount -= share.items
    row.shipping_amount -= share.shipping
    r.items_refunded = max(0, r.items_refunded - share.items)
    r.shipping_refunded = max(0, r.shipping_refunded - share.shipping)
    r.exchange_refunded = max(0, r.exchange_refunded - share.exchange)
    from_status = r.status
    if r.status == ReturnStatus.COMPLETED and r.items_refunded < r.items_value:
        # staff must be able to refund it again: back to received (not a staff transition)
        r.status, r.completed_at = ReturnStatus.RECEIVED.value, None
    await session.flush()
    await publish(session, "return.refund_failed", r, return_refund_id=str(row.id), refund_id=str(refund_id),
                  payment_id=part.get("payment_id"), amount=int(part.get("amount") or 0), items_amount=share.items,
                  shipping_amount=share.shipping, exchange_amount=share.exchange, failure_code=failure_code,
                  refundable=r.items_value - r.items_refunded, from_status=from_status)
    await audit.record(session, action="return.refund_failed", resource_type="return", resource_id=r.id,
                       changes={"refund_status": {"from": before, "to": "failed"},
                                "items_refunded": {"from": r.items_refunded + share.items, "to": r.items_refunded},
                                "shipping_refunded": {"from": r.shipping_refunded + share.shipping,
                                                      "to": r.shipping_refunded},
                                **({"status": {"from": from_status, "to": r.status}}
                                   if from_status != r.status else {})})
    return True
