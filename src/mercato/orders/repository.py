"""Every query of the orders module. Tenant-scoped: each statement filters on the tenant (RLS is
the backstop, not the only wall)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.orders.models import Order, OrderHistory, OrderLine, OrderNote, OrderSettings


async def insert_order(session: AsyncSession, values: dict[str, Any]) -> Order | None:
    """Insert unless a unique key (number or checkout) is taken: then None, and nothing written.
    One round trip: the new row comes back as an entity (``INSERT … RETURNING``)."""
    values = dict(values)
    if "metadata" in values:  # the column is ``metadata``, the attribute ``metadata_``
        values["metadata_"] = values.pop("metadata")
    # The statement is built (and its cache key computed) once; the row goes as parameters.
    result = await session.execute(_INSERT_ORDER, [values], execution_options={"populate_existing": True})
    return result.scalar_one_or_none()


_INSERT_ORDER = pg_insert(Order).on_conflict_do_nothing().returning(Order)


async def insert_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(OrderLine), rows)


async def get(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID, *,
              for_update: bool = False) -> Order | None:
    stmt = select(Order).where(Order.tenant_id == tenant_id, Order.id == order_id)
    if for_update:
        stmt = stmt.with_for_update()
    result = await session.execute(stmt.execution_options(populate_existing=True))
    return result.scalar_one_or_none()


async def get_by_checkout(session: AsyncSession, tenant_id: uuid.UUID, checkout_id: uuid.UUID) -> Order | None:
    result = await session.execute(select(Order).where(Order.tenant_id == tenant_id,
                                                       Order.checkout_id == checkout_id))
    return result.scalar_one_or_none()


async def get_by_number_and_email(session: AsyncSession, tenant_id: uuid.UUID, number: str,
                                  email: str) -> Order | None:
    result = await session.execute(select(Order).where(
        Order.tenant_id == tenant_id, Order.number == number, func.lower(Order.email) == email.strip().lower()))
    return result.scalar_one_or_none()


async def lines_of(session: AsyncSession, tenant_id: uuid.UUID, order_ids: list[uuid.UUID], *,
                   for_update: bool = False) -> list[OrderLine]:
    if not order_ids:
        return []
    stmt = (select(OrderLine).where(OrderLine.tenant_id == tenant_id, OrderLine.order_id.in_(order_ids))
            .order_by(OrderLine.order_id, OrderLine.position))
    if for_update:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt.execution_options(populate_existing=True))).scalars())


async def history_of(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID, *,
                     customer_visible_only: bool = False) -> list[OrderHistory]:
    stmt = select(OrderHistory).where(OrderHistory.tenant_id == tenant_id, OrderHistory.order_id == order_id)
    if customer_visible_only:
        stmt = stmt.where(OrderHistory.customer_visible.is_(True))
    return list((await session.execute(stmt.order_by(OrderHistory.id))).scalars())


async def has_history_fact(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID, fact: str) -> bool:
    """Was this payment fact (``outcome:payment:refund``) applied to the order already?"""
    result = await session.execute(select(OrderHistory.id).where(
        OrderHistory.tenant_id == tenant_id, OrderHistory.order_id == order_id, OrderHistory.kind == "payment",
        OrderHistory.data.contains({"fact": fact})).limit(1))
    return result.first() is not None


async def append_history(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_INSERT_HISTORY, [values])


async def append_history_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Several history rows, one batched INSERT (in the given order)."""
    if len(rows) == 1:
        await append_history(session, rows[0])
    elif rows:
        await session.execute(_INSERT_HISTORY, rows)


#: Built once (hot path: every order move writes history); rows go as parameters.
_INSERT_HISTORY = insert(OrderHistory)


async def notes_of(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID, *,
                   customer_only: bool = False) -> list[OrderNote]:
    stmt = select(OrderNote).where(OrderNote.tenant_id == tenant_id, OrderNote.order_id == order_id)
    if customer_only:
        stmt = stmt.where(OrderNote.visibility == "customer")
    return list((await session.execute(stmt.order_by(OrderNote.created_at, OrderNote.id))).scalars())


async def add_note(session: AsyncSession, note: OrderNote) -> OrderNote:
    session.add(note)
    await session.flush()
    return note


async def pending_order_ids_of_customer(session: AsyncSession, tenant_id: uuid.UUID,
                                        customer_id: uuid.UUID) -> list[uuid.UUID]:
    result = await session.execute(select(Order.id).where(
        Order.tenant_id == tenant_id, Order.customer_id == customer_id, Order.status == "pending")
        .order_by(Order.id))
    return list(result.scalars())


# --------------------------------------------------------------------------- settings


async def get_settings(session: AsyncSession, tenant_id: uuid.UUID) -> OrderSettings | None:
    result = await session.execute(select(OrderSettings).where(OrderSettings.tenant_id == tenant_id))
    return result.scalar_one_or_none()


async def upsert_settings(session: AsyncSession, tenant_id: uuid.UUID, values: dict[str, Any]) -> None:
    stmt = pg_insert(OrderSettings).values(tenant_id=tenant_id, **values)
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=[OrderSettings.tenant_id],
                                          set_={**values, "updated_at": func.now()})
    else:
        stmt = stmt.on_conflict_do_nothing()
    await session.execute(stmt)


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class OrderFilter:
    status: list[str] | None = None
    payment_status: list[str] | None = None
    fulfillment_status: list[str] | None = None
    customer_id: uuid.UUID | None = None
    email: str | None = None
    number: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    total_min: int | None = None
    total_max: int | None = None
    currency: str | None = None


_SORTS = {"placed_at": Order.placed_at, "total": Order.total}


def _item_count() -> Any:
    return (select(func.coalesce(func.sum(OrderLine.quantity), 0))
            .where(OrderLine.tenant_id == Order.tenant_id, OrderLine.order_id == Order.id)
            .correlate(Order).scalar_subquery().label("item_count"))


async def list_page(session: AsyncSession, tenant_id: uuid.UUID, filters: OrderFilter, *, sort: str, limit: int,
                    offset: int = 0, after: list[Any] | None = None) -> list[tuple[Order, int]]:
    """One query: the page's orders (``limit + 1`` rows, to tell if there is more) with their item counts.

    Keyset pagination on ``(sort column, id)`` when ``after`` (the last row's values) is given."""
    descending = sort.startswith("-")
    column = _SORTS[sort.lstrip("-")]
    conditions: list[ColumnElement[bool]] = [Order.tenant_id == tenant_id]
    f = filters
    if f.status:
        conditions.append(Order.status.in_(f.status))
    if f.payment_status:
        conditions.append(Order.payment_status.in_(f.payment_status))
    if f.fulfillment_status:
        conditions.append(Order.fulfillment_status.in_(f.fulfillment_status))
    if f.customer_id is not None:
        conditions.append(Order.customer_id == f.customer_id)
    if f.email:
        conditions.append(func.lower(Order.email) == f.email.strip().lower())
    if f.number:
        conditions.append(Order.number == f.number.strip().upper())
    if f.placed_from is not None:
        conditions.append(Order.placed_at >= f.placed_from)
    if f.placed_to is not None:
        conditions.append(Order.placed_at < f.placed_to)
    if f.total_min is not None:
        conditions.append(Order.total >= f.total_min)
    if f.total_max is not None:
        conditions.append(Order.total <= f.total_max)
    if f.currency:
        conditions.append(Order.currency == f.currency.upper())
    if after is not None:
        value, last_id = after
        if descending:
            conditions.append(or_(column < value, and_(column == value, Order.id < last_id)))
        else:
            conditions.append(or_(column > value, and_(column == value, Order.id > last_id)))
    order_by = [column.desc(), Order.id.desc()] if descending else [column.asc(), Order.id.asc()]
    stmt = select(Order, _item_count()).where(*conditions).order_by(*order_by).limit(limit + 1)
    if after is None and offset:
        stmt = stmt.offset(offset)
    return [(row[0], int(row[1])) for row in (await session.execute(stmt)).all()]


async def set_line_fulfilled(session: AsyncSession, tenant_id: uuid.UUID, line_id: uuid.UUID, fulfilled: int) -> None:
    await session.execute(update(OrderLine).where(OrderLine.tenant_id == tenant_id, OrderLine.id == line_id)
                          .values(quantity_fulfilled=fulfilled, updated_at=func.now()))
