"""Every query of the payments module. RLS scopes rows to the transaction's tenant; the
explicit ``tenant_id`` filters say the same thing in the code."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.payments.models import GatewayEvent, Payment, Refund


async def insert_payment(session: AsyncSession, values: dict[str, Any]) -> Payment | None:
    """Insert, or return None when the tenant already has a payment with this idempotency key
    (a concurrent duplicate waits for the first transaction, then finds the conflict)."""
    # One round trip: the ORM-enabled INSERT … RETURNING gives the row as an entity (our own fresh row:
    # no other transaction can see, let alone lock, it). The statement is built once; the row is a parameter.
    result = await session.execute(_INSERT_PAYMENT, [values], execution_options={"populate_existing": True})
    return result.scalar_one_or_none()


_INSERT_PAYMENT = (insert(Payment)
                   .on_conflict_do_nothing(index_elements=[Payment.tenant_id, Payment.idempotency_key])
                   .returning(Payment))


async def get_payment(session: AsyncSession, tenant_id: uuid.UUID, payment_id: uuid.UUID, *,
                      for_update: bool = False) -> Payment | None:
    q = select(Payment).where(Payment.tenant_id == tenant_id, Payment.id == payment_id)
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()


async def get_by_idempotency_key(session: AsyncSession, tenant_id: uuid.UUID, key: str) -> Payment | None:
    q = select(Payment).where(Payment.tenant_id == tenant_id, Payment.idempotency_key == key)
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()


async def list_for_order(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> list[Payment]:
    q = (select(Payment).where(Payment.tenant_id == tenant_id, Payment.order_id == order_id)
         .order_by(Payment.created_at, Payment.id))
    return list((await session.execute(q)).scalars())


async def list_page(session: AsyncSession, tenant_id: uuid.UUID, *, order_id: uuid.UUID | None, status: str | None,
                    limit: int, offset: int) -> list[Payment]:
    q = select(Payment).where(Payment.tenant_id == tenant_id)
    if order_id is not None:
        q = q.where(Payment.order_id == order_id)
    if status is not None:
        q = q.where(Payment.status == status)
    q = q.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1).offset(offset)
    return list((await session.execute(q)).scalars())


async def refunds_of(session: AsyncSession, tenant_id: uuid.UUID, payment_ids: list[uuid.UUID]) -> list[Refund]:
    if not payment_ids:
        return []
    q = (select(Refund).where(Refund.tenant_id == tenant_id, Refund.payment_id.in_(payment_ids))
         .order_by(Refund.created_at, Refund.id))
    return list((await session.execute(q)).scalars())


async def get_refund_by_key(session: AsyncSession, tenant_id: uuid.UUID, payment_id: uuid.UUID,
                            key: str) -> Refund | None:
    q = select(Refund).where(Refund.tenant_id == tenant_id, Refund.payment_id == payment_id,
                             Refund.idempotency_key == key)
    return (await session.execute(q)).scalar_one_or_none()


async def get_refund_by_reference(session: AsyncSession, tenant_id: uuid.UUID, payment_id: uuid.UUID,
                                  reference: str) -> Refund | None:
    q = select(Refund).where(Refund.tenant_id == tenant_id, Refund.payment_id == payment_id,
                             Refund.gateway_reference == reference)
    return (await session.execute(q)).scalar_one_or_none()


async def get_refund(session: AsyncSession, tenant_id: uuid.UUID, refund_id: uuid.UUID) -> Refund | None:
    return (await session.execute(select(Refund).where(Refund.tenant_id == tenant_id, Refund.id == refund_id))
            ).scalar_one_or_none()


async def pending_refund_total(session: AsyncSession, tenant_id: uuid.UUID, payment_id: uuid.UUID) -> int:
    q = select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.tenant_id == tenant_id, Refund.payment_id == payment_id, Refund.status == "pending")
    return int((await session.execute(q)).scalar_one())


async def succeeded_refund_total(session: AsyncSession, tenant_id: uuid.UUID, payment_id: uuid.UUID) -> int:
    q = select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.tenant_id == tenant_id, Refund.payment_id == payment_id, Refund.status == "succeeded")
    return int((await session.execute(q)).scalar_one())


async def add_refund(session: AsyncSession, refund: Refund) -> Refund:
    session.add(refund)
    await session.flush()
    return refund


async def record_gateway_event(session: AsyncSession, *, tenant_id: uuid.UUID, provider: str, event_id: str,
                               event_type: str, payload: dict[str, Any]) -> bool:
    """Claim a webhook event for processing; False when it was already processed (or is being
    processed by a concurrent delivery, which this statement waits for)."""
    stmt = (insert(GatewayEvent)
            .values(tenant_id=tenant_id, provider=provider, event_id=event_id, event_type=event_type, payload=payload)
            .on_conflict_do_nothing(index_elements=[GatewayEvent.tenant_id, GatewayEvent.provider,
                                                    GatewayEvent.event_id])
            .returning(GatewayEvent.event_id))
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def mark_gateway_event_processed(session: AsyncSession, *, tenant_id: uuid.UUID, provider: str,
                                       event_id: str) -> None:
    await session.execute(update(GatewayEvent).where(
        GatewayEvent.tenant_id == tenant_id, GatewayEvent.provider == provider, GatewayEvent.event_id == event_id,
    ).values(processed_at=func.now()))
