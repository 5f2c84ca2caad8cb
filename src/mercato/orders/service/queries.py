"""Reading orders: staff lists and details, a customer's own orders, a guest's lookup.

Every read runs a fixed number of queries whatever the number of orders or lines: a list page
is one query (item counts are a correlated subquery); a detail is the order, its lines, its
history, its notes and its payments (two, in the payments module)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.payments as payments
from mercato.orders import domain, repository, schemas
from mercato.orders.errors import OrderNotFound
from mercato.orders.models import Order
from mercato.orders.repository import OrderFilter
from mercato.orders.service.common import facts_of, get_settings, load, now, tenant_of
from mercato.platform.pagination import InvalidCursor, PageParams, encode_cursor


def _body(order: Order) -> dict[str, Any]:
    return {c: getattr(order, c) for c in schemas._OrderBody.model_fields
            if c not in ("lines", "allowed_transitions") and hasattr(order, c)}


def _lines(rows: list[Any]) -> list[schemas.OrderLine]:
    return [schemas.OrderLine.model_validate(line, from_attributes=True) for line in rows]


async def get_order(session: AsyncSession, order_id: uuid.UUID) -> schemas.Order:
    """The staff view: lines, full history, notes, payments (``payments.get_payments_for_order``)."""
    order = await load(session, order_id)
    tenant = tenant_of(session)
    lines = await repository.lines_of(session, tenant, [order.id])
    entries = await repository.history_of(session, tenant, order.id)
    notes = await repository.notes_of(session, tenant, order.id)
    attempts = await payments.get_payments_for_order(session, order.id)
    return schemas.Order(
        **_body(order), lines=_lines(lines),
        allowed_transitions=sorted(domain.allowed_transitions(order.status, facts_of(order))),
        promotion_ids=list(order.promotion_ids), reservation_id=order.reservation_id, checkout_id=order.checkout_id,
        metadata=dict(order.metadata_ or {}), created_at=order.created_at, updated_at=order.updated_at,
        history=[schemas.HistoryEntry.model_validate(h, from_attributes=True) for h in entries],
        notes=[schemas.Note.model_validate(n, from_attributes=True) for n in notes],
        payments=attempts)


async def customer_view(session: AsyncSession, order: Order, *, now_: datetime | None = None) -> schemas.CustomerOrder:
    tenant = tenant_of(session)
    lines = await repository.lines_of(session, tenant, [order.id])
    entries = await repository.history_of(session, tenant, order.id, customer_visible_only=True)
    notes = await repository.notes_of(session, tenant, order.id, customer_only=True)
    attempts = await payments.get_payments_for_order(session, order.id)
    window = (await get_settings(session)).self_cancel_window_seconds
    try:
        domain.check_self_cancel(order.status, order.placed_at, now_ or now(), window)
        can_cancel = True
    except domain.SelfCancelNotAllowed:
        can_cancel = False
    return schemas.CustomerOrder(
        **_body(order), lines=_lines(lines), can_cancel=can_cancel,
        history=[schemas.CustomerHistoryEntry.model_validate(h, from_attributes=True) for h in entries],
        notes=[schemas.Note.model_validate(n, from_attributes=True) for n in notes],
        payments=[schemas.PaymentSummary(id=p.id, method=p.method, status=p.status, amount=p.amount,
                                         amount_captured=p.amount_captured, amount_refunded=p.amount_refunded,
                                         currency=p.currency, created_at=p.created_at) for p in attempts])


async def get_customer_order(session: AsyncSession, customer_id: uuid.UUID, order_id: uuid.UUID) -> schemas.CustomerOrder:
    """A customer's own order; anyone else's is 404 (not 403: its existence is not disclosed)."""
    order = await repository.get(session, tenant_of(session), order_id)
    if order is None or order.customer_id != customer_id:
        raise OrderNotFound()
    return await customer_view(session, order)


async def lookup_guest_order(session: AsyncSession, number: str, email: str) -> schemas.CustomerOrder:
    """A guest finds their order with its number **and** the email it was placed with."""
    order = await repository.get_by_number_and_email(session, tenant_of(session), number.strip().upper(), email)
    if order is None:
        raise OrderNotFound("no order with this number and email")
    return await customer_view(session, order)


def _cursor_key(sort: str) -> Any:
    column = sort.lstrip("-")
    return lambda row: [getattr(row[0], column), row[0].id]


async def list_orders(session: AsyncSession, filters: OrderFilter, page: PageParams, *,
                      sort: str = "-placed_at") -> schemas.OrderList:
    after = None
    if page.cursor is not None:
        if len(page.cursor) != 2:
            raise InvalidCursor("cursor does not fit this list", field="query.cursor")
        value, last = page.cursor
        try:
            last_id = uuid.UUID(str(last))
        except ValueError:
            raise InvalidCursor("cursor does not fit this list", field="query.cursor") from None
        if sort.lstrip("-") == "placed_at" and not isinstance(value, datetime):
            raise InvalidCursor("cursor does not fit this sort", field="query.cursor")
        if sort.lstrip("-") == "total" and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidCursor("cursor does not fit this sort", field="query.cursor")
        after = [value, last_id]
    rows = await repository.list_page(session, tenant_of(session), filters, sort=sort, limit=page.limit,
                                      offset=page.offset, after=after)
    has_more = len(rows) > page.limit
    rows = rows[:page.limit]
    next_cursor = encode_cursor(_cursor_key(sort)(rows[-1])) if has_more and rows else None
    items = [schemas.OrderSummary.model_validate(order, from_attributes=True).model_copy(update={"item_count": count})
             for order, count in rows]
    return schemas.OrderList(items=items, has_more=has_more, next_cursor=next_cursor)
