"""Placing an order: what checkout hands over becomes an order, atomically, in its transaction."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.orders import domain, metrics, repository
from mercato.orders.domain import OrderStatus
from mercato.orders.drafts import OrderDraft, PlacedOrder
from mercato.orders.errors import InvalidDraft
from mercato.orders.models import Order
from mercato.orders.service.common import (
    history,
    hold_stock,
    log,
    move,
    now,
    publish,
    remember_placed,
    tenant_of,
)
from mercato.platform.money import check_currency
from mercato.platform.security import Principal

#: Attempts at a free order number before giving up (32⁴ ≈ 1M numbers per shop and day).
NUMBER_ATTEMPTS = 10


def placed(order: Order) -> PlacedOrder:
    return PlacedOrder(id=order.id, number=order.number, status=order.status, payment_status=order.payment_status,
                       total=order.total, currency=order.currency)


def _rate(value: str | None, index: int) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise InvalidDraft(f"lines[{index}].tax_rate is not a decimal", field=f"lines[{index}].tax_rate") from None
    if not rate.is_finite() or rate < 0 or rate >= 10:
        raise InvalidDraft(f"lines[{index}].tax_rate is out of range", field=f"lines[{index}].tax_rate")
    return rate


async def place_order(session: AsyncSession, draft: OrderDraft, *, actor: Principal | None = None) -> PlacedOrder:
    """Create the order, its lines, its first history entry and ``order.created`` — in the caller's
    transaction, so they commit together with checkout's reservation and coupon redemptions.

    Status ``pending`` (awaiting payment). A cash-on-delivery order (``payment_method="manual"``)
    moves on to ``processing`` at once, unpaid, and its stock is held until it ships. Payments are
    not started here (checkout does that). The same ``checkout_id`` placed twice returns the first
    order: a retried checkout never creates a second one.
    """
    tenant = tenant_of(session)
    domain.check_draft(draft)
    currency = check_currency(draft.currency)
    # No look-up first: the unique ``checkout_id`` makes the INSERT itself the check (a conflict
    # looks the existing order up below).
    values: dict[str, Any] = {
        "tenant_id": tenant, "status": OrderStatus.PENDING.value, "payment_status": domain.PaymentStatus.UNPAID.value,
        "fulfillment_status": domain.FulfillmentStatus.UNFULFILLED.value, "customer_id": draft.customer_id,
        "email": draft.email.strip(), "currency": currency, "subtotal": draft.subtotal,
        "discount_total": draft.discount_total, "shipping_total": draft.shipping_total,
        "shipping_discount": draft.shipping_discount, "tax_total": draft.tax_total, "total": draft.total,
        "prices_include_tax": draft.prices_include_tax, "shipping_address": draft.shipping_address,
        "billing_address": draft.billing_address, "shipping_method": draft.shipping_method,
        "coupon_codes": list(draft.coupon_codes), "promotion_ids": list(draft.promotion_ids),
        "reservation_id": draft.reservation_id, "checkout_id": draft.checkout_id,
        "payment_method": draft.payment_method, "organization_name": draft.organization_name,
        "purchase_order_number": draft.purchase_order_number, "locale": draft.locale or "en",
        "metadata": dict(draft.metadata), "placed_at": now(),
    }
    order: Order | None = None
    for _ in range(NUMBER_ATTEMPTS):
        values["number"] = domain.order_number(values["placed_at"].date())
        order = await repository.insert_order(session, values)
        if order is not None:
            break
        if draft.checkout_id is not None:
            existing = await repository.get_by_checkout(session, tenant, draft.checkout_id)
            if existing is not None:  # a concurrent placement of the same checkout won
                return placed(existing)
        log.info("order number taken, retrying", extra={"number": values["number"]})
    if order is None:
        raise RuntimeError("could not allocate an order number")
    order_id = order.id
    remember_placed(session, order)

    await repository.insert_lines(session, [{
        "tenant_id": tenant, "order_id": order_id, "position": i, "variant_id": line.variant_id,
        "product_id": line.product_id, "sku": line.sku, "product_name": line.product_name,
        "variant_title": line.variant_title, "options": dict(line.options), "unit_price": line.unit_price,
        "quantity": line.quantity, "subtotal": line.subtotal, "discount": line.discount, "tax": line.tax,
        "tax_rate": _rate(line.tax_rate, i), "total": line.total,
    } for i, line in enumerate(draft.lines)])
    await history(session, order, "status", actor=actor, to_status=order.status, message="order placed",
                  data={"checkout_id": str(draft.checkout_id) if draft.checkout_id else None}, customer_visible=True)
    await publish(session, "order.created", order, subtotal=order.subtotal, discount_total=order.discount_total,
                  shipping_total=order.shipping_total, tax_total=order.tax_total, payment_method=order.payment_method,
                  coupon_codes=list(order.coupon_codes), locale=order.locale,
                  lines=[{"variant_id": str(line.variant_id), "sku": line.sku, "quantity": line.quantity,
                          "total": line.total} for line in draft.lines])
    await audit.record(session, action="order.created", resource_type="order", resource_id=order.id,
                       changes={"number": order.number, "total": order.total, "currency": order.currency}, actor=actor)
    if order.payment_method == "manual":
        await move(session, order, OrderStatus.PROCESSING, actor=actor, reason="cash on delivery: paid on delivery")
        await hold_stock(session, order, list(draft.lines), actor=actor)
    metrics.order_placed(session, order.currency, order.total)
    return placed(order)
