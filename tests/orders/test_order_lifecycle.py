"""Orders through the service: placement, payment results (idempotent), cancellation with stock
back, coupons returned and refunds, shipments, and the event handlers."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from orders_helpers import (
    API,
    DECLINES,
    deliver,
    event,
    get,
    level,
    make_draft,
    order_events,
    pay,
    payment_events,
    place,
    record,
    reservation_status,
)
from sqlalchemy import text

import mercato.inventory as inventory
import mercato.orders as orders
import mercato.payments as payments
import mercato.promotions as promotions
from mercato.orders import handlers, metrics
from mercato.orders.errors import InvalidDraft
from mercato.platform.errors import IllegalTransition
from mercato.platform.events import Event


def _types(events: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [e["type"] for e in events]


async def test_place_order_snapshots_everything_in_one_transaction(db, worker_db, tenant) -> None:
    before = metrics.sample("mercato_orders_placed_total", {"currency": "USD"})
    draft = await make_draft(db, tenant.id, quantity=2, price=1250, organization_name="ACME GmbH",
                             purchase_order_number="PO-77", checkout_id=uuid.uuid4())
    placed = await place(db, tenant.id, draft)
    assert re.fullmatch(r"ORD-\d{8}-[0-9A-HJKMNP-TV-Z]{4}", placed.number)
    assert (placed.status, placed.payment_status, placed.total, placed.currency) == ("pending", "unpaid", 3250, "USD")

    order = await get(db, tenant.id, placed.id)
    assert order.email == draft.email and order.organization_name == "ACME GmbH"
    assert order.purchase_order_number == "PO-77" and order.reservation_id == draft.reservation_id
    assert order.shipping_address["city"] == "Springfield" and order.fulfillment_status == "unfulfilled"
    [line] = order.lines
    assert (line.sku, line.product_name, line.variant_title, line.quantity, line.unit_price, line.subtotal,
            line.tax, line.total) == ("MUG-BLUE", "Blue Mug", "Blue", 2, 1250, 2500, 250, 2750)
    assert line.model_dump(mode="json")["tax_rate"] == "0.1"
    assert [(h.kind, h.to_status) for h in order.history] == [("status", "pending")]
    assert order.allowed_transitions == ["cancelled"]
    [created] = await order_events(worker_db, tenant.id, placed.id)
    assert created["type"] == "order.created" and created["data"]["number"] == placed.number
    assert metrics.sample("mercato_orders_placed_total", {"currency": "USD"}) == before + 1

    # The same checkout placed again (a retry) is the same order.
    again = await place(db, tenant.id, draft)
    assert again.id == placed.id


async def test_a_rolled_back_placement_leaves_nothing_and_is_not_counted(db, tenant) -> None:
    draft = await make_draft(db, tenant.id, reserve=False)
    before = metrics.sample("mercato_orders_placed_total", {"currency": "USD"})
    with pytest.raises(RuntimeError):
        async with db.tenant_transaction(tenant.id) as s:
            placed = await orders.place_order(s, draft)
            raise RuntimeError("checkout failed later")
    async with db.tenant_transaction(tenant.id) as s:
        assert (await s.execute(text("SELECT count(*) FROM orders WHERE id = :i"), {"i": placed.id})).scalar() == 0
    assert metrics.sample("mercato_orders_placed_total", {"currency": "USD"}) == before


async def test_inconsistent_draft_is_refused(db, tenant) -> None:
    draft = await make_draft(db, tenant.id, reserve=False)
    import dataclasses

    with pytest.raises(InvalidDraft):
        await place(db, tenant.id, dataclasses.replace(draft, subtotal=draft.subtotal + 1))


async def test_captured_payment_makes_the_order_paid_once_and_keeps_the_stock_held(db, worker_db, tenant) -> None:
    draft = await make_draft(db, tenant.id, quantity=3, stock=10)
    placed = await place(db, tenant.id, draft)
    result = await pay(db, tenant.id, placed)
    assert result.payment.status == "captured"
    captured_before = metrics.sample("mercato_order_payment_outcomes_total", {"result": "captured"})

    for _ in range(3):  # the same fact, three times
        state = await record(db, tenant.id, placed.id, outcome="captured", amount=placed.total,
                             payment_id=result.payment.id)
        assert state == {"status": "paid", "payment_status": "paid"}
    order = await get(db, tenant.id, placed.id)
    assert order.amount_paid == placed.total and order.paid_at is not None
    assert [h.kind for h in order.history].count("payment") == 1
    assert _types(await order_events(worker_db, tenant.id, placed.id)) == ["order.created", "order.paid"]
    assert metrics.sample("mercato_order_payment_outcomes_total", {"result": "captured"}) == captured_before + 1
    assert order.allowed_transitions == ["cancelled", "processing"]

    # Stock stays reserved (not sold yet) and no longer expires with the checkout hold.
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (10, 3)
    async with db.tenant_transaction(tenant.id) as s:
        r = await inventory.get_reservation(s, draft.reservation_id)
    assert r.status == "active" and r.expires_at > datetime.now(UTC) + timedelta(days=300)


async def test_events_out_of_order_converge(db, tenant) -> None:
    """The relay delivers payment.authorized after the capture already happened: still paid."""
    draft = await make_draft(db, tenant.id)
    placed = await place(db, tenant.id, draft)
    result = await pay(db, tenant.id, placed)
    assert (await record(db, tenant.id, placed.id, outcome="captured", payment_id=result.payment.id))[
        "payment_status"] == "paid"
    assert (await record(db, tenant.id, placed.id, outcome="authorized", payment_id=result.payment.id))[
        "payment_status"] == "paid"


async def test_failed_payment_releases_stock_and_the_order_stays_retryable(db, worker_db, tenant) -> None:
    draft = await make_draft(db, tenant.id, quantity=2, stock=5)
    placed = await place(db, tenant.id, draft)
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (5, 2)
    failed = await pay(db, tenant.id, placed, card=DECLINES)
    assert failed.payment.status == "failed"
    for _ in range(2):
        state = await record(db, tenant.id, placed.id, outcome="failed", payment_id=failed.payment.id)
        assert state == {"status": "pending", "payment_status": "failed"}
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (5, 0)
    assert await reservation_status(db, tenant.id, draft.reservation_id) == "released"
    assert _types(await order_events(worker_db, tenant.id, placed.id)) == ["order.created", "order.payment_failed"]

    # A retry with a good card succeeds: the order is paid and its stock reserved again.
    ok = await pay(db, tenant.id, placed)
    state = await record(db, tenant.id, placed.id, outcome="captured", payment_id=ok.payment.id)
    assert state == {"status": "paid", "payment_status": "paid"}
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (5, 2)
    order = await get(db, tenant.id, placed.id)
    assert order.reservation_id != draft.reservation_id


async def test_failed_payment_cancels_when_the_shop_says_so(db, tenant) -> None:
    async with db.tenant_transaction(tenant.id) as s:
        await orders.update_settings(s, {"cancel_on_payment_failure": True})
    draft = await make_draft(db, tenant.id, quantity=1, stock=3)
    placed = await place(db, tenant.id, draft)
    failed = await pay(db, tenant.id, placed, card=DECLINES)
    state = await record(db, tenant.id, placed.id, outcome="failed", payment_id=failed.payment.id)
    assert state == {"status": "cancelled", "payment_status": "failed"}
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (3, 0)


async def _coupon(client, tenant) -> uuid.UUID:  # type: ignore[no-untyped-def]
    r = await client.post(f"{API}/promotions", headers=tenant.admin_headers, json={
        "code": f"SAVE{uuid.uuid4().hex[:6]}", "name": "Save 10", "kind": "percentage_off", "percent": "10"})
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


async def _usage(db, tenant_id, promotion_id) -> int:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return int((await s.execute(text("SELECT usage_count FROM promotions WHERE id = :i"),
                                    {"i": promotion_id})).scalar_one())


async def test_cancel_gives_stock_back_unredeems_coupons_and_refunds(client, db, worker_db, tenant) -> None:
    promotion_id = await _coupon(client, tenant)
    draft = await make_draft(db, tenant.id, quantity=4, stock=10, promotion_ids=(promotion_id,),
                             coupon_codes=("SAVE",))
    async with db.tenant_transaction(tenant.id) as s:  # as checkout does: order and redemption together
        placed = await orders.place_order(s, draft)
        await promotions.redeem(s, promotion_id, draft.email, placed.id)
    assert await _usage(db, tenant.id, promotion_id) == 1
    result = await pay(db, tenant.id, placed)
    await record(db, tenant.id, placed.id, outcome="captured", payment_id=result.payment.id)
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (10, 4)

    async with db.tenant_transaction(tenant.id) as s:
        await orders.cancel_order(s, placed.id, reason="customer changed their mind", actor=None)
    order = await get(db, tenant.id, placed.id)
    assert (order.status, order.payment_status, order.cancel_reason) == (
        "cancelled", "refunded", "customer changed their mind")
    assert order.amount_refunded == placed.total and order.cancelled_at is not None
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (10, 0)
    assert await _usage(db, tenant.id, promotion_id) == 0
    [p] = order.payments
    assert (p.status, p.amount_refunded) == ("refunded", placed.total)
    assert p.refunds[0].amount == placed.total
    assert _types(await order_events(worker_db, tenant.id, placed.id)) == [
        "order.created", "order.paid", "order.cancelled", "order.refunded"]

    # Terminal: cancelling again is a 409 listing no way out; a late refund.succeeded changes nothing.
    with pytest.raises(IllegalTransition) as err:
        async with db.tenant_transaction(tenant.id) as s:
            await orders.cancel_order(s, placed.id, reason="again", actor=None)
    assert err.value.extra["allowed_transitions"] == []
    refund_event = next(e for e in await payment_events(worker_db, tenant.id, placed.id)
                        if e["type"] == "refund.succeeded")
    await deliver(db, handlers.on_refund_succeeded, Event(
        id=refund_event["event_id"], type="refund.succeeded", tenant_id=tenant.id, aggregate_type="payment",
        aggregate_id=refund_event["aggregate_id"], occurred_at=refund_event["occurred_at"], correlation_id=None,
        data=refund_event["data"]))
    again = await get(db, tenant.id, placed.id)
    assert again.payment_status == "refunded" and len(again.history) == len(order.history)


async def test_cancelling_an_authorized_order_voids_the_payment(db, tenant) -> None:
    draft = await make_draft(db, tenant.id)
    placed = await place(db, tenant.id, draft)
    async with db.tenant_transaction(tenant.id) as s:
        auth = await payments.start_payment(s, order_id=placed.id, amount=placed.total, currency="USD",
                                            method="test", payment_data={"card_number": "4242424242424242"},
                                            capture=False)
    assert auth.payment.status == "authorized"
    await record(db, tenant.id, placed.id, outcome="authorized", payment_id=auth.payment.id)
    async with db.tenant_transaction(tenant.id) as s:
        await orders.cancel_order(s, placed.id, reason="fraud check", actor=None)
    order = await get(db, tenant.id, placed.id)
    assert order.status == "cancelled" and order.payments[0].status == "cancelled"
    assert order.payment_status == "unpaid"


async def test_payment_captured_for_a_cancelled_order_is_refunded_automatically(db, worker_db, tenant) -> None:
    draft = await make_draft(db, tenant.id, quantity=1, stock=2)
    placed = await place(db, tenant.id, draft)
    async with db.tenant_transaction(tenant.id) as s:
        await orders.cancel_order(s, placed.id, reason="timeout", actor=None)
    # The customer's payment goes through anyway (a slow gateway), and payment.captured is delivered.
    await pay(db, tenant.id, placed)
    captured = next(e for e in await payment_events(worker_db, tenant.id, placed.id)
                    if e["type"] == "payment.captured")
    ev = Event(id=captured["event_id"], type="payment.captured", tenant_id=tenant.id, aggregate_type="payment",
               aggregate_id=captured["aggregate_id"], occurred_at=captured["occurred_at"], correlation_id=None,
               data=captured["data"])
    await deliver(db, handlers.on_payment_captured, ev)
    await deliver(db, handlers.on_payment_captured, ev)  # redelivered: nothing more happens
    order = await get(db, tenant.id, placed.id)
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    [p] = order.payments
    assert p.status == "refunded" and len(p.refunds) == 1
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (2, 0)


async def test_expired_checkout_session_releases_stock(db, tenant) -> None:
    draft = await make_draft(db, tenant.id, quantity=1, stock=2)
    placed = await place(db, tenant.id, draft)
    await deliver(db, handlers.on_payment_cancelled, event(tenant.id, "payment.cancelled", {
        "order_id": str(placed.id), "payment_id": str(uuid.uuid4()), "reason": "checkout_session_expired"}))
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (2, 0)
    assert (await get(db, tenant.id, placed.id)).status == "pending"


async def test_payment_events_for_unknown_orders_are_ignored(db, tenant) -> None:
    await deliver(db, handlers.on_payment_captured, event(tenant.id, "payment.captured", {
        "order_id": str(uuid.uuid4()), "payment_id": str(uuid.uuid4()), "amount_captured": 5}))
    await deliver(db, handlers.on_payment_failed, event(tenant.id, "payment.failed", {"order_id": "nonsense"}))


async def test_cash_on_delivery_goes_to_processing_unpaid_then_is_marked_paid(db, worker_db, tenant) -> None:
    draft = await make_draft(db, tenant.id, payment_method="manual", quantity=1, stock=4)
    placed = await place(db, tenant.id, draft)
    assert (placed.status, placed.payment_status) == ("processing", "unpaid")
    async with db.tenant_transaction(tenant.id) as s:
        r = await inventory.get_reservation(s, draft.reservation_id)
    assert r.expires_at > datetime.now(UTC) + timedelta(days=300)

    async with db.tenant_transaction(tenant.id) as s:  # ships and arrives unpaid
        await orders.transition(s, placed.id, "shipped")
        await orders.mark_delivered(s, placed.id)
    with pytest.raises(IllegalTransition) as err:
        async with db.tenant_transaction(tenant.id) as s:
            await orders.complete(s, placed.id)
    assert "paid" in err.value.extra["blocked_by"]
    async with db.tenant_transaction(tenant.id) as s:
        await orders.mark_paid(s, placed.id)
        await orders.complete(s, placed.id)
    order = await get(db, tenant.id, placed.id)
    assert (order.status, order.payment_status, order.fulfillment_status) == ("completed", "paid", "fulfilled")
    assert order.payments[0].method == "manual" and order.payments[0].status == "captured"
    assert _types(await order_events(worker_db, tenant.id, placed.id)) == [
        "order.created", "order.processing", "order.shipped", "order.delivered", "order.paid", "order.completed"]


async def test_shipments_move_the_order_and_sell_the_stock(db, worker_db, tenant) -> None:
    draft = await make_draft(db, tenant.id, quantity=3, stock=10)
    placed = await place(db, tenant.id, draft)
    result = await pay(db, tenant.id, placed)
    await record(db, tenant.id, placed.id, outcome="captured", payment_id=result.payment.id)
    line_id = (await get(db, tenant.id, placed.id)).lines[0].id

    async with db.tenant_transaction(tenant.id) as s:
        order = await orders.mark_lines_shipped(s, placed.id, {line_id: 1})
        assert (order.status, order.fulfillment_status) == ("partially_shipped", "partially_fulfilled")
    assert await level(db, tenant.id, draft.lines[0].variant_id) == (7, 0)  # sold at the first shipment
    with pytest.raises(IllegalTransition):
        async with db.tenant_transaction(tenant.id) as s:
            await orders.cancel_order(s, placed.id, reason="too late", actor=None)
    from mercato.orders.errors import ShipmentQuantityInvalid

    with pytest.raises(ShipmentQuantityInvalid):
        async with db.tenant_transaction(tenant.id) as s:
            await orders.mark_lines_shipped(s, placed.id, {line_id: 3})
    async with db.tenant_transaction(tenant.id) as s:
        order = await orders.mark_lines_shipped(s, placed.id, {line_id: 2})
        assert (order.status, order.fulfillment_status) == ("shipped", "fulfilled")
        await orders.mark_delivered(s, placed.id)
    assert _types(await order_events(worker_db, tenant.id, placed.id)) == [
        "order.created", "order.paid", "order.processing", "order.partially_shipped", "order.shipped",
        "order.delivered"]
    history = (await get(db, tenant.id, placed.id)).history
    assert [h.to_status for h in history if h.kind == "status"] == [
        "pending", "paid", "processing", "partially_shipped", "shipped", "delivered"]


async def test_deactivated_customer_pending_orders_are_cancelled(client, db, worker_db, tenant) -> None:
    from commerce_helpers import customer_headers

    customer = await customer_headers(client, tenant)
    customer_id = uuid.UUID(customer["user_id"])
    pending = await place(db, tenant.id, await make_draft(db, tenant.id, customer_id=customer_id))
    paid_draft = await make_draft(db, tenant.id, customer_id=customer_id)
    paid = await place(db, tenant.id, paid_draft)
    result = await pay(db, tenant.id, paid)
    await record(db, tenant.id, paid.id, outcome="captured", payment_id=result.payment.id)
    other = await place(db, tenant.id, await make_draft(db, tenant.id, customer_id=uuid.uuid4()))

    r = await client.post(f"{API}/users/{customer_id}/deactivate", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    async with worker_db.transaction() as s:
        row = (await s.execute(text(
            "SELECT event_id, type, aggregate_type, aggregate_id, occurred_at, data FROM outbox "
            "WHERE tenant_id = :t AND type = 'user.deactivated' AND aggregate_id = :u"),
            {"t": tenant.id, "u": str(customer_id)})).mappings().one()
    ev = Event(id=row["event_id"], type=row["type"], tenant_id=tenant.id, aggregate_type=row["aggregate_type"],
               aggregate_id=row["aggregate_id"], occurred_at=row["occurred_at"], correlation_id=None, data=row["data"])
    await deliver(db, handlers.on_user_deactivated, ev)
    assert (await get(db, tenant.id, pending.id)).status == "cancelled"
    assert (await get(db, tenant.id, paid.id)).status == "paid"  # only pending orders
    assert (await get(db, tenant.id, other.id)).status == "pending"


async def test_handlers_run_once_per_event_through_the_relay(db, worker_db, tenant) -> None:
    """The real path: publish, relay, the platform's dedup wrapper — delivered twice, applied once."""
    from mercato.platform.events import Relay, publish, subscribers_for

    assert "orders.user_deactivated" in [name for name, _ in subscribers_for("user.deactivated")]
    customer_id = uuid.uuid4()
    placed = await place(db, tenant.id, await make_draft(db, tenant.id, customer_id=customer_id))
    async with db.tenant_transaction(tenant.id) as s:
        await publish(s, "user.deactivated", aggregate_type="user", aggregate_id=customer_id,
                      data={"user_id": str(customer_id), "role": "customer"})
    await Relay(worker_db, db).drain()
    order = await get(db, tenant.id, placed.id)
    assert order.status == "cancelled"
    async with worker_db.transaction() as s:
        await s.execute(text("UPDATE outbox SET published_at = NULL WHERE tenant_id = :t AND type = 'user.deactivated'"),
                        {"t": tenant.id})
    await Relay(worker_db, db).drain()  # redelivered: skipped by the dedup, no error, no second cancel
    again = await get(db, tenant.id, placed.id)
    assert len(again.history) == len(order.history)


async def test_concurrent_duplicate_payment_facts_apply_once(db, worker_db, tenant) -> None:
    import asyncio

    placed = await place(db, tenant.id, await make_draft(db, tenant.id))
    result = await pay(db, tenant.id, placed)
    states = await asyncio.gather(*(record(db, tenant.id, placed.id, outcome="captured",
                                           payment_id=result.payment.id) for _ in range(8)))
    assert all(s == {"status": "paid", "payment_status": "paid"} for s in states)
    assert _types(await order_events(worker_db, tenant.id, placed.id)) == ["order.created", "order.paid"]
    assert [h.kind for h in (await get(db, tenant.id, placed.id)).history].count("payment") == 1


async def test_concurrent_placements_of_one_checkout_make_one_order(db, tenant) -> None:
    import asyncio

    draft = await make_draft(db, tenant.id, reserve=False, checkout_id=uuid.uuid4())
    placed = await asyncio.gather(*(place(db, tenant.id, draft) for _ in range(6)))
    assert len({p.id for p in placed}) == 1
    async with db.tenant_transaction(tenant.id) as s:
        assert (await s.execute(text("SELECT count(*) FROM orders WHERE checkout_id = :c"),
                                {"c": draft.checkout_id})).scalar() == 1
