"""Helpers of the orders tests: drafts from real catalog rows and reservations, payments through
the test gateway, stock levels and outbox rows, and driving event handlers with an Event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from commerce_helpers import make_product
from sqlalchemy import text

import mercato.inventory as inventory
import mercato.orders as orders
import mercato.payments as payments
from mercato.platform.events import Event

API = "/api/v1"
SUCCEEDS = "4242424242424242"
DECLINES = "4000000000000002"


async def make_draft(db, tenant_id: uuid.UUID, *, quantity: int = 2, price: int = 1000, stock: int = 10,  # type: ignore[no-untyped-def]
                     customer_id: uuid.UUID | None = None, email: str | None = None, payment_method: str = "test",
                     reserve: bool = True, currency: str = "USD", promotion_ids: tuple[uuid.UUID, ...] = (),
                     coupon_codes: tuple[str, ...] = (), checkout_id: uuid.UUID | None = None,
                     organization_name: str | None = None, purchase_order_number: str | None = None,
                     product: dict[str, Any] | None = None) -> orders.OrderDraft:
    """A draft as checkout would hand it over: real variants, stock reserved through inventory."""
    product = product or await make_product(db, tenant_id, price_cents=price, currency=currency, stock=stock,
                                            name="Blue Mug")
    variant_id = product["variant_id"]
    reservation_id = None
    if reserve:
        async with db.tenant_transaction(tenant_id) as s:
            reservation_id = (await inventory.reserve(s, [(variant_id, quantity)], expires_in=900)).id
    subtotal = price * quantity
    tax = subtotal // 10
    line = orders.OrderLineDraft(variant_id=variant_id, product_id=product["product_id"], sku="MUG-BLUE",
                                 product_name="Blue Mug", variant_title="Blue", quantity=quantity, unit_price=price,
                                 subtotal=subtotal, discount=0, tax=tax, total=subtotal + tax, tax_rate="0.1",
                                 options={"color": "blue"})
    address = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345",
               "country": "US", "region": "IL"}
    return orders.OrderDraft(
        currency=currency, email=email or f"buyer-{uuid.uuid4().hex[:8]}@example.com", lines=(line,),
        subtotal=subtotal, discount_total=0, shipping_total=500, shipping_discount=0, tax_total=tax,
        total=subtotal + tax + 500, prices_include_tax=False, shipping_address=address, billing_address=address,
        customer_id=customer_id, shipping_method={"name": "Standard", "price": 500}, coupon_codes=coupon_codes,
        promotion_ids=promotion_ids, reservation_id=reservation_id, checkout_id=checkout_id,
        payment_method=payment_method, organization_name=organization_name,
        purchase_order_number=purchase_order_number)


async def place(db, tenant_id: uuid.UUID, draft: orders.OrderDraft) -> orders.PlacedOrder:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return await orders.place_order(s, draft)


async def pay(db, tenant_id: uuid.UUID, placed: orders.PlacedOrder, *, card: str = SUCCEEDS,  # type: ignore[no-untyped-def]
              key: str | None = None) -> payments.PaymentResult:
    async with db.tenant_transaction(tenant_id) as s:
        return await payments.start_payment(s, order_id=placed.id, amount=placed.total, currency=placed.currency,
                                            method="test", payment_data={"card_number": card},
                                            idempotency_key=key or f"pay-{uuid.uuid4()}")


async def record(db, tenant_id: uuid.UUID, order_id: uuid.UUID, **kw: Any):  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        order = await orders.record_payment(s, order_id, **kw)
        return {"status": order.status, "payment_status": order.payment_status}


async def get(db, tenant_id: uuid.UUID, order_id: uuid.UUID) -> orders.Order:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return await orders.get_order(s, order_id)


async def level(db, tenant_id: uuid.UUID, variant_id: uuid.UUID) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        row = (await s.execute(text("SELECT sum(on_hand), sum(reserved) FROM inventory_levels WHERE variant_id = :v"),
                               {"v": variant_id})).one()
    return int(row[0]), int(row[1])


async def reservation_status(db, tenant_id: uuid.UUID, reservation_id: uuid.UUID) -> str:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return str((await inventory.get_reservation(s, reservation_id)).status)


async def order_events(worker_db, tenant_id: uuid.UUID, order_id: uuid.UUID) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    async with worker_db.transaction() as s:
        rows = (await s.execute(text(
            "SELECT type, data FROM outbox WHERE tenant_id = :t AND aggregate_type = 'order' AND aggregate_id = :o "
            "ORDER BY id"), {"t": tenant_id, "o": str(order_id)})).mappings().all()
    return [{"type": r["type"], "data": r["data"]} for r in rows]


async def payment_events(worker_db, tenant_id: uuid.UUID, order_id: uuid.UUID) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Payment events of an order's payments, as the relay would hand them over."""
    async with worker_db.transaction() as s:
        rows = (await s.execute(text(
            "SELECT event_id, type, aggregate_type, aggregate_id, occurred_at, correlation_id, data FROM outbox "
            "WHERE tenant_id = :t AND data->>'order_id' = :o AND aggregate_type = 'payment' ORDER BY id"),
            {"t": tenant_id, "o": str(order_id)})).mappings().all()
    return [dict(r) for r in rows]


def event(tenant_id: uuid.UUID, type_: str, data: dict[str, Any], *, event_id: uuid.UUID | None = None) -> Event:
    return Event(id=event_id or uuid.uuid4(), type=type_, tenant_id=tenant_id, aggregate_type="test",
                 aggregate_id="x", occurred_at=datetime.now(UTC), correlation_id=None, data=data)


async def deliver(db, fn, ev: Event) -> None:  # type: ignore[no-untyped-def]
    """Run a handler as the relay's ``handler`` wrapper would (tenant transaction), without dedup."""
    async with db.tenant_transaction(ev.tenant_id) as s:
        await fn(s, ev)
