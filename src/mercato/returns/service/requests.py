"""Asking for a return (customer, guest, staff), the staff decision (approve with an RMA and
instructions, or reject with a note), withdrawing it, reading returns, and the shop's settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.catalog as catalog
import mercato.orders as orders
from mercato.platform.pagination import InvalidCursor, PageParams, encode_cursor
from mercato.platform.security import Principal
from mercato.returns import domain, repository, schemas
from mercato.returns.domain import LineStock, ReturnStatus
from mercato.returns.errors import ReturnLineInvalid, ReturnNotFound
from mercato.returns.models import ReturnLine, ReturnRequest
from mercato.returns.repository import ReturnFilter
from mercato.returns.service.common import (
    delivered_at,
    get_view,
    load,
    load_locked,
    move,
    now,
    publish,
    tenant_of,
    view,
)

DEFAULT_INSTRUCTIONS = ("Pack the items securely with a note of the RMA number {rma} and send the parcel to the "
                        "address on our contact page. Keep the tracking number until your refund arrives.")


# --------------------------------------------------------------------------- settings


async def get_settings(session: AsyncSession) -> schemas.ReturnSettings:
    row = await repository.get_settings(session, tenant_of(session))
    if row is None:
        return schemas.ReturnSettings()
    return schemas.ReturnSettings(window_days=row.window_days, instructions=row.instructions)


async def update_settings(session: AsyncSession, data: schemas.ReturnSettingsUpdate, *,
                          actor: Principal | None = None) -> schemas.ReturnSettings:
    before = await get_settings(session)
    values = data.model_dump(exclude_unset=True)
    if values.get("window_days") is None:
        values.pop("window_days", None)
    await repository.upsert_settings(session, tenant_of(session), values)
    after = await get_settings(session)
    await audit.record(session, action="return_settings.updated", resource_type="return_settings",
                       changes=audit.diff(before.model_dump(), after.model_dump()), actor=actor)
    return after


# --------------------------------------------------------------------------- requesting


async def _check_exchange_variants(session: AsyncSession, order: orders.Order,
                                   lines: Sequence[schemas.ReturnLineIn]) -> None:
    wanted = {x.exchange_variant_id for x in lines if x.exchange_variant_id}
    if not wanted:
        return
    refs = await catalog.get_variant_refs(session, wanted)
    for i, x in enumerate(lines):
        if x.exchange_variant_id is None:
            continue
        ref = refs.get(x.exchange_variant_id)
        if ref is None or not ref.sellable:
            raise ReturnLineInvalid("this variant cannot be ordered", field=f"lines[{i}].exchange_variant_id")
        if ref.currency != order.currency:
            raise ReturnLineInvalid(f"this variant is sold in {ref.currency}, the order was in {order.currency}",
                                    field=f"lines[{i}].exchange_variant_id")


async def request_return(session: AsyncSession, order_id: uuid.UUID, lines: Sequence[schemas.ReturnLineIn], *,
                         note: str | None, requested_by: str, actor: Principal | None = None,
                         ignore_window: bool = False) -> schemas.Return:
    """Ask to send back delivered units of an order's lines, with a reason each (optionally an
    exchange variant). Only a delivered order, within the shop's window from its delivery; never
    more units than were delivered and are not yet returned or asked back in another open return."""
    tenant = tenant_of(session)
    await repository.lock_order(session, tenant, order_id)
    order = await orders.get_order(session, order_id)
    settings = await get_settings(session)
    delivered = delivered_at(order)
    # Staff may accept a late return as a goodwill gesture; delivery is still required.
    domain.check_returnable_order(order.status, delivered, now(), None if ignore_window else settings.window_days)
    pending = await repository.open_quantities(session, tenant, order.id)
    stock = {x.id: LineStock(x.quantity_fulfilled, x.quantity_returned, pending.get(x.id, 0)) for x in order.lines}
    domain.check_quantities(stock, [(x.order_line_id, x.quantity) for x in lines])
    await _check_exchange_variants(session, order, lines)

    r = ReturnRequest(tenant_id=tenant, order_id=order.id, order_number=order.number, requested_by=requested_by,
                      customer_id=order.customer_id, email=order.email, currency=order.currency, customer_note=note,
                      delivered_at=delivered, status=ReturnStatus.REQUESTED.value)
    session.add(r)
    await session.flush()
    by_id = {x.id: x for x in order.lines}
    rows = []
    for x in lines:
        ol = by_id[x.order_line_id]
        rows.append(ReturnLine(tenant_id=tenant, return_id=r.id, order_line_id=ol.id, variant_id=ol.variant_id,
                               sku=ol.sku, product_name=ol.product_name, variant_title=ol.variant_title,
                               quantity=x.quantity, reason=x.reason, note=x.note,
                               exchange_variant_id=x.exchange_variant_id))
    session.add_all(rows)
    await session.flush()
    await publish(session, "return.requested", r, requested_by=requested_by, note=note,
                  lines=[{"order_line_id": str(x.order_line_id), "sku": x.sku, "quantity": x.quantity,
                          "reason": x.reason, "exchange_variant_id": str(x.exchange_variant_id)
                          if x.exchange_variant_id else None} for x in rows])
    await audit.record(session, action="return.requested", resource_type="return", resource_id=r.id,
                       changes={"order_id": str(order.id), "requested_by": requested_by,
                                "lines": {str(x.order_line_id): x.quantity for x in rows}}, actor=actor)
    return view(r, rows, [])


async def request_customer_return(session: AsyncSession, customer_id: uuid.UUID, data: schemas.ReturnCreate, *,
                                  actor: Principal | None = None) -> schemas.Return:
    await orders.get_customer_order(session, customer_id, data.order_id)  # 404 unless it is theirs
    return await request_return(session, data.order_id, data.lines, note=data.note, requested_by="customer",
                                actor=actor)


async def request_guest_return(session: AsyncSession, data: schemas.GuestReturnCreate, *,
                               actor: Principal | None = None) -> schemas.Return:
    order = await orders.lookup_guest_order(session, data.order_number, data.email)  # 404 unless both match
    return await request_return(session, order.id, data.lines, note=data.note, requested_by="guest", actor=actor)


# --------------------------------------------------------------------------- decisions


async def approve(session: AsyncSession, return_id: uuid.UUID, data: schemas.ApproveRequest, *,
                  actor: Principal | None = None) -> schemas.Return:
    """Give the return its RMA number and the instructions to send it (``return.approved``: the
    customer gets them by email)."""
    r = await load_locked(session, return_id)
    domain.check_transition(r.status, ReturnStatus.APPROVED)
    r.rma_number = domain.rma_number(r.order_number, await repository.rma_count(session, r.tenant_id, r.order_id) + 1)
    template = data.instructions or (await get_settings(session)).instructions or DEFAULT_INSTRUCTIONS
    r.instructions = template.replace("{rma}", r.rma_number)
    if data.note:
        r.decision_note = data.note
    await move(session, r, ReturnStatus.APPROVED, actor=actor, instructions=r.instructions, note=data.note)
    return await get_view(session, r)


async def reject(session: AsyncSession, return_id: uuid.UUID, data: schemas.RejectRequest, *,
                 actor: Principal | None = None) -> schemas.Return:
    r = await load_locked(session, return_id)
    domain.check_transition(r.status, ReturnStatus.REJECTED)
    r.decision_note = data.note
    await move(session, r, ReturnStatus.REJECTED, actor=actor, note=data.note)
    return await get_view(session, r)


async def cancel(session: AsyncSession, return_id: uuid.UUID, *, reason: str | None,
                 actor: Principal | None = None) -> schemas.Return:
    r = await load_locked(session, return_id)
    domain.check_transition(r.status, ReturnStatus.CANCELLED)
    await move(session, r, ReturnStatus.CANCELLED, actor=actor, reason=reason)
    return await get_view(session, r)


async def close(session: AsyncSession, return_id: uuid.UUID, *, note: str | None,
                actor: Principal | None = None) -> schemas.Return:
    """Complete a received return without refunding all of it (a restocking fee, a goodwill
    decision): what was not refunded stays with the shop, on record."""
    r = await load_locked(session, return_id)
    domain.check_transition(r.status, ReturnStatus.COMPLETED)
    if note:
        r.decision_note = note
    await move(session, r, ReturnStatus.COMPLETED, actor=actor, note=note, items_refunded=r.items_refunded,
               kept=max(0, r.items_value - r.items_refunded))
    return await get_view(session, r)


# --------------------------------------------------------------------------- reading


async def get_return(session: AsyncSession, return_id: uuid.UUID) -> schemas.Return:
    return await get_view(session, await load(session, return_id))


async def get_customer_return(session: AsyncSession, customer_id: uuid.UUID, return_id: uuid.UUID) -> schemas.Return:
    """A customer's own return; anyone else's is 404 (its existence is not disclosed)."""
    r = await repository.get(session, tenant_of(session), return_id)
    if r is None or r.customer_id != customer_id:
        raise ReturnNotFound()
    return await get_view(session, r)


async def get_guest_return(session: AsyncSession, return_id: uuid.UUID, order_number: str,
                           email: str) -> schemas.Return:
    """A guest sees a return with the same proof as their order: its number and email."""
    r = await repository.get(session, tenant_of(session), return_id)
    if (r is None or r.order_number != order_number.strip().upper()
            or r.email.strip().lower() != email.strip().lower()):
        raise ReturnNotFound()
    return await get_view(session, r)


async def list_returns(session: AsyncSession, filters: ReturnFilter, page: PageParams) -> schemas.ReturnList:
    """Newest first, with lines and refunds: three queries whatever the page size."""
    tenant = tenant_of(session)
    offset = page.offset
    if page.cursor:
        offset = page.cursor[0] if len(page.cursor) == 1 and isinstance(page.cursor[0], int) else -1
        if offset < 0:
            raise InvalidCursor("cursor does not fit this list", field="query.cursor")
    rows = await repository.list_page(session, tenant, filters, limit=page.limit, offset=offset)
    has_more = len(rows) > page.limit
    rows = rows[:page.limit]
    ids = [r.id for r in rows]
    lines = await repository.lines_of(session, tenant, ids)
    refunds = await repository.refunds_of(session, tenant, ids)
    items = [view(r, [x for x in lines if x.return_id == r.id], [x for x in refunds if x.return_id == r.id])
             for r in rows]
    next_cursor = encode_cursor([offset + page.limit]) if has_more else None
    return schemas.ReturnList(items=items, has_more=has_more, next_cursor=next_cursor)

