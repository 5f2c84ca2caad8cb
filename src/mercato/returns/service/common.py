"""What every return use case shares: the tenant, loading and locking, the views, events, audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.orders as orders
from mercato.platform import events
from mercato.platform.db import require_tenant as tenant_of
from mercato.platform.security import Principal
from mercato.returns import domain, repository, schemas
from mercato.returns.domain import ReturnStatus
from mercato.returns.errors import ReturnNotFound
from mercato.returns.models import ReturnLine, ReturnRefund, ReturnRequest


def now() -> datetime:
    return datetime.now(UTC)


async def load(session: AsyncSession, return_id: uuid.UUID) -> ReturnRequest:
    r = await repository.get(session, tenant_of(session), return_id)
    if r is None:
        raise ReturnNotFound()
    return r


async def load_locked(session: AsyncSession, return_id: uuid.UUID) -> ReturnRequest:
    """The return, locked, after its order's return lock (always in that order: no deadlocks)."""
    r = await load(session, return_id)
    await repository.lock_order(session, r.tenant_id, r.order_id)
    locked = await repository.get(session, r.tenant_id, return_id, for_update=True)
    assert locked is not None
    return locked


def delivered_at(order: orders.Order) -> datetime | None:
    """When the order was delivered: its latest move to ``delivered`` in the history."""
    found = [h.created_at for h in order.history if h.kind == "status" and h.to_status == "delivered"]
    return max(found) if found else None


def view(r: ReturnRequest, lines: list[ReturnLine], refunds: list[ReturnRefund]) -> schemas.Return:
    return schemas.Return.model_validate(dict(
        id=r.id, order_id=r.order_id, order_number=r.order_number, rma_number=r.rma_number, status=r.status,
        requested_by=r.requested_by, customer_id=r.customer_id, email=r.email, currency=r.currency,
        customer_note=r.customer_note, decision_note=r.decision_note, instructions=r.instructions,
        delivered_at=r.delivered_at, items_value=r.items_value, items_refunded=r.items_refunded,
        shipping_refunded=r.shipping_refunded, refundable=max(0, r.items_value - r.items_refunded),
        exchange_credit=r.exchange_credit, replacement_order_id=r.replacement_order_id,
        replacement_order_number=r.replacement_order_number, exchange_charged=r.exchange_charged,
        exchange_refunded=r.exchange_refunded, allowed_transitions=sorted(domain.allowed_transitions(r.status)),
        approved_at=r.approved_at, rejected_at=r.rejected_at, received_at=r.received_at, completed_at=r.completed_at,
        cancelled_at=r.cancelled_at, created_at=r.created_at, updated_at=r.updated_at,
        lines=[schemas.ReturnLine.model_validate(x) for x in lines],
        refunds=[schemas.ReturnRefund.model_validate(x) for x in refunds]))


async def get_view(session: AsyncSession, r: ReturnRequest) -> schemas.Return:
    tenant = tenant_of(session)
    return view(r, await repository.lines_of(session, tenant, [r.id]), await repository.refunds_of(session, tenant,
                                                                                                  [r.id]))


def event_data(r: ReturnRequest, **extra: Any) -> dict[str, Any]:
    return {"return_id": str(r.id), "order_id": str(r.order_id), "number": r.order_number,
            "rma_number": r.rma_number, "status": r.status, "email": r.email,
            "customer_id": str(r.customer_id) if r.customer_id else None, "currency": r.currency, **extra}


async def publish(session: AsyncSession, event_type: str, r: ReturnRequest, **extra: Any) -> None:
    await events.publish(session, event_type, aggregate_type="return", aggregate_id=r.id, data=event_data(r, **extra))


async def move(session: AsyncSession, r: ReturnRequest, target: ReturnStatus, *, actor: Principal | None = None,
               **extra: Any) -> None:
    """One step through the machine: check, change, timestamp, event, audit — same transaction."""
    before = r.status
    domain.check_transition(before, target)
    r.status = target.value
    stamp = {ReturnStatus.APPROVED: "approved_at", ReturnStatus.REJECTED: "rejected_at",
             ReturnStatus.RECEIVED: "received_at", ReturnStatus.COMPLETED: "completed_at",
             ReturnStatus.CANCELLED: "cancelled_at"}.get(target)
    if stamp:
        setattr(r, stamp, now())
    await session.flush()
    await publish(session, domain.STATUS_EVENTS[target], r, from_status=before, **extra)
    await audit.record(session, action=domain.STATUS_EVENTS[target], resource_type="return", resource_id=r.id,
                       changes={"status": {"from": before, "to": target.value}}, actor=actor)


async def complete_if_settled(session: AsyncSession, r: ReturnRequest, *, actor: Principal | None = None) -> None:
    lines = await repository.lines_of(session, r.tenant_id, [r.id])
    exchange_pending = any(x.exchange_variant_id for x in lines) and r.replacement_order_id is None
    if domain.is_settled(status=r.status, items_value=r.items_value, items_refunded=r.items_refunded,
                         exchange_pending=exchange_pending):
        await move(session, r, ReturnStatus.COMPLETED, actor=actor, items_refunded=r.items_refunded,
                   shipping_refunded=r.shipping_refunded, replacement_order_id=(
                       str(r.replacement_order_id) if r.replacement_order_id else None))
