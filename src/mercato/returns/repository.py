"""Every query of the returns module. Each statement filters on the tenant too (RLS is the backstop)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.returns.domain import OPEN
from mercato.returns.models import ReturnLine, ReturnRefund, ReturnRequest, ReturnSettings


async def lock_order(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> None:
    """Serialize every return change of one order (requests, receipts, exchanges) until commit:
    the open quantities, RMA sequence and shipping refunds read next stay true."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                          {"k": f"returns:{tenant_id}:{order_id}"})


async def get(session: AsyncSession, tenant_id: uuid.UUID, return_id: uuid.UUID, *,
              for_update: bool = False) -> ReturnRequest | None:
    stmt = select(ReturnRequest).where(ReturnRequest.tenant_id == tenant_id, ReturnRequest.id == return_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def lines_of(session: AsyncSession, tenant_id: uuid.UUID, return_ids: Collection[uuid.UUID]) -> list[ReturnLine]:
    if not return_ids:
        return []
    stmt = (select(ReturnLine).where(ReturnLine.tenant_id == tenant_id, ReturnLine.return_id.in_(list(return_ids)))
            .order_by(ReturnLine.return_id, ReturnLine.created_at, ReturnLine.id))
    return list((await session.execute(stmt.execution_options(populate_existing=True))).scalars())


async def refunds_of(session: AsyncSession, tenant_id: uuid.UUID,
                     return_ids: Collection[uuid.UUID]) -> list[ReturnRefund]:
    if not return_ids:
        return []
    stmt = (select(ReturnRefund).where(ReturnRefund.tenant_id == tenant_id,
                                       ReturnRefund.return_id.in_(list(return_ids)))
            .order_by(ReturnRefund.created_at, ReturnRefund.id))
    return list((await session.execute(stmt)).scalars())


async def refund_by_key(session: AsyncSession, tenant_id: uuid.UUID, return_id: uuid.UUID,
                        key: str) -> ReturnRefund | None:
    stmt = select(ReturnRefund).where(ReturnRefund.tenant_id == tenant_id, ReturnRefund.return_id == return_id,
                                      ReturnRefund.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def refund_with_payment_refund(session: AsyncSession, tenant_id: uuid.UUID,
                                     refund_id: uuid.UUID) -> ReturnRefund | None:
    """The return refund one of whose payment parts is the payments module's refund ``refund_id``."""
    stmt = select(ReturnRefund).where(
        ReturnRefund.tenant_id == tenant_id,
        ReturnRefund.payments.contains([{"refund_id": str(refund_id)}]))
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalars().first()


async def open_quantities(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Units of each order line already asked back in returns not yet received (requested, approved)."""
    stmt = (select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
            .join(ReturnRequest, (ReturnRequest.tenant_id == ReturnLine.tenant_id)
                  & (ReturnRequest.id == ReturnLine.return_id))
            .where(ReturnRequest.tenant_id == tenant_id, ReturnRequest.order_id == order_id,
                   ReturnRequest.status.in_([str(s) for s in OPEN]))
            .group_by(ReturnLine.order_line_id))
    return {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}


async def rma_count(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(ReturnRequest).where(
        ReturnRequest.tenant_id == tenant_id, ReturnRequest.order_id == order_id, ReturnRequest.rma_number.is_not(None))
    return int((await session.execute(stmt)).scalar_one())


async def shipping_refunded(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> int:
    stmt = select(func.coalesce(func.sum(ReturnRequest.shipping_refunded), 0)).where(
        ReturnRequest.tenant_id == tenant_id, ReturnRequest.order_id == order_id)
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class ReturnFilter:
    status: list[str] | None = None
    order_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


async def list_page(session: AsyncSession, tenant_id: uuid.UUID, filters: ReturnFilter, *, limit: int,
                    offset: int) -> list[ReturnRequest]:
    """Newest first; ``limit + 1`` rows (to detect more). One query."""
    stmt = select(ReturnRequest).where(ReturnRequest.tenant_id == tenant_id)
    if filters.status:
        stmt = stmt.where(ReturnRequest.status.in_(filters.status))
    if filters.order_id:
        stmt = stmt.where(ReturnRequest.order_id == filters.order_id)
    if filters.customer_id:
        stmt = stmt.where(ReturnRequest.customer_id == filters.customer_id)
    stmt = stmt.order_by(ReturnRequest.created_at.desc(), ReturnRequest.id.desc()).limit(limit + 1).offset(offset)
    return list((await session.execute(stmt)).scalars())


async def get_settings(session: AsyncSession, tenant_id: uuid.UUID) -> ReturnSettings | None:
    stmt = select(ReturnSettings).where(ReturnSettings.tenant_id == tenant_id)
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def upsert_settings(session: AsyncSession, tenant_id: uuid.UUID, values: dict[str, Any]) -> None:
    stmt = pg_insert(ReturnSettings).values(tenant_id=tenant_id, **values)
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=[ReturnSettings.tenant_id],
                                          set_={**values, "updated_at": func.now()})
    else:
        stmt = stmt.on_conflict_do_nothing()
    await session.execute(stmt)
